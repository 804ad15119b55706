//! `currentUser` and `authConfig`.

use async_graphql::{Context, Object, Result};

use super::types::{AuthConfig, User};
use authd_services::ErrorCode;

use crate::{error::ApiError, guards};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The customer the bearer access token belongs to; null without one.
    async fn current_user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (state, rc) = guards::request(ctx);
        // The session and its customer in one read; a session whose
        // customer is gone (erased) is no session.
        let Some((_, row)) = rc.auth.require_with_customer(state).await? else {
            return Ok(None);
        };
        Ok(Some(User::from_row(row)))
    }

    /// Everything authd holds of the signed-in customer, as one JSON
    /// document (`authd.customer-export/1`, see the README's "Data
    /// export"): profile, consents, addresses, orders, metafields,
    /// sessions, linked providers, history. Never a hash, token or code.
    async fn customer_data_export(
        &self,
        ctx: &Context<'_>,
    ) -> Result<async_graphql::Json<serde_json::Value>> {
        let (state, rc) = guards::request(ctx);
        let Some(session) = rc.auth.require(state).await? else {
            return Err(ApiError::unauthenticated("sign in first").into());
        };
        guards::not_restricted(rc)?;
        state.wait_audit().await;
        let doc = crate::export::customer_export(
            &state.read,
            &state.store,
            state.audit_index,
            &rc.project_id,
            &session.customer_id,
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such customer"))?;
        Ok(async_graphql::Json(doc))
    }

    /// How customers of this project may sign in and sign up.
    async fn auth_config(&self, ctx: &Context<'_>) -> Result<AuthConfig> {
        let (state, rc) = guards::request(ctx);
        let project = state
            .read
            .project(&rc.project_id)
            .map_err(ApiError::internal)?;
        let mut config = AuthConfig::from(
            &project
                .as_ref()
                .map(|p| p.config.clone())
                .unwrap_or_default(),
        );
        let enabled = |shopify: bool| {
            project.as_ref().is_some_and(|p| {
                p.providers.providers.iter().any(|q| {
                    q.enabled && matches!(q.kind, authd_events::ProviderKind::Shopify(_)) == shopify
                })
            })
        };
        if let Some(p) = &project {
            config.mfa_required = crate::mfa::MfaRequirement::from_read_model(&p.mfa_required);
            config.webauthn_rp_id = Some(p.webauthn_rp_id.clone()).filter(|id| !id.is_empty());
        }
        if enabled(false) {
            config.auth_methods.push(super::types::AuthMethod::Oauth);
        }
        if enabled(true) {
            config.auth_methods.push(super::types::AuthMethod::Shopify);
        }
        Ok(config)
    }
}
