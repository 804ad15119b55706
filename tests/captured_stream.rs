//! A log written by a released build, kept forever (#23): the raw
//! messages of `AUTH_EVENTS` and `AUTH_KEYS` (subjects, headers,
//! payloads; not a NATS store dump) with the key-encryption key they were
//! sealed under, in `tests/fixtures/captured-v2/`. Every build must load
//! them into a fresh broker and replay them into a read model that says
//! what they said. Captured by this test itself with
//! `AUTHD_CAPTURE_FIXTURE=1` (never again for this directory: a new
//! capture goes to a new one).

mod common;

use std::path::{Path, PathBuf};

use async_nats::{HeaderMap, jetstream};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::{
    TestEnv,
    personal::{PersonalData, customer_with},
};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captured-v2")
}

fn ann() -> PersonalData {
    PersonalData {
        email: "ann.captured@example.com".into(),
        first_name: "Annfixture",
        last_name: "Capturedlast",
        phone: "+16135550177",
        address1: "12 Fixture Lane",
        note: "fixture note",
        shipping_address1: "34 Shipping Row",
        order_name: "#C1",
        user_agent: "FixtureBrowser/1.0",
    }
}

/// One stream's messages as JSON lines.
async fn dump(js: &jetstream::Context, stream: &str) -> String {
    let s = js.get_stream(stream).await.unwrap();
    let last = s.get_info().await.unwrap().state.last_sequence;
    let mut out = String::new();
    for seq in 1..=last {
        let Ok(m) = s.get_raw_message(seq).await else {
            continue;
        };
        let headers: Vec<(String, String)> = m
            .headers
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.to_string(), v.to_string())))
            .collect();
        out.push_str(
            &json!({ "seq": seq, "subject": m.subject.to_string(), "headers": headers,
                     "payload": B64.encode(&m.payload) })
            .to_string(),
        );
        out.push('\n');
    }
    out
}

async fn capture() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    let (ann_id, _) = customer_with(&env, &ann()).await;
    let bob = env
        .register("bob.captured@example.com", common::PASSWORD)
        .await;
    let bob_id = bob["user"]["id"].as_str().unwrap().to_string();
    let login = env
        .login("bob.captured@example.com", common::PASSWORD)
        .await;
    env.refresh(login["refreshToken"].as_str().unwrap()).await;
    env.login("ann.captured@example.com", "wrong password")
        .await;
    let erased = env
        .admin(
            "mutation E($id: ID!) { customerErase(id: $id, reason: \"fixture\") { success } }",
            json!({ "id": bob_id }),
        )
        .await;
    assert_eq!(erased["data"]["customerErase"]["success"], true, "{erased}");
    let js = jetstream::new(env.client.clone());
    std::fs::create_dir_all(dir()).unwrap();
    std::fs::write(dir().join("events.jsonl"), dump(&js, "AUTH_EVENTS").await).unwrap();
    std::fs::write(dir().join("keys.jsonl"), dump(&js, "AUTH_KEYS").await).unwrap();
    std::fs::write(dir().join("data.key.hex"), hex::encode(&env.keys.data)).unwrap();
    let manifest = json!({
        "project": env.project_id, "ann": ann_id, "bob": bob_id,
        "capturedBy": env!("CARGO_PKG_VERSION"),
    });
    std::fs::write(
        dir().join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// Publishes a captured stream's lines, in order, as they were.
async fn load(js: &jetstream::Context, file: &str) -> usize {
    let text = std::fs::read_to_string(dir().join(file)).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let m: Value = serde_json::from_str(line).unwrap();
        let mut headers = HeaderMap::new();
        // `Nats-*` headers told the broker how to append (expected
        // sequences, atomic batches, deduplication), not what: they are
        // kept in the file, not sent again.
        for h in m["headers"].as_array().unwrap() {
            let name = h[0].as_str().unwrap();
            if !name.starts_with("Nats-") {
                headers.append(name, h[1].as_str().unwrap());
            }
        }
        let payload = B64.decode(m["payload"].as_str().unwrap()).unwrap();
        js.publish_with_headers(
            m["subject"].as_str().unwrap().to_string(),
            headers,
            payload.into(),
        )
        .await
        .unwrap()
        .await
        .unwrap_or_else(|e| panic!("{file} line {n}: {e:?}"));
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_captured_from_a_released_build_still_replays() {
    if std::env::var_os("AUTHD_CAPTURE_FIXTURE").is_some() && !dir().join("events.jsonl").exists() {
        capture().await;
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    let kek = hex::decode(
        std::fs::read_to_string(dir().join("data.key.hex"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let nats = authd::nats_server::NatsServer::start(&tmp.path().join("nats"), None).unwrap();
    let conn = authd::app::connect(&nats.url()).await.unwrap();
    let store = authd::app::open_store_with(&conn, Default::default())
        .await
        .unwrap();
    let store = authd::app::with_data_keys(store, &kek, true, 1)
        .await
        .unwrap();
    let js = jetstream::new(conn.client.clone());
    assert!(load(&js, "keys.jsonl").await > 0);
    let events = load(&js, "events.jsonl").await;
    assert!(events >= 19, "the fixture holds 19 messages: {events}");

    let db = tmp.path().join("replayed.db");
    let reached = authd_projections::rebuild(
        &store,
        &db,
        authd_projections::Until::Latest,
        true,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(reached, store.last_stream_sequence().await.unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let project = manifest["project"].as_str().unwrap();
    let ann_id = manifest["ann"].as_str().unwrap();
    let p = ann();
    // Ann, opened with her key: profile, address, metafield, order.
    let (email, first): (String, String) = conn
        .query_row(
            "SELECT email, first_name FROM customers WHERE project_id = ?1 AND id = ?2",
            [project, ann_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (email.as_str(), first.as_str()),
        (p.email.as_str(), p.first_name)
    );
    let address: String = conn
        .query_row(
            "SELECT address1 FROM customer_addresses WHERE project_id = ?1 AND customer_id = ?2",
            [project, ann_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(address, p.address1);
    let (order, shipping): (String, String) = conn
        .query_row(
            "SELECT name, shipping_address FROM orders WHERE project_id = ?1 AND customer_id = ?2",
            [project, ann_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(order, p.order_name);
    assert!(shipping.contains(p.shipping_address1), "{shipping}");
    // Bob was erased: gone from the read model, his history kept without him.
    let bob_id = manifest["bob"].as_str().unwrap();
    let bobs: i64 = conn
        .query_row(
            "SELECT count(*) FROM customers WHERE id = ?1",
            [bob_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bobs, 0);
    // A rebuild writes the audit index's tables into the same file.
    let types: Vec<String> = conn
        .prepare("SELECT type FROM audit WHERE customer_id = ?1 ORDER BY seq, idx")
        .unwrap()
        .query_map([bob_id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in [
        "customer.registered",
        "session.refreshed",
        "customer.erased",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} not in {types:?}");
    }
    let leaked: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit WHERE customer_id = ?1 AND ip IS NOT NULL AND ip != '[erased]'",
            [bob_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0, "bob's addresses read as erased");
}
