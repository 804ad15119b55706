//! What the commands answer (each command's `Outcome`), below the
//! command table and the use cases alike.

use serde::{Deserialize, Serialize};

/// A state change with nothing more to tell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done;

/// An erasure, done: what its steps found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Erasure {
    /// The customer's data key was there and is destroyed now.
    pub key_destroyed: bool,
    /// Mail still queued for the customer, deleted.
    pub mail_jobs_dropped: u32,
    /// Their messages an earlier build wrote with personal data in plain,
    /// deleted from the log with erase.
    pub plaintext_erased: Vec<u64>,
}

/// The request was taken; what happens next is told by mail (or not at all,
/// for an address without an account).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    pub customer: CustomerView,
    /// None while the project requires the email to be verified first.
    pub tokens: Option<Tokens>,
    pub email_verification_required: bool,
}

/// A sign-in whose first factor held: signed in, or (the customer has a
/// second factor) a challenge to answer with `customer.login.mfa`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SignIn<T> {
    SignedIn(T),
    MfaRequired(MfaRequired),
}

/// The second step a sign-in waits for.
#[derive(Clone, Serialize, Deserialize)]
pub struct MfaRequired {
    /// Opaque, single use; only its hash is stored.
    pub mfa_token: String,
    /// Unix ms.
    pub expires_at: i64,
    /// What may answer it.
    pub methods: Vec<authd_events::MfaMethod>,
}

impl std::fmt::Debug for MfaRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MfaRequired({:?})", self.methods)
    }
}

/// An authenticator's enrollment: what the customer's app takes.
#[derive(Clone, Serialize, Deserialize)]
pub struct TotpEnrollment {
    /// Base32.
    pub secret: String,
    pub otpauth_url: String,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment")
    }
}

/// Recovery codes, shown once (only keyed hashes are stored).
#[derive(Clone, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({})", self.codes.len())
    }
}

/// A WebAuthn ceremony's options for the browser (JSON, binary fields in
/// base64url).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyOptions {
    pub options: String,
}

/// A passkey as its customer sees it (just added: with the recovery codes
/// a first factor comes with, shown once).
#[derive(Clone, Serialize, Deserialize)]
pub struct PasskeyView {
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    /// Unix ms.
    pub created_at: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for PasskeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PasskeyView({}, {} codes)",
            self.id,
            self.recovery_codes.len()
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub customer: CustomerView,
    pub tokens: Tokens,
    /// A one-time code signed a new address up.
    pub new_customer: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedKey {
    pub key_id: String,
    /// Shown once; only its hash is stored.
    pub key: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedKey({})", self.key_id)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ProjectKeys {
    pub project_id: String,
    pub public_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for ProjectKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProjectKeys({})", self.project_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordReset {
    pub customer: CustomerView,
    /// With `storefront_sign_in`.
    pub access_token: Option<AccessToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountUpdated {
    pub customer: CustomerView,
    /// A new password ended every session; this one replaces the caller's.
    pub access_token: Option<AccessToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorefrontSignedIn {
    pub customer: CustomerView,
    pub access_token: AccessToken,
}

/// A Storefront `customerAccessToken`: opaque, only its hash is stored.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub session_id: String,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken(session {})", self.session_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invited {
    pub customer: CustomerView,
    /// The customer existed (without a password): a new link was mailed.
    pub invited_again: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deleted {
    pub session_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerView {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub accepts_marketing: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last change to the account.
    pub updated_at: i64,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    /// Unix seconds.
    pub access_token_expires_at: i64,
    pub refresh_token: String,
    /// Unix milliseconds.
    pub refresh_token_expires_at: i64,
    pub session_id: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens(session {})", self.session_id)
    }
}
