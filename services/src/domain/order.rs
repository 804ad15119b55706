//! An order the shop's backend reports: what a valid one is (amounts as
//! decimal strings in an ISO 4217 currency, Shopify's statuses, a checked
//! shipping address), recorded whole and replaced by `externalId`, once
//! per content (the same input twice is one order), and canceled.

use authd_events::{
    AggregateKind, Event, OrderCanceled, OrderDiscountsSet, OrderEvent, OrderLineItem,
    OrderRecorded,
};
use serde::{Deserialize, Serialize};

use super::{
    aggregate::{Aggregate, At},
    amounts::amount,
    customer_address::AddressChange,
    customer_state::Address,
    order_discounts::{self, DiscountAllocationInput, DiscountApplicationInput},
    text,
};
use crate::error::{DomainError, ProfileProblem};

/// Shopify's `OrderFinancialStatus`.
pub const FINANCIAL_STATUSES: &[&str] = &[
    "AUTHORIZED",
    "PAID",
    "PARTIALLY_PAID",
    "PARTIALLY_REFUNDED",
    "PENDING",
    "REFUNDED",
    "VOIDED",
];
/// Shopify's `OrderFulfillmentStatus`.
pub const FULFILLMENT_STATUSES: &[&str] = &[
    "FULFILLED",
    "IN_PROGRESS",
    "ON_HOLD",
    "OPEN",
    "PARTIALLY_FULFILLED",
    "PENDING_FULFILLMENT",
    "RESTOCKED",
    "SCHEDULED",
    "UNFULFILLED",
];
/// Shopify's `OrderCancelReason`.
pub const CANCEL_REASONS: &[&str] = &[
    "CUSTOMER",
    "DECLINED",
    "FRAUD",
    "INVENTORY",
    "OTHER",
    "STAFF",
];
/// Line items one order may carry.
pub const MAX_LINE_ITEMS: usize = 250;
const MAX_TEXT: usize = 255;

/// What a backend sends (`orderRecord`): strings as they come, checked
/// by `OrderInput::checked`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderInput {
    pub external_id: String,
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
    pub shipping_address: Option<AddressChange>,
    #[serde(default)]
    pub line_items: Vec<LineItemInput>,
    #[serde(default)]
    pub discount_applications: Vec<DiscountApplicationInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItemInput {
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: u32,
    pub price: String,
    #[serde(default)]
    pub discount_allocations: Vec<DiscountAllocationInput>,
}

fn invalid(field: &'static str) -> DomainError {
    DomainError::Profile {
        field,
        problem: ProfileProblem::Invalid,
    }
}

/// A required text: trimmed, not blank.
fn required(v: &str, field: &'static str) -> Result<String, DomainError> {
    text::check(v, field, MAX_TEXT)?.ok_or(invalid(field))
}

fn optional(v: &Option<String>, field: &'static str) -> Result<Option<String>, DomainError> {
    match v {
        Some(v) => text::check(v, field, MAX_TEXT),
        None => Ok(None),
    }
}

/// One of `allowed`, in any case (`paid` is `PAID`).
fn one_of(v: &str, allowed: &[&str], field: &'static str) -> Result<String, DomainError> {
    let upper = v.trim().to_ascii_uppercase();
    allowed
        .iter()
        .find(|a| **a == upper)
        .map(|a| a.to_string())
        .ok_or(invalid(field))
}

fn status_url(v: &Option<String>) -> Result<Option<String>, DomainError> {
    let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = v.len() <= 2048
        && url::Url::parse(v).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http");
    if ok {
        Ok(Some(v.to_string()))
    } else {
        Err(invalid("statusUrl"))
    }
}

impl OrderInput {
    /// The order's discounts, checked against its lines.
    pub fn checked_discounts(&self, r: &OrderRecorded) -> Result<OrderDiscountsSet, DomainError> {
        let per_line: Vec<Vec<DiscountAllocationInput>> = self
            .line_items
            .iter()
            .map(|l| l.discount_allocations.clone())
            .collect();
        order_discounts::checked(&self.discount_applications, &per_line, &r.line_items)
    }

