//! The ring of keys that sign access tokens: which key signs when, and
//! until when each key's tokens are trusted. One aggregate for the whole
//! deployment (`subject::signing_keys_subject`), so a rotation reaches every
//! services instance and every gateway through the log.

use authd_events::{AggregateKind, Event, SigningKeyAdded, SigningKeyEvent, SigningKeyRetired};

use super::aggregate::{Aggregate, At};
use crate::error::DomainError;

/// Added to the last token's expiry before a retired key stops being
/// trusted: clock skew, and the moment a services instance takes to learn
/// of a rotation (it signs with the old key until then).
pub const RETIRE_LEEWAY_MS: i64 = 60_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    /// In the order they were added.
    pub keys: Vec<RingKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingKey {
    pub added: SigningKeyAdded,
    /// Unix ms after which tokens it signed are refused; `None` while it is
    /// the newest key.
    pub verify_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRingCommand {
    /// The first key, when the ring has none; nothing when it has one
    /// (another services instance started first).
    Start(SigningKeyAdded),
    /// `next` signs from its `active_from` on. Every other key is trusted
    /// until the last token it can still sign expires, or, with
    /// `revoke_previous`, not at all from now on.
    Rotate {
        next: SigningKeyAdded,
        token_ttl_ms: i64,
        revoke_previous: bool,
    },
}

impl KeyRing {
    /// The key services sign with at `now`: the one that became active
    /// last, among those still trusted.
    pub fn active(&self, now: i64) -> Option<&RingKey> {
        self.keys
            .iter()
            .filter(|k| k.added.active_from <= now && k.trusted_at(now))
            .max_by_key(|k| k.added.active_from)
    }

    /// The keys a token may be signed by at `now` (what JWKS lists),
    /// including one announced but not yet signing.
    pub fn trusted(&self, now: i64) -> impl Iterator<Item = &RingKey> {
        self.keys.iter().filter(move |k| k.trusted_at(now))
    }

    /// The generation the next key derived from `root_kid` gets.
    pub fn next_generation(&self, root_kid: &str) -> u32 {
        self.keys
            .iter()
            .filter(|k| k.added.root_kid == root_kid)
            .map(|k| k.added.generation + 1)
            .max()
            .unwrap_or(0)
    }
}

impl RingKey {
    pub fn trusted_at(&self, now: i64) -> bool {
        self.verify_until.is_none_or(|until| now < until)
    }
}

fn decide(
    ring: &KeyRing,
    command: &KeyRingCommand,
    now: i64,
) -> Result<Vec<SigningKeyEvent>, DomainError> {
    match command {
        KeyRingCommand::Start(first) if ring.keys.is_empty() => {
            Ok(vec![SigningKeyEvent::Added(first.clone())])
        }
        KeyRingCommand::Start(_) => Ok(vec![]),
        KeyRingCommand::Rotate {
            next,
            token_ttl_ms,
            revoke_previous,
        } => {
            if ring.keys.iter().any(|k| k.added.kid == next.kid) {
                return Err(DomainError::InvalidInput("the key is already in the ring"));
            }
            if next.active_from < now || (*revoke_previous && next.active_from != now) {
                // Revoking leaves no key to sign with until the next is active.
                return Err(DomainError::InvalidInput("activeFrom"));
            }
            let verify_until = if *revoke_previous {
                now
            } else {
                next.active_from + token_ttl_ms + RETIRE_LEEWAY_MS
            };
            let retired = ring
                .keys
                .iter()
                .filter(|k| k.verify_until.is_none_or(|until| until > verify_until))
                .map(|k| {
                    SigningKeyEvent::Retired(SigningKeyRetired {
                        kid: k.added.kid.clone(),
                        verify_until,
                    })
                });
            Ok(std::iter::once(SigningKeyEvent::Added(next.clone()))
                .chain(retired)
                .collect())
        }
    }
}

impl Aggregate for KeyRing {
    const KIND: AggregateKind = AggregateKind::SigningKeys;
    type Command = KeyRingCommand;
    type Event = SigningKeyEvent;

    fn wrap(event: SigningKeyEvent) -> Event {
        Event::SigningKey(event)
    }

    fn decide(
        &self,
        command: &KeyRingCommand,
        now: i64,
    ) -> Result<Vec<SigningKeyEvent>, DomainError> {
        decide(self, command, now)
    }

    fn evolve(mut self, event: &Event, _at: At) -> Self {
        let Event::SigningKey(e) = event else {
            return self;
        };
        match e {
            SigningKeyEvent::Added(added) => self.keys.push(RingKey {
                added: added.clone(),
                verify_until: None,
            }),
            SigningKeyEvent::Retired(r) => {
                if let Some(k) = self.keys.iter_mut().find(|k| k.added.kid == r.kid) {
                    k.verify_until = Some(r.verify_until);
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::{T0, check, state};

    const TTL: i64 = 900_000;

    fn key(kid: &str, generation: u32, active_from: i64) -> SigningKeyAdded {
        SigningKeyAdded {
            kid: kid.into(),
            public_key: [generation as u8; 32],
            generation,
            root_kid: "root".into(),
            active_from,
        }
    }

    fn added(k: SigningKeyAdded) -> SigningKeyEvent {
        SigningKeyEvent::Added(k)
    }

    fn retired(kid: &str, verify_until: i64) -> SigningKeyEvent {
        SigningKeyEvent::Retired(SigningKeyRetired {
            kid: kid.into(),
            verify_until,
        })
    }

    fn rotate(next: SigningKeyAdded, revoke_previous: bool) -> KeyRingCommand {
        KeyRingCommand::Rotate {
            next,
            token_ttl_ms: TTL,
            revoke_previous,
        }
    }

    #[test]
    fn the_first_services_instance_starts_the_ring_and_later_ones_change_nothing() {
        let first = key("root", 0, T0);
        check::<KeyRing>(
            &[],
            KeyRingCommand::Start(first.clone()),
            T0,
            Ok(vec![added(first.clone())]),
        );
        check::<KeyRing>(
            &[added(first)],
            KeyRingCommand::Start(key("other", 0, T0)),
            T0,
            Ok(vec![]),
        );
    }

    #[test]
    fn a_rotation_keeps_the_old_key_trusted_until_its_last_token_expires() {
        let next = key("k1", 1, T0 + 60_000);
        let until = T0 + 60_000 + TTL + RETIRE_LEEWAY_MS;
        check::<KeyRing>(
            &[added(key("root", 0, T0))],
            rotate(next.clone(), false),
            T0,
            Ok(vec![added(next.clone()), retired("root", until)]),
        );
        let ring = state::<KeyRing>(&[
            added(key("root", 0, T0)),
            added(next),
            retired("root", until),
        ]);
        // The old key signs until the new one is active, then the new one.
        assert_eq!(ring.active(T0 + 59_999).unwrap().added.kid, "root");
        assert_eq!(ring.active(T0 + 60_000).unwrap().added.kid, "k1");
        // Both are trusted (and listed) until the old one's tokens are gone.
        assert_eq!(ring.trusted(T0).count(), 2);
        assert_eq!(ring.trusted(until - 1).count(), 2);
        assert_eq!(ring.trusted(until).count(), 1);
        assert_eq!(ring.next_generation("root"), 2);
        assert_eq!(ring.next_generation("another root"), 0);
    }

    #[test]
    fn revoking_the_previous_key_distrusts_it_at_once_and_needs_the_next_active_now() {
        let next = key("k1", 1, T0);
        check::<KeyRing>(
            &[added(key("root", 0, T0 - 1))],
            rotate(next.clone(), true),
            T0,
            Ok(vec![added(next.clone()), retired("root", T0)]),
        );
        let ring = state::<KeyRing>(&[added(key("root", 0, T0 - 1)), added(next.clone())]);
        assert_eq!(
            ring.decide(&rotate(key("k2", 2, T0 + 1), true), T0),
            Err(DomainError::InvalidInput("activeFrom"))
        );
        assert_eq!(
            ring.decide(&rotate(key("k2", 2, T0 - 1), false), T0),
            Err(DomainError::InvalidInput("activeFrom"))
        );
        assert_eq!(
            ring.decide(&rotate(next, false), T0),
            Err(DomainError::InvalidInput("the key is already in the ring"))
        );
    }

    #[test]
    fn a_key_retired_earlier_keeps_its_earlier_end() {
        let given = [
            added(key("root", 0, T0)),
            added(key("k1", 1, T0)),
            retired("root", T0 + 10),
        ];
        let next = key("k2", 2, T0 + 1_000);
        let until = T0 + 1_000 + TTL + RETIRE_LEEWAY_MS;
        check::<KeyRing>(
            &given,
            rotate(next.clone(), false),
            T0,
            Ok(vec![added(next), retired("k1", until)]),
        );
        // A revoked key never signs again, even if it became active last.
        let ring = state::<KeyRing>(&[added(key("root", 0, T0)), retired("root", T0 + 5)]);
        assert!(ring.active(T0 + 5).is_none());
    }
}
