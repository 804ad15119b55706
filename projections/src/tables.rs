//! What a message does to a read-model file: which tables a writer keeps,
//! and a batch applied with its checkpoint in one SQLite transaction, so a
//! crash at any point loses nothing and applies nothing twice.

use std::path::{Path, PathBuf};

use authd_events::RecordedMessage;
use rusqlite::{Connection, Transaction};

use crate::db;

/// Which tables a writer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tables {
    /// Projects, keys, customers, sessions: what queries and read-your-writes need.
    ReadModel,
    /// The audit index: not read-your-writes, so it commits lazily.
    Audit,
    /// Both, into one file (a rebuild).
    All,
}

impl Tables {
    pub(crate) fn apply(self, tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
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

pub(crate) fn apply_to<'a>(
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
