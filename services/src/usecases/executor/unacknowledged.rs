//! Appends the broker did not acknowledge (a frozen node, a stream
//! leader's election), sent again with the same `Nats-Msg-Id`s until the
//! caller's deadline; reads it did not answer, asked again.

use std::time::{Duration, Instant};

use authd_events::StoreError;

use super::{Executor, Tx};
use crate::{commands::CommandEnvelope, infra::password};

/// How long one append waits for the broker's acknowledgement before the
/// same messages are sent again (a stream leader's election on a cluster
/// takes ~5–9 s: several tries fit in a caller's deadline).
const APPEND_WAIT: Duration = Duration::from_secs(2);
/// Pauses between such tries: doubling from the first, at most the last.
const APPEND_PAUSES: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(1));
/// How long unacknowledged appends (and unanswered reads) are tried again
/// when the caller named no deadline.
const APPEND_RETRY_WITHOUT_DEADLINE: Duration = Duration::from_secs(10);

/// When the command being handled must be answered by.
fn deadline() -> Instant {
    password::caller_deadline().unwrap_or_else(|| Instant::now() + APPEND_RETRY_WITHOUT_DEADLINE)
}

impl Executor {
    /// A read of the log, asked again while the broker does not answer (a
    /// direct get waits 5 s; a client whose node froze is meanwhile moving
    /// to another), until the caller's deadline. Reads change nothing:
    /// asking again is always safe.
    pub(super) async fn read_again<T, F>(
        &self,
        mut read: impl FnMut() -> F,
    ) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        let deadline = deadline();
        let mut pause = APPEND_PAUSES.0;
        loop {
            match read().await {
                Err(StoreError::Unavailable(e)) if Instant::now() + pause < deadline => {
                    tracing::warn!(error = %e, "read not answered; asking again");
                    crate::retries::retried("read_unanswered");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(APPEND_PAUSES.1);
                }
                outcome => return outcome,
            }
        }
    }

    /// `append_once`, sent again while the broker does not acknowledge it,
    /// until the caller's deadline. An append whose acknowledgement never
    /// came may or may not be stored; the same messages keep their
    /// `Nats-Msg-Id`s, so a stored one is answered as a duplicate the next
    /// time, and that duplicate is this command's own append (`unsure`
    /// says an earlier try went unanswered): appended once, whatever the
    /// client saw.
    pub(super) async fn append(
        &self,
        env: &CommandEnvelope,
        tx: &mut Tx,
        unsure: &mut bool,
    ) -> Result<bool, StoreError> {
        let deadline = deadline();
        let mut pause = APPEND_PAUSES.0;
        loop {
            let wait = APPEND_WAIT.min(deadline.saturating_duration_since(Instant::now()));
            let outcome = match tokio::time::timeout(wait, self.append_once(env, tx, *unsure)).await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(StoreError::Unavailable(format!(
                    "no acknowledgement in {} ms",
                    wait.as_millis()
                ))),
            };
            match outcome {
                Err(StoreError::Unavailable(e)) if Instant::now() + pause < deadline => {
                    tracing::warn!(
                        error = %e,
                        command = env.command.name(),
                        "append not acknowledged; sending the same messages again"
                    );
                    *unsure = true;
                    crate::retries::retried("append_unacknowledged");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(APPEND_PAUSES.1);
                }
                outcome => return outcome,
            }
        }
    }
}
