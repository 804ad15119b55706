//! Webhooks (#23): a project's endpoints get its events over HTTP, signed
//! per the Standard Webhooks spec (checked with the spec's own Rust
//! library), in order per customer, retried with backoff on a non-2xx
//! answer, given up after the retry window, never following a redirect,
//! and every attempt is listed by `webhookDeliveries`.

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// What a receiver answers: `fail_first` requests get `status`, then 200.
#[derive(Default)]
struct Script {
    fail_first: usize,
    status: u16,
    location: Option<String>,
    got: Vec<Received>,
}

#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start(fail_first: usize, status: u16, location: Option<String>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            fail_first,
            status,
            location,
            got: vec![],
        }));
        async fn hook(
            State(s): State<Arc<Mutex<Script>>>,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> Response {
            let mut s = s.lock().unwrap();
            s.got.push(Received {
                headers,
                body: body.to_vec(),
            });
            if s.got.len() <= s.fail_first {
                let status = StatusCode::from_u16(s.status).unwrap();
                return match &s.location {
                    Some(l) => (status, [("location", l.clone())]).into_response(),
                    None => status.into_response(),
                };
            }
            StatusCode::NO_CONTENT.into_response()
        }
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, script }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn got(&self) -> Vec<Received> {
        self.script.lock().unwrap().got.clone()
    }

    /// The bodies received that a verifier with `secret` accepts.
    fn verified(&self, secret: &str) -> Vec<Value> {
        let wh = standardwebhooks::Webhook::new(secret).unwrap();
        self.got()
            .into_iter()
            .filter(|r| wh.verify(&r.body, &r.headers).is_ok())
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

fn start_feed(env: &TestEnv) -> CancellationToken {
    run_feed(env).0
}

/// The feed role (with the deliverer), and its task.
fn run_feed(
    env: &TestEnv,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let stop = CancellationToken::new();
    let (config, client, store) = (env.config.clone(), env.client.clone(), env.store.clone());
    let s = stop.clone();
    let task = tokio::spawn(async move { authd::app::run_feed(&config, client, store, s).await });
    (stop, task)
}

/// Quick retries for tests: 200 ms, doubling, within `window`.
fn quick(window: Duration) -> impl FnOnce(&mut authd::app::Config) {
    move |c| {
        c.webhooks.first_retry = Duration::from_millis(200);
        c.webhooks.max_retry_delay = Duration::from_secs(2);
        c.webhooks.retry_window = window;
    }
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

const CREATE: &str = "mutation C($input: WebhookEndpointCreateInput!) {
    webhookEndpointCreate(input: $input) {
      success secret endpoint { id url eventTypes description enabled createdAt }
      errors { field message code }
    } }";

async fn create(env: &TestEnv, url: &str, types: &[&str]) -> (String, String) {
    let v = env
        .admin(
            CREATE,
            json!({ "input": { "url": url, "eventTypes": types, "description": "test" } }),
        )
        .await;
    let r = &v["data"]["webhookEndpointCreate"];
    assert_eq!(r["success"], true, "{v}");
    (
        r["endpoint"]["id"].as_str().unwrap().to_string(),
        r["secret"].as_str().unwrap().to_string(),
    )
}

const DELIVERIES: &str = "query D($id: ID!, $after: String) {
    webhookDeliveries(endpointId: $id, first: 50, after: $after) {
      nodes { id eventSequence eventType customerId status nextAttemptAt
              attempts { at statusCode durationMs error status nextAttemptAt } }
      pageInfo { hasNextPage endCursor }
    } }";

