//! The flags every role shares (`Common`) and the [`Config`] they make:
//! part of the `authd` binary (declared in `main.rs`, not the library).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use authd::app::{self, Config};
use clap::Args;

#[derive(Args, Clone)]
pub(crate) struct Common {
    /// Directory for the read model, keys and (in dev) the NATS store.
    #[arg(long, env = "AUTHD_DATA_DIR", default_value = "./data")]
    pub(crate) data_dir: PathBuf,
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
    /// Key-encryption key of customers' data keys (personal data in the log is sealed under those); every role must share it [default: <data-dir>/data.key, created if missing].
    #[arg(long, env = "AUTHD_DATA_KEY_FILE")]
    data_key_file: Option<PathBuf>,
    /// Services only: let sign-in providers (OpenID Connect issuers, OAuth endpoints, Shopify stores) be at loopback and private addresses, e.g. an identity provider inside your network. Always on in dev.
    #[arg(long, env = "AUTHD_ALLOW_PRIVATE_PROVIDER_URLS")]
    allow_private_provider_urls: bool,
    /// Services and feed: let webhook endpoints be plain http and at loopback and private addresses (a receiver inside your network). Always on in dev.
    #[arg(long, env = "AUTHD_ALLOW_PRIVATE_WEBHOOK_URLS")]
    allow_private_webhook_urls: bool,
    /// Feed: how long a webhook delivery that fails is retried (exponential backoff from 5 s, at most an hour apart) before it is marked failed.
    #[arg(long, env = "AUTHD_WEBHOOK_RETRY_HOURS", default_value_t = 24)]
    webhook_retry_hours: u64,
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
    #[arg(long, env = "AUTHD_BODY_LIMIT", default_value_t = 128 * 1024)]
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
    /// `authd dev` and `authd serve` also run the NATS JSON feed (every
    /// event as JSON on `authd.audit.<project>.<aggregate>.<type>`, see
    /// docs/events.md); `--feed false` to skip. `authd feed` runs it alone.
    #[arg(long, env = "AUTHD_FEED", default_value_t = true, action = clap::ArgAction::Set)]
    feed: bool,
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
    /// Replicas of every stream authd creates (events, mail): 3 on a
    /// three-node JetStream cluster. A stream with fewer is raised at start.
    #[arg(long, env = "AUTHD_STREAM_REPLICAS", default_value_t = 1)]
    stream_replicas: usize,
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
    /// How old a sign-in may be to add or remove a second factor
    /// (authenticator app, passkey, recovery codes), in seconds.
    #[arg(long, env = "AUTHD_RECENT_SIGN_IN_SECS", default_value_t = 900)]
    recent_sign_in_secs: u64,
}

/// A CIDR, or a single address as its /32 or /128.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("expected a CIDR like 10.0.0.0/8 or an address, got {s:?}"))
}

pub(crate) fn config(common: &Common, nats_url: String, dev: bool) -> anyhow::Result<Config> {
    anyhow::ensure!(
        (1..=900).contains(&common.access_token_ttl),
        "--access-token-ttl must be between 1 and 900 seconds"
    );
    let mut c = Config::new(common.data_dir.clone(), nats_url);
    c.listen = common.listen;
    c.signing_key_file = common.signing_key_file.clone();
    c.index_key_file = common.index_key_file.clone();
    c.secrets_key_file = common.secrets_key_file.clone();
    c.data_key_file = common.data_key_file.clone();
    c.allow_private_provider_urls = common.allow_private_provider_urls;
    c.allow_private_webhook_urls = common.allow_private_webhook_urls;
    anyhow::ensure!(
        (1..=72).contains(&common.webhook_retry_hours),
        "--webhook-retry-hours must be between 1 and 72"
    );
    c.webhooks.retry_window = Duration::from_secs(common.webhook_retry_hours * 3600);
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
    c.feed = common.feed;
    c.limits.per_ip_per_minute = common.rate_limit_ip;
    c.limits.per_account_per_minute = common.rate_limit_account;
    c.limits.recent_sign_in = std::time::Duration::from_secs(common.recent_sign_in_secs);
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
    anyhow::ensure!(
        (1..=5).contains(&common.stream_replicas),
        "--stream-replicas must be between 1 and 5"
    );
    c.stream_replicas = common.stream_replicas;
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

/// A `--until-time` value: RFC 3339, to Unix ms.
pub(crate) fn parse_rfc3339_ms(s: &str) -> Result<i64, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 date-time like 2026-11-22T10:00:00Z: {e}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}
