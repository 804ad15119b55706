//! The email claim: one aggregate per (project, normalized email). It is
//! appended with its expected sequence in the same atomic batch as the
//! customer it names, so exactly one registration of an email wins and no
//! claim ever names a customer that was not recorded. A phone number is
//! claimed the same way (`PhoneClaim`, one per E.164 number).

use std::marker::PhantomData;

use authd_events::{AggregateKind, EmailClaimEvent, EmailClaimed, EmailReleased, Event};

use super::aggregate::{Aggregate, At};
use crate::error::DomainError;

/// A claim: who holds an email address or (`PhoneClaim`) a phone number.
/// Both decide alike; `K` says which, and so its subject, event wrapper
/// and refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claim<K> {
    pub owner: Option<String>,
    kind: PhantomData<K>,
}

pub type EmailClaim = Claim<Email>;
pub type PhoneClaim = Claim<Phone>;
/// Who an external provider's identity (provider, subject) belongs to.
pub type IdentityClaim = Claim<Identity>;
/// Who a passkey's credential id belongs to.
pub type CredentialClaim = Claim<Credential>;

/// What a claim is of.
pub trait ClaimKind: Default + Clone + Send + Sync + 'static {
    const KIND: AggregateKind;
    /// The input an owner's mistake names.
    const FIELD: &'static str;
    fn taken() -> DomainError;
    fn wrap(event: EmailClaimEvent) -> Event;
    fn unwrap(event: &Event) -> Option<&EmailClaimEvent>;
}

