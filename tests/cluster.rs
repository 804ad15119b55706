//! authd on a three-node JetStream cluster (real nats-server processes
//! on loopback, routed to each other): `--nats-url` with three seeds,
//! `--stream-replicas 3` raising a stream an earlier start made with one,
//! sign-ups going on after the event stream's leader is killed, and a
//! gateway and a services process killed under load.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use authd::nats_server::{NatsServer, free_port, locate};
use authd_events::{EventStore, StoreConfig};
use common::{
    PASSWORD, TestEnv,
    cluster::{cluster, role},
    load::{Seen, phase, worker},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_node_cluster_keeps_signing_up_when_the_stream_leader_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path());
    let seeds = nodes.iter().map(|n| n.url()).collect::<Vec<_>>().join(",");

    // An earlier start made the event stream with one replica.
    let first = async_nats::connect(nodes[0].url()).await.unwrap();
    let mut made = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while made.is_none() && Instant::now() < deadline {
        match EventStore::open(first.clone(), StoreConfig::default()).await {
            Ok(s) => made = Some(s),
            // The cluster is still electing its JetStream leader.
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert!(made.is_some(), "the cluster never offered JetStream");
    let js = async_nats::jetstream::new(first.clone());
    let replicas = |name: &'static str| {
        let js = js.clone();
        async move {
            let mut s = js.get_stream(name).await.unwrap();
            let info = s.info().await.unwrap();
            let peers = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
            (
                info.config.num_replicas,
                peers,
                info.cluster.clone().and_then(|c| c.leader),
            )
        }
    };
    assert_eq!(replicas("AUTH_EVENTS").await.0, 1);
    // The data keys' stream too, made on one replica by an earlier start.
    authd_events::data_keys::ensure_stream(&js, 1)
        .await
        .unwrap();
    assert_eq!(replicas("AUTH_KEYS").await.0, 1);

    // authd on the three seeds, asking for three replicas: raised.
    let env = TestEnv::start_with(|c| {
        c.nats_url = seeds.clone();
        c.stream_replicas = 3;
    })
    .await;
    for stream in ["AUTH_EVENTS", "AUTH_MAIL", "AUTH_KEYS"] {
        let (wanted, peers, _) = replicas(stream).await;
        assert_eq!(wanted, 3, "{stream}");
        // The leader and two followers (they may still be catching up).
        assert_eq!(peers, 2, "{stream}");
    }
    let ann = env.register("ann@example.com", PASSWORD).await;
    assert_eq!(ann["success"], true, "{ann}");

    // The event stream's leader dies; sign-ups go on once another is elected.
    let (_, _, leader) = replicas("AUTH_EVENTS").await;
    let leader = leader.expect("the stream has a leader");
    let i: usize = leader.trim_start_matches('n').parse().unwrap();
    nodes[i].kill();
    let started = Instant::now();
    let mut bob = serde_json::Value::Null;
    let mut seen = std::collections::BTreeSet::new();
    while started.elapsed() < Duration::from_secs(30) {
        let asked = Instant::now();
        bob = env.register("bob@example.com", PASSWORD).await;
        // Never a hang: each answer comes within the command's deadline.
        assert!(asked.elapsed() < Duration::from_secs(15), "{bob}");
        seen.insert(
            bob["errors"][0]["code"]
                .as_str()
                .unwrap_or("none")
                .to_string(),
        );
        // A try whose answer was lost in the election may have landed:
        // then the next one finds the address taken.
        if bob["success"] == true || bob["errors"][0]["code"] == "EMAIL_TAKEN" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        bob["success"] == true || bob["errors"][0]["code"] == "EMAIL_TAKEN",
        "no sign-up in 30 s after the leader died: {bob}"
    );
    eprintln!(
        "sign-ups resumed {:?} after the leader was killed; answers meanwhile: {seen:?}",
        started.elapsed()
    );
    // Meanwhile a clear, retryable refusal, nothing else.
    for code in &seen {
        assert!(
            ["none", "SERVICE_UNAVAILABLE", "EMAIL_TAKEN"].contains(&code.as_str()),
            "{seen:?}"
        );
    }
    // Nothing was lost or doubled: both sign in, and Bob once.
    for email in ["ann@example.com", "bob@example.com"] {
        let login = env.login(email, PASSWORD).await;
        assert_eq!(login["success"], true, "{email}: {login}");
    }
    let again = env.register("bob@example.com", PASSWORD).await;
    assert_eq!(again["errors"][0]["code"], "EMAIL_TAKEN", "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_cluster_configs_form_a_jetstream_cluster_with_the_role_users() {
    // deploy/cluster/nats-*.conf as shipped, but for host names, ports and
    // stores (the containers' `nats-N:6222` become loopback ports here).
    let dir = tempfile::tempdir().unwrap();
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    std::fs::copy(
        deploy.join("nats-roles.conf"),
        dir.path().join("nats-roles.conf"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("cluster")).unwrap();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let mut conf =
            std::fs::read_to_string(deploy.join(format!("cluster/nats-{}.conf", i + 1))).unwrap();
        for (j, port) in routes.iter().enumerate() {
            conf = conf.replace(
                &format!("nats-route://nats-{}:6222", j + 1),
                &format!("nats-route://127.0.0.1:{port}"),
            );
        }
        conf = conf
            .replace(
                "listen: 0.0.0.0:6222",
                &format!("listen: 127.0.0.1:{}", routes[i]),
            )
            .replace(
                "http: 0.0.0.0:8222",
                &format!("http: 127.0.0.1:{}", free_port()),
            )
            // The store is the test's (`-sd`, which may not be given twice).
            .replace("  store_dir: /data/jetstream\n", "");
        let path = dir.path().join(format!("cluster/nats-{}.conf", i + 1));
        std::fs::write(&path, conf).unwrap();
        nodes.push(
            NatsServer::start_configured(
                locate(None).unwrap(),
                &dir.path().join(format!("n{i}")),
                None,
                Some(path),
            )
            .expect("a shipped cluster node starts"),
        );
    }
    // The services' user makes the event stream with three replicas.
    let url = format!(
        "nats://services:services-change-me@127.0.0.1:{}",
        nodes[2].port()
    );
    let nats = authd::app::connect(&url).await.unwrap();
    let store = authd::app::open_store_with(
        &nats,
        StoreConfig {
            replicas: 3,
            ..StoreConfig::default()
        },
    )
    .await
    .expect("a three-replica stream on the shipped cluster");
    let mut stream = store.jetstream().get_stream("AUTH_EVENTS").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.num_replicas, 3);
    let peers = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
    assert_eq!(peers, 2, "{:?}", info.cluster);
    // And nobody gets in without a user.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(nodes[0].url())
        .await;
    assert!(anonymous.is_err());
}

