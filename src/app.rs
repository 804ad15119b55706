//! Wires the roles together: services, gateway (with its read model), and
//! `authd dev`'s bootstrap. The CLI in `main.rs` only parses flags into
//! [`Config`] and calls these.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use authd_events::{Actor, EventStore, RequestMeta, StoreConfig};
use authd_services::{
    CommandBus, ErrorCode, ServiceConfig, Services,
    bus::Sender,
    cache::StateCache,
    commands::CreateProject,
    password::{HashParams, PasswordHasher},
    tokens::SigningKeys,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Everything a role needs to know, whatever runs it.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub nats_url: String,
    pub signing_key_file: Option<PathBuf>,
    pub index_key_file: Option<PathBuf>,
    /// Services only: seals provider secrets (default `<data-dir>/secrets.key`).
    pub secrets_key_file: Option<PathBuf>,
    /// Services only: sign-in providers may be at loopback and private
    /// addresses (always in dev).
    pub allow_private_provider_urls: bool,
    pub hash: HashParams,
    /// Hashes run at once; defaults to the number of cores.
    pub hash_concurrency: usize,
    pub access_token_ttl: Duration,
    pub session_ttl: Duration,
    pub limits: authd_gateway::Limits,
    /// Header-read timeout, connection cap and TLS of the HTTP listeners.
    pub listener: authd_gateway::listener::ListenerOptions,
    pub dev: bool,
    pub command_timeout: Duration,
    /// Where the mailer delivers; `None` writes `.eml` files to `<data-dir>/outbox/`.
    pub smtp_url: Option<String>,
    /// Extra trusted root certificates (PEM) for the SMTP server's TLS.
    pub smtp_ca_file: Option<PathBuf>,
    /// Keep the audit index (per-customer history for the admin API).
    pub audit_index: bool,
    /// Where `/metrics` and the detailed `/healthz` answer; nowhere if `None`.
    pub admin_listen: Option<SocketAddr>,
    /// The operator key's file (created if missing); `authd dev` uses
    /// `<data-dir>/operator.key` when none is given. Without one, projects
    /// are created only by `authd admin`.
    pub operator_key_file: Option<PathBuf>,
    /// Public keys (PEM) that access tokens are verified with; a gateway
    /// given these holds no private key.
    pub signing_public_keys_file: Option<PathBuf>,
    /// Credentials and TLS for NATS.
    pub nats: NatsOptions,
    /// How long failed logins for unknown addresses and one-time-code
    /// messages stay in the log (`None`: forever).
    pub anonymous_event_ttl: Option<Duration>,
    /// The services' clock (tests advance it to test expiry).
    pub clock: authd_services::clock::Clock,
}

impl Config {
    pub fn new(data_dir: PathBuf, nats_url: String) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            nats_url,
            signing_key_file: None,
            index_key_file: None,
            secrets_key_file: None,
            allow_private_provider_urls: false,
            hash: HashParams::default(),
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            limits: authd_gateway::Limits::default(),
            dev: false,
            command_timeout: Duration::from_secs(10),
            listener: Default::default(),
            smtp_url: None,
            smtp_ca_file: None,
            audit_index: true,
            admin_listen: None,
            operator_key_file: None,
            signing_public_keys_file: None,
            nats: NatsOptions::default(),
            anonymous_event_ttl: Some(authd_events::store::DEFAULT_ANONYMOUS_TTL),
            clock: Default::default(),
        }
    }

    fn signing_key_path(&self) -> PathBuf {
        self.signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("jwt-signing-key.pem"))
    }

    /// The event store's configuration.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            anonymous_ttl: self.anonymous_event_ttl,
            ..StoreConfig::default()
        }
    }

    fn operator_key_path(&self) -> Option<PathBuf> {
        self.operator_key_file
            .clone()
            .or_else(|| self.dev.then(|| self.data_dir.join("operator.key")))
    }

    fn secrets_key_path(&self) -> PathBuf {
        self.secrets_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets.key"))
    }

    fn index_key_path(&self) -> PathBuf {
        self.index_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("index.key"))
    }

    pub fn read_model_path(&self) -> PathBuf {
        self.data_dir.join("read-model.db")
    }
}

