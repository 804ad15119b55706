//! Personal data gone from disk (#22), searched for in the files
//! themselves: what nats-server keeps in its store directory after a
//! mail job is done with; against a real gateway, services, mailer,
//! nats-server and SMTP server.

mod common;

use std::time::Duration;

use common::{
    PASSWORD, TestEnv,
    disk::{files, holding},
    smtp::{REFUSED_DOMAIN, token_in},
};
use serde_json::json;

const RESET: &str =
    "mutation R($email: String!) { customerRequestPasswordReset(email: $email) { success } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivered_mail_job_is_erased_from_the_brokers_files() {
    let env = TestEnv::start_with_mail().await;
    let store = env.dir.path().join("nats");
    let waiting = format!("bob{REFUSED_DOMAIN}");
    env.register(&waiting, PASSWORD).await;
    env.register("ann@example.com", PASSWORD).await;
    // Bob's relay refuses (451): his jobs wait in the queue, beside Ann's.
    for email in [waiting.as_str(), "ann@example.com"] {
        let r = env.gql(RESET, json!({ "email": email })).await;
        assert_eq!(
            r["data"]["customerRequestPasswordReset"]["success"], true,
            "{r}"
        );
    }
    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(
        mail.text.contains("?token="),
        "the reset mail: {}",
        mail.text
    );
    let token = token_in(&mail);
    assert!(token.len() > 20, "{token}");

    // The mailer erases the job right after the relay took it.
    let mut left = holding(&store, token.as_bytes());
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = holding(&store, token.as_bytes());
    }
    assert!(
        left.is_empty(),
        "the delivered reset token is still in {left:?}"
    );
    let mail_stream = files(&store)
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("AUTH_MAIL"))
        .count();
    assert!(mail_stream > 0, "the search reads the mail stream's files");
    // The control: Bob's waiting jobs are still there, as they must be.
    let waiting_in = holding(&store, waiting.as_bytes());
    assert!(
        waiting_in
            .iter()
            .any(|f| f.to_string_lossy().contains("AUTH_MAIL")),
        "bob's queued jobs are on disk: {waiting_in:?}"
    );
    assert_eq!(env.smtp().count_to(&waiting), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_destroyed_data_key_is_gone_from_the_brokers_files() {
    use authd_events::data_keys::{DataKeys, KeyError, ensure_stream, key_subject};
    let env = TestEnv::start().await;
    let store = env.dir.path().join("nats");
    let js = async_nats::jetstream::new(env.client.clone());
    ensure_stream(&js, 1).await.unwrap();
    let kek = [7u8; 32];
    let keys = DataKeys::new(js.clone(), &kek);

    let ann = keys.create("p_shop", "c_ann").await.unwrap();
    let sealed = ann.seal("email", "ann@example.com");
    assert_eq!(sealed.as_plain(), None);
    assert_eq!(ann.open("email", &sealed).unwrap(), "ann@example.com");
    // Bound to its field and its customer.
    assert!(ann.open("phone", &sealed).is_err());
    let bob = keys.create("p_shop", "c_bob").await.unwrap();
    assert!(bob.open("email", &sealed).is_err());
    // Made once: a second create, from a process without the cache, finds it.
    let elsewhere = DataKeys::new(js.clone(), &kek);
    let again = elsewhere.create("p_shop", "c_ann").await.unwrap();
    assert_eq!(again.open("email", &sealed).unwrap(), "ann@example.com");
    // Another key-encryption key unwraps nothing.
    let wrong = DataKeys::new(js.clone(), &[8u8; 32]);
    assert!(matches!(
        wrong.get("p_shop", "c_ann").await,
        Err(KeyError::WrongKek)
    ));

    // The hard way: the wrapped key's bytes are in the store, then gone.
    let stream = js.get_stream("AUTH_KEYS").await.unwrap();
    let subject = key_subject("p_shop", "c_ann").unwrap();
    let wrapped = stream
        .direct_get_last_for_subject(subject.as_str())
        .await
        .unwrap()
        .payload
        .to_vec();
    assert!(
        !holding(&store, &wrapped).is_empty(),
        "the control: found before"
    );
    assert!(keys.destroy("p_shop", "c_ann").await.unwrap());
    let left = holding(&store, &wrapped);
    assert!(left.is_empty(), "the destroyed key is still in {left:?}");
    for k in [&keys, &elsewhere] {
        k.forget("p_shop", "c_ann");
        assert!(k.get("p_shop", "c_ann").await.unwrap().is_none());
    }
    assert!(!keys.destroy("p_shop", "c_ann").await.unwrap(), "once");
    // Bob's key is untouched.
    let bob_again = DataKeys::new(js.clone(), &kek)
        .get("p_shop", "c_bob")
        .await
        .unwrap()
        .unwrap();
    let b = bob.seal("email", "bob@example.com");
    assert_eq!(bob_again.open("email", &b).unwrap(), "bob@example.com");
}

async fn storefront(env: &TestEnv, query: &str, variables: serde_json::Value) -> serde_json::Value {
    env.storefront(None, query, variables).await
}

const EXPORT: &str = "query E($id: ID!) { customerDataExport(id: $id) }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_export_holds_their_data_and_no_secret() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    // Ann: a profile, a Storefront session, an address, an order, a
    // metafield, tags; and a Customer Auth API session.
    let created = storefront(
        &env,
        "mutation C($i: CustomerCreateInput!) { customerCreate(input: $i) { customer { id } } }",
        json!({ "i": { "email": "ann@example.com", "password": PASSWORD, "firstName": "Ann",
                       "lastName": "Lee", "phone": "+16135550123", "acceptsMarketing": true } }),
    )
    .await;
    let ann = created["data"]["customerCreate"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = storefront(
        &env,
        "mutation T($i: CustomerAccessTokenCreateInput!) { customerAccessTokenCreate(input: $i) {
           customerAccessToken { accessToken } } }",
        json!({ "i": { "email": "ann@example.com", "password": PASSWORD } }),
    )
    .await;
    let sf_token = t["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let a = storefront(
        &env,
        "mutation A($t: String!, $a: MailingAddressInput!) { customerAddressCreate(
           customerAccessToken: $t, address: $a) { customerAddress { id } } }",
        json!({ "t": sf_token, "a": { "address1": "1 Main St", "city": "Ottawa", "country": "CA",
                                      "province": "ON", "zip": "K1A 0B1" } }),
    )
    .await;
    assert!(
        a["data"]["customerAddressCreate"]["customerAddress"]["id"].is_string(),
        "{a}"
    );
    env.configure(json!({ "customerMetafields": [
        { "namespace": "custom", "key": "shoe_size", "type": "number_integer", "access": "READ_WRITE" }
    ] }))
    .await;
    let m = storefront(
        &env,
        "mutation M($t: String!) { customerMetafieldsSet(customerAccessToken: $t,
           metafields: [{ key: \"shoe_size\", value: \"38\" }]) { customerUserErrors { code } } }",
        json!({ "t": sf_token }),
    )
    .await;
    assert_eq!(
        m["data"]["customerMetafieldsSet"]["customerUserErrors"],
        json!([]),
        "{m}"
    );
    let r = env
        .admin(
            "mutation R($i: OrderRecordInput!) { orderRecord(input: $i) { success } }",
            json!({ "i": { "customerId": ann, "externalId": "ext-1", "name": "#1001",
                "processedAt": "2026-01-01T10:00:00Z", "currencyCode": "CAD", "totalPrice": "19.98",
                "lineItems": [{ "title": "Mug", "quantity": 2, "price": "9.99",
                    "discountAllocations": [{ "amount": "2.00", "discountApplicationIndex": 0 }] }],
                "discountApplications": [{ "kind": "DISCOUNT_CODE", "code": "MUGS", "amount": "2.00" }] } }),
        )
        .await;
    assert_eq!(r["data"]["orderRecord"]["success"], true, "{r}");
    env.admin(
        "mutation T($id: ID!) { customerTagsSet(id: $id, tags: [\"VIP\"]) { success } }",
        json!({ "id": ann }),
    )
    .await;
    let login = env
        .gql(
            "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) {
               accessToken refreshToken } }",
            json!({ "e": "ann@example.com", "p": PASSWORD }),
        )
        .await;
    let access = login["data"]["customerLogin"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_string();
    let refresh = login["data"]["customerLogin"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    let v = env.admin(EXPORT, json!({ "id": ann })).await;
    let doc = &v["data"]["customerDataExport"];
    assert_eq!(doc["schema"], "authd.customer-export/1", "{v}");
    assert_eq!(doc["customer"]["id"], ann.as_str());
    assert_eq!(doc["customer"]["email"], "ann@example.com");
    assert_eq!(doc["customer"]["firstName"], "Ann");
    assert_eq!(doc["customer"]["phone"], "+16135550123");
    assert_eq!(doc["consents"]["acceptsMarketing"], true);
    assert_eq!(doc["tags"], json!(["VIP"]));
    assert_eq!(doc["addresses"][0]["city"], "Ottawa");
    assert_eq!(doc["addresses"][0]["province"], "ON");
    assert_eq!(doc["addresses"][0]["default"], true);
    assert_eq!(doc["orders"][0]["name"], "#1001");
    assert_eq!(doc["orders"][0]["lineItems"][0]["title"], "Mug");
    assert_eq!(
        doc["orders"][0]["discounts"],
        json!({
            "applications": [{ "kind": "DISCOUNT_CODE", "title": null, "code": "MUGS",
                "value": { "amount": "2.00" }, "allocationMethod": "ACROSS",
                "targetSelection": "ALL", "targetType": "LINE_ITEM" }],
            "allocations": [{ "line": 0, "application": 0, "amount": "2.00" }],
        })
    );
    assert_eq!(doc["metafields"][0]["value"], "38");
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{doc}");
    assert!(sessions.iter().all(|s| s["startedAt"].is_string()));
    let history: Vec<&str> = doc["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "customer.registered",
        "customer.address.added",
        "customer.metafields.set",
        "order.recorded",
        "session.started",
    ] {
        assert!(history.contains(&t), "{t} missing from {history:?}");
    }
    assert_eq!(doc["providerLinks"], json!([]));
    // Never a hash, token, code or key. (Tokens are `<session>.<secret>…`:
    // the session is the customer's data, the secret is not.)
    let text = doc.to_string();
    let secrets = [
        "argon2",
        sf_token.split('.').nth(1).unwrap(),
        refresh.split('.').nth(1).unwrap_or(&refresh),
        access.rsplit('.').next().unwrap(),
        env.admin_key.as_str(),
    ];
    for secret in secrets {
        assert!(secret.len() >= 6, "{secret}");
        assert!(!text.contains(secret), "the export holds {secret}");
    }
    for key in ["passwordHash", "tokenHash", "token_hash", "password_hash"] {
        assert!(!text.contains(key), "the export holds {key}");
    }

    // The customer's own copy, on the Customer Auth API.
    let own = env
        .gql_as(Some(&access), "{ customerDataExport }", json!({}))
        .await;
    assert_eq!(
        own["data"]["customerDataExport"]["customer"]["id"],
        ann.as_str(),
        "{own}"
    );
    let anonymous = env.gql("{ customerDataExport }", json!({})).await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{anonymous}"
    );
    // Nobody else's.
    let unknown = env.admin(EXPORT, json!({ "id": "c_nobody" })).await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{unknown}"
    );

    // The same from the log alone: `authd admin export-customer`.
    let file = env.dir.path().join("ann.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args(["admin", "--nats-url", &env.nats.url(), "export-customer"])
        .args([&env.project_id, "ann@example.com", "--out"])
        .arg(&file)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let cli: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for part in [
        "customer",
        "addresses",
        "orders",
        "metafields",
        "sessions",
        "tags",
    ] {
        assert_eq!(cli[part], doc[part], "{part}");
    }
    assert_eq!(cli["history"].as_array().unwrap().len(), history.len());
    let nobody = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .env("AUTHD_DATA_KEY_FILE", env.config.data_key_path())
        .args(["admin", "--nats-url", &env.nats.url(), "export-customer"])
        .args([&env.project_id, "nobody@example.com"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_plaintext_horizon_is_recorded_once_by_the_first_services_to_start() {
    use authd_events::data_keys::DataKeys;
    let env = TestEnv::start().await;
    let js = async_nats::jetstream::new(env.client.clone());
    // Services recorded it when they started, before writing anything: a
    // log that began sealed has nothing below it to scan.
    let keys = env.store.data_keys().unwrap();
    let first = keys.plaintext_horizon().await.unwrap().expect("recorded");
    assert!(first < env.last_seq().await, "{first}");
    assert_eq!(env.store.plaintext_horizon().await.unwrap(), first);
    let other = DataKeys::new(js.clone(), &env.keys.data);
    assert_eq!(
        other.record_plaintext_horizon(first + 1000).await.unwrap(),
        first
    );

    // Two instances that start at once on a log without one agree.
    env.client
        .request(
            "$JS.API.STREAM.PURGE.AUTH_KEYS",
            r#"{"filter":"authd.key._authd.log.horizon"}"#.into(),
        )
        .await
        .unwrap();
    assert_eq!(keys.plaintext_horizon().await.unwrap(), None);
    let (a, b) = tokio::join!(
        keys.record_plaintext_horizon(40),
        other.record_plaintext_horizon(41)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == 40 || a == 41, "{a}");
    // It is no key: a replay's preload reads keys only.
    env.register("ann@example.com", PASSWORD).await;
    let customers = keys.preload().await.unwrap();
    let key_messages = js
        .get_stream("AUTH_KEYS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(
        customers as u64,
        key_messages - 1,
        "the horizon is not read as a key"
    );
}
