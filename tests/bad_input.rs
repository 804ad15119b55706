//! Bad input gets a clear error, never a panic, a hang or a stack, and
//! leaves the event log untouched.

mod common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

async fn assert_untouched(env: &TestEnv, before: u64) {
    assert_eq!(env.last_seq().await, before, "the event log changed");
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {v}"))
}

fn message(v: &Value) -> &str {
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_get_a_coded_error() {
    let env = TestEnv::start().await;
    let key = ("x-api-key", env.api_key.as_str());
    let before = env.last_seq().await;

    let (status, body) = env.post_raw(&[JSON, key], "{not json").await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    let (status, body) = env
        .post_raw(&[JSON, key], vec![0xff, 0xfe, 0x00, 0x7b])
        .await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    assert!(message(&body).contains("UTF-8"));
    let (status, body) = env.post_raw(&[JSON, key], r#""just a string""#).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    let (status, body) = env
        .post_raw(
            &[JSON, key],
            r#" [{"query":"{ authConfig { authMethods } }"},{"query":"{ authConfig { authMethods } }"}]"#,
        )
        .await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    assert!(message(&body).contains("batched requests"), "{body}");

    let huge = json!({ "query": format!("{{ currentUser {{ id }} }} #{}", "x".repeat(200_000)) })
        .to_string();
    let (status, body) = env.post_raw(&[JSON, key], huge).await;
    assert_eq!((status, code(&body)), (413, "PAYLOAD_TOO_LARGE"));

    let (status, body) = env
        .post_raw(&[JSON], r#"{"query":"{ currentUser { id } }"}"#)
        .await;
    assert_eq!((status, code(&body)), (401, "MISSING_API_KEY"));
    let (status, body) = env
        .post_raw(
            &[JSON, ("x-api-key", "pk_test_notakey")],
            r#"{"query":"{ currentUser { id } }"}"#,
        )
        .await;
    assert_eq!((status, code(&body)), (401, "INVALID_API_KEY"));

    for (query, variables) in [
        ("mutation { noSuchOperation { success } }", json!({})),
        (
            "mutation L($email: String!, $password: String!) { customerLogin(email: $email, password: $password) { success } }",
            json!({}),
        ),
        (
            "mutation { customerLogin(email: 1, password: true) { success } }",
            json!({}),
        ),
        ("{ currentUser { id email nope } }", json!({})),
        (
            "query A { currentUser { id } } query B { currentUser { id } }",
            json!({}),
        ),
        ("{ __typename ", json!({})),
    ] {
        let body = env.gql(query, variables).await;
        assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{query}: {body}");
    }

    let resp = env.http.get(env.url("/no/such/path")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(code(&resp.json().await.unwrap()), "NOT_FOUND");
    assert_untouched(&env, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queries_too_deep_or_too_costly_are_refused() {
    let env = TestEnv::start_with(|c| c.limits.max_depth = 3).await;
    let deep = "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }";
    let body = env.gql(deep, json!({})).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(message(&body).to_lowercase().contains("deep"), "{body}");
    drop(env);

    let env = TestEnv::start_with(|c| c.limits.max_complexity = 5).await;
    let costly = "{ a: currentUser { id } b: currentUser { id } c: currentUser { id } }";
    let body = env.gql(costly, json!({})).await;
    assert!(message(&body).to_lowercase().contains("complex"), "{body}");
    // Within the limits the same endpoint answers.
    assert_eq!(
        env.gql("{ currentUser { id } }", json!({})).await,
        json!({ "data": { "currentUser": null } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_credentials_input_is_refused_before_anything_is_stored() {
    let env = TestEnv::start().await;
    let before = env.last_seq().await;
    for (email, password, code, field) in [
        ("not-an-email", PASSWORD, "INVALID_EMAIL", "email"),
        ("", PASSWORD, "INVALID_EMAIL", "email"),
        ("a b@example.com", PASSWORD, "INVALID_EMAIL", "email"),
        ("ann@example.com", "", "PASSWORD_TOO_SHORT", "password"),
        ("ann@example.com", "short", "PASSWORD_TOO_SHORT", "password"),
        (
            "ann@example.com",
            &"x".repeat(1025),
            "PASSWORD_TOO_LONG",
            "password",
        ),
        (
            "ann@example.com",
            &"x".repeat(20_000),
            "PASSWORD_TOO_LONG",
            "password",
        ),
    ] {
        let r = env.register(email, password).await;
        assert_eq!(r["success"], false, "{r}");
        assert_eq!(
            r["errors"][0]["code"],
            code,
            "{email}/{}: {r}",
            password.len()
        );
        assert_eq!(r["errors"][0]["field"], json!([field]));
    }
    let r = env.login("ann@example.com", &"x".repeat(5000)).await;
    assert_eq!(r["errors"][0]["code"], "PASSWORD_TOO_LONG", "{r}");
    assert_untouched(&env, before).await;
}

fn forge(env: &TestEnv, header: Value, claims: Value, signature: &str) -> String {
    let _ = env;
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_access_tokens_are_unauthenticated() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let good = reg["accessToken"].as_str().unwrap().to_string();
    let parts: Vec<&str> = good.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let kid = jsonwebtoken::decode_header(&good).unwrap().kid.unwrap();
    let before = env.last_seq().await;

    let now = authd_events::now_millis() / 1000;
    let other_key = authd_services::tokens::SigningKeys::generate();
    let sign_with = |keys: &authd_services::tokens::SigningKeys, c: Value| {
        keys.sign(&serde_json::from_value(c).unwrap())
    };
    let mut tampered = claims.clone();
    tampered["sub"] = json!("c_someone_else");
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 1800);
    let mut other_project = claims.clone();
    other_project["pid"] = json!("p_other");
    // Signed by us, for this project's `pid`, but for another audience.
    let mut other_audience = claims.clone();
    other_audience["aud"] = json!("p_other");

    let cases: Vec<(&str, String)> = vec![
        (
            "tampered claims",
            forge(&env, json!({"alg":"EdDSA","kid":kid}), tampered, parts[2]),
        ),
        (
            "alg none",
            forge(&env, json!({"alg":"none","kid":kid}), claims.clone(), ""),
        ),
        (
            "HS256 with the public key",
            forge(
                &env,
                json!({"alg":"HS256","kid":kid}),
                claims.clone(),
                parts[2],
            ),
        ),
        (
            "expired",
            sign_with(env.keys.signing.as_ref().unwrap(), expired),
        ),
        (
            "another project",
            sign_with(env.keys.signing.as_ref().unwrap(), other_project),
        ),
        (
            "another audience",
            sign_with(env.keys.signing.as_ref().unwrap(), other_audience),
        ),
        ("another key", sign_with(&other_key, claims.clone())),
        ("garbage", "not.a.jwt".into()),
        ("empty", "".into()),
    ];
    for (what, token) in cases {
        let me = env.current_user(&token).await;
        assert_eq!(code(&me), "UNAUTHENTICATED", "{what}: {me}");
        let out = env
            .gql_as(
                Some(&token),
                "mutation { customerLogout { success errors { code } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            out["data"]["customerLogout"]["success"], false,
            "{what}: {out}"
        );
        assert_eq!(
            out["data"]["customerLogout"]["errors"][0]["code"],
            "UNAUTHENTICATED"
        );
    }
    // A non-bearer Authorization header is refused the same way.
    let resp = env
        .http
        .post(env.url("/graphql/public"))
        .header("x-api-key", &env.api_key)
        .header("authorization", format!("Basic {good}"))
        .json(&json!({ "query": "{ currentUser { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(code(&resp.json().await.unwrap()), "UNAUTHENTICATED");
    assert_untouched(&env, before).await;
    // And the good token still works.
    assert_eq!(
        env.current_user(&good).await["data"]["currentUser"]["email"],
        "ann@example.com"
    );
}

/// A token for a session this gateway's read model has not applied yet
/// (another gateway issued it; this one's projection is resuming after a
/// broker went away) is not told its session ended, which would sign the
/// customer out: after the bounded wait it is `SERVICE_UNAVAILABLE`, to try
/// again. A session the read model is past and does not hold has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_ahead_of_the_read_model_is_unavailable_not_signed_out() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let good = reg["accessToken"].as_str().unwrap().to_string();
    let parts: Vec<&str> = good.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let keys = env.keys.signing.as_ref().expect("this process signs");
    let sign = |seq: u64| {
        let mut c = claims.clone();
        c["sid"] = json!("s_01J000000000000000000NOTYET");
        c["seq"] = json!(seq);
        keys.sign(&serde_json::from_value(c).unwrap())
    };
    let last = env.last_seq().await;

    let ahead = env.current_user(&sign(last + 1_000)).await;
    assert_eq!(
        ahead["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{ahead}"
    );
    let past = env.current_user(&sign(last)).await;
    assert_eq!(
        past["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{past}"
    );
    let own = env.current_user(&good).await;
    assert!(own["data"]["currentUser"]["id"].is_string(), "{own}");
}
