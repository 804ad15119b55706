//! Orders, as the shop's commerce backend reports them (authd does not
//! sell): one aggregate per order, keyed by a hash of the project's own
//! `externalId`. Amounts are decimal strings as given (`"19.99"`), never
//! floats; the shipping address is personal data.

use serde::{Deserialize, Serialize};

use crate::address::MailingAddress;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The order, whole, as it is from this event on (created or replaced).
    Recorded(Box<OrderRecorded>), // 0
    Canceled(OrderCanceled), // 1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecorded {
    pub customer_id: String,
    /// The backend's id for it, unique in the project.
    pub external_id: String,
    /// What the customer sees (`#1001`).
    pub name: String,
    /// Unix ms.
    pub processed_at: i64,
    /// Shopify's `OrderFinancialStatus` (`PAID`), if known.
    pub financial_status: Option<String>,
    /// Shopify's `OrderFulfillmentStatus` (`FULFILLED`).
    pub fulfillment_status: String,
    /// ISO 4217.
    pub currency: String,
    pub subtotal_price: Option<String>,
    pub total_tax: Option<String>,
    pub total_shipping: String,
    pub total_price: String,
    pub status_url: Option<String>,
    pub shipping_address: Option<Box<MailingAddress>>,
    pub line_items: Vec<OrderLineItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineItem {
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: u32,
    /// The price of one.
    pub price: String,
}

/// The order was canceled (at the message's time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCanceled {
    /// The order's customer (so its history can file it without a lookup).
    pub customer_id: String,
    /// Shopify's `OrderCancelReason` (`CUSTOMER`, `FRAUD`, `INVENTORY`,
    /// `DECLINED`, `STAFF`, `OTHER`).
    pub reason: String,
}
