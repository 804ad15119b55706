//! The public JSON form of an event (`docs/events.md`): what the audit
//! log's `data`, the NATS JSON feed (`authd.audit.>`), the admin
//! subscription and webhooks carry. Field names in camelCase; personal
//! values as their text (`"[erased]"` when their key is gone or not at
//! hand); secrets (hashes of tokens, codes and passwords, sealed provider
//! secrets) never: such fields are left out.

use serde_json::{Map, Value};

use crate::{
    envelope::{Actor, RecordedMessage},
    event::{Event, OrderEvent},
    subject::AggregateKind,
};

/// The version of this JSON form (`specVersion` in every entry).
pub const JSON_SPEC_VERSION: u32 = 1;

/// What a sealed value reads as without its key.
pub const ERASED: &str = "[erased]";

/// Whether a field of that (snake_case) name holds a secret: left out.
fn secret(field: &str) -> bool {
    field.ends_with("_hash")
        || field.ends_with("_hashes")
        || field.ends_with("secret")
        || field.ends_with("_token")
        || field == "ciphertext"
}

/// `snake_case` → `camelCase` (`first_name` → `firstName`).
pub fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// serde's form of an event's fields made public: `Personal` values as
/// text, secrets left out, names in camelCase, bytes (a public key) in
/// base64url.
fn public(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            // `Personal`, as serde writes it.
            if map.len() == 1 {
                if let Some(Value::String(s)) = map.get("Plain") {
                    return Value::String(s.clone());
                }
                if map.contains_key("Sealed") {
                    return Value::String(ERASED.into());
                }
            }
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                if secret(&k) {
                    continue;
                }
                let v = if k == "public_key" {
                    bytes_b64(&v).unwrap_or(v)
                } else {
                    public(v)
                };
                out.insert(camel(&k), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(public).collect()),
        other => other,
    }
}

fn bytes_b64(v: &Value) -> Option<Value> {
    use base64::Engine;
    let bytes = v
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect::<Option<Vec<u8>>>()?;
    Some(Value::String(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

/// The event's own fields in their public JSON form (an object; empty for
/// an event without fields).
pub fn event_data(event: &Event) -> Value {
    let whole = serde_json::to_value(event).unwrap_or(Value::Null);
    // `{"Customer": {"Registered": {…}}}`: the aggregate's enum, then the
    // event's variant, then its fields (a unit variant is a bare string).
    let inner = match whole {
        Value::Object(outer) => outer.into_iter().next().map(|(_, v)| v),
        _ => None,
    };
    let fields = match inner {
        Some(Value::Object(variant)) => variant.into_iter().next().map(|(_, v)| v),
        _ => None,
    };
    match fields.map(public) {
        Some(Value::Object(map)) => Value::Object(map),
        Some(Value::Null) | None => Value::Object(Map::new()),
        Some(other) => {
            let mut map = Map::new();
            map.insert("value".into(), other);
            Value::Object(map)
        }
    }
}

/// The customer a message is about, as far as the message alone says:
/// the customer aggregate's, an order's, a new session's or a claim's
/// customer, or else the customer who acted.
pub fn customer_of(m: &RecordedMessage) -> Option<&str> {
    let kind = m.subject.kind;
    if let Some(owner) = m.message.personal_owner(kind) {
        return Some(owner);
    }
    m.message.bodies().find_map(|e| match e {
        Event::Order(OrderEvent::Canceled(c)) => Some(c.customer_id.as_str()),
        _ => None,
    })
}

/// A personal value as it is shown outside the log: its text, or
/// `"[erased]"` when it is sealed under a key that is gone (or not at
/// hand).
pub fn shown(v: &Option<crate::Personal>) -> Option<&str> {
    match v {
        None => None,
        Some(crate::Personal::Plain(v)) => Some(v),
        Some(crate::Personal::Sealed { .. }) => Some(ERASED),
    }
}

/// Who acted, as the audit log labels it: `anonymous`, `system`,
/// `operator`, `customer:<id>` or `admin:<key prefix>`.
pub fn actor_label(actor: &Actor) -> String {
    match actor {
        Actor::Anonymous => "anonymous".into(),
        Actor::System => "system".into(),
        Actor::Operator => "operator".into(),
        Actor::Customer(id) => format!("customer:{id}"),
        Actor::Admin(prefix) => format!("admin:{prefix}"),
    }
}

fn actor_json(actor: &Actor) -> Value {
    let (kind, id) = match actor {
        Actor::Anonymous => ("ANONYMOUS", None),
        Actor::System => ("SYSTEM", None),
        Actor::Operator => ("OPERATOR", None),
        Actor::Customer(id) => ("CUSTOMER", Some(id)),
        Actor::Admin(prefix) => ("ADMIN_KEY", Some(prefix)),
    };
    serde_json::json!({ "type": kind, "id": id })
}

/// The public JSON form of the `idx`-th event of a recorded message: one
/// entry of the feed.
pub fn entry(m: &RecordedMessage, idx: usize) -> Option<Value> {
    let e = m.message.events.get(idx)?;
    let meta = &m.message.meta;
    let session = (m.subject.kind == AggregateKind::Session).then_some(meta.aggregate_id.as_str());
    Some(serde_json::json!({
        "specVersion": JSON_SPEC_VERSION,
        "sequence": m.seq,
        "index": idx,
        "eventId": ulid::Ulid::from_bytes(e.event_id).to_string(),
        "type": e.body.type_name(),
        "time": crate::format_millis(meta.time),
        "project": meta.tenant,
        "aggregate": { "type": m.subject.kind.token(), "id": meta.aggregate_id },
        "customerId": customer_of(m),
        "sessionId": session,
        "actor": actor_json(&meta.actor),
        "request": {
            "id": meta.request.request_id,
            "ip": shown(&meta.request.ip),
            "userAgent": shown(&meta.request.user_agent),
        },
        "commandId": meta.command_id,
        "data": event_data(&e.body),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_turn_camel_and_secrets_go() {
        assert_eq!(camel("refresh_token_hash"), "refreshTokenHash");
        assert_eq!(camel("email"), "email");
        for s in [
            "password_hash",
            "code_hash",
            "client_secret",
            "storefront_token",
            "multipass_secret",
        ] {
            assert!(secret(s), "{s}");
        }
        for s in ["access_token_ttl_secs", "email", "key_id", "public_key"] {
            assert!(!secret(s), "{s}");
        }
    }
}
