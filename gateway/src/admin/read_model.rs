//! The operator's live rebuild of this gateway's read model
//! (`readModelRebuild`, `authd projections rebuild`): built beside the
//! live file and swapped in while every query goes on being answered.

use async_graphql::{Context, Object, Result, SimpleObject};
use authd_services::ErrorCode;

use super::resolver::ctx_of;
use crate::{
    error::ApiError,
    public::types::{DateTime, MutationResponse},
};

#[derive(SimpleObject)]
pub struct ReadModelRebuild {
    pub running: bool,
    /// Sequences applied of `total` (the read model, then the audit index).
    pub done: String,
    pub total: String,
    pub started_at: Option<DateTime>,
    pub finished_at: Option<DateTime>,
    /// The file the gateway moved to.
    pub file: Option<String>,
    pub error: Option<String>,
}

fn rebuilder<'a>(ctx: &'a Context<'_>) -> Result<&'a std::sync::Arc<authd_projections::Rebuilder>> {
    let (state, admin) = ctx_of(ctx);
    if !admin.operator {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the operator key rebuilds a read model",
        )
        .into());
    }
    state.rebuilder.as_ref().ok_or_else(|| {
        ApiError::new(ErrorCode::ServiceUnavailable, "this gateway cannot rebuild").into()
    })
}

#[derive(Default)]
pub struct ReadModelQuery;

#[Object]
impl ReadModelQuery {
    /// The last (or the running) rebuild of this gateway's read model.
    async fn read_model_rebuild(&self, ctx: &Context<'_>) -> Result<ReadModelRebuild> {
        let s = rebuilder(ctx)?.status();
        Ok(ReadModelRebuild {
            running: s.running,
            done: s.done.to_string(),
            total: s.total.to_string(),
            started_at: s.started_at.map(DateTime),
            finished_at: s.finished_at.map(DateTime),
            file: s.file,
            error: s.error,
        })
    }
}

#[derive(Default)]
pub struct ReadModelMutation;

#[Object]
impl ReadModelMutation {
    /// Rebuilds this gateway's read model from the log beside the live one
    /// and swaps it in without a pause in service; follow it with
    /// `readModelRebuild`. One at a time.
    async fn read_model_rebuild_start(&self, ctx: &Context<'_>) -> Result<MutationResponse> {
        let started = rebuilder(ctx)?.start();
        Ok(if started {
            MutationResponse::done("rebuild started")
        } else {
            MutationResponse {
                success: false,
                message: Some("a rebuild is running".into()),
                errors: vec![
                    authd_services::CommandError::new(
                        ErrorCode::InProgress,
                        "a rebuild is running",
                    )
                    .into(),
                ],
            }
        })
    }
}
