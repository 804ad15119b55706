//! `customerRecover` (mails a reset link), `customerReset` and
//! `customerResetByUrl` (set a new password with it and sign in), and
//! `customerActivate` / `customerActivateByUrl` (an invited customer sets
//! the first password with the mailed link and signs in).

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::{
    CommandSpec,
    commands::{ActivateCustomer, RequestPasswordReset, ResetPassword},
};

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

#[derive(InputObject)]
pub struct CustomerActivateInput {
    pub activation_token: String,
    pub password: String,
}

/// Payloads of operations that sign the customer in: Shopify names each
/// its own type, with the same fields.
macro_rules! signed_in_payloads {
    ($($name:ident),*) => {$(
        #[derive(SimpleObject, Default)]
        pub struct $name {
            pub customer: Option<Customer>,
            pub customer_access_token: Option<CustomerAccessToken>,
            pub customer_user_errors: Vec<CustomerUserError>,
            pub user_errors: Vec<ShopUserError>,
        }
        refusable!($name);
    )*};
}

signed_in_payloads!(
    CustomerResetPayload,
    CustomerResetByUrlPayload,
    CustomerActivatePayload,
    CustomerActivateByUrlPayload
);

refusable!(CustomerRecoverPayload);

/// A link token from Shopify's split form: the customer `id` and the
/// token alone, or our whole `<id>.<secret>` (whose id must be `id`).
fn joined_token(id: &ID, token: String, field: &[&str]) -> Result<String, Failure> {
    match token.split_once('.') {
        Some((owner, _)) if owner != id.as_str() => Err(CustomerUserError::new(
            field,
            "the token is invalid or has expired",
            CustomerErrorCode::TokenInvalid,
        )
        .into()),
        Some(_) => Ok(token),
        None => Ok(format!("{}.{token}", id.as_str())),
    }
}

/// Sets a password with a mailed link's token and signs in: checks the
/// password (its errors at `password_path`), limits the rate, then sends
/// the command `with_link` makes of the token and the password (a reset
/// or an activation).
async fn set_by_link<C: CommandSpec>(
    ctx: &Context<'_>,
    token: String,
    password: String,
    password_path: &[&str],
    with_link: impl FnOnce(String, String) -> C,
) -> Result<C::Outcome, Failure> {
    let errors = check_password(&password, password_path);
    if !errors.is_empty() {
        return Err(Failure::Input(errors));
    }
    guards::rate_limit(ctx, None)?;
    let (state, rc, _) = super::resolver::request(ctx);
    let from = rc.sender(Actor::Anonymous);
    Ok(send(state, &from, with_link(token, password)).await?)
}

fn activation(token: String, password: String) -> ActivateCustomer {
    ActivateCustomer { token, password }
}

fn reset(token: String, new_password: String) -> ResetPassword {
    ResetPassword {
        token,
        new_password,
        storefront_sign_in: true,
    }
}

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

fn bad_url(field: &str) -> Failure {
    CustomerUserError::new(
        &[field],
        "the URL is invalid or has expired",
        CustomerErrorCode::TokenInvalid,
    )
    .into()
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
                let (state, rc, _) = super::resolver::request(ctx);
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
                let token = joined_token(&id, input.reset_token, &["input", "resetToken"])?;
                let path = &["input", "password"];
                let done = set_by_link(ctx, token, input.password, path, reset).await?;
                Ok(CustomerResetPayload {
                    customer: Some(Customer::from_view(done.customer)),
                    customer_access_token: done
                        .access_token
                        .map(|t| super::resolver::hand_out(ctx, t)),
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
                let token = token_of_url(&reset_url.0).ok_or_else(|| bad_url("resetUrl"))?;
                let done = set_by_link(ctx, token, password, &["password"], reset).await?;
                Ok(CustomerResetByUrlPayload {
                    customer: Some(Customer::from_view(done.customer)),
                    customer_access_token: done
                        .access_token
                        .map(|t| super::resolver::hand_out(ctx, t)),
                    ..Default::default()
                })
            }
            .await,
            paths::reset_by_url,
        )
    }
}

#[derive(Default)]
pub struct ActivationMutation;

#[Object]
impl ActivationMutation {
    /// Activates an invited customer `id` with the token of the mailed
    /// link: sets the first password and signs in.
    async fn customer_activate(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CustomerActivateInput,
    ) -> Result<CustomerActivatePayload> {
        answer(
            async {
                let field = &["input", "activationToken"];
                let token = joined_token(&id, input.activation_token, field)?;
                let path = &["input", "password"];
                let done = set_by_link(ctx, token, input.password, path, activation).await?;
                Ok(CustomerActivatePayload {
                    customer: Some(Customer::from_view(done.customer)),
                    customer_access_token: Some(super::resolver::hand_out(ctx, done.access_token)),
                    ..Default::default()
                })
            }
            .await,
            paths::activate,
        )
    }

    /// `customerActivate` with the link from the mail, as it is.
    async fn customer_activate_by_url(
        &self,
        ctx: &Context<'_>,
        activation_url: Url,
        password: String,
    ) -> Result<CustomerActivateByUrlPayload> {
        answer(
            async {
                let token =
                    token_of_url(&activation_url.0).ok_or_else(|| bad_url("activationUrl"))?;
                let done = set_by_link(ctx, token, password, &["password"], activation).await?;
                Ok(CustomerActivateByUrlPayload {
                    customer: Some(Customer::from_view(done.customer)),
                    customer_access_token: Some(super::resolver::hand_out(ctx, done.access_token)),
                    ..Default::default()
                })
            }
            .await,
            paths::activate_by_url,
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
