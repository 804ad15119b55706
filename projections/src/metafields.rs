//! Read model: customer metafield values (one row per customer and
//! `namespace.key`; sealed values read as null).

use authd_events::{RecordedMessage, metafield::CustomerMetafieldsSet};
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS customer_metafields (
            project_id  TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            namespace   TEXT NOT NULL,
            key         TEXT NOT NULL,
            type        TEXT NOT NULL,
            value       TEXT,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL,
            PRIMARY KEY (project_id, customer_id, namespace, key)
         ) WITHOUT ROWID;",
    )
}

pub(crate) fn set(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    e: &CustomerMetafieldsSet,
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    for v in &e.values {
        tx.prepare_cached(
            "INSERT INTO customer_metafields
               (project_id, customer_id, namespace, key, type, value, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (project_id, customer_id, namespace, key)
             DO UPDATE SET type = excluded.type, value = excluded.value,
                           updated_at = excluded.updated_at",
        )?
        .execute(params![
            meta.tenant,
            meta.aggregate_id,
            v.namespace,
            v.key,
            v.type_name,
            v.value.as_plain(),
            meta.time
        ])?;
    }
    Ok(())
}
