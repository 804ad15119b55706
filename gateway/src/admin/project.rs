//! The project of the key: its configuration and API keys, and
//! `projectCreate`.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use authd_events::{ApiKeyKind, ProjectConfig, StorefrontConfig};
use authd_services::commands::{ConfigureProject, CreateProject, IssueApiKey, RevokeApiKey};

use super::{
    metafields::CustomerMetafieldDefinition,
    resolver::{ctx_of, send},
};
use crate::{
    error::{ApiError, Payload, UserError, respond},
    public::types::{AuthConfig, DateTime, MutationResponse},
};

#[derive(SimpleObject)]
pub struct ProjectSettings {
    pub public_registration_enabled: bool,
    pub email_verification_required: bool,
    pub password_login_enabled: bool,
    pub otp_login_enabled: bool,
    pub lockout_threshold: i32,
    pub mail_sender: String,
    pub link_base_url: String,
    /// Lifetime of a Storefront `customerAccessToken` (and of a renewal).
    pub customer_access_token_ttl_seconds: i64,
    /// Storefront sign-in sets the token in an HttpOnly cookie.
    pub cookie_sessions: bool,
    /// Browser origins the Storefront API answers CORS requests from.
    pub allowed_origins: Vec<String>,
    /// The metafields customers may hold.
    pub customer_metafields: Vec<CustomerMetafieldDefinition>,
}

#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub kind: KeyKind,
    pub live: bool,
    /// The first characters of the key.
    pub prefix: String,
    pub revoked: bool,
    pub created_at: DateTime,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum KeyKind {
    Public,
    Secret,
}

#[derive(SimpleObject)]
pub struct Project {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime,
    pub auth_config: AuthConfig,
    pub settings: ProjectSettings,
    pub api_keys: Vec<ApiKey>,
}

/// Every field optional: what is left out keeps its current value.
#[derive(InputObject, Default)]
pub struct ProjectConfigInput {
    pub public_registration_enabled: Option<bool>,
    pub email_verification_required: Option<bool>,
    pub password_login_enabled: Option<bool>,
    pub otp_login_enabled: Option<bool>,
    pub lockout_threshold: Option<i32>,
    pub mail_sender: Option<String>,
    pub link_base_url: Option<String>,
    pub password_policy: Option<PasswordPolicyInput>,
    /// 3,600 (an hour) to 31,536,000 (a year); 30 days by default.
    pub customer_access_token_ttl_seconds: Option<i64>,
    pub cookie_sessions: Option<bool>,
    /// Origins exactly as browsers send them: `https://shop.example`
    /// (http only for localhost).
    pub allowed_origins: Option<Vec<String>>,
    /// The metafields customers may hold, the whole list (at most 100).
    pub customer_metafields: Option<Vec<CustomerMetafieldDefinition>>,
    /// Second factors: `OPTIONAL` (the default), `REQUIRED` (a customer
    /// without one signs in to a session that may only add one) or `OFF`.
    pub mfa_required: Option<crate::mfa::MfaRequirement>,
    /// The passkeys' relying party id: the site's domain (`shop.example`,
    /// `localhost`); passkeys are bound to it. Empty turns passkeys off.
    pub webauthn_rp_id: Option<String>,
    /// Origins passkey ceremonies may come from, matched exactly
    /// (`https://shop.example`), on the relying party's domain (at most 20).
    pub webauthn_origins: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct PasswordPolicyInput {
    pub min_length: Option<i32>,
    pub require_uppercase: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_numbers: Option<bool>,
    pub require_special_chars: Option<bool>,
}

#[derive(SimpleObject, Default)]
pub struct ApiKeyIssueResponse {
    pub success: bool,
    /// Shown once: only its hash is kept.
    pub key: Option<String>,
    pub key_id: Option<ID>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct ProjectCreateResponse {
    pub success: bool,
    pub project_id: Option<ID>,
    /// Shown once.
    pub public_api_key: Option<String>,
    /// Shown once; the new project's own admin key.
    pub admin_key: Option<String>,
    pub errors: Vec<UserError>,
}

impl Payload for ApiKeyIssueResponse {
    fn failed(_message: String, errors: Vec<UserError>) -> Self {
        Self {
            errors,
            ..Default::default()
        }
    }
}

impl Payload for ProjectCreateResponse {
    fn failed(_message: String, errors: Vec<UserError>) -> Self {
        Self {
            errors,
            ..Default::default()
        }
    }
}

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// The project of the secret key.
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        let (state, admin) = ctx_of(ctx);
        let id = &admin.inner.project_id;
        let Some(p) = state.read.project(id).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        let keys = state.read.api_keys(id).map_err(ApiError::internal)?;
        let c = &p.config;
        Ok(Some(Project {
            id: ID(p.id),
            name: p.name,
            created_at: DateTime(p.created_at),
            auth_config: AuthConfig::from(c),
            settings: ProjectSettings {
                public_registration_enabled: c.public_registration,
                email_verification_required: c.email_verification_required,
                password_login_enabled: c.password_login,
                otp_login_enabled: c.otp_login,
                lockout_threshold: c.lockout_threshold as i32,
                mail_sender: c.mail_sender.clone(),
                link_base_url: c.link_base_url.clone(),
                customer_access_token_ttl_seconds: p.storefront.access_token_ttl_secs as i64,
                cookie_sessions: p.storefront.cookie_sessions,
                allowed_origins: p.storefront.allowed_origins.clone(),
                customer_metafields: state
                    .read
                    .metafield_definitions(id)
                    .map_err(ApiError::internal)?
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            },
            api_keys: keys
                .into_iter()
                .map(|k| ApiKey {
                    id: ID(k.key_id),
                    kind: if k.kind == "secret" {
                        KeyKind::Secret
                    } else {
                        KeyKind::Public
                    },
                    live: k.live,
                    prefix: k.prefix,
                    revoked: k.revoked,
                    created_at: DateTime(k.created_at),
                })
                .collect(),
        }))
    }
}

