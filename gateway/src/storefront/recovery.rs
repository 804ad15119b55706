//! `customerRecover` (mails a reset link), `customerReset` and
//! `customerResetByUrl` (set a new password with it and sign in).

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::commands::{PasswordReset, RequestPasswordReset, ResetPassword};

use super::{
    input::{check_email, check_password},
    types::{
        Customer, CustomerAccessToken, CustomerErrorCode, CustomerUserError, Failure,
        ShopUserError, Url, answer, paths, refusable,
    },
};
use crate::{command_client::send, guards};

#[derive(InputObject)]
pub struct CustomerResetInput {
    pub reset_token: String,
    pub password: String,
}

#[derive(SimpleObject, Default)]
pub struct CustomerRecoverPayload {
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerResetPayload {
    pub customer: Option<Customer>,
    pub customer_access_token: Option<CustomerAccessToken>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerResetByUrlPayload {
    pub customer: Option<Customer>,
    pub customer_access_token: Option<CustomerAccessToken>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

refusable!(
    CustomerRecoverPayload,
    CustomerResetPayload,
    CustomerResetByUrlPayload
);

/// The link token (`<customer id>.<secret>`) in a reset URL: the
/// `token` query parameter of the links authd mails, or Shopify's
/// `…/reset/<customer id>/<secret>` path.
pub fn token_of_url(url: &str) -> Option<String> {
    if url.len() > 2048 {
        return None;
    }
    let url = url::Url::parse(url.trim()).ok()?;
    if let Some((_, token)) = url.query_pairs().find(|(k, _)| k == "token") {
        return Some(token.into_owned());
    }
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "reset" | "activate", id, secret] => Some(format!("{id}.{secret}")),
        _ => None,
    }
}

fn bad_url() -> Failure {
    CustomerUserError::new(
        &["resetUrl"],
        "the reset URL is invalid or has expired",
        CustomerErrorCode::TokenInvalid,
    )
    .into()
}

async fn reset(
    ctx: &Context<'_>,
    token: String,
    password: String,
    password_path: &[&str],
) -> Result<PasswordReset, Failure> {
    let errors = check_password(&password, password_path);
    if !errors.is_empty() {
        return Err(Failure::Input(errors));
    }
    guards::rate_limit(ctx, None)?;
    let (state, rc, _) = super::request(ctx);
    let from = rc.sender(Actor::Anonymous);
    let reset = ResetPassword {
        token,
        new_password: password,
        storefront_sign_in: true,
    };
    Ok(send(state, &from, reset).await?)
}

#[derive(Default)]
pub struct RecoveryMutation;

#[Object]
impl RecoveryMutation {
    /// Mails a password-reset link. The answer is the same whether or not
    /// the address has an account.
    async fn customer_recover(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> Result<CustomerRecoverPayload> {
        answer(
            async {
                let errors = check_email(&email, &["email"]);
                if !errors.is_empty() {
                    return Err(Failure::Input(errors));
                }
                guards::rate_limit(ctx, Some(&email))?;
                let (state, rc, _) = super::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                send(state, &from, RequestPasswordReset { email }).await?;
                Ok(CustomerRecoverPayload::default())
            }
            .await,
            paths::email,
        )
    }

    /// Sets a new password with the reset token of customer `id`, ends
    /// every session, and signs in.
    async fn customer_reset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CustomerResetInput,
    ) -> Result<CustomerResetPayload> {
        answer(
            async {
                // The token alone, or the whole `<id>.<secret>` of our links.
                let token = match input.reset_token.split_once('.') {
                    Some((owner, _)) if owner != id.as_str() => {
                        return Err(CustomerUserError::new(
                            &["input", "resetToken"],
                            "the reset token is invalid or has expired",
                            CustomerErrorCode::TokenInvalid,
                        )
                        .into());
                    }
                    Some(_) => input.reset_token,
                    None => format!("{}.{}", id.as_str(), input.reset_token),
                };
                let done = reset(ctx, token, input.password, &["input", "password"]).await?;
                Ok(CustomerResetPayload {
                    customer: Some(Customer::from_view(done.customer)),
                    customer_access_token: done.access_token.map(|t| super::hand_out(ctx, t)),
                    ..Default::default()
                })
            }
            .await,
            paths::reset,
        )
    }

    /// `customerReset` with the link from the mail, as it is.
    async fn customer_reset_by_url(
        &self,
        ctx: &Context<'_>,
        reset_url: Url,
        password: String,
    ) -> Result<CustomerResetByUrlPayload> {
        answer(
            async {
                let token = token_of_url(&reset_url.0).ok_or_else(bad_url)?;
                let done = reset(ctx, token, password, &["password"]).await?;
                Ok(CustomerResetByUrlPayload {
                    customer: Some(Customer::from_view(done.customer)),
                    customer_access_token: done.access_token.map(|t| super::hand_out(ctx, t)),
                    ..Default::default()
                })
            }
            .await,
            paths::reset_by_url,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::token_of_url;

    #[test]
    fn reset_urls_of_both_shapes_give_the_link_token() {
        assert_eq!(
            token_of_url("https://shop.example/account/reset?token=c_1.abc").as_deref(),
            Some("c_1.abc")
        );
        assert_eq!(
            token_of_url("https://shop.example/account/reset/c_1/abc").as_deref(),
            Some("c_1.abc")
        );
        assert_eq!(token_of_url("https://shop.example/account"), None);
        assert_eq!(token_of_url("not a url"), None);
        assert_eq!(
            token_of_url(&format!("https://x.example/?token={}", "a".repeat(3000))),
            None
        );
    }
}