/// A NATS connection and the count of its (re)connections.
#[derive(Clone)]
pub struct Nats {
    pub client: async_nats::Client,
    pub reconnects: tokio::sync::watch::Receiver<u64>,
}

/// Connects to NATS, reconnecting forever in the background once connected.
/// How authd proves itself to NATS and checks the broker (besides a
/// `user:password@` in the URL).
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// A `.creds` file (user JWT and nkey seed).
    pub creds_file: Option<PathBuf>,
    /// A file holding an nkey seed (`SU…`).
    pub nkey_file: Option<PathBuf>,
    pub token: Option<String>,
    /// Trust this CA (PEM) for the broker's certificate; implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and key (PEM) for mutual TLS.
    pub tls_cert: Option<(PathBuf, PathBuf)>,
    pub require_tls: bool,
    /// Reply subjects under this prefix instead of `_INBOX` (so a role's
    /// permissions can keep it off other roles' replies).
    pub inbox_prefix: Option<String>,
}

pub async fn connect(url: &str) -> anyhow::Result<Nats> {
    connect_with(url, &NatsOptions::default()).await
}

/// Connects with credentials from the URL or `options`, and TLS as asked.
/// Errors never repeat the URL's password.
pub async fn connect_with(url: &str, options: &NatsOptions) -> anyhow::Result<Nats> {
    // async-nats' TLS (rustls) needs a process-wide crypto provider; two
    // are compiled in through other crates, so none is picked by itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (url, from_url) = authd_events::nats_url::split_credentials(url);
    let url = url.as_str();
    let mut connect = async_nats::ConnectOptions::new();
    if let Some((user, password)) = from_url {
        connect = connect.user_and_password(user, password);
    }
    if let Some(token) = &options.token {
        connect = connect.token(token.clone());
    }
    if let Some(path) = &options.nkey_file {
        let seed = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        connect = connect.nkey(seed.trim().to_string());
    }
    if let Some(path) = &options.creds_file {
        connect = connect
            .credentials_file(path)
            .await
            .with_context(|| format!("cannot read NATS credentials {}", path.display()))?;
    }
    if let Some(ca) = &options.tls_ca {
        connect = connect.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &options.tls_cert {
        connect = connect.add_client_certificate(cert.clone(), key.clone());
    }
    if options.require_tls {
        connect = connect.require_tls(true);
    }
    if let Some(prefix) = &options.inbox_prefix {
        connect = connect.custom_inbox_prefix(prefix.clone());
    }
    let (tx, reconnects) = tokio::sync::watch::channel(0u64);
    let client = connect
        .name("authd")
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tx.send_modify(|n| *n += 1);
                    }
                    async_nats::Event::Disconnected => tracing::warn!("disconnected from NATS"),
                    _ => {}
                }
            }
        })
        .retry_on_initial_connect()
        .max_reconnects(None)
        // Each subscription buffers at most this many messages (default
        // 65,536): a consumer catching up must not pile the stream up in memory.
        .subscription_capacity(4096)
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))?;
    Ok(Nats { client, reconnects })
}

pub async fn open_store(nats: &Nats) -> anyhow::Result<EventStore> {
    open_store_with(nats, StoreConfig::default()).await
}

/// The event store as `config` asks (its messages' TTLs, say).
pub async fn open_store_with(nats: &Nats, config: StoreConfig) -> anyhow::Result<EventStore> {
    let mut last = None;
    // The broker may still be starting JetStream.
    for _ in 0..50 {
        match EventStore::open(nats.client.clone(), config.clone()).await {
            Ok(s) => return Ok(s.with_reconnect_signal(nats.reconnects.clone())),
            Err(authd_events::StoreError::Unavailable(e)) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("JetStream is unavailable: {}", last.unwrap_or_default())
}

/// The user `authd dev`'s own nats-server admits.
pub const DEV_NATS_USER: &str = "authd";

/// The password of `authd dev`'s nats-server: made once, kept (0600) in
/// `<data-dir>/nats.password`.
pub fn dev_nats_password(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("nats.password");
    if !path.exists() {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        authd_services::tokens::write_private(&path, hex::encode(bytes).as_bytes())?;
    }
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_string())
}

/// The operator key in `path`, made (mode 0600) when the file is missing.
fn load_operator_key(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let key = format!("op_{}", hex::encode(key));
        authd_services::tokens::write_private(path, key.as_bytes())?;
    }
    let key = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_string();
    anyhow::ensure!(
        key.len() >= 32,
        "{} must hold a key of at least 32 characters",
        path.display()
    );
    Ok(key)
}

