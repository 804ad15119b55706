//! Wires the roles together: services, gateway (with its read model), and
//! `authd dev`'s bootstrap. The CLI in `main.rs` only parses flags into
//! [`Config`] and calls these.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use authd_events::{Actor, EventStore, RequestMeta};
use authd_services::{
    CommandBus, ErrorCode, ServiceConfig, Services, bus::Sender, cache::StateCache,
    commands::CreateProject, password::PasswordHasher,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

mod config;
mod keys;
mod nats;

pub use config::Config;

pub use keys::Keys;
use keys::load_operator_key;
pub use nats::{
    DEV_NATS_USER, Nats, NatsOptions, connect, connect_with, dev_nats_password, open_store,
    open_store_with,
};

/// The services role until `shutdown`.
pub async fn run_services(
    config: &Config,
    keys: &Keys,
    client: async_nats::Client,
    store: EventStore,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Starting reads and writes the log; with a broker that went first
    // (everything signalled at once) each step would wait out its
    // retries: a signal meanwhile stops it.
    let starting = async {
        let hasher = PasswordHasher::new(config.hash, config.hash_concurrency)
            .map_err(anyhow::Error::msg)?;
        let mailbox =
            authd_services::mail::Mailbox::open(client.clone(), config.stream_replicas).await?;
        let root = keys
            .signing
            .clone()
            .context("services sign tokens: they need --signing-key-file")?;
        let signer = Arc::new(authd_services::key_ring::Signer::new(&root));
        let services = Arc::new(Services::new(
            store.clone(),
            Arc::new(StateCache::new(200_000)),
            hasher,
            signer.clone(),
            mailbox,
            ServiceConfig {
                index_key: keys.index.clone(),
                secrets_key: keys.secrets.clone(),
                allow_private_providers: config.dev || config.allow_private_provider_urls,
                allow_private_webhooks: config.dev || config.allow_private_webhook_urls,
                access_token_ttl: config.access_token_ttl,
                session_ttl: config.session_ttl,
                clock: config.clock.clone(),
            },
        ));
        // Before this build writes anything: what an earlier build may have
        // left in plain ends here (an erasure scans no further).
        if let Err(e) = store.plaintext_horizon().await {
            tracing::warn!(error = %e, "cannot record the plaintext horizon yet");
        }
        let (ring, seq) = services.start_signing().await?;
        anyhow::Ok((services, signer, ring, seq))
    };
    let (services, signer, ring, seq) = tokio::select! {
        started = starting => started?,
        _ = shutdown.cancelled() => return Ok(()),
    };
    // Erasures a crash left half done are finished first thing.
    let resuming = services.clone();
    tokio::spawn(async move { resuming.resume_erasures().await });
    tokio::spawn(authd_services::key_ring::follow(
        store.clone(),
        ring,
        seq,
        move |ring| signer.update(ring),
        shutdown.clone(),
    ));
    authd_services::runtime::serve(client, services, store, shutdown).await
}

/// The store sealing and opening customers' personal data with the data
/// keys that `kek` wraps; `owner` (services) creates their stream.
pub async fn with_data_keys(
    store: EventStore,
    kek: &[u8],
    owner: bool,
    replicas: usize,
) -> anyhow::Result<EventStore> {
    use authd_events::data_keys::{DataKeys, ensure_stream};
    let js = store.jetstream().clone();
    if owner {
        ensure_stream(&js, replicas)
            .await
            .context("cannot create the data keys' stream")?;
    }
    Ok(store.with_data_keys(DataKeys::new(js, kek)))
}

/// For tools (replay, verify, admin, events): the store opening sealed
/// values with the key-encryption key in `file`, which must exist; without
/// one, sealed values stay sealed (shown as such).
pub async fn tool_store(
    store: EventStore,
    file: Option<&std::path::Path>,
) -> anyhow::Result<EventStore> {
    let Some(path) = file else {
        tracing::warn!(
            "no --data-key-file: customers' personal data stays sealed (blank in what this writes)"
        );
        return Ok(store);
    };
    anyhow::ensure!(path.exists(), "{} does not exist", path.display());
    let kek = keys::load_index_key(path)?;
    use authd_events::data_keys::DataKeys;
    // A replay opens every customer's events: room for a million keys.
    let keys = DataKeys::with_cache(store.jetstream().clone(), &kek, 1_000_000);
    Ok(store.with_data_keys(keys))
}

pub fn outbox_dir(config: &Config) -> PathBuf {
    config.data_dir.join("outbox")
}

/// The mailer role until `shutdown`: SMTP when configured, else the outbox.
/// The NATS JSON feed (`authd feed`): the log as JSON on `authd.audit.>`,
/// from its checkpoint in `<data-dir>/feed.checkpoint`.
pub async fn run_feed(
    config: &Config,
    client: async_nats::Client,
    store: EventStore,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    use authd_feed::webhooks;
    let checkpoint = authd_feed::Checkpoint::new(config.data_dir.join("feed.checkpoint"));
    // Webhooks: the endpoints as of the checkpoint, then kept up by the
    // feed as it reads on; the deliverer sends what it queues.
    let js = store.jetstream().clone();
    authd_events::webhook::ensure_streams(&js, config.stream_replicas)
        .await
        .map_err(anyhow::Error::msg)?;
    let endpoints = webhooks::Endpoints::load(&store, checkpoint.read()?).await?;
    let mut options = config.webhooks.clone();
    options.allow_private |= config.dev || config.allow_private_webhook_urls;
    let deliverer = tokio::spawn(webhooks::deliver(
        store.clone(),
        endpoints.clone(),
        options,
        shutdown.clone(),
    ));
    let enqueuer = webhooks::Enqueuer::new(js, endpoints);
    let fed = authd_feed::run(store, client, checkpoint, Some(enqueuer), shutdown).await;
    deliverer.await??;
    fed
}

pub async fn run_mailer(
    config: &Config,
    client: async_nats::Client,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use authd_services::mailer::{self, Transport};
    let transport = match &config.smtp_url {
        Some(url) => {
            let ca = match &config.smtp_ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    anyhow::anyhow!("cannot read SMTP CA file {}: {e}", path.display())
                })?),
                None => None,
            };
            Transport::smtp(url, ca.as_deref())?
        }
        None => {
            let dir = outbox_dir(config);
            tracing::info!(outbox = %dir.display(), "no SMTP server configured: mail goes to the outbox");
            Transport::outbox(dir)?
        }
    };
    let mailbox = authd_services::mail::Mailbox::open(client, config.stream_replicas).await?;
    mailer::run(mailbox, transport, shutdown).await
}

