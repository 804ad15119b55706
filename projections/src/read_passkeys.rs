//! Read side of customers' second factors: their passkeys (`passkeys.rs`
//! writes them), their authenticator app and recovery codes, and when they
//! signed in (what adding or removing a factor asks).

use rusqlite::{OptionalExtension, params};

/// One passkey as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

impl crate::read::ReadModel {
    /// The customer's second factors: since when an authenticator app
    /// protects the account (unix ms), and the recovery codes left.
    pub fn customer_mfa(
        &self,
        project: &str,
        customer: &str,
    ) -> rusqlite::Result<Option<(Option<i64>, i64)>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT mfa_totp_at, recovery_codes_left FROM customers
                 WHERE project_id = ?1 AND id = ?2",
            )?
            .query_row(params![project, customer], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
        })
    }

    /// When the customer last signed in (unix ms): the start of their
    /// newest session, since every sign-in starts one (a login that resets
    /// nothing on the customer records itself there alone).
    pub fn last_sign_in(&self, project: &str, customer: &str) -> rusqlite::Result<Option<i64>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT MAX(created_at) FROM sessions WHERE project_id = ?1 AND customer_id = ?2",
            )?
            .query_row(params![project, customer], |r| r.get(0))
        })
    }

    /// When a session started (unix ms): its sign-in.
    pub fn session_started_at(&self, project: &str, id: &str) -> rusqlite::Result<Option<i64>> {
        self.with(|c| {
            c.prepare_cached("SELECT created_at FROM sessions WHERE project_id = ?1 AND id = ?2")?
                .query_row(params![project, id], |r| r.get(0))
                .optional()
        })
    }

    /// The customer's passkeys, oldest first.
    pub fn customer_passkeys(
        &self,
        project: &str,
        customer: &str,
    ) -> rusqlite::Result<Vec<PasskeyRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, created_at, last_used_at, backup_eligible, backed_up
                 FROM customer_passkeys WHERE project_id = ?1 AND customer_id = ?2
                 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(params![project, customer], |r| {
                Ok(PasskeyRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                    last_used_at: r.get(3)?,
                    backup_eligible: r.get(4)?,
                    backed_up: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }
}
