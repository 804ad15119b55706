//! The session aggregate: refresh-token rotation with reuse detection.

use std::sync::Arc;

use authd_events::{
    AggregateKind, Event, LoginMethod, RefreshTokenReused, RevokeReason, SecretHash, SessionEvent,
    SessionRefreshed, SessionRenewed, SessionRevoked, SessionStarted,
};

use super::aggregate::{Aggregate, At};
use crate::error::DomainError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub customer_id: Option<String>,
    /// Hash of the current refresh token.
    pub token_hash: SecretHash,
    /// Its generation: how many times the session was refreshed.
    pub generation: u32,
    /// Hashes of the earlier generations' tokens, for reuse detection.
    pub earlier: TokenHistory,
    pub expires_at: i64,
    pub revoked: Option<RevokeReason>,
    /// Stream sequence of the message that started the session.
    pub started_seq: u64,
    /// Unix ms: when it started (a sign-in that recent proves the customer).
    pub started_at: i64,
    pub method: Option<LoginMethod>,
    /// A Storefront API session: its token is an opaque access token that
    /// is renewed, never rotated (`token_hash` is that token's hash).
    pub storefront: bool,
}

pub enum SessionCommand {
    /// `storefront`: the token is a Storefront `customerAccessToken`.
    Start {
        customer_id: String,
        method: LoginMethod,
        refresh_token_hash: SecretHash,
        expires_at: i64,
        storefront: bool,
    },
    /// Moves a Storefront session's end to `expires_at`; the presented
    /// token must be its own and still live.
    Renew {
        presented_hash: SecretHash,
        expires_at: i64,
        customer_allows: bool,
    },
    /// `customer_allows`: the customer is active and has not ended this
    /// session (see `Customer::session_allowed`).
    Refresh {
        presented_hash: SecretHash,
        new_hash: SecretHash,
        customer_allows: bool,
    },
    /// `presented_hash`: ended by whoever holds its Storefront token (which
    /// must match and be live); otherwise by its customer or an admin.
    Revoke {
        reason: RevokeReason,
        by_customer: Option<String>,
        presented_hash: Option<SecretHash>,
    },
}

fn decide(s: &Session, cmd: &SessionCommand, now: i64) -> Result<Vec<SessionEvent>, DomainError> {
    match cmd {
        SessionCommand::Start {
            customer_id,
            method,
            refresh_token_hash,
            expires_at,
            storefront,
        } => {
            if s.customer_id.is_some() {
                return Err(DomainError::InvalidInput("sessionId"));
            }
            let started = SessionStarted {
                customer_id: customer_id.clone(),
                method: *method,
                refresh_token_hash: *refresh_token_hash,
                expires_at: *expires_at,
            };
            Ok(vec![if *storefront {
                SessionEvent::StorefrontStarted(started)
            } else {
                SessionEvent::Started(started)
            }])
        }
        SessionCommand::Renew {
            presented_hash,
            expires_at,
            customer_allows,
        } => {
            if !storefront_token_live(s, presented_hash, now) || !customer_allows {
                return Err(DomainError::InvalidToken);
            }
            // A renewal never shortens a session.
            Ok(vec![SessionEvent::Renewed(SessionRenewed {
                expires_at: (*expires_at).max(s.expires_at),
            })])
        }
        SessionCommand::Refresh {
            presented_hash,
            new_hash,
            customer_allows,
        } => {
            if s.customer_id.is_none() || s.storefront {
                return Err(DomainError::InvalidRefreshToken);
            }
            let generation = if *presented_hash == s.token_hash {
                s.generation
            } else {
                let Some(back) = s.earlier.position(presented_hash) else {
                    return Err(DomainError::InvalidRefreshToken);
                };
                s.generation - 1 - back as u32
            };
            if s.revoked.is_some() || !customer_allows {
                return Err(DomainError::SessionRevoked);
            }
            if generation < s.generation {
                // A rotated token came back: whoever holds it may be a thief,
                // so the whole session ends, for the thief and the owner alike.
                return Ok(vec![
                    SessionEvent::RefreshTokenReused(RefreshTokenReused { generation }),
                    SessionEvent::Revoked(SessionRevoked {
                        reason: RevokeReason::RefreshTokenReused,
                    }),
                ]);
            }
            if now >= s.expires_at {
                return Err(DomainError::InvalidRefreshToken);
            }
            Ok(vec![SessionEvent::Refreshed(SessionRefreshed {
                generation: s.generation + 1,
                refresh_token_hash: *new_hash,
            })])
        }
        SessionCommand::Revoke {
            reason,
            by_customer,
            presented_hash,
        } => {
            let Some(owner) = &s.customer_id else {
                return Err(DomainError::SessionNotFound);
            };
            if let Some(presented) = presented_hash
                && !storefront_token_live(s, presented, now)
            {
                return Err(DomainError::InvalidToken);
            }
            if by_customer.as_ref().is_some_and(|c| c != owner) {
                return Err(DomainError::SessionNotFound);
            }
            if s.revoked.is_some() {
                return Ok(vec![]);
            }
            Ok(vec![SessionEvent::Revoked(SessionRevoked {
                reason: *reason,
            })])
        }
    }
}

