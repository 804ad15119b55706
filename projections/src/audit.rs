//! Read model: the audit index. One row per event that concerns a customer
//! (their own aggregate's events and their sessions'), with the request it
//! came from, so an operator can page through a customer's history without
//! scanning the log. Events of no known customer (attempts on unknown
//! emails, codes for addresses that never signed up) are not indexed; the
//! log itself keeps them.

use authd_events::{AggregateKind, Event, RecordedMessage, SessionEvent};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS audit (
            project_id  TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            idx         INTEGER NOT NULL,
            event_id    TEXT NOT NULL,
            type        TEXT NOT NULL,
            at          INTEGER NOT NULL,
            actor       TEXT NOT NULL,
            session_id  TEXT,
            request_id  TEXT NOT NULL,
            ip          TEXT,
            user_agent  TEXT,
            command_id  TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (project_id, customer_id, seq, idx)
         ) WITHOUT ROWID;
         -- The project's audit log, newest first, whole or by type or session.
         CREATE INDEX IF NOT EXISTS audit_by_project ON audit (project_id, seq, idx);
         CREATE INDEX IF NOT EXISTS audit_by_type ON audit (project_id, type, seq, idx);
         CREATE INDEX IF NOT EXISTS audit_by_session ON audit (project_id, session_id, seq, idx);
         -- Whose each session is, for the events after its start.
         CREATE TABLE IF NOT EXISTS audit_sessions (
            project_id  TEXT NOT NULL,
            session_id  TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            PRIMARY KEY (project_id, session_id)
         ) WITHOUT ROWID;",
    )
}

pub(crate) fn apply(tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let (customer, session) = match m.subject.kind {
        AggregateKind::Session => {
            let started = m.message.bodies().find_map(|e| match e {
                Event::Session(SessionEvent::Started(s) | SessionEvent::StorefrontStarted(s)) => {
                    Some(s.customer_id.clone())
                }
                _ => None,
            });
            let customer = match started {
                Some(c) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO audit_sessions (project_id, session_id, customer_id)
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![meta.tenant, meta.aggregate_id, c])?;
                    Some(c)
                }
                None => tx
                    .prepare_cached(
                        "SELECT customer_id FROM audit_sessions
                         WHERE project_id = ?1 AND session_id = ?2",
                    )?
                    .query_row(params![meta.tenant, meta.aggregate_id], |r| r.get(0))
                    .optional()?,
            };
            (customer, Some(meta.aggregate_id.as_str()))
        }
        // The customer's own, an order's, a claim of their address or
        // phone: whose the message is (sealed under their key, blanked by
        // their erasure).
        _ => (authd_events::json::customer_of(m).map(str::to_string), None),
    };
    // What concerns no customer (a project's configuration and keys, the
    // token-signing ring under `_authd`) is the project's own trail, with
    // an empty customer; what ages out of the log (attempts on unknown
    // addresses, codes) stays out, or a replay would differ.
    let customer = match customer {
        Some(c) => c,
        None if m.subject.kind.expires() => return Ok(()),
        None => String::new(),
    };
    let actor = authd_events::json::actor_label(&meta.actor);
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO audit
           (project_id, customer_id, seq, idx, event_id, type, at, actor, session_id,
            request_id, ip, user_agent, command_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for (idx, e) in m.message.events.iter().enumerate() {
        insert.execute(params![
            meta.tenant,
            customer,
            m.seq as i64,
            idx as i64,
            ulid::Ulid::from_bytes(e.event_id).to_string(),
            e.body.type_name(),
            meta.time,
            actor,
            session,
            meta.request.request_id,
            authd_events::json::shown(&meta.request.ip),
            authd_events::json::shown(&meta.request.user_agent),
            meta.command_id,
        ])?;
    }
    if m.subject.kind == AggregateKind::Customer && crate::erasure::erases(m) {
        crate::erasure::erased_in_audit(tx, &meta.tenant, &customer)?;
    }
    for e in m.message.bodies() {
        if let Event::Customer(authd_events::CustomerEvent::ErasureCompleted(c)) = e {
            crate::erasure::erased_from_log(tx, &meta.tenant, &c.plaintext_erased)?;
        }
    }
    Ok(())
}
