//! `authd verify`: proves a live read model matches the log. It holds a
//! read transaction on the live file (and its audit index) as of one
//! checkpoint — a WAL reader sees one snapshot however the gateway writes
//! on — replays the log up to that checkpoint into a new file, and walks
//! every table of both sides in primary-key order at once, column by
//! column, naming each difference.

use std::{
    cmp::Ordering,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use authd_events::EventStore;
use authd_projections::{
    Until, audit_path,
    db::{AUDIT_TABLES, READ_MODEL_TABLES},
};
use rusqlite::{
    Connection, OpenFlags, Row, fallible_streaming_iterator::FallibleStreamingIterator,
    types::ValueRef,
};

/// What was compared and what differs.
pub struct Report {
    /// The checkpoint both sides were compared at.
    pub sequence: u64,
    pub rows: usize,
    pub tables: usize,
    /// Readable differences: `table [key] column: live … ≠ replayed …`.
    pub drift: Vec<String>,
    /// How long each step took: taking the live side, replaying, comparing.
    pub snapshot_in: Duration,
    pub replayed_in: Duration,
    pub compared_in: Duration,
}

impl Report {
    /// Prints the differences (the first 200) and a summary line; true when
    /// there were none.
    pub fn print(&self) -> bool {
        const SHOWN: usize = 200;
        for line in self.drift.iter().take(SHOWN) {
            println!("{line}");
        }
        if self.drift.len() > SHOWN {
            println!("… and {} more", self.drift.len() - SHOWN);
        }
        let rate = self.sequence as f64 / self.replayed_in.as_secs_f64().max(1e-3);
        println!(
            "compared {} rows in {} tables at sequence {} (live side taken in {:.1} s, replayed in {:.1} s at {rate:.0} events/s, compared in {:.1} s): {}",
            self.rows,
            self.tables,
            self.sequence,
            self.snapshot_in.as_secs_f64(),
            self.replayed_in.as_secs_f64(),
            self.compared_in.as_secs_f64(),
            if self.drift.is_empty() {
                "no drift".to_string()
            } else {
                format!("{} differences", self.drift.len())
            }
        );
        self.drift.is_empty()
    }
}

/// A read-only connection inside a read transaction, its checkpoint read
/// (which fixes its snapshot).
fn hold(path: &Path) -> anyhow::Result<(u64, Connection)> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch("BEGIN")?;
    let seq = authd_projections::db::checkpoint(&conn)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((seq, conn))
}

/// The live read model (and its audit index, when kept) held at one
/// checkpoint: the audit index trails the read model by milliseconds, so
/// both are taken again until they name the same one. Nothing is copied.
fn hold_live(read_model: &Path) -> anyhow::Result<(u64, Connection, Option<Connection>)> {
    let audit_live = audit_path(read_model);
    let started = Instant::now();
    loop {
        let (seq, live) = hold(read_model)?;
        if !audit_live.exists() {
            return Ok((seq, live, None));
        }
        let (audit_seq, audit) = hold(&audit_live)?;
        if audit_seq == seq {
            return Ok((seq, live, Some(audit)));
        }
        if started.elapsed() > Duration::from_secs(30) {
            anyhow::bail!(
                "the audit index never caught up with the read model (is the gateway stuck?)"
            );
        }
        drop((live, audit));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn show(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "null".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("x'{}'", hex::encode(b)),
    }
}

/// SQLite's order of two values (BINARY collation: the tables use no other).
fn order(a: ValueRef<'_>, b: ValueRef<'_>) -> Ordering {
    use ValueRef::*;
    let class = |v: &ValueRef<'_>| match v {
        Null => 0,
        Integer(_) | Real(_) => 1,
        Text(_) => 2,
        Blob(_) => 3,
    };
    match (a, b) {
        (Integer(x), Integer(y)) => x.cmp(&y),
        (Integer(x), Real(y)) => (x as f64).total_cmp(&y),
        (Real(x), Integer(y)) => x.total_cmp(&(y as f64)),
        (Real(x), Real(y)) => x.total_cmp(&y),
        (Text(x), Text(y)) | (Blob(x), Blob(y)) => x.cmp(y),
        (a, b) => class(&a).cmp(&class(&b)),
    }
}

/// A table's columns and its primary key (every column where it has none).
struct Layout {
    columns: Vec<String>,
    key: Vec<usize>,
}

impl Layout {
    fn of(conn: &Connection, table: &str) -> anyhow::Result<Self> {
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
        let key = if key.is_empty() {
            (0..columns.len()).collect()
        } else {
            key.into_iter().map(|(_, i)| i).collect()
        };
        Ok(Self {
            columns: columns.into_iter().map(|(name, _)| name).collect(),
            key,
        })
    }

