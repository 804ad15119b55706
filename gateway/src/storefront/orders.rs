//! The customer's orders as Shopify's Storefront API answers them:
//! `Customer.orders` (Relay, `sortKey`, Shopify's search `query`,
//! `totalCount`), `numberOfOrders`, and `Order` with `MoneyV2` prices and
//! its `lineItems`.

use async_graphql::{
    ComplexObject, Context, Enum, ID, Result, Scalar, ScalarType, SimpleObject, Value,
};
use authd_projections::{
    read_addresses::Page,
    read_orders::{LineItemRow, OrderPageRequest, OrderRow, OrderSort},
};

use super::{
    catalog::{Decimal, MoneyV2, ProductVariant},
    discounts::{self, DiscountAllocation, DiscountApplication, DiscountApplicationConnection},
    mailing_address::{MailingAddress, PageArgs, PageInfo, decode_cursor, encode_cursor},
    order_search::filters,
    types::{Customer, Url},
};
use crate::{error::ApiError, public::types::DateTime};

pub const ORDER_GID: &str = "gid://authd/Order/";

/// Shopify's `UnsignedInt64`: a count as a string.
pub struct UnsignedInt64(pub u64);

#[Scalar(name = "UnsignedInt64")]
impl ScalarType for UnsignedInt64 {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(Self)
                .map_err(|_| async_graphql::InputValueError::expected_type(value)),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// `price` × `quantity` in the amount's own decimals.
fn times(price: &str, quantity: i64) -> String {
    let (whole, fraction) = price.split_once('.').unwrap_or((price, ""));
    let scale = fraction.len() as u32;
    let units: i128 = format!("{whole}{fraction}").parse().unwrap_or(0);
    let total = units * quantity as i128;
    if scale == 0 {
        return total.to_string();
    }
    let p = 10i128.pow(scale);
    format!(
        "{}.{:0width$}",
        total / p,
        total % p,
        width = scale as usize
    )
}

fn money(amount: &str, currency: &str) -> MoneyV2 {
    MoneyV2 {
        amount: Decimal(amount.to_string()),
        currency_code: currency.to_string(),
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "OrderSortKeys")]
pub enum OrderSortKeys {
    Id,
    ProcessedAt,
    TotalPrice,
    Relevance,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Order {
    pub id: ID,
    pub name: String,
    pub order_number: i64,
    pub processed_at: DateTime,
    pub status_url: Option<Url>,
    pub canceled_at: Option<DateTime>,
    pub cancel_reason: Option<String>,
    pub financial_status: Option<String>,
    pub fulfillment_status: String,
    pub currency_code: String,
    pub subtotal_price: Option<MoneyV2>,
    pub total_tax: Option<MoneyV2>,
    pub total_shipping_price: MoneyV2,
    pub total_price: MoneyV2,
    /// The total as it is now (no refunds are known to authd: the total).
    pub current_total_price: MoneyV2,
    pub shipping_address: Option<MailingAddress>,
    #[graphql(skip)]
    pub stored_id: String,
    #[graphql(skip)]
    pub discounts: authd_events::OrderDiscountsSet,
    /// The order's lines, read with the page's other orders' in one query
    /// when the page asked for them.
    #[graphql(skip)]
    pub lines: Option<Vec<LineItemRow>>,
}

impl Order {
    pub fn from_row(r: OrderRow) -> Self {
        let c = &r.currency;
        let digits: String = r.name.chars().filter(char::is_ascii_digit).collect();
        Self {
            id: ID(format!("{ORDER_GID}{}", r.id)),
            order_number: digits.parse().unwrap_or(0),
            processed_at: DateTime(r.processed_at),
            status_url: r.status_url.clone().map(Url),
            canceled_at: r.canceled_at.map(DateTime),
            cancel_reason: r.cancel_reason.clone(),
            financial_status: r.financial_status.clone(),
            fulfillment_status: r.fulfillment_status.clone(),
            currency_code: c.clone(),
            subtotal_price: r.subtotal_price.as_deref().map(|a| money(a, c)),
            total_tax: r.total_tax.as_deref().map(|a| money(a, c)),
            total_shipping_price: money(&r.total_shipping, c),
            total_price: money(&r.total_price, c),
            current_total_price: money(&r.total_price, c),
            shipping_address: r
                .shipping_address
                .as_deref()
                .and_then(|json| MailingAddress::from_json(&format!("{}-ship", r.id), json)),
            name: r.name,
            stored_id: r.id,
            discounts: r.discounts,
            lines: None,
        }
    }
}

#[derive(SimpleObject)]
pub struct OrderLineItem {
    /// Always null: authd keeps no catalog.
    pub variant: Option<ProductVariant>,
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: i64,
    pub current_quantity: i64,
    pub original_total_price: MoneyV2,
    /// The original total less what discounts took off the line.
    pub discounted_total_price: MoneyV2,
    pub discount_allocations: Vec<DiscountAllocation>,
}

#[derive(SimpleObject)]
pub struct OrderLineItemEdge {
    pub cursor: String,
    pub node: OrderLineItem,
}

#[derive(SimpleObject)]
pub struct OrderLineItemConnection {
    pub edges: Vec<OrderLineItemEdge>,
    pub nodes: Vec<OrderLineItem>,
    pub page_info: PageInfo,
}

/// `total` less the allocations' amounts (never more than it: checked
/// when recorded), in the most decimals any of them has.
fn less(total: &str, allocations: &[DiscountAllocation]) -> String {
    let amounts: Vec<&str> = allocations
        .iter()
        .map(|a| a.allocated_amount.amount.0.as_str())
        .collect();
    let decimals = amounts
        .iter()
        .chain([&total])
        .map(|a| a.split_once('.').map_or(0, |(_, f)| f.len()))
        .max()
        .unwrap_or(0);
    let units = |a: &str| -> i128 {
        let (whole, fraction) = a.split_once('.').unwrap_or((a, ""));
        format!("{whole}{fraction:0<decimals$}")
            .parse()
            .unwrap_or(0)
    };
    let left = (units(total) - amounts.iter().map(|a| units(a)).sum::<i128>()).max(0);
    if decimals == 0 {
        return left.to_string();
    }
    let p = 10i128.pow(decimals as u32);
    format!("{}.{:0decimals$}", left / p, left % p)
}

fn line_item(
    r: &LineItemRow,
    order: &Order,
    applications: &[DiscountApplication],
) -> OrderLineItem {
    let currency = &order.currency_code;
    let total = times(&r.price, r.quantity);
    let discount_allocations =
        discounts::allocations(&order.discounts, applications, r.idx, currency);
    let discounted = if discount_allocations.is_empty() {
        total.clone()
    } else {
        less(&total, &discount_allocations)
    };
    OrderLineItem {
        variant: None,
        title: r.title.clone(),
        variant_title: r.variant_title.clone(),
        sku: r.sku.clone(),
        quantity: r.quantity,
        current_quantity: r.quantity,
        original_total_price: money(&total, currency),
        discounted_total_price: money(&discounted, currency),
        discount_allocations,
    }
}

#[ComplexObject]
impl Order {
    /// The total before any edit (authd knows none: the total).
    async fn original_total_price(&self) -> MoneyV2 {
        self.total_price.clone()
    }

