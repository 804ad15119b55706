//! The read path: `currentUser` and the Storefront's `customer` (each a
//! token check, the API key and the session with its customer) against a
//! bare axum endpoint of the same build, alternating in slices.

use std::{path::Path, sync::Arc, time::Duration};

use serde_json::json;

use crate::{
    Dev, Measured, Row, SLICES, Sample, drive_sample, register_and_login, start_baseline,
    storefront,
};

/// Both figures' rows, and each one's measurement (for its errors).
pub(crate) async fn figures(
    authd: &Path,
    dev: &Arc<Dev>,
    slice: Duration,
) -> anyhow::Result<(Vec<Row>, Measured, Measured)> {
    let mut rows = Vec::new();
    // currentUser at 32 against a bare axum endpoint of the same build,
    // alternating.
    let (access, _) = register_and_login(dev, "reader@bench.example").await?;
    let d = dev.clone();
    let token = Arc::new(access);
    let read_work = Arc::new(move |_| {
        let (d, token) = (d.clone(), token.clone());
        async move {
            let r = d
                .gql(Some(&token), "{ currentUser { id email } }", json!({}))
                .await;
            matches!(r, Ok(v) if v["data"]["currentUser"]["id"].is_string())
        }
    });
    let (_baseline, base_url) = start_baseline(authd, None).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let bare_work = Arc::new(move |_| {
        let (http, url) = (http.clone(), base_url.clone());
        async move {
            let r = http
                .post(&url)
                .json(&json!({ "query": "{ currentUser { id email } }" }))
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    });
    let shop_token = Arc::new(storefront::create_and_sign_in(dev, "reader@shop.example").await?);
    let d = dev.clone();
    let shop_work = Arc::new(move |_| {
        let (d, token) = (d.clone(), shop_token.clone());
        async move { storefront::customer(&d, &token).await }
    });
    eprintln!(
        "currentUser, the Storefront's customer and bare axum, alternating in {SLICES} slices…"
    );
    let (mut reads, mut shop, mut bare) = Default::default();
    for _ in 0..SLICES {
        Sample::add(&mut reads, drive_sample(32, slice, read_work.clone()).await);
        Sample::add(&mut shop, drive_sample(32, slice, shop_work.clone()).await);
        Sample::add(&mut bare, drive_sample(32, slice, bare_work.clone()).await);
    }
    let (reads, shop, bare): (Measured, Measured, Measured) =
        (reads.measured(), shop.measured(), bare.measured());
    rows.push(Row {
        figure: "currentUser/s (concurrency 32)".into(),
        value: format!("{:.0}", reads.per_sec),
        latency: reads.latency(),
        baseline: format!("{:.0} bare axum/s", bare.per_sec),
        ratio: format!("{:.2}", reads.per_sec / bare.per_sec),
        target: "ratio ≥ 0.60".into(),
    });
    rows.push(Row {
        figure: "Storefront customer/s (concurrency 32)".into(),
        value: format!("{:.0}", shop.per_sec),
        latency: shop.latency(),
        baseline: format!(
            "{:.0} bare axum/s; {:.2} × currentUser",
            bare.per_sec,
            shop.per_sec / reads.per_sec
        ),
        ratio: format!("{:.2}", shop.per_sec / bare.per_sec),
        target: "ratio ≥ 0.70".into(),
    });
    Ok((rows, reads, shop))
}
