//! The session aggregate: refresh-token rotation with reuse detection.

use authd_events::{
    AggregateKind, Event, LoginMethod, RefreshTokenReused, RevokeReason, SecretHash, SessionEvent,
    SessionRefreshed, SessionRevoked, SessionStarted,
};

use crate::{
    aggregate::{Aggregate, At},
    error::DomainError,
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub customer_id: Option<String>,
    /// Hash of the refresh token of each generation; the last one is current.
    pub token_hashes: Vec<SecretHash>,
    pub expires_at: i64,
    pub revoked: Option<RevokeReason>,
    /// Stream sequence of the message that started the session.
    pub started_seq: u64,
    pub method: Option<LoginMethod>,
}

pub enum SessionCommand {
    Start {
        customer_id: String,
        method: LoginMethod,
        refresh_token_hash: SecretHash,
        expires_at: i64,
    },
    /// `customer_allows`: the customer is active and has not ended this
    /// session (see `Customer::session_allowed`).
    Refresh {
        presented_hash: SecretHash,
        new_hash: SecretHash,
        now: i64,
        customer_allows: bool,
    },
    Revoke {
        reason: RevokeReason,
        by_customer: Option<String>,
    },
}

pub fn decide(s: &Session, cmd: SessionCommand) -> Result<Vec<SessionEvent>, DomainError> {
    match cmd {
        SessionCommand::Start {
            customer_id,
            method,
            refresh_token_hash,
            expires_at,
        } => {
            if s.customer_id.is_some() {
                return Err(DomainError::InvalidInput("sessionId"));
            }
            Ok(vec![SessionEvent::Started(SessionStarted {
                customer_id,
                method,
                refresh_token_hash,
                expires_at,
            })])
        }
        SessionCommand::Refresh {
            presented_hash,
            new_hash,
            now,
            customer_allows,
        } => {
            if s.customer_id.is_none() {
                return Err(DomainError::InvalidRefreshToken);
            }
            let Some(generation) = s.token_hashes.iter().position(|h| *h == presented_hash) else {
                return Err(DomainError::InvalidRefreshToken);
            };
            if s.revoked.is_some() || !customer_allows {
                return Err(DomainError::SessionRevoked);
            }
            let current = s.token_hashes.len() - 1;
            if generation < current {
                // A rotated token came back: whoever holds it may be a thief,
                // so the whole session ends, for the thief and the owner alike.
                return Ok(vec![
                    SessionEvent::RefreshTokenReused(RefreshTokenReused {
                        generation: generation as u32,
                    }),
                    SessionEvent::Revoked(SessionRevoked {
                        reason: RevokeReason::RefreshTokenReused,
                    }),
                ]);
            }
            if now >= s.expires_at {
                return Err(DomainError::InvalidRefreshToken);
            }
            Ok(vec![SessionEvent::Refreshed(SessionRefreshed {
                generation: s.token_hashes.len() as u32,
                refresh_token_hash: new_hash,
            })])
        }
        SessionCommand::Revoke {
            reason,
            by_customer,
        } => {
            let Some(owner) = &s.customer_id else {
                return Err(DomainError::SessionNotFound);
            };
            if by_customer.is_some_and(|c| &c != owner) {
                return Err(DomainError::SessionNotFound);
            }
            if s.revoked.is_some() {
                return Ok(vec![]);
            }
            Ok(vec![SessionEvent::Revoked(SessionRevoked { reason })])
        }
    }
}

/// Whether the events answer a refresh with "token reused".
pub fn reuse_detected(events: &[SessionEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SessionEvent::RefreshTokenReused(_)))
}

impl Aggregate for Session {
    const KIND: AggregateKind = AggregateKind::Session;
    type Event = SessionEvent;

    fn wrap(event: SessionEvent) -> Event {
        Event::Session(event)
    }

