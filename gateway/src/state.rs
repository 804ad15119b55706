//! What every request handler shares (the schemas live one layer up, in
//! `http::Gateway`, so nothing here depends on an API).

use std::{sync::Arc, time::Duration};

use authd_events::EventStore;
use authd_projections::ReadModel;
use authd_services::{CommandBus, tokens::TokenVerifier};
use tokio::sync::watch;

use crate::Limits;

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
    pub rate_limits: crate::limits::RateLimits,
    pub parsed: crate::parsed::ParsedQueries,
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

    pub fn applied_seq(&self) -> u64 {
        *self.applied.borrow()
    }
}

impl Limits {
    pub fn consistency_wait_default() -> Duration {
        Duration::from_secs(2)
    }
}
