//! `customer.password.update`: the signed-in customer changes their
//! password, proving the current one; other sessions end unless asked not to.

use authd_events::AggregateKind;

use super::{Services, UseCase, customer_actor, login_password::Round, subject};
use crate::{
    commands::{CommandEnvelope, Done, Sent, UpdatePassword},
    domain::aggregate::Aggregate,
    domain::customer::{self, Customer, CustomerCommand},
    error::{CommandError, DomainError},
    infra::{mail::MailKind, password},
};

impl UseCase for UpdatePassword {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let project = s.project(&env.tenant).await?;
        if self.current_password.len() > password::MAX_PASSWORD_BYTES {
            return Err(DomainError::WrongCurrentPassword.into());
        }
        password::check_with(&self.new_password, &project.config.password_policy)?;
        let customer = subject(&env.tenant, AggregateKind::Customer, customer_actor(env))?;
        let Some(current) = s.registered_customer(&customer).await? else {
            return Err(DomainError::CustomerNotFound.into());
        };
        let keep_session = self.end_other_sessions.then(|| self.session_id.clone());
        let mut checked = current.password_hash;
        let mut locked_until = 0;
        let d = loop {
            let matches = s
                .hasher
                .verify(self.current_password.clone(), checked.clone())
                .await?;
            // The new password costs a hash only once the current one is right.
            let new_password_hash = match matches {
                true => s.hasher.hash(self.new_password.clone()).await?,
                false => String::new(),
            };
            let update = CustomerCommand::UpdatePassword {
                current_matches: matches,
                new_password_hash,
                keep_session: keep_session.clone(),
                lockout_threshold: project.config.lockout_threshold,
                client: Services::client(env),
            };
            let mut round = Round::Decided(());
            let d =
                s.x.decide(env, &customer, |c: &Customer, now| {
                    if c.password_hash != checked {
                        round = Round::PasswordChanged(c.password_hash.clone());
                        return Ok(vec![]);
                    }
                    round = Round::Decided(());
                    locked_until = c.locked_for(Services::client(env), now).unwrap_or(0);
                    c.decide(&update, now)
                })
                .await?;
            match round {
                Round::PasswordChanged(hash) => checked = hash,
                Round::Decided(()) => break d,
            }
        };
        // A wrong current password was recorded as a failed attempt.
        if let Err(e) = customer::login_outcome(&d.events, locked_until) {
            return Err(match e {
                DomainError::InvalidCredentials => DomainError::WrongCurrentPassword,
                other => other,
            }
            .into());
        }
        let mail = MailKind::PasswordChanged;
        s.send_mail(env, &d.state.email, &project.config, mail)
            .await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Done,
        })
    }
}
