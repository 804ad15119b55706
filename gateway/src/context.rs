//! Who is asking: the project selected by `x-api-key`, the bearer access
//! token, and the request metadata recorded with every event.

use authd_events::{Actor, RequestMeta, keyed_hash::secret_hash};
use authd_projections::{
    ReadModel,
    read::{CustomerRow, SessionRow},
};
use authd_services::{
    ErrorCode,
    bus::Sender,
    tokens::{AccessClaims, TokenError},
};

use crate::{error::ApiError, state::AppState};

/// The bearer token of a request, as far as it could be checked without I/O.
pub enum Bearer {
    None,
    Valid(AccessClaims),
    Invalid(&'static str),
}

pub struct RequestContext {
    pub project_id: String,
    pub auth: Bearer,
    pub request: RequestMeta,
}

impl RequestContext {
    /// Commands sent for this request act in its project as `actor`.
    pub fn sender(&self, actor: Actor) -> Sender {
        Sender {
            tenant: self.project_id.clone(),
            actor,
            request: self.request.clone(),
        }
    }
}

/// The credential of an `Authorization: Bearer <credential>` header value.
pub fn bearer_credential(value: &str) -> Option<&str> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
}

impl Bearer {
    pub fn parse(header: Option<&str>, state: &AppState, project_id: &str) -> Self {
        let Some(value) = header else {
            return Bearer::None;
        };
        let Some(token) = bearer_credential(value) else {
            return Bearer::Invalid("the Authorization header must be `Bearer <access token>`");
        };
        Self::verify(token, state, project_id)
    }

    /// An access token (a JWT) checked as far as it can be without I/O.
    pub fn verify(token: &str, state: &AppState, project_id: &str) -> Self {
        match state.verifier.verify(token.trim()) {
            Ok(c) if c.aud == project_id && c.pid == project_id => Bearer::Valid(c),
            Ok(_) => Bearer::Invalid("the access token belongs to another project"),
            Err(TokenError::Expired) => Bearer::Invalid("the access token has expired"),
            Err(_) => Bearer::Invalid("the access token is invalid"),
        }
    }

    pub fn claims(&self) -> Option<&AccessClaims> {
        match self {
            Bearer::Valid(c) => Some(c),
            _ => None,
        }
    }

    /// The live session of the token: `Ok(None)` without a token, an
    /// `UNAUTHENTICATED` error for a bad token or an ended session.
    pub async fn require(&self, state: &AppState) -> Result<Option<SessionRow>, ApiError> {
        self.live(state, |read, c| read.session(&c.pid, &c.sid), |s| s)
            .await
    }

    /// The live session of the token and its customer, in one read (what
    /// `currentUser` answers on every request).
    pub async fn require_with_customer(
        &self,
        state: &AppState,
    ) -> Result<Option<(SessionRow, CustomerRow)>, ApiError> {
        self.live(
            state,
            |read, c| read.session_with_customer(&c.pid, &c.sid),
            |(s, _)| s,
        )
        .await
    }

    async fn live<T>(
        &self,
        state: &AppState,
        read: impl Fn(&ReadModel, &AccessClaims) -> rusqlite::Result<Option<T>>,
        session_of: impl Fn(&T) -> &SessionRow,
    ) -> Result<Option<T>, ApiError> {
        let claims = match self {
            Bearer::None => return Ok(None),
            Bearer::Invalid(why) => return Err(ApiError::unauthenticated(why)),
            Bearer::Valid(c) => c,
        };
        // The token may come from another gateway instance: wait until this
        // read model has seen the session it names.
        let caught_up = state.wait_applied(claims.seq).await;
        let found = read(&state.read, claims)
            .map_err(ApiError::internal)?
            .filter(|t| session_of(t).customer_id == claims.sub);
        let live = |s: &SessionRow| !s.revoked && s.expires_at > authd_events::now_millis();
        match found {
            Some(t) if live(session_of(&t)) => Ok(Some(t)),
            // A read model still behind the token (its projection resuming
            // after a broker went away) cannot say the session ended: a
            // client told so would sign its customer out.
            None if !caught_up => Err(ApiError::unavailable()),
            _ => Err(ApiError::unauthenticated(
                "the session of this access token has ended",
            )),
        }
    }
}

/// The project an API key selects, with the key's kind; `missing` says
/// what to send when there is no key.
pub fn project_for_key(
    state: &AppState,
    key: Option<&str>,
    missing: &str,
) -> Result<(String, String), ApiError> {
    let invalid = || ApiError::new(ErrorCode::InvalidApiKey, "the API key is not valid");
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::MissingApiKey, missing))?;
    if key.len() > 200 || !(key.starts_with("pk_") || key.starts_with("sk_")) {
        return Err(invalid());
    }
    match state.read.api_key(&secret_hash(key)) {
        Ok(Some(row)) if !row.revoked => Ok((row.project_id, row.kind)),
        Ok(_) => Err(invalid()),
        Err(e) => {
            tracing::error!(error = %e, "api key lookup");
            Err(invalid())
        }
    }
}