    /// Deprecated: `totalPrice` (Hydrogen's order page asks for it).
    async fn total_price_v2(&self) -> MoneyV2 {
        self.total_price.clone()
    }

    /// Deprecated: `subtotalPrice`.
    async fn subtotal_price_v2(&self) -> Option<MoneyV2> {
        self.subtotal_price.clone()
    }

    /// Deprecated: `totalTax`.
    async fn total_tax_v2(&self) -> Option<MoneyV2> {
        self.total_tax.clone()
    }

    /// Deprecated: `totalShippingPrice`.
    async fn total_shipping_price_v2(&self) -> MoneyV2 {
        self.total_shipping_price.clone()
    }

    /// The discounts the backend recorded, in its order.
    async fn discount_applications(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default_with = "Some(false)")] reverse: Option<bool>,
    ) -> Result<DiscountApplicationConnection> {
        let all = discounts::applications(&self.discounts, &self.currency_code);
        let reverse = reverse.unwrap_or(false);
        Ok(discounts::connection(
            all, first, after, last, before, reverse,
        )?)
    }

    /// The order's lines, in the order the backend sent them.
    async fn line_items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<OrderLineItemConnection> {
        let limit = first.unwrap_or(super::mailing_address::MAX_PAGE);
        if !(0..=super::mailing_address::MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request("first cannot exceed 250").into());
        }
        let after = match after {
            None => None,
            Some(c) => Some(
                decode_cursor(&c)
                    .and_then(|s| s.strip_prefix("l:").and_then(|i| i.parse().ok()))
                    .ok_or_else(|| ApiError::bad_request("the cursor is invalid"))?,
            ),
        };
        let (rows, more) = match &self.lines {
            Some(all) => {
                let mut rows: Vec<LineItemRow> = all
                    .iter()
                    .filter(|r| after.is_none_or(|a| r.idx > a))
                    .take(limit as usize + 1)
                    .cloned()
                    .collect();
                let more = rows.len() > limit as usize;
                rows.truncate(limit as usize);
                (rows, more)
            }
            None => {
                let (state, rc, _) = super::resolver::request(ctx);
                state
                    .read
                    .line_items(&rc.project_id, &self.stored_id, after, limit as u32)
                    .map_err(ApiError::internal)?
            }
        };
        let applications = discounts::applications(&self.discounts, &self.currency_code);
        let edges: Vec<OrderLineItemEdge> = rows
            .iter()
            .map(|r| OrderLineItemEdge {
                cursor: encode_cursor(&format!("l:{}", r.idx)),
                node: line_item(r, self, &applications),
            })
            .collect();
        Ok(OrderLineItemConnection {
            page_info: PageInfo {
                has_next_page: more,
                has_previous_page: after.is_some_and(|a| a >= 0),
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            nodes: rows
                .iter()
                .map(|r| line_item(r, self, &applications))
                .collect(),
            edges,
        })
    }
}

