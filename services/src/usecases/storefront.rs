//! The Storefront API's own commands: `storefront.token.renew` and
//! `.delete` (the token is the credential, checked against its session's
//! stored hash), and `customer.update` (profile and password; a new
//! password ends every session and starts a new Storefront one). Sign-in
//! is `login_password.rs`, reset `password_reset.rs`.

use authd_events::{AggregateKind, AggregateSubject, RevokeReason, keyed_hash::secret_hash};

use super::{
    NewSession, Services, UseCase, customer_actor, customer_view, email_change::EmailMove,
    executor::Tx, phone_claim::PhoneMove, subject,
};
use crate::{
    commands::{
        AccessToken, AccountUpdated, CommandEnvelope, DeleteAccessToken, Deleted, RenewAccessToken,
        Sent, UpdateCustomer,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        project::Project,
        session::{Session, SessionCommand},
    },
    error::{CommandError, DomainError},
    infra::{password, tokens},
};

impl UseCase for RenewAccessToken {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<AccessToken>, CommandError> {
        let token =
            tokens::parse_storefront_token(&self.access_token).ok_or(DomainError::InvalidToken)?;
        let project = s.project(&env.tenant).await?;
        let session = subject(&env.tenant, AggregateKind::Session, token.session_id)?;
        let (_, current, _) = s.x.load::<Session>(&session, false).await?;
        let Some(customer_id) = current.customer_id.clone() else {
            return Err(DomainError::InvalidToken.into());
        };
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let ttl_ms = project.storefront.access_token_ttl_secs as i64 * 1000;
        let presented_hash = secret_hash(token.hashed);
        let d =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .load::<Session>(&session)
                .decide(|tx| {
                    // The customer may have ended it (suspension, new password).
                    let allows = tx
                        .state::<Customer>(&customer)
                        .session_allowed(token.session_id, current.started_seq);
                    let renew = SessionCommand::Renew {
                        presented_hash,
                        expires_at: tx.now() + ttl_ms,
                        customer_allows: allows,
                    };
                    tx.decide::<Session>(&session, &renew)?;
                    Ok(())
                })
                .await?;
        Ok(Sent {
            seq: d.seq,
            outcome: AccessToken {
                token: self.access_token.clone(),
                expires_at: d.state::<Session>(&session).expires_at,
                session_id: token.session_id.to_string(),
            },
        })
    }
}

impl UseCase for DeleteAccessToken {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Deleted>, CommandError> {
        let token =
            tokens::parse_storefront_token(&self.access_token).ok_or(DomainError::InvalidToken)?;
        let session = subject(&env.tenant, AggregateKind::Session, token.session_id)?;
        let delete = SessionCommand::Revoke {
            reason: RevokeReason::Logout,
            by_customer: None,
            presented_hash: Some(secret_hash(token.hashed)),
        };
        let d = s.x.run::<Session>(env, &session, &delete).await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Deleted {
                session_id: token.session_id.to_string(),
            },
        })
    }
}

impl UseCase for UpdateCustomer {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<AccountUpdated>, CommandError> {
        let customer = subject(&env.tenant, AggregateKind::Customer, customer_actor(env))?;
        let project = s.project(&env.tenant).await?;
        // Check what is cheap before paying for a hash.
        let current = s
            .registered_customer(&customer)
            .await?
            .ok_or(DomainError::CustomerNotFound)?;
        let profile = self.change.applied_to(&current.profile)?;
        let phone = PhoneMove::plan(
            s,
            &env.tenant,
            current.profile.phone.as_deref(),
            profile.phone.as_deref(),
        )?;
        let moving = EmailMove::plan(s, env, &customer, &current, self.new_email.as_deref())?;
        let (new_password_hash, session) =
            new_password(s, env, &project, self.new_password).await?;
        let update = CustomerCommand::UpdateAccount {
            change: self.change,
            new_password_hash,
            keep_session: session.as_ref().map(|n| n.id.clone()),
            new_email: moving.as_ref().map(|m| m.recorded.clone()),
        };
        let caller = subject(&env.tenant, AggregateKind::Session, &self.session_id)?;
        let mut batch =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .load::<Session>(&caller);
        if let Some(m) = &moving {
            batch = m.load(batch);
        }
        if let Some(n) = &session {
            batch = batch.create::<Session>(&n.subject);
        }
        let start = session
            .as_ref()
            .map(|n| n.start(&customer.id, authd_events::LoginMethod::Password));
        let done = phone
            .load(batch)
            .decide(|tx| {
                caller_is_live(tx, &caller, &customer, &self.session_id)?;
                // Decided on the state the claims were planned on: a
                // concurrent change of number or address refuses this one
                // rather than leaving a claim held twice.
                let now = tx.state::<Customer>(&customer);
                if now.profile.phone != current.profile.phone {
                    return Err(DomainError::InvalidInput("phone"));
                }
                if now.email != current.email {
                    return Err(DomainError::InvalidInput("email"));
                }
                tx.decide::<Customer>(&customer, &update)?;
                phone.decide(tx, &customer.id)?;
                if let Some(m) = &moving {
                    m.decide(tx, &customer.id)?;
                }
                if let (Some(n), Some(start)) = (&session, &start) {
                    tx.decide::<Session>(&n.subject, start)?;
                }
                Ok(())
            })
            .await?;
        if done.duplicate && (session.is_some() || moving.is_some()) {
            return Err(CommandError::duplicate());
        }
        if let Some(m) = &moving {
            m.mail(s, env, &project.config).await?;
        }
        let access_token = session.map(|n| {
            let seq = done.seq_of(&n.subject);
            n.access_token(seq)
        });
        Ok(Sent {
            seq: done.seq,
            outcome: AccountUpdated {
                customer: customer_view(&customer.id, done.state::<Customer>(&customer)),
                access_token,
            },
        })
    }
}

/// A new password's hash and the Storefront session that replaces every
/// other (a new password ends them all).
async fn new_password(
    s: &Services,
    env: &CommandEnvelope,
    project: &Project,
    password: Option<String>,
) -> Result<(Option<String>, Option<NewSession>), CommandError> {
    let Some(p) = password else {
        return Ok((None, None));
    };
    password::check_with(&p, &project.config.password_policy)?;
    let hash = s.hasher.hash(p).await?;
    Ok((
        Some(hash),
        Some(s.new_storefront_session(&env.tenant, project)?),
    ))
}

/// The gateway checked the caller's token on its read model; the log has
/// the last word (a deletion or suspension may have just landed).
pub(super) fn caller_is_live(
    tx: &Tx,
    caller: &AggregateSubject,
    customer: &AggregateSubject,
    session_id: &str,
) -> Result<(), DomainError> {
    let live = tx.state::<Session>(caller);
    let c = tx.state::<Customer>(customer);
    if live.customer_id.as_deref() != Some(customer.id.as_str())
        || live.revoked.is_some()
        || tx.now() >= live.expires_at
        || !c.session_allowed(session_id, live.started_seq)
    {
        return Err(DomainError::InvalidToken);
    }
    Ok(())
}