fn load_index_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        authd_services::tokens::write_private(path, hex::encode(key).as_bytes())?;
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let key = hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
    anyhow::ensure!(
        key.len() >= 32,
        "{} must hold at least 32 bytes",
        path.display()
    );
    Ok(key)
}

/// The keys every role reads from files, loaded (or created) once per process.
#[derive(Clone)]
pub struct Keys {
    /// The private signing key (the ring's root); `None` for a gateway,
    /// which verifies with public keys only.
    pub signing: Option<SigningKeys>,
    /// What access tokens are checked with: the keys of the ring in the
    /// log (see `start_gateway`) and `file_keys`.
    pub verifier: authd_services::tokens::TokenVerifier,
    /// The public keys of `--signing-public-keys-file`, and the signing
    /// key's own when this process holds it: trusted with no end unless the
    /// ring says otherwise.
    pub file_keys: Vec<(String, [u8; 32])>,
    pub index: Vec<u8>,
    /// Seals provider secrets: services only (empty for a gateway).
    pub secrets: Vec<u8>,
    /// Alone creates projects through the admin API.
    pub operator: Option<String>,
}

impl Keys {
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        Self::load_for(config, true)
    }

    /// The keys; the private signing key only when `private` (services
    /// sign). A gateway trusts the ring in the log and the public keys file.
    pub fn load_for(config: &Config, private: bool) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let public = config
            .signing_public_keys_file
            .as_deref()
            .map(authd_services::tokens::load_public_keys)
            .transpose()?;
        let signing = private
            .then(|| SigningKeys::load_or_create(&config.signing_key_path(), true))
            .transpose()?;
        let mut verifying = public.unwrap_or_default();
        if let Some(s) = &signing
            && !verifying.iter().any(|(kid, _)| kid == s.kid())
        {
            verifying.push((s.kid().to_string(), s.public_key()));
        }
        Ok(Self {
            signing,
            verifier: authd_services::tokens::TokenVerifier::new(verifying.clone()),
            file_keys: verifying,
            index: load_index_key(&config.index_key_path())?,
            secrets: if private {
                load_index_key(&config.secrets_key_path())?
            } else {
                Vec::new()
            },
            operator: config
                .operator_key_path()
                .map(|path| load_operator_key(&path))
                .transpose()?,
        })
    }
}

/// The services role until `shutdown`.
pub async fn run_services(
    config: &Config,
    keys: &Keys,
    client: async_nats::Client,
    store: EventStore,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let hasher =
        PasswordHasher::new(config.hash, config.hash_concurrency).map_err(anyhow::Error::msg)?;
    let mailbox = authd_services::mail::Mailbox::open(client.clone()).await?;
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
            access_token_ttl: config.access_token_ttl,
            session_ttl: config.session_ttl,
            clock: config.clock.clone(),
        },
    ));
    let (ring, seq) = services.start_signing().await?;
    tokio::spawn(authd_services::key_ring::follow(
        store.clone(),
        ring,
        seq,
        move |ring| signer.update(ring),
        shutdown.clone(),
    ));
    authd_services::runtime::serve(client, services, store, shutdown).await
}

pub fn outbox_dir(config: &Config) -> PathBuf {
    config.data_dir.join("outbox")
}

/// The mailer role until `shutdown`: SMTP when configured, else the outbox.
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
    let mailbox = authd_services::mail::Mailbox::open(client).await?;
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
    let projector =
        authd_projections::Projector::open(&config.read_model_path(), config.audit_index)?;
    let applied = projector.applied();
    let audit_applied = projector.audit_applied();
    let read = Arc::new(authd_projections::ReadModel::new(&config.read_model_path()));
    let projection = tokio::spawn(projector.run(store.clone(), shutdown.clone()));
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
        audit_index: config.audit_index,
        operator_key: keys.operator.clone(),
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
