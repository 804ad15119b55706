//! Read model: customers' mailing addresses (and tags, their other data
//! kept beside the customer row), addresses in the order they were added
//! (`position`: the adding message's stream sequence, times 256, plus the
//! event's index in it), which Relay cursors name.

use authd_events::{MailingAddress, Personal, RecordedMessage};
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS customer_addresses (
            project_id  TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            id          TEXT NOT NULL,
            position    INTEGER NOT NULL,
            is_default  INTEGER NOT NULL DEFAULT 0,
            first_name  TEXT,
            last_name   TEXT,
            company     TEXT,
            address1    TEXT,
            address2    TEXT,
            city        TEXT,
            province    TEXT,
            country     TEXT,
            zip         TEXT,
            phone       TEXT,
            PRIMARY KEY (project_id, customer_id, id)
         );
         CREATE UNIQUE INDEX IF NOT EXISTS customer_addresses_in_order
            ON customer_addresses (project_id, customer_id, position);
         CREATE TABLE IF NOT EXISTS customer_tags (
            project_id  TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            tags        TEXT NOT NULL,
            PRIMARY KEY (project_id, customer_id)
         );",
    )
}

fn plain(v: &Option<Personal>) -> Option<&str> {
    v.as_ref().and_then(|v| v.as_plain())
}

/// `index`: the event's place in its message.
pub(crate) fn added(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    index: usize,
    id: &str,
    a: &MailingAddress,
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let position = (m.seq as i64) * 256 + index.min(255) as i64;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO customer_addresses
           (project_id, customer_id, id, position, first_name, last_name, company,
            address1, address2, city, province, country, zip, phone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        meta.tenant,
        meta.aggregate_id,
        id,
        position,
        plain(&a.first_name),
        plain(&a.last_name),
        plain(&a.company),
        plain(&a.address1),
        plain(&a.address2),
        plain(&a.city),
        plain(&a.province),
        plain(&a.country),
        plain(&a.zip),
        plain(&a.phone),
    ])?;
    Ok(())
}

pub(crate) fn updated(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    id: &str,
    a: &MailingAddress,
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    tx.prepare_cached(
        "UPDATE customer_addresses SET first_name = ?4, last_name = ?5, company = ?6,
           address1 = ?7, address2 = ?8, city = ?9, province = ?10, country = ?11,
           zip = ?12, phone = ?13
         WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3",
    )?
    .execute(params![
        meta.tenant,
        meta.aggregate_id,
        id,
        plain(&a.first_name),
        plain(&a.last_name),
        plain(&a.company),
        plain(&a.address1),
        plain(&a.address2),
        plain(&a.city),
        plain(&a.province),
        plain(&a.country),
        plain(&a.zip),
        plain(&a.phone),
    ])?;
    Ok(())
}

pub(crate) fn removed(tx: &Transaction<'_>, m: &RecordedMessage, id: &str) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    tx.prepare_cached(
        "DELETE FROM customer_addresses WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3",
    )?
    .execute(params![meta.tenant, meta.aggregate_id, id])?;
    Ok(())
}

/// The customer's tags, whole (`customer_tags`, one row per customer).
pub(crate) fn tags_set(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    tags: &[String],
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO customer_tags (project_id, customer_id, tags) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        meta.tenant,
        meta.aggregate_id,
        serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
    ])?;
    Ok(())
}

pub(crate) fn default_is(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    id: Option<&str>,
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    tx.prepare_cached(
        "UPDATE customer_addresses SET is_default = (id IS ?3)
         WHERE project_id = ?1 AND customer_id = ?2 AND (is_default = 1 OR id IS ?3)",
    )?
    .execute(params![meta.tenant, meta.aggregate_id, id])?;
    Ok(())
}
