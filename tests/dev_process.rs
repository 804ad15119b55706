//! `authd dev` as a user runs it: the real binary, its own nats-server,
//! default (strong) argon2 parameters, a restart that keeps everything.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

struct Dev {
    child: Child,
}

impl Dev {
    fn start(data_dir: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_authd"))
            .args([
                "dev",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Self { child }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("authd dev did not exit after a signal");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // SIGTERM first (a test that failed midway), so authd dev stops its
        // nats-server too; a SIGKILL would leave that server running.
        authd::nats_server::stop_child(&mut self.child, Duration::from_secs(10));
    }
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("authd dev did not become healthy");
}

async fn gql(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(url)
        .header("x-api-key", key)
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_dev_starts_restarts_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = authd::nats_server::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let mut dev = Dev::start(&data, port);
    wait_healthy(&http, &base).await;
    for _ in 0..300 {
        if data.join("dev-keys.json").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("dev-keys.json")).unwrap())
            .unwrap();
    let key = keys["publicApiKey"].as_str().unwrap().to_string();
    assert!(key.starts_with("pk_test_"), "{keys}");
    assert!(keys["adminKey"].as_str().unwrap().starts_with("sk_test_"));
    // The operator key, kept in a file only its owner reads.
    let operator = keys["operatorKey"].as_str().unwrap().to_string();
    assert!(operator.starts_with("op_") && operator.len() > 60, "{keys}");
    let key_file = data.join("operator.key");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), operator);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(keys["graphqlUrl"], format!("{base}/graphql/public"));
    let nats_url = keys["natsUrl"].as_str().unwrap().to_string();
    let nats_port: u16 = nats_url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        nats_url.starts_with("nats://authd:") && port_open(nats_port),
        "{nats_url}"
    );
    // The broker admits authd's user only: an anonymous client is refused,
    // the URL of dev-keys.json (with its password) gets in.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(format!("nats://127.0.0.1:{nats_port}"))
        .await;
    assert!(anonymous.is_err(), "an anonymous client got in");
    let admitted = authd::app::connect(&nats_url).await.unwrap();
    admitted.client.flush().await.unwrap();
    let password = std::fs::read_to_string(data.join("nats.password")).unwrap();
    assert!(nats_url.contains(password.trim()));
    let url = keys["graphqlUrl"].as_str().unwrap().to_string();

    // GraphiQL in dev.
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );

    let reg = gql(&http, &url, &key, None,
        "mutation R($email: String!, $password: String!) { customerRegister(email: $email, password: $password) { success accessToken refreshToken user { id } } }",
        json!({ "email": "ann@example.com", "password": "correct horse battery staple" })).await;
    let reg = &reg["data"]["customerRegister"];
    assert_eq!(reg["success"], true, "{reg}");
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let refresh = reg["refreshToken"].as_str().unwrap().to_string();

    // SIGTERM: a clean exit, and the child nats-server goes with it.
    dev.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(dev.wait_exit().success());
    assert!(!port_open(nats_port), "nats-server outlived authd dev");
    assert!(!port_open(port));

    let mut dev = Dev::start(&data, port);
    wait_healthy(&http, &base).await;
    // The audit index is kept by default, in a file of its own.
    assert!(data.join("read-model.audit.db").exists());
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("dev-keys.json")).unwrap())
            .unwrap();
    assert_eq!(again["publicApiKey"], keys["publicApiKey"]);
    assert_eq!(again["adminKey"], keys["adminKey"]);
    assert_eq!(again["operatorKey"], keys["operatorKey"]);

    // The session and its tokens survived the restart.
    let me = gql(
        &http,
        &url,
        &key,
        Some(&access),
        "{ currentUser { id email } }",
        json!({}),
    )
    .await;
    assert_eq!(me["data"]["currentUser"]["id"], reg["user"]["id"], "{me}");
    let refreshed = gql(
        &http,
        &url,
        &key,
        None,
        "mutation F($t: String!) { customerRefreshToken(refreshToken: $t) { success } }",
        json!({ "t": refresh }),
    )
    .await;
    assert_eq!(
        refreshed["data"]["customerRefreshToken"]["success"], true,
        "{refreshed}"
    );
    let login = gql(&http, &url, &key, None,
        "mutation L($email: String!, $password: String!) { customerLogin(email: $email, password: $password) { success } }",
        json!({ "email": "ann@example.com", "password": "correct horse battery staple" })).await;
    assert_eq!(login["data"]["customerLogin"]["success"], true, "{login}");
    // Hashed with the default, strong argon2id parameters.
    let client = authd::app::connect(&nats_url).await.unwrap().client;
    let stream = async_nats::jetstream::new(client)
        .get_stream("AUTH_EVENTS")
        .await
        .unwrap();
    let mut hashes = Vec::new();
    for seq in 1..=20 {
        let Ok(raw) = stream.get_raw_message(seq).await else {
            continue;
        };
        let msg = authd_events::EventMessage::decode(&raw.payload).unwrap();
        for e in msg.bodies() {
            if let authd_events::Event::Customer(authd_events::CustomerEvent::Registered(r)) = e {
                hashes.push(r.password_hash.clone());
            }
        }
    }
    assert_eq!(hashes.len(), 1);
    assert!(
        hashes[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        hashes[0]
    );

    // A crash (SIGKILL) leaves its nats-server running; the next start
    // stops that one first (two servers on one store would corrupt it) and
    // takes the same port again.
    dev.signal(nix::sys::signal::Signal::SIGKILL);
    dev.wait_exit();
    let store = data.join("nats");
    assert_eq!(servers_on(&store), 1, "the crash left its nats-server");
    let mut dev = Dev::start(&data, port);
    wait_healthy(&http, &base).await;
    assert_eq!(servers_on(&store), 1, "two nats-servers on one store");
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("dev-keys.json")).unwrap())
            .unwrap();
    assert_eq!(after["natsUrl"], nats_url);
    let login = gql(&http, &url, &key, None,
        "mutation L($email: String!, $password: String!) { customerLogin(email: $email, password: $password) { success } }",
        json!({ "email": "ann@example.com", "password": "correct horse battery staple" })).await;
    assert_eq!(login["data"]["customerLogin"]["success"], true, "{login}");

    dev.signal(nix::sys::signal::Signal::SIGINT);
    assert!(dev.wait_exit().success());
    assert!(!port_open(nats_port));
    assert_eq!(servers_on(&store), 0);
}

