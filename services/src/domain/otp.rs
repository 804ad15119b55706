//! One-time codes: one aggregate per (project, email hash), for known and
//! unknown emails alike, so both are answered and throttled the same way.

use authd_events::{
    AggregateKind, Event, OtpAttemptFailed, OtpEvent, OtpIssued, OtpUsed, SecretHash,
};

use super::aggregate::{Aggregate, At};
use crate::error::DomainError;

pub const OTP_TTL_MS: i64 = 10 * 60 * 1000;
pub const MAX_ATTEMPTS: u32 = 5;
/// At most this many codes per email per hour for one client…
pub const MAX_PER_HOUR: usize = 5;
/// …and at least this long between two of them; for all clients together,
/// `lockout::ACCOUNT_FACTOR` times as many an hour (so one client cannot
/// use up the owner's codes).
pub const MIN_INTERVAL_MS: i64 = 30_000;
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub otp_id: String,
    pub code_hash: SecretHash,
    pub expires_at: i64,
    pub failed: u32,
    pub used: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Otp {
    pub current: Option<Current>,
    /// Issue times (unix ms) within the last hour or so, and the client
    /// that asked (`lockout::client_key`).
    pub issued_at: Vec<(i64, u64)>,
}

pub enum OtpCommand {
    Issue {
        otp_id: String,
        code_hash: SecretHash,
        client: u64,
    },
    /// `presented(otp_id)` is the keyed hash of the presented code for that request.
    Verify {
        presented: Box<dyn Fn(&str) -> SecretHash + Send + Sync>,
    },
}

fn decide(s: &Otp, cmd: &OtpCommand, now: i64) -> Result<Vec<OtpEvent>, DomainError> {
    match cmd {
        OtpCommand::Issue {
            otp_id,
            code_hash,
            client,
        } => {
            let recent = |of_client: bool| -> Vec<i64> {
                s.issued_at
                    .iter()
                    .filter(|(t, c)| now - t < HOUR_MS && (!of_client || c == client))
                    .map(|(t, _)| *t)
                    .collect()
            };
            let mine = recent(true);
            if let Some(last) = mine.iter().max()
                && now - last < MIN_INTERVAL_MS
            {
                return Err(DomainError::RateLimited {
                    retry_after_ms: MIN_INTERVAL_MS - (now - last),
                });
            }
            let all = recent(false);
            let account_max = MAX_PER_HOUR * super::lockout::ACCOUNT_FACTOR as usize;
            for (issued, max) in [(&mine, MAX_PER_HOUR), (&all, account_max)] {
                if issued.len() >= max {
                    let oldest = issued.iter().min().copied().unwrap_or(now);
                    return Err(DomainError::RateLimited {
                        retry_after_ms: HOUR_MS - (now - oldest),
                    });
                }
            }
            Ok(vec![OtpEvent::Issued(OtpIssued {
                otp_id: otp_id.clone(),
                code_hash: *code_hash,
                expires_at: now + OTP_TTL_MS,
            })])
        }
        OtpCommand::Verify { presented } => {
            let Some(c) = &s.current else {
                return Err(DomainError::InvalidOtp);
            };
            if c.used || c.failed >= MAX_ATTEMPTS || now >= c.expires_at {
                return Err(DomainError::InvalidOtp);
            }
            if presented(&c.otp_id) == c.code_hash {
                Ok(vec![OtpEvent::Used(OtpUsed {
                    otp_id: c.otp_id.clone(),
                })])
            } else {
                // Recorded, and answered INVALID_OTP (see `verified`).
                Ok(vec![OtpEvent::AttemptFailed(OtpAttemptFailed {
                    otp_id: c.otp_id.clone(),
                })])
            }
        }
    }
}

/// Whether the events answer a verification with success.
pub fn verified(events: &[OtpEvent]) -> bool {
    events.iter().any(|e| matches!(e, OtpEvent::Used(_)))
}

impl Aggregate for Otp {
    const KIND: AggregateKind = AggregateKind::Otp;
    type Command = OtpCommand;
    type Event = OtpEvent;

    fn decide(&self, command: &OtpCommand, now: i64) -> Result<Vec<OtpEvent>, DomainError> {
        decide(self, command, now)
    }

    fn wrap(event: OtpEvent) -> Event {
        Event::Otp(event)
    }

