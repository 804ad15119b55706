//! Sign-in through an external OpenID Provider: panva's certified
//! `oidc-provider` (tests/oidc/server.mjs) on loopback, driven through its
//! real login and consent pages by an HTTP client with cookies, discovery,
//! JWKS and PKCE included; and the refusals a relying party owes.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use authd::nats_server::free_port;
use common::{TestEnv, node};
use serde_json::{Value, json};

struct Provider {
    child: Child,
    issuer: String,
    redirect: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start() -> Self {
        let dir = node::repo_dir("tests/oidc");
        node::npm_ci(&dir);
        let port = free_port();
        // The storefront page the provider sends customers back to; nothing
        // needs to listen there: the test reads the redirect itself.
        let redirect = format!("http://127.0.0.1:{}/callback", free_port());
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg(port.to_string())
            .arg(&redirect)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node.js 20+ is needed)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.starts_with("READY "));
        assert!(ready, "the OpenID Provider did not start");
        // Keep draining its notices so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
            redirect,
        }
    }

    async fn misbehave(&self, mode: &str) {
        reqwest::Client::new()
            .post(format!("{}/__mode?set={mode}", self.issuer))
            .send()
            .await
            .unwrap();
    }

    /// A browser at the provider: follows `url` through the login (as
    /// `login`) and consent pages, answering the code and state it is
    /// sent back with.
    async fn authorize(&self, url: &str, login: &str) -> (String, String) {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut next = reqwest::Url::parse(url).unwrap();
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..12 {
            if next.as_str().starts_with(&self.redirect) {
                let q: std::collections::HashMap<_, _> = next.query_pairs().into_owned().collect();
                let code = q.get("code").unwrap_or_else(|| panic!("no code: {next}"));
                return (code.clone(), q["state"].clone());
            }
            let r = match form.take() {
                Some(f) => browser.post(next.clone()).form(&f).send().await.unwrap(),
                None => browser.get(next.clone()).send().await.unwrap(),
            };
            let location = r
                .headers()
                .get("location")
                .unwrap_or_else(|| panic!("no redirect from {next}: {}", r.status()))
                .to_str()
                .unwrap()
                .to_string();
            next = next.join(&location).unwrap();
            if next.path().starts_with("/interaction/") {
                // The dev interactions: the login prompt, then consent.
                let page = browser
                    .get(next.clone())
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                form = Some(if page.contains("name=\"login\"") {
                    vec![("prompt", "login"), ("login", login), ("password", "any")]
                } else {
                    vec![("prompt", "consent")]
                });
            }
        }
        panic!("the provider never sent the browser back");
    }
}

const START: &str = "mutation S($input: ProviderLoginInput!) {
  customerLoginWithProvider(input: $input) {
    success method providerId providerKey redirectUrl state
    errors { field message code }
  }
}";

const CALLBACK: &str = "mutation C($key: String, $code: String!, $state: String!) {
  customerProviderCallback(input: { providerKey: $key, code: $code, state: $state }) {
    success accessToken refreshToken user { id email } isNewCustomer
    errors { field message code }
  }
}";

async fn configure(env: &TestEnv, idp: &Provider) {
    let urls = env
        .admin(
            "mutation U($urls: [String!]!) { authProviderReturnUrlsSet(urls: $urls) { success errors { code } } }",
            json!({ "urls": [idp.redirect] }),
        )
        .await;
    assert_eq!(
        urls["data"]["authProviderReturnUrlsSet"]["success"], true,
        "{urls}"
    );
    let saved = env
        .admin(
            "mutation P($input: AuthProviderInput!) { authProviderSave(input: $input) {
               success provider { id key name type enabled isDefault priority } errors { field code message } } }",
            json!({ "input": {
                "key": "idp", "name": "Test IdP", "isDefault": true, "priority": 1,
                "issuer": idp.issuer, "clientId": "authd-test", "clientSecret": "authd-test-secret",
                "scopes": ["openid", "email", "profile"],
            }}),
        )
        .await;
    assert_eq!(
        saved["data"]["authProviderSave"]["success"], true,
        "{saved}"
    );
    assert_eq!(
        saved["data"]["authProviderSave"]["provider"]["type"], "OIDC",
        "{saved}"
    );
}

/// Starts a login and walks the provider's pages as `login`: the code
/// and state the provider sent back.
async fn through_provider(env: &TestEnv, idp: &Provider, login: &str) -> (String, String) {
    through(env, idp, "idp", login).await
}

