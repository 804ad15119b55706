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
    /// The order's discounts, whole: they follow `Recorded` in its message
    /// whenever the order has (or had) any.
    DiscountsSet(OrderDiscountsSet), // 2
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

/// Shopify's `DiscountApplication` implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscountKind {
    Automatic, // 0
    Code,      // 1
    Manual,    // 2
    Script,    // 3
}

/// Shopify's `PricingValue`: an amount in the order's currency, or a
/// percentage; both decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscountValue {
    Amount(String),     // 0
    Percentage(String), // 1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountApplication {
    pub kind: DiscountKind,
    /// The automatic, manual or script discount's title.
    pub title: Option<String>,
    /// The code a customer entered (`DiscountKind::Code`).
    pub code: Option<String>,
    pub value: DiscountValue,
    /// Shopify's `DiscountApplicationAllocationMethod` (`ACROSS`).
    pub allocation_method: String,
    /// Shopify's `DiscountApplicationTargetSelection` (`ALL`).
    pub target_selection: String,
    /// Shopify's `DiscountApplicationTargetType` (`LINE_ITEM`).
    pub target_type: String,
}

/// What one discount took off one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountAllocation {
    /// The line's index in `OrderRecorded::line_items`.
    pub line: u32,
    /// The discount's index in `applications`.
    pub application: u32,
    pub amount: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDiscountsSet {
    pub applications: Vec<DiscountApplication>,
    pub allocations: Vec<DiscountAllocation>,
}
