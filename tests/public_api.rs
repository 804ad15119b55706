//! The Customer Auth API's password flows against a real gateway, services,
//! nats-server and SQLite read model.

mod common;

use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

fn op(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/customer-auth/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn fixtures_are_verbatim_copies_of_the_seed_document() {
    // CI clones the repository with shared/ beside it; where it is absent
    // (a lone clone) there is nothing to compare with.
    let doc =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/api/customer-auth-api.md");
    let Ok(doc) = std::fs::read_to_string(doc) else {
        return;
    };
    for name in [
        "CustomerLogin",
        "CustomerRegister",
        "CustomerLogout",
        "RefreshToken",
        "CurrentUser",
    ] {
        assert!(
            doc.contains(op(name).trim_end()),
            "{name} drifted from the seed document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seed_operations_work_verbatim() {
    let env = TestEnv::start().await;
    let vars = json!({ "email": "ann@example.com", "password": PASSWORD });

    let reg = env.gql(&op("CustomerRegister"), vars.clone()).await;
    let r = &reg["data"]["customerRegister"];
    assert_eq!(r["success"], true, "{reg}");
    assert_eq!(r["user"]["email"], "ann@example.com");
    assert_eq!(r["emailVerificationRequired"], false);
    assert!(r["accessToken"].as_str().unwrap().split('.').count() == 3);
    let customer_id = r["user"]["id"].as_str().unwrap().to_string();

    let login = env.gql(&op("CustomerLogin"), vars).await;
    let l = &login["data"]["customerLogin"];
    assert_eq!(l["success"], true, "{login}");
    assert_eq!(
        l["user"],
        json!({ "id": customer_id, "email": "ann@example.com", "userType": "CUSTOMER" })
    );
    let access = l["accessToken"].as_str().unwrap().to_string();
    let refresh = l["refreshToken"].as_str().unwrap().to_string();

    let me = env
        .gql_as(Some(&access), &op("CurrentUser"), json!({}))
        .await;
    let u = &me["data"]["currentUser"];
    assert_eq!(u["id"], customer_id.as_str(), "{me}");
    assert_eq!(u["email"], "ann@example.com");
    assert_eq!(u["emailVerified"], false);
    assert_eq!(u["status"], "ACTIVE");
    assert_eq!(u["userType"], "CUSTOMER");
    let created = u["createdAt"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{created}"
    );

    let refreshed = env
        .gql(&op("RefreshToken"), json!({ "refreshToken": refresh }))
        .await;
    let f = &refreshed["data"]["customerRefreshToken"];
    assert_eq!(f["success"], true, "{refreshed}");
    let access2 = f["accessToken"].as_str().unwrap().to_string();
    assert_ne!(f["refreshToken"], refresh.as_str());

    let out = env
        .gql_as(Some(&access2), &op("CustomerLogout"), json!({}))
        .await;
    assert_eq!(out["data"]["customerLogout"]["success"], true, "{out}");
    assert!(out["data"]["customerLogout"]["message"].is_string());

    // Both access tokens of the ended session stop working at once.
    for token in [&access, &access2] {
        let me = env.gql_as(Some(token), &op("CurrentUser"), json!({})).await;
        assert_eq!(
            me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{me}"
        );
    }
    // The curl example of the document.
    let fresh = env.login("ann@example.com", PASSWORD).await;
    let me = env
        .gql_as(
            fresh["accessToken"].as_str(),
            "{ currentUser { id email } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["currentUser"]["email"], "ann@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_email_succeed_once() {
    let env = TestEnv::start().await;
    let emails: Vec<String> = (0..50)
        .map(|i| match i % 3 {
            0 => "race@example.com".to_string(),
            1 => "RACE@Example.com".to_string(),
            _ => " race@example.COM ".to_string(),
        })
        .collect();
    let results = futures::future::join_all(emails.iter().map(|e| env.register(e, PASSWORD))).await;
    let wins = results.iter().filter(|r| r["success"] == true).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter(|r| r["success"] != true) {
        assert_eq!(r["errors"][0]["code"], "EMAIL_TAKEN", "{r}");
        assert_eq!(r["errors"][0]["field"], json!(["email"]));
    }
    let count = env
        .read_model()
        .customers_with_email(&env.project_id, "race@example.com")
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_password_and_unknown_email_get_the_same_answer_and_are_recorded() {
    let env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    let q = op("CustomerLogin");
    let wrong = env
        .gql(
            &q,
            json!({ "email": "ann@example.com", "password": "not the password" }),
        )
        .await;
    let unknown = env
        .gql(
            &q,
            json!({ "email": "bob@example.com", "password": "not the password" }),
        )
        .await;
    assert_eq!(wrong["data"]["customerLogin"]["success"], false);
    assert_eq!(
        serde_json::to_string(&wrong).unwrap(),
        serde_json::to_string(&unknown).unwrap()
    );
    let full = env.login("bob@example.com", "whatever1").await;
    assert_eq!(full["errors"][0]["code"], "INVALID_CREDENTIALS", "{full}");

    let types: Vec<String> = env
        .raw_messages()
        .await
        .iter()
        .filter_map(|m| m.headers.get("Authd-Event-Types").map(|v| v.to_string()))
        .collect();
    assert!(
        types.iter().any(|t| t == "customer.login.failed"),
        "{types:?}"
    );
    assert!(
        types.iter().any(|t| t == "login.failed.unknown_email"),
        "{types:?}"
    );
    // Each attempt carries its request metadata.
    let attempts: Vec<_> = env
        .opened_messages()
        .await
        .into_iter()
        .filter(|m| m.type_names().contains("login.failed"))
        .collect();
    assert_eq!(attempts.len(), 3);
    for a in attempts {
        assert_eq!(a.meta.request.ip(), Some("127.0.0.1"));
        assert!(!a.meta.request.request_id.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_tokens_rotate_and_reuse_ends_the_session() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let first = reg["refreshToken"].as_str().unwrap().to_string();
    let access = reg["accessToken"].as_str().unwrap().to_string();

    let second = env.refresh(&first).await;
    assert_eq!(second["success"], true, "{second}");
    let second_token = second["refreshToken"].as_str().unwrap().to_string();
    let third = env.refresh(&second_token).await;
    assert_eq!(third["success"], true, "{third}");
    let third_token = third["refreshToken"].as_str().unwrap().to_string();

    // A rotated token comes back: the whole session ends.
    let reused = env.refresh(&first).await;
    assert_eq!(reused["success"], false);
    assert_eq!(
        reused["errors"][0]["code"], "REFRESH_TOKEN_REUSED",
        "{reused}"
    );
    let after = env.refresh(&third_token).await;
    assert_eq!(after["errors"][0]["code"], "SESSION_REVOKED", "{after}");
    let me = env.current_user(&access).await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );
    let me = env
        .current_user(third["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );

    // Other sessions of the customer are untouched.
    let other = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(
        env.current_user(other["accessToken"].as_str().unwrap())
            .await["data"]["currentUser"]["email"],
        "ann@example.com"
    );

    for garbage in [
        "",
        "nonsense",
        "s_1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        &format!("{}x", &first[..first.len() - 1]),
    ] {
        let r = env.refresh(garbage).await;
        assert_eq!(
            r["errors"][0]["code"], "INVALID_REFRESH_TOKEN",
            "{garbage}: {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_needs_a_live_session_and_ends_it() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let access = reg["accessToken"].as_str().unwrap();
    let logout = op("CustomerLogout");

    let anonymous = env.gql(&logout, json!({})).await;
    assert_eq!(anonymous["data"]["customerLogout"]["success"], false);
    // Read (and remembered by the read model) before the logout…
    let me = env.current_user(access).await;
    assert_eq!(
        me["data"]["currentUser"]["email"], "ann@example.com",
        "{me}"
    );
    let out = env.gql_as(Some(access), &logout, json!({})).await;
    assert_eq!(out["data"]["customerLogout"]["success"], true);
    // …and ended right after it.
    let me = env.current_user(access).await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );
    let again = env.gql_as(Some(access), &logout, json!({})).await;
    assert_eq!(again["data"]["customerLogout"]["success"], false, "{again}");
    // The refresh token of the ended session is dead too.
    let r = env.refresh(reg["refreshToken"].as_str().unwrap()).await;
    assert_eq!(r["errors"][0]["code"], "SESSION_REVOKED", "{r}");
    // Without a token, currentUser is simply null.
    let me = env.gql(&op("CurrentUser"), json!({})).await;
    assert_eq!(me, json!({ "data": { "currentUser": null } }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_right_after_a_mutation_sees_it() {
    let env = TestEnv::start().await;
    for i in 0..20 {
        let reg = env.register(&format!("u{i}@example.com"), PASSWORD).await;
        let me = env.current_user(reg["accessToken"].as_str().unwrap()).await;
        assert_eq!(
            me["data"]["currentUser"]["email"],
            format!("u{i}@example.com"),
            "{me}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_reaches_the_event_log_in_plaintext() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let login = env.login("ann@example.com", PASSWORD).await;
    let refreshed = env.refresh(login["refreshToken"].as_str().unwrap()).await;
    env.login("ann@example.com", "a wrong password").await;
    env.login("nobody@example.com", "another wrong one").await;
    let secrets: Vec<String> = vec![
        PASSWORD.into(),
        "a wrong password".into(),
        "another wrong one".into(),
        reg["refreshToken"].as_str().unwrap().into(),
        login["refreshToken"].as_str().unwrap().into(),
        refreshed["refreshToken"].as_str().unwrap().into(),
        env.api_key.clone(),
        env.admin_key.clone(),
    ];
    let messages = env.raw_messages().await;
    assert!(messages.len() >= 8);
    for m in &messages {
        let mut haystack = m.payload.to_vec();
        haystack.extend_from_slice(m.subject.as_bytes());
        haystack.extend_from_slice(format!("{:?}", m.headers).as_bytes());
        for s in &secrets {
            // the secret part of a refresh token (after the session id)
            let needle = s.rsplit('.').next().unwrap().as_bytes();
            assert!(
                !haystack.windows(needle.len()).any(|w| w == needle),
                "secret in message {}",
                m.sequence
            );
        }
        // No personal data in subjects or headers.
        assert!(!m.subject.contains("example"), "{}", m.subject);
        assert!(!format!("{:?}", m.headers).contains("example.com"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_and_jwks() {
    let env = TestEnv::start().await;
    let health = env.http.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: Value = health.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "status": "ok" }),
        "the public check says ok and nothing more"
    );
    let detailed: Value = env
        .http
        .get(env.operator_url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detailed["nats"], "connected");
    assert!(
        detailed["readModel"]["applied"].as_u64().is_some(),
        "{detailed}"
    );

    // A standard JOSE library verifies our access tokens from the JWKS alone.
    let jwks: jsonwebtoken::jwk::JwkSet = env
        .http
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reg = env.register("ann@example.com", PASSWORD).await;
    let token = reg["accessToken"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid is in the JWKS");
    assert_eq!(
        jwk.common.key_algorithm,
        Some(jsonwebtoken::jwk::KeyAlgorithm::EdDSA)
    );
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    // A resource server checks the audience: the token is for this project.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[env.project_id.as_str()]);
    validation.set_issuer(&["authd"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["aud"], env.project_id.as_str());
    let mut elsewhere = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    elsewhere.set_audience(&["p_another_project"]);
    assert!(jsonwebtoken::decode::<Value>(token, &key, &elsewhere).is_err());
    assert_eq!(claims["sub"], reg["user"]["id"]);
    assert_eq!(claims["pid"], env.project_id.as_str());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(lifetime > 0 && lifetime <= 900, "{lifetime}");
    assert!(claims["sid"].as_str().unwrap().starts_with("s_"));

    // Prometheus metrics count commands by name and outcome.
    env.login("ann@example.com", "not the password").await;
    let public = env.http.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "metrics are for operators only");
    let metrics = env
        .http
        .get(env.operator_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"authd_commands_total{command="customer.register",outcome="ok"}"#,
        r#"authd_commands_total{command="customer.login",outcome="INVALID_CREDENTIALS"}"#,
        "authd_command_duration_seconds_bucket",
        "authd_read_model_applied_sequence",
        r#"authd_graphql_requests_total{api="public"}"#,
        // The services' state cache: the login found the customer the
        // registration put there.
        r#"authd_state_cache_lookups_total{result="hit"}"#,
        "authd_state_cache_entries",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }
}