#[derive(SimpleObject)]
pub struct OrderEdge {
    pub cursor: String,
    pub node: Order,
}

#[derive(SimpleObject)]
pub struct OrderConnection {
    pub edges: Vec<OrderEdge>,
    pub nodes: Vec<Order>,
    pub page_info: PageInfo,
    pub total_count: UnsignedInt64,
}

fn order_cursor(sort: OrderSort, key: (i64, i64)) -> String {
    encode_cursor(&format!("o:{sort:?}:{}:{}", key.0, key.1))
}

fn order_key(sort: OrderSort, cursor: &str) -> Result<(i64, i64), ApiError> {
    let invalid = || ApiError::bad_request("the cursor is invalid");
    let s = decode_cursor(cursor).ok_or_else(invalid)?;
    let rest = s
        .strip_prefix(&format!("o:{sort:?}:"))
        .ok_or_else(invalid)?;
    let (a, b) = rest.split_once(':').ok_or_else(invalid)?;
    Ok((
        a.parse().map_err(|_| invalid())?,
        b.parse().map_err(|_| invalid())?,
    ))
}

/// What a page's selection asks for, so nothing else is read or built.
struct Wanted {
    edges: bool,
    nodes: bool,
    total: bool,
    lines: bool,
}

impl Wanted {
    fn of(ctx: &Context<'_>) -> Self {
        let look = ctx.look_ahead();
        let (edges, nodes) = (look.field("edges"), look.field("nodes"));
        Self {
            edges: edges.exists(),
            nodes: nodes.exists(),
            total: look.field("totalCount").exists(),
            lines: nodes.field("lineItems").exists()
                || edges.field("node").field("lineItems").exists(),
        }
    }
}