async fn through(env: &TestEnv, idp: &Provider, key: &str, login: &str) -> (String, String) {
    let input = json!({ "providerKey": key, "email": login, "returnTo": idp.redirect });
    let started = env.gql(START, json!({ "input": input })).await;
    let s = &started["data"]["customerLoginWithProvider"];
    assert_eq!(s["success"], true, "{started}");
    assert_eq!(s["method"], "OAUTH");
    let url = s["redirectUrl"].as_str().unwrap();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    // Each scope once (the saved list names `openid`, which OpenID
    // Connect asks for anyway): a strict provider refuses a repeat.
    let scope = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    let expected = if key == "idp" {
        "openid email profile"
    } else {
        "openid email"
    };
    assert_eq!(scope.as_deref(), Some(expected), "{url}");
    let (code, state) = idp.authorize(url, login).await;
    assert_eq!(
        state,
        s["state"].as_str().unwrap(),
        "the provider changed the state"
    );
    (code, state)
}

async fn callback(env: &TestEnv, code: &str, state: &str) -> Value {
    callback_to(env, "idp", code, state).await
}

async fn callback_to(env: &TestEnv, key: &str, code: &str, state: &str) -> Value {
    let v = env
        .gql(
            CALLBACK,
            json!({ "key": key, "code": code, "state": state }),
        )
        .await;
    v["data"]["customerProviderCallback"].clone()
}

