//! `authd`: the CLI. Parses flags and hands over to `authd::app`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use authd::{
    app::{self, Config},
    nats_server::NatsServer,
};
use clap::{Args, Parser, Subcommand};

// glibc keeps each thread's arena (argon2's 19 MiB blocks included) long
// after it is freed: 4 arenas of ~57 MiB each after a short load. mimalloc
// returns freed pages to the system.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "authd",
    version,
    about = "Event-sourced customer authentication service"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// One process with embedded defaults: starts its own nats-server, keeps
    /// everything under --data-dir, creates a dev project.
    Dev(DevArgs),
    /// All roles against an external NATS (production).
    Serve(RoleArgs),
    /// Only the HTTP gateway, with its own read model.
    Gateway(RoleArgs),
    /// Only the command handlers.
    Services(RoleArgs),
    /// Only the mail delivery (SMTP with --smtp-url, else the outbox).
    Mailer(RoleArgs),
    /// Rebuild the read model from the event log into a new SQLite file.
    Replay(ReplayArgs),
    /// Operator commands: projects, keys, customers (prints JSON).
    Admin(authd::admin_cli::AdminArgs),
    /// Read the event log: tail it, or show one customer's or session's history (JSON lines).
    Events(authd::events_cli::EventsArgs),
    /// A bare axum JSON endpoint: the benchmarks' baseline for reads.
    #[command(hide = true)]
    BenchBaseline {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// Directory for the read model, keys and (in dev) the NATS store.
    #[arg(long, env = "AUTHD_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address of the HTTP gateway.
    #[arg(long, env = "AUTHD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Ed25519 PKCS#8 PEM key that signs access tokens [default: <data-dir>/jwt-signing-key.pem, created if missing].
    #[arg(long, env = "AUTHD_SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// Key of the keyed email hashes in subjects [default: <data-dir>/index.key, created if missing].
    #[arg(long, env = "AUTHD_INDEX_KEY_FILE")]
    index_key_file: Option<PathBuf>,
    /// Services only: key that seals provider secrets in the log and keys provider-login states; every services instance must share it [default: <data-dir>/secrets.key, created if missing].
    #[arg(long, env = "AUTHD_SECRETS_KEY_FILE")]
    secrets_key_file: Option<PathBuf>,
    /// Services only: let sign-in providers (OpenID Connect issuers, OAuth endpoints, Shopify stores) be at loopback and private addresses, e.g. an identity provider inside your network. Always on in dev.
    #[arg(long, env = "AUTHD_ALLOW_PRIVATE_PROVIDER_URLS")]
    allow_private_provider_urls: bool,
    /// argon2id memory cost in KiB.
    #[arg(long, env = "AUTHD_ARGON2_M_COST", default_value_t = 19_456)]
    argon2_m_cost: u32,
    /// argon2id iterations.
    #[arg(long, env = "AUTHD_ARGON2_T_COST", default_value_t = 2)]
    argon2_t_cost: u32,
    /// argon2id parallelism.
    #[arg(long, env = "AUTHD_ARGON2_P_COST", default_value_t = 1)]
    argon2_p_cost: u32,
    /// Lifetime of access tokens, in seconds (at most 900).
    #[arg(long, env = "AUTHD_ACCESS_TOKEN_TTL", default_value_t = 900)]
    access_token_ttl: u64,
    /// Lifetime of a session (refresh token), in seconds.
    #[arg(long, env = "AUTHD_SESSION_TTL", default_value_t = 30 * 24 * 3600)]
    session_ttl: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "AUTHD_BODY_LIMIT", default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Deepest accepted GraphQL query.
    #[arg(long, env = "AUTHD_MAX_QUERY_DEPTH", default_value_t = 10)]
    max_query_depth: usize,
    /// Costliest accepted GraphQL query.
    #[arg(long, env = "AUTHD_MAX_QUERY_COMPLEXITY", default_value_t = 200)]
    max_query_complexity: usize,
    /// SMTP server for outgoing mail: smtp://[user:pass@]host:port (add ?tls=required for STARTTLS),
    /// smtps://… for implicit TLS. Without it, mail is written to <data-dir>/outbox/ as .eml files.
    #[arg(long, env = "AUTHD_SMTP_URL")]
    smtp_url: Option<String>,
    /// Keep the audit index: each customer's history (events with request metadata) for the
    /// admin API's `customer { events }`, in `<read model>.audit.db` (`--audit-index false` to skip).
    #[arg(long, env = "AUTHD_AUDIT_INDEX", default_value_t = true, action = clap::ArgAction::Set)]
    audit_index: bool,
    /// Address for operators only: Prometheus `/metrics` and `/healthz` with details
    /// (the public `/healthz` says only ok or not).
    #[arg(long, env = "AUTHD_ADMIN_LISTEN")]
    admin_listen: Option<std::net::SocketAddr>,
    /// File with the operator key, the only key that creates projects on
    /// the admin API (created, mode 0600, if missing) [dev default:
    /// <data-dir>/operator.key, shown in dev-keys.json as operatorKey].
    #[arg(long, env = "AUTHD_OPERATOR_KEY_FILE")]
    operator_key_file: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (with HSTS) instead of plain HTTP.
    #[arg(long, env = "AUTHD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "AUTHD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Proxies (CIDRs or addresses, comma-separated) whose X-Forwarded-For /
    /// Forwarded header names the client; from anyone else it is ignored.
    #[arg(long, env = "AUTHD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Seconds a connection gets to send its request headers (and finish a TLS handshake).
    #[arg(long, env = "AUTHD_HEADER_READ_TIMEOUT", default_value_t = 30)]
    header_read_timeout: u64,
    /// Connections served at once by each HTTP listener; more wait.
    #[arg(long, env = "AUTHD_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// Days that failed logins for unknown addresses and one-time-code
    /// messages stay in the event log (anyone can add them); 0 keeps them forever.
    #[arg(long, env = "AUTHD_ANONYMOUS_EVENT_TTL_DAYS", default_value_t = 30)]
    anonymous_event_ttl_days: u64,
    /// NATS credentials file (`.creds`: user JWT and nkey seed). A
    /// `user:password@` in the NATS URL works too.
    #[arg(long, env = "AUTHD_NATS_CREDS")]
    nats_creds: Option<PathBuf>,
    /// File holding an nkey seed to authenticate to NATS with.
    #[arg(long, env = "AUTHD_NATS_NKEY_FILE")]
    nats_nkey_file: Option<PathBuf>,
    /// Token to authenticate to NATS with.
    #[arg(long, env = "AUTHD_NATS_TOKEN", hide_env_values = true)]
    nats_token: Option<String>,
    /// PEM CA that signed the broker's certificate (turns TLS on).
    #[arg(long, env = "AUTHD_NATS_TLS_CA")]
    nats_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS with the broker.
    #[arg(long, env = "AUTHD_NATS_TLS_CERT", requires = "nats_tls_key")]
    nats_tls_cert: Option<PathBuf>,
    /// Key of --nats-tls-cert.
    #[arg(long, env = "AUTHD_NATS_TLS_KEY", requires = "nats_tls_cert")]
    nats_tls_key: Option<PathBuf>,
    /// Reply subjects under this prefix instead of `_INBOX` (see
    /// deploy/nats-roles.conf: the mailer's permissions keep it off `_INBOX`).
    #[arg(long, env = "AUTHD_NATS_INBOX_PREFIX")]
    nats_inbox_prefix: Option<String>,
    /// Refuse a broker that does not speak TLS.
    #[arg(long, env = "AUTHD_NATS_REQUIRE_TLS")]
    nats_require_tls: bool,
    /// PEM file of Ed25519 public keys (one or more `PUBLIC KEY` blocks)
    /// that access tokens are verified with and JWKS lists. `authd gateway`
    /// given it holds no private key. Make one with
    /// `openssl pkey -in jwt-signing-key.pem -pubout`; list old and new
    /// keys during a rotation.
    #[arg(long, env = "AUTHD_SIGNING_PUBLIC_KEYS_FILE")]
    signing_public_keys_file: Option<PathBuf>,
    /// Answer GraphQL introspection outside dev (it is always on in `authd dev`).
    #[arg(long, env = "AUTHD_INTROSPECTION")]
    introspection: bool,
    /// PEM file of extra root certificates to trust for the SMTP server's TLS (a private CA).
    #[arg(long, env = "AUTHD_SMTP_CA_FILE")]
    smtp_ca_file: Option<PathBuf>,
    /// Sign-in and mail-sending requests per minute from one client IP.
    #[arg(long, env = "AUTHD_RATE_LIMIT_IP", default_value_t = 120)]
    rate_limit_ip: u32,
    /// Sign-in and mail-sending requests per minute for one account (email).
    #[arg(long, env = "AUTHD_RATE_LIMIT_ACCOUNT", default_value_t = 20)]
    rate_limit_account: u32,
}

