//! Shopify as a provider, against a Storefront API stand-in
//! (tests/shopify/server.mjs) that opens every Multipass token on its own
//! with Node's crypto and the shared secret: Multipass for a signed-in
//! customer, a mailed code otherwise, token renewal, and the refusals.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use authd::nats_server::free_port;
use authd_events::{CustomerEvent, Event, ProviderFailure};
use common::{PASSWORD, TestEnv, node, smtp::code_in};
use serde_json::{Value, json};

const STOREFRONT_TOKEN: &str = "shpat-storefront-token-0123456789";
const MULTIPASS_SECRET: &str = "multipass-secret-abcdef0123456789";

struct Shop {
    child: Child,
    domain: String,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Shop {
    fn start() -> Self {
        let port = free_port();
        let mut child = Command::new("node")
            .args([
                "server.mjs",
                &port.to_string(),
                STOREFRONT_TOKEN,
                MULTIPASS_SECRET,
            ])
            .current_dir(node::repo_dir("tests/shopify"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node.js 20+ is needed)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.starts_with("READY ")),
            "the Shopify stand-in did not start"
        );
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            domain: format!("127.0.0.1:{port}"),
        }
    }

    async fn log(&self) -> Value {
        let url = format!("http://{}/__log", self.domain);
        reqwest::get(url).await.unwrap().json().await.unwrap()
    }

    async fn set_down(&self, down: bool) {
        let set = if down { "down" } else { "up" };
        let url = format!("http://{}/__mode?set={set}", self.domain);
        reqwest::Client::new().post(url).send().await.unwrap();
    }
}

const START: &str = "mutation S($email: String!) {
  customerLoginWithProvider(input: { providerKey: \"shopify\", email: $email }) {
    success method providerKey accessToken refreshToken shopifyAccessToken shopifyTokenExpiresAt
    otpSent expiresAt errors { field message code }
  }
}";

const VERIFY: &str = "mutation V($email: String!, $otp: String!) {
  customerProviderVerifyOTP(input: { providerKey: \"shopify\", email: $email, otp: $otp }) {
    success accessToken refreshToken user { id email } isNewCustomer errors { code }
  }
}";

const REFRESH: &str = "mutation R($currentToken: String!, $shopId: String!) {
  refreshShopifyCustomerToken(currentToken: $currentToken, shopId: $shopId) {
    success accessToken expiresAt errors { field message code }
  }
}";

