//! `customer.password.update`: the signed-in customer changes their
//! password, proving the current one; other sessions end unless asked not to.

use authd_events::AggregateKind;

use super::{
    Services, UseCase, customer_actor, executor::internal, login_password::Round, subject,
};
use crate::{
    commands::{CommandEnvelope, Done, Sent, UpdatePassword},
    domain::aggregate::Aggregate,
    domain::customer::{Customer, CustomerCommand},
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
        let new_password_hash = s.hasher.hash(self.new_password).await.map_err(internal)?;
        let keep_session = self.end_other_sessions.then(|| self.session_id.clone());
        let mut checked = current.password_hash;
        let d = loop {
            let matches = s
                .hasher
                .verify(self.current_password.clone(), checked.clone())
                .await
                .map_err(internal)?;
            let update = CustomerCommand::UpdatePassword {
                current_matches: matches,
                new_password_hash: new_password_hash.clone(),
                keep_session: keep_session.clone(),
            };
            let mut round = Round::Decided(());
            let d =
                s.x.decide(env, &customer, |c: &Customer, now| {
                    if c.password_hash != checked {
                        round = Round::PasswordChanged(c.password_hash.clone());
                        return Ok(vec![]);
                    }
                    round = Round::Decided(());
                    c.decide(&update, now)
                })
                .await?;
            match round {
                Round::PasswordChanged(hash) => checked = hash,
                Round::Decided(()) => break d,
            }
        };
        let mail = MailKind::PasswordChanged;
        s.send_mail(env, &d.state.email, &project.config, mail)
            .await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Done,
        })
    }
}
