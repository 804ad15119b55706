//! Orders from the shop's commerce backend: `orderRecord` (create or
//! replace by `externalId`; the same input twice is one order) and
//! `orderCancel`.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use authd_services::commands::{
    AddressChange, CancelOrder, DiscountAllocationInput, DiscountApplicationInput, LineItemInput,
    OrderInput, OrderOutcome, RecordOrder,
};

use super::resolver::send;
use crate::{
    error::{UserError, payloads, respond},
    public::types::MutationResponse,
    storefront::addresses::MailingAddressInput,
};

#[derive(InputObject)]
pub struct OrderLineItemInput {
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: i32,
    /// The price of one, as a decimal string (`"9.99"`).
    pub price: String,
    /// What the order's discounts took off this line.
    #[graphql(default)]
    pub discount_allocations: Vec<OrderDiscountAllocationInput>,
}

#[derive(InputObject)]
pub struct OrderDiscountAllocationInput {
    /// A decimal string in the order's currency.
    pub amount: String,
    /// Which of the order's `discountApplications` (from 0).
    pub discount_application_index: i32,
}

/// One of Shopify's discount applications.
#[derive(InputObject)]
pub struct OrderDiscountApplicationInput {
    /// `AUTOMATIC`, `DISCOUNT_CODE`, `MANUAL` (the default) or `SCRIPT`.
    pub kind: Option<String>,
    /// Required but for `DISCOUNT_CODE`.
    pub title: Option<String>,
    /// Required for `DISCOUNT_CODE`.
    pub code: Option<String>,
    /// Exactly one of `amount` (a decimal string in the order's currency)
    /// and `percentage` (a decimal string, 0 to 100).
    pub amount: Option<String>,
    pub percentage: Option<String>,
    /// `ACROSS` (the default), `EACH` or `ONE`.
    pub allocation_method: Option<String>,
    /// `ALL` (the default), `ENTITLED` or `EXPLICIT`.
    pub target_selection: Option<String>,
    /// `LINE_ITEM` (the default) or `SHIPPING_LINE`.
    pub target_type: Option<String>,
}

/// One order as the backend knows it. Amounts are decimal strings
/// (`"19.99"`), never floats; `currencyCode` is ISO 4217.
#[derive(InputObject)]
pub struct OrderRecordInput {
    /// The customer's id; or `email` for the customer with that address.
    pub customer_id: Option<ID>,
    pub email: Option<String>,
    /// The backend's own id for the order, unique in the project.
    pub external_id: String,
    /// What the customer sees (`#1001`).
    pub name: String,
    /// RFC 3339.
    pub processed_at: String,
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub currency_code: String,
    pub subtotal_price: Option<String>,
    pub total_tax: Option<String>,
    pub total_shipping: Option<String>,
    pub total_price: String,
    pub status_url: Option<String>,
    pub shipping_address: Option<MailingAddressInput>,
    #[graphql(default)]
    pub line_items: Vec<OrderLineItemInput>,
    #[graphql(default)]
    pub discount_applications: Vec<OrderDiscountApplicationInput>,
}

impl OrderRecordInput {
    pub fn command(self) -> RecordOrder {
        RecordOrder {
            customer_id: self.customer_id.map(|id| id.0),
            email: self.email,
            order: Box::new(OrderInput {
                external_id: self.external_id,
                name: self.name,
                processed_at: self.processed_at,
                financial_status: self.financial_status,
                fulfillment_status: self.fulfillment_status,
                currency_code: self.currency_code,
                subtotal_price: self.subtotal_price,
                total_tax: self.total_tax,
                total_shipping: self.total_shipping,
                total_price: self.total_price,
                status_url: self.status_url,
                shipping_address: self.shipping_address.map(AddressChange::from),
                line_items: self
                    .line_items
                    .into_iter()
                    .map(|l| LineItemInput {
                        title: l.title,
                        variant_title: l.variant_title,
                        sku: l.sku,
                        // A negative count is as invalid as zero.
                        quantity: u32::try_from(l.quantity).unwrap_or(0),
                        price: l.price,
                        discount_allocations: l
                            .discount_allocations
                            .into_iter()
                            .map(|a| DiscountAllocationInput {
                                amount: a.amount,
                                // A negative index names no discount.
                                discount_application_index: u32::try_from(
                                    a.discount_application_index,
                                )
                                .unwrap_or(u32::MAX),
                            })
                            .collect(),
                    })
                    .collect(),
                discount_applications: self
                    .discount_applications
                    .into_iter()
                    .map(|a| DiscountApplicationInput {
                        kind: a.kind,
                        title: a.title,
                        code: a.code,
                        amount: a.amount,
                        percentage: a.percentage,
                        allocation_method: a.allocation_method,
                        target_selection: a.target_selection,
                        target_type: a.target_type,
                    })
                    .collect(),
            }),
        }
    }
}

/// What recording did.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderRecordOutcome {
    Created,
    Replaced,
    /// The same order as recorded: nothing new was written.
    Unchanged,
}

#[derive(SimpleObject, Default)]
pub struct OrderRecordResponse {
    pub success: bool,
    pub message: Option<String>,
    pub customer_id: Option<ID>,
    pub outcome: Option<OrderRecordOutcome>,
    pub errors: Vec<UserError>,
}

payloads!(OrderRecordResponse);

#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Records an order for a customer, or replaces the one with the same
    /// `externalId`.
    async fn order_record(
        &self,
        ctx: &Context<'_>,
        input: OrderRecordInput,
    ) -> Result<OrderRecordResponse> {
        respond(
            send(ctx, input.command())
                .await
                .map(|saved| OrderRecordResponse {
                    success: true,
                    message: Some("order recorded".into()),
                    customer_id: Some(ID(saved.customer_id)),
                    outcome: Some(match saved.outcome {
                        OrderOutcome::Created => OrderRecordOutcome::Created,
                        OrderOutcome::Replaced => OrderRecordOutcome::Replaced,
                        OrderOutcome::Unchanged => OrderRecordOutcome::Unchanged,
                    }),
                    errors: vec![],
                }),
        )
    }

    /// Cancels an order (`reason`: Shopify's `OrderCancelReason`,
    /// `CUSTOMER` `DECLINED` `FRAUD` `INVENTORY` `OTHER` `STAFF`).
    async fn order_cancel(
        &self,
        ctx: &Context<'_>,
        external_id: String,
        reason: String,
    ) -> Result<MutationResponse> {
        let cancel = CancelOrder {
            external_id,
            reason,
        };
        respond(
            send(ctx, cancel)
                .await
                .map(|_| MutationResponse::done("order canceled")),
        )
    }
}
