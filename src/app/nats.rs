//! The NATS connection every role makes, the event store on it, and the
//! credentials of `authd dev`'s own broker.

use std::{path::Path, path::PathBuf, time::Duration};

use anyhow::Context as _;
use authd_events::{EventStore, StoreConfig};

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
    // Each seed may carry `user:password@`; the first one given is used.
    let mut from_url = None;
    let bare: Vec<String> = url
        .split(',')
        .map(|seed| {
            let (bare, credentials) = authd_events::nats_url::split_credentials(seed.trim());
            from_url = from_url.take().or(credentials);
            bare
        })
        .collect();
    let url = bare.join(",");
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
                        metrics::gauge!("authd_nats_connected").set(1.0);
                        metrics::counter!("authd_nats_connects_total").increment(1);
                    }
                    async_nats::Event::Disconnected => {
                        metrics::gauge!("authd_nats_connected").set(0.0);
                        tracing::warn!("disconnected from NATS")
                    }
                    _ => {}
                }
            }
        })
        .retry_on_initial_connect()
        .max_reconnects(None)
        // A broker that stops answering (a frozen node, a partition) keeps
        // its TCP connection open: the client only notices when its pings
        // go unanswered. At async-nats' default (one a minute, stale after
        // two) requests hung for minutes; see `PING_INTERVAL`.
        .ping_interval(PING_INTERVAL)
        // Each subscription buffers at most this many messages (default
        // 65,536): a consumer catching up must not pile the stream up in memory.
        .subscription_capacity(4096)
        .connection_timeout(Duration::from_secs(5))
        .connect(servers(url)?)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))?;
    Ok(Nats { client, reconnects })
}

/// How often the client pings its broker: two unanswered and it moves to
/// another seed, so a frozen node costs its clients ~4–6 s, not minutes.
const PING_INTERVAL: Duration = Duration::from_secs(2);

/// The seed servers of a `--nats-url`: one URL, or several separated by
/// commas (`nats://a:4222,nats://b:4222`); the client reconnects to any.
fn servers(url: &str) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<async_nats::ServerAddr>()
                .map_err(|e| anyhow::anyhow!("{u:?} is not a NATS URL: {e}"))
        })
        .collect()
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

/// How often a process asks which server leads the event stream.
const LEADER_EVERY: Duration = Duration::from_secs(2);

/// Keeps `authd_stream_leader{stream, server}` at 1 for the server this
/// process last saw leading the event stream (0 for those it saw before),
/// and `authd_stream_replicas_current` at how many of its followers are
/// current: an operator sees an election, and a lagging replica, from any
/// role's metrics.
pub(super) async fn watch_leader(
    client: async_nats::Client,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let js = async_nats::jetstream::new(client.clone());
    let stream = authd_events::subject::EVENT_STREAM;
    let mut shown: Option<String> = None;
    loop {
        // The connection's events set it at once; this sets it from the
        // start (the first connection raises no event).
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        metrics::gauge!("authd_nats_connected").set(if connected { 1.0 } else { 0.0 });
        let seen = match js.get_stream(stream).await {
            Ok(mut s) => s.info().await.ok().map(|i| i.cluster.clone()),
            Err(_) => None,
        };
        if let Some(cluster) = seen {
            // A single server reports no cluster: it leads alone.
            let (leader, current) = match cluster {
                Some(c) => (
                    c.leader.unwrap_or_default(),
                    c.replicas.iter().filter(|r| r.current).count(),
                ),
                None => ("single".to_string(), 0),
            };
            metrics::gauge!("authd_stream_replicas_current", "stream" => stream)
                .set(current as f64);
            if shown.as_deref() != Some(leader.as_str()) {
                if let Some(before) = shown.take() {
                    metrics::gauge!("authd_stream_leader", "stream" => stream, "server" => before)
                        .set(0.0);
                }
                if !leader.is_empty() {
                    metrics::gauge!("authd_stream_leader", "stream" => stream, "server" => leader.clone())
                        .set(1.0);
                    shown = Some(leader);
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(LEADER_EVERY) => {}
        }
    }
}
