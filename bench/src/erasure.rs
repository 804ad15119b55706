//! `customerErase` (#22) end to end: customers who signed up and in on
//! the Storefront, each erased through the admin API, one at a time (the
//! answer comes once the gateway's read model has forgotten them), timed.

use std::time::Instant;

use serde_json::json;

use crate::{Dev, Measured, Row, customer_data::id_of, storefront};

pub(crate) async fn figure(dev: &Dev, customers: usize) -> anyhow::Result<Row> {
    eprintln!("erasing {customers} customers, one at a time…");
    let mut ids = Vec::with_capacity(customers);
    for i in 0..customers {
        let token = storefront::create_and_sign_in(dev, &format!("erase{i}@bench.example")).await?;
        ids.push(id_of(dev, &token).await?);
    }
    let erase = "mutation E($id: ID!) { customerErase(id: $id, reason: \"benchmark\") {
        success errors { code } } }";
    let mut latencies = Vec::with_capacity(customers);
    let started = Instant::now();
    for id in &ids {
        let t = Instant::now();
        let v = dev.admin(erase, json!({ "id": id })).await?;
        latencies.push(t.elapsed());
        anyhow::ensure!(
            v["data"]["customerErase"]["success"] == true,
            "not erased: {v}"
        );
    }
    let erased = Measured::from(&mut latencies, started.elapsed(), 0);
    Ok(Row {
        figure: format!("customerErase end to end ({customers} customers, one at a time)"),
        value: format!("{:.1} erasures/s", erased.per_sec),
        latency: erased.latency(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "p99 < 200 ms".into(),
    })
}