/// Adds the store (or changes it, with `id`): its provider id.
async fn save_shop(env: &TestEnv, shop: &Shop, multipass: &str, id: Option<&str>) -> String {
    let saved = env
        .admin(
            "mutation P($input: AuthProviderInput!) { authProviderSave(input: $input) {
               success provider { id type } errors { field code message } } }",
            json!({ "input": {
                "id": id, "type": "SHOPIFY", "key": "shopify",
                "shopDomain": shop.domain, "storefrontAccessToken": STOREFRONT_TOKEN,
                "multipassSecret": multipass,
            }}),
        )
        .await;
    assert_eq!(
        saved["data"]["authProviderSave"]["success"], true,
        "{saved}"
    );
    saved["data"]["authProviderSave"]["provider"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn start_payload(v: &Value) -> &Value {
    &v["data"]["customerLoginWithProvider"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_customer_gets_a_shopify_token_by_multipass_and_renews_it() {
    let shop = Shop::start();
    let env = TestEnv::start_with_mail().await;
    let id = save_shop(&env, &shop, MULTIPASS_SECRET, None).await;
    let listed = env
        .gql(
            "{ authProviders { key name type } authConfig { authMethods } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["authProviders"][0]["type"], "SHOPIFY",
        "{listed}"
    );
    // Saved without a name: the shop's domain.
    assert_eq!(listed["data"]["authProviders"][0]["name"], shop.domain);
    assert!(
        listed["data"]["authConfig"]["authMethods"]
            .to_string()
            .contains("SHOPIFY")
    );

    // Registered with a password, the address never proven: no Multipass
    // token (whoever registered it may not own it, and the store would
    // take the token as its owner's), a mailed code instead.
    let ann = env.register("ann@example.com", PASSWORD).await;
    let unproven = ann["accessToken"].as_str().unwrap().to_string();
    let v = env
        .gql_as(
            Some(&unproven),
            START,
            json!({ "email": "ann@example.com" }),
        )
        .await;
    let m = start_payload(&v);
    assert_eq!(m["method"], "OTP", "{v}");
    assert_eq!(m["otpSent"], true, "{v}");
    assert!(m["shopifyAccessToken"].is_null() && m["accessToken"].is_null());
    assert_eq!(
        shop.log().await.as_array().unwrap().len(),
        0,
        "the store was asked for a token"
    );
    // The code proves the address; the same call then answers MULTIPASS.
    let code = code_in(&env.smtp().nth_to("ann@example.com", 1).await);
    let ok = env
        .gql(VERIFY, json!({ "email": "ann@example.com", "otp": code }))
        .await;
    let proven = &ok["data"]["customerProviderVerifyOTP"];
    assert_eq!(proven["success"], true, "{ok}");
    assert_eq!(proven["isNewCustomer"], false, "{ok}");
    let bearer = proven["accessToken"].as_str().unwrap().to_string();

    // A returnTo must be one of the project's return URLs.
    let elsewhere = env
        .gql_as(
            Some(&bearer),
            "mutation { customerLoginWithProvider(input: { providerKey: \"shopify\", returnTo: \"https://elsewhere.example/\" }) { success errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        start_payload(&elsewhere)["errors"][0]["code"],
        "RETURN_URL_NOT_ALLOWED",
        "{elsewhere}"
    );

    let v = env
        .gql_as(Some(&bearer), START, json!({ "email": "ann@example.com" }))
        .await;
    let m = start_payload(&v);
    assert_eq!(m["method"], "MULTIPASS", "{v}");
    assert!(
        m["shopifyAccessToken"]
            .as_str()
            .unwrap()
            .starts_with("shp_"),
        "{v}"
    );
    assert!(m["shopifyTokenExpiresAt"].is_string(), "{v}");
    // A new authd session came with it.
    let me = env.current_user(m["accessToken"].as_str().unwrap()).await;
    assert_eq!(
        me["data"]["currentUser"]["email"], "ann@example.com",
        "{me}"
    );
    assert!(m["refreshToken"].is_string());
    // The store opened the token on its own: the address, the time, where to go.
    let log = shop.log().await;
    let opened = &log[0]["customer"];
    assert!(log[0]["error"].is_null(), "{log}");
    assert_eq!(opened["email"], "ann@example.com", "{log}");
    assert!(
        opened["created_at"].is_string() && opened["return_to"].is_string(),
        "{log}"
    );

    // Renewal through the store.
    let shopify_token = m["shopifyAccessToken"].as_str().unwrap();
    let renewed = env
        .gql(
            REFRESH,
            json!({ "currentToken": shopify_token, "shopId": "shopify" }),
        )
        .await;
    let r = &renewed["data"]["refreshShopifyCustomerToken"];
    assert_eq!(r["success"], true, "{renewed}");
    assert_eq!(r["accessToken"], shopify_token);
    assert!(
        r["expiresAt"].as_str() > m["shopifyTokenExpiresAt"].as_str(),
        "{renewed}"
    );
    let unknown = env
        .gql(
            REFRESH,
            json!({ "currentToken": "shp_forged", "shopId": shop.domain }),
        )
        .await;
    // A token the store refuses is the provider's refusal, as everywhere.
    let refused = &unknown["data"]["refreshShopifyCustomerToken"];
    assert_eq!(refused["success"], false, "{unknown}");
    assert_eq!(refused["errors"][0]["code"], "PROVIDER_ERROR", "{unknown}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "{unknown}"
    );
    let no_shop = env
        .gql(
            REFRESH,
            json!({ "currentToken": shopify_token, "shopId": "another-shop" }),
        )
        .await;
    assert_eq!(
        no_shop["data"]["refreshShopifyCustomerToken"]["errors"][0]["code"],
        "PROVIDER_NOT_FOUND"
    );

    // Multipass speaks for the signed-in customer only.
    let other = env
        .gql_as(Some(&bearer), START, json!({ "email": "bob@example.com" }))
        .await;
    assert_eq!(
        start_payload(&other)["errors"][0]["code"],
        "INVALID_INPUT",
        "{other}"
    );

    // A store that fails answers a clear code, and nothing is signed in.
    shop.set_down(true).await;
    let down = env
        .gql_as(Some(&bearer), START, json!({ "email": "ann@example.com" }))
        .await;
    let renew_down = env
        .gql(
            REFRESH,
            json!({ "currentToken": shopify_token, "shopId": "shopify" }),
        )
        .await;
    shop.set_down(false).await;
    assert_eq!(
        start_payload(&down)["errors"][0]["code"],
        "PROVIDER_UNAVAILABLE",
        "{down}"
    );
    assert_eq!(
        renew_down["data"]["refreshShopifyCustomerToken"]["errors"][0]["code"],
        "PROVIDER_UNAVAILABLE",
        "{renew_down}"
    );

    // A wrong Multipass secret: the store refuses the token.
    save_shop(&env, &shop, "not-the-stores-secret", Some(&id)).await;
    let refused = env
        .gql_as(Some(&bearer), START, json!({ "email": "ann@example.com" }))
        .await;
    assert_eq!(
        start_payload(&refused)["errors"][0]["code"],
        "PROVIDER_ERROR",
        "{refused}"
    );
    let log = shop.log().await;
    assert_eq!(
        log.as_array().unwrap().last().unwrap()["error"],
        "bad signature",
        "{log}"
    );

    // The failures are on the customer's record, with why (and nothing
    // of the token): the unproven address, the store that was down and
    // the refused sign-in with the wrong Multipass secret.
    let messages = env.raw_messages().await;
    let failures: Vec<(String, ProviderFailure)> = messages
        .iter()
        .filter_map(|m| authd_events::EventMessage::decode(&m.payload).ok())
        .flat_map(|m| m.bodies().cloned().collect::<Vec<_>>())
        .filter_map(|e| match e {
            Event::Customer(CustomerEvent::ProviderLoginFailed(f)) => {
                Some((f.provider_id, f.reason))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [
            (id.clone(), ProviderFailure::EmailNotVerified),
            (id.clone(), ProviderFailure::Unavailable),
            (id.clone(), ProviderFailure::ProviderError)
        ]
    );

    // The secrets never reach the log.
    let bytes: Vec<u8> = messages.iter().flat_map(|m| m.payload.to_vec()).collect();
    for secret in [STOREFRONT_TOKEN, MULTIPASS_SECRET, shopify_token] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_multipass_or_a_session_shopify_sign_in_is_by_mailed_code() {
    let shop = Shop::start();
    let env = TestEnv::start_with_mail().await;
    let id = save_shop(&env, &shop, MULTIPASS_SECRET, None).await;
    // Not signed in: a code, whatever the store.
    let v = env.gql(START, json!({ "email": "cy@example.com" })).await;
    let started = start_payload(&v);
    assert_eq!(started["method"], "OTP", "{v}");
    assert_eq!(started["otpSent"], true);
    assert!(started["shopifyAccessToken"].is_null() && started["accessToken"].is_null());
    let code = code_in(&env.smtp().nth_to("cy@example.com", 1).await);
    let verify = VERIFY;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = env
        .gql(verify, json!({ "email": "cy@example.com", "otp": wrong }))
        .await;
    assert_eq!(
        bad["data"]["customerProviderVerifyOTP"]["errors"][0]["code"],
        "INVALID_OTP"
    );
    let ok = env
        .gql(verify, json!({ "email": "cy@example.com", "otp": code }))
        .await;
    let done = &ok["data"]["customerProviderVerifyOTP"];
    assert_eq!(done["success"], true, "{ok}");
    assert_eq!(done["isNewCustomer"], true);
    assert_eq!(done["user"]["email"], "cy@example.com");
    // No Shopify provider by that key: refused before any code is checked.
    let none = verify.replace("\"shopify\"", "\"nope\"");
    let refused = env
        .gql(&none, json!({ "email": "cy@example.com", "otp": code }))
        .await;
    assert_eq!(
        refused["data"]["customerProviderVerifyOTP"]["errors"][0]["code"], "PROVIDER_NOT_FOUND",
        "{refused}"
    );

    // A store without Multipass signs even a signed-in customer in by code.
    save_shop(&env, &shop, "", Some(&id)).await;
    // (Another address: codes to one address are 30 s apart.)
    let dee = env.register("dee@example.com", PASSWORD).await;
    let bearer = dee["accessToken"].as_str().unwrap();
    let v = env
        .gql_as(Some(bearer), START, json!({ "email": "dee@example.com" }))
        .await;
    assert_eq!(start_payload(&v)["method"], "OTP", "{v}");
    assert_eq!(
        shop.log().await.as_array().unwrap().len(),
        0,
        "no Multipass token was sent"
    );
}
