//! Passkeys (#25): the signed-in customer adds and removes them; anyone
//! signs in with one. Each ceremony (the options handed to the browser,
//! its answer) is an aggregate of its own, keyed by the challenge's hash
//! and spent by the first answer, before the answer is checked. A
//! credential id is claimed for its customer in the project (the claim
//! also says whose a discoverable passkey is). The signature counter is
//! the customer aggregate's to check: a counter that does not move
//! forward is refused and recorded as a possible clone.

use authd_events::{AggregateKind, CustomerEvent, WebauthnPurpose};
use base64::Engine;
use webauthn_rs::prelude::{Passkey, WebauthnError};

use super::{
    Services, UseCase,
    mfa::{mail, new_recovery_codes, signed_in_customer},
    mfa_login, subject, valid_email,
};
use crate::{
    commands::{
        CommandEnvelope, CreateAccessTokenWithPasskey, Done, FinishPasskeyLogin,
        FinishPasskeyRegistration, LogInWithMfaPasskey, PasskeyOptions, PasskeyView, RemovePasskey,
        Sent, SignedIn, StartPasskeyLogin, StartPasskeyRegistration, StorefrontSignedIn,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        customer_mfa::Proof,
        customer_passkey::{self, MAX_PASSKEYS, PasskeyCommand},
        email_claim::{ClaimCommand, CredentialClaim},
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::webauthn::{self as wa, CeremonyState},
};

const PASSKEY: &str = "A passkey";

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl UseCase for StartPasskeyRegistration {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<PasskeyOptions>, CommandError> {
        let (rp, project) = s.relying_party(&env.tenant).await?;
        if project.mfa_required == authd_events::MfaRequirement::Off {
            return Err(DomainError::MethodDisabled.into());
        }
        let customer = signed_in_customer(env)?;
        let (_, c, _) = s.x.load::<Customer>(&customer, false).await?;
        if !c.registered || c.erased {
            return Err(DomainError::CustomerNotFound.into());
        }
        if c.mfa.passkeys.len() >= MAX_PASSKEYS {
            return Err(DomainError::TooManyPasskeys(MAX_PASSKEYS).into());
        }
        let exclude = c
            .mfa
            .passkeys
            .iter()
            .map(|p| p.credential_id.clone())
            .collect();
        let user = wa::user_handle(&env.tenant, &customer.id);
        let (options, state) = rp
            .start_passkey_registration(user, &c.email, &c.email, Some(exclude))
            .map_err(|e| {
                tracing::warn!(error = %e, "passkey registration options");
                CommandError::internal()
            })?;
        let whose = (WebauthnPurpose::Register, Some(customer.id.clone()));
        let challenge = options.public_key.challenge.as_ref();
        let seq = s
            .start_ceremony(env, whose, challenge, CeremonyState::Register(state))
            .await?;
        // A passkey signs in on its own: the credential must be one the
        // authenticator finds without being told its id (the library asks
        // for none).
        let mut options = serde_json::to_value(&options).expect("options serialize");
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
        Ok(Sent {
            seq,
            outcome: PasskeyOptions {
                options: options.to_string(),
            },
        })
    }
}

impl UseCase for FinishPasskeyRegistration {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<PasskeyView>, CommandError> {
        let (answer, key) = wa::registration(&self.response).map_err(response_field)?;
        let customer = signed_in_customer(env)?;
        let (rp, _) = s.relying_party(&env.tenant).await?;
        let (started, state) = s
            .spend_ceremony(env, &key, WebauthnPurpose::Register)
            .await
            .map_err(response_field)?;
        let (CeremonyState::Register(state), Some(true)) =
            (state, started.customer_id.map(|c| c == customer.id))
        else {
            return Err(response_field(DomainError::InvalidPasskey));
        };
        let passkey = rp
            .finish_passkey_registration(&answer, &state)
            .map_err(|e| {
                tracing::info!(error = %e, "passkey registration refused");
                response_field(DomainError::InvalidPasskey)
            })?;
        let credential_id = passkey.cred_id().to_vec();
        let (backup_eligible, backed_up) = wa::backup_flags(&passkey);
        let (codes, recovery_hashes) = new_recovery_codes(s, &env.tenant, &customer.id);
        let register = CustomerCommand::Passkey(PasskeyCommand::Register {
            recovery_hashes,
            credential_id: credential_id.clone(),
            name: self.name.unwrap_or_default(),
            credential: serde_json::to_string(&passkey).expect("passkeys serialize"),
            backup_eligible,
            backed_up,
        });
        let claim = s.credential_claim(&env.tenant, &credential_id)?;
        let take = ClaimCommand::Claim {
            customer_id: customer.id.clone(),
        };
        let done =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .load::<CredentialClaim>(&claim)
                .decide(|tx| {
                    let events = tx.decide::<Customer>(&customer, &register)?;
                    tx.decide::<CredentialClaim>(&claim, &take)?;
                    Ok(events)
                })
                .await
                .map_err(response_field)?;
        if done.duplicate {
            return Err(CommandError::duplicate());
        }
        let c = done.state::<Customer>(&customer);
        let (mut name, mut with_codes) = ("Passkey".to_string(), false);
        for e in &done.value {
            match e {
                CustomerEvent::PasskeyRegistered(p) => {
                    name = p.name.as_plain().unwrap_or_default().to_string();
                }
                CustomerEvent::RecoveryCodesGenerated(_) => with_codes = true,
                _ => {}
            }
        }
        mail(s, env, &c.email, true, PASSKEY).await?;
        Ok(Sent {
            seq: done.seq,
            outcome: PasskeyView {
                id: b64(&credential_id),
                name,
                created_at: s.now(),
                backup_eligible,
                backed_up,
                recovery_codes: if with_codes { codes } else { Vec::new() },
            },
        })
    }
}

/// A passkey's answer is the `response` argument's fault.
fn response_field(e: impl Into<CommandError>) -> CommandError {
    use crate::error::ErrorCode as C;
    let e = e.into();
    match e.code {
        C::InvalidPasskey | C::InvalidInput | C::PasskeyAlreadyRegistered => {
            e.with_field("response")
        }
        _ => e,
    }
}

impl UseCase for RemovePasskey {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let not_found = || CommandError::from(DomainError::PasskeyNotFound).with_field("id");
        let credential_id = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(self.id.trim_end_matches('='))
            .ok()
            .filter(|id| !id.is_empty() && id.len() <= 1023)
            .ok_or_else(not_found)?;
        let customer = signed_in_customer(env)?;
        let claim = s.credential_claim(&env.tenant, &credential_id)?;
        let remove = CustomerCommand::Passkey(PasskeyCommand::Remove { credential_id });
        let release = ClaimCommand::Release {
            customer_id: customer.id.clone(),
        };
        let done =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .load::<CredentialClaim>(&claim)
                .decide(|tx| {
                    tx.decide::<Customer>(&customer, &remove)?;
                    tx.decide::<CredentialClaim>(&claim, &release)?;
                    Ok(())
                })
                .await
                .map_err(|e| match e.code {
                    crate::error::ErrorCode::NotFound => not_found(),
                    _ => e,
                })?;
        let email = done.state::<Customer>(&customer).email.clone();
        mail(s, env, &email, false, PASSKEY).await?;
        Ok(Sent {
            seq: done.seq,
            outcome: Done,
        })
    }
}

