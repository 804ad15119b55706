//! `customer.password_reset.request` and `.complete`: a mailed link whose
//! use sets the password, ends every session and lifts a lockout, in one
//! message of the customer's.

use authd_events::{SecretHash, keyed_hash::secret_hash};

use super::{
    RESET_TTL_MS, Services, UseCase, customer_of_token, customer_view, link, link_token, subject,
    valid_email,
};
use crate::{
    commands::{
        Accepted, CommandEnvelope, PasswordReset, RequestPasswordReset, ResetPassword, Sent,
    },
    domain::aggregate::Aggregate,
    domain::customer::{Customer, CustomerCommand},
    domain::login_attempts::{AttemptCommand, LoginAttempts},
    domain::session::Session,
    error::{CommandError, DomainError},
    infra::{mail::MailKind, password},
};
use authd_events::{AggregateKind, LoginMethod};

impl UseCase for RequestPasswordReset {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<Accepted>, CommandError> {
        if !valid_email(&self.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = s.project(&env.tenant).await?;
        let email = self.email.trim().to_string();
        let claim = s.claim_subject(&env.tenant, &email)?;
        let accepted = Sent {
            seq: 0,
            outcome: Accepted { expires_at: None },
        };
        let Some((customer, _)) = s.owner_of(&env.tenant, &claim).await? else {
            return unknown_address(s, env, &claim.id, accepted).await;
        };
        let (token, token_hash) = link_token(&customer.id);
        let request = |token_hash: SecretHash, expires_at| CustomerCommand::RequestPasswordReset {
            token_hash,
            expires_at,
        };
        let d =
            s.x.decide(env, &customer, |c: &Customer, now| {
                c.decide(&request(token_hash, now + RESET_TTL_MS), now)
            })
            .await?;
        if d.events.is_empty() {
            // Throttled: nothing recorded, nothing mailed, the same answer.
            return Ok(Sent {
                seq: d.seq,
                ..accepted
            });
        }
        let link = link(&project.config, "reset", &token);
        s.send_mail(
            env,
            &d.state.email,
            &project.config,
            MailKind::ResetPassword { link },
        )
        .await?;
        // The same answer as for an unknown address; the sequence only lets
        // this gateway wait for its own write.
        Ok(Sent {
            seq: d.seq,
            ..accepted
        })
    }
}

/// A reset asked for an address without an account does the work a known
/// one does (a throttled append, a round trip to the mail queue) and answers
/// the same, so neither the answer nor its time tells the two apart.
async fn unknown_address(
    s: &Services,
    env: &CommandEnvelope,
    claim_id: &str,
    accepted: Sent<Accepted>,
) -> Result<Sent<Accepted>, CommandError> {
    let attempts = subject(&env.tenant, AggregateKind::LoginAttempts, claim_id)?;
    let d =
        s.x.run::<LoginAttempts>(env, &attempts, &AttemptCommand::RequestReset)
            .await?;
    if !d.events.is_empty() {
        s.mailbox.round_trip().await.map_err(|e| {
            tracing::warn!(error = %e, "mail queue unavailable");
            CommandError::unavailable()
        })?;
    }
    Ok(Sent {
        seq: d.seq,
        ..accepted
    })
}

impl UseCase for ResetPassword {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<PasswordReset>, CommandError> {
        let customer_id = customer_of_token(&self.token)?.to_string();
        let project = s.project(&env.tenant).await?;
        password::check_with(&self.new_password, &project.config.password_policy)?;
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let token_hash = secret_hash(&self.token);
        // Check the token before paying for a hash.
        let now = s.now();
        let current =
            s.x.current::<Customer>(
                &customer,
                |c| matches!(c.reset, Some((h, exp)) if h == token_hash && now < exp),
            )
            .await?;
        if !matches!(current.reset, Some((h, exp)) if h == token_hash && now < exp) {
            return Err(DomainError::InvalidToken.into());
        }
        let new_password_hash = s.hasher.hash(self.new_password).await?;
        // A mailed link proves the inbox, not the second factor: a
        // customer with one sets the password and then signs in with both.
        // A customer without one where the project requires one may not
        // sign in to the Storefront, which cannot add it.
        let signs_in = self.storefront_sign_in
            && !current.mfa.active()
            && project.mfa_required != authd_events::MfaRequirement::Required;
        let session = match signs_in {
            true => Some(s.new_storefront_session(&env.tenant, &project)?),
            false => None,
        };
        let reset = CustomerCommand::ResetPassword {
            token_hash,
            new_password_hash,
            keep_session: session.as_ref().map(|n| n.id.clone()),
        };
        let mut batch = s.x.batch(env).load::<Customer>(&customer);
        if let Some(n) = &session {
            batch = batch.create::<Session>(&n.subject);
        }
        let done = batch
            .decide(|tx| {
                let protected = tx.state::<Customer>(&customer).mfa.active();
                tx.decide::<Customer>(&customer, &reset)?;
                if let Some(n) = session.as_ref().filter(|_| !protected) {
                    tx.decide::<Session>(
                        &n.subject,
                        &n.start(&customer_id, LoginMethod::Password),
                    )?;
                }
                Ok(())
            })
            .await?;
        if done.duplicate && session.is_some() {
            return Err(CommandError::duplicate());
        }
        let c = done.state::<Customer>(&customer);
        let mail = MailKind::PasswordChanged;
        s.send_mail(env, &c.email, &project.config, mail).await?;
        let access_token = session.filter(|n| done.seq_of(&n.subject) > 0).map(|n| {
            let seq = done.seq_of(&n.subject);
            n.access_token(seq)
        });
        Ok(Sent {
            seq: done.seq,
            outcome: PasswordReset {
                customer: customer_view(&customer_id, c),
                access_token,
            },
        })
    }
}