/// Whether `presented` is the live token of a Storefront session.
fn storefront_token_live(s: &Session, presented: &SecretHash, now: i64) -> bool {
    s.storefront
        && s.customer_id.is_some()
        && s.revoked.is_none()
        && now < s.expires_at
        && crate::infra::tokens::digests_equal(presented, &s.token_hash)
}

/// Whether the events answer a refresh with "token reused".
pub fn reuse_detected(events: &[SessionEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SessionEvent::RefreshTokenReused(_)))
}

impl Aggregate for Session {
    const KIND: AggregateKind = AggregateKind::Session;
    type Command = SessionCommand;
    type Event = SessionEvent;

    fn decide(&self, command: &SessionCommand, now: i64) -> Result<Vec<SessionEvent>, DomainError> {
        decide(self, command, now)
    }

    fn wrap(event: SessionEvent) -> Event {
        Event::Session(event)
    }

    fn evolve(mut self, event: &Event, at: At) -> Self {
        let Event::Session(e) = event else {
            return self;
        };
        match e {
            SessionEvent::Started(s) | SessionEvent::StorefrontStarted(s) => {
                self.storefront = matches!(e, SessionEvent::StorefrontStarted(_));
                self.customer_id = Some(s.customer_id.clone());
                self.token_hash = s.refresh_token_hash;
                self.generation = 0;
                self.earlier = TokenHistory::default();
                self.expires_at = s.expires_at;
                self.started_seq = at.seq;
                self.started_at = at.time;
                self.method = Some(s.method);
            }
            SessionEvent::Refreshed(r) => {
                let previous = std::mem::replace(&mut self.token_hash, r.refresh_token_hash);
                self.earlier.push(previous);
                self.generation += 1;
            }
            SessionEvent::RefreshTokenReused(_) => {}
            SessionEvent::Revoked(r) => self.revoked = Some(r.reason),
            SessionEvent::Renewed(r) => self.expires_at = r.expires_at,
        }
        self
    }
}

/// The hashes of a session's earlier refresh tokens, newest first, as a
/// list shared between copies of the state: a refresh adds one without
/// copying the others. (A `Vec` here was copied whole on every load of a
/// session from the services' cache, so the ten-thousandth refresh of a
/// session cost ten thousand times the first: 14 % of authd's CPU under the
/// refresh benchmark.) Only a token that is not the current one is looked
/// up in it.
#[derive(Clone, Default)]
pub struct TokenHistory(Option<Arc<HistoryNode>>);

struct HistoryNode {
    hash: SecretHash,
    older: TokenHistory,
}

impl TokenHistory {
    fn push(&mut self, hash: SecretHash) {
        let older = std::mem::take(self);
        *self = TokenHistory(Some(Arc::new(HistoryNode { hash, older })));
    }

    fn iter(&self) -> impl Iterator<Item = &SecretHash> {
        std::iter::successors(self.0.as_deref(), |node| node.older.0.as_deref())
            .map(|node| &node.hash)
    }

