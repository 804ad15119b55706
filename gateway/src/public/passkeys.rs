//! Passkeys (`customerPasskeyRegisterStart`, `…RegisterFinish`, `…Remove`,
//! `customerPasskeyLoginStart`, `…LoginFinish`): WebAuthn options for the
//! browser's `navigator.credentials.create` / `get` (binary fields in
//! base64url, as the browser's JSON form has them), and its answer back
//! as JSON.

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use authd_services::commands::{
    FinishPasskeyLogin, FinishPasskeyRegistration, PasskeyOptions, RemovePasskey,
    StartPasskeyLogin, StartPasskeyRegistration,
};
use serde_json::Value;

use super::mfa::{Access, as_customer};
use super::types::{DateTime, LoginResponse, MutationResponse, Passkey};
use crate::{
    command_client::{public_actor, send},
    error::{ApiError, payloads, respond},
    guards,
};

#[derive(SimpleObject, Default)]
pub struct PasskeyOptionsResponse {
    pub success: bool,
    /// `{ publicKey: … }`: `PublicKeyCredentialCreationOptions` (adding
    /// one) or `…RequestOptions` (signing in), binary fields base64url.
    pub options: Option<Json<Value>>,
    pub message: Option<String>,
    pub errors: Vec<crate::error::UserError>,
}

#[derive(SimpleObject, Default)]
pub struct PasskeyRegisterResponse {
    pub success: bool,
    pub passkey: Option<Passkey>,
    /// With a first second factor: ten single-use recovery codes, shown
    /// this once (as `customerTotpConfirm` answers them).
    pub recovery_codes: Option<Vec<String>>,
    pub message: Option<String>,
    pub errors: Vec<crate::error::UserError>,
}

payloads!(PasskeyOptionsResponse, PasskeyRegisterResponse);

fn options(o: PasskeyOptions) -> Result<PasskeyOptionsResponse, ApiError> {
    let options = serde_json::from_str(&o.options).map_err(ApiError::internal)?;
    Ok(PasskeyOptionsResponse {
        success: true,
        options: Some(Json(options)),
        message: None,
        errors: vec![],
    })
}

#[derive(Default)]
pub struct PasskeyMutation;

#[Object]
impl PasskeyMutation {
    /// Starts adding a passkey for the signed-in customer: the options for
    /// `navigator.credentials.create` (a discoverable credential with user
    /// verification; the customer's passkeys excluded). Good for 5 minutes.
    async fn customer_passkey_register_start(
        &self,
        ctx: &Context<'_>,
    ) -> Result<PasskeyOptionsResponse> {
        respond(
            async {
                let o = as_customer(
                    ctx,
                    Access::Changing { enrolling: true },
                    StartPasskeyRegistration {},
                )
                .await?;
                options(o)
            }
            .await,
        )
    }

    /// The browser's answer (`PublicKeyCredential` as JSON) and a name for
    /// the passkey: from now on it signs the customer in, and counts as a
    /// second factor after a password.
    async fn customer_passkey_register_finish(
        &self,
        ctx: &Context<'_>,
        response: Json<Value>,
        name: Option<String>,
    ) -> Result<PasskeyRegisterResponse> {
        respond(
            async {
                let finish = FinishPasskeyRegistration {
                    response: response.0.to_string(),
                    name,
                };
                let p = as_customer(ctx, Access::Enrolling, finish).await?;
                Ok(PasskeyRegisterResponse {
                    success: true,
                    passkey: Some(Passkey {
                        id: ID(p.id),
                        name: p.name,
                        created_at: DateTime(p.created_at),
                        last_used_at: None,
                        backup_eligible: p.backup_eligible,
                        backed_up: p.backed_up,
                    }),
                    recovery_codes: (!p.recovery_codes.is_empty()).then_some(p.recovery_codes),
                    message: Some("the passkey was added".into()),
                    errors: vec![],
                })
            }
            .await,
        )
    }

    /// Removes one of the signed-in customer's passkeys.
    async fn customer_passkey_remove(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        respond(
            async {
                as_customer(
                    ctx,
                    Access::Changing { enrolling: false },
                    RemovePasskey { id: id.0 },
                )
                .await?;
                Ok(MutationResponse::done("the passkey was removed"))
            }
            .await,
        )
    }

    /// Starts a sign-in with a passkey: with an email, its customer's
    /// passkeys are offered; without one (or for an address with none),
    /// any passkey of this site the browser holds (discoverable).
    async fn customer_passkey_login_start(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
    ) -> Result<PasskeyOptionsResponse> {
        respond(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                options(send(state, &from, StartPasskeyLogin { email }).await?)
            }
            .await,
        )
    }

    /// The browser's answer to `customerPasskeyLoginStart`'s options: a
    /// whole sign-in (the passkey verified the customer).
    async fn customer_passkey_login_finish(
        &self,
        ctx: &Context<'_>,
        response: Json<Value>,
    ) -> Result<LoginResponse> {
        respond(
            async {
                guards::rate_limit(ctx, None)?;
                let (state, rc) = guards::request(ctx);
                let from = rc.sender(public_actor(rc));
                let finish = FinishPasskeyLogin {
                    response: response.0.to_string(),
                };
                let s = send(state, &from, finish).await?;
                Ok(LoginResponse {
                    is_new_customer: None,
                    ..super::login::signed_in(&rc.project_id, s)
                })
            }
            .await,
        )
    }
}
