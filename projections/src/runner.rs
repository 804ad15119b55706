//! Feeds the read model from the stream: a batch of messages is applied and
//! the checkpoint advanced in one SQLite transaction, so a crash at any point
//! loses nothing and applies nothing twice.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use authd_events::{EventStore, RecordedMessage};
use futures::StreamExt;
use rusqlite::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::db;

/// Most messages applied in one transaction.
const BATCH: usize = 512;

/// Applies messages in order; skips those at or below the checkpoint (a
/// redelivery after a crash). Returns the new checkpoint.
pub fn apply_batch(conn: &mut Connection, batch: &[RecordedMessage]) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut checkpoint = db::checkpoint(&tx)?;
    for m in batch {
        if m.seq <= checkpoint {
            continue;
        }
        crate::projects::apply(&tx, m)?;
        crate::customers::apply(&tx, m)?;
        crate::sessions::apply(&tx, m)?;
        checkpoint = m.seq;
    }
    db::set_checkpoint(&tx, checkpoint)?;
    tx.commit()?;
    Ok(checkpoint)
}

/// The live projection of one read-model file.
pub struct Projector {
    path: PathBuf,
    applied: watch::Sender<u64>,
}

impl Projector {
    /// Opens (and migrates) the file; `applied()` starts at its checkpoint.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = db::open(path)?;
        db::migrate(&conn)?;
        let seq = db::checkpoint(&conn)?;
        let (applied, _) = watch::channel(seq);
        Ok(Self {
            path: path.to_path_buf(),
            applied,
        })
    }

    /// The sequence the read model has applied up to, as it changes.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Follows the stream until `shutdown`, resubscribing from the checkpoint
    /// after any interruption.
    pub async fn run(self, store: EventStore, shutdown: CancellationToken) -> anyhow::Result<()> {
        // A dedicated thread owns the write connection; batches reach it
        // over a bounded channel, so a slow disk slows the consumer.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RecordedMessage>>(4);
        let path = self.path.clone();
        let applied = self.applied.clone();
        let writer = std::thread::Builder::new()
            .name("projection".into())
            .spawn(move || -> anyhow::Result<()> {
                let mut conn = db::open(&path)?;
                while let Some(batch) = rx.blocking_recv() {
                    let seq = apply_batch(&mut conn, &batch)?;
                    applied.send_replace(seq);
                }
                Ok(())
            })?;
        let result = self.follow(&store, &tx, &shutdown).await;
        drop(tx);
        let written = tokio::task::spawn_blocking(move || writer.join()).await?;
        match written {
            Ok(r) => r?,
            Err(_) => anyhow::bail!("projection writer panicked"),
        }
        result
    }

    async fn follow(
        &self,
        store: &EventStore,
        tx: &tokio::sync::mpsc::Sender<Vec<RecordedMessage>>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        while !shutdown.is_cancelled() {
            let from = *self.applied.borrow() + 1;
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
                    tx.send(batch)
                        .await
                        .map_err(|_| anyhow::anyhow!("projection writer stopped"))?;
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
            // Resume from what the writer has committed.
            while *self.applied.borrow() < sent {
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

/// Rebuilds a read model into a new file from sequence 1, up to `until` (and
/// never past the stream's last message at the start). Returns the
/// checkpoint reached; `progress(done, total)` follows it.
pub async fn rebuild(
    store: &EventStore,
    path: &Path,
    until: Until,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    if path.exists() {
        anyhow::bail!("{} exists; a rebuild writes a new file", path.display());
    }
    let conn = db::open(path)?;
    db::migrate(&conn)?;
    // A new file nobody reads yet: if the process dies it is thrown away,
    // so commits need not wait for the disk.
    conn.execute_batch("PRAGMA synchronous = OFF")?;
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
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RecordedMessage>>(8);
    let writer = std::thread::Builder::new().name("replay".into()).spawn(
        move || -> anyhow::Result<u64> {
            let mut conn = conn;
            let mut reached = 0;
            while let Some(batch) = rx.blocking_recv() {
                reached = apply_batch(&mut conn, &batch)?;
            }
            Ok(reached)
        },
    )?;
    let stream = store.subscribe(1).await?;
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
