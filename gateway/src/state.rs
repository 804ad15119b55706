//! What every request handler shares (the schemas live one layer up, in
//! `http::Gateway`, so nothing here depends on an API).

use std::{sync::Arc, time::Duration};

use authd_events::EventStore;
use authd_projections::ReadModel;
use authd_services::{CommandBus, tokens::TokenVerifier};
use tokio::sync::watch;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub bus: CommandBus,
    pub read: Arc<ReadModel>,
    pub applied: watch::Receiver<u64>,
    pub verifier: TokenVerifier,
    pub store: EventStore,
    pub limits: Limits,
    pub dev: bool,
    pub audit_index: bool,
    pub audit_applied: Option<watch::Receiver<u64>>,
    pub rate_limits: crate::limits::RateLimits,
    pub operator_key: Option<OperatorKey>,
    pub parsed: crate::parsed::ParsedQueries,
    pub rebuilder: Option<Arc<authd_projections::Rebuilder>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Waits, bounded, until the read model has applied `seq`: a query right
    /// after a write sees that write. Returns whether it got there.
    pub async fn wait_applied(&self, seq: u64) -> bool {
        let mut rx = self.applied.clone();
        let reached =
            tokio::time::timeout(self.limits.consistency_wait, rx.wait_for(|s| *s >= seq)).await;
        let ok = matches!(reached, Ok(Ok(_)));
        if !ok {
            tracing::warn!(
                seq,
                applied = *self.applied.borrow(),
                "read model did not catch up in time"
            );
        }
        ok
    }

    /// Waits, bounded, until the audit index has caught up with the read
    /// model (it trails it by some milliseconds); whether it did.
    pub async fn wait_audit(&self) -> bool {
        let Some(audit) = &self.audit_applied else {
            return false;
        };
        let seq = self.applied_seq();
        let mut rx = audit.clone();
        let reached =
            tokio::time::timeout(self.limits.consistency_wait, rx.wait_for(|s| *s >= seq)).await;
        matches!(reached, Ok(Ok(_)))
    }

    pub fn applied_seq(&self) -> u64 {
        *self.applied.borrow()
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    /// How long a request may take in all.
    pub request_timeout: Duration,
    /// How long a response waits for the read model to apply its own write.
    pub consistency_wait: Duration,
    /// Sign-in and mail-sending operations per minute from one client IP.
    pub per_ip_per_minute: u32,
    /// …and for one account (project + email).
    pub per_account_per_minute: u32,
    /// Answer introspection queries outside dev (`--introspection`).
    pub introspection: bool,
    /// Peers whose `X-Forwarded-For`/`Forwarded` is believed
    /// (`--trusted-proxies`); empty: the peer address is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `Strict-Transport-Security` on every answer (the listener has TLS).
    pub hsts: bool,
    /// How recent a sign-in must be to add or remove a second factor
    /// (`--recent-sign-in-secs`): a stolen access token alone cannot.
    pub recent_sign_in: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_limit: 128 * 1024,
            max_depth: 10,
            max_complexity: 200,
            request_timeout: Duration::from_secs(15),
            consistency_wait: Limits::consistency_wait_default(),
            per_ip_per_minute: 120,
            per_account_per_minute: 20,
            introspection: false,
            trusted_proxies: Vec::new(),
            hsts: false,
            recent_sign_in: Duration::from_secs(15 * 60),
        }
    }
}

impl Limits {
    pub fn consistency_wait_default() -> Duration {
        Duration::from_secs(2)
    }
}

/// Both APIs' limits: depth, complexity, the parser's recursion, directives
/// per field, and introspection only where asked for.
pub fn limited<Q, M, S>(
    schema: async_graphql::SchemaBuilder<Q, M, S>,
    limits: &Limits,
    introspection: bool,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    let schema = schema
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_depth * 2)
        .limit_directives(16);
    if introspection {
        schema
    } else {
        schema.disable_introspection()
    }
}

/// The operator key, kept only as its SHA-256 digest: a presented key is
/// hashed and the digests compared, so the comparison's time says nothing
/// about the key.
pub struct OperatorKey([u8; 32]);

impl OperatorKey {
    pub fn new(key: &str) -> Self {
        Self(Self::digest(key))
    }

    fn digest(key: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(key.as_bytes()).into()
    }

    pub fn matches(&self, presented: &str) -> bool {
        Self::digest(presented) == self.0
    }
}
