//! `customerRefreshToken` against the write path's floor (`authd
//! bench-baseline --nats-url`: HTTP → one NATS request → one append with
//! an expected subject sequence → reply), alternating in slices, with the
//! projection's and the feed's lag sampled under the refresh load.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use serde_json::json;

use crate::{Dev, Measured, Row, SLICES, Sample, connect, drive_sample, ms, register_and_login};

/// Concurrency of both: a worker per session (a subject per worker).
const WORKERS: usize = 16;

/// The refresh figure, its floor and the lags under it; the refresh's and
/// the floor's measurements (for their failed operations).
pub(crate) async fn figures(
    authd: &Path,
    dev: &Arc<Dev>,
    duration: Duration,
) -> anyhow::Result<(Vec<Row>, Measured, Measured)> {
    let mut rows = Vec::new();
    let mut sessions = Vec::new();
    for i in 0..WORKERS {
        sessions.push(Mutex::new(
            register_and_login(dev, &format!("refresh{i}@bench.example"))
                .await?
                .1,
        ));
    }
    let sessions = Arc::new(sessions);
    let (_floor, floor_url) = crate::start_baseline(authd, Some(&dev.nats_url)).await?;
    let floor_url = format!("{floor_url}floor");
    let db = dev.data.join("read-model.db");
    let stop = Arc::new(AtomicBool::new(false));
    let lag = tokio::spawn(sample_lag(dev.nats_url.clone(), db.clone(), stop.clone()));
    let feed_lag = tokio::spawn(crate::feed::sample(dev.nats_url.clone(), stop.clone()));
    let d = dev.clone();
    let refresh_work = Arc::new(move |i: usize| {
        let (d, sessions) = (d.clone(), sessions.clone());
        async move {
            let token = sessions[i].lock().unwrap().clone();
            let q = "mutation F($t: String!) { customerRefreshToken(refreshToken: $t) { success refreshToken } }";
            match d.gql(None, q, json!({ "t": token })).await {
                Ok(v) if v["data"]["customerRefreshToken"]["success"] == true => {
                    *sessions[i].lock().unwrap() =
                        v["data"]["customerRefreshToken"]["refreshToken"]
                            .as_str()
                            .unwrap()
                            .to_string();
                    true
                }
                _ => false,
            }
        }
    });
    let http = dev.http.clone();
    let floor_work = Arc::new(move |i: usize| {
        let (http, url) = (http.clone(), floor_url.clone());
        async move {
            let r = http.post(&url).json(&json!({ "worker": i })).send().await;
            match r {
                Ok(r) if r.status() == 200 => matches!(
                    r.json::<serde_json::Value>().await,
                    Ok(v) if v["data"]["seq"].as_u64().is_some_and(|s| s > 0)
                ),
                _ => false,
            }
        }
    });
    eprintln!("customerRefreshToken and the write path's floor, alternating in {SLICES} slices…");
    let slice = duration / SLICES;
    let (mut refresh, mut floor) = (Sample::default(), Sample::default());
    for _ in 0..SLICES {
        refresh.add(drive_sample(WORKERS, slice, refresh_work.clone()).await);
        floor.add(drive_sample(WORKERS, slice, floor_work.clone()).await);
    }
    let (refresh, floor) = (refresh.measured(), floor.measured());
    stop.store(true, Ordering::Relaxed);
    let mut lags = lag.await??;
    let lag = Measured::from(&mut lags, duration, 0);
    let mut feed_lags = feed_lag.await??;
    let feed_lag = Measured::from(&mut feed_lags, duration, 0);
    rows.push(Row {
        figure: format!("customerRefreshToken/s (concurrency {WORKERS})"),
        value: format!("{:.0}", refresh.per_sec),
        latency: refresh.latency(),
        baseline: format!(
            "{:.0} write-path floor/s (p99 {:.1} ms, {} failed)",
            floor.per_sec,
            ms(floor.p99),
            floor.errors
        ),
        ratio: format!(
            "{:.2} (p99 {:.1} × floor's)",
            refresh.per_sec / floor.per_sec,
            ms(refresh.p99) / ms(floor.p99).max(0.001)
        ),
        target: "ratio ≥ 0.50, p99 ≤ 2 × floor's".into(),
    });
    rows.push(Row {
        figure: "projection lag under that load".into(),
        value: format!("{} samples", lags.len()),
        latency: lag.latency(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "p99 ≤ 5 ms".into(),
    });
    rows.push(Row {
        figure: "feed latency under that load (event → authd.audit subscriber)".into(),
        value: format!("{} entries", feed_lags.len()),
        latency: feed_lag.latency(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "p99 < 50 ms".into(),
    });
    Ok((rows, refresh, floor))
}

/// Appended → visible in the read model: each message's JetStream time
/// against the first moment the read model's checkpoint covers it.
async fn sample_lag(
    nats_url: String,
    db: PathBuf,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Duration>> {
    let js = async_nats::jetstream::new(connect(&nats_url).await?);
    let stream = js.get_stream("AUTH_EVENTS").await?;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let pending: Arc<Mutex<Vec<(u64, std::time::SystemTime)>>> = Arc::default();
    let p = pending.clone();
    let s = stop.clone();
    let collector = tokio::spawn(async move {
        while !s.load(Ordering::Relaxed) {
            let Ok(Some(Ok(m))) =
                tokio::time::timeout(Duration::from_millis(100), messages.next()).await
            else {
                continue;
            };
            if let Ok(info) = m.info() {
                let published: std::time::SystemTime = info.published.into();
                p.lock().unwrap().push((info.stream_sequence, published));
            }
        }
    });
    let lags = tokio::task::spawn_blocking(move || {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut lags = Vec::new();
        while !stop.load(Ordering::Relaxed) || !pending.lock().unwrap().is_empty() {
            let seq: i64 = conn
                .query_row(
                    "SELECT seq FROM checkpoints WHERE name = 'read_model'",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            let now = std::time::SystemTime::now();
            let mut p = pending.lock().unwrap();
            p.retain(|(s, published)| {
                if *s as i64 <= seq {
                    lags.push(now.duration_since(*published).unwrap_or_default());
                    false
                } else {
                    true
                }
            });
            if stop.load(Ordering::Relaxed) && lags.len() > 100_000 {
                break;
            }
            drop(p);
            std::thread::sleep(Duration::from_micros(200));
        }
        lags
    })
    .await?;
    collector.abort();
    Ok(lags)
}
