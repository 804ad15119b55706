//! Domain events: past-tense facts, append-only.
//!
//! postcard encodes an enum variant by its index, so variants are never
//! reordered or removed: new ones go at the end, and a changed shape becomes a
//! new variant that old ones are upcast to on read (see `codec`).

use serde::{Deserialize, Serialize};

pub use crate::address::*;
pub use crate::login::*;
pub use crate::mfa::*;
pub use crate::order::*;
pub use crate::passkey::*;
use crate::personal::Personal;
pub use crate::provider::*;
pub use crate::signing::*;

/// A SHA-256 digest of a secret (refresh token, API key, one-time code).
pub type SecretHash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Project(ProjectEvent),           // 0
    EmailClaim(EmailClaimEvent),     // 1
    Customer(CustomerEvent),         // 2
    Session(SessionEvent),           // 3
    LoginAttempt(LoginAttemptEvent), // 4
    Otp(OtpEvent),                   // 5
    /// A phone number's claim: the same events as an email's.
    PhoneClaim(EmailClaimEvent), // 6
    /// The ring of keys that sign access tokens (one aggregate for the
    /// whole deployment: see `subject::signing_keys_subject`).
    SigningKey(SigningKeyEvent), // 7
    /// One external-provider login, keyed by its state's hash.
    ProviderLogin(ProviderLoginEvent), // 8
    /// A provider identity's claim (keyed hash of provider and subject):
    /// the same events as an email's.
    ProviderIdentity(EmailClaimEvent), // 9
    /// An order the shop's backend reported for a customer.
    Order(OrderEvent), // 10
    /// A passkey ceremony, keyed by its challenge's hash.
    Webauthn(crate::passkey::WebauthnEvent), // 11
}

// ---- project -------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectEvent {
    Created(ProjectCreated),             // 0
    ApiKeyIssued(ApiKeyIssued),          // 1
    ApiKeyRevoked(ApiKeyRevoked),        // 2
    ConfigChanged(ProjectConfigChanged), // 3
    /// The Storefront API's settings, whole, as they are from this event on.
    StorefrontConfigured(StorefrontConfig), // 4
    /// The external sign-in providers, whole (secrets sealed).
    ProvidersConfigured(ProvidersConfig), // 5
    /// The customer metafields the project declares, whole.
    CustomerMetafieldsDeclared(crate::metafield::CustomerMetafieldsDeclared), // 6
    WebhookEndpointCreated(crate::webhook::WebhookEndpoint), // 7
    /// The endpoint, whole, as it is from this event on.
    WebhookEndpointUpdated(crate::webhook::WebhookEndpoint), // 8
    WebhookEndpointDeleted(crate::webhook::WebhookEndpointDeleted), // 9
    /// Second factors: optional, required or off.
    MfaConfigured(crate::mfa::MfaConfigured), // 10
    /// The relying party of the project's passkeys.
    WebauthnConfigured(crate::passkey::WebauthnConfigured), // 11
}

/// How the Storefront API (`/graphql/storefront`) treats this project's
/// customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorefrontConfig {
    /// Lifetime of a `customerAccessToken` (and of a renewal), in seconds.
    pub access_token_ttl_secs: u64,
    /// Sign-in also sets the token in an `HttpOnly` cookie (and the body
    /// does not carry it).
    pub cookie_sessions: bool,
    /// Origins (`https://shop.example`) browsers may call the API from.
    pub allowed_origins: Vec<String>,
}

impl Default for StorefrontConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 30 * 24 * 3600,
            cookie_sessions: false,
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectCreated {
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiKeyKind {
    /// `pk_…`: identifies the project from browsers and apps.
    Public,
    /// `sk_…`: admin operations; never leaves a server.
    Secret,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyIssued {
    pub key_id: String,
    pub kind: ApiKeyKind,
    pub live: bool,
    /// SHA-256 of the whole key; the key itself is shown once and never stored.
    pub key_hash: SecretHash,
    /// The first characters of the key, to tell keys apart in listings.
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    pub key_id: String,
}

/// The whole configuration, as it is from this event on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectConfigChanged {
    pub config: ProjectConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectConfig {
    pub public_registration: bool,
    pub email_verification_required: bool,
    pub password_login: bool,
    pub otp_login: bool,
    pub password_policy: PasswordPolicy,
    /// Consecutive failed logins that lock an account.
    pub lockout_threshold: u32,
    /// `From:` of outgoing mail, e.g. `Shop <no-reply@shop.example>`.
    pub mail_sender: String,
    /// Base of the links in mail: `<base>/verify?token=…`, `<base>/reset?token=…`.
    pub link_base_url: String,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            public_registration: true,
            email_verification_required: false,
            password_login: true,
            otp_login: true,
            password_policy: PasswordPolicy::default(),
            lockout_threshold: 5,
            mail_sender: "authd <no-reply@localhost>".into(),
            link_base_url: "http://localhost:3000".into(),
        }
    }
}

