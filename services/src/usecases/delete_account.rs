//! `customer.delete_account`: the signed-in customer erases their own
//! account (the Customer Auth API's `customerDeleteAccount`). They prove it
//! is them again: the current password (a wrong one counts toward the
//! lockout, as a failed sign-in), or for a customer without a password a
//! sign-in less than 5 minutes old. Then the erasure is the admin's
//! (`erasure.rs`), with the customer as its actor.

use authd_events::AggregateKind;

use super::{
    Services, UseCase, customer_actor,
    erasure::{commit, finish, mark},
    subject,
};
use crate::{
    commands::{CommandEnvelope, DeleteAccount, Erasure, Sent},
    domain::{
        customer::{self, Customer, CustomerCommand},
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::password,
};

/// How recent a sign-in proves a customer without a password.
const RECENT_LOGIN_MS: i64 = 5 * 60 * 1000;

impl UseCase for DeleteAccount {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Erasure>, CommandError> {
        let project = s.project(&env.tenant).await?;
        let customer = subject(&env.tenant, AggregateKind::Customer, customer_actor(env))?;
        let Some(current) = s.registered_customer(&customer).await? else {
            return Err(DomainError::CustomerNotFound.into());
        };
        if current.erased {
            return Err(DomainError::AlreadyErased.into());
        }
        if current.password_hash.is_empty() {
            let caller = subject(&env.tenant, AggregateKind::Session, &self.session_id)?;
            let (_, session, _) = s.x.load::<Session>(&caller, true).await?;
            let own = session.customer_id.as_deref() == Some(customer.id.as_str());
            if !own || s.now() - session.started_at > RECENT_LOGIN_MS {
                return Err(DomainError::RecentLoginRequired.into());
            }
        } else {
            let given = self.current_password.unwrap_or_default();
            let matches = given.len() <= password::MAX_PASSWORD_BYTES
                && s.hasher
                    .verify(given, current.password_hash.clone())
                    .await?;
            let now = s.now();
            let locked = current.locked_for(Services::client(env), now).is_some();
            if !matches || locked {
                // Recorded as a failed attempt (it counts toward the lockout).
                let failed = CustomerCommand::UpdatePassword {
                    current_matches: false,
                    new_password_hash: String::new(),
                    keep_session: None,
                    lockout_threshold: project.config.lockout_threshold,
                    client: Services::client(env),
                };
                let d = s.x.run::<Customer>(env, &customer, &failed).await?;
                let until = current.locked_for(Services::client(env), now).unwrap_or(0);
                return Err(match customer::login_outcome(&d.events, until) {
                    Err(DomainError::AccountLocked { until }) => {
                        DomainError::AccountLocked { until }
                    }
                    _ => DomainError::WrongCurrentPassword,
                }
                .into());
            }
        }
        mark(s, &customer).await?;
        commit(s, env, &customer, &current, "deleted by the customer").await?;
        finish(s, env, &customer).await
    }
}
