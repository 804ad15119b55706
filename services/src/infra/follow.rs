//! Following the log: a subscription to some subjects that resumes after
//! the last message applied, until shutdown. The services' state tail
//! (`runtime::run_tail`) and the signing-key ring (`key_ring`) both
//! follow the log this way.

use std::time::Duration;

use authd_events::{EventStore, RecordedMessage};
use futures::StreamExt;

pub use tokio_util::sync::CancellationToken as Shutdown;

/// Hands `apply` every message of the subjects `filter` matches after
/// stream sequence `after`, in order, until `shutdown`; resubscribes after
/// the last one applied when the subscription fails or ends (a broker
/// restart, say). `what` names the follower in the logs.
pub async fn follow_subjects(
    store: &EventStore,
    filter: &str,
    after: u64,
    what: &str,
    mut apply: impl FnMut(&RecordedMessage),
    shutdown: &Shutdown,
) {
    let mut last = after;
    while !shutdown.is_cancelled() {
        let stream = match store.subscribe_to(filter, last + 1).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "{what} cannot subscribe");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        loop {
            let item = tokio::select! {
                _ = shutdown.cancelled() => return,
                item = stream.next() => item,
            };
            match item {
                Some(Ok(m)) if m.seq > last => {
                    apply(&m);
                    last = m.seq;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "{what} interrupted");
                    break;
                }
                None => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
