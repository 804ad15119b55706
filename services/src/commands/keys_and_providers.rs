//! The payloads and outcomes of the operator's signing-key rotation, of
//! external-provider sign-in and of a project's webhook endpoints.

use serde::{Deserialize, Serialize};

use super::outcomes::SignedIn;

/// A new key signs access tokens (`authd admin rotate-signing-key`).
#[derive(Clone, Serialize, Deserialize)]
pub struct RotateSigningKey {
    /// Seconds until the new key signs; gateways and JWKS list it at once,
    /// so clients that cache JWKS can learn it first.
    pub activate_after_secs: u64,
    /// Distrust every earlier key at once (a leak), instead of when the
    /// last token it signed expires; the new key then signs at once.
    pub revoke_previous: bool,
    /// The public key of a new root (another signing key file, which the
    /// services then need); by default the next key derived from the
    /// services' own root.
    pub new_root: Option<[u8; 32]>,
}

/// One change to a project's external sign-in providers.
#[derive(Clone, Serialize, Deserialize)]
pub enum EditProviders {
    /// Adds a provider (no `id`) or changes one.
    Put(Box<ProviderInput>),
    Remove {
        id: String,
    },
    /// Where customers may be sent back to (`returnTo`), exactly.
    ReturnUrls(Vec<String>),
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ProviderInput {
    pub id: Option<String>,
    pub key: String,
    pub name: String,
    pub enabled: bool,
    pub is_default: bool,
    pub priority: i32,
    pub settings: ProviderSettings,
}

/// What kind of provider, and its settings. A secret left out (`None`)
/// keeps the stored one on a change; the services seal what comes in.
#[derive(Clone, Serialize, Deserialize)]
pub enum ProviderSettings {
    Oidc {
        issuer: String,
        client_id: String,
        client_secret: Option<String>,
        scopes: Vec<String>,
    },
    OAuth2 {
        authorize_url: String,
        token_url: String,
        userinfo_url: String,
        client_id: String,
        client_secret: Option<String>,
        scopes: Vec<String>,
        subject_claim: String,
        email_claim: String,
        email_verified_claim: Option<String>,
    },
    Shopify {
        shop_domain: String,
        storefront_token: Option<String>,
        /// `Some("")` removes it (the store then signs in by code).
        multipass_secret: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderSaved {
    /// The provider added or changed.
    pub id: Option<String>,
}

/// The start of a provider login: where to send the customer.
#[derive(Clone, Serialize, Deserialize)]
pub struct StartProviderLogin {
    /// `None`: the project's default provider.
    pub provider_key: Option<String>,
    /// Passed on as `login_hint`.
    pub email: Option<String>,
    pub return_to: Option<String>,
}

/// How a provider login goes on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ProviderStarted {
    /// Send the customer to the provider (OpenID Connect).
    Redirect {
        provider_id: String,
        provider_key: String,
        redirect_url: String,
        state: String,
    },
    /// Shopify Multipass for the signed-in customer: a new session and a
    /// Shopify customer access token, at once.
    Multipass {
        provider_id: String,
        provider_key: String,
        signed_in: Box<SignedIn>,
        shopify: ShopifyAccess,
    },
    /// A code was mailed (if the address can sign in): finish with
    /// `customerProviderVerifyOTP`.
    Otp {
        provider_id: String,
        provider_key: String,
        expires_at: Option<i64>,
    },
}

/// A Shopify customer access token and its expiry (unix ms).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShopifyAccess {
    pub access_token: String,
    pub expires_at: i64,
}

/// Renews a Shopify customer access token through the store's Storefront
/// API.
#[derive(Clone, Serialize, Deserialize)]
pub struct RenewShopifyToken {
    /// The provider's id or key, or the store's domain.
    pub shop_id: String,
    pub token: String,
}

/// The provider sent the customer back with `code` and `state`.
#[derive(Clone, Serialize, Deserialize)]
pub struct CompleteProviderLogin {
    pub provider_key: Option<String>,
    pub code: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotatedKey {
    pub kid: String,
    /// Unix ms from which it signs.
    pub active_from: i64,
    /// The keys it replaces, each trusted until (unix ms).
    pub retired: Vec<(String, i64)>,
}

/// A new webhook endpoint; its id and signing secret are made by the
/// services.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateWebhookEndpoint {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: String,
}

/// A change to an endpoint: what is `None` stays.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpdateWebhookEndpoint {
    pub endpoint_id: String,
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// A new signing secret (shown in the outcome); the old one signs no more.
    pub rotate_secret: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DeleteWebhookEndpoint {
    pub endpoint_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct WebhookEndpointSaved {
    pub endpoint: authd_events::webhook::WebhookEndpoint,
    /// The signing secret, on creation and rotation only: shown once.
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookEndpointSaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookEndpointSaved({})", self.endpoint.endpoint_id)
    }
}
