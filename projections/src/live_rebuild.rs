//! A rebuild while the gateway serves (`readModelRebuild`, `authd
//! projections rebuild`): a new read-model file (and audit index) is built
//! beside the live one from sequence 1 and caught up with the log; the
//! live projection then stops between two batches, brings the new files up
//! to exactly what it applied, and reads and writes them from then on
//! (`Projector::move_to`): no query ever sees a half-built file, and none
//! waits longer than that last step. `<data-dir>/read-model.db` is a
//! symbolic link to the live generation (`read-model.<ms>.db`, its audit
//! index `read-model.<ms>.audit.db`; SQLite names a file's WAL after the
//! link's target); the previous generation is kept as `*.bak` until the
//! next rebuild.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use authd_events::EventStore;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::{
    db,
    read::ReadModel,
    replay::{Until, rebuild, rebuild_apart},
    tables::{Tables, apply_to, audit_path},
};

/// A projection's move to a rebuilt file.
pub struct Swap {
    pub(crate) path: PathBuf,
    pub(crate) read: Arc<ReadModel>,
    pub(crate) reply: oneshot::Sender<anyhow::Result<()>>,
}

/// Asks the running projection to move to a rebuilt file.
#[derive(Clone)]
pub struct Swapper(pub(crate) mpsc::Sender<Swap>);

