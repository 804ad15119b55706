//! Queries against a read model, over a small pool of read-only connections
//! (WAL lets them read while the projection writes).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use authd_events::RecordedMessage;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub project_id: String,
    pub kind: String,
    pub live: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRow {
    pub project_id: String,
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub failed_logins: i64,
    pub locked_until: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub accepts_marketing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyListing {
    pub key_id: String,
    pub kind: String,
    pub live: bool,
    pub prefix: String,
    pub revoked: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub config: authd_events::ProjectConfig,
    pub storefront: authd_events::StorefrontConfig,
    /// Without secrets.
    pub providers: authd_events::ProvidersConfig,
    /// `OFF`, `OPTIONAL` or `REQUIRED`.
    pub mfa_required: String,
    /// The passkeys' relying party id (empty: no passkeys).
    pub webauthn_rp_id: String,
}

/// `status` is derived when read: an active customer whose email is not
/// verified in a project that requires verification (now, not when they
/// registered) is `INACTIVE`: they cannot sign in until they verify.
const CUSTOMER_COLUMNS: &str = "customers.project_id, customers.id, customers.email,
     customers.email_verified,
     CASE WHEN customers.status = 'ACTIVE' AND NOT customers.email_verified AND COALESCE((
         SELECT p.email_verification_required
         FROM projects p WHERE p.id = customers.project_id), 0)
     THEN 'INACTIVE' ELSE customers.status END,
     customers.created_at, customers.updated_at,
     customers.failed_logins, customers.locked_until,
     customers.first_name, customers.last_name, customers.phone, customers.accepts_marketing";

fn session_with_customer_sql() -> String {
    format!(
        "SELECT s.id, s.customer_id, s.expires_at, s.revoked_at IS NOT NULL, s.token_hash,
                {CUSTOMER_COLUMNS}
         FROM sessions s
         JOIN customers ON customers.project_id = s.project_id
                       AND customers.id = s.customer_id
         WHERE s.project_id = ?1 AND s.id = ?2"
    )
}

fn customer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerRow> {
    customer_row_at(r, 0)
}

/// A customer whose `CUSTOMER_COLUMNS` start at column `at`.
fn customer_row_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<CustomerRow> {
    Ok(CustomerRow {
        project_id: r.get(at)?,
        id: r.get(at + 1)?,
        email: r.get(at + 2)?,
        email_verified: r.get(at + 3)?,
        status: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
        updated_at: r.get(at + 6)?,
        failed_logins: r.get(at + 7)?,
        locked_until: r.get(at + 8)?,
        first_name: r.get(at + 9)?,
        last_name: r.get(at + 10)?,
        phone: r.get(at + 11)?,
        accepts_marketing: r.get(at + 12)?,
    })
}

/// One event of a customer's history, from the audit index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub idx: u32,
    pub event_id: String,
    pub event_type: String,
    /// Unix ms.
    pub at: i64,
    pub actor: String,
    pub session_id: Option<String>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub customer_id: String,
    pub expires_at: i64,
    pub revoked: bool,
    /// A Storefront session's token hash.
    pub token_hash: Option<Vec<u8>>,
}

pub struct ReadModel {
    /// The file read, and its generation: a live rebuild switches both
    /// (`switch_to`), and connections to an earlier file are dropped.
    file: std::sync::RwLock<(u64, PathBuf)>,
    pool: Mutex<Vec<(u64, Connection)>>,
    /// What is remembered between lookups (`with_caches`).
    caches: Option<Caches>,
}

/// What a read model remembers between lookups (API keys, sessions with
/// their customers), kept true by the projection that feeds its file
/// (`Projector::caches`): its writer calls `applied` after each commit,
/// before it says the batch is applied.
#[derive(Clone, Default)]
pub struct Caches {
    pub(crate) keys: Arc<crate::key_cache::KeyCache<ApiKeyRow>>,
    pub(crate) sessions: Arc<crate::row_cache::RowCache<(SessionRow, CustomerRow)>>,
}

impl Caches {
    /// Forgets what `batch`, applied and committed, may have changed.
    pub(crate) fn applied(&self, batch: &[RecordedMessage]) {
        self.keys.applied(batch.iter());
        self.sessions.applied(batch);
    }
}

impl ReadModel {
    pub fn new(path: &Path) -> Self {
        Self {
            file: std::sync::RwLock::new((0, path.to_path_buf())),
            pool: Mutex::new(Vec::new()),
            caches: None,
        }
    }

