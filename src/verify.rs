//! `authd verify`: proves a live read model matches the log. It copies the
//! live file (and its audit index) as of one checkpoint, replays the log
//! up to that checkpoint into a new file, and compares every table row by
//! row (by primary key) and column by column.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use authd_events::EventStore;
use authd_projections::{
    Until, audit_path,
    db::{AUDIT_TABLES, READ_MODEL_TABLES},
};
use rusqlite::{Connection, OpenFlags, types::Value};

/// What was compared and what differs.
pub struct Report {
    /// The checkpoint both sides were compared at.
    pub sequence: u64,
    pub rows: usize,
    pub tables: usize,
    /// Readable differences: `table [key] column: live … ≠ replayed …`.
    pub drift: Vec<String>,
    pub replayed_in: Duration,
}

fn checkpoint_of(path: &Path) -> anyhow::Result<u64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(authd_projections::db::checkpoint(&conn)?)
}

/// A consistent copy of the SQLite file at `from` (a snapshot, even while
/// a gateway writes it), as `to`.
fn snapshot(from: &Path, to: &Path) -> anyhow::Result<()> {
    let conn = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", from.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute("VACUUM INTO ?1", [to.to_string_lossy()])
        .with_context(|| format!("cannot copy {}", from.display()))?;
    Ok(())
}

/// The live read model (and its audit index, when kept) as of one
/// checkpoint: the audit index trails the read model by milliseconds, so
/// copies are taken until both name the same one.
fn snapshots(read_model: &Path, dir: &Path) -> anyhow::Result<(u64, PathBuf, Option<PathBuf>)> {
    let live = dir.join("live.db");
    let audit_live = audit_path(read_model);
    let audit = audit_live.exists().then(|| dir.join("live-audit.db"));
    for _ in 0..100 {
        for f in [Some(&live), audit.as_ref()].into_iter().flatten() {
            let _ = std::fs::remove_file(f);
        }
        snapshot(read_model, &live)?;
        let seq = checkpoint_of(&live)?;
        let Some(audit) = &audit else {
            return Ok((seq, live, None));
        };
        snapshot(&audit_live, audit)?;
        if checkpoint_of(audit)? == seq {
            return Ok((seq, live, Some(audit.clone())));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("the audit index never caught up with the read model (is the gateway stuck?)")
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Blob(b) => format!("x'{}'", hex::encode(b)),
    }
}

type Rows = BTreeMap<Vec<String>, Vec<(String, String)>>;

/// A table's rows by primary key (every column where it has none).
fn rows(conn: &Connection, table: &str) -> anyhow::Result<Rows> {
    let mut info = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let columns: Vec<(String, i64)> = info
        .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)?)))?
        .collect::<Result<_, _>>()?;
    let mut key: Vec<(i64, usize)> = columns
        .iter()
        .enumerate()
        .filter(|(_, (_, pk))| *pk > 0)
        .map(|(i, (_, pk))| (*pk, i))
        .collect();
    key.sort();
    let key: Vec<usize> = if key.is_empty() {
        (0..columns.len()).collect()
    } else {
        key.into_iter().map(|(_, i)| i).collect()
    };
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
    let mut out = Rows::new();
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let values: Vec<String> = (0..columns.len())
            .map(|i| r.get::<_, Value>(i).map(|v| show(&v)))
            .collect::<Result<_, _>>()?;
        let k = key.iter().map(|i| values[*i].clone()).collect();
        let row = columns
            .iter()
            .zip(values)
            .map(|((name, _), v)| (name.clone(), v))
            .collect();
        out.insert(k, row);
    }
    Ok(out)
}

fn compare(table: &str, live: &Rows, replayed: &Rows, drift: &mut Vec<String>) {
    for (key, row) in live {
        let k = key.join(", ");
        match replayed.get(key) {
            None => drift.push(format!("{table} [{k}]: only in the live read model")),
            Some(other) => {
                for ((column, a), (_, b)) in row.iter().zip(other) {
                    if a != b {
                        drift.push(format!("{table} [{k}] {column}: live {a} ≠ replayed {b}"));
                    }
                }
            }
        }
    }
    for key in replayed.keys().filter(|k| !live.contains_key(*k)) {
        drift.push(format!("{table} [{}]: only in the replay", key.join(", ")));
    }
}

/// Replays the log up to the live read model's checkpoint and compares.
pub async fn verify(
    store: &EventStore,
    read_model: &Path,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<Report> {
    anyhow::ensure!(
        read_model.exists(),
        "{} does not exist (the gateway's --data-dir holds read-model.db)",
        read_model.display()
    );
    // The live generation, when `read-model.db` is the link a live rebuild
    // left (its audit index is named after it).
    let read_model = &authd_projections::resolve(read_model);
    let dir = tempfile::tempdir()?;
    let (sequence, live, audit) = snapshots(read_model, dir.path())?;
    let replayed = dir.path().join("replayed.db");
    let started = Instant::now();
    authd_projections::rebuild(
        store,
        &replayed,
        Until::Sequence(sequence),
        audit.is_some(),
        progress,
    )
    .await?;
    let replayed_in = started.elapsed();
    let replay = Connection::open_with_flags(&replayed, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let live_conn = Connection::open_with_flags(&live, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let audit_conn = audit
        .as_ref()
        .map(|a| Connection::open_with_flags(a, OpenFlags::SQLITE_OPEN_READ_ONLY))
        .transpose()?;
    let mut pairs: Vec<(&str, &Connection)> =
        READ_MODEL_TABLES.iter().map(|t| (*t, &live_conn)).collect();
    if let Some(a) = &audit_conn {
        pairs.extend(AUDIT_TABLES.iter().map(|t| (*t, a)));
    }
    let (mut drift, mut count) = (Vec::new(), 0);
    for (table, conn) in &pairs {
        let (a, b) = (rows(conn, table)?, rows(&replay, table)?);
        count += a.len();
        compare(table, &a, &b, &mut drift);
    }
    Ok(Report {
        sequence,
        rows: count,
        tables: pairs.len(),
        drift,
        replayed_in,
    })
}
