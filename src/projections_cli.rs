//! `authd projections rebuild`: asks a running gateway to rebuild its read
//! model from the log beside the live one and swap it in without a pause
//! in service (the operator key, on its admin API), and follows it.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Args)]
pub struct ProjectionsArgs {
    #[command(subcommand)]
    pub command: ProjectionsCmd,
}

#[derive(Subcommand)]
pub enum ProjectionsCmd {
    /// Rebuild a gateway's read model (and audit index) from sequence 1
    /// beside the live one, catch it up, and swap it in while the gateway
    /// serves; the file before is kept as `*.bak` until the next rebuild.
    Rebuild {
        /// The gateway, e.g. http://127.0.0.1:8080 (each gateway keeps its
        /// own read model: rebuild each).
        #[arg(
            long,
            env = "AUTHD_GATEWAY_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        url: String,
        /// The operator key's file (`authd dev`: data/operator.key).
        #[arg(
            long,
            env = "AUTHD_OPERATOR_KEY_FILE",
            default_value = "data/operator.key"
        )]
        operator_key_file: PathBuf,
    },
}

async fn admin(http: &reqwest::Client, url: &str, key: &str, query: &str) -> anyhow::Result<Value> {
    let v: Value = http
        .post(format!("{}/graphql/admin", url.trim_end_matches('/')))
        .bearer_auth(key)
        .json(&json!({ "query": query }))
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {url}"))?
        .json()
        .await
        .context("the gateway did not answer JSON")?;
    if let Some(e) = v["errors"].get(0) {
        anyhow::bail!("{}", e["message"].as_str().unwrap_or("the gateway refused"));
    }
    Ok(v)
}

pub async fn run(args: ProjectionsArgs) -> anyhow::Result<()> {
    let ProjectionsCmd::Rebuild {
        url,
        operator_key_file,
    } = args.command;
    let key = std::fs::read_to_string(&operator_key_file)
        .with_context(|| format!("cannot read {}", operator_key_file.display()))?;
    let key = key.trim();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started = admin(
        &http,
        &url,
        key,
        "mutation { readModelRebuildStart { success message errors { message } } }",
    )
    .await?;
    let started = &started["data"]["readModelRebuildStart"];
    if started["success"] != true {
        anyhow::bail!(
            "{}",
            started["errors"][0]["message"]
                .as_str()
                .unwrap_or("refused")
        );
    }
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, {eta})")
            .expect("a valid template"),
    );
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let v = admin(
            &http,
            &url,
            key,
            "{ readModelRebuild { running done total file error } }",
        )
        .await?;
        let s = &v["data"]["readModelRebuild"];
        let number = |f: &str| {
            s[f].as_str()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        bar.set_length(number("total"));
        bar.set_position(number("done"));
        if s["running"] == false {
            bar.finish_and_clear();
            if let Some(e) = s["error"].as_str() {
                anyhow::bail!("the rebuild failed: {e}");
            }
            println!(
                "{}",
                json!({ "rebuilt": true, "file": s["file"], "events": number("total") })
            );
            return Ok(());
        }
    }
}
