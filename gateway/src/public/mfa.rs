//! Second factors of the signed-in customer (`customerTotpEnroll`,
//! `customerTotpConfirm`, `customerTotpDisable`,
//! `customerRecoveryCodesGenerate`, `customerMfaStatus`), and the sign-in's
//! second step (`customerLoginMfa`).

use async_graphql::{Context, Object, Result, SimpleObject};
use authd_services::commands::{
    ConfirmTotp, DisableTotp, EnrollTotp, GenerateRecoveryCodes, LogInWithMfa, LogInWithMfaPasskey,
};
use authd_services::{CommandError, ErrorCode};

use super::types::{LoginResponse, MfaStatus, MutationResponse};
use crate::{
    command_client::{public_actor, send},
    error::{ApiError, payloads, respond},
    guards,
};

#[derive(SimpleObject, Default)]
pub struct TotpEnrollResponse {
    pub success: bool,
    /// The shared secret in base32, for typing into the app.
    pub secret: Option<String>,
    /// `otpauth://totp/…`, what the QR code holds.
    pub otpauth_url: Option<String>,
    /// The URL as a QR code (an SVG document).
    pub qr_code_svg: Option<String>,
    pub message: Option<String>,
    pub errors: Vec<crate::error::UserError>,
}

#[derive(SimpleObject, Default)]
pub struct RecoveryCodesResponse {
    pub success: bool,
    /// Ten single-use codes, shown this once: each signs in (or removes
    /// the authenticator) in place of a code of the app.
    pub recovery_codes: Option<Vec<String>>,
    pub message: Option<String>,
    pub errors: Vec<crate::error::UserError>,
}

payloads!(TotpEnrollResponse, RecoveryCodesResponse);

#[derive(Default)]
pub struct MfaQuery;

#[Object]
impl MfaQuery {
    /// The signed-in customer's second factors.
    async fn customer_mfa_status(&self, ctx: &Context<'_>) -> Result<MfaStatus> {
        let session = guards::signed_in_to_enroll(ctx).await?;
        let (state, rc) = guards::request(ctx);
        Ok(MfaStatus::of(state, &rc.project_id, &session.customer_id)?)
    }
}

/// What a second-factor operation asks of the caller's session.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Any signed-in session (not one that may only add a factor).
    Signed,
    /// A token that may only add a second factor will do.
    Enrolling,
    /// It adds or removes a factor: a recent sign-in
    /// (`guards::recent_sign_in`); `enrolling` as above.
    Changing { enrolling: bool },
}

/// Sends `command` for the signed-in customer, rate-limited per account,
/// after `access`'s checks.
pub(super) async fn as_customer<C: authd_services::commands::CommandSpec>(
    ctx: &Context<'_>,
    access: Access,
    command: C,
) -> Result<C::Outcome, crate::error::ApiError> {
    let session = match access {
        Access::Enrolling | Access::Changing { enrolling: true } => {
            guards::signed_in_to_enroll(ctx).await?
        }
        Access::Signed | Access::Changing { enrolling: false } => guards::signed_in(ctx).await?,
    };
    if let Access::Changing { .. } = access {
        guards::recent_sign_in(ctx, &session.id)?;
    }
    guards::rate_limit(ctx, Some(&session.customer_id))?;
    let (state, rc) = guards::request(ctx);
    send(state, &rc.sender(public_actor(rc)), command).await
}

#[derive(Default)]
pub struct MfaMutation;

#[Object]
impl MfaMutation {
    /// Starts adding an authenticator app: the secret, its `otpauth://`
    /// URL and QR code. Nothing asks for it until `customerTotpConfirm`.
    async fn customer_totp_enroll(&self, ctx: &Context<'_>) -> Result<TotpEnrollResponse> {
        respond(
            async {
                let e =
                    as_customer(ctx, Access::Changing { enrolling: true }, EnrollTotp {}).await?;
                Ok(TotpEnrollResponse {
                    success: true,
                    qr_code_svg: crate::mfa::qr_code_svg(&e.otpauth_url),
                    secret: Some(e.secret),
                    otpauth_url: Some(e.otpauth_url),
                    message: Some("scan the code, then confirm with a code of the app".into()),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    /// Proves the enrolled app with one of its codes: from now on sign-in
    /// asks for a second factor. Answers the first recovery codes.
    async fn customer_totp_confirm(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<RecoveryCodesResponse> {
        respond(
            async {
                let codes = as_customer(ctx, Access::Enrolling, ConfirmTotp { code }).await?;
                Ok(RecoveryCodesResponse {
                    success: true,
                    recovery_codes: Some(codes.codes),
                    message: Some(
                        "the authenticator app is on; keep the recovery codes safe".into(),
                    ),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    /// Removes the authenticator app, proven with one of its codes or a
    /// recovery code.
    async fn customer_totp_disable(
        &self,
        ctx: &Context<'_>,
        code: Option<String>,
        recovery_code: Option<String>,
    ) -> Result<MutationResponse> {
        respond(
            async {
                let disable = DisableTotp {
                    code,
                    recovery_code,
                };
                as_customer(ctx, Access::Signed, disable).await?;
                Ok(MutationResponse::done("the authenticator app was removed"))
            }
            .await,
        )
    }

    /// A new set of ten recovery codes; the old set stops working.
    async fn customer_recovery_codes_generate(
        &self,
        ctx: &Context<'_>,
    ) -> Result<RecoveryCodesResponse> {
        respond(
            async {
                let codes = as_customer(
                    ctx,
                    Access::Changing { enrolling: false },
                    GenerateRecoveryCodes {},
                )
                .await?;
                Ok(RecoveryCodesResponse {
                    success: true,
                    recovery_codes: Some(codes.codes),
                    message: Some("new recovery codes; the old ones no longer work".into()),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    /// Finishes a sign-in that answered `mfaRequired`: its `mfaToken` and
    /// one of `totp` (a code of the app), `recoveryCode` or
    /// `passkeyResponse` (the browser's answer to the options of
    /// `customerPasskeyLoginStart(email)`).
    async fn customer_login_mfa(
        &self,
        ctx: &Context<'_>,
        mfa_token: String,
        totp: Option<String>,
        recovery_code: Option<String>,
        passkey_response: Option<async_graphql::Json<serde_json::Value>>,
    ) -> Result<LoginResponse> {
        respond(
            async {
                // Guesses count per account too (the token names it).
                let account = mfa_token.split('.').next().filter(|a| a.len() <= 64);
                guards::rate_limit(ctx, account)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let s = match passkey_response {
                    Some(response) if totp.is_none() && recovery_code.is_none() => {
                        let finish = LogInWithMfaPasskey {
                            mfa_token,
                            response: response.0.to_string(),
                        };
                        send(state, &from, finish).await?
                    }
                    Some(_) => {
                        let one = "give one of totp, recoveryCode and passkeyResponse";
                        let e = CommandError::new(ErrorCode::InvalidInput, one);
                        return Err(ApiError::Rejected(e.with_field("passkeyResponse")));
                    }
                    None => {
                        let finish = LogInWithMfa {
                            mfa_token,
                            totp,
                            recovery_code,
                        };
                        send(state, &from, finish).await?
                    }
                };
                Ok(LoginResponse {
                    is_new_customer: None,
                    ..super::login::signed_in(&rc.project_id, s)
                })
            }
            .await,
        )
    }
}
