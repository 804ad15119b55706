//! Failed logins for addresses without an account, one aggregate per
//! (project, email hash). They lock exactly like a customer does, so that a
//! lock never tells an attacker that an account exists.

use authd_events::{
    AggregateKind, CustomerLocked, Event, LoginAttemptEvent, LoginFailedForUnknownEmail,
    LoginMethod,
};

use super::{
    aggregate::{Aggregate, At},
    customer::lock_duration,
};
use crate::error::DomainError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginAttempts {
    pub failed: u32,
    pub locks: u32,
    pub locked_until: i64,
}

pub enum AttemptCommand {
    /// A password login for the address failed (every one does: there is
    /// no account).
    RecordFailure { lockout_threshold: u32 },
}

/// Records a failed attempt and the lock it may trigger; the answer is what
/// the customer aggregate would give (see `answer`).
fn decide(s: &LoginAttempts, now: i64, lockout_threshold: u32) -> Vec<LoginAttemptEvent> {
    let mut events = vec![LoginAttemptEvent::FailedForUnknownEmail(
        LoginFailedForUnknownEmail {
            method: LoginMethod::Password,
        },
    )];
    if now >= s.locked_until && lockout_threshold > 0 && s.failed + 1 >= lockout_threshold {
        events.push(LoginAttemptEvent::Locked(CustomerLocked {
            until: now + lock_duration(s.locks),
        }));
    }
    events
}

/// The answer to an attempt decided at `now` on state `before`.
pub fn answer(before: &LoginAttempts, now: i64) -> DomainError {
    if now < before.locked_until {
        DomainError::AccountLocked {
            until: before.locked_until,
        }
    } else {
        DomainError::InvalidCredentials
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
        let AttemptCommand::RecordFailure { lockout_threshold } = command;
        Ok(decide(self, now, *lockout_threshold))
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
                if at.time >= self.locked_until {
                    self.failed += 1;
                }
            }
            LoginAttemptEvent::Locked(l) => {
                self.locked_until = l.until;
                self.locks += 1;
                self.failed = 0;
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{aggregate::given::T0, customer::BASE_LOCK_MS};

    fn state(events: &[LoginAttemptEvent], at: i64) -> LoginAttempts {
        LoginAttempts::default().evolve_all(events, At { seq: 1, time: at })
    }
    fn failed() -> LoginAttemptEvent {
        LoginAttemptEvent::FailedForUnknownEmail(LoginFailedForUnknownEmail {
            method: LoginMethod::Password,
        })
    }

    #[test]
    fn an_unknown_address_locks_like_an_account() {
        let s = state(&[failed(), failed(), failed(), failed()], T0);
        assert_eq!(
            decide(&s, T0, 5),
            vec![
                failed(),
                LoginAttemptEvent::Locked(CustomerLocked {
                    until: T0 + BASE_LOCK_MS
                })
            ]
        );
        assert_eq!(answer(&s, T0), DomainError::InvalidCredentials);
        let locked = state(
            &[LoginAttemptEvent::Locked(CustomerLocked { until: T0 + 10 })],
            T0,
        );
        assert_eq!(
            answer(&locked, T0),
            DomainError::AccountLocked { until: T0 + 10 }
        );
        assert_eq!(decide(&locked, T0, 5), vec![failed()]);
        assert_eq!(answer(&locked, T0 + 10), DomainError::InvalidCredentials);
    }
}
