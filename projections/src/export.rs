//! A customer's data as one JSON document (GDPR art. 15 and 20): what
//! the read models hold of them, read in one transaction. Never a hash,
//! token, code or key. The schema is `authd.customer-export/1` (README,
//! "Data export"); a change to it is a new version.

use authd_events::json::camel;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

/// The schema this module writes.
pub const EXPORT_SCHEMA: &str = "authd.customer-export/1";

fn time(ms: i64) -> Value {
    Value::String(authd_events::format_millis(ms))
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, time)
}

fn profile(c: &Connection, project: &str, customer: &str) -> rusqlite::Result<Option<Value>> {
    c.prepare_cached(
        "SELECT email, email_verified, status, created_at, updated_at, first_name, last_name,
                phone, accepts_marketing
         FROM customers WHERE project_id = ?1 AND id = ?2",
    )?
    .query_row(params![project, customer], |r| {
        Ok(json!({
            "id": customer,
            "email": r.get::<_, String>(0)?,
            "emailVerified": r.get::<_, bool>(1)?,
            "status": r.get::<_, String>(2)?,
            "createdAt": time(r.get(3)?),
            "updatedAt": time(r.get(4)?),
            "firstName": r.get::<_, Option<String>>(5)?,
            "lastName": r.get::<_, Option<String>>(6)?,
            "phone": r.get::<_, Option<String>>(7)?,
            "acceptsMarketing": r.get::<_, bool>(8)?,
        }))
    })
    .optional()
}

