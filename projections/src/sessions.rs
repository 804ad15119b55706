//! Read model: sessions (what makes an access token of a revoked session
//! stop working).

use authd_events::{
    CustomerEvent, Event, LoginMethod, RecordedMessage, RevokeReason, SessionEvent,
};
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sessions (
            project_id    TEXT NOT NULL,
            id            TEXT NOT NULL,
            customer_id   TEXT NOT NULL,
            created_at    INTEGER NOT NULL,
            refreshed_at  INTEGER NOT NULL,
            expires_at    INTEGER NOT NULL,
            generation    INTEGER NOT NULL,
            revoked_at    INTEGER,
            revoke_reason TEXT,
            started_seq   INTEGER NOT NULL,
            method        TEXT NOT NULL,
            -- Storefront sessions: SHA-256 of the customerAccessToken's
            -- hashed part; NULL for refresh-token sessions.
            token_hash    BLOB,
            PRIMARY KEY (project_id, id)
         );
         CREATE INDEX IF NOT EXISTS sessions_by_customer ON sessions (project_id, customer_id);",
    )
}

fn method(m: LoginMethod) -> &'static str {
    match m {
        LoginMethod::Password => "PASSWORD",
        LoginMethod::Otp => "OTP",
        LoginMethod::Provider => "PROVIDER",
        LoginMethod::Passkey => "PASSKEY",
    }
}

fn reason(r: RevokeReason) -> &'static str {
    match r {
        RevokeReason::Logout => "LOGOUT",
        RevokeReason::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
        RevokeReason::Admin => "ADMIN",
    }
}

pub(crate) fn apply(tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let (project, id, at) = (&meta.tenant, &meta.aggregate_id, meta.time);
    for event in m.message.bodies() {
        if let Event::Customer(CustomerEvent::SessionsEnded(ended)) = event {
            // The customer ended every session started before this message
            // (suspension, password change), but the one it names.
            tx.prepare_cached(
                "UPDATE sessions SET revoked_at = ?3, revoke_reason = 'SESSIONS_ENDED'
                 WHERE project_id = ?1 AND customer_id = ?2 AND revoked_at IS NULL
                   AND started_seq < ?4 AND id IS NOT ?5",
            )?
            .execute(params![project, id, at, m.seq as i64, ended.except])?;
            continue;
        }
        let Event::Session(e) = event else { continue };
        match e {
            SessionEvent::Started(s) | SessionEvent::StorefrontStarted(s) => {
                let token_hash = matches!(e, SessionEvent::StorefrontStarted(_))
                    .then_some(&s.refresh_token_hash[..]);
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO sessions
                       (project_id, id, customer_id, created_at, refreshed_at, expires_at,
                        generation, revoked_at, revoke_reason, started_seq, method, token_hash)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, 0, NULL, NULL, ?6, ?7, ?8)",
                )?
                .execute(params![
                    project,
                    id,
                    s.customer_id,
                    at,
                    s.expires_at,
                    m.seq as i64,
                    method(s.method),
                    token_hash
                ])?;
            }
            SessionEvent::Renewed(r) => {
                tx.prepare_cached(
                    "UPDATE sessions SET refreshed_at = ?3, expires_at = ?4
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, id, at, r.expires_at])?;
            }
            SessionEvent::Refreshed(r) => {
                tx.prepare_cached(
                    "UPDATE sessions SET refreshed_at = ?3, generation = ?4
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, id, at, r.generation])?;
            }
            SessionEvent::RefreshTokenReused(_) => {}
            SessionEvent::Revoked(r) => {
                tx.prepare_cached(
                    "UPDATE sessions SET revoked_at = ?3, revoke_reason = ?4
                     WHERE project_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                )?
                .execute(params![project, id, at, reason(r.reason)])?;
            }
        }
    }
    Ok(())
}
