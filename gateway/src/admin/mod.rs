//! The admin API (`/graphql/admin`, `Authorization: Bearer sk_…`): the
//! project's configuration and keys, and customer support operations.

pub mod customers;
pub mod project;
pub mod providers;

use async_graphql::{Context, EmptySubscription, MergedObject};
use authd_events::Actor;
use authd_services::{CommandSpec, ErrorCode, bus::Sender};

use crate::{context::RequestContext, error::ApiError, state::AppState};

#[derive(MergedObject, Default)]
pub struct AdminQuery(
    project::ProjectQuery,
    customers::CustomerQuery,
    providers::ProviderQuery,
);

#[derive(MergedObject, Default)]
pub struct AdminMutation(
    project::ProjectMutation,
    customers::CustomerMutation,
    providers::ProviderMutation,
);

pub type AdminSchema = async_graphql::Schema<AdminQuery, AdminMutation, EmptySubscription>;

/// The schema, with the same limits as the public one.
pub fn build(limits: &crate::state::Limits, introspection: bool) -> AdminSchema {
    let schema = async_graphql::Schema::build(
        AdminQuery::default(),
        AdminMutation::default(),
        EmptySubscription,
    );
    crate::state::limited(schema, limits, introspection).finish()
}

pub struct AdminContext {
    pub inner: RequestContext,
    /// First characters of the key, recorded as the actor.
    pub key_prefix: String,
    /// The operator key was presented: it alone creates projects, and it
    /// manages the project named by `X-Project-Id`.
    pub operator: bool,
}

impl AdminContext {
    /// Commands of this request act in the key's project, as its admin
    /// (or as the operator).
    fn sender(&self) -> Sender {
        let actor = if self.operator {
            Actor::Operator
        } else {
            Actor::Admin(self.key_prefix.clone())
        };
        self.inner.sender(actor)
    }
}

fn ctx_of<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a AdminContext) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<AdminContext>(),
    )
}

/// Sends an admin command for the request's project.
async fn send<C: CommandSpec>(ctx: &Context<'_>, command: C) -> Result<C::Outcome, ApiError> {
    let (state, admin) = ctx_of(ctx);
    if admin.inner.project_id.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the operator key names the project it manages in the X-Project-Id header",
        ));
    }
    crate::command_client::send(state, &admin.sender(), command).await
}
