//! One span per API request (`request`, with its path, request id and
//! project), so every log line of the request carries them and, with an
//! OTLP exporter, the request is the root of one trace through services and
//! the projections. A W3C `traceparent` the caller sends makes the span its
//! child.

use axum::{
    body::Body,
    http::{HeaderValue, Method, Request},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

/// The request id header: the caller's when usable, else one made here (and
/// put on the request, so the recorded events carry the same).
const REQUEST_ID: &str = "x-request-id";

/// Whether a caller's request id is kept (see `http::request_meta`).
pub(crate) fn usable_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128
}

pub async fn request_span(mut req: Request<Body>, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let given = header_str(req.headers(), REQUEST_ID).filter(|id| usable_request_id(id));
    let request_id = match given {
        Some(id) => id.to_string(),
        None => {
            let id = ulid::Ulid::new().to_string();
            let value = HeaderValue::from_str(&id).expect("a ULID is a valid header value");
            req.headers_mut().insert(REQUEST_ID, value);
            id
        }
    };
    let span = tracing::info_span!(
        "request",
        path = req.uri().path(),
        request_id = request_id.as_str(),
        project = tracing::field::Empty,
    );
    if let Some(parent) = header_str(req.headers(), authd_events::trace::TRACEPARENT) {
        let state = header_str(req.headers(), "tracestate");
        authd_events::trace::set_parent(&span, parent, state);
    }
    next.run(req).instrument(span).await
}

/// A header's value, when it is text.
pub(crate) fn header_str<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Names the project of the request being served on its span.
pub(crate) fn record_project(project_id: &str) {
    tracing::Span::current().record("project", project_id);
}
