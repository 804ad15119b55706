//! W3C trace context (`traceparent`, `tracestate`) across NATS: the
//! gateway's command carries its request's span context to services, and
//! each appended message carries the context of the append that wrote it to
//! the projections that apply it. With no OpenTelemetry exporter configured
//! the global propagator is a no-op: nothing is added to any message.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header that carries a span's context (W3C Trace Context).
pub const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

struct Writing<'a>(&'a mut async_nats::HeaderMap);

impl Injector for Writing<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

/// A `traceparent` (and `tracestate`) read from a message's headers or kept
/// beside a recorded message.
struct Reading<'a> {
    parent: &'a str,
    state: Option<&'a str>,
}

impl Extractor for Reading<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.parent),
            TRACESTATE => self.state,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// Adds the current span's context to `headers`; nothing when tracing is
/// off or the current span is not sampled.
pub fn inject(headers: &mut async_nats::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut Writing(headers))
    });
}

/// The `traceparent` header of a message, if it has one.
pub fn traceparent(headers: Option<&async_nats::HeaderMap>) -> Option<&str> {
    headers?.get(TRACEPARENT).map(|v| v.as_str())
}

/// Makes `span` a child of the span the message's headers name.
pub fn continue_from(span: &tracing::Span, headers: Option<&async_nats::HeaderMap>) {
    let Some(parent) = traceparent(headers) else {
        return;
    };
    let state = headers.and_then(|h| h.get(TRACESTATE)).map(|v| v.as_str());
    set_parent(span, parent, state);
}

/// The context a `traceparent` (and `tracestate`) names, as the global
/// propagator reads it.
fn extract(traceparent: &str, tracestate: Option<&str>) -> opentelemetry::Context {
    let reading = Reading {
        parent: traceparent,
        state: tracestate,
    };
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&reading))
}

/// Makes `span` a child of the span `traceparent` names.
pub fn set_parent(span: &tracing::Span, traceparent: &str, tracestate: Option<&str>) {
    // Fails only for a span that has already started; ours have not.
    let _ = span.set_parent(extract(traceparent, tracestate));
}

/// Adds a link from `span` to the span `traceparent` names (a batch that
/// applies several traced messages has one parent and links to the rest).
pub fn add_link(span: &tracing::Span, traceparent: &str) {
    use opentelemetry::trace::TraceContextExt;
    let cx = extract(traceparent, None);
    let linked = cx.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}
