//! `customerRefreshToken` and `customerLogout`.

use async_graphql::{Context, Object, Result};
use authd_services::commands::{EndSession, RefreshSession};

use super::types::{LoginResponse, MutationResponse, tokens_fields};
use crate::{
    command_client::{public_actor, send},
    error::respond,
    guards,
};

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Exchanges a refresh token for new tokens; the old one stops working,
    /// and presenting it again ends the session.
    async fn customer_refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<LoginResponse> {
        respond(
            async {
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let tokens = send(state, &from, RefreshSession { refresh_token }).await?;
                let (access_token, refresh_token, access_token_expires_at) = tokens_fields(tokens);
                Ok(LoginResponse {
                    success: true,
                    access_token,
                    refresh_token,
                    access_token_expires_at,
                    ..Default::default()
                })
            }
            .await,
        )
    }

    /// Ends the session of the bearer access token.
    async fn customer_logout(&self, ctx: &Context<'_>) -> Result<MutationResponse> {
        respond(
            async {
                let session = guards::signed_in_to_enroll(ctx).await?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let end = EndSession {
                    session_id: session.id,
                };
                send(state, &from, end).await?;
                Ok(MutationResponse::done("logged out"))
            }
            .await,
        )
    }
}
