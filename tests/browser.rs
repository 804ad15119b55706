//! The example storefront (`examples/storefront/`) in headless Chromium
//! against a real `authd dev` on another origin: sign up, sign in, who am
//! I and sign out through the SDK in cookie mode; `document.cookie` cannot
//! read the session; a page on a third origin posting the same mutation
//! with the cookie is refused. Passkeys (`test/passkeys.test.mjs`) through
//! Chromium's virtual authenticator on the passkey page: added, signed in
//! with (by email and discoverable), a signature counter gone back refused,
//! the same passkey from an origin that is not the project's refused.
//! Screenshots go to the test's output folder.

mod common;

use common::node::{Dev, build_sdk, npm_ci, repo_dir, run_in};
use serde_json::json;

/// Debian's `chromium` (`.ci/run` installs it), or `CHROMIUM`.
fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "no Chromium at {path}: install Debian's package (apt-get install chromium; .ci/run does) \
         or set CHROMIUM"
    );
    path
}

/// The account the passkey test makes.
const PASSKEY_EMAIL: &str = "passkey-owner@example.com";

const CONFIGURE: &str = "mutation C($input: ProjectConfigInput!) {
    projectConfigure(input: $input) { success errors { field message code } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_storefront_works_in_chromium_and_a_third_origin_cannot_use_its_cookie() {
    let chromium = chromium();
    build_sdk();
    let example = repo_dir("examples/storefront");
    npm_ci(&example);
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("data")).await;
    let (shop_port, evil_port) = (
        authd::nats_server::free_port(),
        authd::nats_server::free_port(),
    );
    let (passkey_port, foreign_port) = (
        authd::nats_server::free_port(),
        authd::nats_server::free_port(),
    );
    let shop = format!("http://localhost:{shop_port}");
    let evil = format!("http://localhost:{evil_port}");
    // The shop's project: cookie sessions, its page's origin allowed; its
    // passkey page's origin the one passkey ceremonies may come from (the
    // foreign origin is on the same host, so the browser would sign for it).
    let input = json!({
        "cookieSessions": true,
        "allowedOrigins": [shop],
        "webauthnRpId": "localhost",
        "webauthnOrigins": [format!("http://localhost:{passkey_port}"), shop],
    });
    let r = dev
        .admin(
            &dev.key("adminKey"),
            None,
            CONFIGURE,
            json!({ "input": input }),
        )
        .await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    // Another project allows the third origin, so the browser's preflight
    // passes and the mutation reaches authd: the CSRF check must refuse it.
    let operator = dev.key("operatorKey");
    let created = dev
        .admin(
            &operator,
            None,
            "mutation { projectCreate(name: \"Other shop\") { success projectId } }",
            json!({}),
        )
        .await;
    let other = created["data"]["projectCreate"]["projectId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let input = json!({ "cookieSessions": true, "allowedOrigins": [evil] });
    let r = dev
        .admin(
            &operator,
            Some(&other),
            CONFIGURE,
            json!({ "input": input }),
        )
        .await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");

    let output = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    run_in(
        &example,
        "node",
        &["--test", "test/"],
        &[
            (
                "AUTHD_ENDPOINT",
                format!("http://localhost:{}/graphql/storefront", dev.port),
            ),
            ("AUTHD_API_KEY", dev.key("publicApiKey")),
            ("AUTHD_ADMIN_KEY", dev.key("adminKey")),
            ("SHOP_PORT", shop_port.to_string()),
            ("EVIL_PORT", evil_port.to_string()),
            (
                "AUTHD_PUBLIC_ENDPOINT",
                format!("http://localhost:{}/graphql/public", dev.port),
            ),
            ("AUTHD_PUBLIC_API_KEY", dev.key("publicApiKey")),
            ("PASSKEY_SHOP_PORT", passkey_port.to_string()),
            ("PASSKEY_EMAIL", PASSKEY_EMAIL.to_string()),
            ("FOREIGN_PORT", foreign_port.to_string()),
            ("CHROMIUM", chromium),
            ("OUTPUT_DIR", output.display().to_string()),
        ],
    );
    let shots = [
        "storefront-signed-in.png",
        "storefront-account.png",
        "passkey-registered.png",
        "passkey-signed-in.png",
        "passkey-other-origin.png",
        "storefront-passkey.png",
    ];
    for shot in shots {
        assert!(std::fs::metadata(output.join(shot)).unwrap().len() > 1000);
    }
    println!("screenshots in {}", output.display());

    // Every passkey step is in the customer's history: added (with the
    // recovery codes a first factor brings), used alone and as a second
    // factor, and the counter gone back recorded as a possible clone.
    let history = dev
        .admin(
            &dev.key("adminKey"),
            None,
            "query H($e: String) { customer(email: $e) { events(first: 100) {
                events { type } } } }",
            json!({ "e": PASSKEY_EMAIL }),
        )
        .await;
    let events = history["data"]["customer"]["events"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("customer.passkey.registered"), 1, "{history}");
    assert_eq!(
        count("customer.mfa.recovery_codes_generated"),
        1,
        "{history}"
    );
    // By email, discoverable, and as the second step of a password sign-in.
    assert_eq!(count("customer.passkey.used"), 3, "{history}");
    assert_eq!(count("customer.mfa.passed"), 1, "{history}");
    // The clone (no other step of this account failed; the page saw
    // PASSKEY_POSSIBLY_CLONED).
    assert_eq!(count("customer.mfa.failed"), 1, "{history}");
}