fn connection(
    sort: OrderSort,
    page: Page<OrderRow>,
    total: u64,
    wanted: &Wanted,
    mut lines: std::collections::HashMap<String, Vec<LineItemRow>>,
) -> OrderConnection {
    let keys: Vec<(i64, i64)> = page.rows.iter().map(|r| r.key).collect();
    let mut build = |r: OrderRow| {
        let mut o = Order::from_row(r);
        if wanted.lines {
            o.lines = Some(lines.remove(&o.stored_id).unwrap_or_default());
        }
        o
    };
    let mut built: Vec<Order> = page.rows.into_iter().map(&mut build).collect();
    let nodes = if wanted.nodes && wanted.edges {
        built.clone()
    } else if wanted.nodes {
        std::mem::take(&mut built)
    } else {
        vec![]
    };
    let edges: Vec<OrderEdge> = built
        .into_iter()
        .zip(keys.iter().copied())
        .map(|(node, key)| OrderEdge {
            cursor: order_cursor(sort, key),
            node,
        })
        .collect();
    OrderConnection {
        page_info: PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            // From the keys: the edges are not built unless asked for.
            start_cursor: keys.first().map(|k| order_cursor(sort, *k)),
            end_cursor: keys.last().map(|k| order_cursor(sort, *k)),
        },
        edges,
        nodes,
        total_count: UnsignedInt64(total),
    }
}

/// `Customer.orders` and `numberOfOrders` (merged into the `Customer`'s
/// fields through `mailing_address`'s `ComplexObject`).
impl Customer {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn order_page(
        &self,
        ctx: &Context<'_>,
        args: PageArgs,
        sort_key: OrderSortKeys,
        query: Option<String>,
    ) -> Result<OrderConnection> {
        let sort = match sort_key {
            OrderSortKeys::Id | OrderSortKeys::Relevance => OrderSort::Id,
            OrderSortKeys::ProcessedAt => OrderSort::ProcessedAt,
            OrderSortKeys::TotalPrice => OrderSort::TotalPrice,
        };
        let (limit, from_end) = args.limits()?;
        let request = OrderPageRequest {
            after: args
                .after
                .as_deref()
                .map(|c| order_key(sort, c))
                .transpose()?,
            before: args
                .before
                .as_deref()
                .map(|c| order_key(sort, c))
                .transpose()?,
            limit,
            from_end,
            reverse: args.reverse,
        };
        let filters = filters(query.as_deref().unwrap_or(""))?;
        let (state, rc, _) = super::resolver::request(ctx);
        let page = state
            .read
            .orders(&rc.project_id, &self.id, sort, &filters, &request)
            .map_err(ApiError::internal)?;
        let wanted = Wanted::of(ctx);
        let total = if wanted.total {
            state
                .read
                .order_count(&rc.project_id, &self.id, &filters)
                .map_err(ApiError::internal)?
        } else {
            0
        };
        let lines = if wanted.lines && !page.rows.is_empty() {
            let ids: Vec<&str> = page.rows.iter().map(|r| r.id.as_str()).collect();
            state
                .read
                .line_items_of(&rc.project_id, &ids)
                .map_err(ApiError::internal)?
        } else {
            Default::default()
        };
        Ok(connection(sort, page, total, &wanted, lines))
    }

    pub(super) async fn order_count(&self, ctx: &Context<'_>) -> Result<UnsignedInt64> {
        let (state, rc, _) = super::resolver::request(ctx);
        let n = state
            .read
            .order_count(&rc.project_id, &self.id, &[])
            .map_err(ApiError::internal)?;
        Ok(UnsignedInt64(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_totals_keep_the_prices_decimals() {
        assert_eq!(times("9.99", 3), "29.97");
        assert_eq!(times("10", 2), "20");
        assert_eq!(times("0.005", 3), "0.015");
    }
}
