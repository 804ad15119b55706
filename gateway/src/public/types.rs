//! The Customer Auth API's object types, as `shared/api/customer-auth-api.md`
//! names them, with `message` and `errors { field message code }` added to
//! payloads.

use async_graphql::{Enum, ID, Scalar, ScalarType, SimpleObject, Value};
use authd_services::commands::{CustomerView, Tokens};

use crate::error::{UserError, payloads};

/// ISO-8601 date and time in UTC, e.g. `2026-11-22T01:45:56.123Z`.
#[derive(Clone, Copy, Debug)]
pub struct DateTime(pub i64);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        let Value::String(s) = &value else {
            return Err(async_graphql::InputValueError::expected_type(value));
        };
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                async_graphql::InputValueError::custom("expected an RFC 3339 date-time")
            })?;
        Ok(DateTime((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    fn to_value(&self) -> Value {
        Value::String(authd_events::format_millis(self.0))
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserStatus {
    /// Can sign in.
    Active,
    /// Registered, but the project requires a verified email and this one
    /// is not verified yet: cannot sign in until the link is used.
    Inactive,
    /// Suspended by an admin: cannot sign in by any method; sessions ended.
    Suspended,
}

impl UserStatus {
    pub(crate) fn from_read_model(status: &str) -> Self {
        match status {
            "SUSPENDED" => Self::Suspended,
            "INACTIVE" => Self::Inactive,
            _ => Self::Active,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserType {
    Customer,
    Admin,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub email_verified: bool,
    pub status: Option<UserStatus>,
    pub user_type: UserType,
    pub tenant_id: Option<ID>,
    pub project_id: Option<ID>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[async_graphql::ComplexObject]
impl User {
    /// The customer's second factors.
    async fn mfa(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<MfaStatus> {
        let (state, _) = crate::guards::request(ctx);
        let project = self
            .project_id
            .as_ref()
            .map(|p| p.as_str())
            .unwrap_or_default();
        Ok(MfaStatus::of(state, project, &self.id)?)
    }
}

impl User {
    /// A customer as a command's reply shows them; `inactive` when they
    /// registered unverified in a project that requires verification.
    pub(crate) fn from_view(v: CustomerView, project: &str, inactive: bool) -> Self {
        Self {
            id: ID(v.id),
            email: v.email,
            email_verified: v.email_verified,
            status: Some(if inactive {
                UserStatus::Inactive
            } else {
                UserStatus::Active
            }),
            user_type: UserType::Customer,
            tenant_id: Some(ID(project.to_string())),
            project_id: Some(ID(project.to_string())),
            created_at: DateTime(v.created_at),
            updated_at: DateTime(v.updated_at),
        }
    }

    pub(crate) fn from_row(r: authd_projections::read::CustomerRow) -> Self {
        let status = UserStatus::from_read_model(&r.status);
        Self {
            id: ID(r.id),
            email: r.email,
            email_verified: r.email_verified,
            status: Some(status),
            user_type: UserType::Customer,
            tenant_id: Some(ID(r.project_id.clone())),
            project_id: Some(ID(r.project_id)),
            created_at: DateTime(r.created_at),
            updated_at: DateTime(r.updated_at),
        }
    }
}

/// The signed-in customer's second factors.
#[derive(SimpleObject)]
pub struct MfaStatus {
    /// An authenticator app protects the sign-in.
    pub totp: bool,
    /// Since when (null without one).
    pub totp_enabled_at: Option<DateTime>,
    /// Unused recovery codes.
    pub recovery_codes_left: i32,
    /// Passkeys, oldest first.
    pub passkeys: Vec<Passkey>,
}

impl MfaStatus {
    /// The customer's second factors, from the read model.
    pub(crate) fn of(
        state: &crate::state::AppState,
        project: &str,
        customer: &str,
    ) -> Result<MfaStatus, crate::error::ApiError> {
        let (totp_at, left) = state
            .read
            .customer_mfa(project, customer)
            .map_err(crate::error::ApiError::internal)?
            .unwrap_or((None, 0));
        let passkeys = state
            .read
            .customer_passkeys(project, customer)
            .map_err(crate::error::ApiError::internal)?;
        Ok(MfaStatus {
            totp: totp_at.is_some(),
            totp_enabled_at: totp_at.map(DateTime),
            recovery_codes_left: left as i32,
            passkeys: passkeys.into_iter().map(Into::into).collect(),
        })
    }
}

#[derive(SimpleObject, Default)]
pub struct LoginResponse {
    pub success: bool,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub user: Option<User>,
    /// When the access token expires.
    pub access_token_expires_at: Option<DateTime>,
    /// For one-time-code logins: whether the code signed a new customer up.
    pub is_new_customer: Option<bool>,
    /// The first factor held and the customer has a second one: no tokens
    /// yet; finish with `customerLoginMfa(mfaToken, …)`.
    pub mfa_required: bool,
    /// Opaque, single use, valid 5 minutes (`mfaTokenExpiresAt`).
    pub mfa_token: Option<String>,
    pub mfa_token_expires_at: Option<DateTime>,
    /// What may finish the sign-in.
    pub mfa_methods: Option<Vec<crate::mfa::MfaMethod>>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct RegisterResponse {
    pub success: bool,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub user: Option<User>,
    pub email_verification_required: bool,
    pub access_token_expires_at: Option<DateTime>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct MutationResponse {
    pub success: bool,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct OtpRequestResponse {
    pub success: bool,
    pub expires_at: Option<DateTime>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct VerifyEmailResponse {
    pub success: bool,
    pub user: Option<User>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuthMethod {
    Password,
    Otp,
    /// An external OAuth 2.0 / OpenID Connect provider is enabled.
    Oauth,
    /// A Shopify store is enabled as a provider (Multipass or code).
    Shopify,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuthProviderType {
    Oidc,
    #[graphql(name = "OAUTH2")]
    OAuth2,
    Shopify,
}

/// A sign-in provider as clients see it: never a secret.
#[derive(SimpleObject, Clone)]
pub struct AuthProvider {
    pub id: ID,
    pub key: String,
    pub name: String,
    #[graphql(name = "type")]
    pub kind: AuthProviderType,
    pub enabled: bool,
    pub is_default: bool,
    pub priority: i32,
}

/// The providers, by priority.
pub fn auth_providers(c: &authd_events::ProvidersConfig) -> Vec<AuthProvider> {
    let mut out: Vec<AuthProvider> = c
        .providers
        .iter()
        .map(|p| AuthProvider {
            id: ID(p.id.clone()),
            key: p.key.clone(),
            name: p.name.clone(),
            kind: match p.kind {
                authd_events::ProviderKind::Oidc(_) => AuthProviderType::Oidc,
                authd_events::ProviderKind::Shopify(_) => AuthProviderType::Shopify,
                authd_events::ProviderKind::OAuth2(_) => AuthProviderType::OAuth2,
            },
            enabled: p.enabled,
            is_default: p.is_default,
            priority: p.priority,
        })
        .collect();
    out.sort_by_key(|p| p.priority);
    out
}

#[derive(SimpleObject)]
pub struct PasswordPolicy {
    pub min_length: i32,
    /// Longest accepted password, in bytes.
    pub max_length: i32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_special_chars: bool,
}

#[derive(SimpleObject)]
pub struct AuthConfig {
    /// Whether customers may (`OPTIONAL`) or must (`REQUIRED`) add a
    /// second factor, or cannot (`OFF`).
    pub mfa_required: crate::mfa::MfaRequirement,
    /// The project's passkeys' relying party id (`customerPasskey*`); null
    /// when passkeys are not set up.
    pub webauthn_rp_id: Option<String>,
    pub auth_methods: Vec<AuthMethod>,
    pub public_registration_enabled: bool,
    pub email_verification_required: bool,
    pub password_policy: PasswordPolicy,
}

impl From<&authd_events::ProjectConfig> for AuthConfig {
    fn from(c: &authd_events::ProjectConfig) -> Self {
        let mut auth_methods = Vec::new();
        if c.password_login {
            auth_methods.push(AuthMethod::Password);
        }
        if c.otp_login {
            auth_methods.push(AuthMethod::Otp);
        }
        let p = &c.password_policy;
        Self {
            mfa_required: crate::mfa::MfaRequirement::Optional,
            webauthn_rp_id: None,
            auth_methods,
            public_registration_enabled: c.public_registration,
            email_verification_required: c.email_verification_required,
            password_policy: PasswordPolicy {
                min_length: p.min_length as i32,
                max_length: authd_services::password::MAX_PASSWORD_BYTES as i32,
                require_uppercase: p.require_uppercase,
                require_lowercase: p.require_lowercase,
                require_numbers: p.require_numbers,
                require_special_chars: p.require_special_chars,
            },
        }
    }
}

payloads!(
    LoginResponse,
    RegisterResponse,
    MutationResponse,
    OtpRequestResponse,
    VerifyEmailResponse,
);

impl MutationResponse {
    pub(crate) fn done(message: &str) -> Self {
        Self {
            success: true,
            message: Some(message.into()),
            errors: vec![],
        }
    }
}

/// The access token, refresh token and expiry of a login payload.
pub(crate) fn tokens_fields(t: Tokens) -> (Option<String>, Option<String>, Option<DateTime>) {
    (
        Some(t.access_token),
        Some(t.refresh_token),
        Some(DateTime(t.access_token_expires_at * 1000)),
    )
}

/// Names the argument of this operation rather than the command's field.
pub(crate) fn rename_field(errors: &mut [UserError], from: &str, to: &str) {
    for e in errors {
        if let Some(f) = e.field.as_mut().and_then(|f| f.first_mut())
            && f == from
        {
            *f = to.to_string();
        }
    }
}

/// A passkey of the customer's.
#[derive(SimpleObject, Clone)]
pub struct Passkey {
    /// The credential id, base64url.
    pub id: ID,
    pub name: String,
    pub created_at: DateTime,
    pub last_used_at: Option<DateTime>,
    /// The authenticator may sync it to the customer's other devices.
    pub backup_eligible: bool,
    /// It is synced (backed up) now.
    pub backed_up: bool,
}

impl From<authd_projections::read_passkeys::PasskeyRow> for Passkey {
    fn from(p: authd_projections::read_passkeys::PasskeyRow) -> Self {
        Passkey {
            id: ID(p.id),
            name: p.name,
            created_at: DateTime(p.created_at),
            last_used_at: p.last_used_at.map(DateTime),
            backup_eligible: p.backup_eligible,
            backed_up: p.backed_up,
        }
    }
}
