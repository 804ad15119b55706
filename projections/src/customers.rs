//! Read model: customers.

use authd_events::{
    CustomerEvent, Event, LoginFailureReason, RecordedMessage, keyed_hash::normalize_email,
};
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            project_id       TEXT NOT NULL,
            id               TEXT NOT NULL,
            email            TEXT NOT NULL,
            email_normalized TEXT NOT NULL,
            email_verified   INTEGER NOT NULL,
            status           TEXT NOT NULL,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL,
            -- Unused since the last sign-in is read from sessions (every
            -- sign-in starts one); kept so older files need no migration.
            last_login_at    INTEGER,
            failed_logins    INTEGER NOT NULL DEFAULT 0,
            locked_until     INTEGER NOT NULL DEFAULT 0,
            first_name       TEXT,
            last_name        TEXT,
            phone            TEXT,
            accepts_marketing INTEGER NOT NULL DEFAULT 0,
            -- Second factors (#25): a confirmed authenticator since
            -- (unix ms; NULL: none) and the unused recovery codes.
            mfa_totp_at      INTEGER,
            recovery_codes_left INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (project_id, id)
         );
         CREATE INDEX IF NOT EXISTS customers_by_email ON customers (project_id, email_normalized);",
    )
}

pub(crate) fn apply(tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
    let meta = &m.message.meta;
    let (project, id, at) = (&meta.tenant, &meta.aggregate_id, meta.time);
    for (index, event) in m.message.bodies().enumerate() {
        let Event::Customer(e) = event else { continue };
        crate::passkeys::apply(tx, m, e)?;
        match e {
            CustomerEvent::Registered(r) => {
                let email = r.email.as_plain().unwrap_or_default();
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO customers
                       (project_id, id, email, email_normalized, email_verified, status,
                        created_at, updated_at, failed_logins)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'ACTIVE', ?6, ?6, 0)",
                )?
                .execute(params![
                    project,
                    id,
                    email,
                    normalize_email(email),
                    r.email_verified,
                    at
                ])?;
            }
            // The sign-in itself is its session's start (see `sessions`).
            CustomerEvent::LoginSucceeded(_) => {
                tx.prepare_cached(
                    "UPDATE customers SET failed_logins = 0 WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, id])?;
            }
            CustomerEvent::LoginFailed(f) => {
                if f.reason == LoginFailureReason::WrongPassword {
                    tx.prepare_cached(
                        "UPDATE customers SET failed_logins = failed_logins + 1
                         WHERE project_id = ?1 AND id = ?2",
                    )?
                    .execute(params![project, id])?;
                }
            }
            CustomerEvent::Locked(l) => {
                tx.prepare_cached(
                    "UPDATE customers SET locked_until = ?3, failed_logins = 0, updated_at = ?4
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, id, l.until, at])?;
            }
            CustomerEvent::Unlocked(_) => {
                update(
                    tx,
                    "locked_until = 0, failed_logins = 0, updated_at = ?3",
                    project,
                    id,
                    at,
                )?;
            }
            CustomerEvent::Suspended(_) => {
                update(tx, "status = 'SUSPENDED', updated_at = ?3", project, id, at)?;
            }
            CustomerEvent::Reactivated(_) => {
                update(tx, "status = 'ACTIVE', updated_at = ?3", project, id, at)?;
            }
            CustomerEvent::EmailVerified(_) => {
                update(tx, "email_verified = 1, updated_at = ?3", project, id, at)?;
            }
            CustomerEvent::PasswordChanged(_) => update(tx, "updated_at = ?3", project, id, at)?,
            CustomerEvent::EmailChanged(e) => {
                let email = e.email.as_plain().unwrap_or_default();
                tx.prepare_cached(
                    "UPDATE customers SET email = ?3, email_normalized = ?4, email_verified = 0,
                       updated_at = ?5
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![
                    project,
                    id,
                    email,
                    normalize_email(email),
                    at
                ])?;
            }
            CustomerEvent::ProfileChanged(p) => {
                let plain = |v: &Option<authd_events::Personal>| {
                    v.as_ref().and_then(|v| v.as_plain()).map(str::to_string)
                };
                let marketing = plain(&p.accepts_marketing).as_deref() == Some("true");
                tx.prepare_cached(
                    "UPDATE customers SET first_name = ?3, last_name = ?4, phone = ?5,
                       accepts_marketing = ?6, updated_at = ?7
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![
                    project,
                    id,
                    plain(&p.first_name),
                    plain(&p.last_name),
                    plain(&p.phone),
                    marketing,
                    at
                ])?;
            }
            CustomerEvent::AddressAdded(a) => {
                crate::addresses::added(tx, m, index, &a.address_id, &a.address)?;
            }
            CustomerEvent::AddressUpdated(u) => {
                crate::addresses::updated(tx, m, &u.address_id, &u.address)?;
            }
            CustomerEvent::AddressRemoved(r) => crate::addresses::removed(tx, m, &r.address_id)?,
            CustomerEvent::TagsSet(t) => crate::addresses::tags_set(tx, m, &t.tags)?,
            CustomerEvent::MetafieldsSet(v) => crate::metafields::set(tx, m, v)?,
            CustomerEvent::Erased(_) => crate::erasure::erased(tx, project, id)?,
            CustomerEvent::DefaultAddressChanged(d) => {
                crate::addresses::default_is(tx, m, d.address_id.as_deref())?;
            }
            // Sessions are ended in `sessions`; a lock on one client is
            // not the account's (its history shows it); the rest changes
            // no column.
            CustomerEvent::SessionsEnded(_)
            | CustomerEvent::ClientLocked(_)
            | CustomerEvent::EmailVerificationRequested(_)
            | CustomerEvent::PasswordResetRequested(_)
            | CustomerEvent::ActivationRequested(_)
            | CustomerEvent::ProviderLinked(_)
            | CustomerEvent::ProviderLoginFailed(_) => {}
            CustomerEvent::TotpConfirmed(_) => {
                update(tx, "mfa_totp_at = ?3", project, id, at)?;
            }
            CustomerEvent::MfaReset(_) => {
                tx.prepare_cached(
                    "UPDATE customers SET mfa_totp_at = NULL, recovery_codes_left = 0
                     WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, id])?;
            }
            CustomerEvent::TotpDisabled(_) => {
                tx.prepare_cached(
                    "UPDATE customers SET mfa_totp_at = NULL WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, id])?;
                crate::passkeys::last_factor_gone(tx, project, id)?;
            }
            CustomerEvent::RecoveryCodesGenerated(g) => {
                codes_left(tx, project, id, g.code_hashes.len() as i64)?;
            }
            CustomerEvent::RecoveryCodeUsed(u) => codes_left(tx, project, id, u.left as i64)?,
            // Pending enrollments, challenges and their outcomes are the
            // customer's history (the audit index), not columns.
            CustomerEvent::TotpEnrolled(_)
            | CustomerEvent::MfaChallenged(_)
            | CustomerEvent::MfaPassed(_)
            | CustomerEvent::MfaFailed(_)
            // Passkeys have their table (`passkeys.rs`).
            | CustomerEvent::PasskeyRegistered(_)
            | CustomerEvent::PasskeyRemoved(_)
            | CustomerEvent::PasskeyUsed(_) => {}
            CustomerEvent::ErasureCompleted(c) => {
                crate::erasure::erased_orders(tx, project, id, &c.plaintext_erased)?;
            }
        }
    }
    Ok(())
}

fn codes_left(tx: &Transaction<'_>, project: &str, id: &str, left: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE customers SET recovery_codes_left = ?3 WHERE project_id = ?1 AND id = ?2",
    )?
    .execute(params![project, id, left])?;
    Ok(())
}

/// `set` is one of the fixed strings above (never input) and uses `?3` for the time.
fn update(
    tx: &Transaction<'_>,
    set: &str,
    project: &str,
    id: &str,
    at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(&format!(
        "UPDATE customers SET {set} WHERE project_id = ?1 AND id = ?2"
    ))?
    .execute(params![project, id, at])
    .map(|_| ())
}
