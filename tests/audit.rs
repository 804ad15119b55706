//! The audit index: an operator pages through a customer's history (their
//! own events and their sessions'), with the request each came from,
//! through the admin API.

mod common;

use std::time::Duration;

use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

const HISTORY: &str = "query H($e: String, $first: Int, $before: String) {
  customer(email: $e) {
    events(first: $first, before: $before) {
      events { id type at actor sessionId requestId ip userAgent sequence }
      nextCursor
    }
  }
}";

async fn history(env: &TestEnv, first: i32, before: Option<&str>) -> Value {
    env.admin(
        HISTORY,
        json!({ "e": "ann@example.com", "first": first, "before": before }),
    )
    .await
}

fn types(page: &Value) -> Vec<String> {
    page["data"]["customer"]["events"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {page}"))
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customers_history_with_request_metadata_page_by_page() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    // Registration from a client that names itself and its request.
    let (status, reg) = env
        .post_raw(
            &[
                ("content-type", "application/json"),
                ("x-api-key", &env.api_key),
                ("user-agent", "audit-test/1.0"),
                ("x-request-id", "req-register-1"),
            ],
            json!({
                "query": "mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) { success user { id } } }",
                "variables": { "e": "ann@example.com", "p": PASSWORD },
            })
            .to_string(),
        )
        .await;
    assert_eq!(status, 200);
    let id = reg["data"]["customerRegister"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.login("ann@example.com", "wrong password").await;
    let login = env.login("ann@example.com", PASSWORD).await;
    let refreshed = env.refresh(login["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed["success"], true, "{refreshed}");
    let s = env
        .admin(
            "mutation S($id: ID!) { customerSuspend(id: $id) { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(s["data"]["customerSuspend"]["success"], true, "{s}");
    // Someone else's history is not in ann's.
    env.register("bob@example.com", PASSWORD).await;

    // The audit index trails the read model by up to ~50 ms; wait for it.
    let last = env.last_seq().await;
    let mut applied = env
        .gateway
        .as_ref()
        .unwrap()
        .audit_applied
        .clone()
        .expect("the audit index is on");
    tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();

    let all = history(&env, 50, None).await;
    let all_types = types(&all);
    let events = all["data"]["customer"]["events"]["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(all["data"]["customer"]["events"]["nextCursor"], Value::Null);
    // Newest first, and every step is there.
    let expected = [
        "customer.suspended",
        "session.refreshed",
        "session.started",
        "customer.login.succeeded",
        "customer.login.failed",
        "customer.registered",
    ];
    let mut rest = all_types.iter();
    for want in expected {
        assert!(
            rest.any(|t| t == want),
            "{want} missing or out of order in {all_types:?}"
        );
    }
    assert_eq!(
        all_types
            .iter()
            .filter(|t| *t == "customer.registered")
            .count(),
        1,
        "bob's registration is not ann's history: {all_types:?}"
    );
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] >= w[1]), "{seqs:?}");

    let registered = events
        .iter()
        .find(|e| e["type"] == "customer.registered")
        .unwrap();
    assert_eq!(registered["requestId"], "req-register-1");
    assert_eq!(registered["userAgent"], "audit-test/1.0");
    assert_eq!(registered["ip"], "127.0.0.1");
    assert_eq!(registered["actor"], "anonymous");
    let suspended = &events[0];
    assert!(
        suspended["actor"]
            .as_str()
            .unwrap()
            .starts_with("admin:sk_"),
        "{suspended}"
    );
    let refresh = events
        .iter()
        .find(|e| e["type"] == "session.refreshed")
        .unwrap();
    assert!(
        refresh["sessionId"].as_str().unwrap().starts_with("s_"),
        "{refresh}"
    );

    // Two at a time gives the same history.
    let mut paged = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = history(&env, 2, before.as_deref()).await;
        paged.extend(types(&page));
        match page["data"]["customer"]["events"]["nextCursor"].as_str() {
            Some(c) => before = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all_types);

    // Bad paging input is a coded error.
    for (first, before) in [(0, None), (201, None), (2, Some("not-a-cursor"))] {
        let bad = history(&env, first, before).await;
        assert_eq!(
            bad["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_audit_index_the_history_is_a_coded_error() {
    let env = TestEnv::start_with(|c| c.audit_index = false).await;
    env.register("ann@example.com", PASSWORD).await;
    assert!(env.gateway.as_ref().unwrap().audit_applied.is_none());
    let r = history(&env, 10, None).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "AUDIT_INDEX_DISABLED",
        "{r}"
    );
    assert!(
        !authd_projections::audit_path(&env.config.read_model_path()).exists(),
        "no audit file is written when the index is off"
    );
}
