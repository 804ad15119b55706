//! `customer.email.verify` (a mailed link) and
//! `customer.email_verification.resend`.

use authd_events::{AggregateKind, keyed_hash::secret_hash};

use super::{
    Services, UseCase, VERIFY_TTL_MS, customer_actor, customer_of_token, customer_view, link,
    link_token, subject,
};
use crate::{
    commands::{Accepted, CommandEnvelope, CustomerView, ResendVerification, Sent, VerifyEmail},
    domain::customer::{Customer, CustomerCommand},
    error::CommandError,
    infra::mail::MailKind,
};

impl UseCase for VerifyEmail {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<CustomerView>, CommandError> {
        let customer_id = customer_of_token(&self.token)?.to_string();
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let verify = CustomerCommand::VerifyEmail {
            token_hash: secret_hash(&self.token),
        };
        let d = s.x.run::<Customer>(env, &customer, &verify).await?;
        Ok(Sent {
            seq: d.seq,
            outcome: customer_view(&customer_id, &d.state),
        })
    }
}

impl UseCase for ResendVerification {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<Accepted>, CommandError> {
        let customer_id = customer_actor(env);
        let project = s.project(&env.tenant).await?;
        let customer = subject(&env.tenant, AggregateKind::Customer, customer_id)?;
        let (token, token_hash) = link_token(customer_id);
        let expires_at = s.now() + VERIFY_TTL_MS;
        let request = CustomerCommand::RequestVerification {
            token_hash,
            expires_at,
        };
        let d = s.x.run::<Customer>(env, &customer, &request).await?;
        let link = link(&project.config, "verify", &token);
        s.send_mail(
            env,
            &d.state.email,
            &project.config,
            MailKind::VerifyEmail { link },
        )
        .await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Accepted {
                expires_at: Some(expires_at),
            },
        })
    }
}
