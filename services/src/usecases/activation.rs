//! `customer.invite` (an admin creates a customer without a password and
//! mails an activation link) and `customer.activate` (the link sets the
//! first password and signs in, like Shopify's `customerActivate`).

use authd_events::{AggregateKind, LoginMethod, keyed_hash::secret_hash};

use super::{
    ACTIVATION_TTL_MS, Services, UseCase, customer_of_token, customer_view, link, link_token,
    subject, valid_email,
};
use crate::{
    commands::{
        ActivateCustomer, CommandEnvelope, InviteCustomer, Invited, Sent, StorefrontSignedIn,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        customer_profile::Profile,
        email_claim::{ClaimCommand, EmailClaim},
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::{mail::MailKind, password},
};

impl UseCase for InviteCustomer {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Invited>, CommandError> {
        if !valid_email(&self.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = s.project(&env.tenant).await?;
        let profile = self.profile.applied_to(&Profile::default())?;
        let email = self.email.trim().to_string();
        let claim = s.claim_subject(&env.tenant, &email)?;
        if let Some((customer, _)) = s.owner_of(&env.tenant, &claim).await? {
            // Invited before and not activated: a new link.
            let (token, token_hash) = link_token(&customer.id);
            let d =
                s.x.decide(env, &customer, |c: &Customer, now| {
                    use crate::domain::aggregate::Aggregate;
                    let again = CustomerCommand::RequestActivation {
                        token_hash,
                        expires_at: now + ACTIVATION_TTL_MS,
                    };
                    c.decide(&again, now)
                })
                .await?;
            let link = link(&project.config, "activate", &token);
            s.send_mail(
                env,
                &d.state.email,
                &project.config,
                MailKind::Activate { link },
            )
            .await?;
            return Ok(Sent {
                seq: d.seq,
                outcome: Invited {
                    customer: customer_view(&customer.id, &d.state),
                    invited_again: true,
                },
            });
        }
        let customer_id = authd_events::new_id("c");
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let (token, token_hash) = link_token(&customer_id);
        let claim_it = ClaimCommand::Claim {
            customer_id: customer_id.clone(),
        };
        let done =
            s.x.batch(env)
                .load::<EmailClaim>(&claim)
                .create::<Customer>(&customer)
                .decide(|tx| {
                    let register = CustomerCommand::Register {
                        email: email.clone(),
                        password_hash: String::new(),
                        email_verified: false,
                        session: None,
                        verification: None,
                        profile: profile.clone(),
                        activation: Some((token_hash, tx.now() + ACTIVATION_TTL_MS)),
                    };
                    tx.decide::<EmailClaim>(&claim, &claim_it)?;
                    tx.decide::<Customer>(&customer, &register)?;
                    Ok(())
                })
                .await?;
        if done.duplicate {
            return Err(CommandError::duplicate());
        }
        let link = link(&project.config, "activate", &token);
        s.send_mail(env, &email, &project.config, MailKind::Activate { link })
            .await?;
        Ok(Sent {
            seq: done.seq,
            outcome: Invited {
                customer: customer_view(&customer_id, done.state::<Customer>(&customer)),
                invited_again: false,
            },
        })
    }
}

impl UseCase for ActivateCustomer {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<StorefrontSignedIn>, CommandError> {
        let customer_id = customer_of_token(&self.token)?.to_string();
        let project = s.project(&env.tenant).await?;
        if project.mfa_required == authd_events::MfaRequirement::Required {
            // Activation signs in to the Storefront, which cannot add the
            // second factor such a customer would need first: set the
            // password with a reset link and sign in through the Customer
            // Auth API instead.
            return Err(DomainError::MfaEnrollmentRequired.into());
        }
        password::check_with(&self.password, &project.config.password_policy)?;
        let customer = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let token_hash = secret_hash(&self.token);
        // Check the token before paying for a hash.
        let now = s.now();
        let current = s.x.current::<Customer>(&customer, |c| c.registered).await?;
        if current.registered && !current.password_hash.is_empty() {
            return Err(DomainError::AlreadyEnabled.into());
        }
        if !matches!(current.activation, Some((h, exp)) if h == token_hash && now < exp) {
            return Err(DomainError::InvalidToken.into());
        }
        let new_password_hash = s.hasher.hash(self.password).await?;
        let session = s.new_storefront_session(&env.tenant, &project)?;
        let activate = CustomerCommand::Activate {
            token_hash,
            new_password_hash,
            keep_session: Some(session.id.clone()),
        };
        let start = session.start(&customer_id, LoginMethod::Password);
        let done =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .create::<Session>(&session.subject)
                .decide(|tx| {
                    tx.decide::<Customer>(&customer, &activate)?;
                    tx.decide::<Session>(&session.subject, &start)?;
                    Ok(())
                })
                .await?;
        s.storefront_signed_in(&done, &customer, session)
    }
}
