//! `authd admin import-orders`: a shop's order history from a JSON Lines
//! file, one `orderRecord` input per line (`customerId` or `email`,
//! `externalId`, `name`, `processedAt`, `currencyCode`, `totalPrice`, …),
//! sent as `order.record` commands; a line already recorded as it is
//! records nothing, so an import can be run again.

use std::{io::BufRead, path::Path};

use anyhow::Context as _;
use authd_services::{
    CommandBus,
    commands::{OrderInput, OrderOutcome, RecordOrder},
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin_client::send;

/// Commands in flight at once.
const IN_FLIGHT: usize = 16;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    customer_id: Option<String>,
    email: Option<String>,
    #[serde(flatten)]
    order: OrderInput,
}

/// Imports every line; answers the summary (`imported`, `replaced`,
/// `unchanged`, and `refused` with line numbers and why).
pub(crate) async fn import(bus: &CommandBus, project: &str, file: &Path) -> anyhow::Result<Value> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let lines: Vec<(usize, String)> = reader
        .lines()
        .enumerate()
        .map(|(i, l)| l.map(|l| (i + 1, l)))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", file.display()))?;
    let lines: Vec<(usize, String)> = lines
        .into_iter()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let bar = indicatif::ProgressBar::new(lines.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} orders ({per_sec}, {eta})")
            .expect("a valid template"),
    );
    let results = futures::stream::iter(lines)
        .map(|(n, line)| async move {
            let parsed: Result<Line, _> = serde_json::from_str(&line);
            let outcome = match parsed {
                Err(e) => Err(format!("not an order: {e}")),
                Ok(l) => {
                    let record = RecordOrder {
                        customer_id: l.customer_id,
                        email: l.email,
                        order: Box::new(l.order),
                    };
                    send(bus, project, record)
                        .await
                        .map(|saved| saved.outcome)
                        .map_err(|e| e.to_string())
                }
            };
            (n, outcome)
        })
        .buffered(IN_FLIGHT)
        .inspect(|_| bar.inc(1))
        .collect::<Vec<_>>()
        .await;
    bar.finish_and_clear();
    let count = |o: OrderOutcome| {
        results
            .iter()
            .filter(|(_, r)| r.as_ref().ok() == Some(&o))
            .count()
    };
    let refused: Vec<Value> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| json!({ "line": n, "error": e })))
        .collect();
    Ok(json!({
        "imported": count(OrderOutcome::Created),
        "replaced": count(OrderOutcome::Replaced),
        "unchanged": count(OrderOutcome::Unchanged),
        "refused": refused,
    }))
}
