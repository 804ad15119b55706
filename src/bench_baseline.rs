//! `authd bench-baseline`: what `authd-bench` measures authd against, in
//! the same binary and build.
//!
//! - `POST /`: a bare axum JSON endpoint (the baseline for reads).
//! - `POST /floor` (with `--nats-url`): the write path's floor. The handler
//!   parses the JSON body, sends one NATS request to a bare responder in
//!   this process, which appends one message to a JetStream stream of its
//!   own with the expected last sequence of the worker's own subject (as a
//!   session's rotation does) and replies after the ack. One gateway hop,
//!   one service hop, one durable append: what any design of authd's
//!   shape pays before deciding anything.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Context as _;
use async_nats::jetstream::{self, message::PublishMessage};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{any, post},
};
use futures::StreamExt;
use serde_json::{Value, json};

/// The floor's stream: created (file storage, one replica) on the broker
/// it is pointed at, beside authd's own.
pub const FLOOR_STREAM: &str = "AUTHD_BENCH_FLOOR";
const FLOOR_SUBJECTS: &str = "authd_bench.floor.>";
const FLOOR_REQUESTS: &str = "authd_bench.floor_request";
/// About the size of a refresh's appended event message.
const FLOOR_PAYLOAD: usize = 256;

pub async fn serve(listen: SocketAddr, nats_url: Option<&str>) -> anyhow::Result<()> {
    let mut app = Router::new().route(
        "/",
        any(|| async {
            Json(json!({ "data": { "currentUser": { "id": "c_1", "email": "a@example.com" } } }))
        }),
    );
    if let Some(url) = nats_url {
        let (url, options) = authd_events::nats_url::connect_options(url);
        let client = options.connect(url).await.context("connect to NATS")?;
        responder(client.clone()).await?;
        app = app.merge(
            Router::new()
                .route("/floor", post(floor))
                .with_state(client),
        );
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The gateway's side: parse the body, one NATS request, answer JSON.
async fn floor(
    State(client): State<async_nats::Client>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, StatusCode> {
    let request: Value = serde_json::from_slice(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let worker = request["worker"].as_u64().ok_or(StatusCode::BAD_REQUEST)?;
    let reply = client
        .request(FLOOR_REQUESTS, worker.to_string().into())
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let seq: u64 = std::str::from_utf8(&reply.payload)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(StatusCode::BAD_GATEWAY)?;
    Ok(Json(json!({ "data": { "seq": seq } })))
}

/// The service's side: each request appends to its worker's subject with
/// the expected last subject sequence and answers the new sequence (0 when
/// the append failed).
async fn responder(client: async_nats::Client) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    js.get_or_create_stream(jetstream::stream::Config {
        name: FLOOR_STREAM.into(),
        subjects: vec![FLOOR_SUBJECTS.into()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .context("create the floor's stream")?;
    let mut requests = client.subscribe(FLOOR_REQUESTS).await?;
    let last: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    // Subjects of this process's own: a second baseline on the same broker
    // starts them from nothing too.
    let run: Arc<str> = ulid::Ulid::new().to_string().to_lowercase().into();
    tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            let (client, js, last, run) = (client.clone(), js.clone(), last.clone(), run.clone());
            tokio::spawn(async move {
                let Some(reply) = msg.reply else { return };
                let worker: u64 = std::str::from_utf8(&msg.payload)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let seq = append(&js, &last, &run, worker).await.unwrap_or(0);
                let _ = client.publish(reply, seq.to_string().into()).await;
            });
        }
    });
    Ok(())
}

async fn append(
    js: &jetstream::Context,
    last: &Mutex<HashMap<u64, u64>>,
    run: &str,
    worker: u64,
) -> anyhow::Result<u64> {
    let expected = last.lock().unwrap().get(&worker).copied().unwrap_or(0);
    let subject = format!("authd_bench.floor.{run}.w{worker}");
    let publish = PublishMessage::build()
        .payload(vec![0x5a; FLOOR_PAYLOAD].into())
        .expected_last_subject_sequence(expected);
    let ack = js.send_publish(subject, publish).await?.await?;
    last.lock().unwrap().insert(worker, ack.sequence);
    Ok(ack.sequence)
}
