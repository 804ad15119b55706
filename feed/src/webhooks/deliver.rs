//! The deliverer: one durable consumer of the queue per endpoint (a dead
//! endpoint holds up only itself), and per customer lane one task that
//! sends the lane's deliveries in stream order, each until it succeeds or
//! the retry window is over. A delivery waiting for its retry, and those
//! behind it in its lane, are kept from redelivery with progress acks; a
//! restart gets them again from the queue, and the lane order holds across
//! it (a delivery waits while the queue holds an earlier one of its lane).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream::{
    self, AckKind, Message,
    consumer::{AckPolicy, pull},
};
use authd_events::{
    EventStore,
    webhook::{self, Attempt, Outcome, QUEUE_STREAM, Queued},
};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{endpoints::Endpoints, options::WebhookOptions, send};

/// How long a delivery is the consumer's before it is sent again; kept
/// by progress acks every `PROGRESS`.
const ACK_WAIT: Duration = Duration::from_secs(60);
const PROGRESS: Duration = Duration::from_secs(20);
/// Deliveries an endpoint's consumer holds at once.
const MAX_HELD: i64 = 1000;
/// Requests in flight to one endpoint at once.
const PER_ENDPOINT: usize = 16;

struct Ctx {
    store: EventStore,
    js: jetstream::Context,
    endpoints: Endpoints,
    options: WebhookOptions,
    client: reqwest::Client,
}

/// One endpoint's deliveries held, by lane, in stream order.
type Lanes = Arc<Mutex<HashMap<String, BTreeMap<u64, Message>>>>;

fn consumer_name(endpoint: &str) -> String {
    format!("hook_{endpoint}")
}

fn filter(project: &str, endpoint: &str) -> String {
    format!("authd.hook.q.{project}.{endpoint}.>")
}