fn code_of(v: &Value) -> &str {
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_up_and_in_through_a_real_openid_provider() {
    let idp = Provider::start();
    let env = TestEnv::start().await;
    configure(&env, &idp).await;

    // Listed without a secret; the project now offers OAuth.
    let listed = env
        .gql("{ authProviders { id key name type enabled isDefault priority } authConfig { authMethods } }", json!({}))
        .await;
    assert_eq!(listed["data"]["authProviders"][0]["key"], "idp", "{listed}");
    assert!(!listed.to_string().contains("authd-test-secret"));
    let methods = listed["data"]["authConfig"]["authMethods"].to_string();
    assert!(methods.contains("OAUTH"), "{methods}");

    // First sign-in: a new customer, signed in.
    let (code, state) = through_provider(&env, &idp, "alice@example.test").await;
    let first = callback(&env, &code, &state).await;
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(first["isNewCustomer"], true);
    assert_eq!(first["user"]["email"], "alice@example.test");
    let me = env
        .current_user(first["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(
        me["data"]["currentUser"]["email"], "alice@example.test",
        "{me}"
    );
    assert!(first["refreshToken"].is_string());

    // The same state again (a replayed callback) is refused.
    let replay = callback(&env, &code, &state).await;
    assert_eq!(code_of(&replay), "INVALID_STATE", "{replay}");
    // So is a state authd never made.
    let forged = callback(&env, &code, &"A".repeat(43)).await;
    assert_eq!(code_of(&forged), "INVALID_STATE", "{forged}");

    // Second sign-in: the same customer, found by the linked identity.
    let (code, state) = through_provider(&env, &idp, "alice@example.test").await;
    let again = callback(&env, &code, &state).await;
    assert_eq!(again["success"], true, "{again}");
    assert_eq!(again["isNewCustomer"], false);
    assert_eq!(again["user"]["id"], first["user"]["id"]);

    // No secret, code or state in the log: only the sealed client secret.
    let messages = env.raw_messages().await;
    let log: Vec<u8> = messages.iter().flat_map(|m| m.payload.to_vec()).collect();
    for secret in ["authd-test-secret", code.as_str(), state.as_str()] {
        assert!(
            !log.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the log"
        );
    }
    let types: Vec<String> = messages
        .iter()
        .filter_map(|m| m.headers.get("Authd-Event-Types").map(|v| v.to_string()))
        .collect();
    let types = types.join(",");
    for t in [
        "provider_login.started",
        "provider_login.completed",
        "customer.provider.linked",
        "provider_identity.claimed",
    ] {
        assert!(types.contains(t), "{t} not in {types}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_provider_email_links_and_ends_a_pre_hijackers_access_an_unverified_one_does_not()
 {
    let idp = Provider::start();
    let env = TestEnv::start().await;
    configure(&env, &idp).await;

    // An attacker registered the victim's address first, with a password.
    let attacker = env.register("carol@example.test", common::PASSWORD).await;
    assert_eq!(attacker["success"], true, "{attacker}");
    // The provider vouches for the address: link, and end the attacker's access.
    let (code, state) = through_provider(&env, &idp, "carol@example.test").await;
    let linked = callback(&env, &code, &state).await;
    assert_eq!(linked["success"], true, "{linked}");
    assert_eq!(linked["isNewCustomer"], false);
    assert_eq!(linked["user"]["id"], attacker["user"]["id"]);
    let refresh = env
        .refresh(attacker["refreshToken"].as_str().unwrap())
        .await;
    assert_eq!(refresh["success"], false, "{refresh}");
    let login = env.login("carol@example.test", common::PASSWORD).await;
    assert_eq!(login["success"], false, "{login}");

    // An address the provider does not vouch for is never linked.
    let owner = env
        .register("unverified@example.test", common::PASSWORD)
        .await;
    assert_eq!(owner["success"], true, "{owner}");
    let (code, state) = through_provider(&env, &idp, "unverified@example.test").await;
    let refused = callback(&env, &code, &state).await;
    assert_eq!(code_of(&refused), "EMAIL_NOT_VERIFIED", "{refused}");
    let still = env.login("unverified@example.test", common::PASSWORD).await;
    assert_eq!(still["success"], true, "{still}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_id_tokens_foreign_return_urls_and_a_dead_provider_are_refused() {
    let idp = Provider::start();
    let env = TestEnv::start().await;
    configure(&env, &idp).await;

    // Each ID token below is wrong in one way; each is refused, and the
    // state is spent (no second try with it).
    for mode in [
        "wrong-aud",
        "wrong-nonce",
        "wrong-issuer",
        "expired",
        "other-key",
    ] {
        let (code, state) = through_provider(&env, &idp, "dave@example.test").await;
        idp.misbehave(mode).await;
        let refused = callback(&env, &code, &state).await;
        idp.misbehave("honest").await;
        assert_eq!(code_of(&refused), "PROVIDER_ERROR", "{mode}: {refused}");
        let again = callback(&env, &code, &state).await;
        assert_eq!(code_of(&again), "INVALID_STATE", "{mode}: {again}");
    }
    // Nobody was signed up by those.
    let (code, state) = through_provider(&env, &idp, "dave@example.test").await;
    let honest = callback(&env, &code, &state).await;
    assert_eq!(honest["isNewCustomer"], true, "{honest}");

    // A code for one state does not complete another (PKCE: the verifier
    // is the other login's).
    let (code_a, _) = through_provider(&env, &idp, "erin@example.test").await;
    let (_, state_b) = through_provider(&env, &idp, "erin@example.test").await;
    let crossed = callback(&env, &code_a, &state_b).await;
    assert_eq!(code_of(&crossed), "PROVIDER_ERROR", "{crossed}");

    // No open redirects.
    let input = json!({ "providerKey": "idp", "returnTo": "https://evil.example/callback" });
    let open = env.gql(START, json!({ "input": input })).await;
    assert_eq!(
        code_of(&open["data"]["customerLoginWithProvider"]),
        "RETURN_URL_NOT_ALLOWED",
        "{open}"
    );
    // An unknown provider key.
    let input = json!({ "providerKey": "nope", "returnTo": idp.redirect });
    let unknown = env.gql(START, json!({ "input": input })).await;
    assert_eq!(
        code_of(&unknown["data"]["customerLoginWithProvider"]),
        "PROVIDER_NOT_FOUND"
    );

    // A provider that does not answer: a clear code, at once.
    let dead = env
        .admin(
            "mutation P($input: AuthProviderInput!) { authProviderSave(input: $input) { success errors { code } } }",
            json!({ "input": {
                "key": "dead", "name": "Down", "issuer": format!("http://127.0.0.1:{}", free_port()),
                "clientId": "x", "clientSecret": "y",
            }}),
        )
        .await;
    assert_eq!(dead["data"]["authProviderSave"]["success"], true, "{dead}");
    let input = json!({ "providerKey": "dead", "returnTo": idp.redirect });
    let started = std::time::Instant::now();
    let down = env.gql(START, json!({ "input": input })).await;
    assert_eq!(
        code_of(&down["data"]["customerLoginWithProvider"]),
        "PROVIDER_UNAVAILABLE",
        "{down}"
    );
    assert!(started.elapsed() < Duration::from_secs(12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_oauth2_provider_signs_in_through_its_userinfo_endpoint() {
    let idp = Provider::start();
    let env = TestEnv::start().await;
    configure(&env, &idp).await;
    // The same server, spoken to as plain OAuth 2.0: its authorization,
    // token and userinfo endpoints, no discovery and no ID token.
    let saved = env
        .admin(
            "mutation P($input: AuthProviderInput!) { authProviderSave(input: $input) {
               success provider { id type } errors { field code message } } }",
            json!({ "input": {
                "type": "OAUTH2", "key": "plain", "name": "Plain OAuth",
                "authorizeUrl": format!("{}/auth", idp.issuer),
                "tokenUrl": format!("{}/token", idp.issuer),
                "userinfoUrl": format!("{}/me", idp.issuer),
                "clientId": "authd-test", "clientSecret": "authd-test-secret",
                "scopes": ["openid", "email", "email"], "emailVerifiedClaim": "email_verified",
            }}),
        )
        .await;
    assert_eq!(
        saved["data"]["authProviderSave"]["provider"]["type"], "OAUTH2",
        "{saved}"
    );
    let (code, state) = through(&env, &idp, "plain", "gus@example.test").await;
    // The state is bound to its provider: another key cannot complete it.
    let crossed = callback_to(&env, "idp", &code, &state).await;
    assert_eq!(code_of(&crossed), "INVALID_STATE", "{crossed}");
    let (code, state) = through(&env, &idp, "plain", "gus@example.test").await;
    let signed = callback_to(&env, "plain", &code, &state).await;
    assert_eq!(signed["success"], true, "{signed}");
    assert_eq!(signed["isNewCustomer"], true);
    assert_eq!(signed["user"]["email"], "gus@example.test");
    // Without a verified-email claim in the mapping, an existing customer's
    // address is never linked.
    let change = env
        .admin(
            "mutation P($input: AuthProviderInput!) { authProviderSave(input: $input) { success errors { code } } }",
            json!({ "input": {
                "id": saved["data"]["authProviderSave"]["provider"]["id"], "type": "OAUTH2",
                "key": "plain", "name": "Plain OAuth",
                "authorizeUrl": format!("{}/auth", idp.issuer),
                "tokenUrl": format!("{}/token", idp.issuer),
                "userinfoUrl": format!("{}/me", idp.issuer),
                "clientId": "authd-test", "scopes": ["openid", "email"],
            }}),
        )
        .await;
    assert_eq!(
        change["data"]["authProviderSave"]["success"], true,
        "{change}"
    );
    env.register("hal@example.test", common::PASSWORD).await;
    let (code, state) = through(&env, &idp, "plain", "hal@example.test").await;
    let refused = callback_to(&env, "plain", &code, &state).await;
    assert_eq!(code_of(&refused), "EMAIL_NOT_VERIFIED", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_dev_providers_at_private_addresses_are_refused() {
    // A project admin names the URLs the services call: never the network
    // the services run in, unless the operator allows it.
    let env = TestEnv::start_with(|c| c.dev = false).await;
    let save = "mutation P($input: AuthProviderInput!) { authProviderSave(input: $input) {
                  success errors { field code } } }";
    for issuer in [
        "http://127.0.0.1:9",
        "https://10.0.0.5",
        "https://169.254.169.254",
    ] {
        let input = json!({ "key": "idp", "name": "IdP", "issuer": issuer, "clientId": "c", "clientSecret": "s" });
        let v = env.admin(save, json!({ "input": input })).await;
        let e = &v["data"]["authProviderSave"]["errors"][0];
        assert_eq!(e["code"], "INVALID_INPUT", "{issuer}: {v}");
        assert_eq!(e["field"][0], "issuer", "{issuer}: {v}");
    }
    let shop = json!({ "type": "SHOPIFY", "key": "shop", "name": "Shop", "shopDomain": "127.0.0.1:8080", "storefrontAccessToken": "t" });
    let v = env.admin(save, json!({ "input": shop })).await;
    assert_eq!(
        v["data"]["authProviderSave"]["errors"][0]["field"][0], "shopDomain",
        "{v}"
    );
    let public = json!({ "key": "idp", "name": "IdP", "issuer": "https://accounts.example", "clientId": "c", "clientSecret": "s" });
    let v = env.admin(save, json!({ "input": public })).await;
    assert_eq!(v["data"]["authProviderSave"]["success"], true, "{v}");
}
