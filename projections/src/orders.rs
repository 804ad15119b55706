//! Read model: customers' orders and their line items, with an index per
//! sort key of the Storefront's `orders` (`ID`: the order's first record,
//! `PROCESSED_AT`, `TOTAL_PRICE` in ten-thousandths of the currency).

use authd_events::{Event, MailingAddress, OrderEvent, OrderRecorded, RecordedMessage};
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS orders (
            project_id        TEXT NOT NULL,
            id                TEXT NOT NULL,
            customer_id       TEXT NOT NULL,
            external_id       TEXT NOT NULL,
            name              TEXT NOT NULL,
            processed_at      INTEGER NOT NULL,
            financial_status  TEXT,
            fulfillment_status TEXT NOT NULL,
            currency          TEXT NOT NULL,
            subtotal_price    TEXT,
            total_tax         TEXT,
            total_shipping    TEXT NOT NULL,
            total_price       TEXT NOT NULL,
            total_price_units INTEGER NOT NULL,
            status_url        TEXT,
            canceled_at       INTEGER,
            cancel_reason     TEXT,
            -- The shipping address's fields as JSON (personal data).
            shipping_address  TEXT,
            -- OrderDiscountsSet as JSON, when the order has discounts.
            discounts         TEXT,
            position          INTEGER NOT NULL,
            PRIMARY KEY (project_id, id)
         );
         CREATE UNIQUE INDEX IF NOT EXISTS orders_in_order
            ON orders (project_id, customer_id, position);
         CREATE INDEX IF NOT EXISTS orders_by_processed_at
            ON orders (project_id, customer_id, processed_at, position);
         CREATE INDEX IF NOT EXISTS orders_by_total_price
            ON orders (project_id, customer_id, total_price_units, position);
         CREATE TABLE IF NOT EXISTS order_line_items (
            project_id    TEXT NOT NULL,
            order_id      TEXT NOT NULL,
            idx           INTEGER NOT NULL,
            title         TEXT NOT NULL,
            variant_title TEXT,
            sku           TEXT,
            quantity      INTEGER NOT NULL,
            price         TEXT NOT NULL,
            PRIMARY KEY (project_id, order_id, idx)
         );",
    )
}

/// A decimal amount in ten-thousandths (`"19.99"` is 199,900); amounts
/// were checked when recorded (at most 15 digits and 4 decimals).
pub(crate) fn units(amount: &str) -> i64 {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let fraction = format!("{fraction:0<4}");
    whole.parse::<i64>().unwrap_or(0).saturating_mul(10_000)
        + fraction[..4].parse::<i64>().unwrap_or(0)
}

/// The shipping address as JSON, keyed as `addresses::FIELDS`.
fn address_json(a: &MailingAddress) -> String {
    let object: serde_json::Map<String, serde_json::Value> = crate::addresses::FIELDS
        .iter()
        .zip(crate::addresses::fields(a))
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    serde_json::Value::Object(object).to_string()
}

pub(crate) fn apply(tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    for event in m.message.bodies() {
        match event {
            Event::Order(OrderEvent::Recorded(r)) => recorded(tx, m, r)?,
            Event::Order(OrderEvent::DiscountsSet(d)) => {
                let json = serde_json::to_string(d).expect("discounts serialize");
                tx.prepare_cached(
                    "UPDATE orders SET discounts = ?3 WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![meta.tenant, meta.aggregate_id, json])?;
            }
            Event::Order(OrderEvent::Canceled(c)) => {
                tx.prepare_cached(
                    "UPDATE orders SET canceled_at = ?3, cancel_reason = ?4
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![
                    meta.tenant,
                    meta.aggregate_id,
                    meta.time,
                    c.reason
                ])?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Created, or replaced whole (keeping its place in the `ID` order).
fn recorded(tx: &Transaction<'_>, m: &RecordedMessage, r: &OrderRecorded) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let (project, id) = (&meta.tenant, &meta.aggregate_id);
    tx.prepare_cached(
        "INSERT INTO orders (project_id, id, customer_id, external_id, name, processed_at,
            financial_status, fulfillment_status, currency, subtotal_price, total_tax,
            total_shipping, total_price, total_price_units, status_url, shipping_address, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (project_id, id) DO UPDATE SET customer_id = excluded.customer_id,
            external_id = excluded.external_id, name = excluded.name,
            processed_at = excluded.processed_at, financial_status = excluded.financial_status,
            fulfillment_status = excluded.fulfillment_status, currency = excluded.currency,
            subtotal_price = excluded.subtotal_price, total_tax = excluded.total_tax,
            total_shipping = excluded.total_shipping, total_price = excluded.total_price,
            total_price_units = excluded.total_price_units, status_url = excluded.status_url,
            shipping_address = excluded.shipping_address, discounts = NULL",
    )?
    .execute(params![
        project,
        id,
        r.customer_id,
        r.external_id,
        r.name,
        r.processed_at,
        r.financial_status,
        r.fulfillment_status,
        r.currency,
        r.subtotal_price,
        r.total_tax,
        r.total_shipping,
        r.total_price,
        units(&r.total_price),
        r.status_url,
        r.shipping_address.as_deref().map(address_json),
        m.seq as i64,
    ])?;
    tx.prepare_cached("DELETE FROM order_line_items WHERE project_id = ?1 AND order_id = ?2")?
        .execute(params![project, id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO order_line_items
           (project_id, order_id, idx, title, variant_title, sku, quantity, price)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (i, l) in r.line_items.iter().enumerate() {
        insert.execute(params![
            project,
            id,
            i as i64,
            l.title,
            l.variant_title,
            l.sku,
            l.quantity,
            l.price
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_become_ten_thousandths() {
        assert_eq!(super::units("19.99"), 199_900);
        assert_eq!(super::units("0"), 0);
        assert_eq!(super::units("5.5"), 55_000);
        assert_eq!(super::units("1000"), 10_000_000);
        assert_eq!(super::units("0.0001"), 1);
    }
}
