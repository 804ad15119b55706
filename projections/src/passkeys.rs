//! Read model: customers' passkeys (#25), for `currentUser { mfa { passkeys } }`
//! and the admin's `customer { mfa }` (read in `read_passkeys.rs`). The
//! credential itself (public key, counter) is the customer aggregate's;
//! this keeps what a list shows.

use authd_events::{CustomerEvent, PasskeyRegistered, RecordedMessage};
use base64::Engine;
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS customer_passkeys (
            project_id    TEXT NOT NULL,
            customer_id   TEXT NOT NULL,
            id            TEXT NOT NULL,
            name          TEXT NOT NULL,
            created_at    INTEGER NOT NULL,
            last_used_at  INTEGER,
            backup_eligible INTEGER NOT NULL,
            backed_up     INTEGER NOT NULL,
            PRIMARY KEY (project_id, customer_id, id)
         );",
    )
}

/// A passkey's id as the API shows it: its credential id in base64url.
pub fn passkey_id(credential_id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(credential_id)
}

/// Applies one customer event, if it is a passkey's (or removes them all).
pub(crate) fn apply(
    tx: &Transaction<'_>,
    m: &RecordedMessage,
    e: &CustomerEvent,
) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let (project, customer, at) = (&meta.tenant, &meta.aggregate_id, meta.time);
    match e {
        CustomerEvent::PasskeyRegistered(PasskeyRegistered {
            credential_id,
            name,
            backup_eligible,
            backed_up,
            ..
        }) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO customer_passkeys
                   (project_id, customer_id, id, name, created_at, backup_eligible, backed_up)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                project,
                customer,
                passkey_id(credential_id),
                name.as_plain().unwrap_or("[erased]"),
                at,
                backup_eligible,
                backed_up
            ])?;
        }
        CustomerEvent::PasskeyUsed(u) => {
            tx.prepare_cached(
                "UPDATE customer_passkeys SET last_used_at = ?4, backed_up = ?5
                 WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3",
            )?
            .execute(params![
                project,
                customer,
                passkey_id(&u.credential_id),
                at,
                u.backed_up
            ])?;
        }
        CustomerEvent::PasskeyRemoved(r) => {
            tx.prepare_cached(
                "DELETE FROM customer_passkeys
                 WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3",
            )?
            .execute(params![project, customer, passkey_id(&r.credential_id)])?;
            last_factor_gone(tx, project, customer)?;
        }
        CustomerEvent::MfaReset(_) => {
            tx.prepare_cached(
                "DELETE FROM customer_passkeys WHERE project_id = ?1 AND customer_id = ?2",
            )?
            .execute(params![project, customer])?;
        }
        _ => {}
    }
    Ok(())
}

/// Recovery codes go with the last factor (`Mfa::evolve`'s rule).
pub(crate) fn last_factor_gone(
    tx: &Transaction<'_>,
    project: &str,
    customer: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE customers SET recovery_codes_left = 0
         WHERE project_id = ?1 AND id = ?2 AND mfa_totp_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM customer_passkeys
                           WHERE project_id = ?1 AND customer_id = ?2)",
    )?
    .execute(params![project, customer])?;
    Ok(())
}
