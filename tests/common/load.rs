//! A bounded load for fault tests: clients that sign up, read their
//! account and rotate their refresh tokens without pause, recording every
//! answer, and the figures of a stretch of it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{PASSWORD, TestEnv};

/// One answer the load saw: when (since the start), to what, which code
/// (`ok`, an error code, or `transport`), and how long it took.
pub struct Answer {
    pub at: Duration,
    pub op: &'static str,
    pub code: String,
    pub took: Duration,
}

#[derive(Default)]
pub struct Seen {
    pub answers: Vec<Answer>,
    /// Addresses whose sign-up was answered with success.
    pub registered: Vec<String>,
    /// Refresh tokens answered with a successor: never to work again.
    pub rotated: Vec<String>,
}

/// A public API call to `gateway` that never panics on the way: a transport failure is an
/// answer too.
pub async fn call(
    env: &TestEnv,
    gateway: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request = env
        .http
        .post(format!("{gateway}/graphql/public"))
        .header("x-api-key", &env.api_key)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let sent = request.send().await;
    match sent {
        Ok(r) => r
            .json()
            .await
            .unwrap_or_else(|e| json!({ "transport": e.to_string() })),
        Err(e) => json!({ "transport": e.to_string() }),
    }
}

pub fn code(answer: &Value, field: &str) -> String {
    let a = &answer["data"][field];
    if a["success"] == true {
        "ok".into()
    } else if let Some(c) = a["errors"][0]["code"].as_str() {
        c.into()
    } else if answer.get("transport").is_some() {
        "transport".into()
    } else if let Some(c) = answer["errors"][0]["extensions"]["code"].as_str() {
        c.into()
    } else {
        format!("unexpected: {answer}")
    }
}

/// Client `w` of the load, on the gateway at `gateway` (`http://addr`).
pub async fn worker(
    env: Arc<TestEnv>,
    gateway: String,
    w: usize,
    start: Instant,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    let record = |op, code: &str, took: Duration| {
        seen.lock().unwrap().answers.push(Answer {
            at: start.elapsed(),
            op,
            code: code.to_string(),
            took,
        });
    };
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let email = format!("w{w}-{i}@load.example");
        let t = Instant::now();
        let r = call(
            &env,
            &gateway,
            None,
            "mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) {
                success accessToken refreshToken errors { code } } }",
            json!({ "e": email, "p": PASSWORD }),
        )
        .await;
        let c = code(&r, "customerRegister");
        record("register", &c, t.elapsed());
        if c != "ok" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        seen.lock().unwrap().registered.push(email);
        let (access, mut refresh) = (
            r["data"]["customerRegister"]["accessToken"]
                .as_str()
                .unwrap()
                .to_string(),
            r["data"]["customerRegister"]["refreshToken"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let t = Instant::now();
        let me = call(
            &env,
            &gateway,
            Some(&access),
            "{ currentUser { id } }",
            json!({}),
        )
        .await;
        let read = match (
            me["data"]["currentUser"]["id"].is_string(),
            &me["errors"][0]["extensions"]["code"],
        ) {
            (true, _) => "ok".to_string(),
            (false, Value::String(code)) => code.clone(),
            _ => format!("unexpected: {me}"),
        };
        record("currentUser", &read, t.elapsed());
        for _ in 0..2 {
            let t2 = Instant::now();
            let f = call(
                &env,
                &gateway,
                None,
                "mutation F($t: String!) { customerRefreshToken(refreshToken: $t) {
                    success refreshToken errors { code } } }",
                json!({ "t": refresh }),
            )
            .await;
            let c = code(&f, "customerRefreshToken");
            record("refresh", &c, t2.elapsed());
            if c != "ok" {
                break;
            }
            let next = f["data"]["customerRefreshToken"]["refreshToken"]
                .as_str()
                .unwrap()
                .to_string();
            seen.lock()
                .unwrap()
                .rotated
                .push(std::mem::replace(&mut refresh, next));
        }
    }
}

/// The longest stretch without a successful write between `from` and `to`,
/// the failed answers and the p99 of all answers in it.
pub fn phase(seen: &Seen, name: &str, from: Duration, to: Duration) -> (Duration, usize) {
    let within: Vec<&Answer> = seen
        .answers
        .iter()
        .filter(|a| a.at >= from && a.at < to)
        .collect();
    let mut ok: Vec<Duration> = within
        .iter()
        .filter(|a| a.code == "ok" && a.op != "currentUser")
        .map(|a| a.at)
        .collect();
    ok.sort();
    let mut gap = Duration::ZERO;
    let mut last = from;
    for at in ok.iter().copied().chain([to]) {
        gap = gap.max(at.saturating_sub(last));
        last = at;
    }
    let failed: Vec<&&Answer> = within.iter().filter(|a| a.code != "ok").collect();
    for a in &failed {
        eprintln!(
            "  {name}: {} {} at {:?} after {:?}",
            a.op, a.code, a.at, a.took
        );
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for a in &failed {
        *codes.entry(format!("{} {}", a.op, a.code)).or_default() += 1;
    }
    let mut took: Vec<Duration> = within.iter().map(|a| a.took).collect();
    took.sort();
    let p99 = took
        .get(took.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    eprintln!(
        "{name}: {} answers, {} ok, longest gap between successful writes {gap:?}, p99 {p99:?}, failures {codes:?}",
        within.len(),
        ok.len()
    );
    (gap, failed.len())
}
