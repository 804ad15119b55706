//! The events of sign-in through external providers (OpenID Connect):
//! a project's providers, each login's single-use state, and the
//! identities linked to customers.

use serde::{Deserialize, Serialize};

/// A project's external sign-in providers and the URLs customers may be
/// sent back to, whole, as they are from this event on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidersConfig {
    pub providers: Vec<AuthProvider>,
    /// `returnTo` of `customerLoginWithProvider` must be one of these,
    /// exactly: no open redirects.
    pub return_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthProvider {
    pub id: String,
    /// What clients name it by (`google`), unique in the project.
    pub key: String,
    pub name: String,
    pub enabled: bool,
    pub is_default: bool,
    /// Listing order, lowest first.
    pub priority: i32,
    pub kind: ProviderKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderKind {
    /// OpenID Connect, its endpoints and keys found by discovery.
    Oidc(OidcProvider), // 0
    /// A Shopify store: Multipass (Plus stores, with its secret) or, without
    /// one, sign-in by mailed code.
    Shopify(ShopifyProvider), // 1
    /// Plain OAuth 2.0 (no ID token): the customer is who the userinfo
    /// endpoint says, read through the claim mapping.
    OAuth2(OAuth2Provider), // 2
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2Provider {
    pub authorize_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    pub client_id: String,
    pub client_secret: Sealed,
    pub scopes: Vec<String>,
    /// Where the userinfo JSON holds the subject (`sub`; GitHub: `id`), the
    /// email and whether it is verified; dots walk into objects. Without an
    /// `email_verified_claim` no email counts as verified (no linking).
    pub subject_claim: String,
    pub email_claim: String,
    pub email_verified_claim: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopifyProvider {
    /// `shop.myshopify.com` (or the store's own domain).
    pub shop_domain: String,
    /// The store's Storefront API access token.
    pub storefront_token: Sealed,
    /// The store's Multipass secret (Shopify Plus).
    pub multipass_secret: Option<Sealed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// `https://accounts.example`; `/.well-known/openid-configuration`
    /// is read from under it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Sealed,
    /// Beyond `openid`, e.g. `email`, `profile`.
    pub scopes: Vec<String>,
}

/// A secret sealed with AES-256-GCM under the services' secrets key
/// (`--secrets-key-file`): a 12-byte nonce, then the ciphertext and tag.
/// Only services can open it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// One provider login, keyed by the SHA-256 of its `state`: started, then
/// completed or failed, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderLoginEvent {
    Started(ProviderLoginStarted),     // 0
    Completed(ProviderLoginCompleted), // 1
    Failed(ProviderLoginFailed),       // 2
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLoginStarted {
    pub provider_id: String,
    /// The `redirect_uri` the code is bound to.
    pub return_to: String,
    /// Unix ms.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLoginCompleted {
    pub customer_id: String,
    pub session_id: String,
    pub new_customer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLoginFailed {
    pub reason: ProviderFailure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderFailure {
    /// The provider refused the code or answered garbage.
    ProviderError, // 0
    /// The provider did not answer in time.
    Unavailable, // 1
    /// The ID token's signature, issuer, audience, expiry or nonce is wrong.
    InvalidIdToken, // 2
    /// The identity is new, its email belongs to a customer, and the
    /// provider does not say the email is verified: no linking.
    EmailNotVerified, // 3
    /// The identity is new and the project takes no sign-ups.
    RegistrationClosed, // 4
    Suspended, // 5
    /// The identity has no email, and no customer is linked to it.
    NoEmail, // 6
}

/// A provider identity was linked to the customer (its claim, keyed by the
/// keyed hash of provider and subject, was taken in the same batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLinked {
    pub provider_id: String,
}
