//! Faults under load on a three-node JetStream cluster (#24): clients sign
//! up, rotate their refresh tokens and read their account without pause
//! while, in turn, the event stream's leader is frozen (SIGSTOP for 15 s:
//! to its peers and its clients it is what a partition looks like); where
//! network namespaces exist (root), the leader is really cut off for 12 s
//! (its node behind a veth pair whose link goes down, the process running
//! on); the leader is killed (SIGKILL) and started again 15 s later; and
//! every broker is restarted in turn (lame duck mode, one at a time).
//! Afterwards every acknowledged sign-up signs in, no address is registered
//! twice, no rotated refresh token works again, and the read model equals
//! a replay of the log. Each phase's longest gap between two successful
//! writes, its failures and its p99 are printed (recorded in
//! BENCHMARKS.md), and the retries by cause from the gateway's metrics.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use authd::nats_server::free_port;
use common::{
    PASSWORD, TestEnv,
    cluster::{role, split_cluster},
    load::{Seen, phase, worker},
};
use nix::sys::signal::{Signal, kill};
use serde_json::json;

/// How long the leader stays frozen (and, later, down after a crash):
/// writes must resume before it comes back.
const FREEZE: Duration = Duration::from_secs(15);

/// Where `AUTH_EVENTS`'s replicas stand, when the cluster answers.
async fn events_cluster(
    js: &async_nats::jetstream::Context,
) -> Option<async_nats::jetstream::stream::ClusterInfo> {
    let mut stream = js.get_stream("AUTH_EVENTS").await.ok()?;
    stream.info().await.ok()?.cluster.clone()
}

