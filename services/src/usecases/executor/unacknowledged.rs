//! Appends the broker did not acknowledge (a frozen node, a stream
//! leader's election), sent again with the same `Nats-Msg-Id`s until the
//! caller's deadline; reads it did not answer, asked again.

use std::time::{Duration, Instant};

use authd_events::StoreError;

use super::{Committed, Executor, Slot, Tx, unavailable};
use crate::{commands::CommandEnvelope, error::CommandError, infra::password};

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
    /// time (or, while the first is still in flight on a cluster, as a
    /// conflict); `unacked` says a try went unanswered, and
    /// `stored_round` then finds what was stored.
    pub(super) async fn append(
        &self,
        env: &CommandEnvelope,
        tx: &mut Tx,
        unacked: &mut bool,
    ) -> Result<bool, StoreError> {
        let deadline = deadline();
        let mut pause = APPEND_PAUSES.0;
        loop {
            let wait = APPEND_WAIT.min(deadline.saturating_duration_since(Instant::now()));
            let outcome = match tokio::time::timeout(wait, self.append_once(env, tx)).await {
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
                    *unacked = true;
                    crate::retries::retried("append_unacknowledged");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(APPEND_PAUSES.1);
                }
                outcome => return outcome,
            }
        }
    }

    /// Which of the rounds whose append went unanswered was stored, if one
    /// was: the messages carrying this command's id on the subjects they
    /// wrote, past what they expected, tell (their events are that
    /// round's). Its value stands as the command's, and its slots move to
    /// the stored messages. `None` when none of them is in the log (yet:
    /// a replica answering reads may be behind).
    pub(super) async fn stored_round<T>(
        &self,
        env: &CommandEnvelope,
        rounds: &mut Vec<(T, Vec<Slot>)>,
    ) -> Result<Option<Committed<T>>, CommandError> {
        let mut from: Vec<(&authd_events::AggregateSubject, u64)> = Vec::new();
        for slot in rounds.iter().flat_map(|(_, slots)| slots) {
            if slot.events.is_empty() {
                continue;
            }
            match from.iter_mut().find(|(s, _)| **s == slot.subject) {
                Some((_, seq)) => *seq = (*seq).min(slot.seq),
                None => from.push((&slot.subject, slot.seq)),
            }
        }
        let mut stored = Vec::new();
        for (subject, seq) in from {
            let read = self
                .read_again(|| self.store.read_aggregate_from(subject, seq + 1))
                .await
                .map_err(unavailable)?;
            stored.extend(
                read.into_iter()
                    .filter(|m| m.message.meta.command_id == env.command_id),
            );
        }
        if stored.is_empty() {
            return Ok(None);
        }
        let decided = |slots: &[Slot]| {
            slots.iter().filter(|s| !s.events.is_empty()).all(|s| {
                stored.iter().any(|m| {
                    m.subject == s.subject && m.message.events.iter().map(|e| &e.body).eq(&s.events)
                })
            })
        };
        let at = rounds.iter().rposition(|(_, slots)| decided(slots));
        if at.is_none() {
            tracing::warn!(
                command = env.command.name(),
                "stored messages match no unanswered round; taking the last"
            );
        }
        let (value, mut slots) = rounds.swap_remove(at.unwrap_or(rounds.len() - 1));
        for slot in slots.iter_mut().filter(|s| !s.events.is_empty()) {
            if let Some(m) = stored.iter().find(|m| m.subject == slot.subject) {
                slot.state.apply(m.seq, &m.message);
                slot.seq = m.seq;
            }
            // Something may have followed on the subject.
            self.cache.forget(&slot.subject.to_string());
        }
        crate::retries::retried("own_append_found");
        Ok(Some(Committed::new(value, slots, false)))
    }

    /// Takes the round's messages as stored (a duplicate of an unanswered
    /// try that reads do not show yet): each slot moves to them, at its
    /// subject's last sequence, which is as good to wait for.
    pub(super) async fn take_as_stored(
        &self,
        env: &CommandEnvelope,
        tx: &mut Tx,
    ) -> Result<(), StoreError> {
        for (i, message) in tx.messages(env) {
            let slot = &mut tx.slots[i];
            let seq = self
                .read_again(|| self.store.last_sequence(&slot.subject))
                .await?;
            slot.state.apply(seq, &message);
            slot.seq = seq;
            self.cache.forget(&slot.subject.to_string());
        }
        Ok(())
    }
}
