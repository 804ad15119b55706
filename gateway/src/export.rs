//! A customer's data export (`customerDataExport`, admin and Customer
//! Auth APIs): the read models' document (`authd_projections::export`)
//! with the sign-in providers linked to the customer, read from their
//! events in the log.

use authd_events::{AggregateKind, AggregateSubject, CustomerEvent, Event};
use serde_json::{Value, json};

use authd_events::EventStore;
use authd_projections::ReadModel;

use crate::error::ApiError;

/// The document, or `None` for a customer the project does not have:
/// from a read model (the gateway's, or one `authd admin export-customer`
/// rebuilt) and the log; `history` only `with_history` (an audit index).
pub async fn customer_export(
    read: &ReadModel,
    store: &EventStore,
    with_history: bool,
    project: &str,
    customer: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(mut doc) = read
        .customer_export(project, customer, with_history)
        .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let subject = AggregateSubject::new(project, AggregateKind::Customer, customer)
        .map_err(|_| ApiError::bad_request("not a customer id"))?;
    let messages = store
        .read_aggregate(&subject)
        .await
        .map_err(|_| ApiError::unavailable())?;
    let providers = read
        .project(project)
        .map_err(ApiError::internal)?
        .map(|p| p.providers.providers)
        .unwrap_or_default();
    let links: Vec<Value> = messages
        .iter()
        .flat_map(|m| {
            m.message.bodies().filter_map(move |e| match e {
                Event::Customer(CustomerEvent::ProviderLinked(l)) => Some((m, l)),
                _ => None,
            })
        })
        .map(|(m, l)| {
            let name = providers
                .iter()
                .find(|p| p.id == l.provider_id)
                .map(|p| p.name.clone());
            json!({
                "providerId": l.provider_id,
                "providerName": name,
                "linkedAt": authd_events::format_millis(m.message.meta.time),
            })
        })
        .collect();
    doc["providerLinks"] = Value::Array(links);
    Ok(Some(doc))
}
