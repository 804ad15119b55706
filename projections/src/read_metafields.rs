//! Queries of customer metafields: the project's declarations and the
//! values a customer holds under them.

use authd_events::metafield::MetafieldDefinition;
use rusqlite::{OptionalExtension, params};

/// One value as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetafieldRow {
    pub namespace: String,
    pub key: String,
    pub type_name: String,
    /// `None` once sealed (and shredded).
    pub value: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl crate::read::ReadModel {
    /// The customer metafields the project declares.
    pub fn metafield_definitions(
        &self,
        project: &str,
    ) -> rusqlite::Result<Vec<MetafieldDefinition>> {
        let json: Option<String> = self.with(|c| {
            c.prepare_cached("SELECT customer_metafields FROM projects WHERE id = ?1")?
                .query_row([project], |r| r.get(0))
                .optional()
        })?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// The customer's values under `keys` (namespace, key), in no order;
    /// keys without a value are left out.
    pub fn metafields(
        &self,
        project: &str,
        customer: &str,
        keys: &[(&str, &str)],
    ) -> rusqlite::Result<Vec<MetafieldRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT namespace, key, type, value, created_at, updated_at
                 FROM customer_metafields
                 WHERE project_id = ?1 AND customer_id = ?2 AND namespace = ?3 AND key = ?4",
            )?;
            let mut out = Vec::new();
            for (namespace, key) in keys {
                let row = stmt
                    .query_row(params![project, customer, namespace, key], |r| {
                        Ok(MetafieldRow {
                            namespace: r.get(0)?,
                            key: r.get(1)?,
                            type_name: r.get(2)?,
                            value: r.get(3)?,
                            created_at: r.get(4)?,
                            updated_at: r.get(5)?,
                        })
                    })
                    .optional()?;
                out.extend(row);
            }
            Ok(out)
        })
    }
}
