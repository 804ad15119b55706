//! `--log-format json`: one JSON object a line (`time`, `level`,
//! `target`, `message`, the event's other fields and those of the spans it
//! happened in (a request's `request_id`, `project`, a command's
//! `command`), and the names of those spans), for log collectors. Fields are what the code
//! logs; no event carries a secret or personal data (see README,
//! Security).

use std::fmt;

use serde_json::{Map, Value, json};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    registry::LookupSpan,
};

pub struct JsonLines;

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), json!(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), json!(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), json!(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), json!(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), json!(value));
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::Null);
        let mut spans = Vec::new();
        for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
            spans.push(span.name());
            // The request's id, project and command, from the spans the
            // event happened in (their fields, as `JsonFields` wrote them);
            // the event's own fields win.
            let extensions = span.extensions();
            let Some(formatted) = extensions.get::<FormattedFields<N>>() else {
                continue;
            };
            if let Ok(Value::Object(outer)) = serde_json::from_str::<Value>(formatted.as_str()) {
                for (k, v) in outer {
                    fields.entry(k).or_insert(v);
                }
            }
        }
        let meta = event.metadata();
        let line = json!({
            "time": authd_events::format_millis(authd_events::now_millis()),
            "level": meta.level().as_str(),
            "target": meta.target(),
            "message": message,
            "fields": fields,
            "spans": spans,
        });
        writeln!(writer, "{line}")
    }
}
