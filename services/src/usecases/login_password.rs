//! `customer.login`: the password is checked off the async runtime, then
//! the attempt (and, when it succeeds, the new session) is appended at the
//! customer's expected sequence, so a suspension or a reset that lands
//! first makes the login decide again on the new state. A sign-in that
//! resets nothing on the customer appends only the session's start, in one
//! publish guarded by the customer's sequence; otherwise the customer's
//! events and the session go in one atomic batch.

use authd_events::{AggregateKind, AggregateSubject, LoginMethod};

use super::{
    NewSession, Services, UseCase, executor::Committed, mfa_login::Challenge, subject, valid_email,
};
use crate::{
    commands::{
        CommandEnvelope, CreateAccessToken, LogInWithPassword, Sent, SignIn, SignedIn,
        StorefrontSignedIn,
    },
    domain::aggregate::Aggregate,
    domain::{
        customer::{self, Customer, CustomerCommand},
        customer_mfa,
        login_attempts::{self, AttemptCommand, LoginAttempts},
        project::Project,
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::password,
};

impl UseCase for LogInWithPassword {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignIn<SignedIn>>, CommandError> {
        let l = log_in(s, env, &self.email, self.password, false).await?;
        if l.challenged() {
            return s.mfa_required(&l.done, &l.customer, l.challenge);
        }
        let signed_in = s
            .signed_in(env, &l.done, &l.customer, l.session, false)
            .await?;
        Ok(signed_in.map(SignIn::SignedIn))
    }
}

impl UseCase for CreateAccessToken {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignIn<StorefrontSignedIn>>, CommandError> {
        let l = log_in(s, env, &self.email, self.password, true).await?;
        if l.challenged() {
            return s.mfa_required(&l.done, &l.customer, l.challenge);
        }
        let signed_in = s.storefront_signed_in(&l.done, &l.customer, l.session)?;
        Ok(signed_in.map(SignIn::SignedIn))
    }
}

/// A password login's batch: the session started, or (a second factor
/// is set up) the challenge recorded instead.
struct Login {
    done: Committed<LoginRound>,
    customer: AggregateSubject,
    session: NewSession,
    challenge: Challenge,
}

impl Login {
    fn challenged(&self) -> bool {
        matches!(self.done.value, Round::Decided(Ok(true)))
    }
}

/// A password login: the customer's record of the attempt and, when it
/// succeeds, the new session (a Storefront one with `storefront`), as one
/// batch; a failure is the error.
async fn log_in(
    s: &Services,
    env: &CommandEnvelope,
    email: &str,
    password: String,
    storefront: bool,
) -> Result<Login, CommandError> {
    let email = email.trim();
    let Some(project) = precheck(s, env, email, &password).await? else {
        return Err(DomainError::InvalidCredentials.into());
    };
    let config = &project.config;
    let claim = s.claim_subject(&env.tenant, email)?;
    let Some((customer, current)) = s.owner_of(&env.tenant, &claim).await? else {
        return Err(unknown_email(s, env, &claim, password, config.lockout_threshold).await);
    };
    let customer_id = customer.id.clone();
    let challenge = s.new_challenge(&customer_id, storefront);
    let session = if storefront {
        s.new_storefront_session(&env.tenant, &project)?
    } else {
        s.new_session(&env.tenant)?
    };
    let record = |password_matches| CustomerCommand::RecordPasswordLogin {
        password_matches,
        session_id: session.id.clone(),
        lockout_threshold: config.lockout_threshold,
        verification_required: config.email_verification_required,
        client: Services::client(env),
        challenge: challenge.new.clone(),
    };
    let start = session.start(&customer_id, LoginMethod::Password);
    let mut checked = current.password_hash;
    let done = loop {
        let matches = s.hasher.verify(password.clone(), checked.clone()).await?;
        let done = s
            .x
            .batch(env)
            .guard::<Customer>(&customer)
            .create::<Session>(&session.subject)
            .decide(|tx| {
                let c = tx.state::<Customer>(&customer);
                if c.password_hash != checked {
                    return Ok(Round::PasswordChanged(c.password_hash.clone()));
                }
                let locked_until = c.locked_for(Services::client(env), tx.now()).unwrap_or(0);
                let events = tx.decide::<Customer>(&customer, &record(matches))?;
                let answer = customer::login_outcome(&events, locked_until);
                let challenged = customer_mfa::waits_for_second_factor(&events);
                // The Storefront has no way to add a factor: a customer
                // who must have one (and, not challenged, has none) gets
                // no token there.
                let must_enroll =
                    storefront && project.mfa_required == authd_events::MfaRequirement::Required;
                let answer = match answer {
                    Ok(()) if must_enroll && !challenged => Err(DomainError::MfaEnrollmentRequired),
                    other => other,
                };
                if answer.is_ok() && !challenged {
                    tx.decide::<Session>(&session.subject, &start)?;
                }
                Ok(Round::Decided(answer.map(|()| challenged)))
            })
            .await?;
        match &done.value {
            Round::PasswordChanged(hash) => checked = hash.clone(),
            Round::Decided(_) => break done,
        }
    };
    if let Round::Decided(Err(e)) = &done.value {
        return Err(e.clone().into());
    }
    Ok(Login {
        done,
        customer,
        session,
        challenge,
    })
}

/// `Ok(true)`: the second factor is asked for.
type LoginRound = Round<Result<bool, DomainError>>;

/// The project, once the request is worth a real attempt; `None` for an
/// address that cannot be one (after the same hashing work).
async fn precheck(
    s: &Services,
    env: &CommandEnvelope,
    email: &str,
    password: &str,
) -> Result<Option<Project>, CommandError> {
    if password.len() > password::MAX_PASSWORD_BYTES {
        return Err(DomainError::PasswordTooLong(password::MAX_PASSWORD_BYTES).into());
    }
    let project = s.project(&env.tenant).await?;
    if !project.config.password_login {
        return Err(DomainError::MethodDisabled.into());
    }
    if !valid_email(email) {
        // Costs what a real attempt costs, so timing says nothing.
        s.hasher.verify_dummy(password.to_string()).await?;
        return Ok(None);
    }
    Ok(Some(project))
}

/// A decision that depends on a password checked before it (hashing is
/// slow, so it happens outside): when the customer's password changed in
/// between, nothing is decided and the check runs again on the new hash.
pub(super) enum Round<T> {
    Decided(T),
    PasswordChanged(String),
}

/// A login for an email without a customer: same cost, same answer (locks
/// included), and still a recorded fact.
async fn unknown_email(
    s: &Services,
    env: &CommandEnvelope,
    claim: &AggregateSubject,
    password: String,
    lockout_threshold: u32,
) -> CommandError {
    if let Err(e) = s.hasher.verify_dummy(password).await {
        return e.into();
    }
    let attempts = match subject(&env.tenant, AggregateKind::LoginAttempts, &claim.id) {
        Ok(attempts) => attempts,
        Err(e) => return e,
    };
    let mut answer = DomainError::InvalidCredentials;
    let client = Services::client(env);
    let recorded =
        s.x.decide(env, &attempts, |a: &LoginAttempts, now| {
            answer = login_attempts::answer(a, client, now);
            a.decide(
                &AttemptCommand::RecordFailure {
                    lockout_threshold,
                    client,
                },
                now,
            )
        })
        .await;
    match recorded {
        Ok(_) => answer.into(),
        Err(e) => e,
    }
}
