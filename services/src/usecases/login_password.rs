//! `customer.login`: the password is checked off the async runtime, then
//! the attempt (and, when it succeeds, the new session) is appended as one
//! atomic batch at the customer's expected sequence, so a suspension or a
//! reset that lands first makes the login decide again on the new state.

use authd_events::{AggregateKind, AggregateSubject, LoginMethod, keyed_hash::secret_hash};

use super::{Services, UseCase, customer_view, executor::internal, subject, valid_email};
use crate::{
    commands::{CommandEnvelope, LogInWithPassword, Sent, SignedIn},
    domain::aggregate::Aggregate,
    domain::{
        customer::{self, Customer, CustomerCommand},
        login_attempts::{self, AttemptCommand, LoginAttempts},
        session::{Session, SessionCommand},
    },
    error::{CommandError, DomainError},
    infra::{password, tokens},
};

impl UseCase for LogInWithPassword {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignedIn>, CommandError> {
        let email = self.email.trim();
        if self.password.len() > password::MAX_PASSWORD_BYTES {
            return Err(DomainError::PasswordTooLong(password::MAX_PASSWORD_BYTES).into());
        }
        let project = s.project(&env.tenant).await?;
        let config = &project.config;
        if !config.password_login {
            return Err(DomainError::MethodDisabled.into());
        }
        if !valid_email(email) {
            // Costs what a real attempt costs, so timing says nothing.
            s.hasher
                .verify_dummy(self.password)
                .await
                .map_err(internal)?;
            return Err(DomainError::InvalidCredentials.into());
        }
        let claim = s.claim_subject(&env.tenant, email)?;
        let Some((customer, current)) = s.owner_of(&env.tenant, &claim).await? else {
            return unknown_email(s, env, &claim, self.password, config.lockout_threshold).await;
        };
        let customer_id = customer.id.clone();
        let session_id = authd_events::new_id("s");
        let session = subject(&env.tenant, AggregateKind::Session, &session_id)?;
        let refresh_token = tokens::new_refresh_token(&session_id);
        let expires_at = s.now() + s.config.session_ttl.as_millis() as i64;
        let record = |matches: bool| CustomerCommand::RecordPasswordLogin {
            password_matches: matches,
            session_id: session_id.clone(),
            lockout_threshold: config.lockout_threshold,
            verification_required: config.email_verification_required,
        };
        let start = SessionCommand::Start {
            customer_id: customer_id.clone(),
            method: LoginMethod::Password,
            refresh_token_hash: secret_hash(&refresh_token),
            expires_at,
        };
        let mut checked = current.password_hash;
        let done = loop {
            let matches = s
                .hasher
                .verify(self.password.clone(), checked.clone())
                .await
                .map_err(internal)?;
            let done =
                s.x.batch(env)
                    .load::<Customer>(&customer)
                    .create::<Session>(&session)
                    .decide(|tx| {
                        let c = tx.state::<Customer>(&customer);
                        if c.password_hash != checked {
                            return Ok(Round::PasswordChanged(c.password_hash.clone()));
                        }
                        let locked_until = c.locked_until;
                        let events = tx.decide::<Customer>(&customer, &record(matches))?;
                        let answer = customer::login_outcome(&events, locked_until);
                        if answer.is_ok() {
                            tx.decide::<Session>(&session, &start)?;
                        }
                        Ok(Round::Decided(answer))
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
        if done.duplicate {
            return Err(CommandError::duplicate());
        }
        let tokens = s.issue_tokens(
            &env.tenant,
            &customer_id,
            &session_id,
            refresh_token,
            expires_at,
            done.seq_of(&session),
        );
        Ok(Sent {
            seq: done.seq,
            outcome: SignedIn {
                customer: customer_view(&customer_id, done.state::<Customer>(&customer)),
                tokens,
                new_customer: false,
            },
        })
    }
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
) -> Result<Sent<SignedIn>, CommandError> {
    s.hasher.verify_dummy(password).await.map_err(internal)?;
    let attempts = subject(&env.tenant, AggregateKind::LoginAttempts, &claim.id)?;
    let mut answer = DomainError::InvalidCredentials;
    s.x.decide(env, &attempts, |a: &LoginAttempts, now| {
        answer = login_attempts::answer(a, now);
        a.decide(&AttemptCommand::RecordFailure { lockout_threshold }, now)
    })
    .await?;
    Err(answer.into())
}
