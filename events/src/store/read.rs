//! Reading: an aggregate's messages (batched direct gets), last sequences,
//! a range (an ack-less pull consumer) and the live tail.

use super::*;

impl EventStore {
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
            let message = decode(self.keys.as_ref(), seq, &msg.payload).await?;
            out.push(RecordedMessage {
                seq,
                subject: subject.clone(),
                message,
                traceparent: None,
            });
            got += 1;
        }
    }

    /// The message at stream sequence `seq` (opened as far as the keys
    /// allow), or `None` if there is none (deleted, or not written yet).
    pub async fn read_message(&self, seq: u64) -> Result<Option<RecordedMessage>, StoreError> {
        let msg = match self.stream.direct_get(seq).await {
            Ok(m) => m,
            Err(e) if e.kind() == jetstream::stream::DirectGetErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(StoreError::Unavailable(e.to_string())),
        };
        let subject = AggregateSubject::parse(msg.subject.as_str())
            .ok_or_else(|| StoreError::Other(format!("foreign subject {}", msg.subject)))?;
        let message = decode(self.keys.as_ref(), seq, &msg.payload).await?;
        Ok(Some(RecordedMessage {
            seq,
            subject,
            message,
            traceparent: None,
        }))
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
            keys: self.keys.clone(),
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
                // Pull requests expire after 2 s, so the server's idle
                // heartbeat comes every second, and a consumer lost with
                // its node (a broker restarting) is noticed after two
                // missed (~2 s) and made again; at async-nats' defaults
                // (30 s, 15 s) readers stalled for tens of seconds.
                max_expires: Duration::from_secs(2),
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
        let keys = self.keys.clone();
        Ok(messages
            .take_until(Box::pin(reconnected))
            .then(move |item| {
                let keys = keys.clone();
                async move {
                    let msg = item.map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    let seq = msg
                        .info()
                        .map_err(|e| StoreError::Other(e.to_string()))?
                        .stream_sequence;
                    let subject =
                        AggregateSubject::parse(msg.subject.as_str()).ok_or_else(|| {
                            StoreError::Other(format!("foreign subject {}", msg.subject))
                        })?;
                    let message = decode(keys.as_ref(), seq, &msg.payload).await?;
                    let traceparent =
                        crate::trace::traceparent(msg.headers.as_ref()).map(Box::from);
                    Ok(RecordedMessage {
                        seq,
                        subject,
                        message,
                        traceparent,
                    })
                }
            }))
    }
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
    keys: Option<DataKeys>,
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
            let message = decode(self.keys.as_ref(), seq, &msg.payload).await?;
            return Ok(Some(RecordedMessage {
                seq,
                subject,
                message,
                traceparent: None,
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
