//! `customerAccessTokenCreate`, `customerAccessTokenRenew` and
//! `customerAccessTokenDelete`.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::commands::{CreateAccessToken, DeleteAccessToken, RenewAccessToken};

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
                let signed_in = send(state, &from, create).await?;
                Ok::<_, Failure>(CustomerAccessTokenCreatePayload {
                    customer_access_token: Some(super::resolver::hand_out(
                        ctx,
                        signed_in.access_token,
                    )),
                    ..Default::default()
                })
            }
            .await,
            paths::input,
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