async fn deliveries(env: &TestEnv, id: &str) -> Vec<Value> {
    let v = env.admin(DELIVERIES, json!({ "id": id })).await;
    v["data"]["webhookDeliveries"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone()
}

#[tokio::test]
async fn deliveries_are_signed_in_order_per_customer_retried_and_recorded() {
    let env = TestEnv::start_with(quick(Duration::from_secs(60))).await;
    let _feed = start_feed(&env).drop_guard();
    let all = Receiver::start(0, 200, None).await;
    // The first two requests get a 500, then it takes them.
    let flaky = Receiver::start(2, 500, None).await;
    let (all_id, all_secret) = create(&env, &all.url(), &["customer.*", "session.*"]).await;
    let (flaky_id, flaky_secret) = create(&env, &flaky.url(), &["customer.registered"]).await;
    assert!(all_secret.starts_with("whsec_") && all_secret != flaky_secret);

    let listed = env
        .admin(
            "{ webhookEndpoints { id url eventTypes enabled } }",
            json!({}),
        )
        .await;
    let listed = listed["data"]["webhookEndpoints"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], all_id.as_str());
    assert_eq!(listed[0]["eventTypes"], json!(["customer.*", "session.*"]));
    assert!(!listed.iter().any(|e| e.to_string().contains("whsec_")));

    let a = env.register("ada@example.com", PASSWORD).await;
    let b = env.register("bob@example.com", PASSWORD).await;
    let (a_id, b_id) = (
        a["user"]["id"].as_str().unwrap().to_string(),
        b["user"]["id"].as_str().unwrap().to_string(),
    );
    for _ in 0..3 {
        assert_eq!(
            env.login("ada@example.com", PASSWORD).await["success"],
            true
        );
        assert_eq!(
            env.login("ada@example.com", "wrong-password-1").await["success"],
            false
        );
    }
    let last = env.last_seq().await;

    // Every customer.* and session.* event of the log reaches `all`, once,
    // signed: what the log holds of those types up to `last`.
    let mut expected = 0;
    for seq in 1..=last {
        if let Some(m) = env.store.read_message(seq).await.unwrap() {
            expected += m
                .message
                .bodies()
                .filter(|e| {
                    let t = e.type_name();
                    t.starts_with("customer.") || t.starts_with("session.")
                })
                .count();
        }
    }
    assert!(expected >= 14, "{expected}");
    let got = eventually("every delivery to `all`", async || {
        let v = all.verified(&all_secret);
        (v.len() >= expected).then_some(v)
    })
    .await;
    assert_eq!(got.len(), expected, "nothing twice");
    assert_eq!(all.got().len(), expected, "every request verifies");
    // Not with another endpoint's secret.
    assert!(all.verified(&flaky_secret).is_empty());
    let mut ids = std::collections::HashSet::new();
    for r in all.got() {
        let id = r.headers["webhook-id"].to_str().unwrap().to_string();
        assert!(ids.insert(id), "a webhook-id once per event");
    }
    // In order per customer; each payload is the event's JSON entry.
    let mut per_customer: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    for p in &got {
        let t = p["type"].as_str().unwrap();
        assert!(
            t.starts_with("customer.") || t.starts_with("session."),
            "{t}"
        );
        assert_eq!(p["data"]["type"], t);
        assert!(p["timestamp"].as_str().unwrap().ends_with('Z'));
        let customer = p["data"]["customerId"].as_str().unwrap_or("_").to_string();
        per_customer.entry(customer).or_default().push((
            p["data"]["sequence"].as_u64().unwrap(),
            p["data"]["index"].as_u64().unwrap(),
        ));
    }
    for (c, seqs) in &per_customer {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{c}: {seqs:?}");
    }
    assert!(per_customer[&a_id].len() >= 10);
    assert!(per_customer.contains_key(&b_id));
    let failed_login = got
        .iter()
        .find(|p| p["type"] == "customer.login.failed")
        .unwrap();
    assert_eq!(failed_login["data"]["customerId"], a_id.as_str());
    assert!(!failed_login.to_string().contains("wrong-password"));

    // `flaky`: the two registrations, after two 500s among them; the same
    // webhook-id at each attempt of a delivery.
    let got = eventually("both registrations to `flaky`", async || {
        let v = flaky.verified(&flaky_secret);
        (v.len() >= 4).then_some(v)
    })
    .await;
    assert_eq!(got.len(), 4);
    let reg_ids: std::collections::HashSet<String> = flaky
        .got()
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(reg_ids.len(), 2, "two events, four attempts");
    let list = eventually("the attempts recorded", async || {
        let d = deliveries(&env, &flaky_id).await;
        (d.len() == 2 && d.iter().all(|d| d["status"] == "SUCCEEDED")).then_some(d)
    })
    .await;
    let attempts: Vec<&Value> = list
        .iter()
        .flat_map(|d| d["attempts"].as_array().unwrap())
        .collect();
    assert_eq!(attempts.len(), 4, "{list:#?}");
    let retried: Vec<_> = attempts
        .iter()
        .filter(|a| a["status"] == "RETRYING")
        .collect();
    assert_eq!(retried.len(), 2);
    for a in retried {
        assert_eq!(a["statusCode"], 500);
        assert_eq!(a["error"], "answered 500");
        assert!(a["nextAttemptAt"].is_string());
    }
    // Newest first; each names its customer and event.
    assert!(
        list[0]["eventSequence"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > list[1]["eventSequence"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
    );
    assert_eq!(list[0]["customerId"], b_id.as_str());
    assert_eq!(list[0]["eventType"], "customer.registered");

    // The secrets are in no file the broker or the read models wrote.
    for secret in [&all_secret, &flaky_secret] {
        let found = common::disk::holding(env.dir.path(), secret.as_bytes());
        assert!(found.is_empty(), "{found:?}");
    }
}

#[tokio::test]
async fn rotation_deletion_redirects_and_giving_up() {
    let env = TestEnv::start_with(quick(Duration::from_secs(2))).await;
    let _feed = start_feed(&env).drop_guard();
    let target = Receiver::start(0, 200, None).await;
    // Answers every request with a redirect to `target`.
    let redirecting = Receiver::start(usize::MAX, 307, Some(target.url())).await;
    let (moved_id, _) = create(&env, &redirecting.url(), &["customer.registered"]).await;
    let (rotated_id, old_secret) = create(&env, &target.url(), &["customer.registered"]).await;

    env.register("one@example.com", PASSWORD).await;
    eventually("the first registration", async || {
        (target.verified(&old_secret).len() == 1).then_some(())
    })
    .await;
    let v = env
        .admin(
            "mutation U($id: ID!) { webhookEndpointUpdate(id: $id, input: { rotateSecret: true }) {
               success secret endpoint { id } errors { code } } }",
            json!({ "id": rotated_id }),
        )
        .await;
    let new_secret = v["data"]["webhookEndpointUpdate"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_secret, old_secret);
    env.register("two@example.com", PASSWORD).await;
    eventually("the second registration", async || {
        (target.got().len() == 2).then_some(())
    })
    .await;
    assert_eq!(
        target.verified(&old_secret).len(),
        1,
        "the old secret signs no more"
    );
    assert_eq!(target.verified(&new_secret).len(), 1);

    // The redirect was never followed: `target` got only its own two;
    // each delivery to `redirecting` is given up after the 2 s window.
    let list = eventually("the redirected deliveries given up", async || {
        let d = deliveries(&env, &moved_id).await;
        (d.len() == 2 && d.iter().all(|d| d["status"] == "FAILED")).then_some(d)
    })
    .await;
    for d in &list {
        let attempts = d["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 2, "retried before giving up: {d}");
        let last = attempts.last().unwrap();
        assert_eq!(last["statusCode"], 307);
        assert!(
            last["error"]
                .as_str()
                .unwrap()
                .contains("redirects are not followed")
        );
        assert!(last["nextAttemptAt"].is_null());
    }
    assert_eq!(target.got().len(), 2);

    // Deleted: sent nothing more.
    let v = env
        .admin(
            "mutation D($id: ID!) { webhookEndpointDelete(id: $id) { success } }",
            json!({ "id": rotated_id }),
        )
        .await;
    assert_eq!(v["data"]["webhookEndpointDelete"]["success"], true);
    env.register("three@example.com", PASSWORD).await;
    // The feed has passed the third registration once `redirecting` gets it.
    eventually("the third registration elsewhere", async || {
        let d = deliveries(&env, &moved_id).await;
        (d.len() == 3).then_some(())
    })
    .await;
    assert_eq!(target.got().len(), 2);
}

#[tokio::test]
async fn endpoints_refuse_what_they_must_not_take() {
    // Outside dev: https to public addresses only.
    let env = TestEnv::start_with(|c| c.dev = false).await;
    let code = |v: &Value| {
        let e = &v["data"]["webhookEndpointCreate"]["errors"][0];
        (
            e["field"].clone(),
            e["code"].as_str().unwrap_or_default().to_string(),
        )
    };
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:192.168.1.1]/x",
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://metadata.google.internal/x",
    ] {
        let v = env.admin(CREATE, json!({ "input": { "url": url } })).await;
        assert_eq!(
            v["data"]["webhookEndpointCreate"]["success"], false,
            "{url}"
        );
        assert_eq!(
            code(&v),
            (json!(["url"]), "URL_NOT_ALLOWED".into()),
            "{url}: {v}"
        );
    }
    let v = env
        .admin(
            CREATE,
            json!({ "input": { "url": "https://hooks.example.com/x", "eventTypes": ["customer.nope"] } }),
        )
        .await;
    assert_eq!(
        code(&v),
        (json!(["eventTypes"]), "INVALID_INPUT".into()),
        "{v}"
    );
    let v = env
        .admin(
            CREATE,
            json!({ "input": { "url": "https://hooks.example.com/x", "description": "x".repeat(501) } }),
        )
        .await;
    assert_eq!(code(&v).1, "INVALID_INPUT");

    let (id, _) = create(&env, "https://hooks.example.com/x", &["customer.*"]).await;
    // Another project's admin sees and changes nothing of it.
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
    let v = env
        .admin_as(
            &other,
            None,
            "mutation D($id: ID!) { webhookEndpointDelete(id: $id) { success errors { field code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        v["data"]["webhookEndpointDelete"]["errors"][0],
        json!({ "field": ["id"], "code": "NOT_FOUND" })
    );
    let v = env
        .admin_as(&other, None, "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(v["data"]["webhookEndpoints"], json!([]));
    let v = env
        .admin_as(&other, None, DELIVERIES, json!({ "id": id }))
        .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "NOT_FOUND", "{v}");
    // Pages and cursors.
    let v = env
        .admin(
            "query D($id: ID!) { webhookDeliveries(endpointId: $id, first: 101) { nodes { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{v}");
    let v = env
        .admin(DELIVERIES, json!({ "id": id, "after": "bm90LWEtY3Vyc29y" }))
        .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{v}");
    // An unchanged URL may stay; a change is checked.
    let v = env
        .admin(
            "mutation U($id: ID!) { webhookEndpointUpdate(id: $id, input: { url: \"https://10.0.0.1/\" }) {
               success errors { field code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        v["data"]["webhookEndpointUpdate"]["errors"][0],
        json!({ "field": ["url"], "code": "URL_NOT_ALLOWED" })
    );
    // At most 20 endpoints.
    for _ in 1..20 {
        create(&env, "https://hooks.example.com/x", &[]).await;
    }
    let v = env
        .admin(
            CREATE,
            json!({ "input": { "url": "https://hooks.example.com/y" } }),
        )
        .await;
    assert_eq!(code(&v).1, "LIMIT_REACHED", "{v}");
}

