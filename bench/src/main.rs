//! `authd-bench`: see the library for what it measures.

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = authd_bench::run(authd_bench::Args::parse()).await?;
    report.print();
    Ok(())
}