#[derive(Args)]
struct DevArgs {
    #[command(flatten)]
    common: Common,
    /// Use this NATS instead of starting one.
    #[arg(long, env = "AUTHD_NATS_URL")]
    nats_url: Option<String>,
    /// The nats-server (2.12+) to start; default: PATH's, else the one
    /// `scripts/install-nats-server` put in .tools/.
    #[arg(long, env = "AUTHD_NATS_SERVER")]
    nats_server: Option<PathBuf>,
}

#[derive(Args)]
struct RoleArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, env = "AUTHD_NATS_URL")]
    nats_url: String,
}

#[derive(Args)]
struct ReplayArgs {
    #[arg(long, env = "AUTHD_NATS_URL")]
    nats_url: String,
    /// The new SQLite file to write (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Stop after this stream sequence.
    #[arg(long, conflicts_with = "until_time")]
    until: Option<u64>,
    /// Stop at this moment (RFC 3339, e.g. 2026-11-22T10:00:00Z): the read
    /// model as it was then (by the events' own time).
    #[arg(long, value_parser = parse_rfc3339_ms)]
    until_time: Option<i64>,
    /// Also build the audit index's tables (each customer's history).
    #[arg(long)]
    audit_index: bool,
}

/// A CIDR, or a single address as its /32 or /128.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("expected a CIDR like 10.0.0.0/8 or an address, got {s:?}"))
}

