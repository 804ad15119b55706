//! The email claim: one aggregate per (project, normalized email), whose
//! expected-sequence append makes exactly one registration of an email win.

use authd_events::{AggregateKind, EmailClaimEvent, EmailClaimed, Event};

use crate::{
    aggregate::{Aggregate, At},
    error::DomainError,
};

/// A claim whose customer was never recorded (the registering process died
/// between the two appends) may be taken over after this long.
pub const ORPHAN_GRACE_MS: i64 = 30_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailClaim {
    pub owner: Option<String>,
    pub claimed_at: i64,
}

pub enum ClaimDecision {
    /// Append these events, then register this customer.
    Claim(Vec<EmailClaimEvent>),
    /// The claim already names a customer who was never registered: register
    /// that customer id without appending to the claim.
    TakeOver(String),
}

/// `owner_registered` says whether the current owner exists; it is only
/// looked at for a claim old enough to be an orphan.
pub fn decide(
    s: &EmailClaim,
    customer_id: &str,
    now: i64,
    owner_registered: Option<bool>,
) -> Result<ClaimDecision, DomainError> {
    match &s.owner {
        None => Ok(ClaimDecision::Claim(vec![EmailClaimEvent::Claimed(
            EmailClaimed {
                customer_id: customer_id.to_string(),
            },
        )])),
        Some(owner) if now - s.claimed_at >= ORPHAN_GRACE_MS && owner_registered == Some(false) => {
            Ok(ClaimDecision::TakeOver(owner.clone()))
        }
        Some(_) => Err(DomainError::EmailTaken),
    }
}

impl EmailClaim {
    /// The owner whose registration needs checking before deciding.
    pub fn possible_orphan(&self, now: i64) -> Option<&str> {
        self.owner
            .as_deref()
            .filter(|_| now - self.claimed_at >= ORPHAN_GRACE_MS)
    }
}

impl Aggregate for EmailClaim {
    const KIND: AggregateKind = AggregateKind::EmailClaim;
    type Event = EmailClaimEvent;

    fn wrap(event: EmailClaimEvent) -> Event {
        Event::EmailClaim(event)
    }

    fn evolve(mut self, event: &Event, at: At) -> Self {
        let Event::EmailClaim(e) = event else {
            return self;
        };
        match e {
            EmailClaimEvent::Claimed(c) => {
                self.owner = Some(c.customer_id.clone());
                self.claimed_at = at.time;
            }
            EmailClaimEvent::Released(_) => self.owner = None,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authd_events::EmailReleased;

    fn state(given: &[EmailClaimEvent], at: i64) -> EmailClaim {
        given.iter().fold(EmailClaim::default(), |s, e| {
            s.evolve(&Event::EmailClaim(e.clone()), At { seq: 1, time: at })
        })
    }
    fn claimed(c: &str) -> EmailClaimEvent {
        EmailClaimEvent::Claimed(EmailClaimed {
            customer_id: c.into(),
        })
    }

    #[test]
    fn a_free_email_is_claimed() {
        let d = decide(&state(&[], 0), "c_1", 10, None).unwrap();
        assert!(matches!(d, ClaimDecision::Claim(e) if e == vec![claimed("c_1")]));
    }

    #[test]
    fn a_claimed_email_is_taken() {
        let s = state(&[claimed("c_1")], 0);
        assert_eq!(
            decide(&s, "c_2", 10, None).err(),
            Some(DomainError::EmailTaken)
        );
        // even an unregistered owner keeps it while its registration may still be in flight
        assert_eq!(
            decide(&s, "c_2", 10, Some(false)).err(),
            Some(DomainError::EmailTaken)
        );
        assert_eq!(s.possible_orphan(10), None);
    }

    #[test]
    fn an_old_claim_of_a_customer_never_registered_is_taken_over() {
        let s = state(&[claimed("c_1")], 0);
        assert_eq!(s.possible_orphan(ORPHAN_GRACE_MS), Some("c_1"));
        let d = decide(&s, "c_2", ORPHAN_GRACE_MS, Some(false)).unwrap();
        assert!(matches!(d, ClaimDecision::TakeOver(c) if c == "c_1"));
        assert_eq!(
            decide(&s, "c_2", ORPHAN_GRACE_MS, Some(true)).err(),
            Some(DomainError::EmailTaken)
        );
    }

    #[test]
    fn a_released_email_can_be_claimed_again() {
        let s = state(
            &[
                claimed("c_1"),
                EmailClaimEvent::Released(EmailReleased {
                    customer_id: "c_1".into(),
                }),
            ],
            0,
        );
        assert!(matches!(
            decide(&s, "c_2", 1, None),
            Ok(ClaimDecision::Claim(_))
        ));
    }
}