#[derive(Default)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    /// Creates another project, independent of this one: its customers and
    /// keys are its own, and this key gets no access to them.
    async fn project_create(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<ProjectCreateResponse> {
        let (state, admin) = ctx_of(ctx);
        let mut from = admin.sender();
        from.tenant = authd_events::new_id("p");
        let create = CreateProject {
            name,
            public_key: None,
            secret_key: None,
        };
        respond(
            crate::command_client::send(state, &from, create)
                .await
                .map(|k| ProjectCreateResponse {
                    success: true,
                    project_id: Some(ID(k.project_id)),
                    public_api_key: Some(k.public_key),
                    admin_key: Some(k.secret_key),
                    errors: vec![],
                }),
        )
    }

    /// Changes the project's configuration; fields left out keep their value.
    async fn project_configure(
        &self,
        ctx: &Context<'_>,
        input: ProjectConfigInput,
    ) -> Result<MutationResponse> {
        let (state, admin) = ctx_of(ctx);
        let current = state
            .read
            .project(&admin.inner.project_id)
            .map_err(ApiError::internal)?;
        let (config, storefront) = current
            .map(|p| (p.config, p.storefront))
            .unwrap_or_default();
        let storefront = merged_storefront(storefront, &input);
        let customer_metafields = input
            .customer_metafields
            .clone()
            .map(|defs| defs.into_iter().map(Into::into).collect());
        let mfa_required = input.mfa_required.map(|m| m.event());
        let (webauthn_rp_id, webauthn_origins) =
            (input.webauthn_rp_id.clone(), input.webauthn_origins.clone());
        let configure = ConfigureProject {
            mfa_required,
            webauthn_rp_id,
            webauthn_origins,
            config: merged(config, input),
            storefront,
            customer_metafields,
        };
        respond(
            send(ctx, configure)
                .await
                .map(|_| MutationResponse::done("configuration saved")),
        )
    }

    /// Issues a new API key; the response is the only place it is shown.
    async fn api_key_issue(
        &self,
        ctx: &Context<'_>,
        kind: KeyKind,
        #[graphql(default = false)] live: bool,
    ) -> Result<ApiKeyIssueResponse> {
        let kind = match kind {
            KeyKind::Public => ApiKeyKind::Public,
            KeyKind::Secret => ApiKeyKind::Secret,
        };
        respond(
            send(ctx, IssueApiKey { kind, live })
                .await
                .map(|k| ApiKeyIssueResponse {
                    success: true,
                    key: Some(k.key),
                    key_id: Some(ID(k.key_id)),
                    errors: vec![],
                }),
        )
    }

    async fn api_key_revoke(&self, ctx: &Context<'_>, key_id: ID) -> Result<MutationResponse> {
        let revoke = RevokeApiKey { key_id: key_id.0 };
        respond(
            send(ctx, revoke)
                .await
                .map(|_| MutationResponse::done("key revoked")),
        )
    }
}

/// The Storefront settings with the input's applied, when it names any.
fn merged_storefront(mut c: StorefrontConfig, i: &ProjectConfigInput) -> Option<StorefrontConfig> {
    if i.customer_access_token_ttl_seconds.is_none()
        && i.cookie_sessions.is_none()
        && i.allowed_origins.is_none()
    {
        return None;
    }
    if let Some(v) = i.customer_access_token_ttl_seconds {
        c.access_token_ttl_secs = v.max(0) as u64;
    }
    if let Some(v) = i.cookie_sessions {
        c.cookie_sessions = v;
    }
    if let Some(v) = &i.allowed_origins {
        c.allowed_origins = v.clone();
    }
    Some(c)
}

/// The configuration with the input's fields applied; what the input
/// leaves out keeps its current value.
fn merged(mut c: ProjectConfig, i: ProjectConfigInput) -> ProjectConfig {
    if let Some(v) = i.public_registration_enabled {
        c.public_registration = v;
    }
    if let Some(v) = i.email_verification_required {
        c.email_verification_required = v;
    }
    if let Some(v) = i.password_login_enabled {
        c.password_login = v;
    }
    if let Some(v) = i.otp_login_enabled {
        c.otp_login = v;
    }
    if let Some(v) = i.lockout_threshold {
        c.lockout_threshold = v.max(0) as u32;
    }
    if let Some(v) = i.mail_sender {
        c.mail_sender = v;
    }
    if let Some(v) = i.link_base_url {
        c.link_base_url = v;
    }
    if let Some(p) = i.password_policy {
        let pp = &mut c.password_policy;
        if let Some(v) = p.min_length {
            pp.min_length = v.max(0) as u32;
        }
        if let Some(v) = p.require_uppercase {
            pp.require_uppercase = v;
        }
        if let Some(v) = p.require_lowercase {
            pp.require_lowercase = v;
        }
        if let Some(v) = p.require_numbers {
            pp.require_numbers = v;
        }
        if let Some(v) = p.require_special_chars {
            pp.require_special_chars = v;
        }
    }
    c
}