#[tokio::test]
async fn a_restarted_feed_sends_what_was_queued_in_order_and_an_erasure_reaches_the_payload() {
    let env = TestEnv::start_with(quick(Duration::from_secs(60))).await;
    let (stop, task) = run_feed(&env);
    // Refuses the first three requests.
    let receiver = Receiver::start(3, 503, None).await;
    // Refuses everything until opened.
    let gated = Receiver::start(usize::MAX, 503, None).await;
    let (_, secret) = create(&env, &receiver.url(), &["customer.*", "session.*"]).await;
    let (gated_id, gated_secret) = create(&env, &gated.url(), &["customer.registered"]).await;
    let ada = env.register("ada@example.com", PASSWORD).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        assert_eq!(
            env.login("ada@example.com", PASSWORD).await["success"],
            true
        );
    }
    eventually("a first refused attempt", async || {
        (!receiver.got().is_empty()).then_some(())
    })
    .await;
    // A clean stop mid-retry hands the held deliveries back; a new feed
    // (another instance, the same durable consumers) goes on with them.
    stop.cancel();
    task.await.unwrap().unwrap();
    let _feed = start_feed(&env).drop_guard();
    let mut expected = Vec::new();
    for seq in 1..=env.last_seq().await {
        if let Some(m) = env.store.read_message(seq).await.unwrap() {
            for (idx, e) in m.message.events.iter().enumerate() {
                let t = e.body.type_name();
                if t.starts_with("customer.") || t.starts_with("session.") {
                    expected.push((seq, idx as u64));
                }
            }
        }
    }
    assert!(expected.len() >= 4, "{expected:?}");
    let answered = eventually("every event answered 2xx", async || {
        let got = receiver.got();
        (got.len() >= 3 + expected.len()).then(|| got[3..].to_vec())
    })
    .await;
    // Those answered 2xx: each event once, in the log's order.
    let wh = standardwebhooks::Webhook::new(&secret).unwrap();
    let sent: Vec<(u64, u64)> = answered
        .iter()
        .map(|r| {
            wh.verify(&r.body, &r.headers).unwrap();
            let p: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(p["data"]["customerId"], ada.as_str());
            (
                p["data"]["sequence"].as_u64().unwrap(),
                p["data"]["index"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sent, expected);

    // Bob's registration waits at the gate while he is erased: the
    // payload, built from the log at each attempt, no longer has his email.
    let bob = env.register("bob@example.com", PASSWORD).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("Bob's registration refused", async || {
        gated
            .got()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("bob@example.com"))
            .then_some(())
    })
    .await;
    let v = env
        .admin(
            "mutation E($id: ID!) { customerErase(id: $id, reason: \"request 7\") { success errors { code } } }",
            json!({ "id": bob }),
        )
        .await;
    assert_eq!(v["data"]["customerErase"]["success"], true, "{v}");
    gated.script.lock().unwrap().fail_first = 0;
    let delivered = eventually("Bob's registration delivered", async || {
        let d = deliveries(&env, &gated_id).await;
        d.iter()
            .find(|d| d["customerId"] == bob.as_str() && d["status"] == "SUCCEEDED")
            .cloned()
    })
    .await;
    assert_eq!(delivered["eventType"], "customer.registered");
    let last = gated.got().last().unwrap().clone();
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["data"]["customerId"], bob.as_str());
    assert_eq!(body["data"]["data"]["email"], "[erased]", "{body}");
    assert!(!String::from_utf8_lossy(&last.body).contains("bob@example.com"));
    assert!(!gated.verified(&gated_secret).is_empty());
}

