//! Lockout per client and per account, shared by customers and by addresses
//! without an account (which must lock exactly alike).
//!
//! Wrong passwords count per (account, client) and per account. A client
//! (an IP address; IPv6 by /64) is refused at the project's threshold; the
//! whole account only at [`ACCOUNT_FACTOR`] times that, so an attacker
//! cannot lock the owner out from everywhere with a handful of guesses.

use std::hash::{DefaultHasher, Hash, Hasher};

/// First lock lasts this long; each further lock doubles it, up to [`MAX_LOCK_MS`].
pub const BASE_LOCK_MS: i64 = 60_000;
pub const MAX_LOCK_MS: i64 = 3_600_000;

/// How long a lock lasts after `previous_locks` earlier locks.
pub fn lock_duration(previous_locks: u32) -> i64 {
    BASE_LOCK_MS
        .saturating_mul(1 << previous_locks.min(16))
        .min(MAX_LOCK_MS)
}

/// The account-wide lock engages at this many times the project's threshold.
pub const ACCOUNT_FACTOR: u32 = 10;
/// Clients remembered per account (the most recent ones).
pub const MAX_CLIENTS: usize = 64;

/// Who a request came from, as a number: the IPv4 address, or the IPv6
/// /64 (one subscriber's network); 0 when unknown (the CLI, tests).
pub fn client_key(ip: Option<&str>) -> u64 {
    let Some(ip) = ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) else {
        return 0;
    };
    let mut h = DefaultHasher::new();
    match ip {
        std::net::IpAddr::V4(v4) => v4.octets().hash(&mut h),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().hash(&mut h),
            None => v6.octets()[..8].hash(&mut h),
        },
    }
    h.finish().max(1)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientLock {
    pub client: u64,
    /// Wrong passwords from the client since its last lock or success.
    pub failed: u32,
    /// Locks of the client since its last success: each lasts longer.
    pub locks: u32,
    /// Unix ms; the client is refused while now < this.
    pub locked_until: i64,
}

/// The clients of one account with failures or locks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientLocks(Vec<ClientLock>);

impl ClientLocks {
    pub fn get(&self, client: u64) -> ClientLock {
        self.0
            .iter()
            .find(|c| c.client == client)
            .copied()
            .unwrap_or(ClientLock {
                client,
                ..Default::default()
            })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces the client's entry by `f` of it, as the most recent one.
    fn update(&mut self, client: u64, f: impl FnOnce(&mut ClientLock)) {
        let mut entry = self.get(client);
        self.0.retain(|c| c.client != client);
        f(&mut entry);
        self.0.push(entry);
        if self.0.len() > MAX_CLIENTS {
            // The entry whose lock ended first (or never began) goes: a
            // crowd of new clients cannot push out a lock still running.
            let oldest = (0..self.0.len())
                .min_by_key(|i| self.0[*i].locked_until)
                .unwrap_or(0);
            self.0.remove(oldest);
        }
    }

    pub fn failed(&mut self, client: u64) {
        self.update(client, |c| c.failed += 1);
    }

    pub fn locked(&mut self, client: u64, until: i64) {
        self.update(client, |c| {
            c.locked_until = until;
            c.locks += 1;
            c.failed = 0;
        });
    }

    /// Whether the client has failures or locks on record.
    pub fn has(&self, client: u64) -> bool {
        self.0.iter().any(|c| c.client == client)
    }

    pub fn succeeded(&mut self, client: u64) {
        self.0.retain(|c| c.client != client);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// An account's failures and locks (account-wide fields and per client).
pub struct Account<'a> {
    pub failed: u32,
    pub locks: u32,
    pub locked_until: i64,
    pub clients: &'a ClientLocks,
}

/// The locks one more wrong password would start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NewLocks {
    pub client_until: Option<i64>,
    pub account_until: Option<i64>,
}

impl Account<'_> {
    /// Until when `client` is refused at `now`, by its own lock or the
    /// account's; `None` when it may try.
    pub fn locked_for(&self, client: u64, now: i64) -> Option<i64> {
        let until = self.locked_until.max(self.clients.get(client).locked_until);
        (now < until).then_some(until)
    }

