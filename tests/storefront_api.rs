//! The Storefront API (`/graphql/storefront`) as Shopify's clients speak
//! it: the document's three operations verbatim, every customer operation
//! with the `CustomerErrorCode`s it answers, one identity shared with the
//! Customer Auth API, against a real gateway, services, nats-server,
//! SQLite and SMTP server.

mod common;

use common::{PASSWORD, TestEnv, smtp::token_in};
use serde_json::{Value, json};

fn op(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/storefront/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn sf(env: &TestEnv, bearer: Option<&str>, query: &str, variables: Value) -> Value {
    env.storefront(bearer, query, variables).await
}

const CREATE: &str = "mutation C($input: CustomerCreateInput!) { customerCreate(input: $input) {
    customer { id email firstName lastName displayName phone acceptsMarketing createdAt updatedAt }
    customerUserErrors { field message code } userErrors { field message } } }";

const TOKEN: &str = "mutation T($input: CustomerAccessTokenCreateInput!) {
    customerAccessTokenCreate(input: $input) {
      customerAccessToken { accessToken expiresAt }
      customerUserErrors { field message code } userErrors { field message } } }";

const CUSTOMER: &str = "query Q($t: String) { customer(customerAccessToken: $t) {
    id email firstName lastName phone acceptsMarketing } }";

async fn create(env: &TestEnv, input: Value) -> Value {
    sf(env, None, CREATE, json!({ "input": input })).await["data"]["customerCreate"].clone()
}

async fn token(env: &TestEnv, email: &str, password: &str) -> Value {
    let vars = json!({ "input": { "email": email, "password": password } });
    sf(env, None, TOKEN, vars).await["data"]["customerAccessTokenCreate"].clone()
}

