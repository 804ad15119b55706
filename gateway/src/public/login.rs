//! `customerLogin`, `customerRequestOTP` and `customerLoginOTP`.

use async_graphql::{Context, Object, Result};
use authd_services::commands::{LogInWithOtp, LogInWithPassword, RequestOtp, SignIn, SignedIn};

use super::types::{DateTime, LoginResponse, OtpRequestResponse, User, tokens_fields};
use crate::{
    command_client::{public_actor, send},
    error::respond,
    guards,
};

pub(super) fn signed_in(project: &str, s: SignedIn) -> LoginResponse {
    let (access_token, refresh_token, access_token_expires_at) = tokens_fields(s.tokens);
    LoginResponse {
        success: true,
        access_token,
        refresh_token,
        access_token_expires_at,
        user: Some(User::from_view(s.customer, project, false)),
        is_new_customer: Some(s.new_customer),
        ..Default::default()
    }
}

/// A sign-in's answer: tokens, or the second factor it waits for.
pub(super) fn answered(project: &str, s: SignIn<SignedIn>) -> LoginResponse {
    match s {
        SignIn::SignedIn(s) => signed_in(project, s),
        SignIn::MfaRequired(m) => LoginResponse {
            success: true,
            mfa_required: true,
            mfa_token: Some(m.mfa_token),
            mfa_token_expires_at: Some(DateTime(m.expires_at)),
            mfa_methods: Some(crate::mfa::MfaMethod::all(&m.methods)),
            message: Some("a second factor is required: finish with customerLoginMfa".into()),
            ..Default::default()
        },
    }
}

#[derive(Default)]
pub struct LoginMutation;

#[Object]
impl LoginMutation {
    /// Signs a customer in with email and password.
    async fn customer_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<LoginResponse> {
        respond(
            async {
                guards::rate_limit(ctx, Some(&email))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let s = send(state, &from, LogInWithPassword { email, password }).await?;
                Ok(LoginResponse {
                    is_new_customer: None,
                    ..answered(&rc.project_id, s)
                })
            }
            .await,
        )
    }

    /// Mails a six-digit sign-in code. The answer is the same whether or not
    /// the address has an account: a code is mailed to a customer, or to a
    /// new address when the project allows public registration (using it
    /// signs that address up); otherwise nothing is mailed.
    #[graphql(name = "customerRequestOTP")]
    async fn customer_request_otp(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> Result<OtpRequestResponse> {
        respond(
            async {
                guards::rate_limit(ctx, Some(&email))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let accepted = send(state, &from, RequestOtp { email }).await?;
                Ok(OtpRequestResponse {
                    success: true,
                    expires_at: accepted.expires_at.map(DateTime),
                    message: Some("if this address can sign in, a code is on its way".into()),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    /// Signs in with a code from `customerRequestOTP`.
    #[graphql(name = "customerLoginOTP")]
    async fn customer_login_otp(
        &self,
        ctx: &Context<'_>,
        email: String,
        otp: String,
    ) -> Result<LoginResponse> {
        respond(
            async {
                guards::rate_limit(ctx, Some(&email))?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let s = send(state, &from, LogInWithOtp { email, otp }).await?;
                Ok(answered(&rc.project_id, s))
            }
            .await,
        )
    }
}
