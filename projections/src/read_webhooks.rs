//! Queries of a project's webhook endpoints.

use authd_events::webhook::WebhookEndpoint;
use rusqlite::{OptionalExtension, params};

/// An endpoint as read, with when it was made and last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpointRow {
    pub endpoint: WebhookEndpoint,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, url, event_types, description, enabled, secret_generation, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookEndpointRow> {
    let types: String = r.get(2)?;
    Ok(WebhookEndpointRow {
        endpoint: WebhookEndpoint {
            endpoint_id: r.get(0)?,
            url: r.get(1)?,
            event_types: serde_json::from_str(&types).unwrap_or_default(),
            description: r.get(3)?,
            enabled: r.get(4)?,
            secret_generation: r.get(5)?,
        },
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

impl crate::read::ReadModel {
    /// The project's endpoints, oldest first.
    pub fn webhook_endpoints(&self, project: &str) -> rusqlite::Result<Vec<WebhookEndpointRow>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE project_id = ?1
                 ORDER BY created_at, id"
            ))?
            .query_map([project], row)?
            .collect()
        })
    }

    pub fn webhook_endpoint(
        &self,
        project: &str,
        id: &str,
    ) -> rusqlite::Result<Option<WebhookEndpointRow>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE project_id = ?1 AND id = ?2"
            ))?
            .query_row(params![project, id], row)
            .optional()
        })
    }
}
