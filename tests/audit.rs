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

const AUDIT_LOG: &str = "query A($f: AuditLogFilter, $first: Int, $after: String, $last: Int, $before: String) {
  auditLog(filter: $f, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { sequence type customerId sessionId actor actorType ip userAgent requestId commandId eventId at projectId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }";

async fn audit_log(env: &TestEnv, vars: Value) -> Value {
    env.admin(AUDIT_LOG, vars).await
}

fn log_types(v: &Value) -> Vec<String> {
    v["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no auditLog in {v}"))
        .iter()
        .map(|e| e["node"]["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_projects_audit_log_is_filtered_and_paged_newest_first() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    let ann = env.register("ann@example.com", PASSWORD).await;
    let ann_id = ann["user"]["id"].as_str().unwrap().to_string();
    env.login("ann@example.com", "wrong password").await;
    let login = env.login("ann@example.com", PASSWORD).await;
    env.refresh(login["refreshToken"].as_str().unwrap()).await;
    let bob = env.register("bob@example.com", PASSWORD).await;
    let bob_id = bob["user"]["id"].as_str().unwrap().to_string();
    let s = env
        .admin(
            "mutation S($id: ID!) { customerSuspend(id: $id) { success } }",
            json!({ "id": bob_id }),
        )
        .await;
    assert_eq!(s["data"]["customerSuspend"]["success"], true, "{s}");
    let last = env.last_seq().await;
    let mut applied = env.gateway.as_ref().unwrap().audit_applied.clone().unwrap();
    tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();

    let all = audit_log(&env, json!({ "first": 100 })).await;
    let edges = all["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{all}"))
        .clone();
    assert!(edges.len() >= 8, "{all}");
    let seqs: Vec<u64> = edges
        .iter()
        .map(|e| e["node"]["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {seqs:?}"
    );
    // The suspension's message (customer.suspended, customer.sessions.ended)
    // is the newest.
    let first = &edges
        .iter()
        .take(2)
        .find(|e| e["node"]["type"] == "customer.suspended")
        .unwrap_or_else(|| panic!("{all}"))["node"];
    assert_eq!(first["actorType"], "ADMIN_KEY");
    assert_eq!(first["customerId"], bob_id.as_str());
    assert_eq!(first["projectId"], env.project_id.as_str());
    assert!(first["commandId"].as_str().unwrap().len() > 5, "{first}");
    assert!(first["requestId"].as_str().unwrap().len() > 5, "{first}");
    assert_eq!(all["data"]["auditLog"]["pageInfo"]["hasNextPage"], false);

    // Each filter.
    let only = |f: Value| {
        let env = &env;
        async move { log_types(&audit_log(env, json!({ "f": f, "first": 100 })).await) }
    };
    let anns = audit_log(&env, json!({ "f": { "customerId": ann_id }, "first": 100 })).await;
    assert!(
        anns["data"]["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["node"]["customerId"] == ann_id.as_str())
    );
    let bobs = only(json!({ "email": "BOB@example.com" })).await;
    assert!(
        bobs[..2].contains(&"customer.suspended".to_string()),
        "{bobs:?}"
    );
    assert!(
        !bobs.contains(&"customer.login.failed".to_string()),
        "{bobs:?}"
    );
    assert_eq!(
        only(json!({ "email": "nobody@example.com" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        only(json!({ "eventTypes": ["customer.login.failed"] })).await,
        ["customer.login.failed"]
    );
    let by_admin = only(json!({ "actorType": "ADMIN_KEY" })).await;
    assert_eq!(by_admin, ["customer.sessions.ended", "customer.suspended"]);
    let security = only(json!({ "securityOnly": true })).await;
    for t in ["customer.suspended", "customer.login.failed"] {
        assert!(security.contains(&t.to_string()), "{t} not in {security:?}");
    }
    assert!(
        !security.contains(&"customer.registered".to_string()),
        "{security:?}"
    );
    let everything = log_types(&all);
    // What the test's requests did (the dev project was made without a
    // client address).
    let requested: Vec<String> = edges
        .iter()
        .filter(|e| e["node"]["ip"] == "127.0.0.1")
        .map(|e| e["node"]["type"].as_str().unwrap().to_string())
        .collect();
    assert!(requested.len() >= 8, "{requested:?}");
    assert!(everything.contains(&"project.created".to_string()));
    assert_eq!(only(json!({ "ip": "127.0.0.1" })).await, requested);
    assert_eq!(only(json!({ "ip": "127.0.0.0/8" })).await, requested);
    assert_eq!(
        only(json!({ "ip": "10.0.0.0/8" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        only(json!({ "to": "2000-01-01T00:00:00Z" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        only(json!({ "from": "2000-01-01T00:00:00Z" })).await,
        everything
    );

    // Two at a time, forwards, is the whole log; `last` gives the oldest.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = audit_log(&env, json!({ "first": 2, "after": after })).await;
        paged.extend(log_types(&page));
        let info = &page["data"]["auditLog"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_string());
    }
    assert_eq!(paged, everything);
    let oldest = audit_log(&env, json!({ "last": 2 })).await;
    assert_eq!(log_types(&oldest), everything[everything.len() - 2..]);
    assert_eq!(
        oldest["data"]["auditLog"]["pageInfo"]["hasPreviousPage"],
        true
    );
    // A CIDR filter pages the same way.
    let cidr_page = audit_log(&env, json!({ "f": { "ip": "127.0.0.0/8" }, "first": 3 })).await;
    assert_eq!(log_types(&cidr_page), requested[..3]);

    // Bad input is a coded error, never a scan.
    let cursor = all["data"]["auditLog"]["edges"][0]["cursor"]
        .as_str()
        .unwrap();
    for bad in [
        json!({ "f": { "eventTypes": ["customer.teleported"] } }),
        json!({ "f": { "ip": "300.1.1.1/8" } }),
        json!({ "first": 251 }),
        json!({ "first": 2, "last": 2 }),
        json!({ "f": { "customerId": ann_id }, "after": cursor }),
        json!({ "after": "bm90LWEtY3Vyc29y" }),
    ] {
        let r = audit_log(&env, bad.clone()).await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{bad}: {r}"
        );
    }

    // Another project's key sees none of it.
    let created = env
        .admin_as(
            &env.operator_key,
            None,
            "mutation { projectCreate(name: \"Other\") { adminKey } }",
            json!({}),
        )
        .await;
    let other = created["data"]["projectCreate"]["adminKey"]
        .as_str()
        .unwrap()
        .to_string();
    let mut theirs = Value::Null;
    for _ in 0..50 {
        theirs = env
            .admin_as(&other, None, AUDIT_LOG, json!({ "first": 10 }))
            .await;
        if theirs["errors"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(theirs["data"]["auditLog"]["edges"], json!([]), "{theirs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_show_prints_a_customers_whole_history_readably() {
    let env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    env.login("ann@example.com", "wrong password").await;
    env.login("ann@example.com", PASSWORD).await;
    env.register("bob@example.com", PASSWORD).await;
    let show = |who: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
            .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
            .args(["events", "--nats-url", &env.nats.url(), "show"])
            .args([&env.project_id, who])
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let out = show("ANN@example.com");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("history of c_"), "{text}");
    let position = |t: &str| {
        lines
            .iter()
            .position(|l| l.contains(&format!(" {t} ")))
            .unwrap_or_else(|| panic!("{t} not in {text}"))
    };
    assert!(position("customer.registered") < position("customer.login.failed"));
    // Registration signs in (a session), the good login starts another.
    let last_session = lines
        .iter()
        .rposition(|l| l.contains(" session.started "))
        .unwrap();
    assert!(position("customer.login.failed") < last_session, "{text}");
    assert!(text.contains("ip=127.0.0.1"), "{text}");
    assert_eq!(
        text.matches("customer.registered").count(),
        1,
        "bob's is not ann's: {text}"
    );
    let nobody = show("nobody@example.com");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_entries_carry_the_events_fields_as_json_without_secrets() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    let ann = env.register("ann@example.com", PASSWORD).await;
    let ann_id = ann["user"]["id"].as_str().unwrap().to_string();
    let login = env.login("ann@example.com", PASSWORD).await;
    env.refresh(login["refreshToken"].as_str().unwrap()).await;
    let query = "query A($f: AuditLogFilter) { auditLog(filter: $f, first: 50) {
        nodes { sequence type data } } }";
    let entries = async || {
        let last = env.last_seq().await;
        let mut applied = env.gateway.as_ref().unwrap().audit_applied.clone().unwrap();
        tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|s| *s >= last))
            .await
            .unwrap()
            .unwrap();
        let v = env
            .admin(query, json!({ "f": { "customerId": ann_id } }))
            .await;
        v["data"]["auditLog"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .clone()
    };
    let of = |nodes: &[Value], t: &str| {
        nodes
            .iter()
            .find(|n| n["type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {nodes:?}"))["data"]
            .clone()
    };
    let nodes = entries().await;
    let registered = of(&nodes, "customer.registered");
    assert_eq!(registered["email"], "ann@example.com", "{registered}");
    assert_eq!(registered["emailVerified"], false, "{registered}");
    let started = of(&nodes, "session.started");
    assert_eq!(started["customerId"], ann_id.as_str(), "{started}");
    assert_eq!(started["method"], "Password", "{started}");
    let refreshed = of(&nodes, "session.refreshed");
    assert_eq!(refreshed["generation"], 1, "{refreshed}");
    let text = Value::Array(nodes.clone()).to_string();
    for secret in ["passwordHash", "refreshTokenHash", "argon2", "Hash\""] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // Erased: the history stays, her data in it does not.
    let erased = env
        .admin(
            "mutation E($id: ID!) { customerErase(id: $id, reason: \"asked\") { success } }",
            json!({ "id": ann_id }),
        )
        .await;
    assert_eq!(erased["data"]["customerErase"]["success"], true, "{erased}");
    let nodes = entries().await;
    assert_eq!(of(&nodes, "customer.registered")["email"], "[erased]");
    assert!(
        !Value::Array(nodes).to_string().contains("ann@example.com"),
        "her address is gone from the log's JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_projects_own_events_are_in_its_audit_log_without_a_customer() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    let issued = env
        .admin(
            "mutation { apiKeyIssue(kind: SECRET) { success keyId } }",
            json!({}),
        )
        .await;
    let key_id = issued["data"]["apiKeyIssue"]["keyId"]
        .as_str()
        .unwrap()
        .to_string();
    env.admin(
        "mutation R($id: ID!) { apiKeyRevoke(keyId: $id) { success } }",
        json!({ "id": key_id }),
    )
    .await;
    let ann = env.register("ann@example.com", PASSWORD).await;
    let ann_id = ann["user"]["id"].as_str().unwrap().to_string();
    env.admin(
        "mutation E($id: ID!) { customerErase(id: $id, reason: \"asked\") { success } }",
        json!({ "id": ann_id }),
    )
    .await;
    let last = env.last_seq().await;
    let mut applied = env.gateway.as_ref().unwrap().audit_applied.clone().unwrap();
    tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();
    let v = env
        .admin(
            "query { auditLog(filter: { securityOnly: true }, first: 50) {
               nodes { type customerId actorType data } } }",
            json!({}),
        )
        .await;
    let nodes = v["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    let types: Vec<&str> = nodes.iter().map(|n| n["type"].as_str().unwrap()).collect();
    let at = |t: &str| {
        types
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("no {t} in {types:?}"))
    };
    let (erased, revoked, issued) = (
        at("customer.erased"),
        at("project.api_key.revoked"),
        at("project.api_key.issued"),
    );
    assert!(
        erased < revoked && revoked < issued,
        "newest first: {types:?}"
    );
    let revoked = &nodes[revoked];
    assert!(revoked["customerId"].is_null(), "{revoked}");
    assert_eq!(revoked["actorType"], "ADMIN_KEY");
    assert_eq!(revoked["data"]["keyId"], key_id.as_str(), "{revoked}");
    assert_eq!(nodes[erased]["customerId"], ann_id.as_str());
    // The token-signing ring's rotations, for the operator.
    let ring = env
        .admin_as(
            &env.operator_key,
            Some("_authd"),
            "query { auditLog(filter: { securityOnly: true }, first: 5) { nodes { type actorType } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ring["data"]["auditLog"]["nodes"][0]["type"], "signing_key.added",
        "{ring}"
    );
    // The index equals a replay of the log.
    let report = authd::verify::verify(&env.store, &env.config.read_model_path(), |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
}
