//! A project's external sign-in providers, for its admins: add or change
//! one (`authProviderSave`), remove one, and set the URLs customers may be
//! sent back to. Secrets go in and are never shown again.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use authd_services::commands::{EditProviders, ProviderInput, ProviderSettings};

use super::resolver::send;
use crate::{
    error::{ApiError, Payload, UserError, respond},
    public::types::{AuthProvider, AuthProviderType, MutationResponse, auth_providers},
};

/// A provider: OpenID Connect (`issuer`, `clientId`, `clientSecret`,
/// `scopes`) or a Shopify store (`shopDomain`, `storefrontAccessToken`,
/// `multipassSecret` for Plus stores). Leave `id` out to add one; with an
/// `id`, every field replaces the stored one except a left-out secret,
/// which keeps the stored one (`multipassSecret: ""` removes it).
#[derive(InputObject)]
pub struct AuthProviderInput {
    #[graphql(name = "type", default_with = "AuthProviderType::Oidc")]
    pub kind: AuthProviderType,
    pub id: Option<ID>,
    /// What clients name it by (`google`): lowercase letters, digits, `-`, `_`.
    pub key: String,
    /// What customers see; the shop's domain for a Shopify store, else
    /// the key, when left out.
    pub name: Option<String>,
    #[graphql(default = true)]
    pub enabled: bool,
    #[graphql(default = false)]
    pub is_default: bool,
    #[graphql(default = 0)]
    pub priority: i32,
    /// `https://accounts.example` (discovery reads
    /// `/.well-known/openid-configuration` under it).
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Beyond `openid`; `["email"]` by default.
    pub scopes: Option<Vec<String>>,
    /// OAUTH2: the provider's endpoints, and where its userinfo JSON holds
    /// the subject (`sub` by default; GitHub: `id`), the email (`email`)
    /// and whether it is verified (none by default: never verified).
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub subject_claim: Option<String>,
    pub email_claim: Option<String>,
    pub email_verified_claim: Option<String>,
    /// `shop.myshopify.com`.
    pub shop_domain: Option<String>,
    pub storefront_access_token: Option<String>,
    pub multipass_secret: Option<String>,
}

fn required(v: Option<String>, field: &'static str) -> Result<String, ApiError> {
    v.ok_or_else(|| {
        ApiError::Rejected(
            authd_services::CommandError::new(
                authd_services::ErrorCode::InvalidInput,
                &format!("{field} is required for this type"),
            )
            .with_field(field),
        )
    })
}

fn settings(input: &mut AuthProviderInput) -> Result<ProviderSettings, ApiError> {
    Ok(match input.kind {
        AuthProviderType::Oidc => ProviderSettings::Oidc {
            issuer: required(input.issuer.take(), "issuer")?,
            client_id: required(input.client_id.take(), "clientId")?,
            client_secret: input.client_secret.take(),
            scopes: input.scopes.take().unwrap_or_else(|| vec!["email".into()]),
        },
        AuthProviderType::OAuth2 => ProviderSettings::OAuth2 {
            authorize_url: required(input.authorize_url.take(), "authorizeUrl")?,
            token_url: required(input.token_url.take(), "tokenUrl")?,
            userinfo_url: required(input.userinfo_url.take(), "userinfoUrl")?,
            client_id: required(input.client_id.take(), "clientId")?,
            client_secret: input.client_secret.take(),
            scopes: input.scopes.take().unwrap_or_default(),
            subject_claim: input.subject_claim.take().unwrap_or_else(|| "sub".into()),
            email_claim: input.email_claim.take().unwrap_or_else(|| "email".into()),
            email_verified_claim: input.email_verified_claim.take(),
        },
        AuthProviderType::Shopify => ProviderSettings::Shopify {
            shop_domain: required(input.shop_domain.take(), "shopDomain")?,
            storefront_token: input.storefront_access_token.take(),
            multipass_secret: input.multipass_secret.take(),
        },
    })
}

#[derive(SimpleObject, Default)]
pub struct AuthProviderSaveResponse {
    pub success: bool,
    pub provider: Option<AuthProvider>,
    pub errors: Vec<UserError>,
}

impl Payload for AuthProviderSaveResponse {
    fn failed(_message: String, errors: Vec<UserError>) -> Self {
        Self {
            errors,
            ..Default::default()
        }
    }
}

fn read(ctx: &Context<'_>) -> Result<Option<authd_events::ProvidersConfig>> {
    let (state, admin) = super::resolver::ctx_of(ctx);
    let project = state
        .read
        .project(&admin.inner.project_id)
        .map_err(ApiError::internal)?;
    Ok(project.map(|p| p.providers))
}

#[derive(Default)]
pub struct ProviderQuery;

#[Object]
impl ProviderQuery {
    /// The project's providers, by priority, without secrets.
    async fn auth_providers(&self, ctx: &Context<'_>) -> Result<Vec<AuthProvider>> {
        Ok(read(ctx)?.map(|p| auth_providers(&p)).unwrap_or_default())
    }

    /// Where customers may be sent back to after a provider login.
    async fn auth_provider_return_urls(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(read(ctx)?.map(|p| p.return_urls).unwrap_or_default())
    }
}

#[derive(Default)]
pub struct ProviderMutation;

#[Object]
impl ProviderMutation {
    async fn auth_provider_save(
        &self,
        ctx: &Context<'_>,
        mut input: AuthProviderInput,
    ) -> Result<AuthProviderSaveResponse> {
        respond(
            async {
                let name = input.name.take().or_else(|| match input.kind {
                    AuthProviderType::Shopify => input.shop_domain.clone(),
                    _ => None,
                });
                let put = EditProviders::Put(Box::new(ProviderInput {
                    name: name.unwrap_or_else(|| input.key.clone()),
                    settings: settings(&mut input)?,
                    id: input.id.map(|id| id.0),
                    key: input.key,
                    enabled: input.enabled,
                    is_default: input.is_default,
                    priority: input.priority,
                }));
                // `send` waits until the read model has our own write.
                let saved = send(ctx, put).await?;
                let (state, admin) = super::resolver::ctx_of(ctx);
                let providers = state
                    .read
                    .project(&admin.inner.project_id)
                    .map_err(crate::error::ApiError::internal)?
                    .map(|p| auth_providers(&p.providers))
                    .unwrap_or_default();
                Ok(AuthProviderSaveResponse {
                    success: true,
                    provider: providers
                        .into_iter()
                        .find(|p| Some(&p.id.0) == saved.id.as_ref()),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    async fn auth_provider_remove(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        let remove = EditProviders::Remove { id: id.0 };
        respond(
            send(ctx, remove)
                .await
                .map(|_| MutationResponse::done("provider removed")),
        )
    }

    /// Sets, whole, the URLs `customerLoginWithProvider(returnTo:)` may
    /// name (https, or http to this machine), compared exactly.
    async fn auth_provider_return_urls_set(
        &self,
        ctx: &Context<'_>,
        urls: Vec<String>,
    ) -> Result<MutationResponse> {
        respond(
            send(ctx, EditProviders::ReturnUrls(urls))
                .await
                .map(|_| MutationResponse::done("return URLs set")),
        )
    }
}
