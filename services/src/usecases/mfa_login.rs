//! The sign-in's second step. A password, code or provider sign-in of a
//! customer with a second factor records a challenge instead of starting a
//! session (`customer_mfa::challenged`) and answers its token;
//! `customer.login.mfa` (or the Storefront's `storefront.token.create_mfa`)
//! answers it with a code, and the challenge's use and the session's start
//! are one batch.

use authd_events::{AggregateKind, AggregateSubject, MfaMethod};

use super::{
    NewSession, Services, UseCase, customer_of_token,
    executor::Committed,
    link_token,
    mfa::{code_field, proof},
    subject,
};
use crate::{
    commands::{
        CommandEnvelope, CreateAccessTokenWithMfa, LogInWithMfa, MfaRequired, Sent, SignIn,
        SignedIn, StorefrontSignedIn,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        customer_mfa::{self, MfaCommand, NewChallenge, Proof},
        mfa::CHALLENGE_TTL_MS,
        session::Session,
    },
    error::{CommandError, DomainError},
};

/// A challenge's token (`<customer id>.<256 random bits>`, only its hash
/// kept) for a sign-in about to be decided.
pub(super) struct Challenge {
    token: String,
    pub(super) new: NewChallenge,
}

impl Services {
    /// Whether tokens for `c` may only add a second factor: the project
    /// requires one and the customer has none.
    pub(super) async fn restricted(
        &self,
        tenant: &str,
        c: &Customer,
    ) -> Result<bool, CommandError> {
        if c.mfa.active() {
            return Ok(false);
        }
        let required = authd_events::MfaRequirement::Required;
        Ok(self.project(tenant).await?.mfa_required == required)
    }

    pub(super) fn new_challenge(&self, customer_id: &str, storefront: bool) -> Challenge {
        let (token, token_hash) = link_token(customer_id);
        Challenge {
            token,
            new: NewChallenge {
                token_hash,
                expires_at: self.now() + CHALLENGE_TTL_MS,
                storefront,
            },
        }
    }

    /// The answer of a sign-in that recorded `challenge` instead of a session.
    pub(super) fn mfa_required<T, U>(
        &self,
        done: &Committed<U>,
        customer: &AggregateSubject,
        challenge: Challenge,
    ) -> Result<Sent<SignIn<T>>, CommandError> {
        if done.duplicate {
            // The first attempt stored another token's hash.
            return Err(CommandError::duplicate());
        }
        let c = done.state::<Customer>(customer);
        let mut methods = Vec::new();
        if c.mfa.totp.is_some() {
            methods.push(MfaMethod::Totp);
        }
        // The Storefront's second step takes codes only.
        if !c.mfa.passkeys.is_empty() && !challenge.new.storefront {
            methods.push(MfaMethod::Passkey);
        }
        if c.mfa.recovery_codes_left() > 0 {
            methods.push(MfaMethod::RecoveryCode);
        }
        Ok(Sent {
            seq: done.seq,
            outcome: SignIn::MfaRequired(MfaRequired {
                mfa_token: challenge.token,
                expires_at: challenge.new.expires_at,
                methods,
            }),
        })
    }
}

/// The challenge's customer, its session to start and what was decided.
pub(super) struct Passed {
    pub(super) done: Committed<Result<(), DomainError>>,
    pub(super) customer: AggregateSubject,
    pub(super) session: NewSession,
}

/// The customer whose challenge an `mfaToken` answers (its shape only).
pub(super) fn challenge_customer(token: &str) -> Result<&str, CommandError> {
    let invalid = || CommandError::from(DomainError::InvalidToken).with_field("mfaToken");
    if token.len() > 256 {
        return Err(invalid());
    }
    customer_of_token(token).map_err(|_| invalid())
}

/// The second step of the sign-in `token` names, proven with `proof`.
pub(super) async fn second_step(
    s: &Services,
    env: &CommandEnvelope,
    token: &str,
    proof: Proof,
    storefront: bool,
) -> Result<Passed, CommandError> {
    let invalid = || CommandError::from(DomainError::InvalidToken).with_field("mfaToken");
    let customer_id = challenge_customer(token)?;
    let customer =
        subject(&env.tenant, AggregateKind::Customer, customer_id).map_err(|_| invalid())?;
    let project = s.project(&env.tenant).await?;
    let session = if storefront {
        s.new_storefront_session(&env.tenant, &project)?
    } else {
        s.new_session(&env.tenant)?
    };
    let client = Services::client(env);
    let token_hash = authd_events::keyed_hash::secret_hash(token);
    let verify = CustomerCommand::Mfa(MfaCommand::Verify {
        token_hash,
        proof,
        session_id: session.id.clone(),
        lockout: (project.config.lockout_threshold, client),
    });
    let done =
        s.x.batch(env)
            .load::<Customer>(&customer)
            .create::<Session>(&session.subject)
            .decide(|tx| {
                let c = tx.state::<Customer>(&customer);
                let method = match c.mfa.open_challenge(&token_hash, tx.now()) {
                    Some(ch) if ch.storefront == storefront => ch.method,
                    _ => return Err(DomainError::InvalidToken),
                };
                let locked_until = c.locked_for(client, tx.now()).unwrap_or(0);
                let events = tx.decide::<Customer>(&customer, &verify)?;
                let answer = customer_mfa::outcome(&events, locked_until);
                if answer.is_ok() {
                    tx.decide::<Session>(&session.subject, &session.start(customer_id, method))?;
                }
                Ok(answer)
            })
            .await
            .map_err(|e| {
                if e.code == crate::error::ErrorCode::InvalidToken {
                    e.with_field("mfaToken")
                } else {
                    e
                }
            })?;
    if let Err(e) = &done.value {
        return Err(code_field(e.clone().into()));
    }
    Ok(Passed {
        done,
        customer,
        session,
    })
}

impl UseCase for LogInWithMfa {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignedIn>, CommandError> {
        let customer_id = challenge_customer(&self.mfa_token)?;
        let proof = proof(s, env, customer_id, self.totp, self.recovery_code)?;
        let p = second_step(s, env, &self.mfa_token, proof, false).await?;
        s.signed_in(env, &p.done, &p.customer, p.session, false)
            .await
    }
}

impl UseCase for CreateAccessTokenWithMfa {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<StorefrontSignedIn>, CommandError> {
        let customer_id = challenge_customer(&self.mfa_token)?;
        let proof = proof(s, env, customer_id, self.totp, self.recovery_code)?;
        let p = second_step(s, env, &self.mfa_token, proof, true).await?;
        s.storefront_signed_in(&p.done, &p.customer, p.session)
    }
}
