//! What every admin resolver shares: who sends (`AdminContext`, from the
//! key of the request) and sending its commands.

use async_graphql::Context;
use authd_events::Actor;
use authd_services::{CommandSpec, ErrorCode, bus::Sender};

use crate::{context::RequestContext, error::ApiError, state::AppState};

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
    pub(super) fn sender(&self) -> Sender {
        let actor = if self.operator {
            Actor::Operator
        } else {
            Actor::Admin(self.key_prefix.clone())
        };
        self.inner.sender(actor)
    }
}

pub(super) fn ctx_of<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a AdminContext) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<AdminContext>(),
    )
}

/// Sends an admin command for the request's project.
pub(super) async fn send<C: CommandSpec>(
    ctx: &Context<'_>,
    command: C,
) -> Result<C::Outcome, ApiError> {
    let (state, admin) = ctx_of(ctx);
    if admin.inner.project_id.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the operator key names the project it manages in the X-Project-Id header",
        ));
    }
    crate::command_client::send(state, &admin.sender(), command).await
}
