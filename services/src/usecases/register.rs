//! `customer.register`: the email claim, the customer and (unless the
//! project wants the email verified first) the first session, appended as
//! one atomic batch: all three or nothing.

use authd_events::{AggregateKind, LoginMethod, keyed_hash::secret_hash};

use super::{
    Services, UseCase, VERIFY_TTL_MS, customer_view, executor::internal, link, link_token, subject,
    valid_email,
};
use crate::{
    commands::{CommandEnvelope, RegisterCustomer, Registered, Sent},
    domain::{
        customer::{Customer, CustomerCommand},
        email_claim::{ClaimCommand, EmailClaim},
        session::{Session, SessionCommand},
    },
    error::{CommandError, DomainError},
    infra::{mail::MailKind, password, tokens},
};

impl UseCase for RegisterCustomer {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<Registered>, CommandError> {
        if !valid_email(&self.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = s.project(&env.tenant).await?;
        let config = &project.config;
        if !config.public_registration {
            return Err(DomainError::RegistrationClosed.into());
        }
        if !config.password_login {
            return Err(DomainError::MethodDisabled.into());
        }
        password::check_with(&self.password, &config.password_policy)?;
        let email = self.email.trim().to_string();
        let claim = s.claim_subject(&env.tenant, &email)?;
        let password_hash = s.hasher.hash(self.password).await.map_err(internal)?;

        let customer_id = authd_events::new_id("c");
        let session_id = authd_events::new_id("s");
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let session = subject(&env.tenant, AggregateKind::Session, &session_id)?;
        let needs_verification = config.email_verification_required;
        let verification = needs_verification.then(|| link_token(&customer_id));
        let refresh_token = tokens::new_refresh_token(&session_id);
        let session_expires_at = s.now() + s.config.session_ttl.as_millis() as i64;

        let done =
            s.x.batch(env)
                .load::<EmailClaim>(&claim)
                .create::<Customer>(&customer)
                .create::<Session>(&session)
                .decide(|tx| {
                    let claim_it = ClaimCommand::Claim {
                        customer_id: customer_id.clone(),
                    };
                    tx.decide::<EmailClaim>(&claim, &claim_it)?;
                    let register = CustomerCommand::Register {
                        email: email.clone(),
                        password_hash: password_hash.clone(),
                        email_verified: false,
                        session: (!needs_verification)
                            .then(|| (session_id.clone(), LoginMethod::Password)),
                        verification: verification
                            .as_ref()
                            .map(|(_, hash)| (*hash, tx.now() + VERIFY_TTL_MS)),
                    };
                    tx.decide::<Customer>(&customer, &register)?;
                    if !needs_verification {
                        let start = SessionCommand::Start {
                            customer_id: customer_id.clone(),
                            method: LoginMethod::Password,
                            refresh_token_hash: secret_hash(&refresh_token),
                            expires_at: session_expires_at,
                        };
                        tx.decide::<Session>(&session, &start)?;
                    }
                    Ok(())
                })
                .await?;
        if done.duplicate {
            // The first attempt stored other secrets' hashes.
            return Err(CommandError::duplicate());
        }
        let view = customer_view(&customer_id, done.state::<Customer>(&customer));
        if let Some((token, _)) = verification {
            let link = link(config, "verify", &token);
            s.send_mail(env, &email, config, MailKind::VerifyEmail { link })
                .await?;
            return Ok(Sent {
                seq: done.seq,
                outcome: Registered {
                    customer: view,
                    tokens: None,
                    email_verification_required: true,
                },
            });
        }
        let tokens = s.issue_tokens(
            &env.tenant,
            &customer_id,
            &session_id,
            refresh_token,
            session_expires_at,
            done.seq_of(&session),
        );
        Ok(Sent {
            seq: done.seq,
            outcome: Registered {
                customer: view,
                tokens: Some(tokens),
                email_verification_required: false,
            },
        })
    }
}
