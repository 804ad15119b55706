//! `--cluster`: sign-ins, sign-ups, refreshes and `currentUser` on a
//! three-node JetStream cluster (every stream on three replicas) with two
//! gateways, against the same on one node (`authd dev` with its own
//! broker), in alternating slices of one run, as ratios. On one machine
//! the cluster's three brokers share its cores with everything else: the
//! ratio is what replication costs here, not what more machines would buy.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::{Dev, PASSWORD, Proc, Row, SLICES, Sample, drive_sample, free_port, start_dev};

/// The brokers, the second gateway, and the two gateways to send to.
pub(crate) struct Cluster {
    _brokers: Vec<Proc>,
    pub gateways: Vec<Arc<Dev>>,
}

fn nats_server(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("AUTHD_NATS_SERVER").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let tools = root.join(".tools/bin/nats-server");
    if tools.exists() {
        tools
    } else {
        "nats-server".into()
    }
}

/// Three routed nats-server nodes on loopback, then `authd dev` on them
/// (`--stream-replicas 3`) and a second `authd gateway` with its own read
/// model, sharing dev's index and data keys.
pub(crate) async fn start(authd: &Path, root: &Path, dir: &Path) -> anyhow::Result<Cluster> {
    let binary = nats_server(root);
    let (clients, routes): (Vec<u16>, Vec<u16>) =
        (0..3).map(|_| (free_port(), free_port())).unzip();
    let all = routes
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut brokers = Vec::new();
    for i in 0..3 {
        let store = dir.join(format!("n{i}"));
        std::fs::create_dir_all(&store)?;
        let conf = store.join("n.conf");
        std::fs::write(
            &conf,
            format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: {:?} }}\ncluster {{\n  name: bench\n  listen: 127.0.0.1:{}\n  routes: [{all}]\n}}\n",
                clients[i],
                store.display().to_string(),
                routes[i]
            ),
        )?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(store.join("nats-server.log"))?)
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        brokers.push(Proc(child));
    }
    let seeds = clients
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::create_dir_all(dir.join("g1"))?;
    let first = start_dev(
        authd,
        &dir.join("g1"),
        &[
            "--nats-url".into(),
            seeds.clone(),
            "--stream-replicas".into(),
            "3".into(),
        ],
    )
    .await?;
    let port = free_port();
    let g2 = dir.join("g2");
    std::fs::create_dir_all(&g2)?;
    let child = Command::new(authd)
        .args(["gateway", "--nats-url", &seeds, "--stream-replicas", "3"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(g2.join("data"))
        .arg("--index-key-file")
        .arg(first.data.join("index.key"))
        .arg("--data-key-file")
        .arg(first.data.join("data.key"))
        .args([
            "--rate-limit-ip",
            "100000000",
            "--rate-limit-account",
            "100000000",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(g2.join("authd.log"))?)
        .spawn()?;
    let pid = child.id();
    let second = Dev {
        _proc: Proc(child),
        pid,
        url: format!("http://127.0.0.1:{port}/graphql/public"),
        key: first.key.clone(),
        admin_key: first.admin_key.clone(),
        operator_key: first.operator_key.clone(),
        nats_url: first.nats_url.clone(),
        data: g2.join("data"),
        http: first.http.clone(),
    };
    // Up once it knows the dev project.
    let mut up = false;
    for _ in 0..600 {
        if second
            .gql(None, "{ currentUser { id } }", json!({}))
            .await
            .is_ok_and(|v| v["errors"].is_null())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        bail!(
            "the second gateway did not start; see {}",
            g2.join("authd.log").display()
        );
    }
    Ok(Cluster {
        _brokers: brokers,
        gateways: vec![Arc::new(first), Arc::new(second)],
    })
}

/// One of the four operations, done by worker `i` against `to`.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Login,
    Register,
    Refresh,
    CurrentUser,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Login => "customerLogin",
            Op::Register => "customerRegister",
            Op::Refresh => "customerRefreshToken",
            Op::CurrentUser => "currentUser",
        }
    }
}

/// What one stack's workers hold: an account each, its access token and
/// its newest refresh token.
struct Stack {
    gateways: Vec<Arc<Dev>>,
    accounts: Vec<(String, String, Mutex<String>)>,
    fresh: AtomicU64,
    tag: &'static str,
}

