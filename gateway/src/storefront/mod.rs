//! The Storefront API (`/graphql/storefront`): the customer operations of
//! Shopify's Storefront API, with its names, arguments and payloads, over
//! the same customers as the Customer Auth API (one identity per project).
//! One small object per feature, merged.

pub mod account;
pub mod browser;
pub mod input;
pub mod recovery;
pub mod session;
pub mod tokens;
pub mod types;

use async_graphql::{Context, EmptySubscription, MergedObject};
use authd_services::commands::AccessToken;

pub use browser::Carried;
use types::CustomerAccessToken;

use crate::{context::RequestContext, public::types::DateTime, state::AppState};

#[derive(MergedObject, Default)]
pub struct Query(account::CustomerQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(
    account::AccountMutation,
    tokens::TokenMutation,
    recovery::RecoveryMutation,
    recovery::ActivationMutation,
);

pub type StorefrontSchema = async_graphql::Schema<Query, Mutation, EmptySubscription>;

/// Root fields that check a credential, hash a password or send mail: one
/// per request (see `guards::one_costly_field`).
pub const COSTLY_FIELDS: &[&str] = &[
    "customerCreate",
    "customerAccessTokenCreate",
    "customerUpdate",
    "customerRecover",
    "customerReset",
    "customerResetByUrl",
    "customerActivate",
    "customerActivateByUrl",
];

pub fn build(limits: &crate::state::Limits, introspection: bool) -> StorefrontSchema {
    let schema =
        async_graphql::Schema::build(Query::default(), Mutation::default(), EmptySubscription);
    crate::state::limited(schema, limits, introspection).finish()
}

fn request<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a RequestContext, &'a Carried) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<RequestContext>(),
        ctx.data_unchecked::<Carried>(),
    )
}

/// Hands a new token to the caller: in the body, or, for a project with
/// cookie sessions, only in the HttpOnly cookie (scripts never see it).
fn hand_out(ctx: &Context<'_>, t: AccessToken) -> CustomerAccessToken {
    let (_, _, carried) = request(ctx);
    if !carried.cookie_mode {
        return CustomerAccessToken::of(t);
    }
    let max_age = (t.expires_at - authd_events::now_millis()) / 1000;
    let cookie = carried.set_cookie(&t.token, max_age);
    ctx.append_http_header(axum::http::header::SET_COOKIE, cookie);
    CustomerAccessToken {
        access_token: None,
        expires_at: DateTime(t.expires_at),
    }
}
