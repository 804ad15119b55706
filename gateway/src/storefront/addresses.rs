//! `customerAddressCreate`, `customerAddressUpdate`,
//! `customerAddressDelete` and `customerDefaultAddressUpdate`, with
//! Shopify's arguments and payloads.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use authd_events::Actor;
use authd_services::commands::{
    AddressChange, CreateAddress, DeleteAddress, SetDefaultAddress, UpdateAddress,
};

use super::{
    mailing_address::{MailingAddress, address_id},
    session::live_session,
    types::{
        Customer, CustomerErrorCode, CustomerUserError, Failure, ShopUserError, answer, refusable,
    },
};
use authd_services::bus::Sender;

use crate::command_client::send;

/// Every field optional; on an update, a field left out is kept and
/// `null` or `""` removes it. `country` and `province` may be names or
/// codes.
#[derive(InputObject, Default)]
pub struct MailingAddressInput {
    pub address1: MaybeUndefined<String>,
    pub address2: MaybeUndefined<String>,
    pub city: MaybeUndefined<String>,
    pub company: MaybeUndefined<String>,
    pub country: MaybeUndefined<String>,
    pub first_name: MaybeUndefined<String>,
    pub last_name: MaybeUndefined<String>,
    /// E.164, e.g. `+16135551111`.
    pub phone: MaybeUndefined<String>,
    pub province: MaybeUndefined<String>,
    pub zip: MaybeUndefined<String>,
}

impl From<MailingAddressInput> for AddressChange {
    fn from(a: MailingAddressInput) -> Self {
        let f = |v: MaybeUndefined<String>| match v {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        AddressChange {
            first_name: f(a.first_name),
            last_name: f(a.last_name),
            company: f(a.company),
            address1: f(a.address1),
            address2: f(a.address2),
            city: f(a.city),
            province: f(a.province),
            country: f(a.country),
            zip: f(a.zip),
            phone: f(a.phone),
        }
    }
}

#[derive(SimpleObject, Default)]
pub struct CustomerAddressCreatePayload {
    pub customer_address: Option<MailingAddress>,
    pub customer_user_errors: Vec<CustomerUserError>,
    /// Deprecated in Shopify's schema: the same errors, without codes.
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerAddressUpdatePayload {
    pub customer_address: Option<MailingAddress>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerAddressDeletePayload {
    pub deleted_customer_address_id: Option<String>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

#[derive(SimpleObject, Default)]
pub struct CustomerDefaultAddressUpdatePayload {
    pub customer: Option<Customer>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

refusable!(
    CustomerAddressCreatePayload,
    CustomerAddressUpdatePayload,
    CustomerAddressDeletePayload,
    CustomerDefaultAddressUpdatePayload,
);

/// The caller, by the token (argument or carried), and its session.
pub(super) async fn caller(ctx: &Context<'_>, token: &str) -> Result<(Sender, String), Failure> {
    let (state, rc, carried) = super::resolver::request(ctx);
    let token = carried.token(Some(token)).unwrap_or_default();
    let Some(live) = live_session(state, &rc.project_id, token).await? else {
        return Err(CustomerUserError::new(
            &["customerAccessToken"],
            "the customer access token is invalid or has expired",
            CustomerErrorCode::TokenInvalid,
        )
        .into());
    };
    Ok((
        rc.sender(Actor::Customer(live.customer_id)),
        live.session_id,
    ))
}

/// The stored id of an address argument; a malformed one is as unknown
/// as someone else's.
fn stored_id(id: &str, field: &str) -> Result<String, Failure> {
    address_id(id).ok_or_else(|| {
        CustomerUserError::new(
            &[field],
            "the address does not exist",
            CustomerErrorCode::NotFound,
        )
        .into()
    })
}

/// Where a command's refusal of an address field points.
fn address_path(field: &str) -> Option<Vec<String>> {
    match field {
        "token" | "sessionId" => Some(vec!["customerAccessToken".into()]),
        "id" => Some(vec!["id".into()]),
        _ => Some(vec!["address".into(), field.into()]),
    }
}

fn default_path(field: &str) -> Option<Vec<String>> {
    match field {
        "id" => Some(vec!["addressId".into()]),
        _ => address_path(field),
    }
}

#[derive(Default)]
pub struct AddressMutation;

#[Object]
impl AddressMutation {
    /// Adds an address; the customer's first becomes their default.
    async fn customer_address_create(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        address: MailingAddressInput,
    ) -> Result<CustomerAddressCreatePayload> {
        answer(
            async {
                let (from, session_id) = caller(ctx, &customer_access_token).await?;
                let (state, _, _) = super::resolver::request(ctx);
                let create = CreateAddress {
                    session_id,
                    address: address.into(),
                };
                let saved = send(state, &from, create).await?;
                Ok(CustomerAddressCreatePayload {
                    customer_address: Some(MailingAddress::from_view(saved)),
                    ..Default::default()
                })
            }
            .await,
            address_path,
        )
    }

    /// Changes the fields given; the others are kept.
    async fn customer_address_update(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        id: ID,
        address: MailingAddressInput,
    ) -> Result<CustomerAddressUpdatePayload> {
        answer(
            async {
                let (from, session_id) = caller(ctx, &customer_access_token).await?;
                let address_id = stored_id(&id, "id")?;
                let (state, _, _) = super::resolver::request(ctx);
                let update = UpdateAddress {
                    session_id,
                    address_id,
                    address: address.into(),
                };
                let saved = send(state, &from, update).await?;
                Ok(CustomerAddressUpdatePayload {
                    customer_address: Some(MailingAddress::from_view(saved)),
                    ..Default::default()
                })
            }
            .await,
            address_path,
        )
    }

    /// Deleting the default makes the newest remaining address the default.
    async fn customer_address_delete(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        id: ID,
    ) -> Result<CustomerAddressDeletePayload> {
        answer(
            async {
                let (from, session_id) = caller(ctx, &customer_access_token).await?;
                let address_id = stored_id(&id, "id")?;
                let (state, _, _) = super::resolver::request(ctx);
                let delete = DeleteAddress {
                    session_id,
                    address_id,
                };
                send(state, &from, delete).await?;
                Ok(CustomerAddressDeletePayload {
                    deleted_customer_address_id: Some(id.0),
                    ..Default::default()
                })
            }
            .await,
            address_path,
        )
    }

    async fn customer_default_address_update(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        address_id: ID,
    ) -> Result<CustomerDefaultAddressUpdatePayload> {
        answer(
            async {
                let (from, session_id) = caller(ctx, &customer_access_token).await?;
                let stored = stored_id(&address_id, "addressId")?;
                let (state, _, _) = super::resolver::request(ctx);
                let set = SetDefaultAddress {
                    session_id,
                    address_id: stored,
                };
                let customer = send(state, &from, set).await?;
                Ok(CustomerDefaultAddressUpdatePayload {
                    customer: Some(Customer::from_view(customer)),
                    ..Default::default()
                })
            }
            .await,
            default_path,
        )
    }
}
