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

/// How a rebuild writes its new file: nobody reads it until the rebuild
/// ends, and a failed rebuild throws it away, so it keeps no journal, does
/// not wait for the disk, and keeps the pages it is filling in a large cache
/// (long transactions then write each page about once). `finish_rebuild`
/// turns it into an ordinary WAL file.
pub fn open_for_rebuild(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA cache_size = -262144;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Messages a rebuild applies per transaction (see `open_for_rebuild`).
pub const REBUILD_TRANSACTION: usize = 65_536;

/// Makes a rebuilt file what `open` expects: WAL, synced.
pub fn finish_rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;",
    )
}

/// Bumped whenever a table changes. A file of another version is emptied
/// and rebuilt from sequence 1: read models are disposable.
pub const SCHEMA_VERSION: i64 = 4;

/// The read model's tables (besides `checkpoints`).
pub const READ_MODEL_TABLES: [&str; 4] = ["projects", "api_keys", "customers", "sessions"];
/// The audit index's tables. A rebuild writes them into the read model's
/// file; the live gateway keeps them in a file of their own.
pub const AUDIT_TABLES: [&str; 2] = ["audit", "audit_sessions"];

/// Empties a file of another schema version (read models are disposable).
fn reset_if_other_version(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        if version != 0 {
            tracing::info!(
                from = version,
                to = SCHEMA_VERSION,
                "read-model schema changed; rebuilding from sequence 1"
            );
        }
        let tables = ["checkpoints"].into_iter();
        for table in tables.chain(READ_MODEL_TABLES).chain(AUDIT_TABLES) {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {table}"))?;
        }
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS checkpoints (
            name TEXT PRIMARY KEY,
            seq  INTEGER NOT NULL
         );",
    )
}

/// The read model proper: projects, keys, customers, sessions.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    reset_if_other_version(conn)?;
    crate::projects::migrate(conn)?;
    crate::customers::migrate(conn)?;
    crate::sessions::migrate(conn)?;
    Ok(())
}

/// The audit index.
pub fn migrate_audit(conn: &Connection) -> rusqlite::Result<()> {
    reset_if_other_version(conn)?;
    crate::audit::migrate(conn)
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
    dump_tables(conn, &READ_MODEL_TABLES)
}

/// The same for the audit index.
pub fn dump_audit(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    dump_tables(conn, &AUDIT_TABLES)
}

fn dump_tables(conn: &Connection, tables: &[&str]) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    for table in tables {
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
