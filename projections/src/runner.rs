//! Feeds the read model from the stream: a batch of messages is applied and
//! the checkpoint advanced in one SQLite transaction, so a crash at any point
//! loses nothing and applies nothing twice.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use authd_events::{EventStore, RecordedMessage};
use futures::StreamExt;
use rusqlite::{Connection, Transaction};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::db;

/// Most messages applied in one transaction.
const BATCH: usize = 512;

/// Which tables a writer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    /// Projects, keys, customers, sessions: what queries and read-your-writes need.
    ReadModel,
    /// The audit index: not read-your-writes, so it commits lazily.
    Audit,
    /// Both, into one file (a rebuild).
    All,
}

impl Tables {
    fn apply(self, tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
        if self != Tables::Audit {
            crate::projects::apply(tx, m)?;
            crate::customers::apply(tx, m)?;
            crate::sessions::apply(tx, m)?;
            if m.subject.kind == authd_events::AggregateKind::Order {
                crate::orders::apply(tx, m)?;
            }
        }
        if self != Tables::ReadModel {
            crate::audit::apply(tx, m)?;
        }
        Ok(())
    }
}

/// Applies messages to the read model in order; skips those at or below
/// the checkpoint (a redelivery after a crash). Returns the new checkpoint.
pub fn apply_batch(conn: &mut Connection, batch: &[RecordedMessage]) -> rusqlite::Result<u64> {
    apply_to(Tables::ReadModel, conn, batch)
}

fn apply_to<'a>(
    model: Tables,
    conn: &mut Connection,
    batch: impl IntoIterator<Item = &'a RecordedMessage>,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut checkpoint = db::checkpoint(&tx)?;
    let mut erased = false;
    for m in batch {
        if m.seq <= checkpoint {
            continue;
        }
        model.apply(&tx, m)?;
        erased |= crate::erasure::erases(m);
        checkpoint = m.seq;
    }
    db::set_checkpoint(&tx, checkpoint)?;
    tx.commit()?;
    if erased {
        db::truncate_wal(conn)?;
    }
    Ok(checkpoint)
}

/// Where the live audit index of the read model at `read_model` lives:
/// `read-model.db` → `read-model.audit.db`.
pub fn audit_path(read_model: &Path) -> PathBuf {
    read_model.with_extension("audit.db")
}

/// How long the audit writer gathers batches before committing them, when
/// fewer than `LINGER_BELOW` messages are queued.
const AUDIT_LINGER: Duration = Duration::from_millis(50);
const LINGER_BELOW: usize = 1024;

type Batch = Arc<Vec<RecordedMessage>>;

/// How often a live read-model file's WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The live projection of a read-model file and, when enabled, its audit
/// index, fed from one subscription: each has its own file, writer thread
/// and checkpoint, so the audit index never holds up the read model's
/// commits (it still costs CPU: see BENCHMARKS.md).
pub struct Projector {
    path: PathBuf,
    applied: watch::Sender<u64>,
    audit_applied: Option<watch::Sender<u64>>,
}

impl Projector {
    /// Opens (and migrates) the read model, and the audit index when
    /// `audit`; `applied()` starts at the read model's checkpoint.
    pub fn open(path: &Path, audit: bool) -> anyhow::Result<Self> {
        let conn = db::open(path)?;
        db::migrate(&conn)?;
        let seq = db::checkpoint(&conn)?;
        let audit_applied = if audit {
            let conn = db::open(&audit_path(path))?;
            db::migrate_audit(&conn)?;
            Some(watch::channel(db::checkpoint(&conn)?).0)
        } else {
            None
        };
        Ok(Self {
            path: path.to_path_buf(),
            applied: watch::channel(seq).0,
            audit_applied,
        })
    }

