//! A project's list of webhook endpoints as the log builds it: the
//! services' project state and the feed's map of every project's endpoints
//! both follow it through `evolve`.

use crate::{event::ProjectEvent, webhook::WebhookEndpoint};

/// A project's endpoints after `event` (unchanged by any other event):
/// the services' project state and the feed's map of every project's
/// endpoints both follow the log through this.
pub fn evolve(endpoints: &mut Vec<WebhookEndpoint>, event: &ProjectEvent) {
    use ProjectEvent as P;
    match event {
        P::WebhookEndpointCreated(e) => endpoints.push(e.clone()),
        P::WebhookEndpointUpdated(e) => {
            if let Some(old) = endpoints
                .iter_mut()
                .find(|o| o.endpoint_id == e.endpoint_id)
            {
                *old = e.clone();
            }
        }
        P::WebhookEndpointDeleted(d) => endpoints.retain(|e| e.endpoint_id != d.endpoint_id),
        _ => {}
    }
}

/// Whether `event` changes a project's endpoints.
pub fn changes_endpoints(event: &ProjectEvent) -> bool {
    use ProjectEvent as P;
    matches!(
        event,
        P::WebhookEndpointCreated(_) | P::WebhookEndpointUpdated(_) | P::WebhookEndpointDeleted(_)
    )
}
