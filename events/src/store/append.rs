//! Appending: one message (at an expected sequence, or guarded by another
//! aggregate's), or one atomic batch; the headers every message carries.

use super::*;

impl EventStore {
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
        let payload = self.payload(subject, message).await?;
        let (headers, payload) = self.publish_parts(subject, subject, message, expected, payload);
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
        let payload = self.payload(subject, message).await?;
        let (mut headers, payload) =
            self.publish_parts(subject, guard, message, Expected::Any, payload);
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
        // A registration's message first: it makes the new customer's key
        // (one round trip), which the batch's other messages (the claim,
        // the session) then find in the cache.
        let mut payloads: Vec<Option<Vec<u8>>> = vec![None; entries.len()];
        for first in [true, false] {
            for (i, e) in entries.iter().enumerate() {
                if e.message.registers() == first {
                    payloads[i] = Some(self.payload(e.subject, e.message).await?);
                }
            }
        }
        let payloads: Vec<Vec<u8>> = payloads.into_iter().flatten().collect();
        let batch_id = ulid::Ulid::new().to_string();
        let last = entries.len() - 1;
        let mut payloads = payloads.into_iter();
        for (i, e) in entries[..last].iter().enumerate() {
            let payload = payloads.next().expect("one payload per entry");
            let (headers, payload) =
                self.publish_parts(e.subject, e.subject, e.message, e.expected, payload);
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
        let payload = payloads.next().expect("one payload per entry");
        let (headers, payload) =
            self.publish_parts(e.subject, e.subject, e.message, e.expected, payload);
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
}

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
    /// The encoded message as the log keeps it: with its personal values
    /// sealed under their customer's key when the store has data keys.
    async fn payload(
        &self,
        subject: &AggregateSubject,
        message: &EventMessage,
    ) -> Result<Vec<u8>, StoreError> {
        let Some(keys) = &self.keys else {
            return Ok(message.encode());
        };
        match keys.seal(subject.kind, message).await {
            Ok(Some(sealed)) => Ok(sealed.encode()),
            Ok(None) => Ok(message.encode()),
            Err(KeyError::Unavailable(e)) => Err(StoreError::Unavailable(e)),
            Err(e) => Err(StoreError::Other(e.to_string())),
        }
    }

    /// The headers and payload of one message to append.
    /// `id_subject` names the aggregate the message id is of: the message's
    /// own, or for a guarded append the guarding one.
    fn publish_parts(
        &self,
        subject: &AggregateSubject,
        id_subject: &AggregateSubject,
        message: &EventMessage,
        expected: Expected,
        payload: Vec<u8>,
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
        // The append's span, for the projections that apply the message.
        crate::trace::inject(&mut headers);
        (headers, payload)
    }
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
