//! Second factors (#25): an authenticator app (TOTP, RFC 6238) and
//! single-use recovery codes, and the sign-in that asks for them. The
//! events of the customer aggregate; see `CustomerEvent`.

use serde::{Deserialize, Serialize};

use crate::login::LoginMethod;
use crate::personal::Personal;

/// Whether a project's customers may or must have a second factor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MfaRequirement {
    /// Customers cannot add one (factors added before still protect
    /// their accounts until removed).
    Off, // 0
    /// Customers may add one (the default).
    #[default]
    Optional, // 1
    /// Every customer must: one without a factor signs in to a session
    /// that may only add one (its access tokens say `restricted`).
    Required, // 2
}

/// The project's second-factor settings, whole, from this event on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaConfigured {
    pub required: MfaRequirement,
}

/// A second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MfaMethod {
    Totp,         // 0
    RecoveryCode, // 1
    Passkey,      // 2
}

/// An authenticator app's secret, handed to the customer: nothing asks
/// for it until `TotpConfirmed`. A new enrollment replaces one not
/// confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolled {
    /// The shared secret in base32, sealed with the customer's data key
    /// like their personal data (and never in the public JSON: `secret`).
    pub secret: Personal,
}

/// The customer proved the authenticator: from here on sign-in asks for
/// a second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpConfirmed {
    /// The time step (unix seconds / 30) of the code that proved it: a
    /// code of this step or an earlier one is never taken again (RFC 6238
    /// §5.2).
    pub step: u64,
}

/// The authenticator was removed by the customer, proven with `via`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpDisabled {
    pub via: MfaMethod,
}

/// A new set of recovery codes (it replaces the old set whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodesGenerated {
    /// Keyed hashes of the codes, in order (never in the public JSON).
    pub code_hashes: Vec<[u8; 32]>,
}

/// One recovery code was used up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodeUsed {
    /// Its place in the set.
    pub index: u32,
    /// Codes left after this one.
    pub left: u32,
}

/// The first factor was right and the customer has a second one: the
/// sign-in waits for it, as the token whose hash this is (5 minutes, used
/// once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaChallenged {
    pub token_hash: [u8; 32],
    /// Unix ms.
    pub expires_at: i64,
    /// How the first factor was proven (the session's method).
    pub method: LoginMethod,
    /// A Storefront sign-in (`customerAccessTokenCreate`): it ends in a
    /// Storefront session.
    pub storefront: bool,
}

/// The second factor was proven: the challenge is used up and the session
/// named starts in the same batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPassed {
    /// The challenge answered (`MfaChallenged::token_hash`).
    pub challenge_hash: [u8; 32],
    pub method: MfaMethod,
    /// The TOTP code's time step (`TotpConfirmed::step`).
    pub totp_step: Option<u64>,
    pub session_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MfaFailureReason {
    /// Not the code of any step in the window, or no such recovery code.
    WrongCode, // 0
    /// The code of a step already used (RFC 6238 §5.2).
    ReplayedCode, // 1
    /// Refused untried: the client or the account is locked.
    Locked, // 2
    /// A passkey's answer did not verify (signature, origin, challenge,
    /// user verification, or not one of the customer's passkeys).
    InvalidPasskey, // 3
    /// A passkey's signature counter went back: it may have been cloned.
    PossiblyCloned, // 4
}

/// A second factor was refused; a wrong or replayed code counts toward
/// the lockout like a wrong password (for the client of the message's
/// request and the account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaFailed {
    /// The challenge it tried to answer (none: a proof for removing a
    /// factor).
    pub challenge_hash: Option<[u8; 32]>,
    pub method: MfaMethod,
    pub reason: MfaFailureReason,
}

/// An admin removed every second factor (support, after checking who the
/// customer is); the admin is the message's actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaReset {
    pub reason: String,
}