fn parse_rfc3339_ms(s: &str) -> Result<i64, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 date-time like 2026-11-22T10:00:00Z: {e}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn config(common: &Common, nats_url: String, dev: bool) -> anyhow::Result<Config> {
    anyhow::ensure!(
        (1..=900).contains(&common.access_token_ttl),
        "--access-token-ttl must be between 1 and 900 seconds"
    );
    let mut c = Config::new(common.data_dir.clone(), nats_url);
    c.listen = common.listen;
    c.signing_key_file = common.signing_key_file.clone();
    c.index_key_file = common.index_key_file.clone();
    c.secrets_key_file = common.secrets_key_file.clone();
    c.allow_private_provider_urls = common.allow_private_provider_urls;
    c.hash = authd_services::password::HashParams {
        m_cost: common.argon2_m_cost,
        t_cost: common.argon2_t_cost,
        p_cost: common.argon2_p_cost,
    };
    c.hash.validate().map_err(anyhow::Error::msg)?;
    c.access_token_ttl = Duration::from_secs(common.access_token_ttl);
    c.session_ttl = Duration::from_secs(common.session_ttl);
    c.limits.body_limit = common.body_limit;
    c.limits.max_depth = common.max_query_depth;
    c.limits.max_complexity = common.max_query_complexity;
    c.dev = dev;
    c.smtp_url = common.smtp_url.clone();
    c.smtp_ca_file = common.smtp_ca_file.clone();
    c.audit_index = common.audit_index;
    c.limits.per_ip_per_minute = common.rate_limit_ip;
    c.limits.per_account_per_minute = common.rate_limit_account;
    c.limits.introspection = common.introspection;
    c.admin_listen = common.admin_listen;
    c.operator_key_file = common.operator_key_file.clone();
    c.signing_public_keys_file = common.signing_public_keys_file.clone();
    c.nats = app::NatsOptions {
        creds_file: common.nats_creds.clone(),
        nkey_file: common.nats_nkey_file.clone(),
        token: common.nats_token.clone(),
        tls_ca: common.nats_tls_ca.clone(),
        tls_cert: common
            .nats_tls_cert
            .clone()
            .zip(common.nats_tls_key.clone()),
        require_tls: common.nats_require_tls,
        inbox_prefix: common.nats_inbox_prefix.clone(),
    };
    c.anonymous_event_ttl = (common.anonymous_event_ttl_days > 0)
        .then(|| Duration::from_secs(common.anonymous_event_ttl_days.saturating_mul(86_400)));
    c.limits.trusted_proxies = common.trusted_proxies.clone();
    anyhow::ensure!(
        (1..=3600).contains(&common.header_read_timeout),
        "--header-read-timeout must be between 1 and 3600 seconds"
    );
    c.listener.header_read_timeout = Duration::from_secs(common.header_read_timeout);
    anyhow::ensure!(
        common.max_connections > 0,
        "--max-connections must be at least 1"
    );
    c.listener.max_connections = common.max_connections;
    if let (Some(cert), Some(key)) = (&common.tls_cert, &common.tls_key) {
        c.listener.tls = Some(authd_gateway::listener::tls_config(cert, key)?);
    }
    Ok(c)
}