/// Declares a kind of claim: its subject kind, the `Event` variant that
/// wraps its events, the input an owner's mistake names, and the refusal
/// when another customer holds it.
macro_rules! claim_kinds {
    ($( $(#[$doc:meta])* $kind:ident => $aggregate:ident, $event:ident, $field:literal, $taken:expr; )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $kind;

        impl ClaimKind for $kind {
            const KIND: AggregateKind = AggregateKind::$aggregate;
            const FIELD: &'static str = $field;
            fn taken() -> DomainError {
                $taken
            }
            fn wrap(event: EmailClaimEvent) -> Event {
                Event::$event(event)
            }
            fn unwrap(event: &Event) -> Option<&EmailClaimEvent> {
                match event {
                    Event::$event(e) => Some(e),
                    _ => None,
                }
            }
        }
    )*};
}

claim_kinds! {
    Email => EmailClaim, EmailClaim, "email", DomainError::EmailTaken;
    Phone => PhoneClaim, PhoneClaim, "phone", DomainError::PhoneTaken;
    /// Taken by another customer only when two first sign-ins with one
    /// identity raced; the other won.
    Identity => ProviderIdentity, ProviderIdentity, "providerKey", DomainError::InvalidState;
    /// A passkey's credential id: one customer's in a project (the
    /// identities' subject kind, under a key of its own).
    Credential => ProviderIdentity, ProviderIdentity, "response", DomainError::PasskeyAlreadyRegistered;
}

pub enum ClaimCommand {
    /// Claims the address for this customer (new, or changing address).
    Claim { customer_id: String },
    /// The owner moves to another address: this one is free again.
    Release { customer_id: String },
}

impl<K: ClaimKind> Aggregate for Claim<K> {
    const KIND: AggregateKind = K::KIND;
    type Command = ClaimCommand;
    type Event = EmailClaimEvent;

    fn wrap(event: EmailClaimEvent) -> Event {
        K::wrap(event)
    }

    fn decide(
        &self,
        command: &ClaimCommand,
        _now: i64,
    ) -> Result<Vec<EmailClaimEvent>, DomainError> {
        match (command, &self.owner) {
            (ClaimCommand::Claim { customer_id }, None) => {
                Ok(vec![EmailClaimEvent::Claimed(EmailClaimed {
                    customer_id: customer_id.clone(),
                })])
            }
            (ClaimCommand::Claim { customer_id }, Some(owner)) if owner == customer_id => {
                Ok(vec![])
            }
            (ClaimCommand::Claim { .. }, Some(_)) => Err(K::taken()),
            (ClaimCommand::Release { customer_id }, Some(owner)) if owner == customer_id => {
                Ok(vec![EmailClaimEvent::Released(EmailReleased {
                    customer_id: customer_id.clone(),
                })])
            }
            // Nothing to release (a number set before numbers were claimed).
            (ClaimCommand::Release { .. }, None) => Ok(vec![]),
            // Only its owner releases a claim.
            (ClaimCommand::Release { .. }, Some(_)) => Err(DomainError::InvalidInput(K::FIELD)),
        }
    }

    fn evolve(mut self, event: &Event, _at: At) -> Self {
        match K::unwrap(event) {
            Some(EmailClaimEvent::Claimed(c)) => self.owner = Some(c.customer_id.clone()),
            Some(EmailClaimEvent::Released(_)) => self.owner = None,
            None => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::{T0, check};

    fn claimed(c: &str) -> EmailClaimEvent {
        EmailClaimEvent::Claimed(EmailClaimed {
            customer_id: c.into(),
        })
    }
    fn claim(c: &str) -> ClaimCommand {
        ClaimCommand::Claim {
            customer_id: c.into(),
        }
    }

    #[test]
    fn a_free_email_is_claimed() {
        check::<EmailClaim>(&[], claim("c_1"), T0, Ok(vec![claimed("c_1")]));
    }

    #[test]
    fn a_claimed_email_is_taken_however_old_the_claim() {
        // No grace period and no takeover: a claim is only ever appended
        // together with its customer, so an owner always exists.
        for now in [T0, T0 + 365 * 24 * 3600 * 1000] {
            check::<EmailClaim>(
                &[claimed("c_1")],
                claim("c_2"),
                now,
                Err(DomainError::EmailTaken),
            );
        }
    }

    #[test]
    fn a_released_email_can_be_claimed_again() {
        let released = EmailClaimEvent::Released(EmailReleased {
            customer_id: "c_1".into(),
        });
        check::<EmailClaim>(
            &[claimed("c_1"), released],
            claim("c_2"),
            T0,
            Ok(vec![claimed("c_2")]),
        );
    }

    #[test]
    fn only_the_owner_releases_an_address_and_then_anyone_may_claim_it() {
        let release = |c: &str| ClaimCommand::Release {
            customer_id: c.into(),
        };
        let released = EmailClaimEvent::Released(EmailReleased {
            customer_id: "c_1".into(),
        });
        check::<EmailClaim>(
            &[claimed("c_1")],
            release("c_1"),
            T0,
            Ok(vec![released.clone()]),
        );
        check::<EmailClaim>(
            &[claimed("c_1")],
            release("c_2"),
            T0,
            Err(DomainError::InvalidInput("email")),
        );
        check::<EmailClaim>(&[], release("c_1"), T0, Ok(vec![]));
        check::<EmailClaim>(
            &[claimed("c_1"), released],
            claim("c_2"),
            T0,
            Ok(vec![claimed("c_2")]),
        );
    }

    #[test]
    fn a_phone_is_claimed_once_and_its_owner_claiming_again_changes_nothing() {
        check::<PhoneClaim>(&[], claim("c_1"), T0, Ok(vec![claimed("c_1")]));
        check::<PhoneClaim>(
            &[claimed("c_1")],
            claim("c_2"),
            T0,
            Err(DomainError::PhoneTaken),
        );
        check::<PhoneClaim>(&[claimed("c_1")], claim("c_1"), T0, Ok(vec![]));
        let release = |c: &str| ClaimCommand::Release {
            customer_id: c.into(),
        };
        check::<PhoneClaim>(
            &[claimed("c_1")],
            release("c_2"),
            T0,
            Err(DomainError::InvalidInput("phone")),
        );
        // A number set before numbers were claimed has nothing to release.
        check::<PhoneClaim>(&[], release("c_1"), T0, Ok(vec![]));
    }
}