    /// The locks a wrong password from `client` at `now` starts, under the
    /// project's `threshold` (0: never).
    pub fn after_failure(&self, client: u64, threshold: u32, now: i64) -> NewLocks {
        if threshold == 0 {
            return NewLocks::default();
        }
        let c = self.clients.get(client);
        NewLocks {
            client_until: (c.failed + 1 >= threshold).then(|| now + lock_duration(c.locks)),
            account_until: (self.failed + 1 >= threshold.saturating_mul(ACCOUNT_FACTOR))
                .then(|| now + lock_duration(self.locks)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_addresses_and_ipv6_networks() {
        let k = |ip| client_key(Some(ip));
        assert_eq!(k("203.0.113.7"), k("203.0.113.7"));
        assert_ne!(k("203.0.113.7"), k("203.0.113.8"));
        // One /64 is one client; another /64 is another.
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:203.0.113.7"), k("203.0.113.7"));
        assert_eq!(client_key(None), 0);
        assert_eq!(k("not an address"), 0);
        assert_ne!(k("0.0.0.0"), 0);
    }

    #[test]
    fn a_client_locks_at_the_threshold_the_account_at_ten_times_it() {
        let mut clients = ClientLocks::default();
        let (mut failed, threshold, now) = (0u32, 5u32, 1_000);
        // 4 wrong from client 1: no lock yet; the 5th locks client 1 only.
        for _ in 0..4 {
            let a = Account {
                failed,
                locks: 0,
                locked_until: 0,
                clients: &clients,
            };
            assert_eq!(a.after_failure(1, threshold, now), NewLocks::default());
            clients.failed(1);
            failed += 1;
        }
        let a = Account {
            failed,
            locks: 0,
            locked_until: 0,
            clients: &clients,
        };
        let locks = a.after_failure(1, threshold, now);
        assert_eq!(locks.client_until, Some(now + lock_duration(0)));
        assert_eq!(locks.account_until, None);
        clients.locked(1, now + lock_duration(0));
        failed += 1;
        let a = Account {
            failed,
            locks: 0,
            locked_until: 0,
            clients: &clients,
        };
        assert_eq!(a.locked_for(1, now), Some(now + lock_duration(0)));
        assert_eq!(a.locked_for(2, now), None, "another client may still try");
        assert_eq!(a.locked_for(1, now + lock_duration(0)), None, "and it ends");
        // The account-wide lock comes at 50 failures across clients.
        let a = Account {
            failed: 49,
            locks: 0,
            locked_until: 0,
            clients: &clients,
        };
        assert_eq!(
            a.after_failure(7, threshold, now).account_until,
            Some(now + lock_duration(0))
        );
        let a = Account {
            failed: 48,
            locks: 0,
            locked_until: 0,
            clients: &clients,
        };
        assert_eq!(a.after_failure(7, threshold, now).account_until, None);
        let a = Account {
            failed: 0,
            locks: 0,
            locked_until: now + 5,
            clients: &clients,
        };
        assert_eq!(a.locked_for(9, now), Some(now + 5));
        // A threshold of 0 never locks.
        let a = Account {
            failed: 1000,
            locks: 0,
            locked_until: 0,
            clients: &clients,
        };
        assert_eq!(a.after_failure(1, 0, now), NewLocks::default());
    }

    #[test]
    fn only_the_most_recent_clients_are_remembered() {
        let mut clients = ClientLocks::default();
        for c in 1..=(MAX_CLIENTS as u64 + 10) {
            clients.failed(c);
        }
        assert_eq!(clients.0.len(), MAX_CLIENTS);
        assert_eq!(clients.get(1).failed, 0, "the oldest went");
        assert_eq!(clients.get(MAX_CLIENTS as u64 + 10).failed, 1);
        clients.succeeded(MAX_CLIENTS as u64 + 10);
        assert_eq!(clients.get(MAX_CLIENTS as u64 + 10).failed, 0);
        // A locked client outlasts a crowd of new ones.
        clients.locked(3_000, 99_999);
        for c in 10_000..10_200 {
            clients.failed(c);
        }
        assert_eq!(clients.get(3_000).locked_until, 99_999);
    }
}
