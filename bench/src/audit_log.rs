//! `auditLog` (#23) for a customer with many events: every page of 50,
//! newest first, timed.

use std::time::Instant;

use serde_json::{Value, json};

use crate::{Dev, Measured, Row, customer_data::id_of, storefront};

pub(crate) async fn figure(dev: &Dev, events: usize) -> anyhow::Result<Row> {
    let token = storefront::create_and_sign_in(dev, "audited@shop.example").await?;
    let customer = id_of(dev, &token).await?;
    eprintln!("recording {events} events for one customer…");
    // Each change of the tags is one event on the customer; one at a time
    // (they are decisions on the same aggregate).
    let set = "mutation T($id: ID!, $tags: [String!]!) { customerTagsSet(id: $id, tags: $tags) { success } }";
    for i in 0..events {
        let tags = [format!("t{}", i % 2)];
        let v = dev
            .admin(set, json!({ "id": customer, "tags": tags }))
            .await?;
        anyhow::ensure!(
            v["data"]["customerTagsSet"]["success"] == true,
            "tags not set: {v}"
        );
    }
    let page = "query A($f: AuditLogFilter, $after: String) {
        auditLog(filter: $f, first: 50, after: $after) {
          nodes { sequence type at actor ip }
          pageInfo { hasNextPage endCursor } } }";
    // The audit index trails the read model by some milliseconds: scan
    // until it holds every event, and time that (last) scan.
    let mut tries = 0;
    let (mut latencies, seen, elapsed) = loop {
        let mut latencies = Vec::new();
        let mut after = Value::Null;
        let (mut seen, started) = (0usize, Instant::now());
        loop {
            let t = Instant::now();
            let v = dev
                .admin(
                    page,
                    json!({ "f": { "customerId": customer }, "after": after }),
                )
                .await?;
            latencies.push(t.elapsed());
            let log = &v["data"]["auditLog"];
            let n = log["nodes"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(n > 0 || seen > 0, "no audit log: {v}");
            seen += n;
            if log["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = log["pageInfo"]["endCursor"].clone();
        }
        tries += 1;
        if seen >= events || tries == 25 {
            break (latencies, seen, started.elapsed());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // The tags' events and the sign-up's.
    anyhow::ensure!(seen >= events, "paged {seen} entries for {events} events");
    let pages = Measured::from(&mut latencies, elapsed, 0);
    Ok(Row {
        figure: format!("auditLog for one customer, pages of 50 ({seen} entries)"),
        value: format!("{} pages", seen.div_ceil(50)),
        latency: pages.latency(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "p99 < 50 ms a page".into(),
    })
}

/// `auditLog(filter: { securityOnly: true })` over a project of `events`
/// synthetic events (one customer in `REPLAY_FAILED_LOGIN_EVERY` failed a
/// sign-in): the first 20 pages of 50, newest first, each timed, with the
/// operator key naming the project.
pub(crate) async fn security_figure(dev: &Dev, project: &str, events: u64) -> anyhow::Result<Row> {
    let Some(operator) = &dev.operator_key else {
        anyhow::bail!("dev-keys.json has no operatorKey");
    };
    let url = dev.url.replace("/graphql/public", "/graphql/admin");
    let page = "query A($after: String) {
        auditLog(filter: { securityOnly: true }, first: 50, after: $after) {
          nodes { sequence type customerId }
          pageInfo { hasNextPage endCursor } } }";
    let (mut latencies, mut seen, mut after) = (Vec::new(), 0usize, Value::Null);
    let started = Instant::now();
    for _ in 0..20 {
        let t = Instant::now();
        let v: Value = dev
            .http
            .post(&url)
            .bearer_auth(operator)
            .header("x-project-id", project)
            .json(&json!({ "query": page, "variables": { "after": after } }))
            .send()
            .await?
            .json()
            .await?;
        latencies.push(t.elapsed());
        let log = &v["data"]["auditLog"];
        let nodes = log["nodes"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("no audit log: {v}"))?;
        anyhow::ensure!(
            nodes.iter().all(|n| n["type"] == "customer.login.failed"),
            "securityOnly answered other types: {v}"
        );
        seen += nodes.len();
        if log["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = log["pageInfo"]["endCursor"].clone();
    }
    anyhow::ensure!(seen > 0, "securityOnly found nothing");
    let pages = Measured::from(&mut latencies, started.elapsed(), 0);
    Ok(Row {
        figure: format!("auditLog securityOnly over a project of {events} events, pages of 50"),
        value: format!("{} pages ({seen} entries)", seen.div_ceil(50)),
        latency: pages.latency(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "p99 < 100 ms a page".into(),
    })
}
