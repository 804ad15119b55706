//! HTTP endpoints: GraphQL, JWKS, health.

use std::{net::SocketAddr, time::Duration};

use async_graphql::http::GraphiQLSource;
use authd_events::RequestMeta;
use authd_services::ErrorCode;
use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, State},
    http::{HeaderMap, Request, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use crate::{
    admin::{AdminContext, AdminSchema},
    context::{Bearer, RequestContext, bearer_credential, project_for_key},
    error::ApiError,
    public::PublicSchema,
    state::AppState,
    storefront::{Carried, StorefrontSchema, browser},
};

/// What the endpoints share: the state and the two APIs' schemas.
#[derive(Clone)]
pub struct Gateway {
    pub state: AppState,
    pub public: PublicSchema,
    pub admin: AdminSchema,
    pub storefront: StorefrontSchema,
}

pub(crate) use crate::trace::header_str;

/// The request's id, client address (see `listener::client_ip`) and user agent.
pub(crate) fn request_meta(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> RequestMeta {
    let request_id = header_str(headers, "x-request-id")
        .filter(|v| crate::trace::usable_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    RequestMeta {
        request_id,
        ip: peer.map(|p| {
            crate::listener::client_ip(p.ip(), headers, &state.limits.trusted_proxies).to_string()
        }),
        user_agent: header_str(headers, "user-agent").map(|ua| ua.chars().take(256).collect()),
    }
}

/// Reads and parses a GraphQL request body, or answers why not.
async fn read_request(state: &AppState, body: Body) -> Result<async_graphql::Request, ApiError> {
    let bytes = axum::body::to_bytes(body, state.limits.body_limit)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("request body exceeds {} bytes", state.limits.body_limit),
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
        ApiError::bad_request(message)
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
            ext.set("code", ErrorCode::GraphqlValidationFailed.as_str());
        }
    }
    // Headers resolvers set (the Storefront's session cookie).
    let headers = std::mem::take(&mut response.http_headers);
    let mut out = Json(response).into_response();
    for (name, value) in headers.iter() {
        out.headers_mut().append(name.clone(), value.clone());
    }
    out
}

/// Headers, peer address and parsed GraphQL request of a POST, or the
/// response that says why the body is unusable.
async fn read_parts(
    state: &AppState,
    req: Request<Body>,
) -> Result<(HeaderMap, Option<SocketAddr>, async_graphql::Request), ApiError> {
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let request = read_request(state, body).await?;
    Ok((parts.headers, peer, request))
}

/// What a public API's request is once its body is parsed: headers, peer,
/// the GraphQL request and the project of its public key (the first of
/// `key_headers` sent). Before anything runs, at most one of `costly`.
async fn public_request(
    state: &AppState,
    req: Request<Body>,
    key_headers: &[&str],
    costly: &[&str],
) -> Result<
    (
        HeaderMap,
        Option<SocketAddr>,
        async_graphql::Request,
        String,
    ),
    ApiError,
> {
    let (headers, peer, mut request) = read_parts(state, req).await?;
    let key = key_headers.iter().find_map(|h| header_str(&headers, h));
    let (project_id, _) = project_for_key(state, key, "the x-api-key header is required")?;
    crate::trace::record_project(&project_id);
    // One credential check or mail per request.
    crate::guards::one_costly_field(&mut request, costly)?;
    Ok((headers, peer, request, project_id))
}

pub async fn graphql_post(State(gw): State<Gateway>, req: Request<Body>) -> Response {
    let state = &gw.state;
    let costly = crate::guards::COSTLY_FIELDS;
    let (headers, peer, request, project_id) =
        match public_request(state, req, &["x-api-key"], costly).await {
            Ok(parts) => parts,
            Err(e) => return e.into_response(),
        };
    crate::metrics::request("public");
    let auth = Bearer::parse(header_str(&headers, "authorization"), state, &project_id);
    let ctx = RequestContext {
        project_id,
        auth,
        request: request_meta(state, &headers, peer),
    };
    with_codes(
        gw.public
            .execute(request.data(state.clone()).data(ctx))
            .await,
    )
}

/// The Storefront API: the project's public key in `x-api-key` (or
/// Shopify's `X-Shopify-Storefront-Access-Token`), the customer's token in
/// the operation's arguments, `Authorization: Bearer`, or (for a project
/// with cookie sessions) the session cookie. A mutation that a browser
/// sends or a cookie authenticates needs the CSRF proof; answers carry
/// CORS headers only for the project's allowed origins.
pub async fn storefront_post(State(gw): State<Gateway>, req: Request<Body>) -> Response {
    let state = &gw.state;
    let keys = ["x-api-key", "x-shopify-storefront-access-token"];
    let costly = crate::storefront::COSTLY_FIELDS;
    let (headers, peer, mut request, project_id) =
        match public_request(state, req, &keys, costly).await {
            Ok(parts) => parts,
            Err(e) => return e.into_response(),
        };
    crate::metrics::request("storefront");
    let browser = headers.contains_key(header::ORIGIN);
    let mutation = crate::guards::is_mutation(&mut request);
    // The project's browser settings matter to a browser, a cookie or a
    // mutation (which may hand out a token); a server's query skips them.
    let settings = if browser || mutation || headers.contains_key(header::COOKIE) {
        match state.read.project(&project_id) {
            Ok(p) => p.map(|p| p.storefront).unwrap_or_default(),
            Err(e) => return ApiError::internal(e).into_response(),
        }
    } else {
        Default::default()
    };
    let carried = carried(state, &headers, settings.cookie_sessions);
    let needs_proof = carried.cookie.is_some() || (carried.cookie_mode && browser);
    if needs_proof && mutation && !browser::csrf_proof(&headers, &settings.allowed_origins) {
        return ApiError::new(
            ErrorCode::Forbidden,
            "cross-site request refused: a mutation from a browser needs the x-authd-csrf \
             header and an allowed Origin",
        )
        .into_response();
    }
    let ctx = RequestContext {
        project_id,
        auth: Bearer::None,
        request: request_meta(state, &headers, peer),
    };
    let request = request.data(state.clone()).data(ctx).data(carried);
    let mut response = with_codes(gw.storefront.execute(request).await);
    if let Some(origin) = header_str(&headers, "origin")
        && settings.allowed_origins.iter().any(|o| o == origin)
    {
        browser::allow_origin(response.headers_mut(), origin);
    }
    response
}

/// What a Storefront request carries besides its arguments.
fn carried(state: &AppState, headers: &HeaderMap, cookie_mode: bool) -> Carried {
    let bearer = header_str(headers, "authorization")
        .and_then(bearer_credential)
        .map(|t| t.trim().to_string());
    Carried {
        bearer,
        cookie: cookie_mode
            .then(|| browser::cookie_value(headers))
            .flatten(),
        cookie_mode,
        // Over plain http a browser keeps a Secure cookie only for this machine.
        secure_cookie: state.limits.hsts || !(state.dev && browser::local_host(headers)),
    }
}

/// A CORS preflight for the Storefront API. It names no project (browsers
/// send no custom headers with it), so an origin some project allows is
/// answered; the real request is then held to its own project's list.
pub async fn storefront_preflight(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(origin) = header_str(&headers, "origin")
        && gw
            .state
            .read
            .origin_allowed_anywhere(origin)
            .unwrap_or(false)
    {
        browser::preflight_headers(response.headers_mut(), origin);
    }
    response
}

/// Who calls the admin API with `key`: the operator (managing the project
/// `project` names, if any) or a project's secret key.
pub(crate) fn admin_context(
    state: &AppState,
    key: Option<&str>,
    project: Option<&str>,
    request: RequestMeta,
) -> Result<AdminContext, ApiError> {
    if let (Some(operator), Some(key)) = (&state.operator_key, key)
        && operator.matches(key)
    {
        // The operator names the project it manages, if any.
        let project_id = project
            .filter(|p| authd_events::subject::is_valid_token(p))
            .unwrap_or_default()
            .to_string();
        return Ok(AdminContext {
            inner: RequestContext {
                project_id,
                auth: Bearer::None,
                request,
            },
            key_prefix: "operator".into(),
            operator: true,
        });
    }
    let missing = "the admin API needs `Authorization: Bearer sk_…`";
    match project_for_key(state, key, missing)? {
        (project_id, kind) if kind == "secret" => Ok(AdminContext {
            inner: RequestContext {
                project_id,
                auth: Bearer::None,
                request,
            },
            key_prefix: key
                .map(|k| k.chars().take(12).collect::<String>())
                .unwrap_or_default(),
            operator: false,
        }),
        _ => Err(ApiError::new(
            ErrorCode::Forbidden,
            "the admin API needs a secret key (sk_…)",
        )),
    }
}

/// The admin API: `Authorization: Bearer sk_…` selects the project.
pub async fn admin_post(State(gw): State<Gateway>, req: Request<Body>) -> Response {
    let state = &gw.state;
    let (headers, peer, request) = match read_parts(state, req).await {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    let key = header_str(&headers, "authorization").and_then(bearer_credential);
    let meta = request_meta(state, &headers, peer);
    let ctx = match admin_context(state, key, header_str(&headers, "x-project-id"), meta) {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    crate::trace::record_project(&ctx.inner.project_id);
    crate::metrics::request("admin");
    with_codes(
        gw.admin
            .execute(request.data(state.clone()).data(ctx))
            .await,
    )
}

pub async fn graphiql_admin(State(gw): State<Gateway>) -> Response {
    if !gw.state.dev {
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

/// GraphiQL for `endpoint` in dev; elsewhere a GET is not how to ask.
fn graphiql_page(gw: &Gateway, endpoint: &str, title: &str) -> Response {
    if !gw.state.dev {
        return ApiError::new(
            ErrorCode::MethodNotAllowed,
            "send GraphQL requests with POST",
        )
        .into_response();
    }
    Html(
        GraphiQLSource::build()
            .endpoint(endpoint)
            .title(title)
            .finish(),
    )
    .into_response()
}

pub async fn graphiql(State(gw): State<Gateway>) -> Response {
    graphiql_page(&gw, "/graphql/public", "authd")
}

pub async fn graphiql_storefront(State(gw): State<Gateway>) -> Response {
    graphiql_page(&gw, "/graphql/storefront", "authd storefront")
}

pub async fn jwks(State(Gateway { state, .. }): State<Gateway>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.verifier.jwks()),
    )
        .into_response()
}

/// Whether this gateway is ready (NATS connected and the read model caught
/// up with everything the stream held when asked), and the details.
async fn health(state: &AppState) -> (StatusCode, serde_json::Value) {
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
    let ok = connected && caught_up;
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "nats": if connected { "connected" } else { "disconnected" },
        "readModel": { "applied": state.applied_seq(), "streamLast": last, "caughtUp": caught_up },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// The public health check: 200 `{"status":"ok"}` or 503, nothing more
/// (sequence numbers tell an outsider how busy the service is).
pub async fn healthz(State(Gateway { state, .. }): State<Gateway>) -> Response {
    let (status, body) = health(&state).await;
    (status, Json(json!({ "status": body["status"] }))).into_response()
}

/// The operators' health check, on `--admin-listen` only: with NATS and
/// read-model details.
pub async fn healthz_detailed(State(Gateway { state, .. }): State<Gateway>) -> Response {
    let (status, body) = health(&state).await;
    (status, Json(body)).into_response()
}

pub async fn metrics(State(Gateway { state, .. }): State<Gateway>) -> Response {
    crate::metrics::applied(state.applied_seq());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
        .into_response()
}

pub async fn not_found() -> Response {
    ApiError::new(ErrorCode::NotFound, "no such endpoint").into_response()
}
