//! A read model rebuilt from sequence 1 into a new file (`authd replay`,
//! `authd verify`, a live rebuild's first step): without a journal, in
//! large transactions, receiving and applying on two threads.

use std::path::Path;

use authd_events::{EventStore, RecordedMessage};
use futures::StreamExt;

use crate::{db, tables::Tables};

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
    if path.exists() {
        anyhow::bail!("{} exists; a rebuild writes a new file", path.display());
    }
    let tables = if audit {
        Tables::All
    } else {
        Tables::ReadModel
    };
    let rebuilt = rebuild_into(store, path, until, tables, progress).await;
    if rebuilt.is_err() {
        // Written without a journal: what a failed rebuild leaves is no
        // read model, so nothing is left.
        let _ = std::fs::remove_file(path);
    }
    rebuilt
}

/// `rebuild`, of the audit index's tables alone (a live rebuild's second
/// file).
pub(crate) async fn rebuild_audit(
    store: &EventStore,
    path: &Path,
    until: Until,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    if path.exists() {
        anyhow::bail!("{} exists; a rebuild writes a new file", path.display());
    }
    let rebuilt = rebuild_into(store, path, until, Tables::Audit, progress).await;
    if rebuilt.is_err() {
        let _ = std::fs::remove_file(path);
    }
    rebuilt
}

async fn rebuild_into(
    store: &EventStore,
    path: &Path,
    until: Until,
    tables: Tables,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    if let Some(keys) = store.data_keys() {
        // Every customer's key at once rather than one request each.
        match keys.preload().await {
            Ok(n) => tracing::debug!(keys = n, "data keys preloaded"),
            Err(e) => tracing::warn!(error = %e, "data keys not preloaded; read one by one"),
        }
    }
    let conn = db::open_for_rebuild(path)?;
    if tables != Tables::Audit {
        db::migrate(&conn)?;
    }
    if tables != Tables::ReadModel {
        db::migrate_audit(&conn)?;
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
        return Ok(0);
    }
    // Receiving and decoding (here) overlap with applying (on the writer
    // thread), one core each.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RecordedMessage>>(32);
    let writer = std::thread::Builder::new().name("replay".into()).spawn(
        move || -> anyhow::Result<u64> {
            let mut conn = conn;
            let (mut reached, mut in_transaction) = (0, 0);
            let mut tx = conn.transaction()?;
            while let Some(batch) = rx.blocking_recv() {
                for m in &batch {
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
        },
    )?;
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
        if tx.send(batch).await.is_err() {
            break; // the writer failed; its error is reported below
        }
        progress(sent, target);
    }
    drop(tx);
    let reached = tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("replay writer panicked"))??;
    Ok(reached)
}
