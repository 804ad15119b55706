//! `authd admin …` against a running stack.

mod common;

use std::process::Command;

use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

fn admin(env: &TestEnv, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args(["admin", "--nats-url", &env.nats.url()])
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_manage_projects_keys_and_customers_from_the_command_line() {
    let env = TestEnv::start().await;
    let p = env.project_id.clone();

    let created = admin(&env, &["create-project", "--name", "CLI shop"]).unwrap();
    assert!(
        created["publicApiKey"]
            .as_str()
            .unwrap()
            .starts_with("pk_test_"),
        "{created}"
    );
    let shown = admin(
        &env,
        &["show-project", created["projectId"].as_str().unwrap()],
    )
    .unwrap();
    assert_eq!(shown["name"], "CLI shop");
    assert_eq!(shown["keys"].as_array().unwrap().len(), 2);

    let configured = admin(
        &env,
        &[
            "configure",
            &p,
            "--public-registration",
            "false",
            "--min-password-length",
            "10",
        ],
    )
    .unwrap();
    assert_eq!(configured["config"]["public_registration"], false);
    let mut seen = json!(null);
    for _ in 0..50 {
        seen = env
            .gql(
                "{ authConfig { publicRegistrationEnabled passwordPolicy { minLength } } }",
                json!({}),
            )
            .await;
        if seen["data"]["authConfig"]["publicRegistrationEnabled"] == false {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["data"]["authConfig"]["passwordPolicy"]["minLength"], 10,
        "{seen}"
    );
    admin(&env, &["configure", &p, "--public-registration", "true"]).unwrap();

    let reg = env.register("ann@example.com", PASSWORD).await;
    let id = reg["user"]["id"].as_str().unwrap();
    admin(&env, &["suspend-customer", &p, id, "--reason", "fraud"]).unwrap();
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["errors"][0]["code"],
        "ACCOUNT_SUSPENDED"
    );
    assert_eq!(
        admin(&env, &["show-customer", &p, id]).unwrap()["status"],
        "SUSPENDED"
    );
    admin(&env, &["reactivate-customer", &p, id]).unwrap();
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["success"],
        true
    );
    admin(&env, &["unlock-customer", &p, id]).unwrap();

    let key = admin(&env, &["issue-key", &p, "--kind", "secret"]).unwrap();
    assert!(key["key"].as_str().unwrap().starts_with("sk_test_"));
    admin(&env, &["revoke-key", &p, key["keyId"].as_str().unwrap()]).unwrap();

    // The customer's whole history, as JSON lines.
    let out = Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args(["events", "--nats-url", &env.nats.url(), "customer", &p, id])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success());
    let types: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["types"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        types[0], "customer.registered,customer.login.succeeded",
        "{types:?}"
    );
    assert!(
        types.contains(&"customer.suspended,customer.sessions.ended".to_string()),
        "{types:?}"
    );
    assert!(
        types.contains(&"customer.reactivated".to_string()),
        "{types:?}"
    );
    let tail = Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args([
            "events",
            "--nats-url",
            &env.nats.url(),
            "tail",
            "--project",
            &p,
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        tail.status.success(),
        "{}",
        String::from_utf8_lossy(&tail.stderr)
    );
    let lines = String::from_utf8_lossy(&tail.stdout).lines().count();
    assert!(lines >= types.len(), "{lines}");

    let err = admin(&env, &["show-customer", &p, "c_nobody"]).unwrap_err();
    assert!(err.contains("no such customer"), "{err}");
    let err = admin(&env, &["suspend-customer", "p_missing", "c_nobody"]).unwrap_err();
    assert!(err.contains("CUSTOMER_NOT_FOUND"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authd_replay_rebuilds_up_to_a_moment_and_refuses_a_bad_one() {
    let env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    let before_bob = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    env.register("bob@example.com", PASSWORD).await;

    let replay = |out: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_authd"))
            .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
            .args(["replay", "--nats-url", &env.nats.url(), "--out"])
            .arg(out)
            .args(extra)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let emails = |db: &std::path::Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut stmt = conn
            .prepare("SELECT email FROM customers ORDER BY email")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };

    let then = env.dir.path().join("then.db");
    let out = replay(&then, &["--until-time", &before_bob]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emails(&then), vec!["ann@example.com"]);

    let now = env.dir.path().join("now.db");
    let out = replay(&now, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(emails(&now), vec!["ann@example.com", "bob@example.com"]);
    let audit_rows = |db: &std::path::Path| {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM audit WHERE type = 'customer.registered'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .ok()
    };
    assert_eq!(audit_rows(&now), None, "no audit tables unless asked");
    let with_audit = env.dir.path().join("with-audit.db");
    let out = replay(&with_audit, &["--audit-index"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(audit_rows(&with_audit), Some(2));

    let bad = env.dir.path().join("bad.db");
    let out = replay(&bad, &["--until-time", "yesterday"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RFC 3339"), "{stderr}");
    assert!(!bad.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_manage_sign_in_providers_from_the_command_line() {
    let env = TestEnv::start().await;
    let p = env.project_id.clone();
    let urls = admin(
        &env,
        &[
            "providers",
            "return-urls",
            &p,
            "https://shop.example/callback",
        ],
    )
    .unwrap();
    assert_eq!(urls["returnUrls"][0], "https://shop.example/callback");
    // The secret comes from the environment, never from the command line.
    let out = Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args([
            "admin",
            "--nats-url",
            &env.nats.url(),
            "providers",
            "save",
            &p,
        ])
        .args([
            "--key",
            "google",
            "--name",
            "Google",
            "--issuer",
            "https://accounts.example",
        ])
        .args([
            "--client-id",
            "client-1",
            "--client-secret-env",
            "IDP_SECRET",
            "--default",
        ])
        .env("IDP_SECRET", "s3cr3t-value")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = saved["id"].as_str().unwrap().to_string();
    let listed = admin(&env, &["providers", "list", &p]).unwrap();
    assert_eq!(listed["providers"][0]["key"], "google", "{listed}");
    assert_eq!(listed["providers"][0]["isDefault"], true, "{listed}");
    assert!(!listed.to_string().contains("s3cr3t"), "{listed}");
    // Customers see it too (once the gateway's read model has it).
    let mut seen = json!(null);
    for _ in 0..50 {
        seen = env
            .gql("{ authProviders { id key type isDefault } }", json!({}))
            .await;
        if seen["data"]["authProviders"][0]["id"] == id.as_str() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen["data"]["authProviders"][0]["id"],
        id.as_str(),
        "{seen}"
    );
    // A new provider needs a secret; an http issuer off this machine is refused.
    let no_secret = admin(
        &env,
        &[
            "providers",
            "save",
            &p,
            "--key",
            "okta",
            "--name",
            "Okta",
            "--issuer",
            "https://okta.example",
            "--client-id",
            "c",
        ],
    );
    assert!(no_secret.unwrap_err().contains("INVALID_INPUT"));
    let plain = admin(
        &env,
        &[
            "providers",
            "save",
            &p,
            "--id",
            &id,
            "--key",
            "google",
            "--name",
            "Google",
            "--issuer",
            "http://accounts.example",
            "--client-id",
            "client-1",
        ],
    );
    assert!(plain.unwrap_err().contains("issuer"));
    // A change without a secret keeps the stored one.
    let renamed = admin(
        &env,
        &[
            "providers",
            "save",
            &p,
            "--id",
            &id,
            "--key",
            "google",
            "--name",
            "Google Workspace",
            "--issuer",
            "https://accounts.example",
            "--client-id",
            "client-1",
        ],
    );
    assert!(renamed.is_ok(), "{renamed:?}");
    let removed = admin(&env, &["providers", "remove", &p, &id]).unwrap();
    assert_eq!(removed["removed"], id.as_str());
    let listed = admin(&env, &["providers", "list", &p]).unwrap();
    assert_eq!(listed["providers"].as_array().unwrap().len(), 0, "{listed}");
}
