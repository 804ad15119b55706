//! A customer's erasure (GDPR art. 17): `customer.erased` ends every
//! session in the same message (the use case releases the address and
//! phone claims in the same batch), and the state forgets everything
//! personal at once. The rest (queued mail, the data key) is idempotent
//! work driven from that event and recorded as `customer.erasure.completed`.

use authd_events::{CustomerErased, CustomerErasureCompleted, CustomerEvent, SessionsEnded};

use super::customer_state::Customer;
use crate::error::DomainError;

/// The longest reason recorded (it stays in the log for good).
pub const MAX_REASON: usize = 500;

/// Erases a registered customer: refused once erased.
pub(super) fn erase(s: &Customer, reason: &str) -> Result<Vec<CustomerEvent>, DomainError> {
    if s.erased {
        return Err(DomainError::AlreadyErased);
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON {
        return Err(DomainError::InvalidInput("reason"));
    }
    Ok(vec![
        CustomerEvent::Erased(CustomerErased {
            reason: reason.to_string(),
        }),
        CustomerEvent::SessionsEnded(SessionsEnded { except: None }),
    ])
}

/// Records the erasure's work as done, once.
pub(super) fn complete(
    s: &Customer,
    key_destroyed: bool,
    mail_jobs_dropped: u32,
    plaintext_erased: &[u64],
) -> Result<Vec<CustomerEvent>, DomainError> {
    if !s.erased {
        return Err(DomainError::CustomerNotFound);
    }
    if s.erasure_completed {
        return Ok(vec![]);
    }
    Ok(vec![CustomerEvent::ErasureCompleted(
        CustomerErasureCompleted {
            key_destroyed,
            mail_jobs_dropped,
            plaintext_erased: plaintext_erased.to_vec(),
        },
    )])
}

/// The state after `customer.erased`: registered (the id stays taken) and
/// erased, with nothing personal, no credential and no pending token.
pub(super) fn erased(s: Customer) -> Customer {
    Customer {
        registered: true,
        erased: true,
        created_at: s.created_at,
        updated_at: s.updated_at,
        sessions_ended_seq: s.sessions_ended_seq,
        sessions_ended_except: s.sessions_ended_except,
        ..Customer::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Customer {
        Customer {
            registered: true,
            email: "ann@example.com".into(),
            password_hash: "$argon2id$x".into(),
            tags: vec!["VIP".into()],
            ..Customer::default()
        }
    }

    #[test]
    fn an_erasure_ends_every_session_and_the_state_forgets_the_customer() {
        let events = erase(&ann(), "  GDPR request 12  ").unwrap();
        assert_eq!(
            events,
            vec![
                CustomerEvent::Erased(CustomerErased {
                    reason: "GDPR request 12".into()
                }),
                CustomerEvent::SessionsEnded(SessionsEnded { except: None }),
            ]
        );
        let gone = erased(ann());
        assert!(gone.erased && gone.registered);
        assert_eq!(gone.email, "");
        assert_eq!(gone.password_hash, "");
        assert!(gone.tags.is_empty());
        assert_eq!(erase(&gone, "again"), Err(DomainError::AlreadyErased));
    }

    #[test]
    fn a_reason_is_required_and_bounded() {
        assert_eq!(erase(&ann(), " "), Err(DomainError::InvalidInput("reason")));
        let long = "x".repeat(MAX_REASON + 1);
        assert_eq!(
            erase(&ann(), &long),
            Err(DomainError::InvalidInput("reason"))
        );
    }

    #[test]
    fn completion_is_recorded_once_and_only_after_an_erasure() {
        assert_eq!(
            complete(&ann(), true, 0, &[]),
            Err(DomainError::CustomerNotFound)
        );
        let mut gone = erased(ann());
        assert_eq!(complete(&gone, true, 2, &[7]).unwrap().len(), 1);
        gone.erasure_completed = true;
        assert_eq!(complete(&gone, true, 2, &[7]), Ok(vec![]));
    }
}