async fn access_token(env: &TestEnv, email: &str, password: &str) -> String {
    let t = token(env, email, password).await;
    t["customerAccessToken"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{t}"))
        .to_string()
}

async fn customer(env: &TestEnv, token: &str) -> Value {
    sf(env, None, CUSTOMER, json!({ "t": token })).await["data"]["customer"].clone()
}

/// The first (and only) customerUserError's field path and code.
fn refusal(payload: &Value) -> (Value, Value) {
    let e = &payload["customerUserErrors"];
    assert_eq!(e.as_array().map(Vec::len), Some(1), "{payload}");
    // The deprecated list says the same, without the code.
    assert_eq!(
        payload["userErrors"][0]["field"], e[0]["field"],
        "{payload}"
    );
    assert_eq!(payload["userErrors"][0]["message"], e[0]["message"]);
    (e[0]["field"].clone(), e[0]["code"].clone())
}

fn unix_secs(rfc3339: &Value) -> i64 {
    let t = time::OffsetDateTime::parse(
        rfc3339.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    t.unix_timestamp()
}

#[test]
fn fixtures_are_verbatim_copies_of_the_document() {
    let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/api/storefront-customer-auth.md");
    let Ok(doc) = std::fs::read_to_string(doc) else {
        return;
    };
    for name in ["CreateCustomer", "CustomerAccessTokenCreate", "GetCustomer"] {
        assert!(
            doc.contains(op(name).trim_end()),
            "{name} drifted from the document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_documents_three_operations_work_verbatim() {
    let env = TestEnv::start().await;
    let input = json!({ "email": "ann@example.com", "password": PASSWORD,
                        "firstName": "Ann", "lastName": "Lee" });
    let created = sf(&env, None, &op("CreateCustomer"), json!({ "input": input })).await;
    assert!(created.get("errors").is_none(), "{created}");
    let c = &created["data"]["customerCreate"];
    assert_eq!(c["customer"]["email"], "ann@example.com");
    assert_eq!(c["userErrors"], json!([]));
    let id = c["customer"]["id"].clone();

    let vars = json!({ "input": { "email": "ann@example.com", "password": PASSWORD } });
    let t = sf(&env, None, &op("CustomerAccessTokenCreate"), vars).await;
    let t = &t["data"]["customerAccessTokenCreate"];
    assert_eq!(t["userErrors"], json!([]));
    let token = t["customerAccessToken"]["accessToken"].as_str().unwrap();
    // expiresAt tells the truth: the default lifetime is 30 days.
    let lifetime = unix_secs(&t["customerAccessToken"]["expiresAt"])
        - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (30 * 86_400 - 60..=30 * 86_400).contains(&lifetime),
        "{lifetime}"
    );

    let me = sf(&env, Some(token), &op("GetCustomer"), json!({})).await;
    assert_eq!(
        me["data"]["customer"],
        json!({ "id": id, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee" })
    );
    // Without a token, or with a made-up one, there is no customer (and no error).
    let nobody = sf(&env, None, &op("GetCustomer"), json!({})).await;
    assert_eq!(nobody, json!({ "data": { "customer": null } }));
    let forged = format!("{}x", &token[..token.len() - 1]);
    let nobody = sf(&env, Some(&forged), &op("GetCustomer"), json!({})).await;
    assert_eq!(nobody, json!({ "data": { "customer": null } }));
    // Shopify's own header for the public key works too.
    let shopify: Value = env
        .http
        .post(env.url("/graphql/storefront"))
        .header("x-shopify-storefront-access-token", &env.api_key)
        .bearer_auth(token)
        .json(&json!({ "query": op("GetCustomer") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shopify["data"]["customer"]["email"], "ann@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customer_create_answers_each_input_error_with_its_code_and_path() {
    let env = TestEnv::start().await;
    let ok = create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD,
        "firstName": " Ann ", "phone": "+1 (613) 555-1111", "acceptsMarketing": true }),
    )
    .await;
    assert_eq!(ok["customerUserErrors"], json!([]), "{ok}");
    assert_eq!(ok["customer"]["firstName"], "Ann");
    assert_eq!(ok["customer"]["lastName"], Value::Null);
    assert_eq!(ok["customer"]["displayName"], "Ann");
    assert_eq!(ok["customer"]["phone"], "+16135551111");
    assert_eq!(ok["customer"]["acceptsMarketing"], true);

    let email = |e: &str| json!({ "email": e, "password": PASSWORD });
    let cases: Vec<(Value, Value, &str)> = vec![
        (email(""), json!(["input", "email"]), "BLANK"),
        (email("ann"), json!(["input", "email"]), "INVALID"),
        (
            email("ann@localhost"),
            json!(["input", "email"]),
            "BAD_DOMAIN",
        ),
        (email("ANN@Example.com"), json!(["input", "email"]), "TAKEN"),
        (
            json!({ "email": "bo@example.com", "password": "" }),
            json!(["input", "password"]),
            "BLANK",
        ),
        (
            json!({ "email": "bo@example.com", "password": " padded-password" }),
            json!(["input", "password"]),
            "PASSWORD_STARTS_OR_ENDS_WITH_WHITESPACE",
        ),
        (
            json!({ "email": "bo@example.com", "password": "short" }),
            json!(["input", "password"]),
            "TOO_SHORT",
        ),
        (
            json!({ "email": "bo@example.com", "password": "x".repeat(2000) }),
            json!(["input", "password"]),
            "TOO_LONG",
        ),
        (
            json!({ "email": "bo@example.com", "password": PASSWORD, "firstName": "<script>alert(1)</script>" }),
            json!(["input", "firstName"]),
            "CONTAINS_HTML_TAGS",
        ),
        (
            json!({ "email": "bo@example.com", "password": PASSWORD, "lastName": "visit https://evil.example" }),
            json!(["input", "lastName"]),
            "CONTAINS_URL",
        ),
        (
            json!({ "email": "bo@example.com", "password": PASSWORD, "firstName": "x".repeat(256) }),
            json!(["input", "firstName"]),
            "TOO_LONG",
        ),
        (
            json!({ "email": "bo@example.com", "password": PASSWORD, "phone": "555-1111" }),
            json!(["input", "phone"]),
            "INVALID",
        ),
    ];
    for (input, field, code) in cases {
        let r = sf(&env, None, CREATE, json!({ "input": input })).await;
        assert!(r.get("errors").is_none(), "{r}");
        let payload = &r["data"]["customerCreate"];
        assert_eq!(payload["customer"], Value::Null, "{input}");
        assert_eq!(refusal(payload), (field, json!(code)), "{input}");
    }
    // Two problems at once are both reported.
    let both = create(&env, json!({ "email": "", "password": "" })).await;
    assert_eq!(
        both["customerUserErrors"].as_array().unwrap().len(),
        2,
        "{both}"
    );
    // None of the refused ones exists.
    assert_eq!(
        token(&env, "bo@example.com", PASSWORD).await["customerAccessToken"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_access_token_is_renewed_deleted_and_then_dead_everywhere() {
    let env = TestEnv::start().await;
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    // Wrong password and unknown address: the same refusal, no field.
    let wrong = token(&env, "ann@example.com", "wrong password!").await;
    let unknown = token(&env, "nobody@example.com", PASSWORD).await;
    assert_eq!(
        refusal(&wrong),
        (Value::Null, json!("UNIDENTIFIED_CUSTOMER"))
    );
    assert_eq!(wrong, unknown);

    let t = access_token(&env, "ann@example.com", PASSWORD).await;
    assert_eq!(customer(&env, &t).await["email"], "ann@example.com");
    // A token is opaque and not a refresh token of the Customer Auth API.
    let refresh = env
        .gql(
            "mutation R($t: String!) { customerRefreshToken(refreshToken: $t) { success errors { code } } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(
        refresh["data"]["customerRefreshToken"]["success"], false,
        "{refresh}"
    );

    let renew = "mutation R($t: String!) { customerAccessTokenRenew(customerAccessToken: $t) {
        customerAccessToken { accessToken expiresAt } userErrors { field message } } }";
    let r = sf(&env, None, renew, json!({ "t": t })).await;
    let renewed = &r["data"]["customerAccessTokenRenew"];
    assert_eq!(renewed["userErrors"], json!([]), "{r}");
    assert_eq!(renewed["customerAccessToken"]["accessToken"], t.as_str());
    assert!(
        unix_secs(&renewed["customerAccessToken"]["expiresAt"])
            > time::OffsetDateTime::now_utc().unix_timestamp() + 29 * 86_400
    );

    let delete = "mutation D($t: String!) { customerAccessTokenDelete(customerAccessToken: $t) {
        deletedAccessToken deletedCustomerAccessTokenId userErrors { field message } } }";
    let d = sf(&env, None, delete, json!({ "t": t })).await;
    let deleted = &d["data"]["customerAccessTokenDelete"];
    assert_eq!(deleted["deletedAccessToken"], t.as_str(), "{d}");
    assert!(
        deleted["deletedCustomerAccessTokenId"]
            .as_str()
            .unwrap()
            .starts_with("s_")
    );
    assert_eq!(customer(&env, &t).await, Value::Null);
    // Deleted: neither renewed nor deleted again.
    let again = sf(&env, None, renew, json!({ "t": t })).await;
    assert_eq!(
        again["data"]["customerAccessTokenRenew"]["customerAccessToken"],
        Value::Null
    );
    assert_eq!(
        again["data"]["customerAccessTokenRenew"]["userErrors"][0]["field"],
        json!(["customerAccessToken"])
    );
    let twice = sf(&env, None, delete, json!({ "t": t })).await;
    assert_eq!(
        twice["data"]["customerAccessTokenDelete"]["deletedAccessToken"],
        Value::Null
    );
    assert!(twice.get("errors").is_none(), "{twice}");
    // Garbage is refused the same way, never a top-level error.
    for junk in ["", "x", "a.b.c", &"9".repeat(5000)] {
        let r = sf(&env, None, renew, json!({ "t": junk })).await;
        assert!(r.get("errors").is_none(), "{r}");
        assert_eq!(
            r["data"]["customerAccessTokenRenew"]["userErrors"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(customer(&env, junk).await, Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_identity_across_both_apis() {
    let env = TestEnv::start().await;
    // Created here, signs in there…
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
    // …and its access token (a JWT) finds the same customer here.
    let jwt = login["accessToken"].as_str().unwrap();
    let me = sf(&env, Some(jwt), &op("GetCustomer"), json!({})).await;
    assert_eq!(me["data"]["customer"]["email"], "ann@example.com");
    assert_eq!(me["data"]["customer"]["id"], login["user"]["id"]);
    // Registered there, signs in here.
    env.register("bo@example.com", PASSWORD).await;
    let t = access_token(&env, "bo@example.com", PASSWORD).await;
    assert_eq!(customer(&env, &t).await["email"], "bo@example.com");
    // The same address cannot be created twice, whichever API came first.
    assert_eq!(
        refusal(
            &create(
                &env,
                json!({ "email": "BO@example.com", "password": PASSWORD })
            )
            .await
        )
        .1,
        "TAKEN"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customer_update_changes_the_profile_and_a_new_password_replaces_every_token() {
    let env = TestEnv::start().await;
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD,
        "firstName": "Ann", "phone": "+16135551111" }),
    )
    .await;
    let t = access_token(&env, "ann@example.com", PASSWORD).await;
    let other = access_token(&env, "ann@example.com", PASSWORD).await;
    let update = "mutation U($t: String!, $c: CustomerUpdateInput!) {
        customerUpdate(customerAccessToken: $t, customer: $c) {
          customer { firstName lastName phone acceptsMarketing }
          customerAccessToken { accessToken expiresAt }
          customerUserErrors { field message code } userErrors { field message } } }";
    let env = &env;
    let u = |token: &str, c: Value| {
        let vars = json!({ "t": token, "c": c });
        async move { sf(env, None, update, vars).await["data"]["customerUpdate"].clone() }
    };
    // phone: null removes it; fields left out stay.
    let r = u(
        &t,
        json!({ "lastName": "Lee", "phone": null, "acceptsMarketing": true }),
    )
    .await;
    assert_eq!(r["customerUserErrors"], json!([]), "{r}");
    assert_eq!(
        r["customer"],
        json!({ "firstName": "Ann", "lastName": "Lee", "phone": null, "acceptsMarketing": true })
    );
    assert_eq!(r["customerAccessToken"], Value::Null);
    assert_eq!(customer(env, &other).await["lastName"], "Lee");
    // Refusals name the field under `customer`.
    let r = u(&t, json!({ "firstName": "<b>Ann</b>" })).await;
    assert_eq!(
        refusal(&r),
        (
            json!(["customer", "firstName"]),
            json!("CONTAINS_HTML_TAGS")
        )
    );
    let r = u(&t, json!({ "password": "short" })).await;
    assert_eq!(
        refusal(&r),
        (json!(["customer", "password"]), json!("TOO_SHORT"))
    );
    let r = u(&t, json!({ "email": "not-an-address" })).await;
    assert_eq!(
        refusal(&r),
        (json!(["customer", "email"]), json!("INVALID"))
    );
    let r = u("not-a-token", json!({ "firstName": "Eve" })).await;
    assert_eq!(
        refusal(&r),
        (json!(["customerAccessToken"]), json!("TOKEN_INVALID"))
    );

    // A new password: a new token; every earlier one, the caller's too, is dead.
    let r = u(&t, json!({ "password": "a brand new passphrase" })).await;
    assert_eq!(r["customerUserErrors"], json!([]), "{r}");
    let fresh = r["customerAccessToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(customer(env, &fresh).await["firstName"], "Ann");
    assert_eq!(customer(env, &t).await, Value::Null);
    assert_eq!(customer(env, &other).await, Value::Null);
    assert_eq!(
        refusal(&token(env, "ann@example.com", PASSWORD).await).1,
        "UNIDENTIFIED_CUSTOMER"
    );
    access_token(env, "ann@example.com", "a brand new passphrase").await;
    // The dead token cannot update anything.
    let r = u(&t, json!({ "firstName": "Eve" })).await;
    assert_eq!(refusal(&r).1, "TOKEN_INVALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspended_customer_is_disabled_and_their_tokens_end() {
    let env = TestEnv::start().await;
    let c = create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    let id = c["customer"]["id"].as_str().unwrap().to_string();
    let t = access_token(&env, "ann@example.com", PASSWORD).await;
    let s = env
        .admin(
            "mutation S($id: ID!) { customerSuspend(id: $id) { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(s["data"]["customerSuspend"]["success"], true, "{s}");
    assert_eq!(customer(&env, &t).await, Value::Null);
    assert_eq!(
        refusal(&token(&env, "ann@example.com", PASSWORD).await),
        (Value::Null, json!("CUSTOMER_DISABLED"))
    );
    let renew = sf(&env, None, "mutation R($t: String!) { customerAccessTokenRenew(customerAccessToken: $t) { customerAccessToken { accessToken } userErrors { message } } }", json!({ "t": t })).await;
    assert_eq!(
        renew["data"]["customerAccessTokenRenew"]["customerAccessToken"],
        Value::Null,
        "{renew}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recover_and_reset_by_url_or_by_id_sign_in_once() {
    let env = TestEnv::start_with_mail().await;
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    let old = access_token(&env, "ann@example.com", PASSWORD).await;
    let recover = "mutation R($e: String!) { customerRecover(email: $e) {
        customerUserErrors { field message code } userErrors { field message } } }";
    let known = sf(&env, None, recover, json!({ "e": "ann@example.com" })).await;
    let unknown = sf(&env, None, recover, json!({ "e": "nobody@example.com" })).await;
    assert_eq!(known, unknown);
    assert_eq!(
        known["data"]["customerRecover"]["customerUserErrors"],
        json!([])
    );
    let bad = sf(&env, None, recover, json!({ "e": "not-an-address" })).await;
    assert_eq!(
        refusal(&bad["data"]["customerRecover"]),
        (json!(["email"]), json!("INVALID"))
    );

    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    let link_token = token_in(&mail);
    let url = format!("https://shop.example/account/reset?token={link_token}");
    let by_url =
        "mutation R($u: URL!, $p: String!) { customerResetByUrl(resetUrl: $u, password: $p) {
        customer { email } customerAccessToken { accessToken }
        customerUserErrors { field message code } userErrors { field message } } }";
    let weak = sf(&env, None, by_url, json!({ "u": url, "p": "short" })).await;
    assert_eq!(
        refusal(&weak["data"]["customerResetByUrl"]),
        (json!(["password"]), json!("TOO_SHORT"))
    );
    let r = sf(
        &env,
        None,
        by_url,
        json!({ "u": url, "p": "a brand new passphrase" }),
    )
    .await;
    let done = &r["data"]["customerResetByUrl"];
    assert_eq!(done["customerUserErrors"], json!([]), "{r}");
    assert_eq!(done["customer"]["email"], "ann@example.com");
    let fresh = done["customerAccessToken"]["accessToken"].as_str().unwrap();
    assert_eq!(customer(&env, fresh).await["email"], "ann@example.com");
    // Every session before the reset ended; the link works once.
    assert_eq!(customer(&env, &old).await, Value::Null);
    let again = sf(
        &env,
        None,
        by_url,
        json!({ "u": url, "p": "another new passphrase" }),
    )
    .await;
    assert_eq!(
        refusal(&again["data"]["customerResetByUrl"]),
        (json!(["resetUrl"]), json!("TOKEN_INVALID"))
    );
    let junk = sf(
        &env,
        None,
        by_url,
        json!({ "u": "https://shop.example/nothing", "p": "another new passphrase" }),
    )
    .await;
    assert_eq!(
        refusal(&junk["data"]["customerResetByUrl"]).1,
        "TOKEN_INVALID"
    );

    // customerReset(id, resetToken) with Shopify's split of a link (another
    // customer: reset mail to one address is throttled to one per 30 s).
    create(
        &env,
        json!({ "email": "bo@example.com", "password": PASSWORD }),
    )
    .await;
    sf(&env, None, recover, json!({ "e": "bo@example.com" })).await;
    let mail = env.smtp().nth_to("bo@example.com", 1).await;
    let link_token = token_in(&mail);
    let (id, secret) = link_token.split_once('.').unwrap();
    let by_id =
        "mutation R($id: ID!, $i: CustomerResetInput!) { customerReset(id: $id, input: $i) {
        customer { email } customerAccessToken { accessToken }
        customerUserErrors { field message code } userErrors { field message } } }";
    let wrong_id = sf(&env, None, by_id, json!({ "id": "c_01J00000000000000000000000", "i": { "resetToken": secret, "password": "third new passphrase" } })).await;
    assert_eq!(
        refusal(&wrong_id["data"]["customerReset"]),
        (json!(["input", "resetToken"]), json!("TOKEN_INVALID"))
    );
    let r = sf(
        &env,
        None,
        by_id,
        json!({ "id": id, "i": { "resetToken": secret, "password": "third new passphrase" } }),
    )
    .await;
    assert_eq!(
        r["data"]["customerReset"]["customerUserErrors"],
        json!([]),
        "{r}"
    );
    assert_eq!(
        r["data"]["customerReset"]["customer"]["email"],
        "bo@example.com"
    );
    access_token(&env, "bo@example.com", "third new passphrase").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_live_as_long_as_the_project_says_and_costly_fields_come_one_at_a_time() {
    let env = TestEnv::start().await;
    env.configure(json!({ "customerAccessTokenTtlSeconds": 7200 }))
        .await;
    let bad = env
        .admin(
            "mutation C($input: ProjectConfigInput!) { projectConfigure(input: $input) { success errors { field code } } }",
            json!({ "input": { "allowedOrigins": ["https://shop.example/"] } }),
        )
        .await;
    assert_eq!(
        bad["data"]["projectConfigure"]["errors"][0]["field"],
        json!(["allowedOrigins"]),
        "{bad}"
    );
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    let t = token(&env, "ann@example.com", PASSWORD).await;
    let lifetime = unix_secs(&t["customerAccessToken"]["expiresAt"])
        - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((7200 - 60..=7200).contains(&lifetime), "{lifetime}");

    let q = format!(
        "mutation {{ a: customerAccessTokenCreate(input: {{ email: \"ann@example.com\", password: \"{PASSWORD}\" }}) {{ customerUserErrors {{ code }} }}
                     b: customerAccessTokenCreate(input: {{ email: \"ann@example.com\", password: \"x\" }}) {{ customerUserErrors {{ code }} }} }}"
    );
    let r = sf(&env, None, &q, json!({})).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn profile_data_stays_out_of_subjects_and_headers() {
    let env = TestEnv::start().await;
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD,
        "firstName": "Annabelle", "lastName": "Zebulon", "phone": "+16135559876" }),
    )
    .await;
    let t = access_token(&env, "ann@example.com", PASSWORD).await;
    let secret = t
        .rsplit_once('.')
        .unwrap()
        .0
        .split_once('.')
        .unwrap()
        .1
        .to_string();
    for m in env.raw_messages().await {
        let mut outside = m.subject.to_string();
        for (k, v) in m.headers.iter() {
            outside.push_str(&format!("{k}:{v:?}"));
        }
        for personal in ["Annabelle", "Zebulon", "6135559876", "ann@example.com"] {
            assert!(!outside.contains(personal), "{personal} in {outside}");
        }
        // The token itself is never stored, only its hash.
        let body = String::from_utf8_lossy(&m.payload);
        assert!(!body.contains(&secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invited_customer_activates_by_url_or_by_id_once() {
    let env = TestEnv::start_with_mail().await;
    let invite = "mutation I($e: String!) { customerInvite(email: $e, firstName: \"Ann\", lastName: \"Lee\") {
        success customerId invitedAgain errors { field code } } }";
    let r = env.admin(invite, json!({ "e": "ann@example.com" })).await;
    assert_eq!(r["data"]["customerInvite"]["success"], true, "{r}");
    assert_eq!(r["data"]["customerInvite"]["invitedAgain"], false);
    let id = r["data"]["customerInvite"]["customerId"]
        .as_str()
        .unwrap()
        .to_string();
    // Invited, not active: no password signs in, and the address is taken.
    assert_eq!(
        refusal(&token(&env, "ann@example.com", PASSWORD).await).1,
        "UNIDENTIFIED_CUSTOMER"
    );
    assert_eq!(
        refusal(
            &create(
                &env,
                json!({ "email": "ann@example.com", "password": PASSWORD })
            )
            .await
        )
        .1,
        "TAKEN"
    );

    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(mail.text.contains("/activate?token="), "{}", mail.text);
    let url = format!(
        "https://shop.example/account/activate?token={}",
        token_in(&mail)
    );
    let by_url = "mutation A($u: URL!, $p: String!) { customerActivateByUrl(activationUrl: $u, password: $p) {
        customer { id email firstName lastName } customerAccessToken { accessToken }
        customerUserErrors { field message code } userErrors { field message } } }";
    let weak = sf(&env, None, by_url, json!({ "u": url, "p": "short" })).await;
    assert_eq!(
        refusal(&weak["data"]["customerActivateByUrl"]),
        (json!(["password"]), json!("TOO_SHORT"))
    );
    let r = sf(&env, None, by_url, json!({ "u": url, "p": PASSWORD })).await;
    let done = &r["data"]["customerActivateByUrl"];
    assert_eq!(done["customerUserErrors"], json!([]), "{r}");
    assert_eq!(
        done["customer"],
        json!({ "id": id, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee" })
    );
    let t = done["customerAccessToken"]["accessToken"].as_str().unwrap();
    assert_eq!(customer(&env, t).await["email"], "ann@example.com");
    access_token(&env, "ann@example.com", PASSWORD).await;
    // Once active: the link is spent, and neither it nor a new invitation works.
    let again = sf(
        &env,
        None,
        by_url,
        json!({ "u": url, "p": "another passphrase" }),
    )
    .await;
    assert_eq!(
        refusal(&again["data"]["customerActivateByUrl"]),
        (Value::Null, json!("ALREADY_ENABLED"))
    );
    let r = env.admin(invite, json!({ "e": "ann@example.com" })).await;
    assert_eq!(
        r["data"]["customerInvite"]["errors"][0]["code"], "ALREADY_ENABLED",
        "{r}"
    );

    // customerActivate(id, activationToken), after a second invitation.
    env.admin(invite, json!({ "e": "bo@example.com" })).await;
    let r = env.admin(invite, json!({ "e": "bo@example.com" })).await;
    assert_eq!(r["data"]["customerInvite"]["invitedAgain"], true, "{r}");
    let bo = r["data"]["customerInvite"]["customerId"]
        .as_str()
        .unwrap()
        .to_string();
    let first = token_in(&env.smtp().nth_to("bo@example.com", 1).await);
    let second = token_in(&env.smtp().nth_to("bo@example.com", 2).await);
    let by_id =
        "mutation A($id: ID!, $i: CustomerActivateInput!) { customerActivate(id: $id, input: $i) {
        customer { email } customerAccessToken { accessToken }
        customerUserErrors { field message code } userErrors { field message } } }";
    let secret = |t: &str| t.split_once('.').unwrap().1.to_string();
    // The first link was replaced by the second.
    let old = sf(
        &env,
        None,
        by_id,
        json!({ "id": bo, "i": { "activationToken": secret(&first), "password": PASSWORD } }),
    )
    .await;
    assert_eq!(
        refusal(&old["data"]["customerActivate"]),
        (json!(["input", "activationToken"]), json!("TOKEN_INVALID"))
    );
    let r = sf(
        &env,
        None,
        by_id,
        json!({ "id": bo, "i": { "activationToken": secret(&second), "password": PASSWORD } }),
    )
    .await;
    assert_eq!(
        r["data"]["customerActivate"]["customerUserErrors"],
        json!([]),
        "{r}"
    );
    assert_eq!(
        r["data"]["customerActivate"]["customer"]["email"],
        "bo@example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_moves_to_a_free_address_which_must_be_verified_and_the_old_one_is_told() {
    let env = TestEnv::start_with_mail().await;
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    create(
        &env,
        json!({ "email": "bo@example.com", "password": PASSWORD }),
    )
    .await;
    let t = access_token(&env, "ann@example.com", PASSWORD).await;
    let update = "mutation U($t: String!, $c: CustomerUpdateInput!) {
        customerUpdate(customerAccessToken: $t, customer: $c) {
          customer { email } customerUserErrors { field message code } userErrors { field message } } }";
    let u = |c: Value| sf(&env, None, update, json!({ "t": t, "c": c }));
    // Another customer's address is taken, in any case; the same one changes nothing.
    let taken = u(json!({ "email": "BO@example.com" })).await;
    assert_eq!(
        refusal(&taken["data"]["customerUpdate"]),
        (json!(["customer", "email"]), json!("TAKEN"))
    );
    let same = u(json!({ "email": "Ann@Example.com" })).await;
    assert_eq!(
        same["data"]["customerUpdate"]["customer"]["email"], "ann@example.com",
        "{same}"
    );

    let moved = u(json!({ "email": "ann.lee@example.com" })).await;
    assert_eq!(
        moved["data"]["customerUpdate"]["customerUserErrors"],
        json!([]),
        "{moved}"
    );
    assert_eq!(
        moved["data"]["customerUpdate"]["customer"]["email"],
        "ann.lee@example.com"
    );
    // The token still works; the new address signs in, the old one does not.
    assert_eq!(customer(&env, &t).await["email"], "ann.lee@example.com");
    access_token(&env, "ann.lee@example.com", PASSWORD).await;
    assert_eq!(
        refusal(&token(&env, "ann@example.com", PASSWORD).await).1,
        "UNIDENTIFIED_CUSTOMER"
    );
    // The old address is told (without the new one); the new one gets a link.
    let notice = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(notice.text.contains("was just changed"), "{}", notice.text);
    assert!(!notice.text.contains("ann.lee"));
    let verify = env.smtp().nth_to("ann.lee@example.com", 1).await;
    assert!(verify.text.contains("/verify?token="), "{}", verify.text);
    let verified = env
        .gql(
            "mutation V($t: String!) { customerVerifyEmail(token: $t) { success user { email emailVerified } } }",
            json!({ "t": token_in(&verify) }),
        )
        .await;
    assert_eq!(
        verified["data"]["customerVerifyEmail"]["user"]["emailVerified"], true,
        "{verified}"
    );
    // The old address is free again.
    let reuse = create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(reuse["customerUserErrors"], json!([]), "{reuse}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_number_belongs_to_one_customer_until_they_give_it_up() {
    let env = TestEnv::start().await;
    create(
        &env,
        json!({ "email": "ann@example.com", "password": PASSWORD, "phone": "+16135551111" }),
    )
    .await;
    // The same number in another form is the same number.
    let taken = create(
        &env,
        json!({ "email": "bo@example.com", "password": PASSWORD, "phone": "+1 613-555-1111" }),
    )
    .await;
    assert_eq!(refusal(&taken), (json!(["input", "phone"]), json!("TAKEN")));
    // Refused whole: Bo was not created.
    create(
        &env,
        json!({ "email": "bo@example.com", "password": PASSWORD }),
    )
    .await;
    let ann = access_token(&env, "ann@example.com", PASSWORD).await;
    let bo = access_token(&env, "bo@example.com", PASSWORD).await;
    let update = "mutation U($t: String!, $c: CustomerUpdateInput!) {
        customerUpdate(customerAccessToken: $t, customer: $c) {
          customer { phone } customerUserErrors { field message code } userErrors { field message } } }";
    let u = |t: &str, c: Value| sf(&env, None, update, json!({ "t": t, "c": c }));
    let r = u(&bo, json!({ "phone": "+16135551111", "firstName": "Bo" })).await;
    assert_eq!(
        refusal(&r["data"]["customerUpdate"]),
        (json!(["customer", "phone"]), json!("TAKEN"))
    );
    assert_eq!(
        customer(&env, &bo).await["firstName"],
        Value::Null,
        "refused whole"
    );
    // Ann keeps hers when she changes something else, then moves to another.
    let r = u(&ann, json!({ "firstName": "Ann" })).await;
    assert_eq!(
        r["data"]["customerUpdate"]["customer"]["phone"], "+16135551111",
        "{r}"
    );
    let r = u(&ann, json!({ "phone": "+16135552222" })).await;
    assert_eq!(
        r["data"]["customerUpdate"]["customerUserErrors"],
        json!([]),
        "{r}"
    );
    // Her old number is free; her new one is not.
    let r = u(&bo, json!({ "phone": "+16135551111" })).await;
    assert_eq!(
        r["data"]["customerUpdate"]["customer"]["phone"], "+16135551111",
        "{r}"
    );
    let r = u(&bo, json!({ "phone": "+16135552222" })).await;
    assert_eq!(refusal(&r["data"]["customerUpdate"]).1, "TAKEN");
    // Removing a number frees it.
    u(&ann, json!({ "phone": null })).await;
    let r = u(&bo, json!({ "phone": "+16135552222" })).await;
    assert_eq!(
        r["data"]["customerUpdate"]["customer"]["phone"], "+16135552222",
        "{r}"
    );
}
