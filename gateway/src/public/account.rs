//! `currentUser` and `authConfig`.

use async_graphql::{Context, Object, Result};

use super::types::{AuthConfig, User};
use crate::{error::ApiError, guards};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The customer the bearer access token belongs to; null without one.
    async fn current_user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (state, rc) = guards::request(ctx);
        let Some(session) = rc.auth.require(state).await? else {
            return Ok(None);
        };
        let row = state
            .read
            .customer(&rc.project_id, &session.customer_id)
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::unauthenticated("the access token's customer does not exist")
            })?;
        Ok(Some(User::from_row(row)))
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
        if enabled(false) {
            config.auth_methods.push(super::types::AuthMethod::Oauth);
        }
        if enabled(true) {
            config.auth_methods.push(super::types::AuthMethod::Shopify);
        }
        Ok(config)
    }
}
