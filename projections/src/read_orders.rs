//! Queries of the customers' orders (the `orders` projection's tables):
//! a Relay page by any of the Storefront's sort keys, filtered by
//! Shopify's search syntax (parsed by the gateway into `OrderFilter`s).

use rusqlite::{OptionalExtension, params_from_iter, types::Value};

use crate::read_addresses::Page;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub id: String,
    pub customer_id: String,
    pub external_id: String,
    pub name: String,
    pub processed_at: i64,
    pub financial_status: Option<String>,
    pub fulfillment_status: String,
    pub currency: String,
    pub subtotal_price: Option<String>,
    pub total_tax: Option<String>,
    pub total_shipping: String,
    pub total_price: String,
    pub status_url: Option<String>,
    pub canceled_at: Option<i64>,
    pub cancel_reason: Option<String>,
    /// JSON of the address's fields.
    pub shipping_address: Option<String>,
    /// Its discount applications and what they took off which line.
    pub discounts: authd_events::OrderDiscountsSet,
    /// The order's place under its sort key, for cursors.
    pub key: (i64, i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItemRow {
    pub idx: i64,
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: i64,
    pub price: String,
}

/// What orders are sorted by (Shopify's `OrderSortKeys`; `RELEVANCE` is
/// `Id`: there is no search ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSort {
    Id,
    ProcessedAt,
    TotalPrice,
}

impl OrderSort {
    fn column(self) -> &'static str {
        match self {
            Self::Id => "position",
            Self::ProcessedAt => "processed_at",
            Self::TotalPrice => "total_price_units",
        }
    }
}

/// One term of a search, all of them ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderFilter {
    /// `processed_at:>=2026-01-01`: the comparison (one of `=`, `<`,
    /// `<=`, `>`, `>=`) and unix ms.
    ProcessedAt(&'static str, i64),
    FinancialStatus(String),
    FulfillmentStatus(String),
    Name(String),
}

/// A page of orders: within the keys strictly after `after` and before
/// `before` in the sort's order, the first `limit` (the last with
/// `from_end`).
#[derive(Debug, Clone, Default)]
pub struct OrderPageRequest {
    pub after: Option<(i64, i64)>,
    pub before: Option<(i64, i64)>,
    pub limit: u32,
    pub from_end: bool,
    pub reverse: bool,
}

const COLUMNS: &str = "id, customer_id, external_id, name, processed_at, financial_status, \
    fulfillment_status, currency, subtotal_price, total_tax, total_shipping, total_price, \
    status_url, canceled_at, cancel_reason, shipping_address, discounts";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
    Ok(OrderRow {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        external_id: r.get(2)?,
        name: r.get(3)?,
        processed_at: r.get(4)?,
        financial_status: r.get(5)?,
        fulfillment_status: r.get(6)?,
        currency: r.get(7)?,
        subtotal_price: r.get(8)?,
        total_tax: r.get(9)?,
        total_shipping: r.get(10)?,
        total_price: r.get(11)?,
        status_url: r.get(12)?,
        canceled_at: r.get(13)?,
        cancel_reason: r.get(14)?,
        shipping_address: r.get(15)?,
        discounts: r
            .get::<_, Option<String>>(16)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        key: (r.get(17)?, r.get(18)?),
    })
}

/// The customer's orders matching `filters`, as SQL over bound values.
fn matching(filters: &[OrderFilter], args: &mut Vec<Value>) -> String {
    let mut sql = String::from("project_id = ?1 AND customer_id = ?2");
    for f in filters {
        let (clause, value): (String, Value) = match f {
            OrderFilter::ProcessedAt(op, at) => (format!("processed_at {op} ?"), (*at).into()),
            OrderFilter::FinancialStatus(s) => ("financial_status = ?".into(), s.clone().into()),
            OrderFilter::FulfillmentStatus(s) => {
                ("fulfillment_status = ?".into(), s.clone().into())
            }
            OrderFilter::Name(n) => ("name = ?".into(), n.clone().into()),
        };
        args.push(value);
        sql.push_str(&format!(" AND {clause}{}", args.len()));
    }
    sql
}