impl Stack {
    async fn new(
        gateways: Vec<Arc<Dev>>,
        workers: usize,
        tag: &'static str,
    ) -> anyhow::Result<Self> {
        let mut accounts = Vec::new();
        for i in 0..workers {
            let email = format!("{tag}{i}@cluster.bench.example");
            let (access, refresh) = crate::register_and_login(&gateways[0], &email).await?;
            accounts.push((email, access, Mutex::new(refresh)));
        }
        Ok(Self {
            gateways,
            accounts,
            fresh: AtomicU64::new(0),
            tag,
        })
    }

    async fn once(&self, op: Op, i: usize) -> bool {
        let to = &self.gateways[i % self.gateways.len()];
        let (email, access, refresh) = &self.accounts[i];
        let answer = match op {
            Op::Login => {
                let q = "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { success } }";
                to.gql(None, q, json!({ "e": email, "p": PASSWORD })).await
            }
            Op::Register => {
                let n = self.fresh.fetch_add(1, Ordering::Relaxed);
                let e = format!("{}-new{n}@cluster.bench.example", self.tag);
                let q = "mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) { success } }";
                to.gql(None, q, json!({ "e": e, "p": PASSWORD })).await
            }
            Op::Refresh => {
                let token = refresh.lock().unwrap().clone();
                let q = "mutation F($t: String!) { customerRefreshToken(refreshToken: $t) { success refreshToken } }";
                let v = to.gql(None, q, json!({ "t": token })).await;
                if let Ok(v) = &v
                    && let Some(next) = v["data"]["customerRefreshToken"]["refreshToken"].as_str()
                {
                    *refresh.lock().unwrap() = next.to_string();
                }
                v
            }
            Op::CurrentUser => {
                to.gql(Some(access), "{ currentUser { id } }", json!({}))
                    .await
            }
        };
        let Ok(v): anyhow::Result<Value> = answer else {
            return false;
        };
        match op {
            Op::CurrentUser => v["data"]["currentUser"]["id"].is_string(),
            _ => v["data"][op.name()]["success"] == true,
        }
    }
}

/// The four figures on the cluster, each against one node in the same run.
pub(crate) async fn figures(
    single: Vec<Arc<Dev>>,
    cluster: &Cluster,
    duration: Duration,
    cores: usize,
) -> anyhow::Result<(Vec<Row>, u64)> {
    let workers = 16;
    let one = Arc::new(Stack::new(single, workers, "one").await?);
    let three = Arc::new(Stack::new(cluster.gateways.clone(), workers, "three").await?);
    let mut rows = Vec::new();
    let mut errors = 0;
    for op in [Op::Login, Op::Register, Op::Refresh, Op::CurrentUser] {
        // Sign-ins and sign-ups are argon2-bound: two per core keep every
        // core busy; the others want more in flight.
        let concurrency = match op {
            Op::Login | Op::Register => 2 * cores,
            _ => workers,
        };
        let (mut base, mut on_cluster) = (Sample::default(), Sample::default());
        for _ in 0..SLICES {
            for (stack, into) in [(&one, &mut base), (&three, &mut on_cluster)] {
                let stack = stack.clone();
                let work = Arc::new(move |i: usize| {
                    let stack = stack.clone();
                    async move { stack.once(op, i).await }
                });
                into.add(drive_sample(concurrency, duration / SLICES, work).await);
            }
        }
        errors += base.errors + on_cluster.errors;
        let (base, on_cluster) = (base.measured(), on_cluster.measured());
        rows.push(Row {
            figure: format!(
                "{}/s on 3 brokers (R3), 2 gateways (concurrency {concurrency})",
                op.name()
            ),
            value: format!("{:.0}", on_cluster.per_sec),
            latency: on_cluster.latency(),
            baseline: format!("{:.0} on one node ({})", base.per_sec, base.latency()),
            ratio: format!("{:.2}", on_cluster.per_sec / base.per_sec),
            target: "report (replication's cost on 2 cores)".into(),
        });
    }
    Ok((rows, errors))
}
