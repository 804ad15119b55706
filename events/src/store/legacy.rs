//! What an earlier build left in plain: the plaintext horizon (see
//! `data_keys::horizon`) and a bounded scan below it, for an erasure.

use futures::StreamExt;

use super::{EventStore, StoreError, decode};
use crate::{envelope::RecordedMessage, subject::AggregateSubject};

impl EventStore {
    /// The sequence at or below which the log may hold personal data in
    /// plain: the horizon recorded when services of a sealing build first
    /// started on this log (recorded now, at the log's end, if none was).
    /// Without data keys nothing is sealed: the log's end.
    pub async fn plaintext_horizon(&self) -> Result<u64, StoreError> {
        let Some(keys) = &self.keys else {
            return self.last_stream_sequence().await;
        };
        let unavailable = |e: crate::data_keys::KeyError| StoreError::Unavailable(e.to_string());
        if let Some(h) = keys.plaintext_horizon().await.map_err(unavailable)? {
            return Ok(h);
        }
        let last = self.last_stream_sequence().await?;
        keys.record_plaintext_horizon(last)
            .await
            .map_err(unavailable)
    }

    /// Hands every message on the subjects `filter` matches with a stream
    /// sequence at most `to` to `each`, in order, through one ordered
    /// consumer, then ends.
    pub async fn scan_until(
        &self,
        filter: &str,
        to: u64,
        mut each: impl FnMut(RecordedMessage) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if to == 0 {
            return Ok(());
        }
        let mut messages = std::pin::pin!(
            crate::streams::held(&self.stream, filter)
                .await
                .map_err(StoreError::Unavailable)?
        );
        while let Some(msg) = messages.next().await {
            let msg = msg.map_err(StoreError::Unavailable)?;
            let seq = msg
                .info()
                .map_err(|e| StoreError::Other(e.to_string()))?
                .stream_sequence;
            if seq > to {
                break;
            }
            let subject = AggregateSubject::parse(msg.subject.as_str())
                .ok_or_else(|| StoreError::Other(format!("foreign subject {}", msg.subject)))?;
            let message = decode(self.keys.as_ref(), seq, &msg.payload).await?;
            each(RecordedMessage {
                seq,
                subject,
                message,
                traceparent: None,
            })?;
        }
        Ok(())
    }
}
