//! An order's discounts as the backend reports them: Shopify's discount
//! applications (automatic, code, manual or script; an amount or a
//! percentage) and what each took off which line.

use authd_events::{
    DiscountAllocation, DiscountApplication, DiscountKind, DiscountValue, OrderDiscountsSet,
    OrderLineItem,
};
use serde::{Deserialize, Serialize};

use super::{
    amounts::{amount, units},
    text,
};
use crate::error::{DomainError, ProfileProblem};

/// Discount applications one order may carry.
pub const MAX_APPLICATIONS: usize = 100;
/// Allocations one line may carry.
pub const MAX_ALLOCATIONS_PER_LINE: usize = 20;

/// Shopify's `DiscountApplicationAllocationMethod`.
const ALLOCATION_METHODS: &[&str] = &["ACROSS", "EACH", "ONE"];
/// Shopify's `DiscountApplicationTargetSelection`.
const TARGET_SELECTIONS: &[&str] = &["ALL", "ENTITLED", "EXPLICIT"];
/// Shopify's `DiscountApplicationTargetType`.
const TARGET_TYPES: &[&str] = &["LINE_ITEM", "SHIPPING_LINE"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountApplicationInput {
    /// `AUTOMATIC`, `DISCOUNT_CODE`, `MANUAL` (the default) or `SCRIPT`.
    pub kind: Option<String>,
    pub title: Option<String>,
    /// Required for `DISCOUNT_CODE`.
    pub code: Option<String>,
    /// Exactly one of `amount` (in the order's currency) and `percentage`
    /// (0–100), as decimal strings.
    pub amount: Option<String>,
    pub percentage: Option<String>,
    pub allocation_method: Option<String>,
    pub target_selection: Option<String>,
    pub target_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountAllocationInput {
    pub amount: String,
    /// Which of the order's `discountApplications` (from 0).
    pub discount_application_index: u32,
}

fn invalid(field: &'static str) -> DomainError {
    DomainError::Profile {
        field,
        problem: ProfileProblem::Invalid,
    }
}

fn one_of(
    v: &Option<String>,
    allowed: &[&str],
    default: &str,
    field: &'static str,
) -> Result<String, DomainError> {
    let Some(v) = v else {
        return Ok(default.to_string());
    };
    let upper = v.trim().to_ascii_uppercase();
    allowed
        .iter()
        .find(|a| **a == upper)
        .map(|a| a.to_string())
        .ok_or(invalid(field))
}

fn application(a: &DiscountApplicationInput) -> Result<DiscountApplication, DomainError> {
    const F: &str = "discountApplications";
    let kind = match a.kind.as_deref().map(|k| k.trim().to_ascii_uppercase()) {
        None => DiscountKind::Manual,
        Some(k) => match k.as_str() {
            "AUTOMATIC" => DiscountKind::Automatic,
            "DISCOUNT_CODE" => DiscountKind::Code,
            "MANUAL" => DiscountKind::Manual,
            "SCRIPT" => DiscountKind::Script,
            _ => return Err(invalid("discountApplications.kind")),
        },
    };
    let title = match &a.title {
        Some(t) => text::check(t, "discountApplications.title", 255)?,
        None => None,
    };
    let code = match &a.code {
        Some(c) => text::check(c, "discountApplications.code", 255)?,
        None => None,
    };
    match kind {
        DiscountKind::Code if code.is_none() => return Err(invalid("discountApplications.code")),
        DiscountKind::Automatic | DiscountKind::Manual | DiscountKind::Script
            if title.is_none() =>
        {
            return Err(invalid("discountApplications.title"));
        }
        _ => {}
    }
    let value = match (&a.amount, &a.percentage) {
        (Some(given), None) => DiscountValue::Amount(amount(given, "discountApplications.amount")?),
        (None, Some(p)) => {
            let p = amount(p, "discountApplications.percentage")?;
            if units(&p) > 100 * 10_000 {
                return Err(invalid("discountApplications.percentage"));
            }
            DiscountValue::Percentage(p)
        }
        _ => return Err(invalid(F)),
    };
    Ok(DiscountApplication {
        kind,
        title,
        code,
        value,
        allocation_method: one_of(
            &a.allocation_method,
            ALLOCATION_METHODS,
            "ACROSS",
            "discountApplications.allocationMethod",
        )?,
        target_selection: one_of(
            &a.target_selection,
            TARGET_SELECTIONS,
            "ALL",
            "discountApplications.targetSelection",
        )?,
        target_type: one_of(
            &a.target_type,
            TARGET_TYPES,
            "LINE_ITEM",
            "discountApplications.targetType",
        )?,
    })
}

/// The discounts as stored: every application checked, every allocation
/// naming one, and no line discounted below zero.
pub fn checked(
    applications: &[DiscountApplicationInput],
    allocations_per_line: &[Vec<DiscountAllocationInput>],
    lines: &[OrderLineItem],
) -> Result<OrderDiscountsSet, DomainError> {
    if applications.len() > MAX_APPLICATIONS {
        return Err(DomainError::Profile {
            field: "discountApplications",
            problem: ProfileProblem::TooLong(MAX_APPLICATIONS),
        });
    }
    let applications = applications
        .iter()
        .map(application)
        .collect::<Result<Vec<_>, _>>()?;
    let mut allocations = Vec::new();
    for (line, (given, item)) in allocations_per_line.iter().zip(lines).enumerate() {
        const F: &str = "lineItems.discountAllocations";
        if given.len() > MAX_ALLOCATIONS_PER_LINE {
            return Err(DomainError::Profile {
                field: F,
                problem: ProfileProblem::TooLong(MAX_ALLOCATIONS_PER_LINE),
            });
        }
        let mut total = 0;
        for a in given {
            if a.discount_application_index as usize >= applications.len() {
                return Err(invalid(
                    "lineItems.discountAllocations.discountApplicationIndex",
                ));
            }
            let amount = amount(&a.amount, "lineItems.discountAllocations.amount")?;
            total += units(&amount);
            allocations.push(DiscountAllocation {
                line: line as u32,
                application: a.discount_application_index,
                amount,
            });
        }
        if total > units(&item.price) * item.quantity as i128 {
            return Err(invalid("lineItems.discountAllocations.amount"));
        }
    }
    Ok(OrderDiscountsSet {
        applications,
        allocations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: &str, quantity: u32) -> OrderLineItem {
        OrderLineItem {
            title: "Mug".into(),
            variant_title: None,
            sku: None,
            quantity,
            price: price.into(),
        }
    }

    fn code(percentage: &str) -> DiscountApplicationInput {
        DiscountApplicationInput {
            kind: Some("discount_code".into()),
            code: Some(" SPRING ".into()),
            percentage: Some(percentage.into()),
            ..Default::default()
        }
    }

    fn allocation(amount: &str, index: u32) -> DiscountAllocationInput {
        DiscountAllocationInput {
            amount: amount.into(),
            discount_application_index: index,
        }
    }

    #[test]
    fn discounts_are_checked_and_allocated_to_lines() {
        let lines = [line("10.00", 2)];
        let d = checked(&[code("10")], &[vec![allocation("2.00", 0)]], &lines).unwrap();
        assert_eq!(d.applications[0].kind, DiscountKind::Code);
        assert_eq!(d.applications[0].code.as_deref(), Some("SPRING"));
        assert_eq!(
            d.applications[0].value,
            DiscountValue::Percentage("10".into())
        );
        assert_eq!(d.applications[0].allocation_method, "ACROSS");
        assert_eq!(
            d.allocations,
            vec![DiscountAllocation {
                line: 0,
                application: 0,
                amount: "2.00".into()
            }]
        );
        let err = |apps: &[DiscountApplicationInput], allocs: Vec<DiscountAllocationInput>| {
            checked(apps, &[allocs], &lines).unwrap_err()
        };
        assert_eq!(
            err(&[code("100.5")], vec![]),
            invalid("discountApplications.percentage")
        );
        assert!(checked(&[code("100.00")], &[vec![]], &lines).is_ok());
        let neither = DiscountApplicationInput {
            title: Some("Staff".into()),
            ..Default::default()
        };
        assert_eq!(err(&[neither], vec![]), invalid("discountApplications"));
        let untitled = DiscountApplicationInput {
            amount: Some("1".into()),
            ..Default::default()
        };
        assert_eq!(
            err(&[untitled], vec![]),
            invalid("discountApplications.title")
        );
        assert_eq!(
            err(&[code("10")], vec![allocation("1.00", 1)]),
            invalid("lineItems.discountAllocations.discountApplicationIndex")
        );
        assert_eq!(
            err(
                &[code("10")],
                vec![allocation("15.00", 0), allocation("5.01", 0)]
            ),
            invalid("lineItems.discountAllocations.amount")
        );
    }
}
