//! `customerVerifyEmail` and `customerResendVerificationEmail`.

use async_graphql::{Context, Object, Result};
use authd_services::commands::{ResendVerification, VerifyEmail};

use super::types::{MutationResponse, User, VerifyEmailResponse};
use crate::{
    command_client::{public_actor, send},
    error::respond,
    guards,
};

#[derive(Default)]
pub struct VerificationMutation;

#[Object]
impl VerificationMutation {
    /// Verifies the customer's email with the token of a verification link.
    async fn customer_verify_email(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<VerifyEmailResponse> {
        respond(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let customer = send(state, &from, VerifyEmail { token }).await?;
                Ok(VerifyEmailResponse {
                    success: true,
                    user: Some(User::from_view(customer, &rc.project_id, false)),
                    message: Some("email verified".into()),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    /// Mails the signed-in customer a new verification link.
    async fn customer_resend_verification_email(
        &self,
        ctx: &Context<'_>,
    ) -> Result<MutationResponse> {
        respond(
            async {
                let session = guards::signed_in(ctx).await?;
                guards::rate_limit(ctx, Some(&session.customer_id))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                send(state, &from, ResendVerification).await?;
                Ok(MutationResponse::done("a verification link is on its way"))
            }
            .await,
        )
    }
}
