//! The plaintext horizon: the event stream's last sequence when services
//! of a sealing build first started on it, kept once in `AUTH_KEYS`
//! (`authd.key._authd.log.horizon`). No message after it holds a
//! customer's personal data in plain (an earlier build cannot run beside
//! this one: it cannot read schema version 2), so an erasure looks for an
//! earlier build's plaintext at or below it only, and a log that began
//! sealed (horizon 0) costs an erasure no scan at all.

use async_nats::jetstream::context::PublishErrorKind;

use super::{DataKeys, KeyError};

/// Five tokens: neither a key's subject (`authd.key.<p>.<c>`) nor an
/// erasure's mark (`….erasing`).
const HORIZON_SUBJECT: &str = "authd.key._authd.log.horizon";

impl DataKeys {
    /// The horizon, if one was recorded.
    pub async fn plaintext_horizon(&self) -> Result<Option<u64>, KeyError> {
        let Some((_, bytes)) = self.last(HORIZON_SUBJECT).await? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Unavailable("a malformed plaintext horizon".into()))?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// Records `last` (the event stream's last sequence now) as the
    /// horizon unless one is recorded already; the horizon either way.
    pub async fn record_plaintext_horizon(&self, last: u64) -> Result<u64, KeyError> {
        if let Some(h) = self.plaintext_horizon().await? {
            return Ok(h);
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Expected-Last-Subject-Sequence", "0");
        let unavailable = |e: &dyn std::fmt::Display| KeyError::Unavailable(e.to_string());
        let sent = self
            .js
            .publish_with_headers(HORIZON_SUBJECT, headers, last.to_be_bytes().to_vec().into())
            .await
            .map_err(|e| unavailable(&e))?;
        match sent.await {
            Ok(_) => Ok(last),
            // Another instance recorded it first: theirs stands.
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => self
                .plaintext_horizon()
                .await?
                .ok_or_else(|| KeyError::Unavailable("the plaintext horizon vanished".into())),
            Err(e) => Err(unavailable(&e)),
        }
    }
}
