//! The Storefront API's figures: `customerAccessTokenCreate` (a password
//! check, against raw argon2id) and the `customer` query (against bare
//! axum and `currentUser`).

use serde_json::{Value, json};

use crate::{Dev, PASSWORD};

impl Dev {
    /// POSTs to the Storefront API (`/graphql/storefront`).
    pub(crate) async fn sf(&self, query: &str, vars: Value) -> anyhow::Result<Value> {
        let url = self.url.replace("/graphql/public", "/graphql/storefront");
        let req = self
            .http
            .post(url)
            .header("x-api-key", &self.key)
            .json(&json!({ "query": query, "variables": vars }));
        Ok(req.send().await?.json().await?)
    }
}

pub(crate) fn email(i: usize) -> String {
    format!("shopper{i}@bench.example")
}

/// Creates a Storefront customer and signs them in: their access token.
pub(crate) async fn create_and_sign_in(dev: &Dev, email: &str) -> anyhow::Result<String> {
    let create = "mutation C($i: CustomerCreateInput!) { customerCreate(input: $i) { customer { id } customerUserErrors { code } } }";
    let r = dev
        .sf(
            create,
            json!({ "i": { "email": email, "password": PASSWORD } }),
        )
        .await?;
    anyhow::ensure!(
        r["data"]["customerCreate"]["customer"]["id"].is_string(),
        "customerCreate failed: {r}"
    );
    sign_in(dev, email)
        .await
        .ok_or_else(|| anyhow::anyhow!("customerAccessTokenCreate failed"))
}

/// One `customerAccessTokenCreate`: the token, when it worked.
pub(crate) async fn sign_in(dev: &Dev, email: &str) -> Option<String> {
    let q = "mutation T($i: CustomerAccessTokenCreateInput!) { customerAccessTokenCreate(input: $i) { customerAccessToken { accessToken } } }";
    let r = dev
        .sf(q, json!({ "i": { "email": email, "password": PASSWORD } }))
        .await
        .ok()?;
    r["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"]
        .as_str()
        .map(str::to_string)
}

/// One `customer` query with `token`: whether it found the customer.
pub(crate) async fn customer(dev: &Dev, token: &str) -> bool {
    let q = "query Q($t: String) { customer(customerAccessToken: $t) { id email } }";
    matches!(dev.sf(q, json!({ "t": token })).await, Ok(v) if v["data"]["customer"]["id"].is_string())
}
