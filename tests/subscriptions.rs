//! `authEvents` (#23): the admin API's live feed, a GraphQL subscription
//! over WebSocket with the graphql-transport-ws protocol, spoken here by a
//! real WebSocket client: the key in `connection_init`, events as they are
//! recorded, resumption with `fromSequence`, filters, and the close codes
//! of a bad or revoked key, a missing init, a wrong protocol and a slow
//! subscriber.

mod common;

use std::time::Duration;

use common::{PASSWORD, TestEnv};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(env: &TestEnv, protocol: Option<&str>) -> Ws {
    let url = env.url("/graphql/admin").replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next protocol message (JSON), or the close code.
async fn next(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("an answer within 15 s");
        match m {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(f))) => return Err(f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// A connection acknowledged for `key` (and the operator's `project`).
async fn connected(env: &TestEnv, key: &str, project: Option<&str>) -> Ws {
    let mut ws = open(env, Some("graphql-transport-ws")).await;
    let mut payload = json!({ "authorization": format!("Bearer {key}") });
    if let Some(p) = project {
        payload["projectId"] = json!(p);
    }
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "connection_ack");
    ws
}

const SUBSCRIPTION: &str = "subscription S($f: AuditLogFilter, $from: Int) {
  authEvents(filter: $f, fromSequence: $from) {
    sequence index type customerId sessionId actorType ip requestId data
  } }";

async fn subscribe(ws: &mut Ws, id: &str, vars: Value) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe",
                "payload": { "query": SUBSCRIPTION, "variables": vars } }),
    )
    .await;
}