impl UseCase for StartPasskeyLogin {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<PasskeyOptions>, CommandError> {
        let (rp, _) = s.relying_party(&env.tenant).await?;
        let email = self.email.map(|e| e.trim().to_string());
        let email = email.filter(|e| !e.is_empty());
        if email.as_deref().is_some_and(|e| !valid_email(e)) {
            return Err(CommandError::from(DomainError::InvalidEmail).with_field("email"));
        }
        // The customer the email names, when they have passkeys; else (no
        // email, an unknown one, one without passkeys) any discoverable
        // passkey of the project's, so the answer tells nothing of accounts.
        let mut owner = None;
        if let Some(email) = &email {
            let claim = s.claim_subject(&env.tenant, email)?;
            owner = s
                .owner_of(&env.tenant, &claim)
                .await?
                .filter(|(_, c)| !c.mfa.passkeys.is_empty());
        }
        let fail = |e: WebauthnError| {
            tracing::warn!(error = %e, "passkey sign-in options");
            CommandError::internal()
        };
        let (options, state, customer_id) = match owner {
            Some((customer, c)) => {
                let passkeys: Vec<Passkey> = c
                    .mfa
                    .passkeys
                    .iter()
                    .filter_map(|p| serde_json::from_str(&p.credential).ok())
                    .collect();
                let (options, state) = rp.start_passkey_authentication(&passkeys).map_err(fail)?;
                (options, CeremonyState::Login(state), Some(customer.id))
            }
            None => {
                let (mut options, state) = rp.start_discoverable_authentication().map_err(fail)?;
                // A sign-in button, not the browser's autofill.
                options.mediation = None;
                (options, CeremonyState::Discoverable(state), None)
            }
        };
        let whose = (WebauthnPurpose::Login, customer_id);
        let challenge = options.public_key.challenge.as_ref();
        let seq = s.start_ceremony(env, whose, challenge, state).await?;
        Ok(Sent {
            seq,
            outcome: PasskeyOptions {
                options: serde_json::to_string(&options).expect("options serialize"),
            },
        })
    }
}

