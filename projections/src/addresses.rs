//! Read model: customers' mailing addresses (and tags, their other data
//! kept beside the customer row), addresses in the order they were added
//! (`position`: the adding message's stream sequence, times 256, plus the
//! event's index in it), which Relay cursors name.

use authd_events::{MailingAddress, Personal, RecordedMessage};
use rusqlite::{Connection, ToSql, Transaction, params, params_from_iter};

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

/// An address's columns (and an order's shipping address's JSON keys),
/// in the order `fields` gives their values.
pub(crate) const FIELDS: [&str; 10] = [
    "first_name",
    "last_name",
    "company",
    "address1",
    "address2",
    "city",
    "province",
    "country",
    "zip",
    "phone",
];

/// The address's values as `FIELDS` names them (sealed ones read as null).
pub(crate) fn fields(a: &MailingAddress) -> [Option<&str>; 10] {
    [
        &a.first_name,
        &a.last_name,
        &a.company,
        &a.address1,
        &a.address2,
        &a.city,
        &a.province,
        &a.country,
        &a.zip,
        &a.phone,
    ]
    .map(|v: &Option<Personal>| v.as_ref().and_then(|v| v.as_plain()))
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
    let values = fields(a);
    let mut args: Vec<&dyn ToSql> = vec![&meta.tenant, &meta.aggregate_id, &id, &position];
    args.extend(values.iter().map(|v| v as &dyn ToSql));
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO customer_addresses
           (project_id, customer_id, id, position, {})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        FIELDS.join(", ")
    ))?
    .execute(params_from_iter(args))?;
    Ok(())
}

pub(crate) fn updated(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    id: &str,
    a: &MailingAddress,
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let values = fields(a);
    let mut args: Vec<&dyn ToSql> = vec![&meta.tenant, &meta.aggregate_id, &id];
    args.extend(values.iter().map(|v| v as &dyn ToSql));
    let set: Vec<String> = FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{f} = ?{}", i + 4))
        .collect();
    tx.prepare_cached(&format!(
        "UPDATE customer_addresses SET {}
         WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3",
        set.join(", ")
    ))?
    .execute(params_from_iter(args))?;
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
