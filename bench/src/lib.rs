//! `authd-bench`: starts a real `authd dev`, drives it over HTTP from this
//! separate process, and prints each figure with its ratio to a baseline
//! measured in the same run on the same machine. `--quick` runs the same
//! harness briefly (CI runs it so it never rots); it asserts nothing about
//! speed.

mod audit_log;
mod cluster;
mod customer_data;
mod erasure;
mod feed;
mod reads;
mod refresh;
mod storefront;
mod webhook;

use std::{
    future::IntoFuture,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use argon2::{Algorithm, Argon2, Block, Params, Version, password_hash::Output};
use authd_events::{
    Actor, AggregateKind, AggregateSubject, CustomerEvent, CustomerRegistered, Event, EventMessage,
    LoginMethod, MessageMeta, Personal, RecordedRequest, SessionEvent, SessionStarted,
};
use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(Parser, Debug, Clone, Default)]
#[command(
    about = "authd benchmarks: figures and their ratios to baselines measured in the same run"
)]
pub struct Args {
    /// A short run that checks the harness works; its numbers mean little.
    #[arg(long)]
    pub quick: bool,
    /// The authd binary to benchmark [default: build and use target/release/authd].
    #[arg(long)]
    pub authd: Option<PathBuf>,
    /// Seconds per throughput measurement.
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Events for the replay figure.
    #[arg(long)]
    pub replay_events: Option<u64>,
    /// Customers (each with a session) for the memory figure.
    #[arg(long)]
    pub customers: Option<u64>,
    /// Keep the run's data (authd dev's data dir, with its NATS store) in
    /// this new directory instead of a deleted temp dir, for profiling.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Measure only the two sign-in figures (`customerLogin` and
    /// `customerAccessTokenCreate` against raw argon2id), for A/B runs of
    /// the login path.
    #[arg(long)]
    pub logins_only: bool,
    /// Measure only the Storefront customer's data (the account page's
    /// query, paging many orders), for A/B runs of that path.
    #[arg(long)]
    pub customer_data_only: bool,
    /// Measure only `customerRefreshToken` with the projection's and the
    /// feed's lag under it, for A/B runs of the write path.
    #[arg(long)]
    pub refresh_only: bool,
    /// Measure only `currentUser` and the Storefront's `customer` against
    /// bare axum, for A/B runs of the read path (with `--customers`, after
    /// publishing that many).
    #[arg(long)]
    pub reads_only: bool,
    /// Measure only what reads the whole log: the replay against direct
    /// inserts, `auditLog` securityOnly over it, and `authd verify` (for
    /// A/B runs of replay and verify; `--replay-events` sets the size).
    #[arg(long)]
    pub log_only: bool,
    /// With the login figures, also deliver their events to a webhook
    /// receiver in this process and report the feed's and the webhooks'
    /// latency under that load (the deliveries cost the write path: leave
    /// it off for A/B runs of logins).
    #[arg(long)]
    pub webhooks: bool,
    /// Measure only sign-ins, sign-ups, refreshes and `currentUser` on a
    /// three-node R3 cluster with two gateways, against one node in the
    /// same run (ratios).
    #[arg(long)]
    pub cluster: bool,
    /// An extra argument for `authd dev` (repeat it), e.g. `--authd-arg=--audit-index`.
    #[arg(long = "authd-arg", allow_hyphen_values = true)]
    pub authd_args: Vec<String>,
}

const PASSWORD: &str = "benchmark passphrase 1";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first so `authd dev` stops its nats-server too.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Throughput and latency of one measurement.
struct Measured {
    per_sec: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    errors: u64,
}

impl Measured {
    fn from(latencies: &mut [Duration], elapsed: Duration, errors: u64) -> Self {
        latencies.sort();
        let pick = |q: f64| {
            if latencies.is_empty() {
                Duration::ZERO
            } else {
                latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]
            }
        };
        Self {
            per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: pick(0.50),
            p95: pick(0.95),
            p99: pick(0.99),
            errors,
        }
    }

    fn latency(&self) -> String {
        format!(
            "{:.1} / {:.1} / {:.1} ms",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99)
        )
    }
}

