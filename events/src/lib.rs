//! authd's domain events, their envelope and codec, subject names, and the
//! event-log client on NATS JetStream.

pub mod address;
mod data_key;
pub mod data_keys;
pub mod envelope;
pub mod event;
pub mod json;
pub mod keyed_hash;
pub mod login;
pub mod metafield;
pub mod mfa;
pub mod nats_url;
pub mod order;
pub mod passkey;
pub mod personal;
mod personal_fields;
pub mod provider;
pub mod signing;
pub mod store;
pub mod streams;
pub mod subject;
pub mod trace;
mod type_names;
pub mod webhook;
pub mod webhook_endpoints;
pub use type_names::EVENT_TYPES;

pub use envelope::{
    Actor, EventMessage, MessageMeta, RecordedMessage, RecordedRequest, RequestMeta,
};
pub use event::*;
pub use personal::Personal;
pub use store::{Appended, BatchEntry, Batched, EventStore, Expected, StoreConfig, StoreError};
pub use subject::{AggregateKind, AggregateSubject};

/// Unix milliseconds now.
pub fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as ISO 8601 / RFC 3339 in UTC, to the millisecond,
/// e.g. `2026-11-22T01:45:56.123Z`: the APIs' `DateTime`, the admin CLI's
/// times and Multipass's `created_at`.
pub fn format_millis(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

/// A new ULID with a type prefix, e.g. `c_01J…`; valid as a subject token.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}
