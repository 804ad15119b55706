//! A project's webhook endpoints: where the feed role delivers events
//! over HTTP, signed per the Standard Webhooks spec. The signing secret
//! is never in the log: it is derived from the data key-encryption key,
//! the project, the endpoint and its `secret_generation` (see
//! `DataKeys::webhook_secret`), so services show it once and the feed
//! role signs with it, and a rotation bumps the generation.

use serde::{Deserialize, Serialize};

/// An endpoint as it is from its event on (created or updated: whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub endpoint_id: String,
    pub url: String,
    /// The event types delivered: exact names (`customer.login.failed`)
    /// or a prefix and `*` (`customer.*`); empty: every event.
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Bumped by each rotation of the signing secret.
    pub secret_generation: u32,
}

impl WebhookEndpoint {
    /// Whether events of `type_name` go to this endpoint.
    pub fn wants(&self, type_name: &str) -> bool {
        self.event_types.is_empty()
            || self.event_types.iter().any(|t| match t.strip_suffix('*') {
                Some(prefix) => type_name.starts_with(prefix),
                None => t == type_name,
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointDeleted {
    pub endpoint_id: String,
}

/// An address on the public internet: not loopback, private (RFC 1918,
/// unique-local), link-local (cloud metadata at 169.254.169.254),
/// shared (100.64/10), unspecified, multicast, broadcast, documentation
/// or benchmarking ranges, nor an IPv4 address mapped into IPv6 that is
/// one of those. Webhooks go to these only, unless a deployment allows
/// private URLs.
pub fn is_public_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// The prefix of a Standard Webhooks secret: `whsec_` and the key's bytes
/// in base64.
pub const SECRET_PREFIX: &str = "whsec_";

// ---- deliveries ------------------------------------------------------------

/// The work queue of deliveries: one message per (event, endpoint), a
/// reference only (the event's sequence and index: the payload is built
/// from the log at each attempt, so an erased customer's data is never
/// kept here), on `authd.hook.q.<project>.<endpoint>.<lane>` where the lane
/// is the customer (or `_`): deliveries of one lane go out in order.
pub const QUEUE_STREAM: &str = "AUTH_WEBHOOKS";
pub const QUEUE_SUBJECTS: &str = "authd.hook.q.>";
/// Every attempt, on `authd.hook.a.<project>.<endpoint>`: the last
/// `ATTEMPTS_KEPT` per endpoint, for 30 days (`webhookDeliveries`).
pub const ATTEMPT_STREAM: &str = "AUTH_WEBHOOK_ATTEMPTS";
pub const ATTEMPT_SUBJECTS: &str = "authd.hook.a.>";
pub const ATTEMPTS_KEPT: i64 = 10_000;
const ATTEMPTS_AGE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The lane token of deliveries that concern no customer.
pub const NO_CUSTOMER: &str = "_";

pub fn queue_subject(project: &str, endpoint: &str, lane: &str) -> String {
    format!("authd.hook.q.{project}.{endpoint}.{lane}")
}

/// `(project, endpoint, lane)` of a queue subject.
pub fn parse_queue_subject(subject: &str) -> Option<(&str, &str, &str)> {
    let rest = subject.strip_prefix("authd.hook.q.")?;
    let mut t = rest.split('.');
    let (p, e, l) = (t.next()?, t.next()?, t.next()?);
    t.next().is_none().then_some((p, e, l))
}

pub fn attempt_subject(project: &str, endpoint: &str) -> String {
    format!("authd.hook.a.{project}.{endpoint}")
}

/// A queued delivery: the `idx`-th event of the message at `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub seq: u64,
    pub idx: u32,
}

impl Queued {
    /// Its `webhook-id`: the same at every attempt and for every endpoint.
    pub fn id(&self) -> String {
        format!("evt_{}_{}", self.seq, self.idx)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// A 2xx answer.
    Succeeded,
    /// Refused or unanswered; tried again at `next_attempt_at`.
    Retrying,
    /// Refused or unanswered past the retry window: given up.
    Failed,
}

/// One attempt to deliver, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The delivery's `webhook-id`.
    pub delivery_id: String,
    pub event_sequence: u64,
    pub event_type: String,
    pub customer_id: Option<String>,
    /// Unix ms when it was sent.
    pub at: i64,
    /// The HTTP status, when the endpoint answered.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// Why it failed, when it did (never a secret: no URL, no body).
    pub error: Option<String>,
    pub outcome: Outcome,
    pub next_attempt_at: Option<i64>,
}

/// Creates the queue and the attempts' streams when missing (the feed
/// role, at start).
pub async fn ensure_streams(
    js: &async_nats::jetstream::Context,
    replicas: usize,
) -> Result<(), String> {
    use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
    let configs = [
        Config {
            name: QUEUE_STREAM.into(),
            subjects: vec![QUEUE_SUBJECTS.into()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            num_replicas: replicas.max(1),
            allow_direct: true,
            // The enqueuer's restart after a crash enqueues again what it
            // did since its checkpoint: dropped by `Nats-Msg-Id`.
            duplicate_window: std::time::Duration::from_secs(120),
            ..Default::default()
        },
        Config {
            name: ATTEMPT_STREAM.into(),
            subjects: vec![ATTEMPT_SUBJECTS.into()],
            storage: StorageType::File,
            num_replicas: replicas.max(1),
            max_messages_per_subject: ATTEMPTS_KEPT,
            max_age: ATTEMPTS_AGE,
            ..Default::default()
        },
    ];
    for config in configs {
        let name = config.name.clone();
        let stream = js
            .get_or_create_stream(config)
            .await
            .map_err(|e| format!("cannot create {name}: {e}"))?;
        let have = stream.cached_info().config.clone();
        crate::streams::raise_replicas(js, have, replicas).await?;
    }
    Ok(())
}

/// The attempts kept for an endpoint, oldest first, with their stream
/// sequences; none when nothing was ever delivered.
pub async fn attempts(
    js: &async_nats::jetstream::Context,
    project: &str,
    endpoint: &str,
) -> Result<Vec<(u64, Attempt)>, String> {
    use futures::StreamExt;
    let stream = match js.get_stream(ATTEMPT_STREAM).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                async_nats::jetstream::context::GetStreamErrorKind::JetStream(j)
                    if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.to_string()),
    };
    let messages = crate::streams::held(&stream, &attempt_subject(project, endpoint)).await?;
    let mut messages = std::pin::pin!(messages);
    let mut out = Vec::new();
    while let Some(m) = messages.next().await {
        let m = m?;
        let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
        if let Ok(a) = serde_json::from_slice::<Attempt>(&m.payload) {
            out.push((seq, a));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.215.14", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn types_match_exactly_or_by_prefix() {
        let mut e = WebhookEndpoint {
            endpoint_id: "we_1".into(),
            url: "https://hooks.example".into(),
            event_types: vec![],
            description: String::new(),
            enabled: true,
            secret_generation: 0,
        };
        assert!(e.wants("customer.login.failed"));
        e.event_types = vec!["customer.login.*".into(), "order.recorded".into()];
        assert!(e.wants("customer.login.failed"));
        assert!(e.wants("order.recorded"));
        assert!(!e.wants("order.canceled"));
        assert!(!e.wants("customer.registered"));
    }
}
