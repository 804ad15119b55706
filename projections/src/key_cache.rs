//! API keys remembered between requests: every request of both public APIs
//! looks its key up, and keys change rarely. The projection counts the
//! batches that changed a key (`Projector::key_changes`), and a remembered
//! key is used only while that count, and the read model's file, are what
//! they were when it was read: a revoked key is refused from the moment
//! the read model holds the revocation, as without the cache.

use std::{collections::HashMap, sync::Mutex};

use authd_events::{Event, ProjectEvent, RecordedMessage};
use tokio::sync::watch;

/// Keys remembered at most; when full, the cache starts over.
const CAPACITY: usize = 4096;

/// Whether applying `message` changes the `api_keys` table.
pub(crate) fn changes_keys(message: &RecordedMessage) -> bool {
    message.message.events.iter().any(|e| {
        matches!(
            e.body,
            Event::Project(ProjectEvent::ApiKeyIssued(_) | ProjectEvent::ApiKeyRevoked(_))
        )
    })
}

/// The projection's count of key changes and the read model's file
/// generation: remembered rows hold while both stay.
type Version = (u64, u64);

pub(crate) struct KeyCache<Row> {
    changes: watch::Receiver<u64>,
    /// The version the rows were read at, and the rows.
    rows: Mutex<(Version, HashMap<[u8; 32], Row>)>,
}

/// What a lookup found, or the version to remember a read under.
pub(crate) enum Lookup<Row> {
    Hit(Row),
    Miss(Version),
}

impl<Row: Clone> KeyCache<Row> {
    pub(crate) fn new(changes: watch::Receiver<u64>) -> Self {
        Self {
            changes,
            rows: Mutex::new(((u64::MAX, u64::MAX), HashMap::new())),
        }
    }

    fn version(&self, generation: u64) -> Version {
        (*self.changes.borrow(), generation)
    }

    pub(crate) fn get(&self, generation: u64, key_hash: &[u8; 32]) -> Lookup<Row> {
        let version = self.version(generation);
        let mut rows = self.rows.lock().unwrap();
        if rows.0 != version {
            *rows = (version, HashMap::new());
        }
        match rows.1.get(key_hash) {
            Some(row) => Lookup::Hit(row.clone()),
            None => Lookup::Miss(version),
        }
    }

    /// Remembers `row`, read after `get` answered `Miss(version)`, unless a
    /// key changed (or the file did: `generation` is the current one) since:
    /// then it may be stale.
    pub(crate) fn put(&self, version: Version, generation: u64, key_hash: &[u8; 32], row: &Row) {
        if self.version(generation) != version {
            return;
        }
        let mut rows = self.rows.lock().unwrap();
        if rows.0 != version {
            return;
        }
        if rows.1.len() >= CAPACITY {
            rows.1.clear();
        }
        rows.1.insert(*key_hash, row.clone());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rows.lock().unwrap().1.len()
    }
}