/// "slices 98–114/s": the range of a baseline's slices.
fn spread(rates: &[f64]) -> String {
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    format!("slices {min:.0}–{max:.0}/s")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One measured stretch of load: every successful operation's latency.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: u64,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
    }

    fn measured(mut self) -> Measured {
        Measured::from(&mut self.latencies, self.elapsed, self.errors)
    }
}

/// How many alternating slices a figure and its baseline are measured in:
/// this VM's speed drifts by a third within the hour, and alternating
/// short slices lets the drift hit both sides of a ratio alike.
const SLICES: u32 = 5;

/// Runs `concurrency` workers for `duration`; each call of `work(worker)`
/// is one timed operation returning whether it succeeded.
async fn drive_sample<F, Fut>(concurrency: usize, duration: Duration, work: Arc<F>) -> Sample
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let work = work.clone();
            tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if work(i).await {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    Sample {
        latencies: all,
        elapsed: start.elapsed(),
        errors,
    }
}

/// Raw argon2id verifications per second, one thread per core, with the
/// parameters `authd` hashes with: the hash itself and a constant-time
/// comparison, each thread reusing its working memory (as `authd`'s hashing
/// threads do), so nothing but argon2id is measured.
fn argon2_baseline(duration: Duration) -> f64 {
    let params = Params::new(19_456, 2, 1, None).unwrap();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = b"saltsaltsaltsalt";
    let mut expected = [0u8; 32];
    argon2
        .hash_password_into(PASSWORD.as_bytes(), salt, &mut expected)
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let start = Instant::now();
    let handles: Vec<_> = (0..cores)
        .map(|_| {
            let (argon2, params) = (argon2.clone(), params.clone());
            std::thread::spawn(move || {
                let mut memory = vec![Block::default(); params.block_count()];
                let mut n = 0u64;
                while start.elapsed() < duration {
                    let mut out = [0u8; 32];
                    argon2
                        .hash_password_into_with_memory(
                            PASSWORD.as_bytes(),
                            salt,
                            &mut out,
                            &mut memory,
                        )
                        .unwrap();
                    assert!(Output::new(&out).unwrap() == Output::new(&expected).unwrap());
                    n += 1;
                }
                n
            })
        })
        .collect();
    let n: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    n as f64 / start.elapsed().as_secs_f64()
}

struct Dev {
    _proc: Proc,
    pid: u32,
    url: String,
    key: String,
    admin_key: String,
    /// The operator key (dev writes it): any project's admin API.
    operator_key: Option<String>,
    nats_url: String,
    data: PathBuf,
    http: reqwest::Client,
}

impl Dev {
    async fn gql(&self, token: Option<&str>, query: &str, vars: Value) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(&self.url)
            .header("x-api-key", &self.key)
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Ok(req.send().await?.json().await?)
    }
}

