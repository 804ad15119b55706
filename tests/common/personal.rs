//! A Storefront customer with every kind of personal data authd keeps:
//! a profile, an address, a metafield, an order with a shipping address,
//! and requests from a browser of their own (its user agent). For the
//! tests that look for that data where it must not be (sealing, erasure).

#![allow(dead_code)]

use serde_json::{Value, json};

use super::{PASSWORD, TestEnv};

/// What the customer gives: each value findable on its own.
pub struct PersonalData {
    pub email: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub phone: &'static str,
    pub address1: &'static str,
    /// The value of their `custom.note` metafield.
    pub note: &'static str,
    pub shipping_address1: &'static str,
    /// The name of their order (not personal: a control).
    pub order_name: &'static str,
    pub user_agent: &'static str,
}

impl PersonalData {
    /// Every personal value, as bytes to search files for.
    pub fn markers(&self) -> Vec<Vec<u8>> {
        [
            self.email.as_str(),
            self.first_name,
            self.last_name,
            self.phone,
            self.address1,
            self.note,
            self.shipping_address1,
            self.user_agent,
        ]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect()
    }
}

/// A Storefront request from the customer's browser.
pub async fn storefront_as(
    env: &TestEnv,
    p: &PersonalData,
    query: &str,
    variables: Value,
) -> Value {
    reqwest::Client::new()
        .post(env.url("/graphql/storefront"))
        .header("x-api-key", &env.api_key)
        .header("user-agent", p.user_agent)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Signs the customer up and in (`PASSWORD`), gives them all of `p`
/// (declaring `custom.note` READ_WRITE): their id and Storefront token.
pub async fn customer_with(env: &TestEnv, p: &PersonalData) -> (String, String) {
    env.configure(json!({ "customerMetafields": [
        { "namespace": "custom", "key": "note", "type": "single_line_text_field", "access": "READ_WRITE" }
    ] }))
    .await;
    let created = storefront_as(
        env,
        p,
        "mutation C($i: CustomerCreateInput!) { customerCreate(input: $i) { customer { id } customerUserErrors { code } } }",
        json!({ "i": { "email": p.email, "password": PASSWORD, "firstName": p.first_name,
                       "lastName": p.last_name, "phone": p.phone } }),
    )
    .await;
    let id = created["data"]["customerCreate"]["customer"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let t = storefront_as(
        env,
        p,
        "mutation T($i: CustomerAccessTokenCreateInput!) { customerAccessTokenCreate(input: $i) {
           customerAccessToken { accessToken } } }",
        json!({ "i": { "email": p.email, "password": PASSWORD } }),
    )
    .await;
    let token = t["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{t}"))
        .to_string();
    let a = storefront_as(
        env,
        p,
        "mutation A($t: String!, $a: MailingAddressInput!) { customerAddressCreate(
           customerAccessToken: $t, address: $a) { customerAddress { id } customerUserErrors { code } } }",
        json!({ "t": token, "a": { "address1": p.address1, "city": "Ottawa",
                                   "country": "CA", "province": "ON", "zip": "K1A 0B1" } }),
    )
    .await;
    assert!(
        a["data"]["customerAddressCreate"]["customerAddress"]["id"].is_string(),
        "{a}"
    );
    let m = storefront_as(
        env,
        p,
        "mutation M($t: String!, $v: String!) { customerMetafieldsSet(customerAccessToken: $t,
           metafields: [{ key: \"note\", value: $v }]) { customerUserErrors { code } } }",
        json!({ "t": token, "v": p.note }),
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
            json!({ "i": { "customerId": id, "externalId": format!("ext-{}", p.order_name),
                "name": p.order_name, "processedAt": "2026-01-01T10:00:00Z",
                "currencyCode": "CAD", "totalPrice": "9.99",
                "shippingAddress": { "address1": p.shipping_address1, "city": "Ottawa",
                                     "country": "CA", "zip": "K1A 0B1" },
                "lineItems": [{ "title": "Mug", "quantity": 1, "price": "9.99" }] } }),
        )
        .await;
    assert_eq!(r["data"]["orderRecord"]["success"], true, "{r}");
    (id, token)
}
