//! HTTP endpoints: GraphQL, JWKS, health.

use std::{net::SocketAddr, time::Duration};

use async_graphql::http::GraphiQLSource;
use authd_events::RequestMeta;
use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, State},
    http::{HeaderMap, Request, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use crate::{
    auth::{ApiKeyError, Bearer, RequestContext, project_for_key},
    state::AppState,
};

/// A GraphQL-shaped error response: `{"errors":[{"message","extensions":{"code"}}]}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, Json(body)).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn request_meta(headers: &HeaderMap, peer: Option<SocketAddr>) -> RequestMeta {
    let request_id = header_str(headers, "x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    RequestMeta {
        request_id,
        ip: peer.map(|p| p.ip().to_string()),
        user_agent: header_str(headers, "user-agent").map(|ua| ua.chars().take(256).collect()),
    }
}

/// Reads and parses a GraphQL request body, or answers why not.
async fn read_request(state: &AppState, body: Body) -> Result<async_graphql::Request, Response> {
    let bytes = axum::body::to_bytes(body, state.limits.body_limit)
        .await
        .map_err(|_| {
            error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("request body exceeds {} bytes", state.limits.body_limit),
            )
        })?;
    let mut request: async_graphql::Request = serde_json::from_slice(&bytes).map_err(|e| {
        let message = if std::str::from_utf8(&bytes).is_err() {
            "request body is not valid UTF-8".to_string()
        } else if bytes.trim_ascii_start().starts_with(b"[") {
            "batched requests (a JSON array) are not supported: send one operation per request"
                .to_string()
        } else {
            format!("request body is not a GraphQL request: {e}")
        };
        error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message)
    })?;
    state.parsed.prepare(&mut request);
    Ok(request)
}

/// Gives parse and validation errors (unknown operation, missing variable,
/// too deep or too costly), which carry no code of their own, one.
fn with_codes(mut response: async_graphql::Response) -> Response {
    for e in &mut response.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "GRAPHQL_VALIDATION_FAILED");
        }
    }
    Json(response).into_response()
}

fn key_error(e: ApiKeyError, missing: &str) -> Response {
    match e {
        ApiKeyError::Missing => {
            error_response(StatusCode::UNAUTHORIZED, "MISSING_API_KEY", missing)
        }
        ApiKeyError::Invalid => error_response(
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEY",
            "the API key is not valid",
        ),
    }
}

/// Headers, peer address and parsed GraphQL request of a POST, or the
/// response that says why the body is unusable.
async fn read_parts(
    state: &AppState,
    req: Request<Body>,
) -> Result<(HeaderMap, Option<SocketAddr>, async_graphql::Request), Response> {
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let request = read_request(state, body).await?;
    Ok((parts.headers, peer, request))
}

pub async fn graphql_post(State(state): State<AppState>, req: Request<Body>) -> Response {
    let (headers, peer, request) = match read_parts(&state, req).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let project_id = match project_for_key(&state, header_str(&headers, "x-api-key")) {
        Ok((project, _)) => project,
        Err(e) => return key_error(e, "the x-api-key header is required"),
    };
    crate::metrics::request("public");
    let auth = Bearer::parse(header_str(&headers, "authorization"), &state, &project_id);
    let ctx = RequestContext {
        project_id,
        auth,
        request: request_meta(&headers, peer),
    };
    with_codes(
        state
            .schema
            .execute(request.data(state.clone()).data(ctx))
            .await,
    )
}

/// The admin API: `Authorization: Bearer sk_…` selects the project.
pub async fn admin_post(State(state): State<AppState>, req: Request<Body>) -> Response {
    let (headers, peer, request) = match read_parts(&state, req).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let key = header_str(&headers, "authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    let (project_id, key_id) = match project_for_key(&state, key) {
        Ok((project, kind)) if kind == "secret" => (
            project,
            key.map(|k| k.chars().take(12).collect::<String>())
                .unwrap_or_default(),
        ),
        Ok(_) => {
            return error_response(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "the admin API needs a secret key (sk_…)",
            );
        }
        Err(e) => return key_error(e, "the admin API needs `Authorization: Bearer sk_…`"),
    };
    crate::metrics::request("admin");
    let ctx = crate::admin::AdminContext {
        inner: RequestContext {
            project_id,
            auth: Bearer::None,
            request: request_meta(&headers, peer),
        },
        key_prefix: key_id,
    };
    with_codes(
        state
            .admin_schema
            .execute(request.data(state.clone()).data(ctx))
            .await,
    )
}

pub async fn graphiql_admin(State(state): State<AppState>) -> Response {
    if !state.dev {
        return not_found().await;
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql/admin")
            .title("authd admin")
            .finish(),
    )
    .into_response()
}

pub async fn graphiql(State(state): State<AppState>) -> Response {
    if !state.dev {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "send GraphQL requests with POST",
        );
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql/public")
            .title("authd")
            .finish(),
    )
    .into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.verifier.jwks()),
    )
        .into_response()
}

/// 200 only while NATS is connected and the read model has applied
/// everything the stream held when asked.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let connected =
        state.store.client().connection_state() == async_nats::connection::State::Connected;
    let last = if connected {
        tokio::time::timeout(Duration::from_secs(2), state.store.last_stream_sequence())
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    let caught_up = match last {
        Some(last) => {
            let mut rx = state.applied.clone();
            tokio::time::timeout(Duration::from_secs(1), rx.wait_for(|s| *s >= last))
                .await
                .is_ok()
        }
        None => false,
    };
    let body = json!({
        "status": if connected && caught_up { "ok" } else { "unavailable" },
        "nats": if connected { "connected" } else { "disconnected" },
        "readModel": { "applied": state.applied_seq(), "streamLast": last, "caughtUp": caught_up },
    });
    let status = if connected && caught_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::metrics::applied(state.applied_seq());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
        .into_response()
}

pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}