    /// How far back (0 = the newest earlier token) `hash` is.
    fn position(&self, hash: &SecretHash) -> Option<usize> {
        self.iter().position(|h| h == hash)
    }
}

impl Drop for TokenHistory {
    /// One node at a time: the default, recursive drop of a list of a
    /// million refreshes would overflow the stack.
    fn drop(&mut self) {
        let mut next = self.0.take();
        while let Some(node) = next {
            match Arc::try_unwrap(node) {
                Ok(mut node) => next = node.older.0.take(),
                // Another copy of the state still holds the rest.
                Err(_) => break,
            }
        }
    }
}

impl PartialEq for TokenHistory {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for TokenHistory {}

impl std::fmt::Debug for TokenHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHistory({} earlier)", self.iter().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given;

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
    fn refresh(presented: u8, new: u8, now: i64) -> (SessionCommand, i64) {
        (
            SessionCommand::Refresh {
                presented_hash: [presented; 32],
                new_hash: [new; 32],
                customer_allows: true,
            },
            now,
        )
    }

    #[test]
    fn a_session_its_customer_ended_cannot_be_refreshed() {
        let cmd = SessionCommand::Refresh {
            presented_hash: [0; 32],
            new_hash: [1; 32],
            customer_allows: false,
        };
        check(&[started()], cmd, Err(DomainError::SessionRevoked));
    }

    /// A command and when it arrives (at 5 unless said).
    struct When(SessionCommand, i64);
    impl From<SessionCommand> for When {
        fn from(c: SessionCommand) -> Self {
            When(c, 5)
        }
    }
    impl From<(SessionCommand, i64)> for When {
        fn from((c, now): (SessionCommand, i64)) -> Self {
            When(c, now)
        }
    }

    #[track_caller]
    fn check(
        given: &[SessionEvent],
        when: impl Into<When>,
        then: Result<Vec<SessionEvent>, DomainError>,
    ) {
        let When(command, now) = when.into();
        given::check::<Session>(given, command, now, then);
    }

    #[test]
    fn a_long_lived_session_keeps_every_generation_shared_between_copies() {
        let mut state = Session::default().evolve(&Event::Session(started()), At::default());
        for generation in 1..=300u32 {
            let e = SessionEvent::Refreshed(SessionRefreshed {
                generation,
                refresh_token_hash: [(generation % 251) as u8, (generation / 251) as u8, 1, 0]
                    .iter()
                    .copied()
                    .chain([0; 28])
                    .collect::<Vec<_>>()
                    .try_into()
                    .unwrap(),
            });
            state = state.evolve(&Event::Session(e), At::default());
        }
        assert_eq!(state.generation, 300);
        let hash_of = |g: u32| -> SecretHash {
            let mut h = [0; 32];
            (h[0], h[1], h[2]) = ((g % 251) as u8, (g / 251) as u8, 1);
            h
        };
        let refresh_with = |s: &Session, presented: SecretHash| {
            let command = SessionCommand::Refresh {
                presented_hash: presented,
                new_hash: [9; 32],
                customer_allows: true,
            };
            s.decide(&command, 5)
        };
        // A token from long ago names its own generation.
        assert_eq!(
            refresh_with(&state, hash_of(17)).unwrap()[0],
            SessionEvent::RefreshTokenReused(RefreshTokenReused { generation: 17 })
        );
        assert_eq!(
            refresh_with(&state, [0; 32]).unwrap()[0],
            SessionEvent::RefreshTokenReused(RefreshTokenReused { generation: 0 })
        );
        assert_eq!(
            refresh_with(&state, hash_of(300)),
            Ok(vec![SessionEvent::Refreshed(SessionRefreshed {
                generation: 301,
                refresh_token_hash: [9; 32]
            })])
        );
        assert_eq!(
            refresh_with(&state, [7; 32]),
            Err(DomainError::InvalidRefreshToken)
        );
        // A copy moves on without changing the original.
        let copy = state.clone();
        let moved = copy.evolve(&Event::Session(refreshed(44)), At::default());
        assert_eq!(moved.generation, 301);
        assert_eq!(state.generation, 300);
        assert_eq!(state.earlier.iter().count(), 300);
        assert_eq!(moved.earlier.iter().count(), 301);
        assert_ne!(moved, state);
    }

