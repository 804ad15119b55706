//! The benchmark harness in `--quick` mode, on the debug build, so it never
//! rots. It asserts that every figure was measured, nothing about speed.

use authd_bench::{Args, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_benchmark_measures_every_figure() {
    let report = run(Args {
        quick: true,
        authd: Some(env!("CARGO_BIN_EXE_authd").into()),
        ..Args::default()
    })
    .await
    .expect("benchmark run");
    report.print();

    let figures: Vec<&str> = report.rows.iter().map(|r| r.figure.as_str()).collect();
    for wanted in [
        "customerLogin",
        "currentUser",
        "customerRefreshToken",
        "projection lag",
        "resident memory",
        "replay",
        "auditLog",
        "customerRegister",
        "customerErase",
    ] {
        assert!(
            figures.iter().any(|f| f.contains(wanted)),
            "no `{wanted}` row in {figures:?}"
        );
    }
    for row in &report.rows {
        let number: f64 = row
            .value
            .split_whitespace()
            .next()
            .and_then(|n| n.replace(',', "").parse().ok())
            .unwrap_or_else(|| panic!("`{}` has no numeric value: {:?}", row.figure, row.value));
        assert!(number > 0.0, "`{}` measured {number}", row.figure);
    }
    for (figure, errors) in &report.errors {
        assert_eq!(*errors, 0, "{figure} had failed operations");
    }
}

/// `--cluster --quick`: the four figures on three brokers and two
/// gateways, each against one node, all measured without a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_cluster_benchmark_measures_the_four_figures_against_one_node() {
    let report = run(Args {
        quick: true,
        cluster: true,
        authd: Some(env!("CARGO_BIN_EXE_authd").into()),
        ..Args::default()
    })
    .await
    .expect("benchmark run");
    report.print();
    let figures: Vec<&str> = report.rows.iter().map(|r| r.figure.as_str()).collect();
    for wanted in [
        "customerLogin",
        "customerRegister",
        "customerRefreshToken",
        "currentUser",
    ] {
        let row = report
            .rows
            .iter()
            .find(|r| r.figure.starts_with(wanted) && r.figure.contains("3 brokers"))
            .unwrap_or_else(|| panic!("no `{wanted}` cluster row in {figures:?}"));
        let ratio: f64 = row.ratio.parse().unwrap();
        assert!(ratio > 0.0, "{row:?}");
    }
    for (figure, errors) in &report.errors {
        assert_eq!(*errors, 0, "{figure} had failed operations");
    }
}
