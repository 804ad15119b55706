//! How a sign-in went, as the customer's events record it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoginMethod {
    Password, // 0
    Otp,      // 1
    /// An external provider (OpenID Connect).
    Provider, // 2
    /// A passkey (WebAuthn with user verification), on its own.
    Passkey, // 3
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSucceeded {
    pub session_id: String,
    pub method: LoginMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoginFailureReason {
    WrongPassword,    // 0
    Locked,           // 1
    Suspended,        // 2
    EmailNotVerified, // 3
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailed {
    pub method: LoginMethod,
    pub reason: LoginFailureReason,
}
