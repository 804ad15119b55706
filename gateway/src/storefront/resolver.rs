//! What every Storefront resolver shares: the request's state, context
//! and carried session (`request`), and handing a new token to the
//! caller (`hand_out`).

use async_graphql::Context;
use authd_services::commands::AccessToken;

use super::{browser::Carried, types::CustomerAccessToken};
use crate::{context::RequestContext, public::types::DateTime, state::AppState};

pub(super) fn request<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a RequestContext, &'a Carried) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<RequestContext>(),
        ctx.data_unchecked::<Carried>(),
    )
}

/// Hands a new token to the caller: in the body, or, for a project with
/// cookie sessions, only in the HttpOnly cookie (scripts never see it).
pub(super) fn hand_out(ctx: &Context<'_>, t: AccessToken) -> CustomerAccessToken {
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
