//! `customerAccessTokenCreate`, `customerAccessTokenRenew` and
//! `customerAccessTokenDelete`.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::commands::{
    CreateAccessToken, CreateAccessTokenWithMfa, DeleteAccessToken, RenewAccessToken, SignIn,
};

use super::types::{
    CustomerAccessToken, CustomerUserError, Failure, Refusable, ShopUserError, answer, paths,
    refusable,
};
use crate::{command_client::send, guards};

#[derive(InputObject)]
pub struct CustomerAccessTokenCreateInput {
    pub email: String,
    pub password: String,
}

#[derive(SimpleObject, Default)]
pub struct CustomerAccessTokenCreatePayload {
    pub customer_access_token: Option<CustomerAccessToken>,
    pub customer_user_errors: Vec<CustomerUserError>,
    /// Deprecated in Shopify's schema: the same errors, without codes.
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerAccessTokenRenewPayload {
    pub customer_access_token: Option<CustomerAccessToken>,
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerAccessTokenDeletePayload {
    pub deleted_access_token: Option<String>,
    pub deleted_customer_access_token_id: Option<String>,
    pub user_errors: Vec<ShopUserError>,
}

refusable!(CustomerAccessTokenCreatePayload);

/// Payloads with `userErrors` only.
macro_rules! user_errors_only {
    ($($t:ty),*) => {$(
        impl Refusable for $t {
            fn refused(errors: Vec<CustomerUserError>) -> Self {
                Self {
                    user_errors: errors.iter().map(Into::into).collect(),
                    ..Default::default()
                }
            }
        }
    )*};
}
user_errors_only!(
    CustomerAccessTokenRenewPayload,
    CustomerAccessTokenDeletePayload
);

/// A sign-in's payload: its token, handed out (a cookie in cookie mode).
pub(super) fn created(
    ctx: &Context<'_>,
    token: authd_services::commands::AccessToken,
) -> CustomerAccessTokenCreatePayload {
    CustomerAccessTokenCreatePayload {
        customer_access_token: Some(super::resolver::hand_out(ctx, token)),
        ..Default::default()
    }
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Signs a customer in: a `customerAccessToken` for email and password.
    async fn customer_access_token_create(
        &self,
        ctx: &Context<'_>,
        input: CustomerAccessTokenCreateInput,
    ) -> Result<CustomerAccessTokenCreatePayload> {
        answer(
            async {
                guards::rate_limit(ctx, Some(&input.email))?;
                let (state, rc, _) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                let create = CreateAccessToken {
                    email: input.email,
                    password: input.password,
                };
                let signed_in = match send(state, &from, create).await? {
                    SignIn::SignedIn(s) => s,
                    SignIn::MfaRequired(m) => {
                        let e = CustomerUserError::mfa_required(m);
                        return Ok(CustomerAccessTokenCreatePayload {
                            user_errors: vec![(&e).into()],
                            customer_user_errors: vec![e],
                            ..Default::default()
                        });
                    }
                };
                Ok::<_, Failure>(created(ctx, signed_in.access_token))
            }
            .await,
            paths::input,
        )
    }

    /// Finishes a `customerAccessTokenCreate` that answered an `mfaToken`:
    /// one of `totp` (a code of the customer's authenticator app) or
    /// `recoveryCode`. Not in Shopify's schema.
    async fn customer_access_token_create_with_mfa(
        &self,
        ctx: &Context<'_>,
        mfa_token: String,
        totp: Option<String>,
        recovery_code: Option<String>,
    ) -> Result<CustomerAccessTokenCreatePayload> {
        answer(
            async {
                let account = mfa_token.split('.').next().filter(|a| a.len() <= 64);
                guards::rate_limit(ctx, account)?;
                let (state, rc, _) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                let finish = CreateAccessTokenWithMfa {
                    mfa_token,
                    totp,
                    recovery_code,
                };
                let signed_in = send(state, &from, finish).await?;
                Ok::<_, Failure>(created(ctx, signed_in.access_token))
            }
            .await,
            paths::mfa,
        )
    }

    /// Extends a live token's life by the project's token lifetime; an
    /// expired or deleted token cannot be renewed.
    async fn customer_access_token_renew(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
    ) -> Result<CustomerAccessTokenRenewPayload> {
        answer(
            async {
                let (state, rc, carried) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                let renew = RenewAccessToken {
                    access_token: carried
                        .token(Some(&customer_access_token))
                        .unwrap_or_default()
                        .to_string(),
                };
                let token = send(state, &from, renew).await?;
                Ok::<_, Failure>(CustomerAccessTokenRenewPayload {
                    customer_access_token: Some(super::resolver::hand_out(ctx, token)),
                    ..Default::default()
                })
            }
            .await,
            paths::token,
        )
    }

    /// Signs out: the token stops working at once, everywhere.
    async fn customer_access_token_delete(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
    ) -> Result<CustomerAccessTokenDeletePayload> {
        answer(
            async {
                let (state, rc, carried) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                let token = carried
                    .token(Some(&customer_access_token))
                    .unwrap_or_default()
                    .to_string();
                let delete = DeleteAccessToken {
                    access_token: token.clone(),
                };
                let deleted = send(state, &from, delete).await?;
                if carried.cookie_mode {
                    let clear = carried.clear_cookie();
                    ctx.append_http_header(axum::http::header::SET_COOKIE, clear);
                }
                Ok::<_, Failure>(CustomerAccessTokenDeletePayload {
                    // A cookie's token never appears in a body.
                    deleted_access_token: (!carried.cookie_mode).then_some(token),
                    deleted_customer_access_token_id: Some(deleted.session_id),
                    ..Default::default()
                })
            }
            .await,
            paths::token,
        )
    }
}