impl crate::read::ReadModel {
    /// A page of the customer's orders.
    pub fn orders(
        &self,
        project: &str,
        customer: &str,
        sort: OrderSort,
        filters: &[OrderFilter],
        page: &OrderPageRequest,
    ) -> rusqlite::Result<Page<OrderRow>> {
        let col = sort.column();
        let (gt, lt, asc, desc) = if page.reverse {
            ("<", ">", "DESC", "ASC")
        } else {
            (">", "<", "ASC", "DESC")
        };
        let order = if page.from_end { desc } else { asc };
        let mut args: Vec<Value> = vec![project.to_string().into(), customer.to_string().into()];
        let base = matching(filters, &mut args);
        let mut window = base.clone();
        let mut bound = |key: (i64, i64), op: &str, args: &mut Vec<Value>| {
            args.push(key.0.into());
            args.push(key.1.into());
            let n = args.len();
            window.push_str(&format!(" AND ({col}, position) {op} (?{}, ?{n})", n - 1));
        };
        if let Some(a) = page.after {
            bound(a, gt, &mut args);
        }
        if let Some(b) = page.before {
            bound(b, lt, &mut args);
        }
        args.push((page.limit as i64 + 1).into());
        let sql = format!(
            "SELECT {COLUMNS}, {col}, position FROM orders WHERE {window}
             ORDER BY {col} {order}, position {order} LIMIT ?{}",
            args.len()
        );
        self.with(|c| {
            let mut rows = c
                .prepare_cached(&sql)?
                .query_map(params_from_iter(args.iter()), row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = rows.len() > page.limit as usize;
            rows.truncate(page.limit as usize);
            if page.from_end {
                rows.reverse();
            }
            // Whether any match lies at or beyond a cursor, on its far side.
            let beyond = |key: Option<(i64, i64)>, op: &str| -> rusqlite::Result<bool> {
                let Some(key) = key else { return Ok(false) };
                let mut args: Vec<Value> =
                    vec![project.to_string().into(), customer.to_string().into()];
                let base = matching(filters, &mut args);
                args.push(key.0.into());
                args.push(key.1.into());
                let n = args.len();
                let sql = format!(
                    "SELECT EXISTS (SELECT 1 FROM orders WHERE {base}
                     AND ({col}, position) {op} (?{}, ?{n}))",
                    n - 1
                );
                c.prepare_cached(&sql)?
                    .query_row(params_from_iter(args.iter()), |r| r.get(0))
            };
            let (le, ge) = if page.reverse {
                (">=", "<=")
            } else {
                ("<=", ">=")
            };
            let (has_previous, has_next) = if page.from_end {
                (more, beyond(page.before, ge)?)
            } else {
                (beyond(page.after, le)?, more)
            };
            Ok(Page {
                rows,
                has_previous,
                has_next,
            })
        })
    }

    /// How many of the customer's orders match `filters`.
    pub fn order_count(
        &self,
        project: &str,
        customer: &str,
        filters: &[OrderFilter],
    ) -> rusqlite::Result<u64> {
        let mut args: Vec<Value> = vec![project.to_string().into(), customer.to_string().into()];
        let base = matching(filters, &mut args);
        self.with(|c| {
            c.prepare_cached(&format!("SELECT COUNT(*) FROM orders WHERE {base}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    /// One of the customer's orders (`None` for anyone else's).
    pub fn order(
        &self,
        project: &str,
        customer: &str,
        id: &str,
    ) -> rusqlite::Result<Option<OrderRow>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS}, position, position FROM orders
                 WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3"
            ))?
            .query_row(rusqlite::params![project, customer, id], row)
            .optional()
        })
    }

    /// The line items of several orders (a page's), in one read: by
    /// order id, each in its order.
    pub fn line_items_of(
        &self,
        project: &str,
        orders: &[&str],
    ) -> rusqlite::Result<std::collections::HashMap<String, Vec<LineItemRow>>> {
        let ids = serde_json::to_string(orders).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            let mut out: std::collections::HashMap<String, Vec<LineItemRow>> =
                std::collections::HashMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT order_id, idx, title, variant_title, sku, quantity, price
                 FROM order_line_items
                 WHERE project_id = ?1 AND order_id IN (SELECT value FROM json_each(?2))
                 ORDER BY order_id, idx",
            )?;
            let mut rows = stmt.query(rusqlite::params![project, ids])?;
            while let Some(r) = rows.next()? {
                out.entry(r.get(0)?).or_default().push(LineItemRow {
                    idx: r.get(1)?,
                    title: r.get(2)?,
                    variant_title: r.get(3)?,
                    sku: r.get(4)?,
                    quantity: r.get(5)?,
                    price: r.get(6)?,
                });
            }
            Ok(out)
        })
    }

    /// An order's line items after index `after`, at most `limit` (and
    /// whether more follow).
    pub fn line_items(
        &self,
        project: &str,
        order: &str,
        after: Option<i64>,
        limit: u32,
    ) -> rusqlite::Result<(Vec<LineItemRow>, bool)> {
        self.with(|c| {
            let mut rows = c
                .prepare_cached(
                    "SELECT idx, title, variant_title, sku, quantity, price FROM order_line_items
                     WHERE project_id = ?1 AND order_id = ?2 AND idx > ?3
                     ORDER BY idx LIMIT ?4",
                )?
                .query_map(
                    rusqlite::params![project, order, after.unwrap_or(-1), limit as i64 + 1],
                    |r| {
                        Ok(LineItemRow {
                            idx: r.get(0)?,
                            title: r.get(1)?,
                            variant_title: r.get(2)?,
                            sku: r.get(3)?,
                            quantity: r.get(4)?,
                            price: r.get(5)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            Ok((rows, more))
        })
    }
}
