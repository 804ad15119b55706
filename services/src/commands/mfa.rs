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
