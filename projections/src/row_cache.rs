//! Sessions with their customers remembered between requests: every
//! `currentUser` and Storefront `customer` reads one, and that one SQLite
//! read was a fifth of such a request's CPU (perf, BENCHMARKS.md session
//! 19). The projection forgets an entry when it applies a message of the
//! entry's session or customer (every row of both tables is written only
//! by its own aggregate's messages: a customer's also end their sessions),
//! before it says the message is applied; and a read that a batch may have
//! overtaken is not remembered (the batch count moved meanwhile).

use std::{collections::HashMap, sync::Mutex};

use authd_events::RecordedMessage;

/// Entries kept at most; when full, the cache starts over.
const CAPACITY: usize = 16_384;

type Key = (String, String);

struct Rows<Row> {
    /// Batches applied (that could change an entry) and the read model's
    /// file generation: a read is remembered only under the ones it
    /// started with.
    version: (u64, u64),
    /// (project, session) → (customer, row).
    rows: HashMap<Key, (String, Row)>,
    /// (project, customer) → their remembered sessions.
    by_customer: HashMap<Key, Vec<String>>,
}

pub(crate) struct RowCache<Row> {
    rows: Mutex<Rows<Row>>,
}

impl<Row> Default for RowCache<Row> {
    fn default() -> Self {
        Self {
            rows: Mutex::new(Rows {
                version: (0, 0),
                rows: HashMap::new(),
                by_customer: HashMap::new(),
            }),
        }
    }
}

impl<Row: Clone> RowCache<Row> {
    /// The remembered row of `session`, or the version to remember a read
    /// of it under (`put`).
    pub(crate) fn get(
        &self,
        generation: u64,
        project: &str,
        session: &str,
    ) -> Result<Row, (u64, u64)> {
        let mut rows = self.rows.lock().unwrap();
        if rows.version.1 != generation {
            rows.version = (rows.version.0, generation);
            rows.rows.clear();
            rows.by_customer.clear();
        }
        match rows.rows.get(&(project.to_string(), session.to_string())) {
            Some((_, row)) => Ok(row.clone()),
            None => Err(rows.version),
        }
    }

    /// Remembers a row read after `get` answered `Err(version)`, unless a
    /// batch was applied (or the file changed) since.
    pub(crate) fn put(
        &self,
        version: (u64, u64),
        project: &str,
        session: &str,
        customer: &str,
        row: &Row,
    ) {
        let mut rows = self.rows.lock().unwrap();
        if rows.version != version {
            return;
        }
        if rows.rows.len() >= CAPACITY {
            rows.rows.clear();
            rows.by_customer.clear();
        }
        let (project, session, customer) = (
            project.to_string(),
            session.to_string(),
            customer.to_string(),
        );
        rows.by_customer
            .entry((project.clone(), customer.clone()))
            .or_default()
            .push(session.clone());
        rows.rows
            .insert((project, session), (customer, row.clone()));
    }

    /// Forgets what `batch` (applied and committed) may have changed: the
    /// entries of its messages' aggregates, as sessions and as customers.
    pub(crate) fn applied<'a>(&self, batch: impl IntoIterator<Item = &'a RecordedMessage>) {
        let mut rows = self.rows.lock().unwrap();
        rows.version.0 += 1;
        if rows.rows.is_empty() {
            return;
        }
        for m in batch {
            let key = (
                m.message.meta.tenant.clone(),
                m.message.meta.aggregate_id.clone(),
            );
            if let Some((customer, _)) = rows.rows.remove(&key) {
                let of = (key.0.clone(), customer);
                if let Some(sessions) = rows.by_customer.get_mut(&of) {
                    sessions.retain(|s| *s != key.1);
                }
            }
            if let Some(sessions) = rows.by_customer.remove(&key) {
                for s in sessions {
                    rows.rows.remove(&(key.0.clone(), s));
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rows.lock().unwrap().rows.len()
    }
}
