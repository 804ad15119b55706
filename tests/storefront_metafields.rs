//! Customer metafields: a project declares the `namespace.key`s its
//! customers hold (`projectConfigure(input: { customerMetafields })`), the
//! signed-in customer reads them (`Customer.metafield`, `metafields`) and
//! writes the READ_WRITE ones (`customerMetafieldsSet`), admins read and
//! write every declared key; against a real gateway, services,
//! nats-server and SQLite.

mod common;

use authd_projections::Until;
use common::TestEnv;
use serde_json::{Value, json};

async fn sf(env: &TestEnv, query: &str, variables: Value) -> Value {
    env.storefront(None, query, variables).await
}

/// A signed-in customer: (id, Storefront token).
async fn signed_in(env: &TestEnv, email: &str) -> (String, String) {
    env.storefront_customer(email).await
}

const DECLARED: &str = r#"[
  { "namespace": "custom", "key": "birthday", "type": "date", "access": "READ_WRITE" },
  { "namespace": "custom", "key": "tier", "type": "single_line_text_field", "access": "READ" },
  { "namespace": "prefs", "key": "newsletter", "type": "json", "access": "READ_WRITE" }
]"#;

const SET: &str = "mutation S($t: String!, $m: [CustomerMetafieldsSetInput!]!) {
    customerMetafieldsSet(customerAccessToken: $t, metafields: $m) {
      metafields { id namespace key type value createdAt updatedAt }
      customerUserErrors { field message code }
      userErrors { field message }
    } }";

