//! A customer's mailing addresses (the Storefront API's `MailingAddress`):
//! every field is personal data, so each travels in a `Personal` wrapper,
//! never in a subject or header.

use serde::{Deserialize, Serialize};

use crate::personal::Personal;

/// One address as stored: checked and normalized by the services (the
/// country as its ISO 3166-1 alpha-2 code, the province as its ISO 3166-2
/// subdivision code where the country has them, the phone in E.164).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailingAddress {
    pub first_name: Option<Personal>,
    pub last_name: Option<Personal>,
    pub company: Option<Personal>,
    pub address1: Option<Personal>,
    pub address2: Option<Personal>,
    pub city: Option<Personal>,
    /// ISO 3166-2 subdivision code without the country (`ON`), or the
    /// text given for a country without subdivisions.
    pub province: Option<Personal>,
    /// ISO 3166-1 alpha-2 (`CA`).
    pub country: Option<Personal>,
    pub zip: Option<Personal>,
    pub phone: Option<Personal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerAddressAdded {
    pub address_id: String,
    /// Boxed: it is the largest event by far (postcard encodes a box as
    /// its content).
    pub address: Box<MailingAddress>,
}

/// The address, whole, as it is from this event on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerAddressUpdated {
    pub address_id: String,
    pub address: Box<MailingAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerAddressRemoved {
    pub address_id: String,
}

/// The customer's default address from now on; `None` when they have none
/// left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultAddressChanged {
    pub address_id: Option<String>,
}
