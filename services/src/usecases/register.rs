//! `customer.register`: the email claim, the customer and (unless the
//! project wants the email verified first) the first session, appended as
//! one atomic batch: all three or nothing.

use authd_events::{AggregateKind, LoginMethod};

use super::{
    Services, UseCase, VERIFY_TTL_MS, customer_view, link, link_token, phone_claim::PhoneMove,
    subject, valid_email,
};
use crate::{
    commands::{CommandEnvelope, RegisterCustomer, Registered, Sent},
    domain::{
        customer::{Customer, CustomerCommand},
        customer_profile::Profile,
        email_claim::{ClaimCommand, EmailClaim},
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::{mail::MailKind, password},
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
        let profile = self.profile.applied_to(&Profile::default())?;
        let email = self.email.trim().to_string();
        let claim = s.claim_subject(&env.tenant, &email)?;
        let password_hash = s.hasher.hash(self.password).await?;

        let customer_id = authd_events::new_id("c");
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let session = s.new_session(&env.tenant)?;
        let verify_first = config.email_verification_required;
        let signs_in = self.sign_in && !verify_first;
        let verification = verify_first.then(|| link_token(&customer_id));
        let claim_it = ClaimCommand::Claim {
            customer_id: customer_id.clone(),
        };
        let start = session.start(&customer_id, LoginMethod::Password);
        let phone = PhoneMove::plan(s, &env.tenant, None, profile.phone.as_deref())?;
        let batch =
            s.x.batch(env)
                .load::<EmailClaim>(&claim)
                .create::<Customer>(&customer)
                .create::<Session>(&session.subject);
        let done = phone
            .load(batch)
            .decide(|tx| {
                let register = CustomerCommand::Register {
                    email: email.clone(),
                    password_hash: password_hash.clone(),
                    email_verified: false,
                    session: signs_in.then(|| (session.id.clone(), LoginMethod::Password)),
                    verification: verification
                        .as_ref()
                        .map(|(_, hash)| (*hash, tx.now() + VERIFY_TTL_MS)),
                    profile: profile.clone(),
                    activation: None,
                };
                tx.decide::<EmailClaim>(&claim, &claim_it)?;
                tx.decide::<Customer>(&customer, &register)?;
                phone.decide(tx, &customer_id)?;
                if signs_in {
                    tx.decide::<Session>(&session.subject, &start)?;
                }
                Ok(())
            })
            .await?;
        if done.duplicate {
            // The first attempt stored other secrets' hashes.
            return Err(CommandError::duplicate());
        }
        let view = customer_view(&customer_id, done.state::<Customer>(&customer));
        let tokens = match verification {
            Some((token, _)) => {
                let link = link(config, "verify", &token);
                s.send_mail(env, &email, config, MailKind::VerifyEmail { link })
                    .await?;
                None
            }
            None if signs_in => {
                let seq = done.seq_of(&session.subject);
                let restricted = s
                    .restricted(&env.tenant, done.state::<Customer>(&customer))
                    .await?;
                Some(s.session_tokens(&env.tenant, &customer_id, session, (seq, restricted))?)
            }
            None => None,
        };
        Ok(Sent {
            seq: done.seq,
            outcome: Registered {
                customer: view,
                tokens,
                email_verification_required: verify_first,
            },
        })
    }
}
