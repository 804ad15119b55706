//! `authd verify` against a live gateway's read model and audit index:
//! no drift after real traffic, and every tampered row named, with its
//! column and both values; against a real nats-server, services, gateway
//! and SQLite.

mod common;

use std::{process::Command, time::Duration};

use common::{PASSWORD, TestEnv};
use serde_json::json;

fn verify(env: &TestEnv) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args(["verify", "--nats-url", &env.nats.url(), "--read-model"])
        .arg(env.config.read_model_path())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_finds_no_drift_after_traffic_and_names_each_tampered_row() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    env.register("ann@example.com", PASSWORD).await;
    env.register("bob@example.com", PASSWORD).await;
    let login = env.login("ann@example.com", PASSWORD).await;
    assert!(login["refreshToken"].is_string(), "{login}");
    let r = env
        .admin(
            "mutation R($i: OrderRecordInput!) { orderRecord(input: $i) { success } }",
            json!({ "i": { "email": "ann@example.com", "externalId": "ext-1", "name": "#1001",
                "processedAt": "2026-01-01T10:00:00Z", "currencyCode": "EUR", "totalPrice": "5",
                "lineItems": [{ "title": "Tea", "quantity": 1, "price": "5" }] } }),
        )
        .await;
    assert_eq!(r["data"]["orderRecord"]["success"], true, "{r}");
    let last = env.last_seq().await;
    let mut audit = env.gateway.as_ref().unwrap().audit_applied.clone().unwrap();
    tokio::time::timeout(Duration::from_secs(10), audit.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();

    let (ok, out) = verify(&env);
    assert!(ok, "{out}");
    assert!(out.contains("no drift"), "{out}");
    assert!(out.contains(&format!("at sequence {last}")), "{out}");

    // Tampering, in the live files, as a bad migration or a hand edit would.
    let path = env.config.read_model_path();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE customers SET email = 'mallory@example.com' WHERE email = 'ann@example.com'",
        [],
    )
    .unwrap();
    db.execute("DELETE FROM order_line_items", []).unwrap();
    let audit_db = rusqlite::Connection::open(authd_projections::audit_path(&path)).unwrap();
    audit_db
        .execute(
            "UPDATE audit SET ip = '203.0.113.66' WHERE type = 'customer.registered'",
            [],
        )
        .unwrap();
    let (ok, out) = verify(&env);
    assert!(!ok, "tampering went unnoticed: {out}");
    assert!(
        out.contains("email: live \"mallory@example.com\" ≠ replayed \"ann@example.com\""),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("order_line_items [") && l.ends_with("only in the replay")),
        "{out}"
    );
    assert!(out.contains("ip: live \"203.0.113.66\""), "{out}");
    assert!(out.contains("differences"), "{out}");
}