/// The next `n` events of subscription `id`.
async fn events(ws: &mut Ws, id: &str, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = next(ws)
            .await
            .unwrap_or_else(|code| panic!("closed {code:?} after {out:?}"));
        assert_eq!(m["id"], id, "{m}");
        assert_eq!(m["type"], "next", "{m}");
        assert!(m["payload"]["errors"].is_null(), "{m}");
        out.push(m["payload"]["data"]["authEvents"].clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_sees_the_projects_events_live_and_resumes_without_loss() {
    let env = TestEnv::start().await;
    let mut ws = connected(&env, &env.admin_key, None).await;
    subscribe(&mut ws, "all", json!({})).await;
    let mut failed = connected(&env, &env.admin_key, None).await;
    subscribe(
        &mut failed,
        "f",
        json!({ "f": { "eventTypes": ["customer.login.failed"] } }),
    )
    .await;
    // The subscription is in place once its consumer is: give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let ann = env.register("ann@example.com", PASSWORD).await;
    let ann_id = ann["user"]["id"].as_str().unwrap().to_string();
    let got = events(&mut ws, "all", 1).await;
    assert_eq!(got[0]["type"], "email.claimed", "{got:?}");
    let got = events(&mut ws, "all", 2).await;
    let registered = got
        .iter()
        .find(|e| e["type"] == "customer.registered")
        .unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(registered["customerId"], ann_id.as_str());
    assert_eq!(registered["data"]["email"], "ann@example.com");
    assert_eq!(registered["ip"], "127.0.0.1");
    assert!(!registered.to_string().contains("Hash"), "{registered}");
    let last: u64 = got.last().unwrap()["sequence"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    env.login("ann@example.com", "wrong").await;
    let f = events(&mut failed, "f", 1).await;
    assert_eq!(f[0]["type"], "customer.login.failed");
    assert_eq!(f[0]["actorType"], "ANONYMOUS");

    // Gone for a while; back with fromSequence: what was missed, once.
    drop(ws);
    env.login("ann@example.com", PASSWORD).await;
    env.register("bob@example.com", PASSWORD).await;
    let mut ws = connected(&env, &env.admin_key, None).await;
    subscribe(&mut ws, "again", json!({ "from": last + 1 })).await;
    let expected: Vec<(u64, u64)> = {
        let mut out = Vec::new();
        for m in env.raw_messages().await {
            let msg = authd_events::EventMessage::decode(&m.payload).unwrap();
            if m.sequence > last && msg.meta.tenant == env.project_id {
                for idx in 0..msg.events.len() {
                    out.push((m.sequence, idx as u64));
                }
            }
        }
        out
    };
    let resumed = events(&mut ws, "again", expected.len()).await;
    let got: Vec<(u64, u64)> = resumed
        .iter()
        .map(|e| {
            (
                e["sequence"].as_str().unwrap().parse().unwrap(),
                e["index"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected, "nothing missed, nothing twice, in order");
    assert!(resumed.iter().any(|e| e["type"] == "customer.login.failed"));

    // Complete: nothing more comes (async-graphql confirms it).
    send(&mut ws, json!({ "id": "again", "type": "complete" })).await;
    env.register("cy@example.com", PASSWORD).await;
    while let Ok(m) = tokio::time::timeout(Duration::from_millis(700), next(&mut ws)).await {
        assert_eq!(m.unwrap()["type"], "complete", "an event after complete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_keys_protocols_and_filters_get_their_close_codes_and_errors() {
    let env = TestEnv::start().await;
    // A wrong key, a public key, no key.
    for payload in [
        json!({ "authorization": "Bearer sk_wrong" }),
        json!({ "authorization": format!("Bearer {}", env.api_key) }),
        json!({}),
    ] {
        let mut ws = open(&env, Some("graphql-transport-ws")).await;
        send(
            &mut ws,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        assert_eq!(next(&mut ws).await, Err(Some(4403)), "{payload}");
    }
    // Subscribing first.
    let mut ws = open(&env, Some("graphql-transport-ws")).await;
    subscribe(&mut ws, "1", json!({})).await;
    assert_eq!(next(&mut ws).await, Err(Some(4401)));
    // Not JSON.
    let mut ws = open(&env, Some("graphql-transport-ws")).await;
    ws.send(Message::text("{nope")).await.unwrap();
    assert_eq!(next(&mut ws).await, Err(Some(4400)));
    // No protocol offered (a client offering only another one is refused
    // at the handshake, which names none).
    let mut ws = open(&env, None).await;
    assert_eq!(next(&mut ws).await, Err(Some(4406)));
    // A filter the API refuses: an error for that subscription, then its end.
    let mut ws = connected(&env, &env.admin_key, None).await;
    subscribe(
        &mut ws,
        "bad",
        json!({ "f": { "eventTypes": ["customer.nonsense"] } }),
    )
    .await;
    let m = next(&mut ws).await.unwrap();
    assert!(m.to_string().contains("is not an event type"), "{m}");
    let m = next(&mut ws).await.unwrap();
    assert_eq!(m["type"], "complete", "{m}");
    subscribe(&mut ws, "cidr", json!({ "f": { "ip": "10.0.0.0/99" } })).await;
    assert!(next(&mut ws).await.unwrap().to_string().contains("CIDR"));
    // The operator names the project.
    let mut op = connected(&env, &env.operator_key, Some(&env.project_id)).await;
    subscribe(&mut op, "op", json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.register("ann@example.com", PASSWORD).await;
    assert_eq!(events(&mut op, "op", 1).await[0]["type"], "email.claimed");
    // No init at all: closed after 10 s.
    let mut ws = open(&env, Some("graphql-transport-ws")).await;
    assert_eq!(next(&mut ws).await, Err(Some(4408)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_key_loses_its_subscriptions_within_a_second() {
    let env = TestEnv::start().await;
    let issued = env
        .admin(
            "mutation { apiKeyIssue(kind: SECRET) { success key keyId } }",
            json!({}),
        )
        .await;
    let key = issued["data"]["apiKeyIssue"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let key_id = issued["data"]["apiKeyIssue"]["keyId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = connected(&env, &key, None).await;
    subscribe(&mut ws, "1", json!({})).await;
    let revoked = env
        .admin(
            "mutation R($id: ID!) { apiKeyRevoke(keyId: $id) { success } }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(
        revoked["data"]["apiKeyRevoke"]["success"], true,
        "{revoked}"
    );
    let at = std::time::Instant::now();
    // Its own revocation is an event of the project it may still see.
    let code = loop {
        match next(&mut ws).await {
            Ok(m) => assert_eq!(m["type"], "next", "{m}"),
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(4403));
    assert!(at.elapsed() < Duration::from_secs(2), "{:?}", at.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_that_does_not_read_is_cut_off_not_buffered_for() {
    use authd_events::{
        Actor, AggregateKind, AggregateSubject, CustomerEvent, Event, EventMessage, Expected,
        MessageMeta, Personal,
        metafield::{CustomerMetafieldsSet, MetafieldValue},
    };
    let env = TestEnv::start().await;
    // A backlog of large events: more than the socket's buffers and the
    // outbox hold together.
    let id = authd_events::new_id("c");
    let subject = AggregateSubject::new(&env.project_id, AggregateKind::Customer, &id).unwrap();
    let big = "x".repeat(8_000);
    let total = 2_000;
    let bare = env.store.without_data_keys();
    for i in 0..total {
        let meta = MessageMeta {
            tenant: env.project_id.clone(),
            aggregate_id: id.clone(),
            time: authd_events::now_millis(),
            actor: Actor::System,
            request: Default::default(),
            command_id: format!("bulk-{i}"),
        };
        let body = Event::Customer(CustomerEvent::MetafieldsSet(CustomerMetafieldsSet {
            values: vec![MetafieldValue {
                namespace: "custom".into(),
                key: "notes".into(),
                type_name: "multi_line_text_field".into(),
                value: Personal::plain(big.clone()),
            }],
        }));
        bare.append(
            &subject,
            &EventMessage::new(meta, vec![body]),
            Expected::Any,
        )
        .await
        .unwrap();
    }
    let mut ws = connected(&env, &env.admin_key, None).await;
    subscribe(&mut ws, "slow", json!({ "from": 1 })).await;
    // It reads nothing for a while, then everything there is.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = 0;
    let code = loop {
        match next(&mut ws).await {
            Ok(_) => received += 1,
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(4413), "after {received} messages");
    assert!(received < total, "{received}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_holds_twenty_subscriptions_at_once_not_twenty_over_its_life() {
    let env = TestEnv::start().await;
    let mut ws = connected(&env, &env.admin_key, None).await;
    // Thirty that fail and end: none of them stays open.
    for i in 0..30 {
        let id = format!("bad{i}");
        subscribe(&mut ws, &id, json!({ "f": { "eventTypes": ["nope"] } })).await;
        assert!(
            next(&mut ws)
                .await
                .unwrap()
                .to_string()
                .contains("not an event type")
        );
        assert_eq!(next(&mut ws).await.unwrap()["type"], "complete");
    }
    // Twenty open ones are fine; the twenty-first closes the connection.
    for i in 0..20 {
        subscribe(&mut ws, &format!("s{i}"), json!({})).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.register("ann@example.com", PASSWORD).await;
    let first = next(&mut ws).await.unwrap();
    assert_eq!(first["type"], "next", "{first}");
    subscribe(&mut ws, "s20", json!({})).await;
    let code = loop {
        match next(&mut ws).await {
            Ok(m) => assert_eq!(m["type"], "next", "{m}"),
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(4429));
}