/// A sign-in with a passkey alone: the customer whose it is, verified, and
/// the session started (a Storefront one for `storefront`).
async fn passkey_sign_in(
    s: &Services,
    env: &CommandEnvelope,
    response: &str,
    storefront: bool,
) -> Result<mfa_login::Passed, CommandError> {
    let invalid = || response_field(DomainError::InvalidPasskey);
    let (answer, key) = wa::assertion(response).map_err(response_field)?;
    let (rp, project) = s.relying_party(&env.tenant).await?;
    let (started, state) = s
        .spend_ceremony(env, &key, WebauthnPurpose::Login)
        .await
        .map_err(response_field)?;
    // Whose passkey it is: its credential id's claim.
    let claim = s.credential_claim(&env.tenant, answer.raw_id.as_ref())?;
    let owner = s.x.load::<CredentialClaim>(&claim, false).await?.1.owner;
    let Some(owner) = owner else {
        return Err(invalid());
    };
    if started.customer_id.as_ref().is_some_and(|c| *c != owner) {
        return Err(invalid());
    }
    let customer = subject(&env.tenant, AggregateKind::Customer, &owner)?;
    let (_, c, _) = s.x.load::<Customer>(&customer, false).await?;
    let assertion = s
        .verify_assertion(&rp, state, &answer, &c)
        .ok_or_else(invalid)?;
    let session = if storefront {
        s.new_storefront_session(&env.tenant, &project)?
    } else {
        s.new_session(&env.tenant)?
    };
    let login = CustomerCommand::Passkey(PasskeyCommand::LogIn {
        assertion,
        session_id: session.id.clone(),
        client: Services::client(env),
    });
    let start = session.start(&owner, authd_events::LoginMethod::Passkey);
    let done =
        s.x.batch(env)
            .load::<Customer>(&customer)
            .create::<Session>(&session.subject)
            .decide(|tx| {
                let events = tx.decide::<Customer>(&customer, &login)?;
                if customer_passkey::possibly_cloned(&events) {
                    return Ok(Err(DomainError::PasskeyPossiblyCloned));
                }
                tx.decide::<Session>(&session.subject, &start)?;
                Ok(Ok(()))
            })
            .await?;
    if let Err(e) = done.value.clone() {
        return Err(response_field(e));
    }
    Ok(mfa_login::Passed {
        done,
        customer,
        session,
    })
}

impl UseCase for FinishPasskeyLogin {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignedIn>, CommandError> {
        let p = passkey_sign_in(s, env, &self.response, false).await?;
        s.signed_in(env, &p.done, &p.customer, p.session, false)
            .await
    }
}

impl UseCase for CreateAccessTokenWithPasskey {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<StorefrontSignedIn>, CommandError> {
        let p = passkey_sign_in(s, env, &self.response, true).await?;
        s.storefront_signed_in(&p.done, &p.customer, p.session)
    }
}

impl UseCase for LogInWithMfaPasskey {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<SignedIn>, CommandError> {
        let (answer, key) = wa::assertion(&self.response).map_err(response_field)?;
        let customer_id = mfa_login::challenge_customer(&self.mfa_token)?;
        let (rp, _) = s.relying_party(&env.tenant).await?;
        let (started, state) = s
            .spend_ceremony(env, &key, WebauthnPurpose::Login)
            .await
            .map_err(response_field)?;
        let customer = subject(&env.tenant, AggregateKind::Customer, customer_id)?;
        let (_, c, _) = s.x.load::<Customer>(&customer, false).await?;
        let theirs = started
            .customer_id
            .as_ref()
            .is_none_or(|c| c == customer_id);
        let assertion = theirs
            .then(|| s.verify_assertion(&rp, state, &answer, &c))
            .flatten();
        let proof = Proof::Passkey(assertion);
        let p = mfa_login::second_step(s, env, &self.mfa_token, proof, false).await?;
        s.signed_in(env, &p.done, &p.customer, p.session, false)
            .await
    }
}
