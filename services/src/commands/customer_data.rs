//! The signed-in customer's own data: mailing addresses. Each command
//! names the caller's session (`session_id`, from the Storefront token),
//! which must still be live when it is decided.

use serde::{Deserialize, Serialize};

pub use crate::domain::customer_address::{Address, AddressChange};

/// `customerAddressCreate`.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateAddress {
    pub session_id: String,
    pub address: AddressChange,
}

/// `customerAddressUpdate`: fields left out are kept.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpdateAddress {
    pub session_id: String,
    pub address_id: String,
    pub address: AddressChange,
}

/// `customerAddressDelete`.
#[derive(Clone, Serialize, Deserialize)]
pub struct DeleteAddress {
    pub session_id: String,
    pub address_id: String,
}

/// `customerDefaultAddressUpdate`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SetDefaultAddress {
    pub session_id: String,
    pub address_id: String,
}

/// An address as stored (the country and province as ISO codes), with
/// its id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressView {
    pub id: String,
    pub is_default: bool,
    pub address: Address,
}

pub use crate::domain::{
    order::{LineItemInput, OrderInput},
    order_discounts::{DiscountAllocationInput, DiscountApplicationInput},
};

/// A shop's backend records an order for a customer (`customer_id`, or
/// the customer with `email`): created, or replaced by its `externalId`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecordOrder {
    pub customer_id: Option<String>,
    pub email: Option<String>,
    pub order: Box<OrderInput>,
}

/// How a `RecordOrder` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderOutcome {
    Created,
    Replaced,
    /// The same order as recorded: nothing new.
    Unchanged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderSaved {
    pub customer_id: String,
    pub outcome: OrderOutcome,
}

/// An admin sets a customer's tags (`customerTagsSet`), the whole list.
#[derive(Clone, Serialize, Deserialize)]
pub struct SetCustomerTags {
    pub customer_id: String,
    pub tags: Vec<String>,
}

/// `orderCancel(externalId, reason)`.
#[derive(Clone, Serialize, Deserialize)]
pub struct CancelOrder {
    pub external_id: String,
    pub reason: String,
}

pub use crate::domain::customer_metafields::MetafieldInput;

/// The signed-in customer sets metafield values (Storefront
/// `customerMetafieldsSet`): READ_WRITE keys only.
#[derive(Clone, Serialize, Deserialize)]
pub struct SetMetafields {
    pub session_id: String,
    pub metafields: Vec<MetafieldInput>,
}

/// An admin sets a customer's metafield values: any declared key.
#[derive(Clone, Serialize, Deserialize)]
pub struct AdminSetMetafields {
    pub customer_id: String,
    pub metafields: Vec<MetafieldInput>,
}

/// One value as stored, with its times (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMetafield {
    pub namespace: String,
    pub key: String,
    pub type_name: String,
    pub value: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The values a write named, as they are after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetafieldsSaved {
    pub metafields: Vec<SavedMetafield>,
}
