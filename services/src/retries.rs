//! Command steps done again, counted by why.

/// Counts a command step done again, by why (`authd_command_retries_total`):
/// `conflict` (another command appended to an aggregate first),
/// `stale_state` (a refusal decided on cached state, checked against the
/// log), `append_unacknowledged` and `read_unanswered` (the broker did not
/// answer: an election, a node going away), `own_append_found` (an
/// unanswered append turned out stored: taken as the command's, not decided
/// again), and on the sending side
/// `no_responders` and `disconnected` (waiting for services or the
/// connection).
pub(crate) fn retried(cause: &'static str) {
    metrics::counter!("authd_command_retries_total", "cause" => cause).increment(1);
}
