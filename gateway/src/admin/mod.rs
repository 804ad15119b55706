//! The admin API (`/graphql/admin`, `Authorization: Bearer sk_…`, or the
//! operator key with `X-Project-Id`): the project's configuration, keys
//! sign-in providers and webhook endpoints, and customer support operations.

pub mod audit_log;
pub mod auth_events;
pub mod customers;
pub mod erasure;
pub mod metafields;
pub mod orders;
pub mod project;
pub mod providers;
pub mod read_model;
pub mod webhooks;

mod resolver;

use async_graphql::MergedObject;

pub use resolver::AdminContext;

#[derive(MergedObject, Default)]
pub struct AdminQuery(
    project::ProjectQuery,
    audit_log::AuditLogQuery,
    customers::CustomerQuery,
    providers::ProviderQuery,
    webhooks::WebhookQuery,
    read_model::ReadModelQuery,
);

#[derive(MergedObject, Default)]
pub struct AdminMutation(
    project::ProjectMutation,
    customers::CustomerMutation,
    providers::ProviderMutation,
    orders::OrderMutation,
    metafields::MetafieldMutation,
    erasure::ErasureMutation,
    webhooks::WebhookMutation,
    read_model::ReadModelMutation,
);

pub type AdminSchema =
    async_graphql::Schema<AdminQuery, AdminMutation, auth_events::AuthEventsSubscription>;

/// The schema, with the same limits as the public one.
pub fn build(limits: &crate::state::Limits, introspection: bool) -> AdminSchema {
    let schema = async_graphql::Schema::build(
        AdminQuery::default(),
        AdminMutation::default(),
        auth_events::AuthEventsSubscription,
    );
    crate::state::limited(schema, limits, introspection).finish()
}