impl Swapper {
    async fn swap(&self, path: &Path, read: Arc<ReadModel>) -> anyhow::Result<()> {
        let (reply, answer) = oneshot::channel();
        let swap = Swap {
            path: path.to_path_buf(),
            read,
            reply,
        };
        self.0
            .send(swap)
            .await
            .map_err(|_| anyhow::anyhow!("the projection is not running"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the projection stopped"))?
    }
}

/// The file a read-model path names: the target of the link, or itself.
pub fn resolve(link: &Path) -> PathBuf {
    match std::fs::read_link(link) {
        Ok(target) if target.is_absolute() => target,
        Ok(target) => link.parent().unwrap_or(Path::new(".")).join(target),
        Err(_) => link.to_path_buf(),
    }
}

/// Applies the log to `path` (read-model tables, or the audit index's when
/// `audit`) from its checkpoint up to at least `to`; returns its checkpoint.
pub(crate) async fn catch_up(
    store: &EventStore,
    path: &Path,
    audit: bool,
    to: u64,
) -> anyhow::Result<u64> {
    let tables = if audit {
        Tables::Audit
    } else {
        Tables::ReadModel
    };
    let path = path.to_path_buf();
    let mut conn = tokio::task::spawn_blocking({
        let path = path.clone();
        move || db::open(&path)
    })
    .await??;
    let mut reached = db::checkpoint(&conn)?;
    if reached >= to {
        return Ok(reached);
    }
    let stream = store.read_range(reached + 1, to).await?;
    let mut chunks = std::pin::pin!(stream.ready_chunks(2048));
    while reached < to {
        let Some(chunk) = chunks.next().await else {
            break;
        };
        let batch = chunk.into_iter().collect::<Result<Vec<_>, _>>()?;
        let (c, seq) = tokio::task::spawn_blocking(move || {
            let seq = apply_to(tables, &mut conn, batch.iter());
            (conn, seq)
        })
        .await?;
        conn = c;
        reached = seq?;
    }
    Ok(reached)
}

/// Where a rebuild is.
#[derive(Debug, Clone, Default)]
pub struct RebuildStatus {
    pub running: bool,
    /// Sequences applied of `total` (the read model, then the audit index).
    pub done: u64,
    pub total: u64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The file moved to, once done.
    pub file: Option<String>,
    pub error: Option<String>,
}

/// Runs live rebuilds of one gateway's read model, one at a time.
pub struct Rebuilder {
    store: EventStore,
    /// `<data-dir>/read-model.db`.
    link: PathBuf,
    audit: bool,
    swapper: Swapper,
    read: Arc<ReadModel>,
    status: Mutex<RebuildStatus>,
}

impl Rebuilder {
    pub fn new(
        store: EventStore,
        link: &Path,
        audit: bool,
        swapper: Swapper,
        read: Arc<ReadModel>,
    ) -> Self {
        Self {
            store,
            link: link.to_path_buf(),
            audit,
            swapper,
            read,
            status: Mutex::default(),
        }
    }

    pub fn status(&self) -> RebuildStatus {
        self.status.lock().unwrap().clone()
    }

    /// Starts a rebuild; false when one is running.
    pub fn start(self: &Arc<Self>) -> bool {
        {
            let mut s = self.status.lock().unwrap();
            if s.running {
                return false;
            }
            *s = RebuildStatus {
                running: true,
                started_at: Some(authd_events::now_millis()),
                ..Default::default()
            };
        }
        let this = self.clone();
        tokio::spawn(async move {
            let result = this.run().await;
            let mut s = this.status.lock().unwrap();
            s.running = false;
            s.finished_at = Some(authd_events::now_millis());
            match result {
                Ok(file) => s.file = Some(file.display().to_string()),
                Err(e) => {
                    tracing::warn!(error = %e, "read-model rebuild failed");
                    s.error = Some(e.to_string());
                }
            }
        });
        true
    }

    fn progress(&self) -> impl FnMut(u64, u64) + '_ {
        |done, total| {
            let mut s = self.status.lock().unwrap();
            s.done = done;
            s.total = total;
        }
    }

    async fn run(&self) -> anyhow::Result<PathBuf> {
        let old = self.read.path();
        let new = next_generation(&self.link);
        let built = self.build(&new).await;
        if let Err(e) = built {
            let _ = std::fs::remove_file(&new);
            let _ = std::fs::remove_file(audit_path(&new));
            return Err(e);
        }
        tracing::info!(file = %new.display(), "rebuilt; moving the projection to it");
        self.swapper.swap(&new, self.read.clone()).await?;
        // Queries begun on the old file end first.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        point(&self.link, &new, &old)?;
        Ok(new)
    }

    async fn build(&self, new: &Path) -> anyhow::Result<()> {
        build(&self.store, new, self.audit, &mut self.progress()).await
    }
}

/// Builds `new` (and its audit index when `audit`) from sequence 1 and
/// catches it up with the log until a few messages short of its end.
async fn build(
    store: &EventStore,
    new: &Path,
    audit: bool,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> anyhow::Result<()> {
    if audit {
        rebuild_apart(store, new, Until::Latest, &mut *progress).await?;
    } else {
        rebuild(store, new, Until::Latest, false, &mut *progress).await?;
    }
    tracing::info!(file = %new.display(), "read model rebuilt from sequence 1; catching up");
    for _ in 0..20 {
        let last = store.last_stream_sequence().await?;
        let main = catch_up(store, new, false, last).await?;
        let reached = match audit {
            true => catch_up(store, &audit_path(new), true, last).await?,
            false => main,
        };
        if last.saturating_sub(main.min(reached)) < 1000 {
            break;
        }
    }
    Ok(())
}

/// The schema version a read-model file was written with (0: new or empty).
fn version_of(path: &Path) -> anyhow::Result<i64> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// At a gateway's start, before it serves: a read model (or audit index)
/// that a build with another schema version wrote is rebuilt beside it the
/// way a live rebuild is (sequence 1 into a new file, caught up), and
/// `link` pointed at the new generation, the old file kept as `*.bak`.
/// Until then the gateway does not listen: no answer comes from a
/// half-built model, and in a rolling upgrade the gateways still running
/// serve meanwhile. True when it rebuilt.
pub async fn upgrade_at_start(
    store: &EventStore,
    link: &Path,
    audit: bool,
) -> anyhow::Result<bool> {
    let old = resolve(link);
    let stale = |path: &Path| -> anyhow::Result<Option<i64>> {
        if !path.exists() {
            return Ok(None);
        }
        let version = version_of(path)?;
        Ok((version != 0 && version != db::SCHEMA_VERSION).then_some(version))
    };
    let audit_file = audit_path(&old);
    let from = match stale(&old)? {
        Some(v) => v,
        None => match audit.then(|| stale(&audit_file)).transpose()?.flatten() {
            Some(v) => v,
            None => return Ok(false),
        },
    };
    tracing::info!(
        from,
        to = db::SCHEMA_VERSION,
        "read-model schema changed; rebuilding beside the old file before serving"
    );
    let new = next_generation(link);
    let started = std::time::Instant::now();
    let mut progress = |_, _| {};
    if let Err(e) = build(store, &new, audit, &mut progress).await {
        let _ = std::fs::remove_file(&new);
        let _ = std::fs::remove_file(audit_path(&new));
        return Err(e.context("rebuilding the read model for the new schema"));
    }
    point(link, &new, &old)?;
    tracing::info!(
        file = %new.display(),
        seconds = started.elapsed().as_secs_f64(),
        "read model rebuilt for the new schema; the old one is kept as *.bak"
    );
    Ok(true)
}

/// `read-model.<ms>.db` beside `link`.
fn next_generation(link: &Path) -> PathBuf {
    let stem = link
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "read-model".into());
    link.with_file_name(format!("{stem}.{}.db", authd_events::now_millis()))
}

/// A file's SQLite companions.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Points `link` at `new` atomically, and keeps `old` (the generation
/// before, or the plain file an earlier layout kept at `link`) as `*.bak`,
/// dropping the `*.bak` of the rebuild before.
fn point(link: &Path, new: &Path, old: &Path) -> anyhow::Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.file_name().to_string_lossy().ends_with(".bak") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    // Its WAL into the file first: the backup is whole without it.
    if let Ok(conn) = db::open(old) {
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    let link_is_file = std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_file());
    if link_is_file {
        std::fs::hard_link(link, with_suffix(link, ".bak"))?;
    }
    let tmp = with_suffix(link, ".next");
    let _ = std::fs::remove_file(&tmp);
    let target = new
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("no file name"))?;
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)?;
    if !link_is_file && old != new {
        std::fs::rename(old, with_suffix(old, ".bak"))?;
    }
    let old_audit = audit_path(old);
    if old_audit.exists() {
        std::fs::rename(&old_audit, with_suffix(&old_audit, ".bak"))?;
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(old, suffix));
        let _ = std::fs::remove_file(with_suffix(&old_audit, suffix));
    }
    Ok(())
}
