//! An order's discounts as Shopify's Storefront API answers them: the
//! `DiscountApplication` interface (automatic, code, manual, script) with
//! a `PricingValue`, `Order.discountApplications` (a Relay connection)
//! and each line's `discountAllocations`.

use async_graphql::{Enum, Interface, SimpleObject, Union};
use authd_events::{DiscountKind, DiscountValue, OrderDiscountsSet};

use super::{
    catalog::{Decimal, MoneyV2},
    mailing_address::{PageInfo, decode_cursor, encode_cursor},
};
use crate::error::ApiError;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountApplicationAllocationMethod {
    Across,
    Each,
    One,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountApplicationTargetSelection {
    All,
    Entitled,
    Explicit,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DiscountApplicationTargetType {
    LineItem,
    ShippingLine,
}

#[derive(SimpleObject, Clone)]
pub struct PricingPercentageValue {
    pub percentage: f64,
}

/// Shopify's `PricingValue`.
#[derive(Union, Clone)]
pub enum PricingValue {
    MoneyV2(MoneyV2),
    PricingPercentageValue(PricingPercentageValue),
}

#[derive(SimpleObject, Clone)]
pub struct AutomaticDiscountApplication {
    pub title: String,
    pub allocation_method: DiscountApplicationAllocationMethod,
    pub target_selection: DiscountApplicationTargetSelection,
    pub target_type: DiscountApplicationTargetType,
    pub value: PricingValue,
}

#[derive(SimpleObject, Clone)]
pub struct DiscountCodeApplication {
    /// Always true: the backend recorded it as applied.
    pub applicable: bool,
    pub code: String,
    pub allocation_method: DiscountApplicationAllocationMethod,
    pub target_selection: DiscountApplicationTargetSelection,
    pub target_type: DiscountApplicationTargetType,
    pub value: PricingValue,
}

#[derive(SimpleObject, Clone)]
pub struct ManualDiscountApplication {
    pub title: String,
    pub description: Option<String>,
    pub allocation_method: DiscountApplicationAllocationMethod,
    pub target_selection: DiscountApplicationTargetSelection,
    pub target_type: DiscountApplicationTargetType,
    pub value: PricingValue,
}

#[derive(SimpleObject, Clone)]
pub struct ScriptDiscountApplication {
    pub title: String,
    pub allocation_method: DiscountApplicationAllocationMethod,
    pub target_selection: DiscountApplicationTargetSelection,
    pub target_type: DiscountApplicationTargetType,
    pub value: PricingValue,
}

#[derive(Interface, Clone)]
#[graphql(
    field(
        name = "allocation_method",
        ty = "&DiscountApplicationAllocationMethod"
    ),
    field(name = "target_selection", ty = "&DiscountApplicationTargetSelection"),
    field(name = "target_type", ty = "&DiscountApplicationTargetType"),
    field(name = "value", ty = "&PricingValue")
)]
pub enum DiscountApplication {
    AutomaticDiscountApplication(AutomaticDiscountApplication),
    DiscountCodeApplication(DiscountCodeApplication),
    ManualDiscountApplication(ManualDiscountApplication),
    ScriptDiscountApplication(ScriptDiscountApplication),
}

#[derive(SimpleObject, Clone)]
pub struct DiscountAllocation {
    pub allocated_amount: MoneyV2,
    pub discount_application: DiscountApplication,
}

#[derive(SimpleObject)]
pub struct DiscountApplicationEdge {
    pub cursor: String,
    pub node: DiscountApplication,
}

#[derive(SimpleObject)]
pub struct DiscountApplicationConnection {
    pub edges: Vec<DiscountApplicationEdge>,
    pub nodes: Vec<DiscountApplication>,
    pub page_info: PageInfo,
}

fn money(amount: &str, currency: &str) -> MoneyV2 {
    MoneyV2 {
        amount: Decimal(amount.to_string()),
        currency_code: currency.to_string(),
    }
}

