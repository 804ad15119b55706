//! What every role is configured with ([`Config`]), below the wiring
//! (`app/mod.rs`) and the key files (`keys.rs`) that read it.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use authd_events::StoreConfig;
use authd_services::password::HashParams;

use super::nats::NatsOptions;

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
    /// Every role: the key-encryption key that wraps customers' data keys
    /// (default `<data-dir>/data.key`).
    pub data_key_file: Option<PathBuf>,
    /// Services only: sign-in providers may be at loopback and private
    /// addresses (always in dev).
    pub allow_private_provider_urls: bool,
    /// Services and feed: webhook endpoints may be plain http and at
    /// loopback and private addresses (always in dev).
    pub allow_private_webhook_urls: bool,
    /// The feed's webhook deliveries: retries, window, timeout.
    pub webhooks: authd_feed::webhooks::WebhookOptions,
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
    /// `dev` and `serve` run the NATS JSON feed too.
    pub feed: bool,
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
    /// Replicas of every stream authd creates (3 on a three-node cluster);
    /// a stream with fewer is raised at start.
    pub stream_replicas: usize,
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
            data_key_file: None,
            allow_private_provider_urls: false,
            allow_private_webhook_urls: false,
            webhooks: Default::default(),
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
            feed: true,
            admin_listen: None,
            operator_key_file: None,
            signing_public_keys_file: None,
            nats: NatsOptions::default(),
            anonymous_event_ttl: Some(authd_events::store::DEFAULT_ANONYMOUS_TTL),
            clock: Default::default(),
            stream_replicas: 1,
        }
    }

    pub(super) fn signing_key_path(&self) -> PathBuf {
        self.signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("jwt-signing-key.pem"))
    }

    /// The event store's configuration.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            anonymous_ttl: self.anonymous_event_ttl,
            replicas: self.stream_replicas,
            ..StoreConfig::default()
        }
    }

    pub(super) fn operator_key_path(&self) -> Option<PathBuf> {
        self.operator_key_file
            .clone()
            .or_else(|| self.dev.then(|| self.data_dir.join("operator.key")))
    }

    pub(super) fn secrets_key_path(&self) -> PathBuf {
        self.secrets_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets.key"))
    }

    pub fn data_key_path(&self) -> PathBuf {
        self.data_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("data.key"))
    }

    pub(super) fn index_key_path(&self) -> PathBuf {
        self.index_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("index.key"))
    }

    pub fn read_model_path(&self) -> PathBuf {
        self.data_dir.join("read-model.db")
    }
}
