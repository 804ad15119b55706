//! A customer's phone number is claimed like their email (one customer per
//! number in a project): a new number is claimed and the old one released
//! in the same batch as the customer's profile change.

use authd_events::{AggregateKind, AggregateSubject, keyed_hash::phone_key};

use super::{Services, batch::Batch, executor::Tx, subject};
use crate::{
    domain::email_claim::{ClaimCommand, PhoneClaim},
    error::{CommandError, DomainError},
};

/// The claims a change of number touches (none when it stays the same).
#[derive(Default)]
pub(super) struct PhoneMove {
    claim: Option<AggregateSubject>,
    release: Option<AggregateSubject>,
}

impl PhoneMove {
    /// From number `old` to `new` (E.164, already normalized).
    pub(super) fn plan(
        s: &Services,
        tenant: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<Self, CommandError> {
        if old == new {
            return Ok(Self::default());
        }
        let claim_of = |phone: &str| {
            let key = phone_key(&s.config.index_key, tenant, phone);
            subject(tenant, AggregateKind::PhoneClaim, &key)
        };
        Ok(Self {
            claim: new.map(claim_of).transpose()?,
            release: old.map(claim_of).transpose()?,
        })
    }

    /// Names the claims in the batch.
    pub(super) fn load<'a>(&self, mut batch: Batch<'a>) -> Batch<'a> {
        for subject in [&self.claim, &self.release].into_iter().flatten() {
            batch = batch.load::<PhoneClaim>(subject);
        }
        batch
    }

    /// The new number is taken (or the whole command refused as
    /// PHONE_TAKEN), the old one freed.
    pub(super) fn decide(&self, tx: &mut Tx, customer_id: &str) -> Result<(), DomainError> {
        let customer_id = customer_id.to_string();
        if let Some(claim) = &self.claim {
            let take = ClaimCommand::Claim {
                customer_id: customer_id.clone(),
            };
            tx.decide::<PhoneClaim>(claim, &take)?;
        }
        if let Some(release) = &self.release {
            tx.decide::<PhoneClaim>(release, &ClaimCommand::Release { customer_id })?;
        }
        Ok(())
    }
}