/// A running gateway: its address and how far its read model has applied.
pub struct GatewayHandle {
    pub addr: SocketAddr,
    /// Where `/metrics` and the detailed `/healthz` answer (`--admin-listen`).
    pub admin_addr: Option<SocketAddr>,
    pub applied: tokio::sync::watch::Receiver<u64>,
    /// How far the audit index (a file of its own) has applied, when on.
    pub audit_applied: Option<tokio::sync::watch::Receiver<u64>>,
    pub done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Makes the gateway trust the ring's keys (and the file's), now and after
/// every rotation.
async fn follow_signing_keys(
    keys: &Keys,
    store: &EventStore,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    use authd_services::key_ring;
    let (ring, seq) = key_ring::load(store).await?;
    let (verifier, file_keys) = (keys.verifier.clone(), keys.file_keys.clone());
    verifier.set_keys(key_ring::trusted_keys(&ring, &file_keys));
    tokio::spawn(key_ring::follow(
        store.clone(),
        ring,
        seq,
        move |ring| verifier.set_keys(key_ring::trusted_keys(ring, &file_keys)),
        shutdown.clone(),
    ));
    Ok(())
}

/// Starts the gateway role (HTTP server and its read-model projection).
pub async fn start_gateway(
    config: &Config,
    keys: &Keys,
    client: async_nats::Client,
    store: EventStore,
    shutdown: CancellationToken,
) -> anyhow::Result<GatewayHandle> {
    // `read-model.db` names the live generation (a link, after a rebuild).
    let link = config.read_model_path();
    authd_projections::upgrade_at_start(&store, &link, config.audit_index).await?;
    let file = authd_projections::resolve(&link);
    let projector = authd_projections::Projector::open(&file, config.audit_index)?;
    let applied = projector.applied();
    let audit_applied = projector.audit_applied();
    let read = Arc::new(authd_projections::ReadModel::new(&file).with_caches(projector.caches()));
    let rebuilder = Arc::new(authd_projections::Rebuilder::new(
        store.clone(),
        &link,
        config.audit_index,
        projector.swapper(),
        read.clone(),
    ));
    let projection = tokio::spawn(projector.run(store.clone(), shutdown.clone()));
    tokio::spawn(nats::watch_leader(client.clone(), shutdown.clone()));
    follow_signing_keys(keys, &store, &shutdown).await?;
    let state = authd_gateway::state(authd_gateway::GatewayParts {
        bus: CommandBus::new(client, config.command_timeout),
        read,
        applied: applied.clone(),
        verifier: keys.verifier.clone(),
        store,
        limits: authd_gateway::Limits {
            hsts: config.listener.tls.is_some(),
            ..config.limits.clone()
        },
        dev: config.dev,
        audit_applied: audit_applied.clone(),
        operator_key: keys.operator.clone(),
        rebuilder: Some(rebuilder),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (operator, admin_addr) = match config.admin_listen {
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at}"))?;
            let admin_addr = listener.local_addr()?;
            let app = authd_gateway::operator_app(state.clone());
            let (options, stop) = (config.listener.clone(), shutdown.clone());
            let serving =
                tokio::spawn(authd_gateway::listener::serve(listener, app, options, stop));
            tracing::info!(%admin_addr, "metrics and health details listening");
            (Some(serving), Some(admin_addr))
        }
        None => (None, None),
    };
    let app = authd_gateway::app(state);
    let options = config.listener.clone();
    let done = tokio::spawn(async move {
        authd_gateway::listener::serve(listener, app, options, shutdown.clone()).await?;
        if let Some(operator) = operator {
            operator.await??;
        }
        projection.await??;
        Ok(())
    });
    tracing::info!(%addr, "gateway listening");
    Ok(GatewayHandle {
        addr,
        admin_addr,
        applied,
        audit_applied,
        done,
    })
}

