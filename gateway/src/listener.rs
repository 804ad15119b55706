//! The HTTP listener: its own accept loop (rather than `axum::serve`) so
//! that slow clients cannot hold it: headers must arrive within a timeout,
//! connections are capped, and TLS (rustls) is terminated here when
//! configured.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{Router, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

#[derive(Clone, Debug)]
pub struct ListenerOptions {
    /// A connection whose request headers have not all arrived by then is
    /// closed (and so is a TLS handshake that takes longer); so is one that
    /// sends nothing (idle between requests included), or reads none of
    /// its answer, for that long.
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long open connections get to finish at shutdown.
    pub drain_timeout: Duration,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            tls: None,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A rustls server configuration from PEM files (a certificate chain and
/// its private key), offering HTTP/2 and HTTP/1.1.
pub fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds no PEM certificate", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{} holds no PEM private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `listener` until `shutdown`, then lets open connections
/// finish (up to the drain timeout). Handlers see the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ListenerOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    // HTTP/1.1, or HTTP/2 where TLS negotiated it: never by sniffing the
    // first bytes, which would wait for them without a timeout.
    let mut h1 = auto::Builder::new(TokioExecutor::new()).http1_only();
    h1.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let mut h2 = auto::Builder::new(TokioExecutor::new()).http2_only();
    h2.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(options.header_read_timeout))
        .keep_alive_timeout(options.header_read_timeout);
    let (h1, h2) = (Arc::new(h1), Arc::new(h2));
    let graceful = GracefulShutdown::new();
    loop {
        // Past the cap, nothing more is accepted until a connection ends.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => p?,
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Silence (before the first byte, between requests, or a client
        // that stops reading) ends the connection; hyper's own header
        // timeout starts only once a request has begun.
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_read_timeout(Some(options.header_read_timeout));
        stream.set_write_timeout(Some(options.header_read_timeout));
        let stream = Box::pin(stream);
        let service = app
            .clone()
            .map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let service = TowerToHyperService::new(service);
        let (h1, h2, tls, watcher) = (h1.clone(), h2.clone(), tls.clone(), graceful.watcher());
        let handshake_timeout = options.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let served = match tls {
                None => {
                    let conn = h1.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let h2_agreed = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    let builder = if h2_agreed { h2 } else { h1 };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout");
    }
    Ok(())
}

/// The client's address: the peer's, unless the peer is a trusted proxy;
/// then the rightmost address of `X-Forwarded-For` (or `Forwarded`'s `for=`)
/// that is not itself a trusted proxy, since everything left of it is
/// whatever the client chose to send.
pub fn client_ip(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_hop)
        .collect();
    if hops.is_empty() {
        hops = headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .filter_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for").then_some(value)
            })
            .filter_map(parse_hop)
            .collect();
    }
    // Rightmost first: the nearest hop was added by our own proxy.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// One hop: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:80`, `"[2001:db8::1]"`
/// or `2001:db8::1`; anything else (`unknown`, obfuscated ids) is skipped.
fn parse_hop(hop: &str) -> Option<std::net::IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: std::net::IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forged = headers(&[("x-forwarded-for", "6.6.6.6")]);
        // Not behind a trusted proxy: the header is ignored.
        let stranger: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(stranger, &forged, &trusted), stranger);
        assert_eq!(client_ip(proxy, &forged, &[]), proxy);
        // Behind one: the rightmost untrusted hop, whatever the client
        // prepended.
        let chain = headers(&[
            ("x-forwarded-for", "6.6.6.6, 7.7.7.7"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.9"),
        ]);
        assert_eq!(
            client_ip(proxy, &chain, &trusted),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
        let forwarded = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https, for=10.1.1.1",
        )]);
        assert_eq!(
            client_ip(proxy, &forwarded, &trusted),
            "2001:db8::7".parse::<std::net::IpAddr>().unwrap()
        );
        // Only trusted hops (or none): the leftmost, or the proxy itself.
        let internal = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.9")]);
        assert_eq!(
            client_ip(proxy, &internal, &trusted),
            "10.9.9.9".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        let garbage = headers(&[("x-forwarded-for", "unknown, _hidden")]);
        assert_eq!(client_ip(proxy, &garbage, &trusted), proxy);
    }
}
