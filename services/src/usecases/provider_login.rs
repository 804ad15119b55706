//! The end of a provider login: the state is spent, the code exchanged,
//! the ID token checked; then the customer linked to the identity signs
//! in, or the customer of a verified email is linked, or a new customer
//! signs up. Every outcome is recorded on the login (single use).

use authd_events::{
    AggregateKind, AggregateSubject, LoginMethod, ProviderFailure, ProviderLoginCompleted,
    keyed_hash::email_key,
};

use super::{
    Services, UseCase,
    executor::Tx,
    providers::{derive, exchange, login_subject, redirect_provider},
    subject, valid_email,
};
use crate::{
    commands::{CommandEnvelope, CompleteProviderLogin, Sent, SignedIn},
    domain::{
        aggregate::Aggregate,
        customer::{self, Customer, CustomerCommand},
        customer_mfa::{self, NewChallenge},
        email_claim::{ClaimCommand, EmailClaim, IdentityClaim},
        provider_login::{ProviderLogin, ProviderLoginCommand},
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::oidc::{LoginSecrets, ProviderIdentity},
};

/// Who the identity is to authd.
enum Match {
    /// Linked before.
    Linked(AggregateSubject),
    /// The customer of the email the provider vouches for: link.
    ByEmail(AggregateSubject),
    /// Nobody yet: sign up.
    New { email: String },
}

impl UseCase for CompleteProviderLogin {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<crate::commands::SignIn<SignedIn>>, CommandError> {
        let project = s.project(&env.tenant).await?;
        let login = login_subject(&env.tenant, &self.state)?;
        let started =
            s.x.current::<ProviderLogin>(&login, |l| l.started.is_some())
                .await?;
        let provider_id = started
            .started
            .as_ref()
            .map(|l| l.provider_id.clone())
            .ok_or(DomainError::InvalidState)?;
        let provider = project
            .providers
            .providers
            .iter()
            .find(|p| p.id == provider_id && p.enabled)
            .filter(|p| self.provider_key.as_ref().is_none_or(|k| *k == p.key))
            .ok_or(DomainError::InvalidState)?;
        let return_to = started.open(&provider_id, s.now())?.return_to.clone();
        let derived = derive(&s.state_key, &self.state);
        let (kind, secret) = redirect_provider(s, provider)?;
        let secrets = LoginSecrets {
            state: &self.state,
            nonce: &derived.nonce,
            pkce_verifier: &derived.pkce_verifier,
        };
        if self.code.is_empty() || self.code.len() > 2_000 {
            return Err(fail(
                s,
                env,
                &login,
                ProviderFailure::ProviderError,
                DomainError::InvalidInput("code"),
            )
            .await);
        }
        let identity = match exchange(s, &kind, &secret, &return_to, &self.code, &secrets).await {
            Ok(identity) => identity,
            Err(f) => return Err(fail(s, env, &login, f.reason, f.error).await),
        };
        let ident = identity_subject(s, &env.tenant, &provider_id, &identity)?;
        let registration = project.config.public_registration;
        let matched = match match_identity(s, env, &ident, &identity, registration).await? {
            Ok(m) => m,
            Err((reason, e)) => return Err(fail(s, env, &login, reason, e).await),
        };
        sign_in(
            s,
            env,
            SignIn {
                login,
                ident,
                provider_id,
                identity,
                matched,
            },
        )
        .await
    }
}

/// Who the identity is to authd, or why the login fails (what the log
/// records, what the caller hears).
async fn match_identity(
    s: &Services,
    env: &CommandEnvelope,
    ident: &AggregateSubject,
    identity: &ProviderIdentity,
    registration: bool,
) -> Result<Result<Match, (ProviderFailure, DomainError)>, CommandError> {
    Ok(Ok(
        match s
            .x
            .current::<IdentityClaim>(ident, |c| c.owner.is_some())
            .await?
            .owner
        {
            Some(owner) => Match::Linked(subject(&env.tenant, AggregateKind::Customer, &owner)?),
            None => match &identity.email {
                None => {
                    let e = DomainError::ProviderError("the provider shared no email");
                    return Ok(Err((ProviderFailure::NoEmail, e)));
                }
                Some(email) if !valid_email(email) => {
                    let e = DomainError::ProviderError("the provider's email is invalid");
                    return Ok(Err((ProviderFailure::ProviderError, e)));
                }
                Some(email) => match s
                    .owner_of(&env.tenant, &s.claim_subject(&env.tenant, email)?)
                    .await?
                {
                    Some(_) if !identity.email_verified => {
                        // Linking on an unverified email would hand the
                        // account to whoever typed its address at the provider.
                        let e = DomainError::EmailNotVerified;
                        return Ok(Err((ProviderFailure::EmailNotVerified, e)));
                    }
                    Some((customer, _)) => Match::ByEmail(customer),
                    None if !registration => {
                        let e = DomainError::RegistrationClosed;
                        return Ok(Err((ProviderFailure::RegistrationClosed, e)));
                    }
                    None => Match::New {
                        email: email.trim().to_string(),
                    },
                },
            },
        },
    ))
}

/// What the sign-in batch acts on.
struct SignIn {
    login: AggregateSubject,
    ident: AggregateSubject,
    provider_id: String,
    identity: ProviderIdentity,
    matched: Match,
}

async fn sign_in(
    s: &Services,
    env: &CommandEnvelope,
    a: SignIn,
) -> Result<Sent<crate::commands::SignIn<SignedIn>>, CommandError> {
    let session = s.new_session(&env.tenant)?;
    let (customer, new_customer) = match &a.matched {
        Match::Linked(c) | Match::ByEmail(c) => (c.clone(), false),
        Match::New { .. } => (
            subject(
                &env.tenant,
                AggregateKind::Customer,
                &authd_events::new_id("c"),
            )?,
            true,
        ),
    };
    let claim = match &a.matched {
        Match::New { email } => Some(s.claim_subject(&env.tenant, email)?),
        _ => None,
    };
    let completed = ProviderLoginCommand::Complete(ProviderLoginCompleted {
        customer_id: customer.id.clone(),
        session_id: session.id.clone(),
        new_customer,
    });
    let start = session.start(&customer.id, LoginMethod::Provider);
    let challenge = s.new_challenge(&customer.id, false);
    let mut batch = s.x.batch(env).load::<ProviderLogin>(&a.login);
    batch = match (&a.matched, &claim) {
        (Match::New { .. }, Some(claim)) => batch
            .load::<EmailClaim>(claim)
            .load::<IdentityClaim>(&a.ident)
            .create::<Customer>(&customer),
        (Match::ByEmail(_), _) => batch
            .load::<IdentityClaim>(&a.ident)
            .load::<Customer>(&customer),
        _ => batch.load::<Customer>(&customer),
    };
    let done = batch
        .create::<Session>(&session.subject)
        .decide(|tx| {
            let customer_events = decide_customer(
                tx,
                &a,
                &customer,
                claim.as_ref(),
                (&session.id, &challenge.new),
            )?;
            let locked_until = tx.state::<Customer>(&customer).locked_until;
            if let Err(e) = customer::login_outcome(&customer_events, locked_until) {
                tx.decide::<ProviderLogin>(
                    &a.login,
                    &ProviderLoginCommand::Fail(ProviderFailure::Suspended),
                )?;
                return Ok(Err(e));
            }
            tx.decide::<ProviderLogin>(&a.login, &completed)?;
            if customer_mfa::waits_for_second_factor(&customer_events) {
                return Ok(Ok(true));
            }
            tx.decide::<Session>(&session.subject, &start)?;
            Ok(Ok(false))
        })
        .await?;
    if done.value.clone()? {
        return s.mfa_required(&done, &customer, challenge);
    }
    let signed_in = s
        .signed_in(env, &done, &customer, session, new_customer)
        .await?;
    Ok(signed_in.map(crate::commands::SignIn::SignedIn))
}

/// The customer's side of the batch: sign-up, link, sign-in.
fn decide_customer(
    tx: &mut Tx,
    a: &SignIn,
    customer: &AggregateSubject,
    claim: Option<&AggregateSubject>,
    (session_id, challenge): (&str, &NewChallenge),
) -> Result<Vec<authd_events::CustomerEvent>, DomainError> {
    let claim_it = ClaimCommand::Claim {
        customer_id: customer.id.clone(),
    };
    let link = authd_events::ProviderLinked {
        provider_id: a.provider_id.clone(),
    };
    match &a.matched {
        Match::New { email } => {
            if let Some(claim) = claim {
                tx.decide::<EmailClaim>(claim, &claim_it)?;
            }
            tx.decide::<IdentityClaim>(&a.ident, &claim_it)?;
            let register = CustomerCommand::Register {
                email: email.clone(),
                password_hash: String::new(),
                email_verified: a.identity.email_verified,
                session: Some((session_id.to_string(), LoginMethod::Provider)),
                verification: None,
                profile: Default::default(),
                activation: None,
            };
            tx.apply::<Customer>(customer, |c, now| linked(c.decide(&register, now)?, &link))
        }
        Match::ByEmail(_) => {
            tx.decide::<IdentityClaim>(&a.ident, &claim_it)?;
            // The provider vouches for the address: as a code login, that
            // proves it (and ends what a pre-hijacker started).
            let record = CustomerCommand::RecordProviderLogin {
                session_id: session_id.to_string(),
                email_proven: true,
                challenge: Some(challenge.clone()),
            };
            tx.apply::<Customer>(customer, |c, now| linked(c.decide(&record, now)?, &link))
        }
        Match::Linked(_) => {
            let record = CustomerCommand::RecordProviderLogin {
                session_id: session_id.to_string(),
                email_proven: false,
                challenge: Some(challenge.clone()),
            };
            tx.decide::<Customer>(customer, &record)
        }
    }
}

/// A sign-up's or sign-in's events, then the link, unless the customer
/// was refused (suspended): one decision, so the link sees the same state.
fn linked(
    mut events: Vec<authd_events::CustomerEvent>,
    link: &authd_events::ProviderLinked,
) -> Result<Vec<authd_events::CustomerEvent>, DomainError> {
    if customer::login_outcome(&events, 0).is_ok() {
        events.push(authd_events::CustomerEvent::ProviderLinked(link.clone()));
    }
    Ok(events)
}

/// Records the failure on the login (the state is spent) and answers `error`.
async fn fail(
    s: &Services,
    env: &CommandEnvelope,
    login: &AggregateSubject,
    reason: ProviderFailure,
    error: DomainError,
) -> CommandError {
    match s
        .x
        .run::<ProviderLogin>(env, login, &ProviderLoginCommand::Fail(reason))
        .await
    {
        Ok(_) => error.into(),
        // Spent meanwhile (a racing callback): that is the answer.
        Err(e) => e,
    }
}

/// The identity's claim: a keyed hash of provider and subject, so neither
/// appears in a subject.
fn identity_subject(
    s: &Services,
    tenant: &str,
    provider_id: &str,
    identity: &ProviderIdentity,
) -> Result<AggregateSubject, CommandError> {
    if identity.subject.is_empty() || identity.subject.len() > 255 {
        return Err(DomainError::ProviderError("the provider's subject is invalid").into());
    }
    let key = email_key(
        &s.config.index_key,
        tenant,
        &format!("identity:{provider_id}:{}", identity.subject),
    );
    subject(tenant, AggregateKind::ProviderIdentity, &key)
}
