//! A customer's move to another email address (the Storefront's
//! `customerUpdate(customer: { email })`): the new address's claim is
//! taken and the old one's released in the same batch as the customer's
//! change; the old address is told, the new one gets a verification link.

use authd_events::{AggregateSubject, ProjectConfig, keyed_hash::normalize_email};

use super::{Services, VERIFY_TTL_MS, batch::Batch, executor::Tx, link, link_token, valid_email};
use crate::{
    commands::CommandEnvelope,
    domain::{
        customer::Customer,
        email_claim::{ClaimCommand, EmailClaim},
    },
    error::{CommandError, DomainError},
    infra::mail::MailKind,
};

pub(super) struct EmailMove {
    old_email: String,
    old_claim: AggregateSubject,
    new_email: String,
    new_claim: AggregateSubject,
    token: String,
    /// What `CustomerCommand::UpdateAccount` records: the address and its
    /// verification link's hash and expiry.
    pub(super) recorded: (String, authd_events::SecretHash, i64),
}

impl EmailMove {
    /// The move of `customer` (now `current`) to `new_email`; `None` when
    /// it is the address they have (in any case or form).
    pub(super) fn plan(
        s: &Services,
        env: &CommandEnvelope,
        customer: &AggregateSubject,
        current: &Customer,
        new_email: Option<&str>,
    ) -> Result<Option<Self>, CommandError> {
        let Some(new_email) = new_email.map(str::trim) else {
            return Ok(None);
        };
        if !valid_email(new_email) {
            return Err(DomainError::InvalidEmail.into());
        }
        if normalize_email(&current.email) == normalize_email(new_email) {
            return Ok(None);
        }
        let (token, token_hash) = link_token(&customer.id);
        Ok(Some(Self {
            old_claim: s.claim_subject(&env.tenant, &current.email)?,
            old_email: current.email.clone(),
            new_claim: s.claim_subject(&env.tenant, new_email)?,
            new_email: new_email.to_string(),
            recorded: (new_email.to_string(), token_hash, s.now() + VERIFY_TTL_MS),
            token,
        }))
    }

    /// Names both claims in the batch.
    pub(super) fn load<'a>(&self, batch: Batch<'a>) -> Batch<'a> {
        batch
            .load::<EmailClaim>(&self.new_claim)
            .load::<EmailClaim>(&self.old_claim)
    }

    /// The claims' part of the batch: the new address is taken (or the
    /// whole update is refused as TAKEN), the old one freed.
    pub(super) fn decide(&self, tx: &mut Tx, customer_id: &str) -> Result<(), DomainError> {
        let claim = ClaimCommand::Claim {
            customer_id: customer_id.to_string(),
        };
        let release = ClaimCommand::Release {
            customer_id: customer_id.to_string(),
        };
        tx.decide::<EmailClaim>(&self.new_claim, &claim)?;
        tx.decide::<EmailClaim>(&self.old_claim, &release)?;
        Ok(())
    }

    /// Tells the old address and mails the new one its verification link.
    pub(super) async fn mail(
        &self,
        s: &Services,
        env: &CommandEnvelope,
        config: &ProjectConfig,
    ) -> Result<(), CommandError> {
        s.send_mail(env, &self.old_email, config, MailKind::EmailChanged)
            .await?;
        let link = link(config, "verify", &self.token);
        s.send_mail(env, &self.new_email, config, MailKind::VerifyEmail { link })
            .await
    }
}