    fn evolve(mut self, event: &Event, at: At) -> Self {
        let Event::Otp(e) = event else { return self };
        match e {
            OtpEvent::Issued(i) => {
                self.current = Some(Current {
                    otp_id: i.otp_id.clone(),
                    code_hash: i.code_hash,
                    expires_at: i.expires_at,
                    failed: 0,
                    used: false,
                });
                self.issued_at.retain(|(t, _)| at.time - t < HOUR_MS);
                self.issued_at.push((at.time, at.client));
            }
            OtpEvent::AttemptFailed(f) => {
                if let Some(c) = self.current.as_mut().filter(|c| c.otp_id == f.otp_id) {
                    c.failed += 1;
                }
            }
            OtpEvent::Used(u) => {
                if let Some(c) = self.current.as_mut().filter(|c| c.otp_id == u.otp_id) {
                    c.used = true;
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 10_000_000;

    fn issued(id: &str, code: u8) -> OtpEvent {
        OtpEvent::Issued(OtpIssued {
            otp_id: id.into(),
            code_hash: [code; 32],
            expires_at: T0 + OTP_TTL_MS,
        })
    }
    fn state(given: &[(OtpEvent, i64)]) -> Otp {
        state_from(given, 0)
    }
    /// The state after `given`, every event asked for by `client`.
    fn state_from(given: &[(OtpEvent, i64)], client: u64) -> Otp {
        given.iter().fold(Otp::default(), |s, (e, t)| {
            s.evolve(
                &Event::Otp(e.clone()),
                At {
                    seq: 1,
                    time: *t,
                    client,
                },
            )
        })
    }
    fn verify(code: u8, now: i64) -> (OtpCommand, i64) {
        let presented = Box::new(move |_: &str| [code; 32]);
        (OtpCommand::Verify { presented }, now)
    }
    fn decide(s: &Otp, (command, now): (OtpCommand, i64)) -> Result<Vec<OtpEvent>, DomainError> {
        s.decide(&command, now)
    }
    fn failed(id: &str) -> OtpEvent {
        OtpEvent::AttemptFailed(OtpAttemptFailed { otp_id: id.into() })
    }

    #[test]
    fn the_right_code_is_used_once() {
        let s = state(&[(issued("o1", 7), T0)]);
        let used = vec![OtpEvent::Used(OtpUsed {
            otp_id: "o1".into(),
        })];
        assert_eq!(decide(&s, verify(7, T0 + 1)), Ok(used.clone()));
        assert!(verified(&used));
        let s = state(&[(issued("o1", 7), T0), (used[0].clone(), T0)]);
        assert_eq!(decide(&s, verify(7, T0 + 2)), Err(DomainError::InvalidOtp));
    }

    #[test]
    fn a_wrong_code_is_recorded_and_five_kill_the_code() {
        let s = state(&[(issued("o1", 7), T0)]);
        let then = decide(&s, verify(8, T0)).unwrap();
        assert_eq!(then, vec![failed("o1")]);
        assert!(!verified(&then));
        let mut given = vec![(issued("o1", 7), T0)];
        given.extend((0..5).map(|_| (failed("o1"), T0)));
        assert_eq!(
            decide(&state(&given), verify(7, T0)),
            Err(DomainError::InvalidOtp)
        );
    }

    #[test]
    fn codes_expire_after_ten_minutes() {
        let s = state(&[(issued("o1", 7), T0)]);
        assert_eq!(
            decide(&s, verify(7, T0 + OTP_TTL_MS)),
            Err(DomainError::InvalidOtp)
        );
        assert_eq!(
            decide(&Otp::default(), verify(7, T0)),
            Err(DomainError::InvalidOtp)
        );
    }

    #[test]
    fn a_new_request_replaces_the_old_code() {
        let s = state(&[
            (issued("o1", 7), T0),
            (issued("o2", 9), T0 + MIN_INTERVAL_MS),
        ]);
        assert_eq!(
            decide(&s, verify(7, T0 + MIN_INTERVAL_MS)),
            Ok(vec![failed("o2")])
        );
    }

    #[test]
    fn requests_are_throttled_per_email_and_client_and_per_email_at_ten_times_that() {
        let issue_from = |client, now| {
            let command = OtpCommand::Issue {
                otp_id: "n".into(),
                code_hash: [0; 32],
                client,
            };
            (command, now)
        };
        let issue = |now| issue_from(0, now);
        let s = state(&[(issued("o1", 7), T0)]);
        assert_eq!(
            decide(&s, issue(T0 + 1_000)),
            Err(DomainError::RateLimited {
                retry_after_ms: 29_000
            })
        );
        assert!(decide(&s, issue(T0 + MIN_INTERVAL_MS)).is_ok());
        let five: Vec<_> = (0..5)
            .map(|i| (issued("o", 1), T0 + i * MIN_INTERVAL_MS))
            .collect();
        let s = state(&five);
        let later = T0 + 10 * MIN_INTERVAL_MS;
        assert!(matches!(
            decide(&s, issue(later)),
            Err(DomainError::RateLimited { .. })
        ));
        assert!(decide(&s, issue(T0 + HOUR_MS)).is_ok());
        // Another client is not held up by the first one's quota, nor by
        // its interval…
        assert!(decide(&s, issue_from(2, later)).is_ok());
        let s1 = state(&[(issued("o1", 7), T0)]);
        assert!(decide(&s1, issue_from(2, T0 + 1_000)).is_ok());
        // …until the address has had ten times the quota in the hour.
        let fifty: Vec<_> = (0..50).map(|i| (issued("o", 1), T0 + i)).collect();
        let s = state_from(&fifty, 3);
        assert!(matches!(
            decide(&s, issue_from(4, T0 + MIN_INTERVAL_MS)),
            Err(DomainError::RateLimited { .. })
        ));
        let fortynine: Vec<_> = (0..49).map(|i| (issued("o", 1), T0 + i)).collect();
        let s = state_from(&fortynine, 3);
        assert!(decide(&s, issue_from(4, T0 + MIN_INTERVAL_MS)).is_ok());
    }
}
