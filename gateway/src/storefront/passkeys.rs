//! Passkeys on the Storefront API (not in Shopify's schema): a signed-in
//! customer (`customerAccessToken`, or the cookie) adds one
//! (`customerPasskeyRegisterStart` / `…Finish`); anyone signs in with one
//! (`customerPasskeyLoginStart`, `customerAccessTokenCreateWithPasskey`),
//! to a Storefront token (a cookie in cookie mode). The options and the
//! answers are the Customer Auth API's (see `public/passkeys.rs`).

use async_graphql::{Context, Json, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::commands::{
    CreateAccessTokenWithPasskey, FinishPasskeyRegistration, PasskeyOptions, StartPasskeyLogin,
    StartPasskeyRegistration,
};
use serde_json::Value;

use super::addresses::caller;
use super::tokens::CustomerAccessTokenCreatePayload;
use super::types::{CustomerUserError, Failure, ShopUserError, answer, refusable};
use crate::{command_client::send, error::ApiError, guards};

#[derive(SimpleObject, Default)]
pub struct CustomerPasskeyOptionsPayload {
    /// `{ publicKey: … }` for `navigator.credentials.create` / `get`
    /// (binary fields base64url).
    pub options: Option<Json<Value>>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerPasskeyRegisterPayload {
    /// The new passkey's id (its credential id, base64url).
    pub passkey_id: Option<String>,
    pub name: Option<String>,
    /// With the customer's first second factor: ten single-use recovery
    /// codes, shown this once.
    pub recovery_codes: Option<Vec<String>>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

refusable!(
    CustomerPasskeyOptionsPayload,
    CustomerPasskeyRegisterPayload
);

/// Errors name the arguments as they are.
fn path(field: &str) -> Option<Vec<String>> {
    Some(vec![match field {
        "token" | "sessionId" => "customerAccessToken".into(),
        other => other.to_string(),
    }])
}

fn options(o: PasskeyOptions) -> Result<CustomerPasskeyOptionsPayload, Failure> {
    let options = serde_json::from_str(&o.options).map_err(ApiError::internal)?;
    Ok(CustomerPasskeyOptionsPayload {
        options: Some(Json(options)),
        ..Default::default()
    })
}

#[derive(Default)]
pub struct PasskeyMutation;

#[Object]
impl PasskeyMutation {
    /// Starts adding a passkey for the signed-in customer (see the
    /// Customer Auth API's `customerPasskeyRegisterStart`).
    async fn customer_passkey_register_start(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
    ) -> Result<CustomerPasskeyOptionsPayload> {
        answer(
            async {
                let (from, session_id) = caller(ctx, &customer_access_token).await?;
                guards::rate_limit(ctx, Some(&from_customer(&from.actor)))?;
                guards::recent_sign_in(ctx, &session_id)?;
                let (state, _, _) = super::resolver::request(ctx);
                options(send(state, &from, StartPasskeyRegistration {}).await?)
            }
            .await,
            path,
        )
    }

    /// The browser's answer to `customerPasskeyRegisterStart`'s options.
    async fn customer_passkey_register_finish(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        response: Json<Value>,
        name: Option<String>,
    ) -> Result<CustomerPasskeyRegisterPayload> {
        answer(
            async {
                let (from, _) = caller(ctx, &customer_access_token).await?;
                guards::rate_limit(ctx, Some(&from_customer(&from.actor)))?;
                let (state, _, _) = super::resolver::request(ctx);
                let finish = FinishPasskeyRegistration {
                    response: response.0.to_string(),
                    name,
                };
                let p = send(state, &from, finish).await?;
                Ok::<_, Failure>(CustomerPasskeyRegisterPayload {
                    passkey_id: Some(p.id),
                    name: Some(p.name),
                    recovery_codes: (!p.recovery_codes.is_empty()).then_some(p.recovery_codes),
                    ..Default::default()
                })
            }
            .await,
            path,
        )
    }

    /// Starts a sign-in with a passkey: an email's customer's passkeys, or
    /// any the browser holds for the site (no email, or one without).
    async fn customer_passkey_login_start(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
    ) -> Result<CustomerPasskeyOptionsPayload> {
        answer(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc, _) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                options(send(state, &from, StartPasskeyLogin { email }).await?)
            }
            .await,
            path,
        )
    }

    /// Signs in with the browser's answer to `customerPasskeyLoginStart`'s
    /// options: a `customerAccessToken` (a cookie in cookie mode).
    async fn customer_access_token_create_with_passkey(
        &self,
        ctx: &Context<'_>,
        response: Json<Value>,
    ) -> Result<CustomerAccessTokenCreatePayload> {
        answer(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc, _) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                let create = CreateAccessTokenWithPasskey {
                    response: response.0.to_string(),
                };
                let signed_in = send(state, &from, create).await?;
                Ok::<_, Failure>(super::tokens::created(ctx, signed_in.access_token))
            }
            .await,
            path,
        )
    }
}

/// The customer a sender acts for (its per-account limit).
fn from_customer(actor: &Actor) -> String {
    match actor {
        Actor::Customer(id) => id.clone(),
        _ => String::new(),
    }
}
