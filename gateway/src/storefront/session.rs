//! Who a Storefront request acts for: the live session of a
//! `customerAccessToken` (from an argument or `Authorization: Bearer`),
//! checked against this gateway's read model.

use authd_events::keyed_hash::secret_hash;
use authd_services::tokens::{digests_equal, parse_storefront_token};

use crate::{context::Bearer, error::ApiError, state::AppState};

/// A live session and its customer.
pub struct Live {
    pub customer_id: String,
    pub session_id: String,
    /// The customer's row, when it was read with the session.
    pub customer: Option<authd_projections::read::CustomerRow>,
}

/// The live session of `token` in `project`: `None` for a token that is
/// malformed, unknown, of another project, deleted, ended or expired. A
/// Customer Auth API access token (a JWT) is accepted too: one identity.
pub async fn live_session(
    state: &AppState,
    project: &str,
    token: &str,
) -> Result<Option<Live>, ApiError> {
    let token = token.trim();
    let Some(t) = parse_storefront_token(token) else {
        return jwt_session(state, project, token).await;
    };
    // The session and its customer in one read.
    let read = || {
        state
            .read
            .session_with_customer(project, t.session_id)
            .map_err(ApiError::internal)
    };
    let mut row = read()?;
    if row.is_none() && t.seq > state.applied_seq() {
        // Started through another gateway a moment ago: wait (bounded)
        // until this read model has it. A made-up sequence costs its
        // sender that wait, nothing else.
        state.wait_applied(t.seq).await;
        row = read()?;
    }
    let presented = secret_hash(t.hashed);
    Ok(row
        .filter(|(s, _)| {
            s.token_hash
                .as_deref()
                .and_then(|h| <&[u8; 32]>::try_from(h).ok())
                .is_some_and(|h| digests_equal(&presented, h))
                && !s.revoked
                && s.expires_at > authd_events::now_millis()
        })
        .map(|(s, customer)| Live {
            customer_id: s.customer_id,
            session_id: s.id,
            customer: Some(customer),
        }))
}

async fn jwt_session(
    state: &AppState,
    project: &str,
    token: &str,
) -> Result<Option<Live>, ApiError> {
    if token.matches('.').count() != 2 {
        return Ok(None);
    }
    let bearer = Bearer::verify(token, state, project);
    if bearer.claims().is_some_and(|c| c.restricted.is_some()) {
        // It may only add a second factor, which the Storefront cannot.
        return Ok(None);
    }
    match bearer.require(state).await {
        Ok(Some(s)) => Ok(Some(Live {
            customer_id: s.customer_id,
            session_id: s.id,
            customer: None,
        })),
        Ok(None) => Ok(None),
        Err(e) if e.code() == authd_services::ErrorCode::Unauthenticated => Ok(None),
        Err(e) => Err(e),
    }
}