fn addresses(c: &Connection, project: &str, customer: &str) -> rusqlite::Result<Value> {
    let mut fields = vec!["id".to_string(), "is_default".to_string()];
    fields.extend(crate::addresses::FIELDS.iter().map(|f| f.to_string()));
    let rows = c
        .prepare_cached(&format!(
            "SELECT {} FROM customer_addresses WHERE project_id = ?1 AND customer_id = ?2
             ORDER BY position",
            fields.join(", ")
        ))?
        .query_map(params![project, customer], |r| {
            let mut a = serde_json::Map::new();
            a.insert("id".into(), json!(r.get::<_, String>(0)?));
            a.insert("default".into(), json!(r.get::<_, bool>(1)?));
            for (i, f) in crate::addresses::FIELDS.iter().enumerate() {
                a.insert(camel(f), json!(r.get::<_, Option<String>>(i + 2)?));
            }
            Ok(Value::Object(a))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Value::Array(rows))
}

fn orders(c: &Connection, project: &str, customer: &str) -> rusqlite::Result<Value> {
    let mut lines = c.prepare_cached(
        "SELECT title, variant_title, sku, quantity, price FROM order_line_items
         WHERE project_id = ?1 AND order_id = ?2 ORDER BY idx",
    )?;
    let orders = c
        .prepare_cached(
            "SELECT id, external_id, name, processed_at, financial_status, fulfillment_status,
                    currency, subtotal_price, total_tax, total_shipping, total_price, status_url,
                    canceled_at, cancel_reason, shipping_address, discounts
             FROM orders WHERE project_id = ?1 AND customer_id = ?2 ORDER BY position",
        )?
        .query_map(params![project, customer], |r| {
            Ok((
                r.get::<_, String>(0)?,
                json!({
                    "externalId": r.get::<_, String>(1)?,
                    "name": r.get::<_, String>(2)?,
                    "processedAt": time(r.get(3)?),
                    "financialStatus": r.get::<_, Option<String>>(4)?,
                    "fulfillmentStatus": r.get::<_, String>(5)?,
                    "currencyCode": r.get::<_, String>(6)?,
                    "subtotalPrice": r.get::<_, Option<String>>(7)?,
                    "totalTax": r.get::<_, Option<String>>(8)?,
                    "totalShipping": r.get::<_, String>(9)?,
                    "totalPrice": r.get::<_, String>(10)?,
                    "statusUrl": r.get::<_, Option<String>>(11)?,
                    "canceledAt": opt_time(r.get(12)?),
                    "cancelReason": r.get::<_, Option<String>>(13)?,
                    "shippingAddress": r
                        .get::<_, Option<String>>(14)?
                        .and_then(|j| serde_json::from_str::<Value>(&j).ok())
                        .map(|a| camel_keys(&a)),
                    "discounts": r
                        .get::<_, Option<String>>(15)?
                        .and_then(|j| serde_json::from_str::<authd_events::OrderDiscountsSet>(&j).ok())
                        .map(|d| discounts(&d)),
                }),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(orders.len());
    for (id, mut order) in orders {
        let items = lines
            .query_map(params![project, id], |r| {
                Ok(json!({
                    "title": r.get::<_, String>(0)?,
                    "variantTitle": r.get::<_, Option<String>>(1)?,
                    "sku": r.get::<_, Option<String>>(2)?,
                    "quantity": r.get::<_, i64>(3)?,
                    "price": r.get::<_, String>(4)?,
                }))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        order["lineItems"] = Value::Array(items);
        out.push(order);
    }
    Ok(Value::Array(out))
}

/// An order's discounts in the export's own words (`DISCOUNT_CODE`,
/// `{ "percentage": "10" }`, camelCase keys).
fn discounts(d: &authd_events::OrderDiscountsSet) -> Value {
    use authd_events::{DiscountKind, DiscountValue};
    let applications: Vec<Value> = d
        .applications
        .iter()
        .map(|a| {
            json!({
                "kind": match a.kind {
                    DiscountKind::Automatic => "AUTOMATIC",
                    DiscountKind::Code => "DISCOUNT_CODE",
                    DiscountKind::Manual => "MANUAL",
                    DiscountKind::Script => "SCRIPT",
                },
                "title": a.title,
                "code": a.code,
                "value": match &a.value {
                    DiscountValue::Amount(v) => json!({ "amount": v }),
                    DiscountValue::Percentage(p) => json!({ "percentage": p }),
                },
                "allocationMethod": a.allocation_method,
                "targetSelection": a.target_selection,
                "targetType": a.target_type,
            })
        })
        .collect();
    let allocations: Vec<Value> = d
        .allocations
        .iter()
        .map(|a| json!({ "line": a.line, "application": a.application, "amount": a.amount }))
        .collect();
    json!({ "applications": applications, "allocations": allocations })
}

fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (camel(k), v.clone())).collect()),
        other => other.clone(),
    }
}

fn metafields(c: &Connection, project: &str, customer: &str) -> rusqlite::Result<Value> {
    let rows = c
        .prepare_cached(
            "SELECT namespace, key, type, value, created_at, updated_at FROM customer_metafields
             WHERE project_id = ?1 AND customer_id = ?2 ORDER BY namespace, key",
        )?
        .query_map(params![project, customer], |r| {
            Ok(json!({
                "namespace": r.get::<_, String>(0)?,
                "key": r.get::<_, String>(1)?,
                "type": r.get::<_, String>(2)?,
                "value": r.get::<_, Option<String>>(3)?,
                "createdAt": time(r.get(4)?),
                "updatedAt": time(r.get(5)?),
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Value::Array(rows))
}

fn tags(c: &Connection, project: &str, customer: &str) -> rusqlite::Result<Value> {
    let json: Option<String> = c
        .prepare_cached(
            "SELECT tags FROM customer_tags WHERE project_id = ?1 AND customer_id = ?2",
        )?
        .query_row(params![project, customer], |r| r.get(0))
        .optional()?;
    Ok(json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_else(|| json!([])))
}

/// The customer's history from the audit index, oldest first; `None`
/// when this read model keeps no audit index.
fn history(c: &Connection, project: &str, customer: &str) -> rusqlite::Result<Option<Vec<Value>>> {
    if c.prepare("SELECT 1 FROM audit LIMIT 0").is_err() {
        return Ok(None);
    }
    let rows = c
        .prepare_cached(
            "SELECT seq, type, at, actor, session_id, ip, user_agent FROM audit
             WHERE project_id = ?1 AND customer_id = ?2 ORDER BY seq, idx",
        )?
        .query_map(params![project, customer], |r| {
            Ok(json!({
                "sequence": r.get::<_, i64>(0)?,
                "type": r.get::<_, String>(1)?,
                "at": time(r.get(2)?),
                "actor": r.get::<_, String>(3)?,
                "sessionId": r.get::<_, Option<String>>(4)?,
                "ip": r.get::<_, Option<String>>(5)?,
                "userAgent": r.get::<_, Option<String>>(6)?,
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(rows))
}

/// The customer's sessions, oldest first, each with where it started
/// (from its first event in the audit index, when there is one).
fn sessions(
    c: &Connection,
    project: &str,
    customer: &str,
    history: Option<&[Value]>,
) -> rusqlite::Result<Value> {
    let rows = c
        .prepare_cached(
            "SELECT id, created_at, refreshed_at, expires_at, revoked_at, revoke_reason, method
             FROM sessions WHERE project_id = ?1 AND customer_id = ?2 ORDER BY created_at, id",
        )?
        .query_map(params![project, customer], |r| {
            let id: String = r.get(0)?;
            let started = history.and_then(|h| h.iter().find(|e| e["sessionId"] == id.as_str()));
            Ok(json!({
                "id": id,
                "method": r.get::<_, String>(6)?,
                "startedAt": time(r.get(1)?),
                "lastUsedAt": time(r.get(2)?),
                "expiresAt": time(r.get(3)?),
                "endedAt": opt_time(r.get(4)?),
                "endReason": r.get::<_, Option<String>>(5)?,
                "ip": started.map_or(Value::Null, |e| e["ip"].clone()),
                "userAgent": started.map_or(Value::Null, |e| e["userAgent"].clone()),
            }))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Value::Array(rows))
}

impl crate::read::ReadModel {
    /// The customer's data as one document (`EXPORT_SCHEMA`); `None` for
    /// a customer this project does not have. `history` (from the audit
    /// index) is null unless `with_history`.
    pub fn customer_export(
        &self,
        project: &str,
        customer: &str,
        with_history: bool,
    ) -> rusqlite::Result<Option<Value>> {
        self.with(|c| {
            // One snapshot: everything as of the same moment.
            c.execute_batch("BEGIN DEFERRED")?;
            let out = export(c, project, customer, with_history);
            // Ended whatever happened: the connection goes back to the pool.
            let ended = c.execute_batch("COMMIT");
            let out = out?;
            ended.map(|_| out)
        })
    }
}

fn export(
    c: &Connection,
    project: &str,
    customer: &str,
    with_history: bool,
) -> rusqlite::Result<Option<Value>> {
    let Some(profile) = profile(c, project, customer)? else {
        return Ok(None);
    };
    let history = match with_history {
        true => history(c, project, customer)?,
        false => None,
    };
    Ok(Some(json!({
        "schema": EXPORT_SCHEMA,
        "exportedAt": time(authd_events::now_millis()),
        "project": project,
        "customer": profile,
        "consents": { "acceptsMarketing": profile["acceptsMarketing"] },
        "tags": tags(c, project, customer)?,
        "metafields": metafields(c, project, customer)?,
        "addresses": addresses(c, project, customer)?,
        "orders": orders(c, project, customer)?,
        "sessions": sessions(c, project, customer, history.as_deref())?,
        "history": history,
    })))
}
