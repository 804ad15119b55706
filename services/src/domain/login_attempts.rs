//! Failed logins for addresses without an account, one aggregate per
//! (project, email hash). They lock exactly like a customer does, so that a
//! lock never tells an attacker that an account exists.

use authd_events::{
    AggregateKind, ClientLocked, CustomerLocked, Event, LoginAttemptEvent,
    LoginFailedForUnknownEmail, LoginMethod, ResetRequestedForUnknownEmail,
};

use super::{
    aggregate::{Aggregate, At},
    lockout::{self, ClientLocks},
};
use crate::error::DomainError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginAttempts {
    pub failed: u32,
    pub locks: u32,
    pub locked_until: i64,
    pub clients: ClientLocks,
    /// When reset links were asked for, within the last hour or so.
    pub reset_requested_at: Vec<i64>,
}

impl LoginAttempts {
    fn lockout(&self) -> lockout::Account<'_> {
        lockout::Account {
            failed: self.failed,
            locks: self.locks,
            locked_until: self.locked_until,
            clients: &self.clients,
        }
    }
}

pub enum AttemptCommand {
    /// A password login for the address failed (every one does: there is
    /// no account), from `client`.
    RecordFailure { lockout_threshold: u32, client: u64 },
    /// A reset link was asked for the address: recorded unless throttled,
    /// exactly as for a customer.
    RequestReset,
}

/// Records a failed attempt and the locks it may trigger, per client and
/// account-wide as for customers; the answer is what the customer aggregate
/// would give (see `answer`).
fn decide(
    s: &LoginAttempts,
    now: i64,
    lockout_threshold: u32,
    client: u64,
) -> Vec<LoginAttemptEvent> {
    let mut events = vec![LoginAttemptEvent::FailedForUnknownEmail(
        LoginFailedForUnknownEmail {
            method: LoginMethod::Password,
        },
    )];
    if s.lockout().locked_for(client, now).is_none() {
        let locks = s.lockout().after_failure(client, lockout_threshold, now);
        if let Some(until) = locks.client_until {
            events.push(LoginAttemptEvent::ClientLocked(ClientLocked { until }));
        }
        if let Some(until) = locks.account_until {
            events.push(LoginAttemptEvent::Locked(CustomerLocked { until }));
        }
    }
    events
}

/// The answer to an attempt from `client` decided at `now` on state `before`.
pub fn answer(before: &LoginAttempts, client: u64, now: i64) -> DomainError {
    match before.lockout().locked_for(client, now) {
        Some(until) => DomainError::AccountLocked { until },
        None => DomainError::InvalidCredentials,
    }
}

impl Aggregate for LoginAttempts {
    const KIND: AggregateKind = AggregateKind::LoginAttempts;
    type Command = AttemptCommand;
    type Event = LoginAttemptEvent;

    fn decide(
        &self,
        command: &AttemptCommand,
        now: i64,
    ) -> Result<Vec<LoginAttemptEvent>, DomainError> {
        match command {
            AttemptCommand::RecordFailure {
                lockout_threshold,
                client,
            } => Ok(decide(self, now, *lockout_threshold, *client)),
            AttemptCommand::RequestReset
                if super::customer::reset_throttled_after(&self.reset_requested_at, now) =>
            {
                Ok(vec![])
            }
            AttemptCommand::RequestReset => Ok(vec![LoginAttemptEvent::ResetRequested(
                ResetRequestedForUnknownEmail {},
            )]),
        }
    }

    fn wrap(event: LoginAttemptEvent) -> Event {
        Event::LoginAttempt(event)
    }

    fn evolve(mut self, event: &Event, at: At) -> Self {
        let Event::LoginAttempt(e) = event else {
            return self;
        };
        match e {
            LoginAttemptEvent::FailedForUnknownEmail(_) => {
                // Attempts during a lock do not count toward the next one,
                // as with customers.
                if self.lockout().locked_for(at.client, at.time).is_none() {
                    self.failed += 1;
                    self.clients.failed(at.client);
                }
            }
            LoginAttemptEvent::Locked(l) => {
                self.locked_until = l.until;
                self.locks += 1;
                self.failed = 0;
            }
            LoginAttemptEvent::ClientLocked(l) => self.clients.locked(at.client, l.until),
            LoginAttemptEvent::ResetRequested(_) => {
                self.reset_requested_at.retain(|t| at.time - t < 3_600_000);
                self.reset_requested_at.push(at.time);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{aggregate::given::T0, customer::BASE_LOCK_MS};

    /// The state after `events`, each from `client` at `at`.
    fn state(events: &[LoginAttemptEvent], at: i64, client: u64) -> LoginAttempts {
        LoginAttempts::default().evolve_all(
            events,
            At {
                seq: 1,
                time: at,
                client,
            },
        )
    }
    fn failed() -> LoginAttemptEvent {
        LoginAttemptEvent::FailedForUnknownEmail(LoginFailedForUnknownEmail {
            method: LoginMethod::Password,
        })
    }

    #[test]
    fn an_unknown_address_locks_like_an_account_per_client_first() {
        let s = state(&[failed(), failed(), failed(), failed()], T0, 1);
        // The 5th from client 1 locks client 1 only.
        let client_lock = LoginAttemptEvent::ClientLocked(ClientLocked {
            until: T0 + BASE_LOCK_MS,
        });
        assert_eq!(decide(&s, T0, 5, 1), vec![failed(), client_lock.clone()]);
        assert_eq!(decide(&s, T0, 5, 2), vec![failed()]);
        assert_eq!(answer(&s, 1, T0), DomainError::InvalidCredentials);
        let s = s.evolve_all(
            &[failed(), client_lock],
            At {
                seq: 2,
                time: T0,
                client: 1,
            },
        );
        assert_eq!(
            answer(&s, 1, T0),
            DomainError::AccountLocked {
                until: T0 + BASE_LOCK_MS
            }
        );
        assert_eq!(answer(&s, 2, T0), DomainError::InvalidCredentials);
        // Attempts during the lock are recorded and do not count.
        assert_eq!(decide(&s, T0, 5, 1), vec![failed()]);
        // Account-wide only at ten times the threshold.
        let many: Vec<_> = (0..49).map(|_| failed()).collect();
        let s = state(&many, T0, 0);
        let s = LoginAttempts {
            clients: ClientLocks::default(),
            ..s
        };
        assert_eq!(
            decide(&s, T0, 5, 3),
            vec![
                failed(),
                LoginAttemptEvent::Locked(CustomerLocked {
                    until: T0 + BASE_LOCK_MS
                })
            ]
        );
        let locked = state(
            &[LoginAttemptEvent::Locked(CustomerLocked { until: T0 + 10 })],
            T0,
            0,
        );
        assert_eq!(
            answer(&locked, 9, T0),
            DomainError::AccountLocked { until: T0 + 10 }
        );
        assert_eq!(answer(&locked, 9, T0 + 10), DomainError::InvalidCredentials);
    }

    #[test]
    fn reset_requests_for_an_unknown_address_are_throttled_like_a_customers() {
        let s = LoginAttempts::default();
        let requested = LoginAttemptEvent::ResetRequested(ResetRequestedForUnknownEmail {});
        assert_eq!(
            s.decide(&AttemptCommand::RequestReset, T0),
            Ok(vec![requested.clone()])
        );
        let s = state(&[requested], T0, 0);
        assert_eq!(
            s.decide(&AttemptCommand::RequestReset, T0 + 1_000),
            Ok(vec![])
        );
        assert_eq!(
            s.decide(&AttemptCommand::RequestReset, T0 + 30_000)
                .map(|e| e.len()),
            Ok(1)
        );
    }
}
