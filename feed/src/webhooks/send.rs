//! One attempt: the payload built from the log, signed per the Standard
//! Webhooks spec, POSTed with no redirect followed, to public addresses
//! only (unless private ones are allowed), within the timeout.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use authd_events::webhook::{SECRET_PREFIX, is_public_ip};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::options::WebhookOptions;

/// What an attempt came to.
pub(super) struct Answer {
    pub(super) status: Option<u16>,
    pub(super) error: Option<String>,
    pub(super) duration_ms: u64,
}

impl Answer {
    pub(super) fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Resolves names to public addresses only: a name that points inside
/// (at delivery time, whatever it pointed at when the endpoint was made)
/// is not connected to.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err("the name resolves to no public address".into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

pub(super) fn client(options: &WebhookOptions) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .user_agent(concat!("authd-webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(std::time::Duration::from_secs(30));
    if !options.allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(b.build()?)
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the secret's key.
pub(super) fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .unwrap_or_default();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether the URL may be sent to now (the policy may have tightened since
/// the endpoint was made; a name is checked when it is resolved).
fn allowed(url: &reqwest::Url, options: &WebhookOptions) -> Result<(), &'static str> {
    if options.allow_private {
        return matches!(url.scheme(), "https" | "http")
            .then_some(())
            .ok_or("not an http(s) URL");
    }
    if url.scheme() != "https" {
        return Err("plain http is not allowed");
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.into()),
        Some(url::Host::Ipv6(ip)) => Some(ip.into()),
        _ => None,
    };
    match ip {
        Some(ip) if !is_public_ip(ip) => Err("a private address is not allowed"),
        _ => Ok(()),
    }
}

/// POSTs `body` to `url`, signed.
pub(super) async fn attempt(
    client: &reqwest::Client,
    options: &WebhookOptions,
    url: &str,
    secret: &str,
    id: &str,
    body: Vec<u8>,
) -> Answer {
    let started = Instant::now();
    let done = |status: Option<u16>, error: Option<String>| Answer {
        status,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let url = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(_) => return done(None, Some("not a URL".into())),
    };
    if let Err(why) = allowed(&url, options) {
        return done(None, Some(why.into()));
    }
    let timestamp = authd_events::now_millis() / 1000;
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(secret, id, timestamp, &body))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => done(Some(r.status().as_u16()), None),
        Ok(r) => {
            let status = r.status();
            let why = if status.is_redirection() {
                format!("answered {} (redirects are not followed)", status.as_u16())
            } else {
                format!("answered {}", status.as_u16())
            };
            done(Some(status.as_u16()), Some(why))
        }
        // Never the error's own text: it names the URL.
        Err(e) if e.is_timeout() => done(None, Some("no answer in time".into())),
        Err(e) if e.is_connect() => done(None, Some("cannot connect".into())),
        Err(_) => done(None, Some("the request failed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that points inside (here `localhost`) is not connected to,
    /// whatever it pointed at when the endpoint was made.
    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let name: Name = "localhost".parse().unwrap();
        let resolved = PublicOnly.resolve(name).await;
        assert!(resolved.is_err());
    }

    #[test]
    fn the_policy_is_checked_again_at_delivery() {
        let strict = WebhookOptions::default();
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(allowed(&url("https://hooks.example.com/x"), &strict).is_ok());
        assert!(allowed(&url("http://hooks.example.com/x"), &strict).is_err());
        assert!(allowed(&url("https://10.0.0.1/x"), &strict).is_err());
        assert!(allowed(&url("https://[::1]/x"), &strict).is_err());
        let dev = WebhookOptions {
            allow_private: true,
            ..Default::default()
        };
        assert!(allowed(&url("http://127.0.0.1:9/x"), &dev).is_ok());
    }

    /// The Standard Webhooks spec's own example.
    #[test]
    fn signs_like_the_spec() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
