//! The `customer` query, `customerCreate` and `customerUpdate`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::commands::{ProfileChange, RegisterCustomer, UpdateCustomer};

use super::{
    input::{check_email, check_password},
    session::live_session,
    types::{
        Customer, CustomerAccessToken, CustomerErrorCode, CustomerUserError, Failure,
        ShopUserError, answer, paths, refusable,
    },
};
use crate::{command_client::send, error::ApiError, guards};

#[derive(InputObject)]
pub struct CustomerCreateInput {
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// E.164, e.g. `+16135551111`.
    pub phone: Option<String>,
    pub accepts_marketing: Option<bool>,
}

/// Every field optional; `null` removes a name or the phone.
#[derive(InputObject)]
pub struct CustomerUpdateInput {
    pub email: Option<String>,
    pub first_name: MaybeUndefined<String>,
    pub last_name: MaybeUndefined<String>,
    pub password: Option<String>,
    pub phone: MaybeUndefined<String>,
    pub accepts_marketing: Option<bool>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerCreatePayload {
    pub customer: Option<Customer>,
    pub customer_user_errors: Vec<CustomerUserError>,
    /// Deprecated in Shopify's schema: the same errors, without codes.
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerUpdatePayload {
    pub customer: Option<Customer>,
    /// A new password ended every token: this one replaces the caller's.
    pub customer_access_token: Option<CustomerAccessToken>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

refusable!(CustomerCreatePayload, CustomerUpdatePayload);

fn maybe(v: MaybeUndefined<String>) -> Option<Option<String>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(Default)]
pub struct CustomerQuery;

#[Object]
impl CustomerQuery {
    /// The customer of a `customerAccessToken`, from the argument or from
    /// `Authorization: Bearer`; null without a live one.
    async fn customer(
        &self,
        ctx: &Context<'_>,
        customer_access_token: Option<String>,
    ) -> Result<Option<Customer>> {
        let (state, rc, carried) = super::resolver::request(ctx);
        let Some(token) = carried.token(customer_access_token.as_deref()) else {
            return Ok(None);
        };
        let Some(live) = live_session(state, &rc.project_id, token).await? else {
            return Ok(None);
        };
        let row = match live.customer {
            Some(row) => Some(row),
            None => state
                .read
                .customer(&rc.project_id, &live.customer_id)
                .map_err(ApiError::internal)?,
        };
        Ok(row.map(Customer::from_row))
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a customer (it does not sign them in: that is
    /// `customerAccessTokenCreate`).
    async fn customer_create(
        &self,
        ctx: &Context<'_>,
        input: CustomerCreateInput,
    ) -> Result<CustomerCreatePayload> {
        answer(
            async {
                let mut errors = check_email(&input.email, &["input", "email"]);
                errors.extend(check_password(&input.password, &["input", "password"]));
                if !errors.is_empty() {
                    return Err(Failure::Input(errors));
                }
                guards::rate_limit(ctx, Some(&input.email))?;
                let (state, rc, _) = super::resolver::request(ctx);
                let from = rc.sender(Actor::Anonymous);
                let register = RegisterCustomer {
                    email: input.email,
                    password: input.password,
                    profile: ProfileChange {
                        first_name: input.first_name.map(Some),
                        last_name: input.last_name.map(Some),
                        phone: input.phone.map(Some),
                        accepts_marketing: input.accepts_marketing,
                    },
                    sign_in: false,
                };
                let registered = send(state, &from, register).await?;
                Ok(CustomerCreatePayload {
                    customer: Some(Customer::from_view(registered.customer)),
                    ..Default::default()
                })
            }
            .await,
            paths::input,
        )
    }

    /// Changes the signed-in customer's profile, email and password. A new
    /// email must be free; it is unverified until its mailed link is used,
    /// and the old address is told. A new password ends every token (the
    /// one used too) and answers a new one.
    async fn customer_update(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        customer: CustomerUpdateInput,
    ) -> Result<CustomerUpdatePayload> {
        answer(
            async {
                let (state, rc, carried) = super::resolver::request(ctx);
                let token = carried
                    .token(Some(&customer_access_token))
                    .unwrap_or_default();
                let Some(live) = live_session(state, &rc.project_id, token).await? else {
                    return Err(CustomerUserError::new(
                        &["customerAccessToken"],
                        "the customer access token is invalid or has expired",
                        CustomerErrorCode::TokenInvalid,
                    )
                    .into());
                };
                if let Some(p) = &customer.password {
                    let errors = check_password(p, &["customer", "password"]);
                    if !errors.is_empty() {
                        return Err(Failure::Input(errors));
                    }
                    guards::rate_limit(ctx, None)?;
                }
                if let Some(email) = &customer.email {
                    let errors = check_email(email, &["customer", "email"]);
                    if !errors.is_empty() {
                        return Err(Failure::Input(errors));
                    }
                }
                let from = rc.sender(Actor::Customer(live.customer_id.clone()));
                let update = UpdateCustomer {
                    session_id: live.session_id,
                    change: ProfileChange {
                        first_name: maybe(customer.first_name),
                        last_name: maybe(customer.last_name),
                        phone: maybe(customer.phone),
                        accepts_marketing: customer.accepts_marketing,
                    },
                    new_password: customer.password,
                    new_email: customer.email,
                };
                let updated = send(state, &from, update).await?;
                Ok(CustomerUpdatePayload {
                    customer: Some(Customer::from_view(updated.customer)),
                    customer_access_token: updated
                        .access_token
                        .map(|t| super::resolver::hand_out(ctx, t)),
                    ..Default::default()
                })
            }
            .await,
            paths::update,
        )
    }
}
