//! The TypeScript SDK (`sdk/`, `@authd/storefront-sdk`) built with `tsc`
//! and tested with `node --test` against a real `authd dev` started here:
//! the document's example as written, errors, and every operation.

mod common;

use common::node::{Dev, build_sdk, repo_dir, run_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_builds_and_its_tests_pass_against_authd_dev() {
    build_sdk();
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("data")).await;
    run_in(
        &repo_dir("sdk"),
        "node",
        &["--test", "test/"],
        &[
            (
                "AUTHD_ENDPOINT",
                format!("http://127.0.0.1:{}/graphql/storefront", dev.port),
            ),
            ("AUTHD_API_KEY", dev.key("publicApiKey")),
            // The tests record orders as the shop's backend would.
            ("AUTHD_ADMIN_KEY", dev.key("adminKey")),
            ("AUTHD_OUTBOX", dev.outbox.display().to_string()),
        ],
    );
}
