//! `customerRequestPasswordReset`, `customerResetPassword` and
//! `customerUpdatePassword`.

use async_graphql::{Context, Object, Result};
use authd_services::commands::{RequestPasswordReset, ResetPassword, UpdatePassword};

use super::types::{MutationResponse, rename_field};
use crate::{
    command_client::{public_actor, send},
    error::respond,
    guards,
};

/// These operations call the new password `newPassword`.
fn naming_new_password(r: Result<MutationResponse>) -> Result<MutationResponse> {
    r.map(|mut r| {
        rename_field(&mut r.errors, "password", "newPassword");
        r
    })
}

#[derive(Default)]
pub struct PasswordMutation;

#[Object]
impl PasswordMutation {
    /// Mails a password-reset link. The answer is the same whether or not
    /// the address has an account.
    async fn customer_request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> Result<MutationResponse> {
        respond(
            async {
                guards::rate_limit(ctx, Some(&email))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                send(state, &from, RequestPasswordReset { email }).await?;
                Ok(MutationResponse::done(
                    "if this address has an account, a reset link is on its way",
                ))
            }
            .await,
        )
    }

    /// Sets a new password with the token of a reset link; ends every session.
    async fn customer_reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<MutationResponse> {
        naming_new_password(respond(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let reset = ResetPassword {
                    token,
                    new_password,
                    storefront_sign_in: false,
                };
                send(state, &from, reset).await?;
                Ok(MutationResponse::done("password changed"))
            }
            .await,
        ))
    }

    /// Changes the signed-in customer's password; other sessions end unless
    /// `endOtherSessions` is false.
    async fn customer_update_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
        #[graphql(default = true)] end_other_sessions: bool,
    ) -> Result<MutationResponse> {
        naming_new_password(respond(
            async {
                let session = guards::signed_in(ctx).await?;
                // A stolen session must not become a password-guessing oracle.
                guards::rate_limit(ctx, Some(&session.customer_id))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let update = UpdatePassword {
                    session_id: session.id,
                    current_password,
                    new_password,
                    end_other_sessions,
                };
                send(state, &from, update).await?;
                Ok(MutationResponse::done("password changed"))
            }
            .await,
        ))
    }
}