/// The order's applications, in the order the backend sent them.
pub fn applications(d: &OrderDiscountsSet, currency: &str) -> Vec<DiscountApplication> {
    d.applications
        .iter()
        .map(|a| {
            let allocation_method = match a.allocation_method.as_str() {
                "EACH" => DiscountApplicationAllocationMethod::Each,
                "ONE" => DiscountApplicationAllocationMethod::One,
                _ => DiscountApplicationAllocationMethod::Across,
            };
            let target_selection = match a.target_selection.as_str() {
                "ENTITLED" => DiscountApplicationTargetSelection::Entitled,
                "EXPLICIT" => DiscountApplicationTargetSelection::Explicit,
                _ => DiscountApplicationTargetSelection::All,
            };
            let target_type = match a.target_type.as_str() {
                "SHIPPING_LINE" => DiscountApplicationTargetType::ShippingLine,
                _ => DiscountApplicationTargetType::LineItem,
            };
            let value = match &a.value {
                DiscountValue::Amount(v) => PricingValue::MoneyV2(money(v, currency)),
                DiscountValue::Percentage(p) => {
                    PricingValue::PricingPercentageValue(PricingPercentageValue {
                        percentage: p.parse().unwrap_or(0.0),
                    })
                }
            };
            let title = a.title.clone().unwrap_or_default();
            match a.kind {
                DiscountKind::Automatic => DiscountApplication::AutomaticDiscountApplication(
                    AutomaticDiscountApplication {
                        title,
                        allocation_method,
                        target_selection,
                        target_type,
                        value,
                    },
                ),
                DiscountKind::Code => {
                    DiscountApplication::DiscountCodeApplication(DiscountCodeApplication {
                        applicable: true,
                        code: a.code.clone().unwrap_or_default(),
                        allocation_method,
                        target_selection,
                        target_type,
                        value,
                    })
                }
                DiscountKind::Manual => {
                    DiscountApplication::ManualDiscountApplication(ManualDiscountApplication {
                        title,
                        description: None,
                        allocation_method,
                        target_selection,
                        target_type,
                        value,
                    })
                }
                DiscountKind::Script => {
                    DiscountApplication::ScriptDiscountApplication(ScriptDiscountApplication {
                        title,
                        allocation_method,
                        target_selection,
                        target_type,
                        value,
                    })
                }
            }
        })
        .collect()
}

/// What each discount took off line `line`.
pub fn allocations(
    d: &OrderDiscountsSet,
    applications: &[DiscountApplication],
    line: i64,
    currency: &str,
) -> Vec<DiscountAllocation> {
    d.allocations
        .iter()
        .filter(|a| i64::from(a.line) == line)
        .filter_map(|a| {
            Some(DiscountAllocation {
                allocated_amount: money(&a.amount, currency),
                discount_application: applications.get(a.application as usize)?.clone(),
            })
        })
        .collect()
}

/// A page of the applications, Relay's way (`d:<index>` cursors).
pub fn connection(
    all: Vec<DiscountApplication>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    reverse: bool,
) -> Result<DiscountApplicationConnection, ApiError> {
    let max = super::mailing_address::MAX_PAGE;
    for n in [first, last].into_iter().flatten() {
        if !(0..=max).contains(&n) {
            return Err(ApiError::bad_request(format!(
                "first and last cannot exceed {max}"
            )));
        }
    }
    let cursor = |c: Option<String>| -> Result<Option<usize>, ApiError> {
        c.map(|c| {
            decode_cursor(&c)
                .and_then(|s| s.strip_prefix("d:").and_then(|i| i.parse().ok()))
                .ok_or_else(|| ApiError::bad_request("the cursor is invalid"))
        })
        .transpose()
    };
    let (after, before) = (cursor(after)?, cursor(before)?);
    let mut indexed: Vec<(usize, DiscountApplication)> = all.into_iter().enumerate().collect();
    if reverse {
        indexed.reverse();
    }
    let pos = |i: usize| indexed.iter().position(|(j, _)| *j == i);
    let start = after.and_then(pos).map_or(0, |p| p + 1);
    let end = before.and_then(pos).unwrap_or(indexed.len()).max(start);
    let mut window: Vec<_> = indexed[start..end].to_vec();
    let (mut has_previous, mut has_next) = (start > 0, end < indexed.len());
    if let Some(n) = first {
        has_next |= window.len() > n as usize;
        window.truncate(n as usize);
    }
    if let Some(n) = last {
        let n = n as usize;
        if window.len() > n {
            has_previous = true;
            window.drain(..window.len() - n);
        }
    }
    let edges: Vec<DiscountApplicationEdge> = window
        .into_iter()
        .map(|(i, node)| DiscountApplicationEdge {
            cursor: encode_cursor(&format!("d:{i}")),
            node,
        })
        .collect();
    Ok(DiscountApplicationConnection {
        page_info: PageInfo {
            has_next_page: has_next,
            has_previous_page: has_previous,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        nodes: edges.iter().map(|e| e.node.clone()).collect(),
        edges,
    })
}
