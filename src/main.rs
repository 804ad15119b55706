//! `authd`: the CLI. Parses flags and hands over to `authd::app`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use authd::{
    app::{self, Config},
    nats_server::NatsServer,
    telemetry::LogFormat,
};
use clap::{Args, Parser, Subcommand};

mod flags;
use flags::{Common, config, parse_rfc3339_ms};

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
    /// How log lines are written to stderr: `text` for people, `json` (one
    /// object a line: time, level, target, message, fields, and the request
    /// id, project and command of the request it is part of) for collectors.
    #[arg(long, global = true, env = "AUTHD_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// An OpenTelemetry collector's OTLP/HTTP base URL (`http://host:4318`):
    /// traces of every request, across gateway, services and projections.
    #[arg(long, global = true, env = "AUTHD_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
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
    /// Only the NATS JSON feed: every event, in order, as JSON on
    /// `authd.audit.<project>.<aggregate>.<type>` (docs/events.md).
    Feed(RoleArgs),
    /// Rebuild the read model from the event log into a new SQLite file.
    Replay(ReplayArgs),
    /// Prove a read model matches the log: replay up to its checkpoint and
    /// compare every table row by row; exits 1 on any difference.
    Verify(VerifyArgs),
    /// Operator commands: projects, keys, customers (prints JSON).
    Admin(authd::admin_cli::AdminArgs),
    /// Read the event log: tail it, or show one customer's or session's history (JSON lines).
    Events(authd::events_cli::EventsArgs),
    /// Rebuild a running gateway's read model beside the live one and swap it in.
    Projections(authd::projections_cli::ProjectionsArgs),
    /// The benchmarks' baselines: a bare axum JSON endpoint (reads) and,
    /// with `--nats-url`, the write path's floor (`authd::bench_baseline`).
    #[command(hide = true)]
    BenchBaseline {
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long)]
        nats_url: Option<String>,
    },
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
    /// The key-encryption key of customers' data keys (the services'
    /// --data-key-file); without it personal data stays sealed.
    #[arg(long, env = "AUTHD_DATA_KEY_FILE")]
    data_key_file: Option<PathBuf>,
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

#[derive(Args)]
struct VerifyArgs {
    #[arg(long, env = "AUTHD_NATS_URL")]
    nats_url: String,
    /// The key-encryption key of customers' data keys (the services'
    /// --data-key-file); without it personal data stays sealed.
    #[arg(long, env = "AUTHD_DATA_KEY_FILE")]
    data_key_file: Option<PathBuf>,
    /// The live read model (a gateway's `<data-dir>/read-model.db`; its
    /// audit index beside it is compared too).
    #[arg(long, default_value = "data/read-model.db")]
    read_model: PathBuf,
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
    feed: bool,
    dev: bool,
}

impl Roles {
    const NONE: Self = Self {
        gateway: false,
        services: false,
        mailer: false,
        feed: false,
        dev: false,
    };
}

