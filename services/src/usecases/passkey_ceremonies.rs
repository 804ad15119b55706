//! The WebAuthn ceremonies of `passkeys.rs`: a project's relying party,
//! a ceremony recorded and spent, a credential id's claim, and what a
//! sign-in answer proves of a customer's passkey.

use authd_events::{AggregateKind, AggregateSubject, WebauthnPurpose, WebauthnStarted};
use webauthn_rs::prelude::{Passkey, PublicKeyCredential, Webauthn, WebauthnError};

use super::{Services, passkeys::b64, subject};
use crate::{
    commands::CommandEnvelope,
    domain::{
        customer::Customer,
        customer_passkey::Assertion,
        project::Project,
        webauthn::{CEREMONY_TTL_MS, Ceremony, CeremonyCommand},
    },
    error::{CommandError, DomainError},
    infra::webauthn::{self as wa, CeremonyState},
};

impl Services {
    pub(super) async fn relying_party(
        &self,
        tenant: &str,
    ) -> Result<(Webauthn, Project), CommandError> {
        let project = self.project(tenant).await?;
        let rp = wa::relying_party(&project.webauthn, project.name.as_deref())?;
        Ok((rp, project))
    }

    pub(super) fn credential_claim(
        &self,
        tenant: &str,
        credential_id: &[u8],
    ) -> Result<AggregateSubject, CommandError> {
        let name = format!("passkey:{}", b64(credential_id));
        let key = authd_events::keyed_hash::email_key(&self.config.index_key, tenant, &name);
        subject(tenant, AggregateKind::ProviderIdentity, &key)
    }

    /// Records a ceremony whose options go to the browser.
    pub(super) async fn start_ceremony(
        &self,
        env: &CommandEnvelope,
        (purpose, customer_id): (WebauthnPurpose, Option<String>),
        challenge: &[u8],
        state: CeremonyState,
    ) -> Result<u64, CommandError> {
        let key = wa::ceremony_key(challenge);
        let ceremony = subject(&env.tenant, AggregateKind::Webauthn, &key)?;
        let start = CeremonyCommand::Start(WebauthnStarted {
            purpose,
            customer_id,
            state: state.to_json(),
            expires_at: self.now() + CEREMONY_TTL_MS,
        });
        Ok(self.x.run::<Ceremony>(env, &ceremony, &start).await?.seq)
    }

    /// Spends the ceremony an answer names (whatever comes of the answer)
    /// and returns how it started.
    pub(super) async fn spend_ceremony(
        &self,
        env: &CommandEnvelope,
        key: &str,
        purpose: WebauthnPurpose,
    ) -> Result<(WebauthnStarted, CeremonyState), CommandError> {
        let ceremony = subject(&env.tenant, AggregateKind::Webauthn, key)?;
        let finish = CeremonyCommand::Finish { purpose };
        let d = self.x.run::<Ceremony>(env, &ceremony, &finish).await?;
        let started = d.state.started.ok_or(DomainError::InvalidPasskey)?;
        let state = CeremonyState::from_json(&started.state)?;
        Ok((started, state))
    }

    /// What a sign-in answer proves of `c`'s passkey: the assertion (its
    /// signature counter for the customer to check), or `None` when it
    /// does not verify.
    pub(super) fn verify_assertion(
        &self,
        rp: &Webauthn,
        state: CeremonyState,
        answer: &PublicKeyCredential,
        c: &Customer,
    ) -> Option<Assertion> {
        let stored = c.mfa.passkey(answer.raw_id.as_ref())?;
        let passkey: Passkey = serde_json::from_str(&stored.credential).ok()?;
        let verified = match state {
            CeremonyState::Login(state) => rp.finish_passkey_authentication(answer, &state),
            CeremonyState::Discoverable(state) => {
                rp.finish_discoverable_authentication_v2(answer, state, &passkey)
            }
            CeremonyState::Register(_) => return None,
        };
        match verified {
            Ok(result) => Some(Assertion {
                credential_id: result.cred_id().to_vec(),
                counter: result.counter(),
                backed_up: result.backup_state(),
            }),
            // The library checks the counter against the one registered;
            // the customer aggregate holds the last one seen and decides.
            Err(WebauthnError::CredentialPossibleCompromise) => Some(Assertion {
                credential_id: stored.credential_id.clone(),
                counter: wa::signed_counter(answer),
                backed_up: false,
            }),
            Err(e) => {
                tracing::info!(error = %e, "passkey answer refused");
                None
            }
        }
    }
}
