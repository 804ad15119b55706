//! A read model rebuilt from sequence 1 into a new file (`authd replay`,
//! `authd verify`, a live rebuild's first step): without a journal, in
//! large transactions, receiving on one thread and applying on another per
//! file written.

use std::path::Path;

use authd_events::{EventStore, RecordedMessage};
use futures::StreamExt;

use crate::{
    db,
    tables::{Tables, audit_path},
};

/// Messages taken from the log per round.
const BATCH: usize = 512;

/// How far a rebuild goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The stream's last message when the rebuild starts.
    Latest,
    /// This stream sequence, inclusive.
    Sequence(u64),
    /// The last message whose event time (Unix ms) is at or before this:
    /// the read model as it was at that moment.
    Time(i64),
}

/// Rebuilds a read model (with the audit index's tables too when `audit`)
/// into a new file from sequence 1, up to `until` (and never past the
/// stream's last message at the start). Returns the checkpoint reached;
/// `progress(done, total)` follows it.
pub async fn rebuild(
    store: &EventStore,
    path: &Path,
    until: Until,
    audit: bool,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let tables = if audit {
        Tables::All
    } else {
        Tables::ReadModel
    };
    rebuild_files(store, &[(path, tables)], until, progress).await
}

/// `rebuild` into two files from one read of the log: the read model in
/// `path`, the audit index in `audit_path(path)` (as a live gateway keeps
/// them), each written by a thread of its own.
pub async fn rebuild_apart(
    store: &EventStore,
    path: &Path,
    until: Until,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let audit = audit_path(path);
    let files = [(path, Tables::ReadModel), (audit.as_path(), Tables::Audit)];
    rebuild_files(store, &files, until, progress).await
}

async fn rebuild_files(
    store: &EventStore,
    files: &[(&Path, Tables)],
    until: Until,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    for (path, _) in files {
        if path.exists() {
            anyhow::bail!("{} exists; a rebuild writes a new file", path.display());
        }
    }
    let rebuilt = rebuild_into(store, files, until, progress).await;
    if rebuilt.is_err() {
        // Written without a journal: what a failed rebuild leaves is no
        // read model, so nothing is left.
        for (path, _) in files {
            let _ = std::fs::remove_file(path);
        }
    }
    rebuilt
}

/// One file's writer: applies the batches it is sent in large
/// transactions; returns the checkpoint it reached.
fn writer(
    path: &Path,
    tables: Tables,
) -> anyhow::Result<(
    tokio::sync::mpsc::Sender<Batch>,
    std::thread::JoinHandle<anyhow::Result<u64>>,
)> {
    let mut conn = db::open_for_rebuild(path)?;
    if tables != Tables::Audit {
        db::migrate(&conn)?;
    }
    if tables != Tables::ReadModel {
        db::migrate_audit(&conn)?;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(32);
    let name = match tables {
        Tables::Audit => "replay-audit",
        _ => "replay",
    };
    let handle =
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || -> anyhow::Result<u64> {
                let (mut reached, mut in_transaction) = (0, 0);
                let mut tx = conn.transaction()?;
                while let Some(batch) = rx.blocking_recv() {
                    for m in batch.iter() {
                        tables.apply(&tx, m)?;
                    }
                    reached = batch.last().map_or(reached, |m| m.seq);
                    in_transaction += batch.len();
                    if in_transaction >= db::REBUILD_TRANSACTION {
                        db::set_checkpoint(&tx, reached)?;
                        tx.commit()?;
                        tx = conn.transaction()?;
                        in_transaction = 0;
                    }
                }
                db::set_checkpoint(&tx, reached)?;
                tx.commit()?;
                db::finish_rebuild(&conn)?;
                Ok(reached)
            })?;
    Ok((tx, handle))
}

type Batch = std::sync::Arc<Vec<RecordedMessage>>;

async fn rebuild_into(
    store: &EventStore,
    files: &[(&Path, Tables)],
    until: Until,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    if let Some(keys) = store.data_keys() {
        // Every customer's key at once rather than one request each.
        match keys.preload().await {
            Ok(n) => tracing::debug!(keys = n, "data keys preloaded"),
            Err(e) => tracing::warn!(error = %e, "data keys not preloaded; read one by one"),
        }
    }
    let mut writers = Vec::new();
    for (path, tables) in files {
        writers.push(writer(path, *tables)?);
    }
    let last = store.last_stream_sequence().await?;
    let target = match until {
        Until::Sequence(u) => u.min(last),
        Until::Latest | Until::Time(_) => last,
    };
    let until_time = match until {
        Until::Time(t) => t,
        _ => i64::MAX,
    };
    if target == 0 {
        return join(writers).await;
    }
    // Receiving and decoding (here) overlap with applying (on the writer
    // threads, one per file).
    let stream = store.read_range(1, target).await?;
    let mut chunks = std::pin::pin!(stream.ready_chunks(BATCH * 4));
    let mut sent = 0;
    let mut past_time = false;
    while sent < target && !past_time {
        let Some(chunk) = chunks.next().await else {
            anyhow::bail!("stream ended at {sent}")
        };
        let mut batch = Vec::with_capacity(chunk.len());
        for item in chunk {
            let m = item?;
            if m.message.meta.time > until_time {
                past_time = true;
                break;
            }
            if m.seq <= target {
                sent = m.seq;
                batch.push(m);
            }
        }
        if batch.is_empty() {
            break;
        }
        let batch = std::sync::Arc::new(batch);
        let mut failed = false;
        for (tx, _) in &writers {
            failed |= tx.send(batch.clone()).await.is_err();
        }
        if failed {
            break; // a writer failed; its error is reported below
        }
        progress(sent, target);
    }
    join(writers).await
}

/// Ends the writers (their channels close) and waits for them: the lowest
/// checkpoint they reached.
async fn join(
    writers: Vec<(
        tokio::sync::mpsc::Sender<Batch>,
        std::thread::JoinHandle<anyhow::Result<u64>>,
    )>,
) -> anyhow::Result<u64> {
    let handles: Vec<_> = writers.into_iter().map(|(_, handle)| handle).collect();
    let reached = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("replay writer panicked"))?
            })
            .collect::<anyhow::Result<Vec<u64>>>()
    })
    .await??;
    Ok(reached.into_iter().min().unwrap_or(0))
}
