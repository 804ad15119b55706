//! Per-client-IP and per-account rate limits on the operations that can be
//! used to guess credentials or flood inboxes.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

pub struct RateLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<(String, String)>,
}

impl RateLimits {
    /// Requests per minute allowed for one client IP and for one account
    /// (project + normalized email), each with a burst of the same size.
    pub fn new(per_ip_per_minute: u32, per_account_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"));
        Self {
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
        }
    }

    /// `Err(wait)` when either limit is exhausted.
    pub fn check(&self, ip: Option<IpAddr>, account: Option<(&str, &str)>) -> Result<(), Duration> {
        // Each limiter's own clock: a new quanta clock per call would
        // calibrate itself (CPUID, a VM exit under virtualisation) every time.
        if let Some(ip) = ip
            && let Err(not_until) = self.per_ip.check_key(&ip)
        {
            return Err(not_until.wait_time_from(self.per_ip.clock().now()));
        }
        if let Some((project, email)) = account {
            let key = (
                project.to_string(),
                authd_events::keyed_hash::normalize_email(email),
            );
            if let Err(not_until) = self.per_account.check_key(&key) {
                return Err(not_until.wait_time_from(self.per_account.clock().now()));
            }
        }
        Ok(())
    }

    /// Forgets keys that are back to a full burst, bounding memory.
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_account.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_budget() {
        let limits = RateLimits::new(3, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.check(Some(ip), Some(("p", "a@x.io"))).is_ok());
        assert!(limits.check(Some(ip), Some(("p", "A@x.io"))).is_ok());
        // the account is spent (case-insensitively), the IP is not
        let wait = limits.check(Some(ip), Some(("p", "a@x.io"))).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60));
        assert!(
            limits.check(Some(ip), Some(("p", "b@x.io"))).is_err(),
            "the IP is spent now"
        );
        assert!(
            limits
                .check(Some("10.0.0.2".parse().unwrap()), Some(("q", "a@x.io")))
                .is_ok()
        );
    }
}