    /// Remembers API keys and sessions with their customers between
    /// lookups, as long as the projection that feeds this file keeps
    /// `caches` true.
    pub fn with_caches(mut self, caches: Caches) -> Self {
        self.caches = Some(caches);
        self
    }

    pub(crate) fn generation(&self) -> u64 {
        self.file.read().unwrap().0
    }

    /// The file read now.
    pub fn path(&self) -> PathBuf {
        self.file.read().unwrap().1.clone()
    }

    /// Reads `path` from now on; a query under way ends on the file it
    /// began with.
    pub fn switch_to(&self, path: &Path) {
        let mut file = self.file.write().unwrap();
        *file = (file.0 + 1, path.to_path_buf());
        self.pool.lock().unwrap().clear();
    }

    fn connect(path: &Path) -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        crate::db::stable_plans(&c)?;
        // The live audit index is a file of its own; a rebuilt file
        // holds its tables itself. Unqualified names find either.
        let audit = crate::tables::audit_path(path);
        if audit.exists() {
            c.execute("ATTACH DATABASE ?1 AS audit", [audit.to_string_lossy()])?;
        }
        Ok(c)
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let (generation, path) = self.file.read().unwrap().clone();
        let pooled = self.pool.lock().unwrap().pop();
        let conn = match pooled {
            Some((g, c)) if g == generation => c,
            _ => Self::connect(&path)?,
        };
        let out = f(&conn);
        // (The file lock is never taken under the pool's: `switch_to`
        // takes them the other way round. A connection pooled across a
        // switch is dropped when next taken.)
        let current = self.file.read().unwrap().0;
        let mut pool = self.pool.lock().unwrap();
        if pool.len() < 16 && current == generation {
            pool.push((generation, conn));
        }
        out
    }

    pub fn api_key(&self, key_hash: &[u8; 32]) -> rusqlite::Result<Option<ApiKeyRow>> {
        let Some(caches) = &self.caches else {
            return self.read_api_key(key_hash);
        };
        match caches.keys.get(self.generation(), key_hash) {
            Ok(row) => Ok(Some(row)),
            Err(version) => {
                let row = self.read_api_key(key_hash)?;
                if let Some(row) = &row {
                    caches.keys.put(version, key_hash, row);
                }
                Ok(row)
            }
        }
    }

    pub(crate) fn read_api_key(&self, key_hash: &[u8; 32]) -> rusqlite::Result<Option<ApiKeyRow>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT project_id, kind, live, revoked FROM api_keys WHERE key_hash = ?1",
            )?
            .query_row([&key_hash[..]], |r| {
                Ok(ApiKeyRow {
                    project_id: r.get(0)?,
                    kind: r.get(1)?,
                    live: r.get(2)?,
                    revoked: r.get(3)?,
                })
            })
            .optional()
        })
    }

    pub fn customer(&self, project: &str, id: &str) -> rusqlite::Result<Option<CustomerRow>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE project_id = ?1 AND id = ?2"
            ))?
            .query_row(params![project, id], customer_row)
            .optional()
        })
    }

    /// A customer's history, newest first: at most `limit` events strictly
    /// before `before` (a `(seq, idx)` position), or the newest ones.
    pub fn customer_events(
        &self,
        project: &str,
        customer: &str,
        before: Option<(u64, u32)>,
        limit: u32,
    ) -> rusqlite::Result<Vec<AuditRow>> {
        let (seq, idx) = before.map_or((i64::MAX, i64::MAX), |(s, i)| (s as i64, i as i64));
        self.with(|c| {
            c.prepare_cached(
                "SELECT seq, idx, event_id, type, at, actor, session_id, request_id, ip, user_agent
                 FROM audit
                 WHERE project_id = ?1 AND customer_id = ?2 AND (seq, idx) < (?3, ?4)
                 ORDER BY seq DESC, idx DESC
                 LIMIT ?5",
            )?
            .query_map(params![project, customer, seq, idx, limit], |r| {
                Ok(AuditRow {
                    seq: r.get::<_, i64>(0)? as u64,
                    idx: r.get(1)?,
                    event_id: r.get(2)?,
                    event_type: r.get(3)?,
                    at: r.get(4)?,
                    actor: r.get(5)?,
                    session_id: r.get(6)?,
                    request_id: r.get(7)?,
                    ip: r.get(8)?,
                    user_agent: r.get(9)?,
                })
            })?
            .collect()
        })
    }

    pub fn customer_by_email(
        &self,
        project: &str,
        email: &str,
    ) -> rusqlite::Result<Option<CustomerRow>> {
        let normalized = authd_events::keyed_hash::normalize_email(email);
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE project_id = ?1 AND email_normalized = ?2"
            ))?
            .query_row(params![project, normalized], customer_row)
            .optional()
        })
    }

    pub fn project(&self, id: &str) -> rusqlite::Result<Option<ProjectRow>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT id, name, created_at, config, storefront, providers, mfa_required,
                        webauthn_rp_id
                 FROM projects WHERE id = ?1",
            )?
            .query_row([id], |r| {
                let config: String = r.get(3)?;
                let storefront: String = r.get(4)?;
                let providers: String = r.get(5)?;
                Ok(ProjectRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                    config: serde_json::from_str(&config).unwrap_or_default(),
                    storefront: serde_json::from_str(&storefront).unwrap_or_default(),
                    providers: serde_json::from_str(&providers).unwrap_or_default(),
                    mfa_required: r.get(6)?,
                    webauthn_rp_id: r.get(7)?,
                })
            })
            .optional()
        })
    }

    /// Whether any project lets browsers on `origin` call the Storefront
    /// API (a CORS preflight names no project).
    pub fn origin_allowed_anywhere(&self, origin: &str) -> rusqlite::Result<bool> {
        self.with(|c| {
            c.prepare_cached("SELECT 1 FROM storefront_origins WHERE origin = ?1 LIMIT 1")?
                .query_row([origin], |_| Ok(()))
                .optional()
                .map(|o| o.is_some())
        })
    }

    pub fn api_keys(&self, project: &str) -> rusqlite::Result<Vec<ApiKeyListing>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT key_id, kind, live, prefix, revoked, created_at FROM api_keys
                 WHERE project_id = ?1 ORDER BY created_at, key_id",
            )?
            .query_map([project], |r| {
                Ok(ApiKeyListing {
                    key_id: r.get(0)?,
                    kind: r.get(1)?,
                    live: r.get(2)?,
                    prefix: r.get(3)?,
                    revoked: r.get(4)?,
                    created_at: r.get(5)?,
                })
            })?
            .collect()
        })
    }

    pub fn session(&self, project: &str, id: &str) -> rusqlite::Result<Option<SessionRow>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT id, customer_id, expires_at, revoked_at IS NOT NULL, token_hash
                 FROM sessions WHERE project_id = ?1 AND id = ?2",
            )?
            .query_row(params![project, id], |r| {
                Ok(SessionRow {
                    id: r.get(0)?,
                    customer_id: r.get(1)?,
                    expires_at: r.get(2)?,
                    revoked: r.get(3)?,
                    token_hash: r.get(4)?,
                })
            })
            .optional()
        })
    }

    /// A session and its customer in one query (the Storefront's
    /// `customer` reads both on every request).
    pub fn session_with_customer(
        &self,
        project: &str,
        session: &str,
    ) -> rusqlite::Result<Option<(SessionRow, CustomerRow)>> {
        let Some(caches) = &self.caches else {
            return self.read_session_with_customer(project, session);
        };
        match caches.sessions.get(self.generation(), project, session) {
            Ok(row) => Ok(Some(row)),
            Err(version) => {
                let row = self.read_session_with_customer(project, session)?;
                if let Some(found) = &row {
                    let customer = &found.0.customer_id;
                    caches
                        .sessions
                        .put(version, project, session, customer, found);
                }
                Ok(row)
            }
        }
    }

    fn read_session_with_customer(
        &self,
        project: &str,
        session: &str,
    ) -> rusqlite::Result<Option<(SessionRow, CustomerRow)>> {
        self.with(|c| {
            c.prepare_cached(&session_with_customer_sql())?
                .query_row(params![project, session], |r| {
                    let session = SessionRow {
                        id: r.get(0)?,
                        customer_id: r.get(1)?,
                        expires_at: r.get(2)?,
                        revoked: r.get(3)?,
                        token_hash: r.get(4)?,
                    };
                    Ok((session, customer_row_at(r, 5)?))
                })
                .optional()
        })
    }

    pub fn customers_with_email(&self, project: &str, email: &str) -> rusqlite::Result<u64> {
        let normalized = authd_events::keyed_hash::normalize_email(email);
        self.with(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM customers WHERE project_id = ?1 AND email_normalized = ?2",
            )?
            .query_row(params![project, normalized], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
        })
    }

    pub fn dump(&self) -> rusqlite::Result<Vec<String>> {
        self.with(crate::db::dump)
    }

    pub fn dump_audit(&self) -> rusqlite::Result<Vec<String>> {
        self.with(crate::db::dump_audit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The join runs on the plan it was prepared with: without
    /// `db::stable_plans`, SQLite re-prepares it on every run after new
    /// parameters are bound (one re-prepare per run, 6 times slower).
    #[test]
    fn a_join_is_prepared_once_however_often_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read.db");
        let conn = crate::db::open(&path).unwrap();
        crate::db::migrate(&conn).unwrap();
        for i in 0..3 {
            conn.execute(
                "INSERT INTO customers (project_id, id, email, email_normalized, email_verified,
                                        status, created_at, updated_at)
                 VALUES ('p', ?1, ?2, ?2, 1, 'ACTIVE', 0, 0)",
                params![format!("c{i}"), format!("c{i}@example.com")],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO sessions (project_id, id, customer_id, created_at, refreshed_at,
                                       expires_at, generation, started_seq, method)
                 VALUES ('p', ?1, ?2, 0, 0, 9, 0, 1, 'password')",
                params![format!("s{i}"), format!("c{i}")],
            )
            .unwrap();
        }
        let read = ReadModel::new(&path);
        for round in 0..3 {
            for i in 0..3 {
                let (session, customer) = read
                    .session_with_customer("p", &format!("s{i}"))
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    (session.customer_id.as_str(), customer.email),
                    (format!("c{i}").as_str(), format!("c{i}@example.com")),
                    "round {round}"
                );
            }
        }
        assert!(read.session_with_customer("p", "s9").unwrap().is_none());
        let (runs, reprepared) = read
            .with(|c| {
                let st = c.prepare_cached(&session_with_customer_sql())?;
                Ok((
                    st.get_status(rusqlite::StatementStatus::Run),
                    st.get_status(rusqlite::StatementStatus::RePrepare),
                ))
            })
            .unwrap();
        assert_eq!((runs, reprepared), (10, 0));
    }

    fn revoke(path: &std::path::Path, hash: &[u8; 32]) {
        let conn = crate::db::open(path).unwrap();
        conn.execute(
            "UPDATE api_keys SET revoked = 1 WHERE key_hash = ?1",
            [&hash[..]],
        )
        .unwrap();
    }

    /// A remembered key is answered without a read until the projection
    /// says a key changed; then the read model's own answer comes back.
    #[test]
    fn keys_are_remembered_until_a_key_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read.db");
        let conn = crate::db::open(&path).unwrap();
        crate::db::migrate(&conn).unwrap();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        for (hash, id) in [(a, "k1"), (b, "k2")] {
            conn.execute(
                "INSERT INTO api_keys (key_hash, key_id, project_id, kind, live, prefix, revoked, created_at)
                 VALUES (?1, ?2, 'p', 'public', 1, 'pk_', 0, 0)",
                params![&hash[..], id],
            )
            .unwrap();
        }
        let caches = Caches::default();
        let read = ReadModel::new(&path).with_caches(caches.clone());
        let cache = &caches.keys;
        assert!(!read.api_key(&a).unwrap().unwrap().revoked);
        assert_eq!(cache.len(), 1);
        // An unknown key is not remembered: a client sending made-up keys
        // costs a read each, never the cache's room.
        assert!(read.api_key(&[9; 32]).unwrap().is_none());
        assert_eq!(cache.len(), 1);

        // Changed behind the cache's back: still remembered (what the
        // projection's call is for); a batch that changes no key keeps it.
        revoke(&path, &a);
        assert!(!read.api_key(&a).unwrap().unwrap().revoked);
        caches.applied(&[message("p", "s1")]);
        assert!(!read.api_key(&a).unwrap().unwrap().revoked);
        let revocation = || {
            let mut m = message("p", "p");
            m.message = authd_events::EventMessage::new(
                m.message.meta.clone(),
                vec![authd_events::Event::Project(
                    authd_events::ProjectEvent::ApiKeyRevoked(authd_events::ApiKeyRevoked {
                        key_id: "k1".into(),
                    }),
                )],
            );
            m
        };
        caches.applied(&[message("p", "s1"), revocation()]);
        assert!(read.api_key(&a).unwrap().unwrap().revoked);

        // A read made before a key changed is not remembered after.
        let Err(version) = cache.get(read.generation(), &b) else {
            panic!("b was never read");
        };
        let row = read.read_api_key(&b).unwrap().unwrap();
        caches.applied(&[revocation()]);
        cache.put(version, &b, &row);
        assert!(cache.get(read.generation(), &b).is_err());

        // Nor across a move to another file (a live rebuild's).
        assert!(!read.api_key(&b).unwrap().unwrap().revoked);
        revoke(&path, &b);
        read.switch_to(&path);
        assert!(read.api_key(&b).unwrap().unwrap().revoked);
    }

    fn message(project: &str, aggregate: &str) -> authd_events::RecordedMessage {
        use authd_events::*;
        let meta = MessageMeta {
            tenant: project.into(),
            aggregate_id: aggregate.into(),
            time: 0,
            actor: Actor::System,
            request: RecordedRequest::default(),
            command_id: "x".into(),
        };
        RecordedMessage {
            seq: 1,
            subject: AggregateSubject::new(project, AggregateKind::Session, aggregate).unwrap(),
            message: EventMessage::new(meta, Vec::new()),
            traceparent: None,
        }
    }

    /// A session with its customer is answered from memory until the
    /// projection applies a message of that session or that customer; a
    /// read a batch may have overtaken is not remembered.
    #[test]
    fn sessions_are_remembered_until_their_session_or_customer_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read.db");
        let conn = crate::db::open(&path).unwrap();
        crate::db::migrate(&conn).unwrap();
        for (c, sessions) in [("c1", ["s1", "s2"]), ("c2", ["s3", "s4"])] {
            conn.execute(
                "INSERT INTO customers (project_id, id, email, email_normalized, email_verified,
                                        status, created_at, updated_at)
                 VALUES ('p', ?1, ?2, ?2, 1, 'ACTIVE', 0, 0)",
                params![c, format!("{c}@example.com")],
            )
            .unwrap();
            for s in sessions {
                conn.execute(
                    "INSERT INTO sessions (project_id, id, customer_id, created_at, refreshed_at,
                                           expires_at, generation, started_seq, method)
                     VALUES ('p', ?1, ?2, 0, 0, 9, 0, 1, 'password')",
                    params![s, c],
                )
                .unwrap();
            }
        }
        let caches = Caches::default();
        let read = ReadModel::new(&path).with_caches(caches.clone());
        let cache = &caches.sessions;
        let revoked = |s: &str| {
            read.session_with_customer("p", s)
                .unwrap()
                .unwrap()
                .0
                .revoked
        };
        for s in ["s1", "s2", "s3", "s4"] {
            assert!(!revoked(s));
        }
        assert_eq!(cache.len(), 4);
        // Another project's session of the same id is another entry.
        assert!(read.session_with_customer("q", "s1").unwrap().is_none());
        assert_eq!(cache.len(), 4);

        // Written behind the cache's back: still remembered.
        conn.execute("UPDATE sessions SET revoked_at = 1", [])
            .unwrap();
        assert!(!revoked("s1") && !revoked("s3"));
        // A message of session s1 forgets s1 only.
        cache.applied([&message("p", "s1")]);
        assert!(revoked("s1"));
        assert!(!revoked("s2") && !revoked("s3"));
        // A message of customer c2 forgets both their sessions; another
        // project's c1 forgets nothing here.
        cache.applied([&message("p", "c2"), &message("q", "c1")]);
        assert!(revoked("s3") && revoked("s4"));
        assert!(!revoked("s2"));
        cache.applied([&message("p", "c1")]);
        assert!(revoked("s2"));

        // A read made before a batch was applied is not remembered after.
        conn.execute("UPDATE sessions SET revoked_at = NULL", [])
            .unwrap();
        cache.applied([&message("p", "s1"), &message("p", "s2")]);
        let Err(version) = cache.get(read.generation(), "p", "s1") else {
            panic!("s1 was forgotten");
        };
        let row = read.read_session_with_customer("p", "s1").unwrap().unwrap();
        cache.applied([&message("p", "s9")]);
        cache.put(version, "p", "s1", "c1", &row);
        assert!(cache.get(read.generation(), "p", "s1").is_err());

        // Nor across a move to another file (a live rebuild's).
        assert!(!revoked("s2"));
        conn.execute("UPDATE sessions SET revoked_at = 1", [])
            .unwrap();
        read.switch_to(&path);
        assert!(revoked("s2"));
    }
}
