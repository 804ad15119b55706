//! How deliveries are made: retries, window, timeout, address policy.

use std::time::Duration;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Plain http and private addresses may be sent to (`authd dev`,
    /// `--allow-private-webhook-urls`).
    pub allow_private: bool,
    /// The wait before the first retry; doubled at each one.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry_delay: Duration,
    /// Past this since the event was queued, a failed delivery is given up.
    pub retry_window: Duration,
    /// An endpoint's answer is waited for this long.
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            allow_private: false,
            first_retry: Duration::from_secs(5),
            max_retry_delay: Duration::from_secs(3600),
            retry_window: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
        }
    }
}
