//! Appends the broker did not acknowledge (a frozen node, a stream
//! leader's election), sent again with the same `Nats-Msg-Id`s until the
//! caller's deadline.

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
/// How long unacknowledged appends are sent again when the caller named no
/// deadline.
const APPEND_RETRY_WITHOUT_DEADLINE: Duration = Duration::from_secs(10);

impl Executor {
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
        let deadline = password::caller_deadline()
            .unwrap_or_else(|| Instant::now() + APPEND_RETRY_WITHOUT_DEADLINE);
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
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(APPEND_PAUSES.1);
                }
                outcome => return outcome,
            }
        }
    }
}
