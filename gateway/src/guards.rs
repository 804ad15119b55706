//! What a resolver checks before it acts: the rate limits, and a signed-in
//! customer's live session.

use async_graphql::Context;
use authd_projections::read::SessionRow;
use authd_services::{CommandError, ErrorCode};

use crate::{context::RequestContext, error::ApiError, state::AppState};

/// The shared state and the request's context.
pub fn request<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a RequestContext) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<RequestContext>(),
    )
}

/// Applies the per-IP and (with `account`) per-account limits; a refusal
/// is a RATE_LIMITED rejection for the payload.
pub fn rate_limit(ctx: &Context<'_>, account: Option<&str>) -> Result<(), ApiError> {
    let (state, rc) = request(ctx);
    let ip = rc.request.ip.as_deref().and_then(|ip| ip.parse().ok());
    state
        .rate_limits
        .check(ip, account.map(|e| (rc.project_id.as_str(), e)))
        .map_err(|wait| {
            let mut e =
                CommandError::new(ErrorCode::RateLimited, "too many requests; try again later");
            e.retry_after_ms = Some(wait.as_millis() as i64);
            ApiError::Rejected(e)
        })
}

/// The live session of the bearer token, for operations that need a
/// signed-in customer: without one, an UNAUTHENTICATED rejection.
pub async fn signed_in(ctx: &Context<'_>) -> Result<SessionRow, ApiError> {
    let (state, rc) = request(ctx);
    match rc.auth.require(state).await {
        Ok(Some(session)) => Ok(session),
        _ => Err(ApiError::Rejected(CommandError::new(
            ErrorCode::Unauthenticated,
            "a valid access token is required",
        ))),
    }
}
