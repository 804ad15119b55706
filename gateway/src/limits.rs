//! Per-client-IP and per-account rate limits on the operations that can be
//! used to guess credentials or flood inboxes.

use std::{
    hash::BuildHasher,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

/// Keys each limiter holds at most: past this, keys back at a full burst
/// are forgotten, and if that is not enough, all of them.
const MAX_KEYS: usize = 100_000;

pub struct RateLimits {
    per_ip: Limiter<IpAddr>,
    /// Keyed by a keyed hash of (project, normalized email): a fixed size
    /// per key, whatever the address.
    per_account: Limiter<u64>,
    hasher: std::collections::hash_map::RandomState,
    max_keys: usize,
}

/// A keyed limiter that can start over (governor's cannot be emptied).
struct Limiter<K: std::hash::Hash + Eq + Clone> {
    quota: Quota,
    keyed: std::sync::RwLock<DefaultKeyedRateLimiter<K>>,
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    fn new(quota: Quota) -> Self {
        Self {
            quota,
            keyed: std::sync::RwLock::new(RateLimiter::keyed(quota)),
        }
    }

    /// `Err(wait)` when `key`'s budget is spent.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let keyed = self.keyed.read().unwrap();
        keyed
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(keyed.clock().now()))
    }

    fn len(&self) -> usize {
        self.keyed.read().unwrap().len()
    }

    /// Forgets keys back at a full burst; then, if still `max` or more,
    /// every key.
    fn bound(&self, max: usize) {
        let mut keyed = self.keyed.write().unwrap();
        keyed.retain_recent();
        if keyed.len() >= max {
            *keyed = RateLimiter::keyed(self.quota);
        }
        keyed.shrink_to_fit();
    }
}

/// The key of a client address: an IPv6 client is its /64 (one host holds
/// a whole /64), an IPv4-mapped address its IPv4 address.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

impl RateLimits {
    /// Requests per minute allowed for one client IP and for one account
    /// (project + normalized email), each with a burst of the same size.
    pub fn new(per_ip_per_minute: u32, per_account_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"));
        Self {
            per_ip: Limiter::new(quota(per_ip_per_minute)),
            per_account: Limiter::new(quota(per_account_per_minute)),
            hasher: Default::default(),
            max_keys: MAX_KEYS,
        }
    }

    /// `Err(wait)` when either limit is exhausted.
    pub fn check(&self, ip: Option<IpAddr>, account: Option<(&str, &str)>) -> Result<(), Duration> {
        // Each limiter's own clock: a new quanta clock per call would
        // calibrate itself (CPUID, a VM exit under virtualisation) every time.
        // Memory stays bounded: keys back at a full burst are forgotten
        // (they lose nothing) once a limiter holds `max_keys`.
        if self.per_ip.len() >= self.max_keys {
            self.per_ip.bound(self.max_keys);
        }
        if self.per_account.len() >= self.max_keys {
            self.per_account.bound(self.max_keys);
        }
        if let Some(ip) = ip {
            self.per_ip.check(&ip_key(ip))?;
        }
        if let Some((project, email)) = account {
            let normalized = authd_events::keyed_hash::normalize_email(email);
            self.per_account
                .check(&self.hasher.hash_one((project, normalized)))?;
        }
        Ok(())
    }

    #[cfg(test)]
    fn keys(&self) -> (usize, usize) {
        (self.per_ip.len(), self.per_account.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let limits = RateLimits::new(2, 100);
        let host = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(limits.check(host("2001:db8:1:2::1"), None).is_ok());
        // Another address in the same /64 spends the same budget…
        assert!(limits.check(host("2001:db8:1:2:ffff::9"), None).is_ok());
        assert!(limits.check(host("2001:db8:1:2::77"), None).is_err());
        // …another /64 has its own.
        assert!(limits.check(host("2001:db8:1:3::1"), None).is_ok());
        // An IPv4-mapped address is the IPv4 client.
        let limits = RateLimits::new(1, 100);
        assert!(limits.check(host("192.0.2.7"), None).is_ok());
        assert!(limits.check(host("::ffff:192.0.2.7"), None).is_err());
    }

    #[test]
    fn the_limiters_hold_a_bounded_number_of_keys() {
        let mut limits = RateLimits::new(5, 5);
        limits.max_keys = 100;
        for i in 0..1_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            let _ = limits.check(Some(ip), Some(("p", &format!("u{i}@x.io"))));
            let (ips, accounts) = limits.keys();
            assert!(ips <= 100 && accounts <= 100, "{ips} {accounts}");
        }
    }

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