    /// The sequence the read model has applied up to, as it changes.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// The sequence the audit index has applied up to (it trails the read
    /// model by up to ~50 ms under load); `None` when it is off.
    pub fn audit_applied(&self) -> Option<watch::Receiver<u64>> {
        self.audit_applied.as_ref().map(watch::Sender::subscribe)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One writer thread owning one file's write connection; batches reach
    /// it over a bounded channel, so a slow disk slows the consumer.
    fn writer(
        model: Tables,
        path: PathBuf,
        applied: watch::Sender<u64>,
        linger: Duration,
    ) -> anyhow::Result<(
        tokio::sync::mpsc::Sender<Batch>,
        std::thread::JoinHandle<anyhow::Result<()>>,
    )> {
        // The lingering writer must hold all the batches of one linger
        // (thousands a second under load, a few messages each): with a
        // small buffer the subscription, shared with the read model's
        // writer, would wait on it. Bounded all the same: it never lingers
        // on a backlog, so catching up does not pile batches up here.
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<Batch>(if linger.is_zero() { 4 } else { 256 });
        let name = match model {
            Tables::Audit => "audit-projection",
            _ => "projection",
        };
        let handle = std::thread::Builder::new().name(name.into()).spawn(
            move || -> anyhow::Result<()> {
                let mut conn = db::open(&path)?;
                // Checkpoints (copying the WAL into the file, an fsync each)
                // run on a thread of their own instead of in whichever commit
                // crosses the WAL's threshold: there they took up to 11 ms,
                // a few times a second under load (strace), and held the
                // read model's progress up that long.
                conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
                let _checkpointer = db::Checkpointer::spawn(&path, CHECKPOINT_EVERY)?;
                while let Some(first) = rx.blocking_recv() {
                    let seq = if linger.is_zero() {
                        apply_to(model, &mut conn, first.iter())?
                    } else {
                        // Take what is queued; when that is little, wait a
                        // linger for more, so a trickle commits in bulk while
                        // a backlog (catching up) is applied without pause.
                        let mut batches = vec![first];
                        let drain = |rx: &mut tokio::sync::mpsc::Receiver<Batch>,
                                     batches: &mut Vec<Batch>| {
                            while let Ok(more) = rx.try_recv() {
                                batches.push(more);
                            }
                        };
                        drain(&mut rx, &mut batches);
                        if batches.iter().map(|b| b.len()).sum::<usize>() < LINGER_BELOW {
                            std::thread::sleep(linger);
                            drain(&mut rx, &mut batches);
                        }
                        apply_to(model, &mut conn, batches.iter().flat_map(|b| b.iter()))?
                    };
                    applied.send_replace(seq);
                }
                Ok(())
            },
        )?;
        Ok((tx, handle))
    }

    /// Follows the stream until `shutdown`, resubscribing from the
    /// checkpoints after any interruption.
    pub async fn run(self, store: EventStore, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (main_tx, main) = Self::writer(
            Tables::ReadModel,
            self.path.clone(),
            self.applied.clone(),
            Duration::ZERO,
        )?;
        let (mut senders, mut writers) = (vec![main_tx], vec![main]);
        if let Some(audit_applied) = &self.audit_applied {
            let (tx, writer) = Self::writer(
                Tables::Audit,
                audit_path(&self.path),
                audit_applied.clone(),
                AUDIT_LINGER,
            )?;
            senders.push(tx);
            writers.push(writer);
        }
        let result = self.follow(&store, &senders, &shutdown).await;
        drop(senders);
        let mut written = Ok(());
        for writer in writers {
            match tokio::task::spawn_blocking(move || writer.join()).await? {
                Ok(r) => written = written.and(r),
                Err(_) => written = written.and(Err(anyhow::anyhow!("projection writer panicked"))),
            }
        }
        written?;
        result
    }

    /// The lowest sequence every file has applied.
    fn all_applied(&self) -> u64 {
        let main = *self.applied.borrow();
        self.audit_applied
            .as_ref()
            .map_or(main, |a| main.min(*a.borrow()))
    }

    async fn follow(
        &self,
        store: &EventStore,
        writers: &[tokio::sync::mpsc::Sender<Batch>],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        while !shutdown.is_cancelled() {
            let from = self.all_applied() + 1;
            let stream = match store.subscribe(from).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "projection cannot subscribe");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    }
                }
            };
            tracing::debug!(from, "projection subscribed");
            let mut chunks = std::pin::pin!(stream.ready_chunks(BATCH));
            // Sequence of the last message handed to the writer, so a
            // resubscription does not redeliver what is still in the channel.
            let mut sent = from - 1;
            loop {
                let chunk = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    c = chunks.next() => c,
                };
                let Some(chunk) = chunk else {
                    tracing::debug!(sent, "projection subscription ended");
                    break;
                };
                let mut batch = Vec::with_capacity(chunk.len());
                let mut failed = None;
                for item in chunk {
                    match item {
                        Ok(m) if m.seq > sent => {
                            sent = m.seq;
                            batch.push(m);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                if !batch.is_empty() {
                    // Each writer skips what its own checkpoint already has.
                    let batch = Arc::new(batch);
                    for tx in writers {
                        tx.send(batch.clone())
                            .await
                            .map_err(|_| anyhow::anyhow!("projection writer stopped"))?;
                    }
                }
                if let Some(e) = failed {
                    if let authd_events::StoreError::Decode { .. } = e {
                        // A message this build cannot read: stop rather than
                        // skip a fact. Health reports the read model behind.
                        anyhow::bail!("projection stopped: {e}");
                    }
                    tracing::warn!(error = %e, "projection interrupted, resuming");
                    break;
                }
            }
            // Resume from what the writers have committed.
            while self.all_applied() < sent {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        Ok(())
    }
}

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
    let rebuilt = rebuild_into(store, path, until, audit, progress).await;
    if rebuilt.is_err() {
        // Written without a journal: what a failed rebuild leaves is no
        // read model, so nothing is left.
        let _ = std::fs::remove_file(path);
    }
    rebuilt
}

async fn rebuild_into(
    store: &EventStore,
    path: &Path,
    until: Until,
    audit: bool,
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
    db::migrate(&conn)?;
    if audit {
        db::migrate_audit(&conn)?;
    }
    let tables = if audit {
        Tables::All
    } else {
        Tables::ReadModel
    };
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
