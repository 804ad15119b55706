//! The SQLite file behind a read model: schema, pragmas, checkpoint.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction};

/// The one checkpoint of the read model: every table is written in the same
/// transaction as it, so they never disagree.
pub const CHECKPOINT: &str = "read_model";

/// Makes every statement of `conn` keep the plan it was prepared with.
///
/// SQLite (3.54 as bundled) otherwise re-prepares a statement that joins
/// tables on every run after new parameters are bound, as if the schema
/// had changed: the Storefront's session-and-customer join cost 11 µs per
/// run instead of 1.8 µs (`SQLITE_STMTSTATUS_REPREPARE` counted one
/// re-prepare per run). Our tables have no `ANALYZE` statistics, so a plan
/// made for one bound value is the plan for any other.
pub fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    stable_plans(&conn)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Deleted rows are overwritten, not left in free space (an erased
    // customer's, see `erasure`).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Copies the whole WAL into the file and empties it, so that no earlier
/// version of a page (an erased customer's rows) stays in the `-wal` file.
/// Readers may hold it up for a moment: tried a few times.
pub fn truncate_wal(conn: &Connection) -> rusqlite::Result<bool> {
    for _ in 0..50 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tracing::warn!("the WAL could not be emptied (readers held it)");
    Ok(false)
}

/// How a rebuild writes its new file: nobody reads it until the rebuild
/// ends, and a failed rebuild throws it away, so it keeps no journal, does
/// not wait for the disk, and keeps the pages it is filling in a large cache
/// (long transactions then write each page about once). `finish_rebuild`
/// turns it into an ordinary WAL file.
pub fn open_for_rebuild(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    stable_plans(&conn)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA secure_delete = ON;
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

/// Bumped whenever a table or what a message does to it changes (13: an
/// erasure deletes the customer's sessions and the orders it took out of
/// the log; 14: the audit index keeps what concerns no customer; 15: webhook
/// endpoints; 16: customers' second factors). A file of
/// another version is emptied and rebuilt from sequence 1: read models are
/// disposable.
pub const SCHEMA_VERSION: i64 = 17;

/// The read model's tables (besides `checkpoints`).
pub const READ_MODEL_TABLES: [&str; 12] = [
    "projects",
    "storefront_origins",
    "api_keys",
    "customers",
    "sessions",
    "customer_addresses",
    "customer_tags",
    "orders",
    "order_line_items",
    "customer_metafields",
    "webhook_endpoints",
    "customer_passkeys",
];
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
    crate::addresses::migrate(conn)?;
    crate::orders::migrate(conn)?;
    crate::metafields::migrate(conn)?;
    crate::passkeys::migrate(conn)?;
    Ok(())
}

/// The audit index.
pub fn migrate_audit(conn: &Connection) -> rusqlite::Result<()> {
    reset_if_other_version(conn)?;
    crate::audit::migrate(conn)
}

pub fn checkpoint(conn: &Connection) -> rusqlite::Result<u64> {
    Ok(conn
        .prepare_cached("SELECT seq FROM checkpoints WHERE name = ?1")?
        .query_row([CHECKPOINT], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64)
}

pub fn set_checkpoint(tx: &Transaction<'_>, seq: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO checkpoints (name, seq) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET seq = excluded.seq",
    )?
    .execute(rusqlite::params![CHECKPOINT, seq as i64])?;
    Ok(())
}

/// Checkpoints a WAL file's log into it every `every`, on its own thread
/// and connection, for a writer that turned automatic checkpoints off. A
/// passive checkpoint never blocks the writer or readers; it copies what no
/// reader still needs. Stops when dropped.
pub struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    too_long: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Frames in a WAL above which its writer should empty it
/// ([`Checkpointer::log_too_long`]). Passive checkpoints never reset a log
/// that its writer appends to back to back (a projection catching up):
/// each copies what was there when it began, the writer adds more
/// meanwhile, and SQLite starts the log over only once everything in it
/// was copied. Catching up 1M events grew a gateway's WAL to 13 GB that
/// way (BENCHMARKS.md, session 15). 16,384 frames are 64 MiB at SQLite's
/// 4 KiB pages.
pub const WAL_TRUNCATE_FRAMES: i64 = 16_384;

impl Checkpointer {
    /// Checkpoints every `every`, passively, and notes when the log holds
    /// more than `truncate_above` frames. Emptying it is the writer's job
    /// (`truncate_wal` between two of its transactions): from this thread
    /// a `TRUNCATE` waits for a writer that commits back to back and
    /// rarely gets in.
    pub fn spawn(
        path: &Path,
        every: std::time::Duration,
        truncate_above: i64,
    ) -> rusqlite::Result<Self> {
        let conn = open(path)?;
        let too_long = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = too_long.clone();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        r.get::<_, i64>(1)
                    });
                    match frames {
                        Ok(frames) if frames > truncate_above => {
                            flag.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(error = %e, "WAL checkpoint failed; trying again later");
                        }
                    }
                }
            })
            .expect("a checkpoint thread can be spawned");
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            too_long,
        })
    }

    /// Whether the log grew past the limit since last asked: the writer
    /// then empties it (`truncate_wal`).
    pub fn log_too_long(&self) -> bool {
        self.too_long
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// With automatic checkpoints off, pages reach the database file only
    /// through the checkpointer.
    #[test]
    fn the_checkpointer_moves_the_log_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let conn = open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (b BLOB NOT NULL);",
        )
        .unwrap();
        for _ in 0..50 {
            conn.execute("INSERT INTO t (b) VALUES (zeroblob(100000))", [])
                .unwrap();
        }
        let file_len = || std::fs::metadata(&path).unwrap().len();
        assert!(file_len() < 1_000_000, "nothing checkpointed yet");
        let checkpointer =
            Checkpointer::spawn(&path, std::time::Duration::from_millis(10), i64::MAX).unwrap();
        let start = std::time::Instant::now();
        while file_len() < 5_000_000 && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(file_len() >= 5_000_000, "the log reached the file");
        // Dropping it stops its thread (the test would hang otherwise).
        drop(checkpointer);
    }

    /// A writer committing back to back starves passive checkpoints (the
    /// log is never wholly copied, so never started over): the checkpointer
    /// empties it past its limit, and the log stays near that size instead
    /// of growing with everything written.
    #[test]
    fn a_log_written_back_to_back_is_emptied_past_its_limit() {
        let run = |truncate_above: i64| -> u64 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("wal.db");
            let mut conn = open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
            )
            .unwrap();
            let checkpointer =
                Checkpointer::spawn(&path, std::time::Duration::from_millis(5), truncate_above)
                    .unwrap();
            let wal = dir.path().join("wal.db-wal");
            let mut largest = 0;
            for round in 0..1500u64 {
                let tx = conn.transaction().unwrap();
                for i in 0..40u64 {
                    let k = (round * 40 + i)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .to_be_bytes();
                    tx.execute("INSERT INTO t (k, v) VALUES (?1, zeroblob(200))", [&k[..]])
                        .unwrap();
                }
                tx.commit().unwrap();
                if checkpointer.log_too_long() {
                    truncate_wal(&conn).unwrap();
                }
                largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            }
            largest
        };
        let limited = run(256);
        let unlimited = run(i64::MAX);
        assert!(
            limited < 16 << 20,
            "the log grew to {limited} bytes with a limit of 256 frames"
        );
        assert!(
            unlimited > 2 * limited,
            "without the limit the log should grow with the writes: {unlimited} vs {limited}"
        );
    }
}
