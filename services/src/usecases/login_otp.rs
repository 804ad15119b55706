//! `otp.request` and `otp.login`: a mailed six-digit code. A code login
//! appends the code's use, the customer's login (or, for a new address
//! when anyone may sign up, the claim and the customer) and the session as
//! one atomic batch.

use authd_events::{AggregateKind, AggregateSubject, LoginMethod, SecretHash};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::{Services, UseCase, executor::Tx, subject, valid_email};
use crate::{
    commands::{Accepted, CommandEnvelope, LogInWithOtp, RequestOtp, Sent, SignIn, SignedIn},
    domain::{
        customer::{self, Customer, CustomerCommand},
        customer_mfa::{self, NewChallenge},
        email_claim::{ClaimCommand, EmailClaim},
        otp::{self, Otp, OtpCommand},
        session::{Session, SessionCommand},
    },
    error::{CommandError, DomainError},
    infra::mail::MailKind,
};

/// Keyed hash of a one-time code, bound to the request that issued it.
fn otp_hash(index_key: &[u8], tenant: &str, otp_id: &str, code: &str) -> SecretHash {
    let mut mac = Hmac::<Sha256>::new_from_slice(index_key).expect("HMAC takes any key length");
    for part in ["otp", tenant, otp_id, code] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

impl UseCase for RequestOtp {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<Accepted>, CommandError> {
        if !valid_email(&self.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = s.project(&env.tenant).await?;
        if !project.config.otp_login {
            return Err(DomainError::MethodDisabled.into());
        }
        let email = self.email.trim().to_string();
        let claim = s.claim_subject(&env.tenant, &email)?;
        // Mail goes to the address on record, never to the one as typed
        // (which only has to match it after normalization).
        let stored = s.owner_of(&env.tenant, &claim).await?.map(|(_, c)| c.email);
        let known = stored.is_some();
        // A code is issued (and throttled) for every address alike, so the
        // answer says nothing about accounts; it is mailed only where it can
        // sign in: to a customer, or to a new address when anyone may sign up.
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        let otp_id = authd_events::new_id("o");
        let code_hash = otp_hash(&s.config.index_key, &env.tenant, &otp_id, &code);
        let otp_subject = subject(&env.tenant, AggregateKind::Otp, &claim.id)?;
        let issue = OtpCommand::Issue {
            otp_id,
            code_hash,
            client: Services::client(env),
        };
        let d = s.x.run::<Otp>(env, &otp_subject, &issue).await?;
        if d.duplicate {
            // The first attempt stored another code's hash and mailed that code.
            return Err(CommandError::duplicate());
        }
        let expires_at = s.now() + otp::OTP_TTL_MS;
        if known || project.config.public_registration {
            let mail = MailKind::OtpCode { code, expires_at };
            let to = stored.as_deref().unwrap_or(&email);
            s.send_mail(env, to, &project.config, mail).await?;
        }
        Ok(Sent {
            seq: d.seq,
            outcome: Accepted {
                expires_at: Some(expires_at),
            },
        })
    }
}

impl UseCase for LogInWithOtp {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignIn<SignedIn>>, CommandError> {
        if !valid_email(&self.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = s.project(&env.tenant).await?;
        if !project.config.otp_login {
            return Err(DomainError::MethodDisabled.into());
        }
        let code = self.otp.trim().to_string();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::InvalidOtp.into());
        }
        let email = self.email.trim().to_string();
        let claim = s.claim_subject(&env.tenant, &email)?;
        let otp_subject = subject(&env.tenant, AggregateKind::Otp, &claim.id)?;
        let existing = s.owner_of(&env.tenant, &claim).await?;
        let new_customer = existing.is_none();
        if new_customer && !project.config.public_registration {
            // Nobody to sign in, and nobody may sign up: the code still
            // counts a try, as for anyone else.
            let verify = verify_code(s, &env.tenant, &code);
            s.x.run::<Otp>(env, &otp_subject, &verify).await?;
            return Err(DomainError::InvalidOtp.into());
        }
        let customer_id = match &existing {
            Some((subject, _)) => subject.id.clone(),
            None => authd_events::new_id("c"),
        };
        let session = s.new_session(&env.tenant)?;
        let challenge = s.new_challenge(&customer_id, false);
        let login = CodeLogin {
            challenge: challenge.new.clone(),
            otp: otp_subject,
            verify: verify_code(s, &env.tenant, &code),
            claim,
            customer: subject(&env.tenant, AggregateKind::Customer, &customer_id)?,
            sign_up: new_customer.then(|| CustomerCommand::Register {
                email,
                password_hash: String::new(),
                email_verified: true,
                session: Some((session.id.clone(), LoginMethod::Otp)),
                verification: None,
                profile: Default::default(),
                activation: None,
            }),
            session_id: session.id.clone(),
            start: session.start(&customer_id, LoginMethod::Otp),
            customer_id: customer_id.clone(),
        };
        let batch = s.x.batch(env).load::<Otp>(&login.otp);
        let batch = if new_customer {
            batch
                .load::<EmailClaim>(&login.claim)
                .create::<Customer>(&login.customer)
        } else {
            batch.load::<Customer>(&login.customer)
        };
        let done = batch
            .create::<Session>(&session.subject)
            .decide(|tx| login.decide(tx, &session.subject))
            .await?;
        if done.value.clone()? {
            return s.mfa_required(&done, &login.customer, challenge);
        }
        let signed_in = s
            .signed_in(env, &done, &login.customer, session, new_customer)
            .await?;
        Ok(signed_in.map(SignIn::SignedIn))
    }
}

/// What a code login decides on each attempt of its batch.
struct CodeLogin {
    otp: AggregateSubject,
    verify: OtpCommand,
    claim: AggregateSubject,
    customer: AggregateSubject,
    customer_id: String,
    /// For a new address: the customer to register.
    sign_up: Option<CustomerCommand>,
    session_id: String,
    start: SessionCommand,
    challenge: NewChallenge,
}

impl CodeLogin {
    /// The code's use, then the customer's login or sign-up, then the
    /// session; a wrong code or a refused customer stops after recording
    /// what happened (the inner `Err`); `Ok(true)`: a challenge was
    /// recorded instead of the session (the customer has a second factor).
    fn decide(
        &self,
        tx: &mut Tx,
        session: &AggregateSubject,
    ) -> Result<Result<bool, DomainError>, DomainError> {
        let used = tx.decide::<Otp>(&self.otp, &self.verify)?;
        if !otp::verified(&used) {
            return Ok(Err(DomainError::InvalidOtp));
        }
        if let Some(register) = &self.sign_up {
            // The code proved the address: sign up.
            let claim_it = ClaimCommand::Claim {
                customer_id: self.customer_id.clone(),
            };
            tx.decide::<EmailClaim>(&self.claim, &claim_it)?;
            tx.decide::<Customer>(&self.customer, register)?;
        } else {
            let record = CustomerCommand::RecordOtpLogin {
                session_id: self.session_id.clone(),
                challenge: self.challenge.clone(),
            };
            let locked_until = tx.state::<Customer>(&self.customer).locked_until;
            let events = tx.decide::<Customer>(&self.customer, &record)?;
            if let Err(e) = customer::login_outcome(&events, locked_until) {
                return Ok(Err(e));
            }
            if customer_mfa::waits_for_second_factor(&events) {
                return Ok(Ok(true));
            }
        }
        tx.decide::<Session>(session, &self.start)?;
        Ok(Ok(false))
    }
}

/// The command that checks a presented code against the current one.
fn verify_code(s: &Services, tenant: &str, code: &str) -> OtpCommand {
    let (tenant, key, code) = (
        tenant.to_string(),
        s.config.index_key.clone(),
        code.to_string(),
    );
    OtpCommand::Verify {
        presented: Box::new(move |otp_id: &str| otp_hash(&key, &tenant, otp_id, &code)),
    }
}
