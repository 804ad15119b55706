//! API keys remembered between requests: every request of both public APIs
//! looks its key up, and keys change rarely. The projection's writer calls
//! `applied` after each commit, before it says the batch is applied: a
//! batch that issued or revoked a key forgets them all, so a revoked key is
//! refused from the moment the read model holds the revocation, as without
//! the cache.

use std::{collections::HashMap, sync::Mutex};

use authd_events::{Event, ProjectEvent, RecordedMessage};

/// Keys remembered at most; when full, the cache starts over.
const CAPACITY: usize = 4096;

/// Whether applying `message` changes the `api_keys` table.
fn changes_keys(message: &RecordedMessage) -> bool {
    message.message.events.iter().any(|e| {
        matches!(
            e.body,
            Event::Project(ProjectEvent::ApiKeyIssued(_) | ProjectEvent::ApiKeyRevoked(_))
        )
    })
}

/// Batches applied that changed a key, and the read model's file
/// generation: a read is remembered only under the ones it started with.
type Version = (u64, u64);

pub(crate) struct KeyCache<Row> {
    rows: Mutex<(Version, HashMap<[u8; 32], Row>)>,
}

impl<Row> Default for KeyCache<Row> {
    fn default() -> Self {
        Self {
            rows: Mutex::new(((0, 0), HashMap::new())),
        }
    }
}

impl<Row: Clone> KeyCache<Row> {
    /// The remembered row of `key_hash`, or the version to remember a read
    /// of it under (`put`).
    pub(crate) fn get(&self, generation: u64, key_hash: &[u8; 32]) -> Result<Row, Version> {
        let mut rows = self.rows.lock().unwrap();
        if rows.0.1 != generation {
            *rows = ((rows.0.0, generation), HashMap::new());
        }
        match rows.1.get(key_hash) {
            Some(row) => Ok(row.clone()),
            None => Err(rows.0),
        }
    }

    /// Remembers `row`, read after `get` answered `Err(version)`, unless a
    /// key changed (or the file did) since: then it may be stale.
    pub(crate) fn put(&self, version: Version, key_hash: &[u8; 32], row: &Row) {
        let mut rows = self.rows.lock().unwrap();
        if rows.0 != version {
            return;
        }
        if rows.1.len() >= CAPACITY {
            rows.1.clear();
        }
        rows.1.insert(*key_hash, row.clone());
    }

    /// Forgets every key when `batch` (applied and committed) changed one.
    pub(crate) fn applied<'a>(&self, mut batch: impl Iterator<Item = &'a RecordedMessage>) {
        if batch.any(changes_keys) {
            let mut rows = self.rows.lock().unwrap();
            rows.0.0 += 1;
            rows.1.clear();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rows.lock().unwrap().1.len()
    }
}
