//! The SQLite file behind a read model: schema, pragmas, checkpoint.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction};

/// The one checkpoint of the read model: every table is written in the same
/// transaction as it, so they never disagree.
pub const CHECKPOINT: &str = "read_model";

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Bumped whenever a table changes. A file of another version is emptied
/// and rebuilt from sequence 1: read models are disposable.
pub const SCHEMA_VERSION: i64 = 3;

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        if version != 0 {
            tracing::info!(
                from = version,
                to = SCHEMA_VERSION,
                "read-model schema changed; rebuilding from sequence 1"
            );
        }
        conn.execute_batch(
            "DROP TABLE IF EXISTS checkpoints; DROP TABLE IF EXISTS projects;
             DROP TABLE IF EXISTS api_keys; DROP TABLE IF EXISTS customers;
             DROP TABLE IF EXISTS sessions;",
        )?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS checkpoints (
            name TEXT PRIMARY KEY,
            seq  INTEGER NOT NULL
         );",
    )?;
    crate::projects::migrate(conn)?;
    crate::customers::migrate(conn)?;
    crate::sessions::migrate(conn)?;
    Ok(())
}

pub fn checkpoint(conn: &Connection) -> rusqlite::Result<u64> {
    Ok(conn
        .query_row(
            "SELECT seq FROM checkpoints WHERE name = ?1",
            [CHECKPOINT],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}

pub fn set_checkpoint(tx: &Transaction<'_>, seq: u64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO checkpoints (name, seq) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET seq = excluded.seq",
        rusqlite::params![CHECKPOINT, seq as i64],
    )?;
    Ok(())
}

/// Every row of every read-model table, one line each, sorted: two files
/// with the same dump hold the same read model.
pub fn dump(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    for table in ["projects", "api_keys", "customers", "sessions"] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
        let cols = stmt.column_count();
        let rows = stmt.query_map([], |r| {
            let mut line = format!("{table}:");
            for i in 0..cols {
                let v: rusqlite::types::Value = r.get(i)?;
                line.push_str(&format!(" {v:?}"));
            }
            Ok(line)
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort();
    Ok(out)
}
