//! The HTTP listener against slow clients, with TLS, and behind proxies
//! (#9 items 5 and 16).

mod common;

use std::time::Duration;

use common::{PASSWORD, TestEnv, smtp::fixture};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads until the server closes the connection; `Err` if it is still
/// open after `patience`.
async fn closed_within(stream: &mut tokio::net::TcpStream, patience: Duration) -> Result<(), ()> {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(patience, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .map_err(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headers_that_never_finish_get_the_connection_closed() {
    assert_eq!(
        authd_gateway::listener::ListenerOptions::default().header_read_timeout,
        Duration::from_secs(30)
    );
    let env =
        TestEnv::start_with(|c| c.listener.header_read_timeout = Duration::from_secs(1)).await;
    let addr = env.gateway.as_ref().unwrap().addr;
    // Slowloris: a request line and one header, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /graphql/public HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(
        closed_within(&mut slow, Duration::from_secs(15)).await,
        Ok(())
    );
    // A connection that sends nothing at all goes the same way.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        closed_within(&mut silent, Duration::from_secs(15)).await,
        Ok(())
    );
    // Meanwhile normal requests are served.
    assert_eq!(
        env.register("ann@example.com", PASSWORD).await["success"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_past_the_cap_wait_until_one_ends() {
    let env = TestEnv::start_with(|c| c.listener.max_connections = 2).await;
    let addr = env.gateway.as_ref().unwrap().addr;
    let health = env.url("/healthz");
    // Each request on a connection of its own, closed after the answer.
    let fresh = || {
        reqwest::Client::builder()
            .timeout(Duration::from_millis(1500))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    assert_eq!(fresh().get(&health).send().await.unwrap().status(), 200);
    // Two idle connections take both places…
    let held_a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _held_b = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // …so a third client is not served…
    assert!(
        fresh().get(&health).send().await.is_err(),
        "served past the cap"
    );
    // …until one of them goes (well before idle ones time out, at 30 s).
    drop(held_a);
    let mut served = false;
    for _ in 0..5 {
        if let Ok(r) = fresh().get(&health).send().await {
            served = r.status() == 200;
            break;
        }
    }
    assert!(served, "a place freed up, yet nothing was served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_on_the_listener_with_hsts() {
    common::smtp::install_crypto_provider();
    let tls =
        authd_gateway::listener::tls_config(&fixture("smtp.pem"), &fixture("smtp.key")).unwrap();
    let env = TestEnv::start_with(move |c| c.listener.tls = Some(tls)).await;
    let addr = env.gateway.as_ref().unwrap().addr;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/graphql/public", addr.port());
    let r = client
        .post(&url)
        .header("x-api-key", &env.api_key)
        .json(&json!({ "query": "{ authConfig { authMethods } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["data"]["authConfig"]["authMethods"].is_array(),
        "{body}"
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    // Without TLS there is no HSTS (it would be a lie).
    let env = TestEnv::start().await;
    let r = env.http.get(env.url("/healthz")).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}

/// The client address recorded with the last login event.
async fn last_login_ip(env: &TestEnv) -> Option<String> {
    let messages = env.opened_messages().await;
    messages
        .iter()
        .rev()
        .find_map(|msg| msg.meta.request.ip().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
    let login = |env: &TestEnv, forwarded: &'static str| {
        let request = env
            .http
            .post(env.url("/graphql/public"))
            .header("x-api-key", &env.api_key)
            .header("x-forwarded-for", forwarded)
            .json(&json!({
                "query": "mutation { customerLogin(email: \"ann@example.com\", password: \"wrong password\") { success } }"
            }));
        async move { request.send().await.unwrap().status() }
    };
    // By default the header is the client's say-so, and ignored.
    let env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    assert_eq!(login(&env, "203.0.113.7").await, 200);
    assert_eq!(last_login_ip(&env).await.as_deref(), Some("127.0.0.1"));
    // Behind a trusted proxy (here: loopback), the rightmost hop the proxy
    // did not vouch for is the client, whatever the client prepended.
    let env = TestEnv::start_with(|c| {
        c.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    env.register("ann@example.com", PASSWORD).await;
    assert_eq!(login(&env, "6.6.6.6, 203.0.113.7").await, 200);
    assert_eq!(last_login_ip(&env).await.as_deref(), Some("203.0.113.7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_forwarded_headers_do_not_escape_the_per_ip_limit() {
    let env = TestEnv::start_with(|c| c.limits.per_ip_per_minute = 3).await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let r = env
            .http
            .post(env.url("/graphql/public"))
            .header("x-api-key", &env.api_key)
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({
                "query": "mutation { customerLogin(email: \"ann@example.com\", password: \"wrong password\") { errors { code } } }"
            }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        codes.push(body["data"]["customerLogin"]["errors"][0]["code"].clone());
    }
    assert_eq!(codes.last().unwrap(), "RATE_LIMITED", "{codes:?}");
}
