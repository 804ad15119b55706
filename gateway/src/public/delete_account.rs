//! `customerDeleteAccount`: the signed-in customer erases their own
//! account (GDPR art. 17), as `customerErase` does for an admin.

use async_graphql::{Context, Object, Result};
use authd_services::commands::DeleteAccount;

use super::types::MutationResponse;
use crate::{
    command_client::{public_actor, send},
    error::respond,
    guards,
};

#[derive(Default)]
pub struct DeleteAccountMutation;

#[Object]
impl DeleteAccountMutation {
    /// Erases the signed-in customer: every session ends (this one too),
    /// their address and phone are free again, queued mail to them is
    /// dropped, their data key is destroyed and every read model forgets
    /// them. `currentPassword` proves it is them (a wrong one counts toward
    /// the lockout: `INVALID_CURRENT_PASSWORD`); a customer without a
    /// password (codes, providers) needs a sign-in less than 5 minutes
    /// old instead (`RECENT_LOGIN_REQUIRED`).
    async fn customer_delete_account(
        &self,
        ctx: &Context<'_>,
        current_password: Option<String>,
    ) -> Result<MutationResponse> {
        respond(
            async {
                let session = guards::signed_in(ctx).await?;
                // A stolen session must not become a password-guessing oracle.
                guards::rate_limit(ctx, Some(&session.customer_id))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let delete = DeleteAccount {
                    session_id: session.id,
                    current_password,
                };
                send(state, &from, delete).await?;
                Ok(MutationResponse::done("account deleted"))
            }
            .await,
        )
    }
}