    /// Every row in key order.
    fn select(&self, table: &str) -> String {
        let key: Vec<&str> = self.key.iter().map(|i| self.columns[*i].as_str()).collect();
        let columns = self.columns.join(", ");
        format!("SELECT {columns} FROM {table} ORDER BY {}", key.join(", "))
    }

    fn key_order(&self, a: &Row<'_>, b: &Row<'_>) -> rusqlite::Result<Ordering> {
        for i in &self.key {
            let o = order(a.get_ref(*i)?, b.get_ref(*i)?);
            if o != Ordering::Equal {
                return Ok(o);
            }
        }
        Ok(Ordering::Equal)
    }

    fn key_text(&self, r: &Row<'_>) -> rusqlite::Result<String> {
        let parts = self
            .key
            .iter()
            .map(|i| r.get_ref(*i).map(show))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(parts.join(", "))
    }
}

/// Walks `table` on both sides in key order at once; returns the live
/// side's row count.
fn compare(
    table: &str,
    live: &Connection,
    replayed: &Connection,
    drift: &mut Vec<String>,
) -> anyhow::Result<usize> {
    let layout = Layout::of(live, table)?;
    let sql = layout.select(table);
    let (mut a, mut b) = (live.prepare(&sql)?, replayed.prepare(&sql)?);
    let (mut a, mut b) = (a.query([])?, b.query([])?);
    a.advance()?;
    b.advance()?;
    let mut count = 0;
    loop {
        let step = match (a.get(), b.get()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => layout.key_order(x, y)?,
        };
        match step {
            Ordering::Less => {
                let row = a.get().expect("checked above");
                let key = layout.key_text(row)?;
                drift.push(format!("{table} [{key}]: only in the live read model"));
            }
            Ordering::Greater => {
                let row = b.get().expect("checked above");
                let key = layout.key_text(row)?;
                drift.push(format!("{table} [{key}]: only in the replay"));
            }
            Ordering::Equal => {
                let (x, y) = (a.get().expect("both"), b.get().expect("both"));
                for (i, column) in layout.columns.iter().enumerate() {
                    let (u, v) = (x.get_ref(i)?, y.get_ref(i)?);
                    if u != v {
                        let key = layout.key_text(x)?;
                        drift.push(format!(
                            "{table} [{key}] {column}: live {} ≠ replayed {}",
                            show(u),
                            show(v)
                        ));
                    }
                }
            }
        }
        if step != Ordering::Greater {
            count += 1;
            a.advance()?;
        }
        if step != Ordering::Less {
            b.advance()?;
        }
    }
    Ok(count)
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
    let started = Instant::now();
    let (sequence, live, audit) = hold_live(read_model)?;
    let snapshot_in = started.elapsed();
    let replayed = dir.path().join("replayed.db");
    let started = Instant::now();
    // Two files, like the live side: the read model's and the audit
    // index's writers apply on threads of their own.
    match audit {
        Some(_) => {
            authd_projections::rebuild_apart(store, &replayed, Until::Sequence(sequence), progress)
                .await?
        }
        None => {
            authd_projections::rebuild(store, &replayed, Until::Sequence(sequence), false, progress)
                .await?
        }
    };
    let replayed_in = started.elapsed();
    let started = Instant::now();
    // The read model and the audit index side by side, a thread each.
    let mut sides = vec![(&READ_MODEL_TABLES[..], live)];
    sides.extend(audit.map(|a| (&AUDIT_TABLES[..], a)));
    let tables = sides.iter().map(|(t, _)| t.len()).sum();
    let compared = std::thread::scope(|scope| {
        let running: Vec<_> = sides
            .into_iter()
            .map(|(tables, live)| {
                let replayed = match tables == &AUDIT_TABLES[..] {
                    true => audit_path(&replayed),
                    false => replayed.clone(),
                };
                scope.spawn(move || -> anyhow::Result<(usize, Vec<String>)> {
                    let replay =
                        Connection::open_with_flags(&replayed, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                    let (mut drift, mut count) = (Vec::new(), 0);
                    for table in tables {
                        count += compare(table, &live, &replay, &mut drift)?;
                    }
                    Ok((count, drift))
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("a comparison panicked"))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let (mut drift, mut count) = (Vec::new(), 0);
    for (n, d) in compared {
        count += n;
        drift.extend(d);
    }
    Ok(Report {
        sequence,
        rows: count,
        tables,
        drift,
        snapshot_in,
        replayed_in,
        compared_in: started.elapsed(),
    })
}