/// What `authd dev` writes to `<data-dir>/dev-keys.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevKeys {
    pub project_id: String,
    pub public_api_key: String,
    pub admin_key: String,
    /// Creates projects (`projectCreate` on the admin API).
    #[serde(default)]
    pub operator_key: Option<String>,
    pub nats_url: String,
    pub graphql_url: String,
}

/// Creates the dev project on first start (or after its events were lost),
/// keeping the keys of `dev-keys.json` when there is one.
pub async fn ensure_dev_project(
    config: &Config,
    client: &async_nats::Client,
    gateway: &GatewayHandle,
) -> anyhow::Result<DevKeys> {
    let path = config.data_dir.join("dev-keys.json");
    let existing: Option<DevKeys> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let project_id = existing
        .as_ref()
        .map_or_else(|| authd_events::new_id("p"), |k| k.project_id.clone());
    let from = Sender {
        tenant: project_id.clone(),
        actor: Actor::System,
        request: RequestMeta {
            request_id: "authd-dev".into(),
            ip: None,
            user_agent: None,
        },
    };
    let create = CreateProject {
        name: "Dev project".into(),
        public_key: existing.as_ref().map(|k| k.public_api_key.clone()),
        secret_key: existing.as_ref().map(|k| k.admin_key.clone()),
    };
    let bus = CommandBus::new(client.clone(), config.command_timeout);
    let mut attempt = 0;
    let (public, secret, seq) = loop {
        attempt += 1;
        match bus.send(&from, create.clone()).await {
            Ok(Ok(sent)) => {
                let k = sent.outcome;
                break (k.public_key, k.secret_key, sent.seq);
            }
            Ok(Err(e)) if e.code == ErrorCode::ProjectExists => {
                let k = existing
                    .clone()
                    .context("project exists but dev-keys.json is missing")?;
                break (k.public_api_key, k.admin_key, 0);
            }
            Ok(Err(e)) => anyhow::bail!("cannot create the dev project: {e}"),
            Err(e) if attempt < 300 => {
                tracing::debug!(error = %e, "services not ready yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => anyhow::bail!("cannot create the dev project: {e}"),
        }
    };
    let mut applied = gateway.applied.clone();
    let _ = tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|s| *s >= seq)).await;
    let keys = DevKeys {
        project_id,
        public_api_key: public,
        admin_key: secret,
        operator_key: config
            .operator_key_path()
            .map(|path| load_operator_key(&path))
            .transpose()?,
        nats_url: config.nats_url.clone(),
        graphql_url: format!(
            "{}://{}/graphql/public",
            if config.listener.tls.is_some() {
                "https"
            } else {
                "http"
            },
            gateway.addr
        ),
    };
    // It holds the admin and operator keys and the broker's password.
    authd_services::tokens::replace_private(
        &path,
        serde_json::to_string_pretty(&keys)?.as_bytes(),
    )?;
    Ok(keys)
}

/// What every role process shows operators of itself: the metrics recorder
/// installed, and for a process without a gateway (which serves them on its
/// own `--admin-listen`) `/metrics` and `/healthz` on `--admin-listen`, and
/// the event stream's leader as it sees it (`nats::watch_leader`).
pub async fn operator_metrics(
    config: &Config,
    client: &async_nats::Client,
    gateway: bool,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    authd_gateway::metrics::handle();
    if gateway {
        return Ok(());
    }
    tokio::spawn(nats::watch_leader(client.clone(), shutdown.clone()));
    let Some(at) = config.admin_listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .with_context(|| format!("cannot listen on {at}"))?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async { authd_gateway::metrics::handle().render() }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    let stop = shutdown.clone();
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = served.await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}