#[tokio::test]
async fn an_endpoint_deleted_while_the_feed_is_down_is_dropped_with_its_queue() {
    let env = TestEnv::start_with(quick(Duration::from_secs(60))).await;
    let (stop, task) = run_feed(&env);
    // Refuses everything: its deliveries wait in the queue.
    let dead = Receiver::start(usize::MAX, 503, None).await;
    let (id, _) = create(&env, &dead.url(), &["customer.*"]).await;
    for i in 0..3 {
        env.register(&format!("q{i}@example.com"), PASSWORD).await;
    }
    eventually("the first refusals", async || {
        (dead.got().len() >= 3).then_some(())
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();
    let js = async_nats::jetstream::new(env.client.clone());
    let queue = js.get_stream("AUTH_WEBHOOKS").await.unwrap();
    let subject = format!("authd.hook.q.{}.{id}.>", env.project_id);
    let held = |queue: async_nats::jetstream::stream::Stream| {
        let subject = subject.clone();
        async move {
            use futures::StreamExt;
            let mut subjects = queue.info_with_subjects(subject.as_str()).await.unwrap();
            let mut held = 0;
            while let Some(s) = subjects.next().await {
                held += s.unwrap().1;
            }
            held
        }
    };
    assert!(held(queue.clone()).await >= 3, "its deliveries are queued");
    let v = env
        .admin(
            "mutation D($id: ID!) { webhookEndpointDelete(id: $id) { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(v["data"]["webhookEndpointDelete"]["success"], true);
    // The next feed reads the deletion, drops the endpoint's consumer and
    // queue, and sends it nothing more.
    let _feed = start_feed(&env).drop_guard();
    eventually("the queue dropped", async || {
        (held(queue.clone()).await == 0).then_some(())
    })
    .await;
    let consumer = format!("hook_{id}");
    eventually("the consumer dropped", async || {
        queue
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&consumer)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    let sent = dead.got().len();
    env.register("later@example.com", PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead.got().len(), sent);
}
