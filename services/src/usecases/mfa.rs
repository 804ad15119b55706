//! The signed-in customer's second factors: an authenticator's
//! enrollment, confirmation (with the first recovery codes) and removal,
//! new recovery codes; and an admin's reset. Every change is mailed to
//! the customer.

use authd_events::{AggregateKind, AggregateSubject, SecretHash};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::{Services, UseCase, customer_actor, customer_admin::named_by_id, subject};
use crate::{
    commands::{
        CommandEnvelope, ConfirmTotp, DisableTotp, Done, EnrollTotp, GenerateRecoveryCodes,
        RecoveryCodes, ResetMfa, Sent, TotpEnrollment,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        customer_mfa::{self, MfaCommand, Proof},
        mfa::{self, RECOVERY_CODES},
    },
    error::{CommandError, DomainError},
    infra::mail::MailKind,
};

const AUTHENTICATOR: &str = "An authenticator app";

/// The keyed hash a recovery code is kept as: HMAC under the deployment's
/// index key, bound to the project and the customer (the codes are short).
pub(super) fn recovery_code_hash(
    index_key: &[u8],
    tenant: &str,
    customer_id: &str,
    code: &str,
) -> SecretHash {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(index_key).expect("HMAC takes any key length");
    for part in ["recovery-code", tenant, customer_id, &normalized] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

/// Ten codes of ten characters (about 50 bits each, from an alphabet
/// without look-alikes), `xxxxx-xxxxx`, and their keyed hashes.
pub(super) fn new_recovery_codes(
    s: &Services,
    tenant: &str,
    customer_id: &str,
) -> (Vec<String>, Vec<SecretHash>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let c: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &c[..5], &c[5..])
        })
        .collect();
    let hashes = codes
        .iter()
        .map(|c| recovery_code_hash(&s.config.index_key, tenant, customer_id, c))
        .collect();
    (codes, hashes)
}

/// The proof a request carries: a code of the authenticator or a
/// recovery code (exactly one).
pub(super) fn proof(
    s: &Services,
    env: &CommandEnvelope,
    customer_id: &str,
    totp: Option<String>,
    recovery_code: Option<String>,
) -> Result<Proof, CommandError> {
    let filled = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    match (filled(totp), filled(recovery_code)) {
        (Some(code), None) if code.len() <= 16 => Ok(Proof::Totp(code)),
        (None, Some(code)) if code.len() <= 64 => Ok(Proof::RecoveryCode(recovery_code_hash(
            &s.config.index_key,
            &env.tenant,
            customer_id,
            &code,
        ))),
        (Some(_), None) | (None, Some(_)) => Err(DomainError::InvalidMfaCode.into()),
        _ => Err(CommandError::from(DomainError::InvalidInput("code")).with_field("code")),
    }
}

/// A wrong code is the `code` field's fault.
pub(super) fn code_field(e: CommandError) -> CommandError {
    if e.code == crate::error::ErrorCode::InvalidMfaCode {
        e.with_field("code")
    } else {
        e
    }
}

pub(super) fn signed_in_customer(env: &CommandEnvelope) -> Result<AggregateSubject, CommandError> {
    subject(&env.tenant, AggregateKind::Customer, customer_actor(env))
}

/// Tells the customer a second factor was added or removed.
pub(super) async fn mail(
    s: &Services,
    env: &CommandEnvelope,
    to: &str,
    added: bool,
    factor: &str,
) -> Result<(), CommandError> {
    let project = s.project(&env.tenant).await?;
    let kind = MailKind::SecondFactorChanged {
        added,
        factor: factor.to_string(),
    };
    s.send_mail(env, to, &project.config, kind).await
}