/// Cancels `token` on SIGINT or SIGTERM.
fn shutdown_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handlers can be installed");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        token.cancel();
    });
}

#[derive(Clone, Copy)]
struct Roles {
    gateway: bool,
    services: bool,
    mailer: bool,
    dev: bool,
}

async fn run_roles(config: Config, roles: Roles) -> anyhow::Result<()> {
    let Roles {
        gateway,
        services,
        mailer,
        dev,
    } = roles;
    let shutdown = CancellationToken::new();
    shutdown_on_signal(shutdown.clone());
    // A gateway alone, given public keys, never reads a private key.
    let keys = app::Keys::load_for(&config, services || dev)?;
    let nats = app::connect_with(&config.nats_url, &config.nats).await?;
    let store = app::open_store_with(&nats, config.store_config()).await?;
    let client = nats.client.clone();
    let services_task = services.then(|| {
        let (config, keys, client, store, shutdown) = (
            config.clone(),
            keys.clone(),
            client.clone(),
            store.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            let result = app::run_services(&config, &keys, client, store, shutdown.clone()).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "services stopped");
                shutdown.cancel();
            }
            result
        })
    });
    let mailer_task = mailer.then(|| {
        let (config, client, shutdown) = (config.clone(), client.clone(), shutdown.clone());
        tokio::spawn(async move {
            let result = app::run_mailer(&config, client, shutdown.clone()).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "mailer stopped");
                shutdown.cancel();
            }
            result
        })
    });
    let gateway_handle = if gateway {
        Some(
            app::start_gateway(
                &config,
                &keys,
                client.clone(),
                store.clone(),
                shutdown.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    if dev && let Some(g) = &gateway_handle {
        let keys = app::ensure_dev_project(&config, &client, g).await?;
        println!("authd dev is running");
        println!("  GraphQL:        {}", keys.graphql_url);
        println!("  NATS:           {}", keys.nats_url);
        println!("  public API key: {}", keys.public_api_key);
        println!("  admin key:      {}", keys.admin_key);
        println!(
            "  (written to {})",
            config.data_dir.join("dev-keys.json").display()
        );
    }
    if let Some(g) = gateway_handle {
        g.done.await??;
    } else {
        shutdown.cancelled().await;
    }
    if let Some(t) = services_task {
        t.await??;
    }
    if let Some(t) = mailer_task {
        t.await??;
    }
    let _ = client.flush().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,async_nats=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Cmd::Dev(args) => {
            let data_dir = args.common.data_dir.clone();
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            let (nats, url) = match args.nats_url {
                Some(url) => (None, url),
                None => {
                    // A server an earlier run left behind (killed with
                    // SIGKILL) goes first, so its port is free again.
                    authd::nats_server::stop_stale(&data_dir.join("nats"));
                    // Same port as last time, so dev-keys.json stays right.
                    let port_file = data_dir.join("nats.port");
                    let port = std::fs::read_to_string(&port_file)
                        .ok()
                        .and_then(|p| p.trim().parse().ok())
                        .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok());
                    let binary = authd::nats_server::locate(args.nats_server.as_deref())?;
                    // The broker admits only authd: a password made once,
                    // kept (0600) in the data dir, and in dev-keys.json's natsUrl.
                    let password = app::dev_nats_password(&data_dir)?;
                    let server = NatsServer::start_authenticated(
                        binary,
                        &data_dir.join("nats"),
                        port,
                        app::DEV_NATS_USER,
                        &password,
                    )?;
                    std::fs::write(&port_file, server.port().to_string())?;
                    let url = format!(
                        "nats://{}:{password}@127.0.0.1:{}",
                        app::DEV_NATS_USER,
                        server.port()
                    );
                    (Some(server), url)
                }
            };
            let config = config(&args.common, url, true)?;
            let all = Roles {
                gateway: true,
                services: true,
                mailer: true,
                dev: true,
            };
            let result = run_roles(config, all).await;
            drop(nats);
            result
        }
        Cmd::Serve(args) => {
            let roles = Roles {
                gateway: true,
                services: true,
                mailer: true,
                dev: false,
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Gateway(args) => {
            let roles = Roles {
                gateway: true,
                services: false,
                mailer: false,
                dev: false,
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Services(args) => {
            let roles = Roles {
                gateway: false,
                services: true,
                mailer: false,
                dev: false,
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Mailer(args) => {
            let roles = Roles {
                gateway: false,
                services: false,
                mailer: true,
                dev: false,
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Admin(args) => authd::admin_cli::run(args).await,
        Cmd::Events(args) => authd::events_cli::run(args).await,
        Cmd::BenchBaseline { listen } => {
            use axum::{Json, Router, routing::any};
            let app = Router::new().route(
                "/",
                any(|| async {
                    Json(serde_json::json!({ "data": { "currentUser": { "id": "c_1", "email": "a@example.com" } } }))
                }),
            );
            let listener = tokio::net::TcpListener::bind(listen).await?;
            axum::serve(listener, app).await?;
            Ok(())
        }
        Cmd::Replay(args) => {
            let nats = app::connect(&args.nats_url).await?;
            let store = app::open_store(&nats).await?;
            let until = match (args.until, args.until_time) {
                (Some(seq), _) => authd_projections::Until::Sequence(seq),
                (None, Some(ms)) => authd_projections::Until::Time(ms),
                (None, None) => authd_projections::Until::Latest,
            };
            // A bar on a terminal; nothing when stderr is not one.
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
                )?
                .progress_chars("=> "),
            );
            let reached = authd_projections::rebuild(
                &store,
                &args.out,
                until,
                args.audit_index,
                |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await?;
            bar.finish_and_clear();
            println!(
                "read model rebuilt up to sequence {reached} in {}",
                args.out.display()
            );
            Ok(())
        }
    }
}
