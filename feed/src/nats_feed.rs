//! The NATS JSON feed: each event of the log, from the feed's checkpoint
//! on, published in order on `authd.audit.<project>.<aggregate>.<type>`
//! (the type's dots are subject tokens: `authd.audit.*.*.customer.login.>`
//! works) as its JSON entry, with `Nats-Msg-Id: <sequence>.<index>`: a
//! stream that captures the feed drops what a restart after a crash
//! publishes again (the checkpoint trails the publishing by at most
//! `SAVE_EVERY`; a clean stop saves it exactly). Each event is queued for
//! the webhook endpoints that want it before the feed moves past it.

use std::{pin::pin, time::Duration};

use async_nats::HeaderMap;
use authd_events::{EventStore, RecordedMessage};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::{
    checkpoint::Checkpoint,
    webhooks::{Enqueuer, Pending},
};

pub const FEED_PREFIX: &str = "authd.audit";

/// How often the checkpoint is written while events flow.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// Messages taken from the log per round.
const CHUNK: usize = 256;

/// Where the `idx`-th event of `m` is published.
pub fn feed_subject(m: &RecordedMessage, type_name: &str) -> String {
    format!(
        "{FEED_PREFIX}.{}.{}.{type_name}",
        m.message.meta.tenant,
        m.subject.kind.token()
    )
}

async fn publish(client: &async_nats::Client, m: &RecordedMessage) -> anyhow::Result<()> {
    for (idx, e) in m.message.events.iter().enumerate() {
        let Some(entry) = authd_events::json::entry(m, idx) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{}.{idx}", m.seq).as_str());
        headers.insert("Authd-Sequence", m.seq.to_string().as_str());
        // The event's time (Unix ms): for a reader's latency or routing
        // without parsing the entry.
        headers.insert("Authd-Time", m.message.meta.time.to_string().as_str());
        client
            .publish_with_headers(
                feed_subject(m, e.body.type_name()),
                headers,
                serde_json::to_vec(&entry)?.into(),
            )
            .await?;
    }
    Ok(())
}

/// Publishes the log from `checkpoint` on until `shutdown`, following it
/// as it grows; resubscribes after an outage from what it published. A
/// broker that is gone never holds the stop: the work is dropped where it
/// stands (what was published since the last save goes out again next
/// time, and a capturing stream drops it by `Nats-Msg-Id`).
pub async fn run(
    store: EventStore,
    client: async_nats::Client,
    checkpoint: Checkpoint,
    webhooks: Option<Enqueuer>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut published = checkpoint.read()?;
    let mut saved = published;
    tracing::info!(from = published + 1, "feed starting");
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = follow(&store, &client, webhooks.as_ref(), &checkpoint, &mut published, &mut saved) => {}
    }
    if let Err(e) = save(&client, &checkpoint, published, &mut saved).await {
        tracing::warn!(error = %e, "feed checkpoint not saved at stop");
    }
    tracing::info!(published, "feed stopped");
    Ok(())
}

/// Writes the checkpoint if it moved, once what it names reached the
/// broker (or not at all, when the broker does not confirm in time).
async fn save(
    client: &async_nats::Client,
    checkpoint: &Checkpoint,
    published: u64,
    saved: &mut u64,
) -> anyhow::Result<()> {
    if published != *saved {
        tokio::time::timeout(Duration::from_secs(2), client.flush())
            .await
            .map_err(|_| anyhow::anyhow!("the broker did not confirm the feed's messages"))??;
        checkpoint.write(published)?;
        *saved = published;
    }
    Ok(())
}

async fn follow(
    store: &EventStore,
    client: &async_nats::Client,
    webhooks: Option<&Enqueuer>,
    checkpoint: &Checkpoint,
    published: &mut u64,
    saved: &mut u64,
) {
    let mut last_save = tokio::time::Instant::now();
    'outer: loop {
        let stream = match store.subscribe(*published + 1).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "feed cannot subscribe");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut chunks = pin!(stream.ready_chunks(CHUNK));
        loop {
            let chunk = tokio::select! {
                _ = tokio::time::sleep_until(last_save + SAVE_EVERY), if *published != *saved => {
                    if let Err(e) = save(client, checkpoint, *published, saved).await {
                        tracing::warn!(error = %e, "feed checkpoint");
                    }
                    last_save = tokio::time::Instant::now();
                    continue;
                }
                c = chunks.next() => c,
            };
            let Some(chunk) = chunk else {
                break;
            };
            // The chunk's webhook deliveries are confirmed together before
            // the feed counts any of it as published.
            let mut pending = Pending::default();
            let mut reached = *published;
            let mut failed = false;
            for item in chunk {
                match item {
                    Ok(m) if m.seq > reached => {
                        let sent = match publish(client, &m).await {
                            Ok(()) => match webhooks {
                                Some(w) => w.enqueue(&m, &mut pending).await,
                                None => Ok(()),
                            },
                            Err(e) => Err(e),
                        };
                        if let Err(e) = sent {
                            tracing::warn!(error = %e, seq = m.seq, "feed cannot publish");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue 'outer;
                        }
                        reached = m.seq;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "feed subscription failed");
                        failed = true;
                        break;
                    }
                }
            }
            if let Err(e) = pending.confirm().await {
                tracing::warn!(error = %e, "feed cannot queue webhook deliveries");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue 'outer;
            }
            *published = reached;
            if failed {
                continue 'outer;
            }
        }
    }
}
