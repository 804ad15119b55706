//! `customerRegister`.

use async_graphql::{Context, Object, Result};
use authd_services::commands::RegisterCustomer;

use super::types::{RegisterResponse, User, tokens_fields};
use crate::{
    command_client::{public_actor, send},
    error::respond,
    guards,
};

#[derive(Default)]
pub struct RegisterMutation;

#[Object]
impl RegisterMutation {
    /// Registers a customer with email and password, and signs them in
    /// (unless the project requires the email to be verified first).
    async fn customer_register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<RegisterResponse> {
        respond(
            async {
                guards::rate_limit(ctx, Some(&email))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let register = RegisterCustomer {
                    email,
                    password,
                    profile: Default::default(),
                    sign_in: true,
                };
                let r = send(state, &from, register).await?;
                let (access_token, refresh_token, access_token_expires_at) =
                    r.tokens.map(tokens_fields).unwrap_or((None, None, None));
                let pending = r.email_verification_required;
                Ok(RegisterResponse {
                    success: true,
                    access_token,
                    refresh_token,
                    access_token_expires_at,
                    user: Some(User::from_view(r.customer, &rc.project_id, pending)),
                    email_verification_required: pending,
                    message: pending
                        .then(|| "check your inbox to verify your email address".to_string()),
                    ..Default::default()
                })
            }
            .await,
        )
    }
}
