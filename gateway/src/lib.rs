//! The HTTP gateway: axum + async-graphql. Turns requests into commands
//! (NATS request/reply) and queries (against its own read model).
//!
//! Layers, each using only those above it: `error`, `state`, `context`,
//! `guards`, `command_client`, then the APIs (`public/`, `storefront/`,
//! `admin/`), then `http` (endpoints) and this file (the router); beside
//! them `limits`, `listener`, `metrics` and `parsed`.

pub mod admin;
pub mod command_client;
pub mod context;
pub mod error;
pub mod export;
pub mod guards;
pub mod http;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod mfa;
pub mod parsed;
pub mod public;
pub mod state;
pub mod storefront;
pub mod trace;
pub mod ws;

use std::sync::Arc;

use axum::{Router, routing::get};
use tower_http::{cors::CorsLayer, timeout::TimeoutLayer};

pub use state::{AppState, Limits};

pub struct GatewayParts {
    pub bus: authd_services::CommandBus,
    pub read: Arc<authd_projections::ReadModel>,
    pub applied: tokio::sync::watch::Receiver<u64>,
    pub verifier: authd_services::tokens::TokenVerifier,
    pub store: authd_events::EventStore,
    pub limits: Limits,
    pub dev: bool,
    /// How far the audit index has applied the log, when it is kept (and
    /// can be queried).
    pub audit_applied: Option<tokio::sync::watch::Receiver<u64>>,
    /// The key that alone creates projects (and may manage any).
    pub operator_key: Option<String>,
    /// Live rebuilds of the read model (`readModelRebuildStart`).
    pub rebuilder: Option<Arc<authd_projections::Rebuilder>>,
}

pub fn state(parts: GatewayParts) -> http::Gateway {
    metrics::handle();
    let introspection = parts.dev || parts.limits.introspection;
    let public = public::build(&parts.limits, introspection);
    let admin = admin::build(&parts.limits, introspection);
    let storefront = storefront::build(&parts.limits, introspection);
    let rate_limits = limits::RateLimits::new(
        parts.limits.per_ip_per_minute,
        parts.limits.per_account_per_minute,
    );
    let state = AppState(Arc::new(state::Inner {
        rate_limits,
        bus: parts.bus,
        read: parts.read,
        applied: parts.applied,
        verifier: parts.verifier,
        store: parts.store,
        limits: parts.limits,
        dev: parts.dev,
        audit_index: parts.audit_applied.is_some(),
        audit_applied: parts.audit_applied,
        operator_key: parts.operator_key.as_deref().map(state::OperatorKey::new),
        parsed: Default::default(),
        rebuilder: parts.rebuilder,
    }));
    http::Gateway {
        state,
        public,
        admin,
        storefront,
    }
}

/// What only operators reach, on `--admin-listen`: Prometheus metrics and
/// the detailed health check.
pub fn operator_app(gateway: http::Gateway) -> Router {
    Router::new()
        .route("/healthz", get(http::healthz_detailed))
        .route("/metrics", get(http::metrics))
        .fallback(http::not_found)
        .with_state(gateway)
}

pub fn app(gateway: http::Gateway) -> Router {
    use axum::http::{HeaderName, HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    let timeout = gateway.state.limits.request_timeout;
    let hsts = gateway.state.limits.hsts;
    // Browsers may call the public API from any origin (the key selects the
    // project); the admin API gets no CORS at all.
    let public = Router::new()
        .route(
            "/graphql/public",
            get(http::graphiql).post(http::graphql_post),
        )
        .route("/.well-known/jwks.json", get(http::jwks))
        .layer(
            CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    HeaderName::from_static("x-api-key"),
                    HeaderName::from_static("x-request-id"),
                    HeaderName::from_static("traceparent"),
                    HeaderName::from_static("tracestate"),
                ]),
        );
    // The Storefront API answers CORS itself, by each project's allow-list.
    let storefront = Router::new().route(
        "/graphql/storefront",
        get(http::graphiql_storefront)
            .post(http::storefront_post)
            .options(http::storefront_preflight),
    );
    Router::new()
        .merge(public)
        .merge(storefront)
        .route("/graphql/admin", get(ws::admin_get).post(http::admin_post))
        .route("/healthz", get(http::healthz))
        .fallback(http::not_found)
        .layer(axum::middleware::from_fn(trace::request_span))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Answers carry tokens and personal data: never sniffed, cached
        // (unless an endpoint says otherwise, as the JWKS does) or referred.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Served over TLS: browsers are told to come back only that way.
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &axum::response::Response| {
                hsts.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"))
            },
        ))
        .with_state(gateway)
}
