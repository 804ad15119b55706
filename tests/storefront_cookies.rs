//! Browser-safe Storefront sessions over raw HTTP (the browser test,
//! `tests/browser.rs`, shows the same in Chromium): the HttpOnly cookie, the
//! CSRF proof a cookie-authenticated mutation needs, and CORS by each
//! project's allow-list.

mod common;

use common::{PASSWORD, TestEnv};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const SHOP: &str = "http://localhost:5173";
const EVIL: &str = "http://localhost:6666";

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

/// POSTs to the Storefront API with `headers` (the public key always).
async fn post(env: &TestEnv, headers: &[(&str, &str)], query: &str) -> Answer {
    let mut req = env
        .http
        .post(env.url("/graphql/storefront"))
        .header("x-api-key", &env.api_key)
        .json(&json!({ "query": query }));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.json().await.unwrap(),
    }
}

/// The session cookie an answer sets: its whole `Set-Cookie` line.
fn set_cookie(a: &Answer) -> String {
    a.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("authd_sf="))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", a.headers))
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

const LOGIN: &str = "mutation { customerAccessTokenCreate(input: { email: \"ann@example.com\", password: \"correct horse battery staple\" }) {
    customerAccessToken { accessToken expiresAt } customerUserErrors { code } } }";
const WHO: &str = "query { customer { email } }";
const LOGOUT: &str = "mutation { customerAccessTokenDelete(customerAccessToken: \"\") { deletedAccessToken userErrors { message } } }";

async fn cookie_env() -> TestEnv {
    assert_eq!(PASSWORD, "correct horse battery staple");
    let env = TestEnv::start().await;
    env.configure(json!({ "cookieSessions": true, "allowedOrigins": [SHOP] }))
        .await;
    env.register("ann@example.com", PASSWORD).await;
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_in_sets_an_http_only_cookie_and_no_token_in_the_body() {
    let env = cookie_env().await;
    let shop = [("origin", SHOP), ("x-authd-csrf", "1")];
    let login = post(&env, &shop, LOGIN).await;
    assert_eq!(login.status, 200);
    let token = &login.body["data"]["customerAccessTokenCreate"]["customerAccessToken"];
    assert_eq!(token["accessToken"], Value::Null, "{}", login.body);
    assert!(token["expiresAt"].is_string());
    let cookie = set_cookie(&login);
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/graphql/storefront",
        "Max-Age=",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // Plain http to localhost in dev: the one case without `Secure`.
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The token is nowhere in the body.
    let value = cookie_pair(&cookie).split_once('=').unwrap().1.to_string();
    assert!(!login.body.to_string().contains(&value));
    // CORS for the allowed origin, with credentials.
    assert_eq!(login.headers["access-control-allow-origin"], SHOP);
    assert_eq!(login.headers["access-control-allow-credentials"], "true");

    // The cookie alone signs the customer in for reads.
    let jar = cookie_pair(&cookie);
    let me = post(&env, &[("cookie", &jar)], WHO).await;
    assert_eq!(me.body["data"]["customer"]["email"], "ann@example.com");
    // Sign-out from the cookie clears it and kills the session.
    let out = post(
        &env,
        &[("cookie", &jar), ("origin", SHOP), ("x-authd-csrf", "1")],
        LOGOUT,
    )
    .await;
    assert_eq!(
        out.body["data"]["customerAccessTokenDelete"]["userErrors"],
        json!([]),
        "{}",
        out.body
    );
    assert_eq!(
        out.body["data"]["customerAccessTokenDelete"]["deletedAccessToken"],
        Value::Null
    );
    assert!(set_cookie(&out).contains("Max-Age=0"));
    let me = post(&env, &[("cookie", &jar)], WHO).await;
    assert_eq!(me.body["data"]["customer"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cookie_mutation_without_csrf_proof_is_refused_and_changes_nothing() {
    let env = cookie_env().await;
    let login = post(&env, &[("origin", SHOP), ("x-authd-csrf", "1")], LOGIN).await;
    let jar = cookie_pair(&set_cookie(&login));
    // The cookie and an allowed origin, but no header (a form's POST)…
    let form = post(&env, &[("cookie", &jar), ("origin", SHOP)], LOGOUT).await;
    // …the header from another origin (one a preflight let through for
    // another project)…
    let evil = post(
        &env,
        &[("cookie", &jar), ("origin", EVIL), ("x-authd-csrf", "1")],
        LOGOUT,
    )
    .await;
    // …and the cookie alone.
    let bare = post(&env, &[("cookie", &jar)], LOGOUT).await;
    for refused in [&form, &evil, &bare] {
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert_eq!(refused.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert!(refused.headers.get("set-cookie").is_none());
    }
    // No CORS headers for an origin that is not on the list.
    assert!(evil.headers.get("access-control-allow-origin").is_none());
    // The session survived all three.
    let me = post(&env, &[("cookie", &jar)], WHO).await;
    assert_eq!(me.body["data"]["customer"]["email"], "ann@example.com");
    // A browser's sign-in from another origin is refused too (login CSRF).
    let evil_login = post(&env, &[("origin", EVIL), ("x-authd-csrf", "1")], LOGIN).await;
    assert_eq!(evil_login.status, 403);
    // A server (no Origin, no cookie) signs in as before, the token in a cookie.
    let server = post(&env, &[], LOGIN).await;
    assert_eq!(server.status, 200, "{}", server.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preflights_are_answered_only_for_allowed_origins() {
    let env = cookie_env().await;
    let preflight = |origin: &'static str| {
        let req = env
            .http
            .request(reqwest::Method::OPTIONS, env.url("/graphql/storefront"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-api-key,x-authd-csrf",
            );
        async move { req.send().await.unwrap() }
    };
    let ok = preflight(SHOP).await;
    assert!(ok.status().is_success());
    assert_eq!(ok.headers()["access-control-allow-origin"], SHOP);
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("x-authd-csrf") && allowed.contains("x-api-key"));
    let evil = preflight(EVIL).await;
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    assert!(
        evil.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // Without cookie sessions a project's tokens stay in bodies.
    env.configure(json!({ "cookieSessions": false })).await;
    let login = post(&env, &[], LOGIN).await;
    let token = &login.body["data"]["customerAccessTokenCreate"]["customerAccessToken"];
    assert!(token["accessToken"].is_string(), "{}", login.body);
    assert!(login.headers.get("set-cookie").is_none());
}
