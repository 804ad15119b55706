//! The gateway's one error type. Everything that does not succeed is an
//! `ApiError`, and one mapping renders it: a rejection of the caller's input
//! as `errors { field message code }` with `success: false` (`UserError`),
//! anything else as a GraphQL error with `extensions.code`, or, before
//! GraphQL runs, as an HTTP status with the same body shape.

use async_graphql::{ErrorExtensions, SimpleObject};
use authd_services::{CommandError, ErrorCode};
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

#[derive(Debug, Clone)]
pub enum ApiError {
    /// The caller's input or state said no: a payload's `errors`.
    Rejected(CommandError),
    /// Anything else: a GraphQL error (or an HTTP error before GraphQL).
    Failed { code: ErrorCode, message: String },
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Failed {
            code,
            message: message.into(),
        }
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            "the service is temporarily unavailable, try again",
        )
    }

    /// Logs an internal failure; the caller hears a code and nothing else.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    pub fn unauthenticated(message: &str) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected(e) => e.code,
            Self::Failed { code, .. } => *code,
        }
    }

    /// The HTTP status of this error when it ends a request before GraphQL.
    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::MissingApiKey | ErrorCode::InvalidApiKey | ErrorCode::Unauthenticated => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> &str {
        match self {
            Self::Rejected(e) => &e.message,
            Self::Failed { message, .. } => message,
        }
    }
}

impl From<CommandError> for ApiError {
    /// The services' answer: outages and internal errors are not the
    /// caller's to fix, so they become GraphQL errors; the rest are
    /// rejections of the input.
    fn from(e: CommandError) -> Self {
        match e.code {
            ErrorCode::ServiceUnavailable => Self::unavailable(),
            ErrorCode::Internal => Self::new(ErrorCode::Internal, "internal error"),
            _ => Self::Rejected(e),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code().as_str();
        async_graphql::Error::new(e.message()).extend_with(|_, ext| ext.set("code", code))
    }
}

impl IntoResponse for ApiError {
    /// `{"errors":[{"message","extensions":{"code"}}]}` with the error's status.
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{ "message": self.message(), "extensions": { "code": self.code().as_str() } }]
        });
        (self.status(), Json(body)).into_response()
    }
}

/// A reason an operation did not succeed, naming the input at fault.
#[derive(SimpleObject, Clone)]
pub struct UserError {
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: String,
    /// For RATE_LIMITED and ACCOUNT_LOCKED: seconds until a retry can succeed.
    pub retry_after_seconds: Option<i64>,
}

impl From<CommandError> for UserError {
    fn from(e: CommandError) -> Self {
        Self {
            // A dotted field (`metafields.2.value`) is a path.
            field: e.field.map(|f| f.split('.').map(Into::into).collect()),
            message: e.message,
            code: e.code.as_str().to_string(),
            retry_after_seconds: e.retry_after_ms.map(|ms| (ms + 999) / 1000),
        }
    }
}

/// A mutation payload: `success`, `message` and `errors`, plus its own
/// fields when it succeeds.
pub trait Payload: Default {
    fn failed(message: String, errors: Vec<UserError>) -> Self;
}

/// Renders a resolver's result: a rejection becomes the payload's
/// `errors`, any other failure a GraphQL error.
pub fn respond<P: Payload>(result: Result<P, ApiError>) -> async_graphql::Result<P> {
    match result {
        Ok(payload) => Ok(payload),
        Err(ApiError::Rejected(e)) => Ok(P::failed(e.message.clone(), vec![e.into()])),
        Err(e) => Err(e.into()),
    }
}

/// Implements `Payload` for objects with `message` and `errors` fields.
macro_rules! payloads {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::error::Payload for $t {
            fn failed(message: String, errors: Vec<$crate::error::UserError>) -> Self {
                Self { message: Some(message), errors, ..Default::default() }
            }
        }
    )*};
}
pub(crate) use payloads;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mapping_for_every_shape() {
        let rejected: ApiError = CommandError::new(ErrorCode::EmailTaken, "taken").into();
        assert!(matches!(rejected, ApiError::Rejected(_)));
        assert_eq!(rejected.status(), StatusCode::BAD_REQUEST);
        let down: ApiError = CommandError::unavailable().into();
        assert_eq!(down.code(), ErrorCode::ServiceUnavailable);
        let gql: async_graphql::Error = down.into();
        assert_eq!(
            gql.extensions.unwrap().get("code"),
            Some(&async_graphql::Value::from("SERVICE_UNAVAILABLE"))
        );
        assert_eq!(
            ApiError::new(ErrorCode::MissingApiKey, "x").status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
