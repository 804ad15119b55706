//! Shopify as a provider: Multipass tokens (Shopify Plus) and the two
//! Storefront API calls authd makes for a customer,
//! `customerAccessTokenCreateWithMultipass` and `customerAccessTokenRenew`.
//! Every call is bounded in time.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::URL_SAFE};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::oidc::{PROVIDER_TIMEOUT, ProviderFailed};

/// The Storefront API version authd speaks.
pub const API_VERSION: &str = "2025-01";

/// A Multipass token as Shopify specifies it: the customer's JSON
/// encrypted with AES-128-CBC (random IV first) under the first half of
/// SHA-256 of the secret, signed with HMAC-SHA256 under the second half,
/// all URL-safe base64.
pub fn multipass_token(secret: &str, customer: &Value) -> String {
    let keys = Sha256::digest(secret.as_bytes());
    let (encryption_key, signing_key) = keys.split_at(16);
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let plain = serde_json::to_vec(customer).expect("JSON serializes");
    let encrypted = cbc::Encryptor::<aes::Aes128>::new(encryption_key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(&plain);
    let mut ciphertext = iv.to_vec();
    ciphertext.extend_from_slice(&encrypted);
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC takes any key length");
    mac.update(&ciphertext);
    ciphertext.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(ciphertext)
}

/// A Shopify customer access token and when it expires (as Shopify says it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyToken {
    pub access_token: String,
    pub expires_at: String,
}

pub struct Shopify {
    http: reqwest::Client,
    allow_private: bool,
}

impl Shopify {
    pub fn new(allow_private: bool) -> Self {
        Self {
            http: super::oidc::provider_http(allow_private),
            allow_private,
        }
    }

    /// `https://<shop>/api/<version>/graphql.json` (plain http only to
    /// this machine, for tests and local stand-ins).
    fn endpoint(shop_domain: &str) -> String {
        let host = shop_domain.split(':').next().unwrap_or_default();
        let local = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let scheme = if local { "http" } else { "https" };
        format!("{scheme}://{shop_domain}/api/{API_VERSION}/graphql.json")
    }

    async fn call(
        &self,
        shop_domain: &str,
        storefront_token: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, ProviderFailed> {
        let endpoint = Self::endpoint(shop_domain);
        if !super::oidc::public_url(&endpoint, self.allow_private) {
            return Err(ProviderFailed::error(
                "the store's address is private (--allow-private-provider-urls allows it)",
            ));
        }
        let request = self
            .http
            .post(endpoint)
            .header("X-Shopify-Storefront-Access-Token", storefront_token)
            .json(&json!({ "query": query, "variables": variables }))
            .send();
        let answer = tokio::time::timeout(PROVIDER_TIMEOUT, request)
            .await
            .map_err(|_| ProviderFailed::unavailable())?
            .map_err(|e| {
                tracing::info!(shop = shop_domain, error = %e, "Shopify did not answer");
                ProviderFailed::unavailable()
            })?;
        if answer.status().is_server_error() {
            return Err(ProviderFailed::unavailable());
        }
        if !answer.status().is_success() {
            tracing::info!(shop = shop_domain, status = %answer.status(), "Shopify refused");
            return Err(ProviderFailed::error("Shopify refused the request"));
        }
        let body: Value = tokio::time::timeout(PROVIDER_TIMEOUT, answer.json())
            .await
            .map_err(|_| ProviderFailed::unavailable())?
            .map_err(|_| ProviderFailed::error("Shopify's answer is not JSON"))?;
        if body.get("errors").is_some_and(|e| !e.is_null()) {
            return Err(ProviderFailed::error("Shopify refused the request"));
        }
        Ok(body)
    }

    /// A Shopify customer access token for the customer a Multipass token
    /// names.
    pub async fn token_with_multipass(
        &self,
        shop_domain: &str,
        storefront_token: &str,
        multipass: &str,
    ) -> Result<ShopifyToken, ProviderFailed> {
        const QUERY: &str = "mutation M($t: String!) { customerAccessTokenCreateWithMultipass(multipassToken: $t) { customerAccessToken { accessToken expiresAt } customerUserErrors { code field message } } }";
        let body = self
            .call(
                shop_domain,
                storefront_token,
                QUERY,
                json!({ "t": multipass }),
            )
            .await?;
        token_of(&body["data"]["customerAccessTokenCreateWithMultipass"])
    }

    /// Renews a Shopify customer access token.
    pub async fn renew(
        &self,
        shop_domain: &str,
        storefront_token: &str,
        token: &str,
    ) -> Result<ShopifyToken, ProviderFailed> {
        const QUERY: &str = "mutation R($t: String!) { customerAccessTokenRenew(customerAccessToken: $t) { customerAccessToken { accessToken expiresAt } userErrors { field message } } }";
        let body = self
            .call(shop_domain, storefront_token, QUERY, json!({ "t": token }))
            .await?;
        let payload = &body["data"]["customerAccessTokenRenew"];
        let refused = payload["userErrors"]
            .as_array()
            .is_some_and(|e| !e.is_empty());
        if refused || payload["customerAccessToken"].is_null() {
            return Err(ProviderFailed::error(
                "the store refused the token; sign in again",
            ));
        }
        token_of(payload)
    }
}

fn token_of(payload: &Value) -> Result<ShopifyToken, ProviderFailed> {
    let token = &payload["customerAccessToken"];
    match (token["accessToken"].as_str(), token["expiresAt"].as_str()) {
        (Some(t), Some(e)) if !t.is_empty() && t.len() <= 1_000 && e.len() <= 64 => {
            Ok(ShopifyToken {
                access_token: t.to_string(),
                expires_at: e.to_string(),
            })
        }
        _ => Err(ProviderFailed::error(
            "Shopify gave no customer access token",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockDecryptMut, block_padding::Pkcs7};

    /// Opens a token as Shopify does, independently of how it was made.
    fn open(secret: &str, token: &str) -> Option<Value> {
        let keys = Sha256::digest(secret.as_bytes());
        let bytes = URL_SAFE.decode(token).ok()?;
        let (ciphertext, signature) = bytes.split_at(bytes.len().checked_sub(32)?);
        let mut mac = Hmac::<Sha256>::new_from_slice(&keys[16..]).ok()?;
        mac.update(ciphertext);
        mac.verify_slice(signature).ok()?;
        let (iv, body) = ciphertext.split_at(16);
        let plain = cbc::Decryptor::<aes::Aes128>::new(keys[..16].into(), iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(body)
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    #[test]
    fn a_multipass_token_opens_with_its_secret_only_and_never_repeats() {
        let customer = json!({ "email": "ann@example.com", "created_at": "2026-11-23T10:00:00Z" });
        let token = multipass_token("shared-secret", &customer);
        assert_eq!(open("shared-secret", &token), Some(customer.clone()));
        assert_eq!(open("another-secret", &token), None);
        assert_ne!(multipass_token("shared-secret", &customer), token);
        let mut bytes = URL_SAFE.decode(&token).unwrap();
        bytes[20] ^= 1;
        assert_eq!(open("shared-secret", &URL_SAFE.encode(bytes)), None);
    }

    #[test]
    fn the_endpoint_is_https_but_for_this_machine() {
        assert_eq!(
            Shopify::endpoint("shop.myshopify.com"),
            format!("https://shop.myshopify.com/api/{API_VERSION}/graphql.json")
        );
        assert!(Shopify::endpoint("127.0.0.1:4000").starts_with("http://127.0.0.1:4000/"));
    }
}
