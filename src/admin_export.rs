//! `authd admin export-customer <project> <id | email> [--out FILE]`: a
//! customer's data export (`authd.customer-export/1`) from the log alone:
//! the log is read into a temporary read model (with its audit index),
//! which is thrown away after.

use std::path::Path;

use authd_events::EventStore;
use authd_projections::{ReadModel, Until};
use serde_json::Value;

/// The log read into a read model with its audit index, in a temporary
/// directory (removed when the returned guard drops).
pub(crate) async fn temp_read_model(
    store: &EventStore,
) -> anyhow::Result<(tempfile::TempDir, ReadModel)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log.db");
    authd_projections::rebuild(store, &path, Until::Latest, true, |_, _| {}).await?;
    let read = ReadModel::new(&path);
    Ok((dir, read))
}

/// The id of the customer `who` names: an id, or an email address.
pub(crate) fn customer_id(read: &ReadModel, project: &str, who: &str) -> anyhow::Result<String> {
    let customer = if who.contains('@') {
        read.customer_by_email(project, who)?.map(|c| c.id)
    } else {
        read.customer(project, who)?.map(|c| c.id)
    };
    customer.ok_or_else(|| anyhow::anyhow!("NOT_FOUND: no such customer"))
}

pub(crate) async fn export(
    store: &EventStore,
    project: &str,
    who: &str,
    out: Option<&Path>,
) -> anyhow::Result<Value> {
    let (_dir, read) = temp_read_model(store).await?;
    let customer = customer_id(&read, project, who)?;
    let doc = authd_gateway::export::customer_export(&read, store, true, project, &customer)
        .await
        .map_err(|e| match e {
            authd_gateway::error::ApiError::Rejected(c) => anyhow::anyhow!("{c}"),
            authd_gateway::error::ApiError::Failed { code, message } => {
                anyhow::anyhow!("{code}: {message}")
            }
        })?
        .ok_or_else(|| anyhow::anyhow!("NOT_FOUND: no such customer"))?;
    match out {
        Some(file) => {
            // Personal data: readable by its owner only.
            authd_services::tokens::replace_private(
                file,
                serde_json::to_string_pretty(&doc)?.as_bytes(),
            )?;
            Ok(serde_json::json!({ "exported": customer, "file": file }))
        }
        None => Ok(doc),
    }
}
