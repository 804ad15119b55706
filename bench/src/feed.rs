//! The NATS JSON feed's latency: from an event's time (when the services
//! decided it, just before the append) to a subscriber on
//! `authd.audit.>` receiving its entry.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;

#[derive(serde::Deserialize)]
struct Entry {
    time: String,
}

fn millis(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

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
        if let Some(at) = serde_json::from_slice::<Entry>(&m.payload)
            .ok()
            .and_then(|e| millis(&e.time))
        {
            out.push(Duration::from_millis((now - at).max(0) as u64));
        }
    }
    Ok(out)
}