/// The node leading `AUTH_EVENTS`, by index.
async fn leader(js: &async_nats::jetstream::Context) -> usize {
    for _ in 0..100 {
        if let Some(l) = events_cluster(js).await.and_then(|c| c.leader) {
            return l.trim_start_matches('n').parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("AUTH_EVENTS has no leader");
}

/// Until node `n` leads `AUTH_EVENTS` (asking the leader to step down in
/// its favour).
async fn lead_from(js: &async_nats::jetstream::Context, n: usize) {
    let preferred =
        serde_json::to_vec(&json!({ "placement": { "preferred": format!("n{n}") } })).unwrap();
    for _ in 0..20 {
        if leader(js).await == n {
            return;
        }
        let _ = js
            .client()
            .request(
                "$JS.API.STREAM.LEADER.STEPDOWN.AUTH_EVENTS",
                preferred.clone().into(),
            )
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("n{n} never led AUTH_EVENTS");
}

/// Until every replica of `AUTH_EVENTS` is current again.
async fn replicas_current(js: &async_nats::jetstream::Context) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(c) = events_cluster(js).await
            && c.leader.is_some()
            && c.replicas.len() == 2
            && c.replicas.iter().all(|r| r.current)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the replicas never caught up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_load_a_frozen_leader_and_a_rolling_restart_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut nodes, split) = split_cluster(dir.path());
    let seeds = nodes.iter().map(|n| n.url()).collect::<Vec<_>>().join(",");
    let env = Arc::new(
        TestEnv::start_with(|c| {
            c.nats_url = seeds.clone();
            c.stream_replicas = 3;
            c.command_timeout = Duration::from_secs(10);
        })
        .await,
    );
    let js = env.store.jetstream().clone();
    replicas_current(&js).await;

    // A second gateway as its own process, on the seeds in another order,
    // with its own read model: half the clients use it.
    let data = env.config.data_dir.clone();
    let key = |f: &str| data.join(f).to_string_lossy().into_owned();
    let g2_dir = dir.path().join("g2");
    let g2_listen = format!("127.0.0.1:{}", free_port());
    let seeds_2 = nodes
        .iter()
        .rev()
        .map(|n| n.url())
        .collect::<Vec<_>>()
        .join(",");
    let g2_args = [
        "gateway",
        "--nats-url",
        &seeds_2,
        "--stream-replicas",
        "3",
        "--data-dir",
        &g2_dir.to_string_lossy(),
        "--index-key-file",
        &key("index.key"),
        "--data-key-file",
        &key("data.key"),
        "--listen",
        &g2_listen,
        // As the test environment's: the load comes from one address.
        "--rate-limit-ip",
        "100000000",
        "--rate-limit-account",
        "100000000",
    ];
    let _gateway_2 = Stopped(role(&g2_args, &dir.path().join("g2.log")));
    let g2 = format!("http://{g2_listen}");
    healthy(&env.http, &g2).await;

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let on = if w % 2 == 0 { env.url("") } else { g2.clone() };
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

    // 1. The event stream's leader freezes for 15 s, then goes on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let frozen = leader(&js).await;
    let pid = nix::unistd::Pid::from_raw(nodes[frozen].pid().unwrap() as i32);
    let freeze_at = start.elapsed();
    kill(pid, Signal::SIGSTOP).unwrap();
    tokio::time::sleep(FREEZE).await;
    let thaw_at = start.elapsed();
    kill(pid, Signal::SIGCONT).unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let thawed = start.elapsed();
    replicas_current(&js).await;

    // 2. Where network namespaces exist: the stream's leader (moved to
    //    node 2 first) is cut off from its peers and its clients for 12 s,
    //    still running, then the link comes back.
    let mut partition = None;
    if let Some(split) = &split {
        lead_from(&js, 2).await;
        let cut_at = start.elapsed();
        split.cut();
        // When the others elect a leader, seen from node 0: what the
        // broker takes, apart from what authd adds to it.
        let probe = async_nats::jetstream::new(async_nats::connect(nodes[0].url()).await.unwrap());
        let elected = tokio::spawn(async move {
            let cut = Instant::now();
            loop {
                let asked =
                    tokio::time::timeout(Duration::from_millis(500), events_cluster(&probe));
                if let Ok(Some(c)) = asked.await
                    && c.leader.is_some_and(|l| l != "n2")
                {
                    return cut.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        tokio::time::sleep(Duration::from_secs(12)).await;
        elected.abort();
        match elected.await {
            Ok(took) => eprintln!("the cut-off leader's peers elected another after {took:?}"),
            Err(_) => eprintln!("the cut-off leader's peers elected none in 12 s"),
        }
        let heal_at = start.elapsed();
        split.heal();
        tokio::time::sleep(Duration::from_secs(8)).await;
        partition = Some((cut_at, heal_at, start.elapsed()));
        replicas_current(&js).await;
    }

    // 3. The stream's leader is killed (SIGKILL: a crash), and started
    //    again 15 s later on its store.
    let crashed = leader(&js).await;
    let killed_at = start.elapsed();
    nodes[crashed].kill();
    tokio::time::sleep(FREEZE).await;
    let back_at = start.elapsed();
    nodes[crashed]
        .restart()
        .expect("the killed node starts again");
    replicas_current(&js).await;
    let caught_up = start.elapsed();

    // 4. Every broker in turn: lame duck mode, its exit, a restart, and
    //    its replicas current again before the next.
    let rolling_at = start.elapsed();
    for node in nodes.iter_mut() {
        let pid = nix::unistd::Pid::from_raw(node.pid().unwrap() as i32);
        kill(pid, Signal::SIGUSR2).unwrap();
        let gone = Instant::now();
        while kill(pid, None).is_ok() && gone.elapsed() < Duration::from_secs(40) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node.restart().expect("the node starts again");
        replicas_current(&js).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rolled = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let (_, warm_failed) = phase(&seen, "before the faults", Duration::ZERO, freeze_at);
    let (freeze_gap, _) = phase(&seen, "leader frozen 15 s", freeze_at, thawed);
    let cut = partition.map(|(cut_at, heal_at, healed)| {
        let (gap, _) = phase(&seen, "leader cut off 12 s", cut_at, healed);
        (cut_at, heal_at, gap)
    });
    let (kill_gap, _) = phase(&seen, "leader killed", killed_at, caught_up);
    let (rolling_gap, rolling_failed) = phase(&seen, "rolling restart", rolling_at, rolled);
    assert_eq!(warm_failed, 0, "failures before any fault");
    // Writes resume while the leader is still frozen: the clients of the
    // frozen node move to another within two unanswered pings (2 s apart;
    // at the default minute they waited for the thaw), and the stream
    // elects a new leader (5.1–11.5 s measured, BENCHMARKS.md).
    let resumed = |from: Duration, to: Duration| {
        seen.answers.iter().any(|a| {
            a.code == "ok"
                && a.op != "currentUser"
                && a.at > from + Duration::from_secs(1)
                && a.at < to
        })
    };
    assert!(
        resumed(freeze_at, thaw_at),
        "no write succeeded while the leader was frozen"
    );
    assert!(
        freeze_gap < FREEZE,
        "no write for {freeze_gap:?} around the freeze"
    );
    // When the leader is cut off but runs on, the others elect another
    // (printed above: ~9 s in one run) and clients move (writes resumed
    // 9.4 s and 12.8 s after the cut in two runs); the cut-off node's own writes were never
    // acknowledged and are dropped when it rejoins. Writes resume by the
    // heal at the latest; the safety checks below hold as for the rest.
    if let Some((cut_at, heal_at, gap)) = cut {
        let healed_by = heal_at.saturating_sub(cut_at) + Duration::from_secs(8);
        assert!(gap < healed_by, "no write for {gap:?} around the cut");
    }
    // A crash is noticed at once (the connections close), but a new leader
    // still waits for the election (7.1–10.7 s measured): writes resume
    // while the node is still down, and it catches up once back.
    assert!(
        resumed(killed_at, back_at),
        "no write succeeded while the leader was down"
    );
    assert!(
        kill_gap < FREEZE,
        "no write for {kill_gap:?} after the leader was killed"
    );
    // A lame-duck restart moves leaders and clients first: writes go on,
    // and few requests (none to a handful in tens of thousands in our runs)
    // are refused, each clearly (below). The goal is none: not yet.
    let rolling_answers = seen.answers.iter().filter(|a| a.at >= rolling_at).count();
    assert!(
        rolling_failed * 200 <= rolling_answers,
        "{rolling_failed} of {rolling_answers} requests failed during the rolling restart"
    );
    assert!(
        rolling_gap < Duration::from_secs(10),
        "no write for {rolling_gap:?} while rolling"
    );
    // Nothing else than success or a clear, retryable refusal, and each
    // answer within the command's deadline: never a hang.
    for a in &seen.answers {
        assert!(
            ["ok", "SERVICE_UNAVAILABLE"].contains(&a.code.as_str()),
            "{} answered {} at {:?}",
            a.op,
            a.code,
            a.at
        );
        assert!(
            a.took < Duration::from_secs(12),
            "{} took {:?}",
            a.op,
            a.took
        );
    }
    assert!(
        seen.registered.len() > 50,
        "too little load: {}",
        seen.registered.len()
    );

    // No acknowledged sign-up lost: each signs in (eight at a time).
    use futures::StreamExt as _;
    let refused: Vec<String> = futures::stream::iter(seen.registered.iter())
        .map(|email| {
            let env = env.clone();
            async move {
                let login = env.login(email, PASSWORD).await;
                (login["success"] != true).then(|| format!("{email}: {login}"))
            }
        })
        .buffer_unordered(8)
        .filter_map(|r| async move { r })
        .collect()
        .await;
    assert!(
        refused.is_empty(),
        "acknowledged sign-ups lost: {refused:?}"
    );
    // No rotated refresh token works again (a second use is reuse: refused).
    for token in seen.rotated.iter().take(50) {
        let again = env.refresh(token).await;
        assert_eq!(
            again["success"], false,
            "a rotated token worked again: {again}"
        );
    }
    // No address registered twice, and the read model is the log's.
    let last = env.last_seq().await;
    let mut applied = env.gateway.as_ref().unwrap().applied.clone();
    tokio::time::timeout(Duration::from_secs(30), applied.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();
    let path = authd_projections::resolve(&env.config.read_model_path());
    let db = rusqlite::Connection::open(&path).unwrap();
    let doubled: i64 = db
        .query_row(
            "SELECT count(*) FROM (SELECT email_normalized FROM customers
               GROUP BY project_id, email_normalized HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(doubled, 0, "an address was registered twice");
    let report = authd::verify::verify(&env.store, &env.config.read_model_path(), |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    // The second gateway's too, once it has caught up.
    healthy(&env.http, &g2).await;
    let report = authd::verify::verify(&env.store, &g2_dir.join("read-model.db"), |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "gateway 2: {:?}", report.drift);

    // What an operator saw: retries by cause (the conflict rate among
    // them), and the stream's leader as this process sees it now.
    let now_leading = format!("server=\"n{}\"", leader(&js).await);
    let mut shown = String::new();
    for _ in 0..50 {
        shown = reqwest::get(env.operator_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sample(&shown, "authd_stream_leader", &now_leading) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        sample(&shown, "authd_stream_leader", &now_leading),
        Some(1.0),
        "{now_leading}\n{shown}"
    );
    assert_eq!(sample(&shown, "authd_nats_connected", ""), Some(1.0));
    let commands: f64 = samples(&shown, "authd_commands_total")
        .map(|(_, v)| v)
        .sum();
    let retries: Vec<(&str, f64)> = samples(&shown, "authd_command_retries_total").collect();
    let conflicts = sample(&shown, "authd_command_retries_total", "cause=\"conflict\"");
    eprintln!(
        "{commands} commands; retries by cause: {retries:?}; conflict rate {:.4}",
        conflicts.unwrap_or(0.0) / commands.max(1.0)
    );
    // The freeze left appends unacknowledged: each was sent again.
    assert!(
        sample(
            &shown,
            "authd_command_retries_total",
            "cause=\"append_unacknowledged\""
        )
        .is_some_and(|n| n > 0.0),
        "{retries:?}"
    );
}

/// A process killed when the test ends, passed or not.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Until the gateway at `base` says it is connected and caught up.
async fn healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        let answer = http.get(format!("{base}/healthz")).send().await;
        if answer.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway at {base} never became healthy");
}

/// The Prometheus samples of `name`: each one's labels and value.
fn samples<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    text.lines().filter_map(move |l| {
        let rest = l.strip_prefix(name)?;
        let (labels, value) = rest.rsplit_once(' ')?;
        (labels.is_empty() || labels.starts_with('{')).then_some(())?;
        Some((labels, value.parse().ok()?))
    })
}

/// The value of the sample of `name` whose labels contain `label`.
fn sample(text: &str, name: &str, label: &str) -> Option<f64> {
    samples(text, name)
        .find(|(l, _)| l.contains(label))
        .map(|(_, v)| v)
}