/// NIST 800-63B / OWASP ASVS defaults: a minimum length, no composition rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_special_chars: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: false,
            require_special_chars: false,
        }
    }
}

// ---- email claim -----------------------------------------------------------

/// The aggregate id of an email claim is a keyed hash of the normalized email,
/// so the subject carries no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailClaimEvent {
    Claimed(EmailClaimed),   // 0
    Released(EmailReleased), // 1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailClaimed {
    pub customer_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailReleased {
    pub customer_id: String,
}

// ---- customer ---------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerEvent {
    Registered(CustomerRegistered),                         // 0
    LoginSucceeded(LoginSucceeded),                         // 1
    LoginFailed(LoginFailed),                               // 2
    Locked(CustomerLocked),                                 // 3
    Unlocked(CustomerUnlocked),                             // 4
    Suspended(CustomerSuspended),                           // 5
    Reactivated(CustomerReactivated),                       // 6
    SessionsEnded(SessionsEnded),                           // 7
    PasswordChanged(PasswordChanged),                       // 8
    EmailVerificationRequested(EmailVerificationRequested), // 9
    EmailVerified(EmailVerified),                           // 10
    PasswordResetRequested(PasswordResetRequested),         // 11
    /// Too many wrong passwords from one client (the client of the
    /// message's request metadata): that client is refused until then;
    /// others are not.
    ClientLocked(ClientLocked), // 12
    /// The customer's profile, whole, as it is from this event on.
    ProfileChanged(CustomerProfile), // 13
    /// An admin invited the customer (no password yet): the mailed link
    /// with this token activates the account by setting one.
    ActivationRequested(ActivationRequested), // 14
    /// The customer changed their email address (its claim moved in the
    /// same batch); the new one is not verified yet.
    EmailChanged(CustomerEmailChanged), // 15
    ProviderLinked(ProviderLinked),                         // 16
    /// A sign-in through a provider failed for a known customer (a Shopify
    /// store refused Multipass or did not answer): the fact and why,
    /// nothing of any token.
    ProviderLoginFailed(CustomerProviderLoginFailed), // 17
    AddressAdded(CustomerAddressAdded),                     // 18
    AddressUpdated(CustomerAddressUpdated),                 // 19
    AddressRemoved(CustomerAddressRemoved),                 // 20
    DefaultAddressChanged(DefaultAddressChanged),           // 21
    /// The customer's tags, whole, as an admin set them.
    TagsSet(CustomerTagsSet), // 22
    MetafieldsSet(crate::metafield::CustomerMetafieldsSet), // 23
    /// The customer was erased (GDPR art. 17): from here on they are no
    /// one. Every session ended and the address and phone claims were
    /// released in the same batch; the data key is destroyed after it.
    Erased(CustomerErased), // 24
    /// What an erasure drove, done: the data key destroyed (or found gone)
    /// and the customer's queued mail dropped.
    ErasureCompleted(CustomerErasureCompleted), // 25
    TotpEnrolled(crate::mfa::TotpEnrolled),                 // 26
    TotpConfirmed(crate::mfa::TotpConfirmed),               // 27
    TotpDisabled(crate::mfa::TotpDisabled),                 // 28
    RecoveryCodesGenerated(crate::mfa::RecoveryCodesGenerated), // 29
    RecoveryCodeUsed(crate::mfa::RecoveryCodeUsed),         // 30
    MfaChallenged(crate::mfa::MfaChallenged),               // 31
    MfaPassed(crate::mfa::MfaPassed),                       // 32
    MfaFailed(crate::mfa::MfaFailed),                       // 33
    MfaReset(crate::mfa::MfaReset),                         // 34
    PasskeyRegistered(crate::passkey::PasskeyRegistered),   // 35
    PasskeyRemoved(crate::passkey::PasskeyRemoved),         // 36
    PasskeyUsed(crate::passkey::PasskeyUsed),               // 37
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerErased {
    /// Why (an admin's words; never personal data of the customer).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerErasureCompleted {
    /// The key was there and is destroyed now (`false`: it was gone already,
    /// or the customer never had one).
    pub key_destroyed: bool,
    /// Mail jobs still queued for the customer, deleted with erase.
    pub mail_jobs_dropped: u32,
    /// The customer's messages that an earlier build wrote with personal
    /// data in plain, deleted from the log with erase (their sequences).
    pub plaintext_erased: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerTagsSet {
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProviderLoginFailed {
    pub provider_id: String,
    pub reason: crate::provider::ProviderFailure,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerEmailChanged {
    pub email: Personal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRequested {
    pub token_hash: SecretHash,
    /// Unix ms.
    pub expires_at: i64,
}

/// Names, phone and marketing consent: personal data, each sealable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub first_name: Option<Personal>,
    pub last_name: Option<Personal>,
    /// E.164, e.g. `+16135551111`.
    pub phone: Option<Personal>,
    /// `"true"` when the customer agreed to marketing mail; absent or
    /// anything else is no.
    pub accepts_marketing: Option<Personal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRegistered {
    pub email: Personal,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    pub email_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLocked {
    /// Unix ms.
    pub until: i64,
}

/// A lock on the client (address, IPv6 by /64) of the message's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientLocked {
    /// Unix ms.
    pub until: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerUnlocked {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSuspended {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerReactivated {}

/// Every session of the customer started before this event ends, but `except`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsEnded {
    pub except: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PasswordChangeVia {
    Reset,  // 0
    Update, // 1
    /// Dropped (the hash is empty): it was set before the address was
    /// proven, and the address was then proven another way, so whoever set
    /// it may not own the address (account pre-hijacking).
    Unproven, // 2
    /// Set with an invitation's activation link.
    Activation, // 3
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChanged {
    pub password_hash: String,
    pub via: PasswordChangeVia,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerificationRequested {
    pub token_hash: SecretHash,
    /// Unix ms.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerified {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequested {
    pub token_hash: SecretHash,
    /// Unix ms.
    pub expires_at: i64,
}

// ---- session -----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionEvent {
    Started(SessionStarted),                // 0
    Refreshed(SessionRefreshed),            // 1
    RefreshTokenReused(RefreshTokenReused), // 2
    Revoked(SessionRevoked),                // 3
    /// A Storefront API session: `refresh_token_hash` is the hash of its
    /// opaque `customerAccessToken`, which is never rotated, only renewed
    /// (its expiry moved) or deleted.
    StorefrontStarted(SessionStarted), // 4
    Renewed(SessionRenewed),                // 5
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRenewed {
    /// Unix ms: the new end of the session.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStarted {
    pub customer_id: String,
    pub method: LoginMethod,
    pub refresh_token_hash: SecretHash,
    /// Unix milliseconds after which the session cannot be refreshed.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRefreshed {
    /// 1 for the first rotation, counting up.
    pub generation: u32,
    pub refresh_token_hash: SecretHash,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenReused {
    /// The generation of the rotated token that was presented again.
    pub generation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RevokeReason {
    Logout,
    RefreshTokenReused,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRevoked {
    pub reason: RevokeReason,
}

// ---- login attempts for emails that have no customer --------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginAttemptEvent {
    FailedForUnknownEmail(LoginFailedForUnknownEmail), // 0
    /// Unknown addresses lock like accounts do, so a lock says nothing
    /// about whether an account exists.
    Locked(CustomerLocked), // 1
    ClientLocked(ClientLocked),                        // 2
    /// A reset link was asked for the address (none is mailed: there is no
    /// account); recorded and throttled as for a customer, so both cost
    /// the same.
    ResetRequested(ResetRequestedForUnknownEmail), // 3
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailedForUnknownEmail {
    pub method: LoginMethod,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRequestedForUnknownEmail {}

// ---- one-time codes, one aggregate per (project, email hash) -------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OtpEvent {
    Issued(OtpIssued),               // 0
    AttemptFailed(OtpAttemptFailed), // 1
    Used(OtpUsed),                   // 2
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpIssued {
    pub otp_id: String,
    /// Keyed hash of the code: six digits are too few to hash unkeyed.
    pub code_hash: SecretHash,
    /// Unix ms.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpAttemptFailed {
    pub otp_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpUsed {
    pub otp_id: String,
}