async fn register_at(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    email: &str,
) -> serde_json::Value {
    let r = http
        .post(format!("{base}/graphql/public"))
        .header("x-api-key", key)
        .json(&serde_json::json!({
            "query": "mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) {
                success accessToken errors { code } } }",
            "variables": { "e": email, "p": PASSWORD },
        }))
        .send()
        .await;
    match r {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => serde_json::json!({ "transport": e.to_string() }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_and_a_services_process_die_and_the_others_serve_on() {
    let dir = tempfile::tempdir().unwrap();
    let _nodes = cluster(dir.path());
    let seeds = _nodes.iter().map(|n| n.url()).collect::<Vec<_>>().join(",");
    // Gateway 1 and services 1 in this process; gateway 2 and services 2
    // as processes of their own, with the same keys.
    let env = Arc::new(
        TestEnv::start_with(|c| {
            c.nats_url = seeds.clone();
            c.stream_replicas = 3;
            c.command_timeout = Duration::from_secs(5);
        })
        .await,
    );
    let data = env.config.data_dir.clone();
    let key = |f: &str| data.join(f).to_string_lossy().into_owned();
    let common = |dir: &str| {
        vec![
            "--nats-url".to_string(),
            seeds.clone(),
            "--stream-replicas".into(),
            "3".into(),
            "--data-dir".into(),
            dir.to_string(),
            "--index-key-file".into(),
            key("index.key"),
            "--data-key-file".into(),
            key("data.key"),
            "--argon2-m-cost".into(),
            "64".into(),
            "--argon2-t-cost".into(),
            "1".into(),
        ]
    };
    let s2_dir = dir.path().join("s2").to_string_lossy().into_owned();
    let mut s2_args = vec!["services".to_string()];
    s2_args.extend(common(&s2_dir));
    let s2_metrics = free_port();
    s2_args.extend([
        "--signing-key-file".into(),
        key("jwt-signing-key.pem"),
        "--secrets-key-file".into(),
        key("secrets.key"),
        "--admin-listen".into(),
        format!("127.0.0.1:{s2_metrics}"),
    ]);
    let mut services_2 = role(
        &s2_args.iter().map(String::as_str).collect::<Vec<_>>(),
        &dir.path().join("s2.log"),
    );
    let port = free_port();
    let g2_dir = dir.path().join("g2").to_string_lossy().into_owned();
    let mut g2_args = vec!["gateway".to_string()];
    g2_args.extend(common(&g2_dir));
    g2_args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    let g2_args: Vec<&str> = g2_args.iter().map(String::as_str).collect();
    let mut gateway_2 = role(&g2_args, &dir.path().join("g2.log"));
    let g2 = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let logs = || {
        ["s2.log", "g2.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(dir.path().join(f)).unwrap_or_default()
                )
            })
            .collect::<String>()
    };
    let mut up = false;
    for _ in 0..200 {
        if http
            .get(format!("{g2}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "gateway 2 never came up\n{}", logs());

    // Both gateways serve, whichever services answer.
    for i in 0..6 {
        let r = register_at(&http, &g2, &env.api_key, &format!("g2-{i}@example.com")).await;
        assert_eq!(
            r["data"]["customerRegister"]["success"],
            true,
            "{r}\n{}",
            logs()
        );
        let r = env.register(&format!("g1-{i}@example.com"), PASSWORD).await;
        assert_eq!(r["success"], true, "{r}");
    }

    // A services process shows operators its broker connection and the
    // event stream's leader as it sees it.
    let js = async_nats::jetstream::new(async_nats::connect(_nodes[0].url()).await.unwrap());
    let info = js
        .get_stream("AUTH_EVENTS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    let leading = info.cluster.and_then(|c| c.leader).unwrap();
    let want = format!("authd_stream_leader{{stream=\"AUTH_EVENTS\",server=\"{leading}\"}} 1");
    let mut shown = String::new();
    for _ in 0..50 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{s2_metrics}/metrics"))
            .send()
            .await
        {
            shown = r.text().await.unwrap_or_default();
        }
        if shown.lines().any(|l| l == want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        shown.lines().any(|l| l == want),
        "{want}\n{shown}\n{}",
        logs()
    );
    assert!(
        shown.lines().any(|l| l == "authd_nats_connected 1"),
        "{shown}"
    );

    // Under load (four clients on gateway 1, whose commands both services
    // share), one gateway and one services process die; the others serve
    // on, and every request gets one clear answer in its deadline.
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let on = env.url("");
            tokio::spawn(worker(
                env.clone(),
                on,
                w,
                start,
                stop.clone(),
                seen.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed_at = start.elapsed();
    services_2.kill().unwrap();
    gateway_2.kill().unwrap();
    let (_, _) = (services_2.wait(), gateway_2.wait());
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let (_, before) = phase(&seen, "before the kill", Duration::ZERO, killed_at);
    let (gap, failed) = phase(&seen, "after the kill", killed_at, start.elapsed());
    assert_eq!(before, 0, "failures before the kill");
    // What services 2 held when it died ends at the sender's deadline
    // (5 s here); services 1 takes the rest at once.
    assert!(
        gap < Duration::from_secs(6),
        "no write for {gap:?} after the kill"
    );
    assert!(failed <= 8, "{failed} requests failed after the kill");
    for a in &seen.answers {
        assert!(
            ["ok", "SERVICE_UNAVAILABLE"].contains(&a.code.as_str()),
            "{} answered {} at {:?}",
            a.op,
            a.code,
            a.at
        );
        assert!(
            a.took < Duration::from_secs(7),
            "{} took {:?}",
            a.op,
            a.took
        );
    }
    // Nothing acknowledged was lost, and no rotated token works again.
    for email in &seen.registered {
        let login = env.login(email, PASSWORD).await;
        assert_eq!(login["success"], true, "{email}: {login}");
    }
    for token in seen.rotated.iter().take(20) {
        let again = env.refresh(token).await;
        assert_eq!(
            again["success"], false,
            "a rotated token worked again: {again}"
        );
    }
    let mut failures = Vec::new();
    for i in 0..20 {
        let asked = std::time::Instant::now();
        let r = env
            .register(&format!("after-{i}@example.com"), PASSWORD)
            .await;
        assert!(asked.elapsed() < Duration::from_secs(15), "{r}");
        if r["success"] != true {
            failures.push(r["errors"][0]["code"].clone());
        }
    }
    assert!(
        failures.iter().all(|c| c == "SERVICE_UNAVAILABLE"),
        "{failures:?}"
    );
    assert!(
        failures.len() <= 1,
        "services 1 should take over at once: {failures:?}"
    );
    let r = env.login("g2-0@example.com", PASSWORD).await;
    assert_eq!(r["success"], true, "registered through gateway 2: {r}");

    // Gateway 2 comes back from its own read model and catches up.
    let mut gateway_2 = role(&g2_args, &dir.path().join("g2b.log"));
    let mut token = serde_json::Value::Null;
    for _ in 0..200 {
        let r = http
            .post(format!("{g2}/graphql/public"))
            .header("x-api-key", &env.api_key)
            .json(&serde_json::json!({
                "query": "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { accessToken } }",
                "variables": { "e": "after-19@example.com", "p": PASSWORD },
            }))
            .send()
            .await;
        if let Ok(r) = r
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["data"]["customerLogin"]["accessToken"].is_string()
        {
            token = v["data"]["customerLogin"]["accessToken"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = token
        .as_str()
        .expect("a sign-in through the restarted gateway")
        .to_string();
    let me: serde_json::Value = http
        .post(format!("{g2}/graphql/public"))
        .header("x-api-key", &env.api_key)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "{ currentUser { email } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["data"]["currentUser"]["email"], "after-19@example.com",
        "{me}"
    );
    let _ = gateway_2.kill();
    let _ = gateway_2.wait();
}
