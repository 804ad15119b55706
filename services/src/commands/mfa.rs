//! The second-factor payloads (#25): enrollment by the signed-in
//! customer, the sign-in's second step, an admin's reset.

use serde::{Deserialize, Serialize};

/// Starts an authenticator's enrollment for the signed-in customer.
#[derive(Clone, Serialize, Deserialize)]
pub struct EnrollTotp {}

/// Proves the enrolled authenticator with one of its codes.
#[derive(Clone, Serialize, Deserialize)]
pub struct ConfirmTotp {
    pub code: String,
}

/// Removes the authenticator: a code of it or a recovery code proves the
/// customer still holds a second factor.
#[derive(Clone, Serialize, Deserialize)]
pub struct DisableTotp {
    pub code: Option<String>,
    pub recovery_code: Option<String>,
}

/// A new set of recovery codes (the old set stops working).
#[derive(Clone, Serialize, Deserialize)]
pub struct GenerateRecoveryCodes {}

/// A sign-in's second step: the challenge's token and one proof.
#[derive(Clone, Serialize, Deserialize)]
pub struct LogInWithMfa {
    pub mfa_token: String,
    pub totp: Option<String>,
    pub recovery_code: Option<String>,
}

/// The Storefront's second step (`customerAccessTokenCreateWithMfa`).
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateAccessTokenWithMfa {
    pub mfa_token: String,
    pub totp: Option<String>,
    pub recovery_code: Option<String>,
}

/// An admin removes every second factor of a customer.
#[derive(Clone, Serialize, Deserialize)]
pub struct ResetMfa {
    pub customer_id: String,
    pub reason: String,
}

/// Starts adding a passkey for the signed-in customer: the options for
/// the browser's `navigator.credentials.create`.
#[derive(Clone, Serialize, Deserialize)]
pub struct StartPasskeyRegistration {}

/// The browser's answer to `StartPasskeyRegistration`'s options (the
/// credential as JSON, binary fields in base64url), and a name for it.
#[derive(Clone, Serialize, Deserialize)]
pub struct FinishPasskeyRegistration {
    pub response: String,
    pub name: Option<String>,
}

/// Removes one of the signed-in customer's passkeys (its id: the
/// credential id in base64url).
#[derive(Clone, Serialize, Deserialize)]
pub struct RemovePasskey {
    pub id: String,
}

/// Starts a sign-in with a passkey: for the customer an email names
/// (their passkeys allowed), or any passkey of the project's (no email:
/// a discoverable credential says whose it is).
#[derive(Clone, Serialize, Deserialize)]
pub struct StartPasskeyLogin {
    pub email: Option<String>,
}

/// The browser's answer to `StartPasskeyLogin`'s options: a sign-in on
/// its own.
#[derive(Clone, Serialize, Deserialize)]
pub struct FinishPasskeyLogin {
    pub response: String,
}

/// The Storefront's sign-in with a passkey (`customerAccessTokenCreateWithPasskey`):
/// the answer to `StartPasskeyLogin`'s options, for a Storefront token.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateAccessTokenWithPasskey {
    pub response: String,
}

/// A sign-in's second step answered with a passkey (options from
/// `StartPasskeyLogin`).
#[derive(Clone, Serialize, Deserialize)]
pub struct LogInWithMfaPasskey {
    pub mfa_token: String,
    pub response: String,
}
