//! `authProviders`, `customerLoginWithProvider` and
//! `customerProviderCallback`: sign-in through an external OpenID Connect
//! provider (authorization code with PKCE; the services talk to the
//! provider).

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use authd_services::{
    CommandError, DomainError,
    commands::{
        CompleteProviderLogin, LogInWithOtp, ProviderStarted, RenewShopifyToken, StartProviderLogin,
    },
};

use super::{
    login::signed_in as signed_in_response,
    types::{AuthProvider, DateTime, LoginResponse, auth_providers},
};
use crate::{
    command_client::{public_actor, send},
    error::{ApiError, UserError, payloads, respond},
    guards,
};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ProviderLoginMethod {
    /// Send the customer to `redirectUrl`; the provider sends them back to
    /// `returnTo` with `code` and `state` for `customerProviderCallback`.
    Oauth,
    Multipass,
    Otp,
}

#[derive(InputObject)]
pub struct ProviderLoginInput {
    /// The provider's key; the project's default provider when left out.
    pub provider_key: Option<String>,
    /// Passed to the provider as `login_hint`.
    pub email: Option<String>,
    /// Where the provider sends the customer back: one of the project's
    /// return URLs, exactly (optional when it has only one).
    pub return_to: Option<String>,
}

#[derive(InputObject)]
pub struct ProviderCallbackInput {
    pub provider_key: Option<String>,
    pub code: String,
    pub state: String,
}

#[derive(SimpleObject, Default)]
pub struct ProviderLoginResponse {
    pub success: bool,
    pub method: Option<ProviderLoginMethod>,
    pub provider_id: Option<String>,
    pub provider_key: Option<String>,
    pub redirect_url: Option<String>,
    pub state: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub shopify_access_token: Option<String>,
    pub shopify_token_expires_at: Option<DateTime>,
    pub otp_sent: Option<bool>,
    pub expires_at: Option<DateTime>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

payloads!(ProviderLoginResponse);

/// The answer for each way a provider login goes on.
fn started(project: &str, r: ProviderStarted) -> ProviderLoginResponse {
    match r {
        ProviderStarted::Redirect {
            provider_id,
            provider_key,
            redirect_url,
            state,
        } => ProviderLoginResponse {
            success: true,
            method: Some(ProviderLoginMethod::Oauth),
            provider_id: Some(provider_id),
            provider_key: Some(provider_key),
            redirect_url: Some(redirect_url),
            state: Some(state),
            ..Default::default()
        },
        ProviderStarted::Multipass {
            provider_id,
            provider_key,
            signed_in,
            shopify,
        } => {
            let login = signed_in_response(project, *signed_in);
            ProviderLoginResponse {
                success: true,
                method: Some(ProviderLoginMethod::Multipass),
                provider_id: Some(provider_id),
                provider_key: Some(provider_key),
                access_token: login.access_token,
                refresh_token: login.refresh_token,
                shopify_access_token: Some(shopify.access_token),
                shopify_token_expires_at: Some(DateTime(shopify.expires_at)),
                ..Default::default()
            }
        }
        ProviderStarted::Otp {
            provider_id,
            provider_key,
            expires_at,
        } => ProviderLoginResponse {
            success: true,
            method: Some(ProviderLoginMethod::Otp),
            provider_id: Some(provider_id),
            provider_key: Some(provider_key),
            otp_sent: Some(true),
            expires_at: expires_at.map(DateTime),
            message: Some("if this address can sign in, a code is on its way".into()),
            ..Default::default()
        },
    }
}

#[derive(SimpleObject, Default)]
pub struct ShopifyTokenResponse {
    pub success: bool,
    pub access_token: Option<String>,
    pub expires_at: Option<DateTime>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

payloads!(ShopifyTokenResponse);

#[derive(InputObject)]
pub struct ProviderOtpInput {
    pub provider_key: Option<String>,
    pub email: String,
    pub otp: String,
}

#[derive(Default)]
pub struct ProviderQuery;

#[Object]
impl ProviderQuery {
    /// The project's sign-in providers, by priority (never a secret).
    async fn auth_providers(&self, ctx: &Context<'_>) -> Result<Vec<AuthProvider>> {
        let (state, rc) = guards::request(ctx);
        let project = state
            .read
            .project(&rc.project_id)
            .map_err(ApiError::internal)?;
        Ok(project
            .map(|p| auth_providers(&p.providers))
            .unwrap_or_default())
    }
}

#[derive(Default)]
pub struct ProviderMutation;

#[Object]
impl ProviderMutation {
    /// Starts a sign-in through a provider: where to send the customer.
    async fn customer_login_with_provider(
        &self,
        ctx: &Context<'_>,
        input: ProviderLoginInput,
    ) -> Result<ProviderLoginResponse> {
        respond(
            async {
                guards::rate_limit(ctx, input.email.as_deref())?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let start = StartProviderLogin {
                    provider_key: input.provider_key,
                    email: input.email,
                    return_to: input.return_to,
                };
                Ok(started(&rc.project_id, send(state, &from, start).await?))
            }
            .await,
        )
    }

    /// Completes a Shopify sign-in by code (stores without Multipass, or a
    /// customer not signed in yet): the same code rules as
    /// `customerLoginOTP`.
    #[graphql(name = "customerProviderVerifyOTP")]
    async fn customer_provider_verify_otp(
        &self,
        ctx: &Context<'_>,
        input: ProviderOtpInput,
    ) -> Result<LoginResponse> {
        respond(
            async {
                guards::rate_limit(ctx, Some(&input.email))?;
                let (state, rc) = guards::request(ctx);
                let project = state
                    .read
                    .project(&rc.project_id)
                    .map_err(ApiError::internal)?;
                let shopify = project.is_some_and(|p| {
                    p.providers.providers.iter().any(|q| {
                        q.enabled
                            && matches!(q.kind, authd_events::ProviderKind::Shopify(_))
                            && input.provider_key.as_ref().is_none_or(|k| *k == q.key)
                    })
                });
                if !shopify {
                    return Err(CommandError::from(DomainError::ProviderNotFound).into());
                }
                let from = rc.sender(public_actor(rc));
                let login = LogInWithOtp {
                    email: input.email,
                    otp: input.otp,
                };
                Ok(super::login::answered(
                    &rc.project_id,
                    send(state, &from, login).await?,
                ))
            }
            .await,
        )
    }

    /// Renews a Shopify customer access token through the store
    /// (`shopId`: the provider's id or key, or the store's domain).
    async fn refresh_shopify_customer_token(
        &self,
        ctx: &Context<'_>,
        current_token: String,
        shop_id: String,
    ) -> Result<ShopifyTokenResponse> {
        respond(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let renew = RenewShopifyToken {
                    shop_id,
                    token: current_token,
                };
                let t = send(state, &from, renew).await?;
                Ok(ShopifyTokenResponse {
                    success: true,
                    access_token: Some(t.access_token),
                    expires_at: Some(DateTime(t.expires_at)),
                    ..Default::default()
                })
            }
            .await,
        )
    }

    /// Completes a sign-in with what the provider sent back.
    async fn customer_provider_callback(
        &self,
        ctx: &Context<'_>,
        input: ProviderCallbackInput,
    ) -> Result<LoginResponse> {
        respond(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let complete = CompleteProviderLogin {
                    provider_key: input.provider_key,
                    code: input.code,
                    state: input.state,
                };
                let s = send(state, &from, complete).await?;
                Ok(super::login::answered(&rc.project_id, s))
            }
            .await,
        )
    }
}