    /// The order to record for `customer_id`, every field checked.
    pub fn checked(&self, customer_id: &str) -> Result<OrderRecorded, DomainError> {
        let external_id = required(&self.external_id, "externalId")?;
        let processed_at = time::OffsetDateTime::parse(
            self.processed_at.trim(),
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| invalid("processedAt"))?;
        let currency = self.currency_code.trim().to_ascii_uppercase();
        if iso_currency::Currency::from_code(&currency).is_none() {
            return Err(invalid("currencyCode"));
        }
        if self.line_items.len() > MAX_LINE_ITEMS {
            return Err(DomainError::Profile {
                field: "lineItems",
                problem: ProfileProblem::TooLong(MAX_LINE_ITEMS),
            });
        }
        let line_items = self
            .line_items
            .iter()
            .map(|l| {
                if l.quantity == 0 || l.quantity > 1_000_000 {
                    return Err(invalid("lineItems.quantity"));
                }
                Ok(OrderLineItem {
                    title: required(&l.title, "lineItems.title")?,
                    variant_title: optional(&l.variant_title, "lineItems.variantTitle")?,
                    sku: optional(&l.sku, "lineItems.sku")?,
                    quantity: l.quantity,
                    price: amount(&l.price, "lineItems.price")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let shipping_address = match &self.shipping_address {
            Some(a) => Some(Box::new(a.applied_to(&Address::default())?.to_event())),
            None => None,
        };
        Ok(OrderRecorded {
            customer_id: customer_id.to_string(),
            external_id,
            name: required(&self.name, "name")?,
            processed_at: (processed_at.unix_timestamp_nanos() / 1_000_000) as i64,
            financial_status: match &self.financial_status {
                Some(s) => Some(one_of(s, FINANCIAL_STATUSES, "financialStatus")?),
                None => None,
            },
            fulfillment_status: match &self.fulfillment_status {
                Some(s) => one_of(s, FULFILLMENT_STATUSES, "fulfillmentStatus")?,
                None => "UNFULFILLED".into(),
            },
            currency,
            subtotal_price: self
                .subtotal_price
                .as_deref()
                .map(|v| amount(v, "subtotalPrice"))
                .transpose()?,
            total_tax: self
                .total_tax
                .as_deref()
                .map(|v| amount(v, "totalTax"))
                .transpose()?,
            total_shipping: amount(
                self.total_shipping.as_deref().unwrap_or("0.00"),
                "totalShipping",
            )?,
            total_price: amount(&self.total_price, "totalPrice")?,
            status_url: status_url(&self.status_url)?,
            shipping_address,
            line_items,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Order {
    pub recorded: Option<OrderRecorded>,
    pub discounts: OrderDiscountsSet,
    pub canceled: bool,
}

pub enum OrderCommand {
    /// Checked already (`OrderInput::checked`, `checked_discounts`).
    Record(Box<OrderRecorded>, OrderDiscountsSet),
    Cancel {
        reason: String,
    },
}

fn decide(s: &Order, cmd: &OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
    match cmd {
        // The same order again records nothing.
        OrderCommand::Record(r, d) if s.recorded.as_ref() == Some(r) && s.discounts == *d => {
            Ok(vec![])
        }
        // Recorded clears the discounts; DiscountsSet, when there are any,
        // follows it.
        OrderCommand::Record(r, d) => {
            let mut events = vec![OrderEvent::Recorded(r.clone())];
            if *d != OrderDiscountsSet::default() {
                events.push(OrderEvent::DiscountsSet(d.clone()));
            }
            Ok(events)
        }
        OrderCommand::Cancel { reason } => {
            let Some(recorded) = &s.recorded else {
                return Err(DomainError::OrderNotFound);
            };
            if s.canceled {
                return Ok(vec![]);
            }
            Ok(vec![OrderEvent::Canceled(OrderCanceled {
                customer_id: recorded.customer_id.clone(),
                reason: one_of(reason, CANCEL_REASONS, "reason")?,
            })])
        }
    }
}

impl Aggregate for Order {
    const KIND: AggregateKind = AggregateKind::Order;
    type Command = OrderCommand;
    type Event = OrderEvent;

    fn wrap(event: OrderEvent) -> Event {
        Event::Order(event)
    }

    fn decide(&self, command: &OrderCommand, _now: i64) -> Result<Vec<OrderEvent>, DomainError> {
        decide(self, command)
    }

    fn evolve(mut self, event: &Event, _at: At) -> Self {
        match event {
            Event::Order(OrderEvent::Recorded(r)) => {
                self.recorded = Some((**r).clone());
                self.discounts = OrderDiscountsSet::default();
            }
            Event::Order(OrderEvent::DiscountsSet(d)) => self.discounts = d.clone(),
            Event::Order(OrderEvent::Canceled(_)) => self.canceled = true,
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::{T0, check};

    fn input() -> OrderInput {
        OrderInput {
            external_id: " ext-1 ".into(),
            name: "#1001".into(),
            processed_at: "2026-01-01T00:00:00Z".into(),
            financial_status: Some("paid".into()),
            fulfillment_status: None,
            currency_code: "cad".into(),
            total_price: "19.99".into(),
            line_items: vec![LineItemInput {
                title: "Mug".into(),
                quantity: 2,
                price: "9.995".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }
    fn recorded() -> Box<OrderRecorded> {
        Box::new(input().checked("c_1").unwrap())
    }

    #[test]
    fn an_order_is_checked_and_normalized() {
        let r = recorded();
        assert_eq!(r.external_id, "ext-1");
        assert_eq!(r.processed_at, 1_767_225_600_000);
        assert_eq!(r.financial_status.as_deref(), Some("PAID"));
        assert_eq!(r.fulfillment_status, "UNFULFILLED");
        assert_eq!(r.currency, "CAD");
        assert_eq!(r.total_shipping, "0.00");
        for (bad, field) in [
            ("1,000.00", "totalPrice"),
            ("19.", "totalPrice"),
            (".5", "totalPrice"),
            ("NaN", "totalPrice"),
            ("1e3", "totalPrice"),
            ("-1", "totalPrice"),
            ("12345678901234567", "totalPrice"),
        ] {
            let mut i = input();
            i.total_price = bad.into();
            assert_eq!(i.checked("c_1"), Err(invalid(field)), "{bad}");
        }
        let mut i = input();
        i.currency_code = "ABC".into();
        assert_eq!(i.checked("c_1"), Err(invalid("currencyCode")));
    }

    #[test]
    fn the_same_order_twice_is_recorded_once_and_a_change_replaces_it() {
        let first = OrderEvent::Recorded(recorded());
        check::<Order>(
            &[],
            OrderCommand::Record(recorded(), OrderDiscountsSet::default()),
            T0,
            Ok(vec![first.clone()]),
        );
        check::<Order>(
            std::slice::from_ref(&first),
            OrderCommand::Record(recorded(), OrderDiscountsSet::default()),
            T0,
            Ok(vec![]),
        );
        let mut changed = recorded();
        changed.fulfillment_status = "FULFILLED".into();
        check::<Order>(
            &[first],
            OrderCommand::Record(changed.clone(), OrderDiscountsSet::default()),
            T0,
            Ok(vec![OrderEvent::Recorded(changed)]),
        );
    }

    #[test]
    fn only_a_recorded_order_is_canceled_and_only_once() {
        let cancel = || OrderCommand::Cancel {
            reason: "customer".into(),
        };
        check::<Order>(&[], cancel(), T0, Err(DomainError::OrderNotFound));
        let canceled = OrderEvent::Canceled(OrderCanceled {
            customer_id: "c_1".into(),
            reason: "CUSTOMER".into(),
        });
        let given = [OrderEvent::Recorded(recorded())];
        check::<Order>(&given, cancel(), T0, Ok(vec![canceled.clone()]));
        check::<Order>(
            &[OrderEvent::Recorded(recorded()), canceled],
            cancel(),
            T0,
            Ok(vec![]),
        );
        let bogus = OrderCommand::Cancel {
            reason: "BORED".into(),
        };
        check::<Order>(&given, bogus, T0, Err(invalid("reason")));
    }
}
