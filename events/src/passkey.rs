//! Passkeys (WebAuthn, #25): a customer's registered credentials (events
//! of the customer aggregate, see `CustomerEvent`), the ceremonies that
//! register and use them (an aggregate of their own, keyed by the
//! challenge's hash, gone with its TTL), and a project's relying party.

use serde::{Deserialize, Serialize};

use crate::personal::Personal;

/// A passkey the customer registered: from here on it signs them in on
/// its own, and counts as a second factor after a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRegistered {
    /// The authenticator's credential id (unique in the project: its claim
    /// is taken in the same batch).
    pub credential_id: Vec<u8>,
    /// The customer's name for it ("Laptop"), sealed like their personal
    /// data.
    pub name: Personal,
    /// The credential as the WebAuthn library keeps it (JSON: the public
    /// key, the signature counter, the flags); no secret.
    pub credential: String,
    /// The authenticator may sync it to other devices (the BE flag).
    pub backup_eligible: bool,
    /// It is backed up now (the BS flag).
    pub backed_up: bool,
}

/// The customer removed a passkey (its credential id's claim is released
/// in the same batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRemoved {
    pub credential_id: Vec<u8>,
}

/// A passkey proved the customer (a sign-in, or a sign-in's second step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyUsed {
    pub credential_id: Vec<u8>,
    /// The authenticator's signature counter now: the next use must show
    /// more (unless it always reports 0).
    pub counter: u32,
    pub backed_up: bool,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebauthnPurpose {
    /// The signed-in customer adds a passkey.
    Register, // 0
    /// A sign-in with a passkey (or a sign-in's second step).
    Login, // 1
}

/// A ceremony's server side: the state the browser's answer is checked
/// against, good once before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnStarted {
    pub purpose: WebauthnPurpose,
    /// Whose: the registering customer, or the customer an email named at
    /// a sign-in (none: a discoverable sign-in).
    pub customer_id: Option<String>,
    /// The WebAuthn library's ceremony state (JSON: the challenge, the
    /// credentials allowed or excluded, the policy); no secret.
    pub state: String,
    /// Unix ms.
    pub expires_at: i64,
}

/// The ceremony's answer came: the state is spent before the answer is
/// checked (what came of it is the customer's events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnFinished {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebauthnEvent {
    Started(WebauthnStarted),   // 0
    Finished(WebauthnFinished), // 1
}

/// The project's relying party, whole, from this event on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnConfigured {
    /// The relying party id: the site's domain (`shop.example`,
    /// `localhost`); passkeys are bound to it.
    pub rp_id: String,
    /// The origins ceremonies may come from, matched exactly
    /// (`https://shop.example`).
    pub origins: Vec<String>,
}