    fn evolve(mut self, event: &Event, at: At) -> Self {
        let Event::Session(e) = event else {
            return self;
        };
        match e {
            SessionEvent::Started(s) => {
                self.customer_id = Some(s.customer_id.clone());
                self.token_hashes = vec![s.refresh_token_hash];
                self.expires_at = s.expires_at;
                self.started_seq = at.seq;
                self.method = Some(s.method);
            }
            SessionEvent::Refreshed(r) => self.token_hashes.push(r.refresh_token_hash),
            SessionEvent::RefreshTokenReused(_) => {}
            SessionEvent::Revoked(r) => self.revoked = Some(r.reason),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: i64 = 10_000;

    fn started() -> SessionEvent {
        SessionEvent::Started(SessionStarted {
            customer_id: "c_1".into(),
            method: LoginMethod::Password,
            refresh_token_hash: [0; 32],
            expires_at: EXP,
        })
    }
    fn refreshed(generation: u32) -> SessionEvent {
        SessionEvent::Refreshed(SessionRefreshed {
            generation,
            refresh_token_hash: [generation as u8; 32],
        })
    }
    fn revoked(reason: RevokeReason) -> SessionEvent {
        SessionEvent::Revoked(SessionRevoked { reason })
    }
    fn refresh(presented: u8, new: u8, now: i64) -> SessionCommand {
        SessionCommand::Refresh {
            presented_hash: [presented; 32],
            new_hash: [new; 32],
            now,
            customer_allows: true,
        }
    }

    #[test]
    fn a_session_its_customer_ended_cannot_be_refreshed() {
        let cmd = SessionCommand::Refresh {
            presented_hash: [0; 32],
            new_hash: [1; 32],
            now: 5,
            customer_allows: false,
        };
        check(&[started()], cmd, Err(DomainError::SessionRevoked));
    }

    #[track_caller]
    fn check(
        given: &[SessionEvent],
        when: SessionCommand,
        then: Result<Vec<SessionEvent>, DomainError>,
    ) {
        let state = given.iter().fold(Session::default(), |s, e| {
            s.evolve(&Event::Session(e.clone()), At::default())
        });
        assert_eq!(decide(&state, when), then);
    }

    #[test]
    fn the_current_token_rotates() {
        check(&[started()], refresh(0, 1, 5), Ok(vec![refreshed(1)]));
        check(
            &[started(), refreshed(1)],
            refresh(1, 2, 5),
            Ok(vec![refreshed(2)]),
        );
    }

    #[test]
    fn a_rotated_token_presented_again_revokes_the_session() {
        let then = vec![
            SessionEvent::RefreshTokenReused(RefreshTokenReused { generation: 0 }),
            revoked(RevokeReason::RefreshTokenReused),
        ];
        check(
            &[started(), refreshed(1)],
            refresh(0, 9, 5),
            Ok(then.clone()),
        );
        assert!(reuse_detected(&then));
    }

    #[test]
    fn after_revocation_every_token_is_refused() {
        let given = [started(), refreshed(1), revoked(RevokeReason::Logout)];
        check(&given, refresh(1, 2, 5), Err(DomainError::SessionRevoked));
        check(&given, refresh(0, 2, 5), Err(DomainError::SessionRevoked));
    }

    #[test]
    fn unknown_tokens_and_sessions_are_invalid() {
        check(
            &[started()],
            refresh(7, 8, 5),
            Err(DomainError::InvalidRefreshToken),
        );
        check(&[], refresh(0, 8, 5), Err(DomainError::InvalidRefreshToken));
    }

    #[test]
    fn an_expired_session_cannot_be_refreshed() {
        check(
            &[started()],
            refresh(0, 1, EXP),
            Err(DomainError::InvalidRefreshToken),
        );
    }

    #[test]
    fn logout_revokes_once_and_only_for_the_owner() {
        let logout = |by: &str| SessionCommand::Revoke {
            reason: RevokeReason::Logout,
            by_customer: Some(by.into()),
        };
        check(
            &[started()],
            logout("c_1"),
            Ok(vec![revoked(RevokeReason::Logout)]),
        );
        check(
            &[started()],
            logout("c_2"),
            Err(DomainError::SessionNotFound),
        );
        check(
            &[started(), revoked(RevokeReason::Logout)],
            logout("c_1"),
            Ok(vec![]),
        );
        check(&[], logout("c_1"), Err(DomainError::SessionNotFound));
    }
}