async fn start_dev(authd: &Path, dir: &Path, extra: &[String]) -> anyhow::Result<Dev> {
    let port = free_port();
    let data = dir.join("data");
    let log = std::fs::File::create(dir.join("authd.log"))?;
    let child = Command::new(authd)
        .args([
            "dev",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .args([
            "--rate-limit-ip",
            "100000000",
            "--rate-limit-account",
            "100000000",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot run {}", authd.display()))?;
    let pid = child.id();
    let proc = Proc(child);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let keys_file = data.join("dev-keys.json");
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&keys_file)
            && let Ok(keys) = serde_json::from_str::<Value>(&text)
        {
            return Ok(Dev {
                _proc: proc,
                pid,
                url: keys["graphqlUrl"].as_str().unwrap().to_string(),
                key: keys["publicApiKey"].as_str().unwrap().to_string(),
                admin_key: keys["adminKey"].as_str().unwrap().to_string(),
                operator_key: keys["operatorKey"].as_str().map(str::to_string),
                nats_url: keys["natsUrl"].as_str().unwrap().to_string(),
                data,
                http,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "authd dev did not start; see {}",
        dir.join("authd.log").display()
    )
}

async fn register_and_login(dev: &Dev, email: &str) -> anyhow::Result<(String, String)> {
    let q = "mutation R($email: String!, $password: String!) { customerRegister(email: $email, password: $password) { success accessToken refreshToken errors { code } } }";
    let r = dev
        .gql(None, q, json!({ "email": email, "password": PASSWORD }))
        .await?;
    let r = &r["data"]["customerRegister"];
    if r["success"] != true {
        bail!("registration failed: {r}");
    }
    Ok((
        r["accessToken"].as_str().unwrap().into(),
        r["refreshToken"].as_str().unwrap().into(),
    ))
}

/// Publishes `customers` synthetic customers, each with a session, straight
/// to the event stream (bypassing argon2: this is about the read side).
/// A NATS client for `url`, with the credentials it carries (`authd dev`'s
/// broker admits only its own user).
async fn connect(url: &str) -> anyhow::Result<async_nats::Client> {
    let (url, options) = authd_events::nats_url::connect_options(url);
    Ok(options.connect(url).await?)
}

/// The key-encryption key of the authd dev in `dir` (its `data.key`), if
/// it seals personal data: then so do the synthetic events.
fn dev_kek(dir: &Path) -> Option<Vec<u8>> {
    let text = std::fs::read_to_string(dir.join("data").join("data.key")).ok()?;
    hex::decode(text.trim()).ok()
}

/// One synthetic customer in this many of `p_replay` also failed a
/// sign-in: the project `securityOnly` is measured over.
const REPLAY_FAILED_LOGIN_EVERY: u64 = 200;

async fn publish_synthetic(
    nats_url: &str,
    tenant: &str,
    customers: u64,
    kek: Option<&[u8]>,
    failed_login_every: u64,
) -> anyhow::Result<()> {
    use authd_events::data_keys::{DataKey, DataKeys, ensure_stream};
    let client = connect(nats_url).await?;
    let js = async_nats::jetstream::new(client);
    let keys = match kek {
        Some(kek) => {
            ensure_stream(&js, 1).await?;
            Some(DataKeys::new(js.clone(), kek))
        }
        None => None,
    };
    let mut acks = futures::stream::FuturesUnordered::new();
    for i in 0..customers {
        let cid = format!("c_bench{i:09}");
        let sid = format!("s_bench{i:09}");
        let meta = |id: &str| MessageMeta {
            tenant: tenant.into(),
            aggregate_id: id.into(),
            time: authd_events::now_millis(),
            actor: Actor::System,
            request: RecordedRequest {
                request_id: format!("bench-{i}"),
                ip: Some(Personal::plain(format!("203.0.113.{}", i % 250))),
                user_agent: Some(Personal::plain("authd-bench/1.0")),
            },
            command_id: format!("bench-{i}"),
        };
        let mut customer = EventMessage::new(
            meta(&cid),
            vec![Event::Customer(CustomerEvent::Registered(CustomerRegistered {
                email: Personal::plain(format!("user{i}@{tenant}.example")),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo".into(),
                email_verified: false,
            }))],
        );
        // A failed sign-in now and then: what `securityOnly` looks for.
        let mut failed = (failed_login_every > 0 && i % failed_login_every == 0).then(|| {
            EventMessage::new(
                meta(&cid),
                vec![Event::Customer(CustomerEvent::LoginFailed(
                    authd_events::LoginFailed {
                        method: LoginMethod::Password,
                        reason: authd_events::LoginFailureReason::WrongPassword,
                    },
                ))],
            )
        });
        let mut session = EventMessage::new(
            meta(&sid),
            vec![Event::Session(SessionEvent::Started(SessionStarted {
                customer_id: cid.clone(),
                method: LoginMethod::Password,
                refresh_token_hash: [7; 32],
                expires_at: authd_events::now_millis() + 86_400_000,
            }))],
        );
        if let Some(keys) = &keys {
            // The customer's own key (made up: only a benchmark's), then
            // their events sealed under it, as services write them.
            let mut key = [0x5a; 32];
            key[..8].copy_from_slice(&i.to_le_bytes());
            let (subject, wrapped) = keys.wrapped(tenant, &cid, &key)?;
            acks.push(js.publish(subject, wrapped.into()).await?.into_future());
            let sealing = DataKey::from_bytes(tenant, &cid, &key);
            sealing.seal_message(&mut customer);
            sealing.seal_message(&mut session);
            if let Some(f) = &mut failed {
                sealing.seal_message(f);
            }
        }

        let mut messages = vec![(AggregateKind::Customer, &cid, customer)];
        messages.extend(failed.map(|f| (AggregateKind::Customer, &cid, f)));
        messages.push((AggregateKind::Session, &sid, session));
        for (kind, id, msg) in messages {
            let subject = AggregateSubject::new(tenant, kind, id.as_str())?.to_string();
            acks.push(
                js.publish(subject, msg.encode().into())
                    .await?
                    .into_future(),
            );
        }
        while acks.len() > 4096 {
            acks.next().await.unwrap()?;
        }
    }
    while let Some(ack) = acks.next().await {
        ack?;
    }
    Ok(())
}

/// Publishes `customers` synthetic customers with sessions and waits until
/// authd dev's read model has them.
async fn populate(dev: &Dev, dir: &Path, customers: u64) -> anyhow::Result<()> {
    eprintln!("publishing {customers} synthetic customers with sessions…");
    publish_synthetic(
        &dev.nats_url,
        "p_bench",
        customers,
        dev_kek(dir).as_deref(),
        0,
    )
    .await?;
    let last = stream_last(&dev.nats_url).await?;
    let db = dev.data.join("read-model.db");
    let caught_up = Instant::now();
    while checkpoint(&db) < last {
        if caught_up.elapsed() > Duration::from_secs(600) {
            bail!("read model did not catch up");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn checkpoint(db: &Path) -> u64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT seq FROM checkpoints WHERE name = 'read_model'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map_or(0, |s| s as u64)
}

async fn stream_last(nats_url: &str) -> anyhow::Result<u64> {
    let js = async_nats::jetstream::new(connect(nats_url).await?);
    let mut stream = js.get_stream("AUTH_EVENTS").await?;
    Ok(stream.info().await?.state.last_sequence)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// `authd bench-baseline` of the build measured (with `nats_url`, the
/// write path's floor too), and its URL once it answers.
async fn start_baseline(authd: &Path, nats_url: Option<&str>) -> anyhow::Result<(Proc, String)> {
    let port = free_port();
    let mut command = Command::new(authd);
    command.args(["bench-baseline", "--listen", &format!("127.0.0.1:{port}")]);
    if let Some(url) = nats_url {
        command.args(["--nats-url", url]);
    }
    let proc = Proc(command.stdout(Stdio::null()).spawn()?);
    let url = format!("http://127.0.0.1:{port}/");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(&url).send().await.is_ok() {
            return Ok((proc, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("authd bench-baseline did not start")
}

/// One line of the table: a figure, its latency, its baseline and ratio.
#[derive(Debug, Clone)]
pub struct Row {
    pub figure: String,
    pub value: String,
    pub latency: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub cores: usize,
    pub quick: bool,
    pub rows: Vec<Row>,
    /// Failed operations per driven figure (login, currentUser, refresh).
    pub errors: Vec<(&'static str, u64)>,
}

/// Runs every figure and returns the table; `print` writes it out.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let secs = args.seconds.unwrap_or(if args.quick { 2 } else { 10 });
    let duration = Duration::from_secs(secs);
    let replay_events = args
        .replay_events
        .unwrap_or(if args.quick { 10_000 } else { 1_000_000 });
    let customers = args
        .customers
        .unwrap_or(if args.quick { 2_000 } else { 100_000 });
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let authd = match args.authd {
        Some(p) => p,
        None => {
            eprintln!("building authd (release)…");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .current_dir(&root)
                .args(["build", "--release", "--locked", "--bin", "authd"])
                .status()?;
            anyhow::ensure!(ok.success(), "cargo build failed");
            root.join("target/release/authd")
        }
    };
    let (_temp, dir) = match &args.keep {
        Some(keep) => {
            std::fs::create_dir(keep)
                .with_context(|| format!("cannot create {}", keep.display()))?;
            (None, keep.clone())
        }
        None => {
            let temp = tempfile::tempdir()?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let mut rows = Vec::new();

    let dev = Arc::new(start_dev(&authd, dir.as_path(), &args.authd_args).await?);
    eprintln!("authd dev up at {}", dev.url);
    let many_orders = if args.quick { 500 } else { 10_000 };
    if args.customer_data_only {
        let (rows, e) = customer_data::figures(&dev, duration / SLICES, many_orders).await?;
        return Ok(Report {
            cores,
            quick: args.quick,
            rows,
            errors: vec![("account page", e)],
        });
    }

    if args.cluster {
        let cluster = cluster::start(&authd, &root, &dir.join("cluster")).await?;
        eprintln!(
            "cluster up: gateways at {} and {}",
            cluster.gateways[0].url, cluster.gateways[1].url
        );
        let (rows, e) = cluster::figures(vec![dev.clone()], &cluster, duration, cores).await?;
        return Ok(Report {
            cores,
            quick: args.quick,
            rows,
            errors: vec![("cluster figures", e)],
        });
    }

    if args.log_only {
        let db = dev.data.join("read-model.db");
        let rows = log_figures(&authd, &dev, &dir, &db, replay_events, customers).await?;
        return Ok(Report {
            cores,
            quick: args.quick,
            rows,
            errors: Vec::new(),
        });
    }

    if args.refresh_only {
        let (rows, refresh, floor) = refresh::figures(&authd, &dev, duration).await?;
        return Ok(Report {
            cores,
            quick: args.quick,
            rows,
            errors: vec![
                ("refresh", refresh.errors),
                ("write-path floor", floor.errors),
            ],
        });
    }

    if args.reads_only {
        // With `--customers`, measured among that many (`currentUser` at a
        // million against at a hundred thousand).
        if let Some(customers) = args.customers {
            populate(&dev, &dir, customers).await?;
        }
        let (mut rows, reads, shop) = reads::figures(&authd, &dev, duration / SLICES).await?;
        if let Some(customers) = args.customers {
            for row in &mut rows {
                row.figure = format!("{}, among {customers} customers", row.figure);
            }
        }
        return Ok(Report {
            cores,
            quick: args.quick,
            rows,
            errors: vec![("currentUser", reads.errors), ("customer", shop.errors)],
        });
    }

    // customerLogin at 2 × cores against raw argon2id verifications (authd
    // idle meanwhile), alternating.
    let users = 2 * cores;
    for i in 0..users {
        register_and_login(&dev, &format!("login{i}@bench.example")).await?;
    }
    let d = dev.clone();
    let login_work = Arc::new(move |i| {
        let d = d.clone();
        async move {
            let q = "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { success } }";
            let r = d
                .gql(
                    None,
                    q,
                    json!({ "e": format!("login{i}@bench.example"), "p": PASSWORD }),
                )
                .await;
            matches!(r, Ok(v) if v["data"]["customerLogin"]["success"] == true)
        }
    });
    let hooks = match args.webhooks {
        true => {
            let stop = Arc::new(AtomicBool::new(false));
            let feed = tokio::spawn(feed::sample(dev.nats_url.clone(), stop.clone()));
            let receiver = webhook::start(&dev, &["customer.login.*", "session.*"]).await?;
            Some((stop, feed, receiver))
        }
        false => None,
    };
    eprintln!("customerLogin and raw argon2id ({cores} threads), alternating in {SLICES} slices…");
    let slice = duration / SLICES;
    let (mut login, mut argon_rates) = (Sample::default(), Vec::new());
    for _ in 0..SLICES {
        argon_rates.push(tokio::task::spawn_blocking(move || argon2_baseline(slice)).await?);
        login.add(drive_sample(2 * cores, slice, login_work.clone()).await);
    }
    let login = login.measured();
    if let Some((stop, feed, receiver)) = hooks {
        // Deliveries under way at the end arrive a moment later.
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.store(true, Ordering::Relaxed);
        let mut feed_lags = feed.await??;
        let mut hook_lags = receiver.take();
        for (figure, lags) in [
            (
                "feed latency under login load (event → authd.audit subscriber)",
                &mut feed_lags,
            ),
            (
                "webhook latency under login load (event → receiver on loopback)",
                &mut hook_lags,
            ),
        ] {
            let measured = Measured::from(lags, duration, 0);
            rows.push(Row {
                figure: figure.into(),
                value: format!("{} events", lags.len()),
                latency: measured.latency(),
                baseline: "—".into(),
                ratio: "—".into(),
                target: "p99 < 50 ms".into(),
            });
        }
    }
    let argon = argon_rates.iter().sum::<f64>() / argon_rates.len() as f64;
    rows.push(Row {
        figure: format!("customerLogin/s (concurrency {})", 2 * cores),
        value: format!("{:.1}", login.per_sec),
        latency: login.latency(),
        baseline: format!("{argon:.1} argon2id/s ({})", spread(&argon_rates)),
        ratio: format!("{:.2}", login.per_sec / argon),
        target: "ratio ≥ 0.90".into(),
    });

    // The Storefront's customerAccessTokenCreate, the same way.
    for i in 0..users {
        storefront::create_and_sign_in(&dev, &storefront::email(i)).await?;
    }
    let d = dev.clone();
    let token_work = Arc::new(move |i| {
        let d = d.clone();
        async move {
            storefront::sign_in(&d, &storefront::email(i))
                .await
                .is_some()
        }
    });
    eprintln!("customerAccessTokenCreate and raw argon2id, alternating in {SLICES} slices…");
    let (mut tokens, mut argon_rates) = (Sample::default(), Vec::new());
    for _ in 0..SLICES {
        argon_rates.push(tokio::task::spawn_blocking(move || argon2_baseline(slice)).await?);
        tokens.add(drive_sample(2 * cores, slice, token_work.clone()).await);
    }
    let tokens = tokens.measured();
    let argon = argon_rates.iter().sum::<f64>() / argon_rates.len() as f64;
    rows.push(Row {
        figure: format!("customerAccessTokenCreate/s (concurrency {})", 2 * cores),
        value: format!("{:.1}", tokens.per_sec),
        latency: tokens.latency(),
        baseline: format!("{argon:.1} argon2id/s ({})", spread(&argon_rates)),
        ratio: format!("{:.2}", tokens.per_sec / argon),
        target: "ratio ≥ 0.90".into(),
    });

    // customerRegister, the same way: a new address each time (one hash,
    // the claim, the customer, a session and, sealing, a new data key).
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let d = dev.clone();
    let register_work = Arc::new(move |_| {
        let (d, next) = (d.clone(), next.clone());
        async move {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let q = "mutation R($e: String!, $p: String!) { customerRegister(email: $e, password: $p) { success } }";
            let r = d
                .gql(
                    None,
                    q,
                    json!({ "e": format!("new{n}@bench.example"), "p": PASSWORD }),
                )
                .await;
            matches!(r, Ok(v) if v["data"]["customerRegister"]["success"] == true)
        }
    });
    eprintln!("customerRegister and raw argon2id, alternating in {SLICES} slices…");
    let (mut registers, mut argon_rates) = (Sample::default(), Vec::new());
    for _ in 0..SLICES {
        argon_rates.push(tokio::task::spawn_blocking(move || argon2_baseline(slice)).await?);
        registers.add(drive_sample(2 * cores, slice, register_work.clone()).await);
    }
    let registers = registers.measured();
    let argon = argon_rates.iter().sum::<f64>() / argon_rates.len() as f64;
    rows.push(Row {
        figure: format!("customerRegister/s (concurrency {})", 2 * cores),
        value: format!("{:.1}", registers.per_sec),
        latency: registers.latency(),
        baseline: format!("{argon:.1} argon2id/s ({})", spread(&argon_rates)),
        ratio: format!("{:.2}", registers.per_sec / argon),
        target: "ratio ≥ 0.80 (and within 5 % of the build before sealing: BENCHMARKS.md)".into(),
    });

    // Both pay one argon2id hash; what registering adds (the claim, a data
    // key, three messages and their projections) shows here.
    rows.push(Row {
        figure: "customerRegister/s ÷ customerLogin/s".into(),
        value: format!("{:.1} / {:.1}", registers.per_sec, login.per_sec),
        latency: "—".into(),
        baseline: "customerLogin/s (same run)".into(),
        ratio: format!("{:.2}", registers.per_sec / login.per_sec),
        target: "ratio ≥ 0.95".into(),
    });
    let mut errors = vec![
        ("login", login.errors),
        ("customerAccessTokenCreate", tokens.errors),
        ("customerRegister", registers.errors),
    ];
    if args.logins_only {
        return Ok(Report {
            cores,
            quick: args.quick,
            rows,
            errors,
        });
    }

    let (read_rows, reads, shop) = reads::figures(&authd, &dev, slice).await?;
    rows.extend(read_rows);

    let (data_rows, data_errors) = customer_data::figures(&dev, slice, many_orders).await?;
    rows.extend(data_rows);
    errors.push(("account page", data_errors));
    // The audit index is on in `authd dev`, unless asked off.
    if !args
        .authd_args
        .iter()
        .any(|a| a.contains("audit-index=false"))
    {
        let audited = if args.quick { 300 } else { 10_000 };
        rows.push(audit_log::figure(&dev, audited).await?);
    }
    let erased = if args.quick { 5 } else { 200 };
    rows.push(erasure::figure(&dev, erased).await?);

    // customerRefreshToken at 16, with projection lag sampled meanwhile.
    let (refresh_rows, refresh, floor) = refresh::figures(&authd, &dev, duration).await?;
    rows.extend(refresh_rows);
    let db = dev.data.join("read-model.db");

    // Memory of authd dev holding N customers and sessions.
    populate(&dev, &dir, customers).await?;
    let rss = rss_kib(dev.pid);
    rows.push(Row {
        figure: format!("resident memory, {customers} customers + sessions"),
        value: format!("{:.1} MB", rss as f64 / 1024.0),
        latency: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≤ 150 MB at 100,000; ≤ 300 MB a role at 1,000,000".into(),
    });

    // Replay into SQLite vs inserting the same rows directly (`--replay-events
    // 0` leaves it out: the rows would not be the events' count).
    if replay_events > 0 {
        rows.extend(log_figures(&authd, &dev, &dir, &db, replay_events, customers).await?);
    }

    errors.extend([
        ("currentUser", reads.errors),
        ("customer", shop.errors),
        ("refresh", refresh.errors),
        ("write-path floor", floor.errors),
    ]);
    Ok(Report {
        cores,
        quick: args.quick,
        rows,
        errors,
    })
}

/// The figures that read the whole log: the replay, `auditLog`
/// securityOnly over the replay's project, and `authd verify`.
async fn log_figures(
    authd: &Path,
    dev: &Dev,
    dir: &Path,
    db: &Path,
    replay_events: u64,
    customers: u64,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = vec![replay(authd, dev, dir, db, replay_events, customers).await?];
    // The replay waited for authd dev's audit index to hold `p_replay`.
    if replay_events > 2 * customers {
        let events = (replay_events - 2 * customers) / 2;
        let events = 2 * events + events.div_ceil(REPLAY_FAILED_LOGIN_EVERY);
        rows.push(audit_log::security_figure(dev, "p_replay", events).await?);
    }
    rows.push(verify(authd, dev, dir, db).await?);
    Ok(rows)
}

/// The replay figure: publishes synthetic events up to `replay_events`,
/// waits for authd dev to apply them, then times `authd replay` of the whole
/// stream against inserting the same rows directly.
/// `authd verify` against authd dev's live read model (idle, caught up
/// by the replay figure): the whole log replayed and every table compared.
async fn verify(authd: &Path, dev: &Dev, dir: &Path, db: &Path) -> anyhow::Result<Row> {
    let total = stream_last(&dev.nats_url).await?;
    let t = Instant::now();
    let status = Command::new(authd)
        .args(["verify", "--nats-url", &dev.nats_url, "--read-model"])
        .arg(db)
        .arg("--data-key-file")
        .arg(dir.join("data").join("data.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let secs = t.elapsed().as_secs_f64();
    // Drift is a finding, not a reason to lose the other rows.
    let outcome = if status.success() {
        "no drift".to_string()
    } else {
        format!("DRIFT or failure, exit {:?}", status.code())
    };
    Ok(Row {
        figure: format!("authd verify of {total} events ({outcome})"),
        value: format!("{secs:.1} s"),
        latency: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "< 20 s at 1M events".into(),
    })
}

async fn replay(
    authd: &Path,
    dev: &Dev,
    dir: &Path,
    db: &Path,
    replay_events: u64,
    customers: u64,
) -> anyhow::Result<Row> {
    if replay_events > 2 * customers {
        eprintln!("publishing more synthetic events for replay…");
        publish_synthetic(
            &dev.nats_url,
            "p_replay",
            (replay_events - 2 * customers) / 2,
            dev_kek(dir).as_deref(),
            REPLAY_FAILED_LOGIN_EVERY,
        )
        .await?;
    }
    let total = stream_last(&dev.nats_url).await?;
    // Let authd dev's own projection (and its audit index, when on) finish
    // first, so the replay does not share the machine with them.
    let audit_db = authd_projections::audit_path(db);
    let caught_up = Instant::now();
    while checkpoint(db) < total || (audit_db.exists() && checkpoint(&audit_db) < total) {
        if caught_up.elapsed() > Duration::from_secs(600) {
            bail!("read model did not catch up");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = dir.join("replayed.db");
    let t = Instant::now();
    let status = Command::new(authd)
        .args(["replay", "--nats-url", &dev.nats_url, "--out"])
        .arg(&out)
        // authd dev's key-encryption key: the replay opens what is sealed.
        .arg("--data-key-file")
        .arg(dir.join("data").join("data.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "authd replay failed");
    let replay_secs = t.elapsed().as_secs_f64();
    let direct_secs = direct_insert(&out, &dir.join("direct.db"))?;
    let (replay_rate, direct_rate) = (total as f64 / replay_secs, total as f64 / direct_secs);
    Ok(Row {
        figure: format!("replay of {total} events into SQLite"),
        value: format!("{replay_rate:.0} events/s"),
        latency: "—".into(),
        baseline: format!("{direct_rate:.0} rows/s direct"),
        ratio: format!("{:.2}", replay_rate / direct_rate),
        target: "ratio ≥ 0.70".into(),
    })
}

/// Seconds to insert the rows of `replayed` into a fresh file with the same
/// schema, opened the way a rebuild opens its file, in transactions of the
/// rebuild's size, and turned into a WAL file at the end as a rebuild's is:
/// everything a replay does but reading and applying events.
fn direct_insert(replayed: &Path, target: &Path) -> anyhow::Result<f64> {
    let src = rusqlite::Connection::open(replayed)?;
    let mut dst = authd_projections::db::open_for_rebuild(target)?;
    authd_projections::db::migrate(&dst)?;
    authd_projections::db::migrate_audit(&dst)?;
    let mut tables = Vec::new();
    let copied = authd_projections::db::READ_MODEL_TABLES
        .into_iter()
        .chain(authd_projections::db::AUDIT_TABLES);
    for table in copied {
        let exists: bool = src.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if !exists {
            continue;
        }
        let mut stmt = src.prepare(&format!("SELECT * FROM {table}"))?;
        let cols = stmt.column_count();
        let rows: Vec<Vec<rusqlite::types::Value>> = stmt
            .query_map([], |r| (0..cols).map(|i| r.get(i)).collect())?
            .collect::<Result<_, _>>()?;
        tables.push((table, cols, rows));
    }
    let t = Instant::now();
    for (table, cols, rows) in &tables {
        let placeholders = vec!["?"; *cols].join(", ");
        for chunk in rows.chunks(authd_projections::db::REBUILD_TRANSACTION) {
            let tx = dst.transaction()?;
            {
                let mut insert =
                    tx.prepare_cached(&format!("INSERT INTO {table} VALUES ({placeholders})"))?;
                for row in chunk {
                    insert.execute(rusqlite::params_from_iter(row.iter()))?;
                }
            }
            tx.commit()?;
        }
    }
    authd_projections::db::finish_rebuild(&dst)?;
    Ok(t.elapsed().as_secs_f64())
}

impl Report {
    /// The table, as markdown, with a header naming the machine's cores.
    pub fn print(&self) {
        println!();
        println!(
            "authd benchmarks — {} cores{}",
            self.cores,
            if self.quick {
                " — QUICK RUN: the numbers are not meaningful"
            } else {
                ""
            }
        );
        println!();
        println!("| figure | value | p50 / p95 / p99 | baseline (same run) | ratio | target |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.figure, r.value, r.latency, r.baseline, r.ratio, r.target
            );
        }
        println!();
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(n, e)| format!("{n} {e}"))
            .collect();
        println!("errors: {}", errors.join(", "));
    }
}
