//! The services' clock: wall time plus an offset tests can advance, so expiry
//! rules are tested without waiting.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Unix milliseconds.
    pub fn now(&self) -> i64 {
        authd_events::now_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}
