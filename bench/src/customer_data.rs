//! The Storefront customer's own data (#21): the account page's query
//! (`defaultAddress`, `addresses`, `orders` with their `lineItems`)
//! against `customer { id email }` in the same run, and paging a customer
//! with many orders by `PROCESSED_AT`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::{Dev, Measured, Row, SLICES, Sample, drive_sample, storefront};

const ACCOUNT: &str = "query A($t: String) { customer(customerAccessToken: $t) {
    defaultAddress { id formatted }
    addresses(first: 10) { nodes { id city country formatted } }
    orders(first: 10) { nodes { id name totalPrice { amount currencyCode }
      lineItems(first: 5) { nodes { title quantity originalTotalPrice { amount } } } } } } }";

impl Dev {
    /// POSTs to the admin API with the dev project's secret key.
    pub(crate) async fn admin(&self, query: &str, vars: Value) -> anyhow::Result<Value> {
        let url = self.url.replace("/graphql/public", "/graphql/admin");
        let req = self
            .http
            .post(url)
            .bearer_auth(&self.admin_key)
            .json(&json!({ "query": query, "variables": vars }));
        Ok(req.send().await?.json().await?)
    }
}

/// Records `n` orders of five lines for `customer`, 32 at a time.
async fn record_orders(dev: &Dev, customer: &str, n: usize) -> anyhow::Result<()> {
    let q = "mutation R($i: OrderRecordInput!) { orderRecord(input: $i) { success errors { message } } }";
    let failed = futures::stream::iter(0..n)
        .map(|i| async move {
            let line = json!({ "title": format!("Item {i}"), "quantity": 2, "price": "9.99" });
            let input = json!({
                "customerId": customer, "externalId": format!("{customer}-{i}"),
                "name": format!("#{}", 1000 + i),
                "processedAt": authd_events::format_millis(1_767_225_600_000 + i as i64 * 60_000),
                "currencyCode": "USD", "totalPrice": "49.95", "financialStatus": "PAID",
                "lineItems": [line.clone(), line.clone(), line.clone(), line.clone(), line],
            });
            let r = dev.admin(q, json!({ "i": input })).await;
            !matches!(r, Ok(v) if v["data"]["orderRecord"]["success"] == true)
        })
        .buffer_unordered(32)
        .filter(|failed| futures::future::ready(*failed))
        .count()
        .await;
    anyhow::ensure!(failed == 0, "{failed} orders were not recorded");
    Ok(())
}

/// The customer's id.
pub(crate) async fn id_of(dev: &Dev, token: &str) -> anyhow::Result<String> {
    let v = dev
        .sf(
            "query Q($t: String) { customer(customerAccessToken: $t) { id } }",
            json!({ "t": token }),
        )
        .await?;
    v["data"]["customer"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no customer: {v}"))
}

pub(crate) async fn figures(
    dev: &Arc<Dev>,
    slice: Duration,
    many_orders: usize,
) -> anyhow::Result<(Vec<Row>, u64)> {
    let token = Arc::new(storefront::create_and_sign_in(dev, "account@shop.example").await?);
    let customer = id_of(dev, &token).await?;
    for (city, country) in [("Ottawa", "CA"), ("Berlin", "DE"), ("Austin", "US")] {
        let q = "mutation C($t: String!, $a: MailingAddressInput!) { customerAddressCreate(customerAccessToken: $t, address: $a) { customerAddress { id } } }";
        let v = dev
            .sf(q, json!({ "t": *token, "a": { "address1": "1 Main St", "city": city, "country": country } }))
            .await?;
        anyhow::ensure!(
            v["data"]["customerAddressCreate"]["customerAddress"]["id"].is_string(),
            "address not created: {v}"
        );
    }
    record_orders(dev, &customer, 10).await?;

    let (d, t) = (dev.clone(), token.clone());
    let account = Arc::new(move |_| {
        let (d, t) = (d.clone(), t.clone());
        async move {
            let r = d.sf(ACCOUNT, json!({ "t": *t })).await;
            matches!(r, Ok(v) if v["data"]["customer"]["orders"]["nodes"].as_array().is_some_and(|o| o.len() == 10))
        }
    });
    let (d, t) = (dev.clone(), token.clone());
    let plain = Arc::new(move |_| {
        let (d, t) = (d.clone(), t.clone());
        async move { storefront::customer(&d, &t).await }
    });
    eprintln!(
        "the account page's query and customer {{ id email }}, alternating in {SLICES} slices…"
    );
    let (mut rich, mut bare): (Sample, Sample) = Default::default();
    for _ in 0..SLICES {
        rich.add(drive_sample(32, slice, account.clone()).await);
        bare.add(drive_sample(32, slice, plain.clone()).await);
    }
    let (rich, bare): (Measured, Measured) = (rich.measured(), bare.measured());
    let mut rows = vec![Row {
        figure: "Storefront account page (addresses, 10 orders × 5 lines)/s".into(),
        value: format!("{:.0}", rich.per_sec),
        latency: rich.latency(),
        baseline: format!("{:.0} customer {{ id email }}/s", bare.per_sec),
        ratio: format!("{:.2}", rich.per_sec / bare.per_sec),
        target: "ratio ≥ 0.5".into(),
    }];

    // One customer with many orders, paged newest first.
    let heavy = storefront::create_and_sign_in(dev, "collector@shop.example").await?;
    let heavy_id = id_of(dev, &heavy).await?;
    eprintln!("recording {many_orders} orders for one customer…");
    record_orders(dev, &heavy_id, many_orders).await?;
    let page = "query P($t: String, $after: String) { customer(customerAccessToken: $t) {
        orders(first: 50, after: $after, sortKey: PROCESSED_AT, reverse: true) {
          nodes { id name processedAt totalPrice { amount } }
          pageInfo { hasNextPage endCursor } } } }";
    let mut latencies = Vec::new();
    let mut after = Value::Null;
    let (mut seen, started) = (0usize, Instant::now());
    loop {
        let t = Instant::now();
        let v = dev.sf(page, json!({ "t": heavy, "after": after })).await?;
        latencies.push(t.elapsed());
        let orders = &v["data"]["customer"]["orders"];
        seen += orders["nodes"].as_array().map_or(0, Vec::len);
        if orders["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = orders["pageInfo"]["endCursor"].clone();
    }
    anyhow::ensure!(seen == many_orders, "paged {seen} of {many_orders} orders");
    let pages = Measured::from(&mut latencies, started.elapsed(), 0);
    rows.push(Row {
        figure: format!("orders by PROCESSED_AT, pages of 50 ({many_orders} orders)"),
        value: format!("{} pages", many_orders.div_ceil(50)),
        latency: pages.latency(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "p99 < 10 ms a page".into(),
    });
    Ok((rows, rich.errors + bare.errors))
}
