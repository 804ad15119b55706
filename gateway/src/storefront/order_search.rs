//! Shopify's search syntax for a customer's orders, as far as this API
//! understands it: terms ANDed, each one of `OrderFilter`.

use authd_projections::read_orders::OrderFilter;

use crate::error::ApiError;

/// The filters of Shopify's search syntax this API understands, ANDed
/// (`processed_at:>=2026-01-01 financial_status:paid`).
pub fn filters(query: &str) -> Result<Vec<OrderFilter>, ApiError> {
    let bad = |term: &str| ApiError::bad_request(format!("unsupported search term: {term}"));
    let mut out = Vec::new();
    for term in query.split_whitespace() {
        if term.eq_ignore_ascii_case("AND") {
            continue;
        }
        let (key, value) = term.split_once(':').ok_or_else(|| bad(term))?;
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        out.push(match key.to_ascii_lowercase().as_str() {
            "processed_at" | "created_at" => {
                let (op, date) = ["<=", ">=", "<", ">", "="]
                    .iter()
                    .find_map(|op| value.strip_prefix(op).map(|d| (*op, d)))
                    .unwrap_or(("=", value));
                OrderFilter::ProcessedAt(op, date_millis(date, op).ok_or_else(|| bad(term))?)
            }
            "financial_status" => OrderFilter::FinancialStatus(value.to_ascii_uppercase()),
            "fulfillment_status" => {
                // Shopify's search says `shipped`/`unshipped` too.
                let v = match value.to_ascii_lowercase().as_str() {
                    "shipped" => "FULFILLED".to_string(),
                    "unshipped" => "UNFULFILLED".to_string(),
                    _ => value.to_ascii_uppercase(),
                };
                OrderFilter::FulfillmentStatus(v)
            }
            "name" => OrderFilter::Name(value.to_string()),
            _ => return Err(bad(term)),
        });
    }
    Ok(out)
}

/// `2026-01-01` (the day's start, or its end for `<=` and `>`) or an RFC
/// 3339 time, as unix ms.
fn date_millis(s: &str, op: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let f = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(s, &f).ok()?;
    let start = day.midnight().assume_utc().unix_timestamp() * 1000;
    Some(if op == "<=" || op == ">" {
        start + 86_400_000 - 1
    } else {
        start
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopifys_search_terms() {
        let f = filters(
            "processed_at:>=2026-01-01 financial_status:paid fulfillment_status:shipped name:#1001",
        )
        .unwrap();
        assert_eq!(
            f,
            [
                OrderFilter::ProcessedAt(">=", 1_767_225_600_000),
                OrderFilter::FinancialStatus("PAID".into()),
                OrderFilter::FulfillmentStatus("FULFILLED".into()),
                OrderFilter::Name("#1001".into()),
            ]
        );
        assert_eq!(
            filters("processed_at:<=2026-01-01").unwrap(),
            [OrderFilter::ProcessedAt("<=", 1_767_311_999_999)]
        );
        assert!(filters("total:>5").is_err());
        assert!(filters("processed_at:>=yesterday").is_err());
        assert!(filters("paid").is_err());
        assert_eq!(filters("").unwrap(), []);
    }
}