    #[test]
    fn a_history_of_a_million_generations_drops_without_overflowing_the_stack() {
        let mut history = TokenHistory::default();
        for _ in 0..1_000_000 {
            history.push([1; 32]);
        }
        drop(history);
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
            presented_hash: None,
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

    fn storefront_started() -> SessionEvent {
        SessionEvent::StorefrontStarted(SessionStarted {
            customer_id: "c_1".into(),
            method: LoginMethod::Password,
            refresh_token_hash: [3; 32],
            expires_at: EXP,
        })
    }
    fn renew(presented: u8, expires_at: i64, now: i64) -> (SessionCommand, i64) {
        let c = SessionCommand::Renew {
            presented_hash: [presented; 32],
            expires_at,
            customer_allows: true,
        };
        (c, now)
    }
    fn renewed(expires_at: i64) -> SessionEvent {
        SessionEvent::Renewed(SessionRenewed { expires_at })
    }

    #[test]
    fn a_storefront_token_is_renewed_while_live_and_never_rotated() {
        let start = SessionCommand::Start {
            customer_id: "c_1".into(),
            method: LoginMethod::Password,
            refresh_token_hash: [3; 32],
            expires_at: EXP,
            storefront: true,
        };
        check(&[], start, Ok(vec![storefront_started()]));
        check(
            &[storefront_started()],
            renew(3, EXP + 50, 5),
            Ok(vec![renewed(EXP + 50)]),
        );
        // A renewal after a renewal counts from the newest end.
        let s = given::state::<Session>(&[storefront_started(), renewed(EXP + 50)]);
        assert_eq!(s.expires_at, EXP + 50);
        check(
            &[storefront_started(), renewed(EXP + 50)],
            renew(3, EXP + 60, EXP + 10),
            Ok(vec![renewed(EXP + 60)]),
        );
        // Never shorter than it was.
        check(
            &[storefront_started()],
            renew(3, 10, 5),
            Ok(vec![renewed(EXP)]),
        );
        // Refused: another token, after expiry, after deletion, an ended customer.
        check(
            &[storefront_started()],
            renew(4, EXP + 50, 5),
            Err(DomainError::InvalidToken),
        );
        check(
            &[storefront_started()],
            renew(3, EXP + 50, EXP),
            Err(DomainError::InvalidToken),
        );
        check(
            &[storefront_started(), revoked(RevokeReason::Logout)],
            renew(3, EXP + 50, 5),
            Err(DomainError::InvalidToken),
        );
        let ended = SessionCommand::Renew {
            presented_hash: [3; 32],
            expires_at: EXP + 50,
            customer_allows: false,
        };
        check(
            &[storefront_started()],
            ended,
            Err(DomainError::InvalidToken),
        );
        // A refresh session is not renewed, and a storefront one not refreshed.
        check(
            &[started()],
            renew(0, EXP + 50, 5),
            Err(DomainError::InvalidToken),
        );
        check(
            &[storefront_started()],
            refresh(3, 4, 5),
            Err(DomainError::InvalidRefreshToken),
        );
    }

    #[test]
    fn a_storefront_token_deletes_its_own_session_once() {
        let delete = |presented: u8| SessionCommand::Revoke {
            reason: RevokeReason::Logout,
            by_customer: None,
            presented_hash: Some([presented; 32]),
        };
        check(
            &[storefront_started()],
            delete(3),
            Ok(vec![revoked(RevokeReason::Logout)]),
        );
        check(
            &[storefront_started()],
            delete(4),
            Err(DomainError::InvalidToken),
        );
        check(
            &[storefront_started(), revoked(RevokeReason::Logout)],
            delete(3),
            Err(DomainError::InvalidToken),
        );
        check(&[started()], delete(0), Err(DomainError::InvalidToken));
    }
}
