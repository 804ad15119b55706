//! The NATS JSON feed (#23): every event of the log, in order, as its
//! JSON entry (docs/events.md) on `authd.audit.<project>.<aggregate>.<type>`,
//! with `Nats-Msg-Id` so that a stream capturing the feed holds each event
//! once across restarts and crashes.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use common::{PASSWORD, TestEnv};
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A SIEM's capture of the feed: a stream of its own on `authd.audit.>`.
async fn capture(env: &TestEnv) -> jetstream::stream::Stream {
    let js = jetstream::new(env.client.clone());
    js.create_stream(stream::Config {
        name: "SIEM".into(),
        subjects: vec!["authd.audit.>".into()],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn start_feed(
    env: &TestEnv,
) -> (
    tokio::task::JoinHandle<anyhow::Result<()>>,
    CancellationToken,
) {
    let stop = CancellationToken::new();
    let (config, client, store) = (env.config.clone(), env.client.clone(), env.store.clone());
    let s = stop.clone();
    let task = tokio::spawn(async move { authd::app::run_feed(&config, client, store, s).await });
    (task, stop)
}

/// Every (subject, Nats-Msg-Id, entry) the capture holds, in order.
async fn captured(siem: &jetstream::stream::Stream) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let last = siem.get_info().await.unwrap().state.last_sequence;
    for seq in 1..=last {
        if let Ok(m) = siem.get_raw_message(seq).await {
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            let entry: Value = serde_json::from_slice(&m.payload).unwrap();
            let at: i64 = m
                .headers
                .get("Authd-Time")
                .unwrap()
                .as_str()
                .parse()
                .unwrap();
            assert_eq!(entry["time"], authd_events::format_millis(at));
            out.push((m.subject.to_string(), id, entry));
        }
    }
    out
}

/// Waits until the capture holds the log's last message.
async fn caught_up(
    env: &TestEnv,
    siem: &jetstream::stream::Stream,
) -> Vec<(String, String, Value)> {
    let last = env.last_seq().await;
    for _ in 0..200 {
        let all = captured(siem).await;
        if all.iter().any(|(_, _, e)| e["sequence"] == last) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the feed never published sequence {last}");
}

/// (sequence, index) of every event in the log.
async fn log_events(env: &TestEnv) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for m in env.raw_messages().await {
        let msg = authd_events::EventMessage::decode(&m.payload).unwrap();
        for idx in 0..msg.events.len() {
            out.push((m.sequence, idx as u64));
        }
    }
    out
}

fn positions(all: &[(String, String, Value)]) -> Vec<(u64, u64)> {
    all.iter()
        .map(|(_, _, e)| {
            (
                e["sequence"].as_u64().unwrap(),
                e["index"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_feed_publishes_every_event_once_in_order_across_restarts() {
    let env = TestEnv::start().await;
    let siem = capture(&env).await;
    // A plain subscriber too: what a forwarder on the bus sees.
    let mut live = env
        .client
        .subscribe(format!("authd.audit.{}.customer.>", env.project_id))
        .await
        .unwrap();
    let (feed, stop) = start_feed(&env);
    let ann = env.register("ann@example.com", PASSWORD).await;
    let ann_id = ann["user"]["id"].as_str().unwrap().to_string();
    env.login("ann@example.com", "wrong password").await;
    env.login("ann@example.com", PASSWORD).await;

    let all = caught_up(&env, &siem).await;
    assert_eq!(
        positions(&all),
        log_events(&env).await,
        "every event, in order"
    );
    for (subject, id, e) in &all {
        let expected = format!(
            "authd.audit.{}.{}.{}",
            e["project"].as_str().unwrap(),
            e["aggregate"]["type"].as_str().unwrap(),
            e["type"].as_str().unwrap()
        );
        assert_eq!(subject, &expected);
        assert_eq!(id, &format!("{}.{}", e["sequence"], e["index"]));
        assert_eq!(e["specVersion"], 1);
    }
    let registered = &all
        .iter()
        .find(|(s, _, _)| s.ends_with(".customer.customer.registered"))
        .unwrap()
        .2;
    assert_eq!(registered["customerId"], ann_id.as_str());
    assert_eq!(registered["data"]["email"], "ann@example.com");
    assert_eq!(registered["request"]["ip"], "127.0.0.1", "{registered}");
    let text = serde_json::to_string(&all.iter().map(|a| &a.2).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("passwordHash") && !text.contains("argon2"));
    let failed = all
        .iter()
        .find(|(_, _, e)| e["type"] == "customer.login.failed")
        .unwrap();
    assert_eq!(failed.2["actor"]["type"], "ANONYMOUS");
    let first_live = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first_live
            .subject
            .ends_with(".customer.customer.registered")
    );

    // A clean stop saves the checkpoint: the restart publishes only what is new.
    stop.cancel();
    feed.await.unwrap().unwrap();
    env.register("bob@example.com", PASSWORD).await;
    let (feed, stop) = start_feed(&env);
    let all = caught_up(&env, &siem).await;
    assert_eq!(
        positions(&all),
        log_events(&env).await,
        "nothing twice, nothing missed"
    );
    stop.cancel();
    feed.await.unwrap().unwrap();

    // A crash loses the last checkpoint: the feed publishes again what it
    // did since, and the capture drops it by Nats-Msg-Id.
    let checkpoint = env.config.data_dir.join("feed.checkpoint");
    let saved: u64 = std::fs::read_to_string(&checkpoint)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(saved, env.last_seq().await);
    std::fs::write(&checkpoint, format!("{}\n", saved / 2)).unwrap();
    let before = siem.get_info().await.unwrap().state.messages;
    let mut republished = env
        .client
        .subscribe(format!("authd.audit.{}.>", env.project_id))
        .await
        .unwrap();
    let (feed, stop) = start_feed(&env);
    tokio::time::timeout(Duration::from_secs(10), republished.next())
        .await
        .expect("the feed publishes again after the lost checkpoint")
        .unwrap();
    env.login("ann@example.com", PASSWORD).await;
    let all = caught_up(&env, &siem).await;
    assert_eq!(
        positions(&all),
        log_events(&env).await,
        "the capture holds each once"
    );
    assert!(siem.get_info().await.unwrap().state.messages > before);
    stop.cancel();
    feed.await.unwrap().unwrap();

    // A checkpoint that is not a number stops the feed with a clear error.
    std::fs::write(&checkpoint, "garbage").unwrap();
    let (feed, _stop) = start_feed(&env);
    let err = feed.await.unwrap().unwrap_err().to_string();
    assert!(err.contains("feed.checkpoint"), "{err}");
}
