//! authd's domain events, their envelope and codec, subject names, and the
//! event-log client on NATS JetStream.

pub mod envelope;
pub mod event;
pub mod keyed_hash;
pub mod nats_url;
pub mod personal;
pub mod provider;
pub mod signing;
pub mod store;
pub mod subject;
mod type_names;

pub use envelope::{Actor, EventMessage, MessageMeta, RecordedMessage, RequestMeta};
pub use event::*;
pub use personal::Personal;
pub use store::{Appended, BatchEntry, Batched, EventStore, Expected, StoreConfig, StoreError};
pub use subject::{AggregateKind, AggregateSubject};

/// Unix milliseconds now.
pub fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A new ULID with a type prefix, e.g. `c_01J…`; valid as a subject token.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}
