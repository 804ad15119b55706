//! WebAuthn for passkeys, through `webauthn-rs`: a project's relying
//! party, the ceremony state kept between the options and the answer, and
//! what an answer says before it is verified (its challenge, which keys
//! the ceremony; its signature counter).

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use crate::error::DomainError;

/// The largest answer taken (a browser's is a few kilobytes).
pub const MAX_RESPONSE: usize = 64 * 1024;

/// The project's relying party (`name`: the project's), or
/// `PASSKEYS_NOT_CONFIGURED`.
pub fn relying_party(
    rp: &authd_events::WebauthnConfigured,
    name: Option<&str>,
) -> Result<Webauthn, DomainError> {
    let not_configured = || DomainError::PasskeysNotConfigured;
    let origins: Vec<Url> = rp
        .origins
        .iter()
        .map(|o| Url::parse(o).map_err(|_| not_configured()))
        .collect::<Result<_, _>>()?;
    let (first, rest) = origins.split_first().ok_or_else(not_configured)?;
    let name = name.unwrap_or(&rp.rp_id);
    let mut builder = WebauthnBuilder::new(&rp.rp_id, first)
        .map_err(|_| not_configured())?
        .rp_name(name);
    for origin in rest {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(|_| not_configured())
}

/// A ceremony's server side, as the log keeps it (`WebauthnStarted::state`).
#[derive(Serialize, Deserialize)]
pub enum CeremonyState {
    Register(PasskeyRegistration),
    /// A sign-in for a customer an email named: their passkeys allowed.
    Login(PasskeyAuthentication),
    /// A sign-in with any discoverable passkey.
    Discoverable(DiscoverableAuthentication),
}

impl CeremonyState {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ceremony states serialize")
    }

    pub fn from_json(json: &str) -> Result<Self, DomainError> {
        serde_json::from_str(json).map_err(|_| DomainError::InvalidPasskey)
    }
}

/// The key of the ceremony whose challenge this is: hex SHA-256 of its
/// bytes.
pub fn ceremony_key(challenge: &[u8]) -> String {
    Sha256::digest(challenge)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The challenge a browser's `clientDataJSON` answers (base64url in it).
fn answered_challenge(client_data_json: &[u8]) -> Result<Vec<u8>, DomainError> {
    #[derive(Deserialize)]
    struct ClientData {
        challenge: String,
    }
    let data: ClientData =
        serde_json::from_slice(client_data_json).map_err(|_| DomainError::InvalidPasskey)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(data.challenge.trim_end_matches('='))
        .map_err(|_| DomainError::InvalidPasskey)
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, DomainError> {
    if json.len() > MAX_RESPONSE {
        return Err(DomainError::InvalidInput("response"));
    }
    serde_json::from_str(json).map_err(|_| DomainError::InvalidInput("response"))
}

/// A registration answer and its ceremony's key.
pub fn registration(json: &str) -> Result<(RegisterPublicKeyCredential, String), DomainError> {
    let r: RegisterPublicKeyCredential = parse(json)?;
    let challenge = answered_challenge(r.response.client_data_json.as_ref())?;
    Ok((r, ceremony_key(&challenge)))
}

/// A sign-in answer and its ceremony's key.
pub fn assertion(json: &str) -> Result<(PublicKeyCredential, String), DomainError> {
    let a: PublicKeyCredential = parse(json)?;
    let challenge = answered_challenge(a.response.client_data_json.as_ref())?;
    Ok((a, ceremony_key(&challenge)))
}

/// The signature counter in an answer's authenticator data (bytes 33–36,
/// after the RP id hash and the flags), read without verifying it.
pub fn signed_counter(a: &PublicKeyCredential) -> u32 {
    let data: &[u8] = a.response.authenticator_data.as_ref();
    data.get(33..37)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .unwrap_or(0)
}

/// A registered passkey's backup flags (eligible, backed up).
pub fn backup_flags(passkey: &Passkey) -> (bool, bool) {
    let v = serde_json::to_value(passkey).unwrap_or_default();
    let flag = |name: &str| v["cred"][name].as_bool().unwrap_or(false);
    (flag("backup_eligible"), flag("backup_state"))
}

/// The user handle passkeys carry for a customer: 16 bytes of a hash of
/// the project and the customer id (nothing personal).
pub fn user_handle(tenant: &str, customer_id: &str) -> webauthn_rs::prelude::Uuid {
    let digest = Sha256::digest(format!("authd-passkey-user\0{tenant}\0{customer_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    webauthn_rs::prelude::Uuid::from_bytes(bytes)
}