/// Sends the queue's deliveries until `shutdown`; follows the endpoints
/// as they are made and deleted (a deleted one's queue is dropped).
pub async fn deliver(
    store: EventStore,
    endpoints: Endpoints,
    options: WebhookOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let ctx = Arc::new(Ctx {
        js: store.jetstream().clone(),
        client: send::client(&options)?,
        store,
        endpoints,
        options,
    });
    // The endpoints as last looked at: one deleted since is forgotten, even
    // when the feed read its deletion before the first look below (it had
    // no task yet, and the consumer check at start still knew it).
    let mut known = drop_deleted(&ctx).await;
    type Running = (CancellationToken, tokio::task::JoinHandle<()>);
    let mut running: HashMap<(String, String), Running> = HashMap::new();
    loop {
        let ids: HashSet<(String, String)> = ctx.endpoints.ids().into_iter().collect();
        for id in &ids {
            if !running.contains_key(id) {
                let token = shutdown.child_token();
                let task = tokio::spawn(endpoint_task(ctx.clone(), id.clone(), token.clone()));
                running.insert(id.clone(), (token, task));
            }
        }
        let gone: Vec<_> = known
            .iter()
            .chain(running.keys())
            .filter(|id| !ids.contains(*id))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for id in gone {
            if let Some((token, _)) = running.remove(&id) {
                token.cancel();
            }
            forget(&ctx, &id.0, &id.1).await;
        }
        known = ids;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    // Each endpoint hands back what it holds (bounded: a broker gone never
    // holds the stop).
    let stopped = futures::future::join_all(running.into_values().map(|(_, task)| task));
    let _ = tokio::time::timeout(Duration::from_secs(5), stopped).await;
    Ok(())
}

/// Drops the consumer and the queued deliveries of a deleted endpoint.
async fn forget(ctx: &Ctx, project: &str, endpoint: &str) {
    let Ok(stream) = ctx.js.get_stream(QUEUE_STREAM).await else {
        return;
    };
    let _ = stream.delete_consumer(&consumer_name(endpoint)).await;
    if let Err(e) = stream.purge().filter(filter(project, endpoint)).await {
        tracing::warn!(error = %e, endpoint, "cannot drop a deleted endpoint's deliveries");
    }
}

/// At start: the consumers of endpoints deleted while no deliverer ran.
/// Returns the endpoints it took as live.
async fn drop_deleted(ctx: &Ctx) -> HashSet<(String, String)> {
    let known: HashSet<(String, String)> = ctx.endpoints.ids().into_iter().collect();
    let Ok(stream) = ctx.js.get_stream(QUEUE_STREAM).await else {
        return known;
    };
    let mut stale = Vec::new();
    let mut infos = stream.consumers();
    while let Some(Ok(info)) = infos.next().await {
        let subject = info
            .config
            .filter_subject
            .trim_end_matches(".>")
            .to_string()
            + ".x";
        if let Some((p, e, _)) = webhook::parse_queue_subject(&subject)
            && !known.contains(&(p.to_string(), e.to_string()))
        {
            stale.push((p.to_string(), e.to_string()));
        }
    }
    for (p, e) in stale {
        forget(ctx, &p, &e).await;
    }
    known
}

async fn endpoint_task(
    ctx: Arc<Ctx>,
    (project, endpoint): (String, String),
    token: CancellationToken,
) {
    while !token.is_cancelled() {
        if let Err(e) = run_endpoint(&ctx, &project, &endpoint, &token).await {
            tracing::warn!(error = %e, endpoint, "webhook deliveries interrupted");
            tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

async fn run_endpoint(
    ctx: &Arc<Ctx>,
    project: &str,
    endpoint: &str,
    token: &CancellationToken,
) -> anyhow::Result<()> {
    let stream = ctx.js.get_stream(QUEUE_STREAM).await?;
    let name = consumer_name(endpoint);
    let consumer = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: filter(project, endpoint),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: MAX_HELD,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    let lanes: Lanes = Arc::default();
    let sending = Arc::new(Semaphore::new(PER_ENDPOINT));
    let lane_tokens = token.child_token();
    let _stop_lanes = lane_tokens.clone().drop_guard();
    loop {
        let m = tokio::select! {
            _ = token.cancelled() => {
                release(&lanes).await;
                return Ok(());
            }
            m = messages.next() => m,
        };
        let m = m.ok_or_else(|| anyhow::anyhow!("the queue's consumer ended"))??;
        let Some((_, _, lane)) = webhook::parse_queue_subject(m.subject.as_str()) else {
            let _ = m.ack_with(AckKind::Term).await;
            continue;
        };
        let lane = lane.to_string();
        let seq = m.info().map_err(|e| anyhow::anyhow!(e))?.stream_sequence;
        let start = {
            let mut all = lanes.lock().expect("lanes lock");
            let new = !all.contains_key(&lane);
            // A redelivery of what a lane holds replaces it (same sequence).
            all.entry(lane.clone()).or_default().insert(seq, m);
            new
        };
        if start {
            tokio::spawn(run_lane(
                ctx.clone(),
                stream.clone(),
                lanes.clone(),
                lane,
                sending.clone(),
                lane_tokens.clone(),
            ));
        }
    }
}

/// At a stop: what the lanes hold goes back to the queue at once (not
/// after its ack wait), for the next deliverer.
async fn release(lanes: &Lanes) {
    let held: Vec<Message> = lanes
        .lock()
        .expect("lanes lock")
        .values()
        .flat_map(|l| l.values().cloned())
        .collect();
    for m in held {
        let _ = m.ack_with(AckKind::Nak(None)).await;
    }
}

/// Sends a lane's deliveries, lowest sequence first, until it holds none.
async fn run_lane(
    ctx: Arc<Ctx>,
    queue: jetstream::stream::Stream,
    lanes: Lanes,
    lane: String,
    sending: Arc<Semaphore>,
    token: CancellationToken,
) {
    let mut starting = true;
    loop {
        let head = {
            let mut all = lanes.lock().expect("lanes lock");
            match all.get(&lane).and_then(|l| l.first_key_value()) {
                Some((seq, m)) => (*seq, m.clone()),
                None => {
                    all.remove(&lane);
                    return;
                }
            }
        };
        let (seq, m) = head;
        // The queue holds an earlier delivery of this lane that is not
        // here yet (a restart sends them again): only a lane's first
        // delivery here, or one sent again, can be ahead of one (first
        // deliveries come in the stream's order).
        let again = m.info().is_ok_and(|i| i.delivered > 1);
        if (starting || again)
            && let Ok(first) = queue.direct_get_first_for_subject(m.subject.as_str()).await
            && first.sequence < seq
        {
            if !wait(&lanes, &lane, Duration::from_millis(500), &token).await {
                return;
            }
            continue;
        }
        starting = false;
        if !deliver_one(&ctx, &lanes, &lane, &m, &sending, &token).await {
            return;
        }
        lanes
            .lock()
            .expect("lanes lock")
            .get_mut(&lane)
            .map(|l| l.remove(&seq));
    }
}

/// Waits `d`, keeping the lane's deliveries from redelivery; false when
/// the deliverer stops meanwhile.
async fn wait(lanes: &Lanes, lane: &str, d: Duration, token: &CancellationToken) -> bool {
    let until = tokio::time::Instant::now() + d;
    loop {
        let step = (until - tokio::time::Instant::now()).min(PROGRESS);
        tokio::select! {
            _ = token.cancelled() => return false,
            _ = tokio::time::sleep(step) => {}
        }
        if tokio::time::Instant::now() >= until {
            return true;
        }
        let held: Vec<Message> = lanes
            .lock()
            .expect("lanes lock")
            .get(lane)
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        for m in held {
            let _ = m.ack_with(AckKind::Progress).await;
        }
    }
}

/// The wait after the `n`-th failed attempt.
fn backoff(options: &WebhookOptions, n: u32) -> Duration {
    options
        .first_retry
        .saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(options.max_retry_delay)
}

/// The body: `{"type", "timestamp", "data": <the event's JSON entry>}`.
fn body(m: &authd_events::RecordedMessage, idx: usize) -> Option<(Vec<u8>, String)> {
    let entry = authd_events::json::entry(m, idx)?;
    let type_name = m.message.events.get(idx)?.body.type_name().to_string();
    let payload = serde_json::json!({
        "type": type_name,
        "timestamp": authd_events::format_millis(m.message.meta.time),
        "data": entry,
    });
    Some((serde_json::to_vec(&payload).ok()?, type_name))
}

/// Records an attempt; its confirmation is awaited aside (a lane does not
/// wait a round trip for its record).
async fn record(ctx: &Ctx, project: &str, endpoint: &str, a: &Attempt) {
    let subject = webhook::attempt_subject(project, endpoint);
    let endpoint = endpoint.to_string();
    let sent = match serde_json::to_vec(a) {
        Ok(json) => ctx
            .js
            .publish(subject, json.into())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match sent {
        Ok(ack) => {
            tokio::spawn(async move {
                if let Err(e) = ack.await {
                    tracing::warn!(error = %e, endpoint, "a webhook attempt was not recorded");
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, endpoint, "a webhook attempt was not recorded"),
    }
}

/// Sends one delivery until it succeeds, is given up, or is no longer
/// wanted; acks it then. False when the deliverer stops first.
async fn deliver_one(
    ctx: &Ctx,
    lanes: &Lanes,
    lane: &str,
    m: &Message,
    sending: &Semaphore,
    token: &CancellationToken,
) -> bool {
    let Some((project, endpoint_id, _)) = webhook::parse_queue_subject(m.subject.as_str()) else {
        return true;
    };
    let Ok(queued) = serde_json::from_slice::<Queued>(&m.payload) else {
        let _ = m.ack_with(AckKind::Term).await;
        return true;
    };
    let queued_at = m
        .info()
        .map(|i| (i.published.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or_else(|_| authd_events::now_millis());
    let window = ctx.options.retry_window.as_millis() as i64;
    let id = queued.id();
    let mut n = 0u32;
    loop {
        // Deleted or disabled since: not sent.
        let endpoint = match ctx.endpoints.get(project, endpoint_id) {
            Some(e) if e.enabled => e,
            _ => {
                let _ = m.double_ack().await;
                return true;
            }
        };
        let mut attempt = Attempt {
            delivery_id: id.clone(),
            event_sequence: queued.seq,
            event_type: String::new(),
            customer_id: (lane != webhook::NO_CUSTOMER).then(|| lane.to_string()),
            at: authd_events::now_millis(),
            status_code: None,
            duration_ms: 0,
            error: None,
            outcome: Outcome::Failed,
            next_attempt_at: None,
        };
        let message = match ctx.store.read_message(queued.seq).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "webhook: the log is unavailable");
                if !wait(lanes, lane, Duration::from_secs(1), token).await {
                    return false;
                }
                continue;
            }
        };
        let Some((body, type_name)) = message.as_ref().and_then(|m| body(m, queued.idx as usize))
        else {
            // An erasure took the message out of the log.
            attempt.error = Some("the event is no longer in the log".into());
            record(ctx, project, endpoint_id, &attempt).await;
            let _ = m.double_ack().await;
            return true;
        };
        attempt.event_type = type_name;
        let Some(keys) = ctx.store.data_keys() else {
            tracing::error!("webhooks are signed with a secret derived from the data key");
            return false;
        };
        let secret = keys.webhook_secret(project, endpoint_id, endpoint.secret_generation);
        let answer = {
            let _permit = sending.acquire().await;
            send::attempt(&ctx.client, &ctx.options, &endpoint.url, &secret, &id, body).await
        };
        n += 1;
        attempt.status_code = answer.status;
        attempt.duration_ms = answer.duration_ms;
        let now = authd_events::now_millis();
        if answer.ok() {
            attempt.outcome = Outcome::Succeeded;
            record(ctx, project, endpoint_id, &attempt).await;
            let _ = m.double_ack().await;
            return true;
        }
        attempt.error = answer.error;
        let delay = backoff(&ctx.options, n);
        if now + delay.as_millis() as i64 - queued_at > window {
            attempt.outcome = Outcome::Failed;
            record(ctx, project, endpoint_id, &attempt).await;
            let _ = m.double_ack().await;
            return true;
        }
        attempt.outcome = Outcome::Retrying;
        attempt.next_attempt_at = Some(now + delay.as_millis() as i64);
        record(ctx, project, endpoint_id, &attempt).await;
        if !wait(lanes, lane, delay, token).await {
            return false;
        }
    }
}
