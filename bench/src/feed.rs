//! The NATS JSON feed's latency: from an event's time (when the services
//! decided it, just before the append; the entry's `Authd-Time` header) to
//! a subscriber on `authd.audit.>` receiving its entry.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;

/// Latencies of the entries received until `stop`.
pub(crate) async fn sample(
    nats_url: String,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Duration>> {
    let client = crate::connect(&nats_url).await?;
    let mut feed = client.subscribe("authd.audit.>").await?;
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), feed.next()).await
        else {
            continue;
        };
        let now = authd_events::now_millis();
        // The feed's `Authd-Time` header: no JSON to parse on the cores
        // the benchmark shares with authd.
        if let Some(at) = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Authd-Time"))
            .and_then(|v| v.as_str().parse::<i64>().ok())
        {
            out.push(Duration::from_millis((now - at).max(0) as u64));
        }
    }
    Ok(out)
}
