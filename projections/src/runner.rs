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
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    db,
    read::Caches,
    tables::{Tables, apply_to, audit_path},
};

/// Most messages applied in one transaction.
const BATCH: usize = 512;

/// How long the audit writer gathers batches before committing them, when
/// fewer than `LINGER_BELOW` messages are queued.
const AUDIT_LINGER: Duration = Duration::from_millis(50);
const LINGER_BELOW: usize = 1024;

type Batch = Arc<Vec<RecordedMessage>>;

/// Links a traced apply keeps to the appends beyond its parent's.
const MAX_LINKS: usize = 32;

/// A span for applying `messages` when any of them was appended under a
/// trace (see `authd_events::trace`): a child of the first traced append,
/// linked to the others. None, and no cost beyond the look, otherwise.
fn traced<'a>(
    projection: &'static str,
    messages: impl Iterator<Item = &'a RecordedMessage>,
) -> Option<tracing::Span> {
    let mut parents = messages.filter_map(|m| m.traceparent.as_deref());
    let first = parents.next()?;
    let span = tracing::info_span!("apply", projection);
    authd_events::trace::set_parent(&span, first, None);
    for linked in parents.take(MAX_LINKS) {
        authd_events::trace::add_link(&span, linked);
    }
    Some(span)
}

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
    /// What the read model remembers (`caches()`), forgotten here as the
    /// messages that change it are applied.
    caches: Caches,
    /// Live rebuilds' requests to move to their file (`swapper()`).
    swaps: (
        tokio::sync::mpsc::Sender<crate::live_rebuild::Swap>,
        tokio::sync::mpsc::Receiver<crate::live_rebuild::Swap>,
    ),
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
            caches: Caches::default(),
            swaps: tokio::sync::mpsc::channel(1),
        })
    }

    /// Hands this projection a rebuilt file to move to while it runs.
    pub fn swapper(&self) -> crate::live_rebuild::Swapper {
        crate::live_rebuild::Swapper(self.swaps.0.clone())
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

    /// What a read model of this projection's file may remember between
    /// lookups (`ReadModel::with_caches`): this projection keeps it true.
    pub fn caches(&self) -> Caches {
        self.caches.clone()
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
        caches: Option<Caches>,
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
                let checkpointer =
                    db::Checkpointer::spawn(&path, CHECKPOINT_EVERY, db::WAL_TRUNCATE_FRAMES)?;
                while let Some(first) = rx.blocking_recv() {
                    let seq = if linger.is_zero() {
                        let span = traced(name, first.iter());
                        let _in = span.as_ref().map(|s| s.enter());
                        let seq = apply_to(model, &mut conn, first.iter())?;
                        if let Some(caches) = &caches {
                            caches.applied(&first);
                        }
                        seq
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
                        let all = || batches.iter().flat_map(|b| b.iter());
                        let span = traced(name, all());
                        let _in = span.as_ref().map(|s| s.enter());
                        apply_to(model, &mut conn, all())?
                    };
                    applied.send_replace(seq);
                    // Catching up, the passive checkpoints never empty
                    // the log (see `WAL_TRUNCATE_FRAMES`).
                    if checkpointer.log_too_long() {
                        db::truncate_wal(&conn)?;
                    }
                }
                Ok(())
            },
        )?;
        Ok((tx, handle))
    }

    /// Follows the stream until `shutdown`, resubscribing from the
    /// checkpoints after any interruption; between two batches, moves to a
    /// live rebuild's file when one asks (`swapper()`).
    pub async fn run(
        mut self,
        store: EventStore,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let (_, mut swaps) = std::mem::replace(&mut self.swaps, tokio::sync::mpsc::channel(1));
        loop {
            let (main_tx, main) = Self::writer(
                Tables::ReadModel,
                self.path.clone(),
                self.applied.clone(),
                Some(self.caches.clone()),
                Duration::ZERO,
            )?;
            let (mut senders, mut writers) = (vec![main_tx], vec![main]);
            if let Some(audit_applied) = &self.audit_applied {
                let (tx, writer) = Self::writer(
                    Tables::Audit,
                    audit_path(&self.path),
                    audit_applied.clone(),
                    None,
                    AUDIT_LINGER,
                )?;
                senders.push(tx);
                writers.push(writer);
            }
            let result = self.follow(&store, &senders, &mut swaps, &shutdown).await;
            drop(senders);
            let mut written = Ok(());
            for writer in writers {
                match tokio::task::spawn_blocking(move || writer.join()).await? {
                    Ok(r) => written = written.and(r),
                    Err(_) => {
                        written = written.and(Err(anyhow::anyhow!("projection writer panicked")))
                    }
                }
            }
            written?;
            match result? {
                None => return Ok(()),
                Some(swap) => {
                    let moved = self.move_to(&store, &swap).await;
                    let _ = swap.reply.send(moved);
                }
            }
        }
    }

    /// Brings the rebuilt file (and its audit index) up to what this
    /// projection applied, then reads and writes it from now on: the
    /// sequences applied never go back.
    async fn move_to(
        &mut self,
        store: &EventStore,
        swap: &crate::live_rebuild::Swap,
    ) -> anyhow::Result<()> {
        let main = *self.applied.borrow();
        let reached = crate::live_rebuild::catch_up(store, &swap.path, false, main).await?;
        let audit = match &self.audit_applied {
            Some(a) => {
                let to = *a.borrow();
                Some(crate::live_rebuild::catch_up(store, &audit_path(&swap.path), true, to).await?)
            }
            None => None,
        };
        swap.read.switch_to(&swap.path);
        self.path = swap.path.clone();
        self.applied.send_replace(reached.max(main));
        if let (Some(a), Some(seq)) = (&self.audit_applied, audit) {
            // (Not `*a.borrow()` inside the call: its guard would live
            // through `send_replace`, which waits for it.)
            let before = *a.borrow();
            a.send_replace(seq.max(before));
        }
        tracing::info!(file = %self.path.display(), seq = reached, "read model moved to its rebuilt file");
        Ok(())
    }

    /// The lowest sequence every file has applied.
    fn all_applied(&self) -> u64 {
        let main = *self.applied.borrow();
        self.audit_applied
            .as_ref()
            .map_or(main, |a| main.min(*a.borrow()))
    }

    /// `Some(swap)`: stopped, every file applied up to what was sent, to
    /// move to a rebuilt file.
    async fn follow(
        &self,
        store: &EventStore,
        writers: &[tokio::sync::mpsc::Sender<Batch>],
        swaps: &mut tokio::sync::mpsc::Receiver<crate::live_rebuild::Swap>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<crate::live_rebuild::Swap>> {
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
                    _ = shutdown.cancelled() => return Ok(None),
                    Some(swap) = swaps.recv() => {
                        while self.all_applied() < sent {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        return Ok(Some(swap));
                    }
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
        Ok(None)
    }
}