impl UseCase for EnrollTotp {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<TotpEnrollment>, CommandError> {
        let project = s.project(&env.tenant).await?;
        if project.mfa_required == authd_events::MfaRequirement::Off {
            return Err(DomainError::MethodDisabled.into());
        }
        let customer = signed_in_customer(env)?;
        let secret = mfa::new_totp_secret(rand::random());
        let enroll = CustomerCommand::Mfa(MfaCommand::EnrollTotp {
            secret: secret.clone(),
        });
        let d = s.x.run::<Customer>(env, &customer, &enroll).await?;
        let issuer = project.name.unwrap_or_else(|| env.tenant.clone());
        Ok(Sent {
            seq: d.seq,
            outcome: TotpEnrollment {
                otpauth_url: otpauth_url(&issuer, &d.state.email, &secret),
                secret,
            },
        })
    }
}

/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
/// (Google Authenticator's key URI format), each part percent-encoded.
fn otpauth_url(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    // In the path a space is %20, not '+'.
    let path = |v: &str| enc(v).replace('+', "%20");
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period={}",
        path(issuer),
        path(account),
        path(issuer),
        mfa::STEP_SECS
    )
}

impl UseCase for ConfirmTotp {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<RecoveryCodes>, CommandError> {
        let customer = signed_in_customer(env)?;
        let (codes, hashes) = new_recovery_codes(s, &env.tenant, &customer.id);
        let confirm = CustomerCommand::Mfa(MfaCommand::ConfirmTotp {
            code: self.code,
            recovery_hashes: hashes,
        });
        let d =
            s.x.run::<Customer>(env, &customer, &confirm)
                .await
                .map_err(code_field)?;
        if d.duplicate {
            return Err(CommandError::duplicate());
        }
        mail(s, env, &d.state.email, true, AUTHENTICATOR).await?;
        Ok(Sent {
            seq: d.seq,
            outcome: RecoveryCodes { codes },
        })
    }
}

impl UseCase for DisableTotp {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let project = s.project(&env.tenant).await?;
        let customer = signed_in_customer(env)?;
        let proof = proof(s, env, &customer.id, self.code, self.recovery_code)?;
        let lockout = (project.config.lockout_threshold, Services::client(env));
        let disable = CustomerCommand::Mfa(MfaCommand::DisableTotp { proof, lockout });
        let mut locked_until = 0;
        let d =
            s.x.decide(env, &customer, |c: &Customer, now| {
                locked_until = c.locked_for(lockout.1, now).unwrap_or(0);
                crate::domain::aggregate::Aggregate::decide(c, &disable, now)
            })
            .await?;
        customer_mfa::outcome(&d.events, locked_until).map_err(|e| code_field(e.into()))?;
        mail(s, env, &d.state.email, false, AUTHENTICATOR).await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Done,
        })
    }
}

impl UseCase for GenerateRecoveryCodes {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<RecoveryCodes>, CommandError> {
        let customer = signed_in_customer(env)?;
        let (codes, hashes) = new_recovery_codes(s, &env.tenant, &customer.id);
        let generate = CustomerCommand::Mfa(MfaCommand::GenerateRecoveryCodes { hashes });
        let d = s.x.run::<Customer>(env, &customer, &generate).await?;
        if d.duplicate {
            return Err(CommandError::duplicate());
        }
        Ok(Sent {
            seq: d.seq,
            outcome: RecoveryCodes { codes },
        })
    }
}

impl UseCase for ResetMfa {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let reason = self.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(
                CommandError::from(DomainError::InvalidInput("reason")).with_field("reason")
            );
        }
        let customer = subject(&env.tenant, AggregateKind::Customer, &self.customer_id)?;
        let reset = CustomerCommand::Mfa(MfaCommand::Reset { reason });
        let d =
            s.x.run::<Customer>(env, &customer, &reset)
                .await
                .map_err(named_by_id)?;
        if !d.events.is_empty() {
            mail(s, env, &d.state.email, false, "Every second factor").await?;
        }
        Ok(Sent {
            seq: d.seq,
            outcome: Done,
        })
    }
}