/// How many nats-server processes run on `store`.
fn servers_on(store: &Path) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| authd::nats_server::serves_store(*pid, store))
        .count()
}

/// `docker compose down` or a systemd stop signals every process at once:
/// authd dev must stop even when its nats-server is gone first, whether it
/// was still making its dev project (`ready: false`: the gateway answers
/// health before that) or was fully up (a final flush to a broker that
/// never comes back would wait forever).
async fn stops_when_its_broker_died_first(ready: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = authd::nats_server::free_port();
    let mut dev = Dev::start(&data, port);
    wait_healthy(&reqwest::Client::new(), &format!("http://127.0.0.1:{port}")).await;
    if ready {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !data.join("dev-keys.json").exists() {
            assert!(Instant::now() < deadline, "no dev-keys.json");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let store = data.join("nats");
    let broker: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| authd::nats_server::serves_store(*pid, &store))
        .collect();
    assert_eq!(broker.len(), 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(broker[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    dev.signal(nix::sys::signal::Signal::SIGTERM);
    dev.wait_exit();
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "authd dev took {:?} to stop",
        asked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_dev_stops_when_its_broker_died_while_it_started() {
    stops_when_its_broker_died_first(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_dev_stops_when_its_broker_died_once_it_was_up() {
    stops_when_its_broker_died_first(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = authd::nats_server::free_port();
    let log = dir.path().join("authd.log");
    let child = Command::new(env!("CARGO_BIN_EXE_authd"))
        .args([
            "dev",
            "--log-format",
            "json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--argon2-m-cost",
            "64",
            "--argon2-t-cost",
            "1",
            "--data-dir",
        ])
        .arg(&data)
        .env("RUST_LOG", "debug,async_nats=warn,hyper=warn,h2=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut dev = Dev { child };
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&http, &base).await;
    for _ in 0..100 {
        if data.join("dev-keys.json").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("dev-keys.json")).unwrap())
            .unwrap();
    let key = keys["publicApiKey"].as_str().unwrap();
    let email = "zoe.json-logs@example.com";
    let password = "a passphrase nobody logs";
    let r = gql(
        &http,
        &format!("{base}/graphql/public"),
        key,
        None,
        "mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) { success refreshToken } }",
        json!({ "e": email, "p": password }),
    )
    .await;
    assert_eq!(r["data"]["customerRegister"]["success"], true, "{r}");
    let refresh = r["data"]["customerRegister"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    // A failed sign-in logs too.
    gql(
        &http,
        &format!("{base}/graphql/public"),
        key,
        None,
        "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { success } }",
        json!({ "e": email, "p": "wrong" }),
    )
    .await;
    dev.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(dev.wait_exit().success());

    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for field in ["time", "level", "target", "message", "fields"] {
            assert!(v.get(field).is_some(), "no {field} in {line}");
        }
        lines += 1;
    }
    assert!(lines > 5, "{text}");
    assert!(text.contains("\"message\":\"gateway listening\""), "{text}");
    for secret in [
        email,
        "json-logs",
        password,
        &refresh[..refresh.len().min(20)],
    ] {
        assert!(!text.contains(secret), "the log holds {secret}");
    }
}
