//! Webhook latency: from an event's time (the body's `timestamp`) to a
//! receiver in this process, on loopback (`authd dev` allows plain http
//! there), getting its delivery. Only with `--webhooks`: the deliveries
//! cost the write path the feed's enqueuing and the deliverer's sending.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;

use crate::Dev;

pub(crate) struct Receiver {
    latencies: Arc<Mutex<Vec<Duration>>>,
}

impl Receiver {
    pub(crate) fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.latencies.lock().unwrap())
    }
}

/// The event time in a delivery's body: `"timestamp":"<RFC 3339>"` (found
/// without parsing the whole body, on the cores the bench shares).
fn event_time(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.rfind("\"timestamp\":\"")? + "\"timestamp\":\"".len();
    let end = at + text[at..].find('"')?;
    let t = time::OffsetDateTime::parse(
        &text[at..end],
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A receiver for `types`, registered as the dev project's endpoint.
pub(crate) async fn start(dev: &Dev, types: &[&str]) -> anyhow::Result<Receiver> {
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let l = latencies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let l = l.clone();
            async move {
                let now = authd_events::now_millis();
                if let Some(at) = event_time(&body) {
                    l.lock()
                        .unwrap()
                        .push(Duration::from_millis((now - at).max(0) as u64));
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let v = dev
        .admin(
            "mutation C($input: WebhookEndpointCreateInput!) {
               webhookEndpointCreate(input: $input) { success errors { message } } }",
            json!({ "input": { "url": format!("http://{addr}/hook"), "eventTypes": types } }),
        )
        .await?;
    anyhow::ensure!(
        v["data"]["webhookEndpointCreate"]["success"] == true,
        "no webhook endpoint: {v}"
    );
    Ok(Receiver { latencies })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_event_time() {
        let body = br#"{"data":{"x":1},"timestamp":"2026-12-07T02:00:00.250Z","type":"session.refreshed"}"#;
        assert_eq!(super::event_time(body), Some(1_796_608_800_250));
    }
}
