//! Read side of customers' passkeys (`passkeys.rs` writes them).

use rusqlite::params;

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