async fn run_roles(config: Config, roles: Roles) -> anyhow::Result<()> {
    let Roles {
        gateway,
        services,
        mailer,
        feed,
        dev,
    } = roles;
    let shutdown = CancellationToken::new();
    shutdown_on_signal(shutdown.clone());
    // A gateway alone, given public keys, never reads a private key.
    let keys = app::Keys::load_for(&config, services || dev)?;
    let nats = app::connect_with(&config.nats_url, &config.nats).await?;
    let store = app::open_store_with(&nats, config.store_config()).await?;
    let store =
        app::with_data_keys(store, &keys.data, services || dev, config.stream_replicas).await?;
    let client = nats.client.clone();
    app::operator_metrics(&config, &client, gateway, &shutdown).await?;
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
    let feed_task = feed.then(|| {
        let (config, client, store, shutdown) = (
            config.clone(),
            client.clone(),
            store.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            let result = app::run_feed(&config, client, store, shutdown.clone()).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "feed stopped");
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
    // The dev project is made through the services, which a broker gone
    // before they answer never lets happen: a signal meanwhile stops waiting.
    let dev_keys = match &gateway_handle {
        Some(g) if dev => tokio::select! {
            keys = app::ensure_dev_project(&config, &client, g) => Some(keys?),
            _ = shutdown.cancelled() => None,
        },
        _ => None,
    };
    if let Some(keys) = dev_keys {
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
        tracing::info!("gateway stopped");
    } else {
        shutdown.cancelled().await;
    }
    if let Some(t) = services_task {
        t.await??;
        tracing::info!("services stopped");
    }
    if let Some(t) = mailer_task {
        t.await??;
        tracing::info!("mailer stopped");
    }
    if let Some(t) = feed_task {
        t.await??;
    }
    // What was published reaches the broker, if it is still there: one
    // stopped first (everything signalled at once) never answers, and the
    // client would wait for it forever.
    let flushed = tokio::time::timeout(Duration::from_secs(5), client.flush()).await;
    if !matches!(flushed, Ok(Ok(()))) {
        tracing::warn!("the broker did not confirm the last messages before shutdown");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A replay receives and decodes on this thread while its own thread
    // applies: one thread for NATS and the reading is faster on two cores
    // than a worker pool handing messages across (BENCHMARKS.md, session 9).
    let mut runtime = match cli.command {
        Cmd::Replay(_) | Cmd::Verify(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = runtime.enable_all().build()?;
    let telemetry = authd::telemetry::init(
        cli.log_format,
        cli.otlp_endpoint.as_deref(),
        cli.command.service_name(),
        runtime.handle(),
    )?;
    let result = runtime.block_on(async {
        let result = run(cli).await;
        // The exporter sends on this runtime: flush while it still runs.
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
        result
    });
    // Dropping a runtime waits for its blocking tasks without end; a
    // client still retrying a broker that is gone (everything signalled
    // at once) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

impl Cmd {
    /// The process's name in its traces.
    fn service_name(&self) -> &'static str {
        match self {
            Cmd::Gateway(_) => "authd-gateway",
            Cmd::Services(_) => "authd-services",
            Cmd::Mailer(_) => "authd-mailer",
            Cmd::Feed(_) => "authd-feed",
            _ => "authd",
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
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
                feed: config.feed,
                dev: true,
            };
            let result = run_roles(config, all).await;
            drop(nats);
            result
        }
        Cmd::Serve(args) => {
            let config = config(&args.common, args.nats_url, false)?;
            let roles = Roles {
                gateway: true,
                services: true,
                mailer: true,
                feed: config.feed,
                dev: false,
            };
            run_roles(config, roles).await
        }
        Cmd::Gateway(args) => {
            let roles = Roles {
                gateway: true,
                ..Roles::NONE
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Services(args) => {
            let roles = Roles {
                services: true,
                ..Roles::NONE
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Mailer(args) => {
            let roles = Roles {
                mailer: true,
                ..Roles::NONE
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Feed(args) => {
            let roles = Roles {
                feed: true,
                ..Roles::NONE
            };
            run_roles(config(&args.common, args.nats_url, false)?, roles).await
        }
        Cmd::Admin(args) => authd::admin_cli::run(args).await,
        Cmd::Events(args) => authd::events_cli::run(args).await,
        Cmd::Projections(args) => authd::projections_cli::run(args).await,
        Cmd::BenchBaseline { listen, nats_url } => {
            authd::bench_baseline::serve(listen, nats_url.as_deref()).await
        }
        Cmd::Verify(args) => {
            let nats = app::connect(&args.nats_url).await?;
            let store = app::open_store(&nats).await?;
            let store = app::tool_store(store, args.data_key_file.as_deref()).await?;
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
                )?
                .progress_chars("=> "),
            );
            let report = authd::verify::verify(&store, &args.read_model, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            if !report.print() {
                std::process::exit(1);
            }
            Ok(())
        }
        Cmd::Replay(args) => {
            let nats = app::connect(&args.nats_url).await?;
            let store = app::open_store(&nats).await?;
            let store = app::tool_store(store, args.data_key_file.as_deref()).await?;
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