const READ: &str = "query R($t: String!) @inContext(country: CA, language: EN) {
    customer(customerAccessToken: $t) {
      birthday: metafield(key: \"birthday\") { id namespace key type value updatedAt }
      metafields(identifiers: [
        { namespace: \"custom\", key: \"birthday\" }
        { namespace: \"custom\", key: \"tier\" }
        { namespace: \"prefs\", key: \"newsletter\" }
        { namespace: \"custom\", key: \"undeclared\" }
      ]) { namespace key type value }
    } }";

async fn set(env: &TestEnv, token: &str, metafields: Value) -> Value {
    let r = sf(env, SET, json!({ "t": token, "m": metafields })).await;
    r["data"]["customerMetafieldsSet"].clone()
}

async fn read(env: &TestEnv, token: &str) -> Value {
    let r = sf(env, READ, json!({ "t": token })).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["customer"].clone()
}

async fn declare(env: &TestEnv, definitions: Value) -> Value {
    env.admin(
        "mutation C($input: ProjectConfigInput!) { projectConfigure(input: $input) {
           success errors { field message code } } }",
        json!({ "input": { "customerMetafields": definitions } }),
    )
    .await["data"]["projectConfigure"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_read_and_write_the_metafields_their_project_declares() {
    let env = TestEnv::start().await;
    let declared: Value = serde_json::from_str(DECLARED).unwrap();
    assert_eq!(declare(&env, declared.clone()).await["success"], true);
    let settings = env
        .admin(
            "{ project { settings { customerMetafields { namespace key type access } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        settings["data"]["project"]["settings"]["customerMetafields"], declared,
        "{settings}"
    );
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    let (_, bob) = signed_in(&env, "bob@example.com").await;

    // Nothing set yet: declared keys read null like undeclared ones.
    let c = read(&env, &token).await;
    assert_eq!(c["birthday"], Value::Null);
    assert_eq!(c["metafields"], json!([null, null, null, null]));

    let s = set(
        &env,
        &token,
        json!([
            { "key": "birthday", "value": "1990-04-01" },
            { "namespace": "prefs", "key": "newsletter", "type": "json",
              "value": "{\"weekly\":true}" }
        ]),
    )
    .await;
    assert_eq!(s["customerUserErrors"], json!([]), "{s}");
    let saved = &s["metafields"];
    assert_eq!(saved[0]["namespace"], "custom", "{s}");
    assert_eq!(saved[0]["type"], "date");
    assert_eq!(saved[0]["value"], "1990-04-01");
    assert_eq!(saved[1]["value"], "{\"weekly\":true}");
    let id = saved[0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("gid://authd/Metafield/"), "{id}");
    assert_eq!(saved[0]["createdAt"], saved[0]["updatedAt"]);

    let c = read(&env, &token).await;
    assert_eq!(c["birthday"]["id"], id.as_str(), "{c}");
    assert_eq!(c["birthday"]["value"], "1990-04-01");
    assert_eq!(
        c["metafields"],
        json!([
            { "namespace": "custom", "key": "birthday", "type": "date", "value": "1990-04-01" },
            null,
            { "namespace": "prefs", "key": "newsletter", "type": "json",
              "value": "{\"weekly\":true}" },
            null
        ])
    );
    // Another customer sees none of it.
    assert_eq!(
        read(&env, &bob).await["metafields"],
        json!([null, null, null, null])
    );

    // The same value again records nothing; a change keeps createdAt.
    let before = env.last_seq().await;
    let again = set(
        &env,
        &token,
        json!([{ "key": "birthday", "value": "1990-04-01" }]),
    )
    .await;
    assert_eq!(again["metafields"][0]["updatedAt"], saved[0]["updatedAt"]);
    assert_eq!(env.last_seq().await, before, "nothing new was recorded");
    let changed = set(
        &env,
        &token,
        json!([{ "key": "birthday", "value": "1990-04-02" }]),
    )
    .await;
    assert_eq!(changed["metafields"][0]["createdAt"], saved[0]["createdAt"]);
    assert_eq!(changed["metafields"][0]["id"], id.as_str());

    // An admin writes the READ key and reads every value.
    let admin_set = env
        .admin(
            "mutation S($id: ID!, $m: [CustomerMetafieldsSetInput!]!) {
               customerMetafieldsSet(id: $id, metafields: $m) {
                 success metafields { key value } errors { field code } } }",
            json!({ "id": ann, "m": [{ "key": "tier", "value": "gold" }] }),
        )
        .await;
    let admin_set = &admin_set["data"]["customerMetafieldsSet"];
    assert_eq!(admin_set["success"], true, "{admin_set}");
    assert_eq!(
        admin_set["metafields"],
        json!([{ "key": "tier", "value": "gold" }])
    );
    let c = read(&env, &token).await;
    assert_eq!(c["metafields"][1]["value"], "gold", "{c}");
    let listed = env
        .admin(
            "query C($id: ID!) { customer(id: $id) { metafields { namespace key value } } }",
            json!({ "id": ann }),
        )
        .await;
    assert_eq!(
        listed["data"]["customer"]["metafields"],
        json!([
            { "namespace": "custom", "key": "birthday", "value": "1990-04-02" },
            { "namespace": "custom", "key": "tier", "value": "gold" },
            { "namespace": "prefs", "key": "newsletter", "value": "{\"weekly\":true}" }
        ]),
        "{listed}"
    );

    // Declared again with another type: the old value is not this key's.
    let mut redeclared = declared.clone();
    redeclared[0]["type"] = json!("json");
    assert_eq!(declare(&env, redeclared).await["success"], true);
    assert_eq!(read(&env, &token).await["birthday"], Value::Null);

    // The read model is what a rebuild from the log makes.
    let rebuilt = env.dir.path().join("rebuilt.db");
    authd_projections::rebuild(&env.store, &rebuilt, Until::Latest, false, |_, _| {})
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&rebuilt).unwrap();
    let live = env.read_model().dump().unwrap();
    assert!(live.iter().any(|r| r.starts_with("customer_metafields:")));
    assert_eq!(authd_projections::db::dump(&conn).unwrap(), live);
    // No value reaches a subject or header.
    for m in env.raw_messages().await {
        let headers = format!("{:?}", m.headers);
        for secret in ["1990-04", "weekly", "gold"] {
            assert!(!m.subject.contains(secret) && !headers.contains(secret));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_metafield_writes_are_refused_whole_with_their_paths() {
    let env = TestEnv::start().await;
    let declared: Value = serde_json::from_str(DECLARED).unwrap();
    assert_eq!(declare(&env, declared).await["success"], true);
    let (_, token) = signed_in(&env, "ann@example.com").await;
    let birthday = json!({ "key": "birthday", "value": "1990-04-01" });
    let cases = [
        (
            json!([{ "key": "tier", "value": "gold" }]),
            json!(["metafields", "0", "key"]),
            "INVALID",
        ),
        (
            json!([birthday, { "key": "shoe_size", "value": "42" }]),
            json!(["metafields", "1", "key"]),
            "INVALID",
        ),
        (
            json!([{ "key": "birthday", "type": "json", "value": "1" }]),
            json!(["metafields", "0", "type"]),
            "INVALID",
        ),
        (
            json!([{ "key": "birthday", "value": "April 1st" }]),
            json!(["metafields", "0", "value"]),
            "INVALID",
        ),
        (
            json!([{ "namespace": "prefs", "key": "newsletter", "value": "{oops" }]),
            json!(["metafields", "0", "value"]),
            "INVALID",
        ),
        (
            json!([{ "namespace": "prefs", "key": "newsletter",
                     "value": format!("\"{}\"", "x".repeat(64 * 1024)) }]),
            json!(["metafields", "0", "value"]),
            "TOO_LONG",
        ),
        (
            json!([birthday, birthday]),
            json!(["metafields", "1", "key"]),
            "INVALID",
        ),
    ];
    let before = env.last_seq().await;
    for (metafields, field, code) in cases {
        let r = set(&env, &token, metafields.clone()).await;
        let e = &r["customerUserErrors"][0];
        assert_eq!(
            e["code"],
            code,
            "{:.300}: {:.300}",
            metafields.to_string(),
            r.to_string()
        );
        assert_eq!(e["field"], field, "{r}");
        assert!(e["message"].as_str().unwrap().len() > 10, "{r}");
        assert_eq!(r["userErrors"][0]["field"], field, "{r}");
        assert_eq!(r["metafields"], Value::Null, "{r}");
    }
    assert_eq!(env.last_seq().await, before, "nothing was recorded");
    assert_eq!(read(&env, &token).await["birthday"], Value::Null);

    // More than 25 values at once.
    let many: Vec<Value> = (0..26).map(|_| birthday.clone()).collect();
    let r = set(&env, &token, json!(many)).await;
    assert_eq!(r["customerUserErrors"][0]["code"], "INVALID", "{r}");

    // A token that is not one.
    let r = set(&env, "nope", json!([birthday])).await;
    assert_eq!(r["customerUserErrors"][0]["code"], "TOKEN_INVALID", "{r}");
    assert_eq!(
        r["customerUserErrors"][0]["field"],
        json!(["customerAccessToken"])
    );

    // Too many identifiers is an error, not a slow query.
    let ids: Vec<String> = (0..251).map(|i| format!("{{ key: \"k{i}\" }}")).collect();
    let q = format!(
        "query R($t: String!) {{ customer(customerAccessToken: $t) {{
           metafields(identifiers: [{}]) {{ value }} }} }}",
        ids.join(" ")
    );
    let r = sf(&env, &q, json!({ "t": token })).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{r}");

    // Bad declarations name the entry at fault.
    for (bad, field) in [
        (
            json!([{ "namespace": "custom", "key": "x", "type": "date", "access": "READ" }]),
            json!(["customerMetafields", "0", "key"]),
        ),
        (
            json!([
                { "namespace": "custom", "key": "ok", "type": "date", "access": "READ" },
                { "namespace": "custom", "key": "money", "type": "money", "access": "READ" }
            ]),
            json!(["customerMetafields", "1", "type"]),
        ),
        (
            json!([
                { "namespace": "custom", "key": "ok", "type": "date", "access": "READ" },
                { "namespace": "custom", "key": "ok", "type": "json", "access": "READ" }
            ]),
            json!(["customerMetafields", "1", "key"]),
        ),
    ] {
        let r = declare(&env, bad.clone()).await;
        assert_eq!(r["success"], false, "{bad}: {r}");
        assert_eq!(r["errors"][0]["code"], "INVALID", "{r}");
        assert_eq!(r["errors"][0]["field"], field, "{r}");
    }
    // An admin's write for a customer the project does not have.
    let unknown = env
        .admin(
            "mutation S($m: [CustomerMetafieldsSetInput!]!) {
               customerMetafieldsSet(id: \"c_nobody\", metafields: $m) {
                 success errors { field code } } }",
            json!({ "m": [{ "key": "tier", "value": "gold" }] }),
        )
        .await;
    let unknown = &unknown["data"]["customerMetafieldsSet"];
    assert_eq!(unknown["success"], false, "{unknown}");
    assert_eq!(
        unknown["errors"][0],
        json!({ "field": ["id"], "code": "CUSTOMER_NOT_FOUND" })
    );
    // The Storefront cannot declare or write as an admin.
    let forged = sf(
        &env,
        "mutation { customerMetafieldsSet(id: \"x\", metafields: []) { success } }",
        json!({}),
    )
    .await;
    assert!(forged["errors"][0]["message"].is_string(), "{forged}");
}
