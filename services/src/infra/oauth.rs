//! A plain OAuth 2.0 provider (no OpenID Connect): the authorization code
//! with PKCE (S256) and state, the token exchange (the `oauth2` crate),
//! and the userinfo endpoint read through the provider's claim mapping.
//! Every call is bounded in time.

use authd_events::OAuth2Provider;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, TokenUrl, basic::BasicClient,
};
use serde_json::Value;

use super::oidc::{
    LoginSecrets, PROVIDER_TIMEOUT, ProviderFailed, ProviderIdentity, exchange_failed,
};

/// The value at a dotted path (`user.email`) of a JSON object.
fn claim<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// The identity in a userinfo document, by the provider's mapping. A
/// subject may be a string or a number (GitHub's `id`).
pub fn identity_of(info: &Value, p: &OAuth2Provider) -> Option<ProviderIdentity> {
    let subject = match claim(info, &p.subject_claim)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let email = claim(info, &p.email_claim)
        .and_then(Value::as_str)
        .map(str::to_string);
    let email_verified = p
        .email_verified_claim
        .as_deref()
        .and_then(|path| claim(info, path))
        .is_some_and(|v| v == &Value::Bool(true) || v == "true");
    Some(ProviderIdentity {
        subject,
        email,
        email_verified,
    })
}

type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(p: &OAuth2Provider, secret: &str, redirect: &str) -> Result<Client, ProviderFailed> {
    let bad = |_| ProviderFailed::error("the provider's URLs are invalid");
    Ok(BasicClient::new(ClientId::new(p.client_id.clone()))
        .set_client_secret(ClientSecret::new(secret.to_string()))
        .set_auth_uri(AuthUrl::new(p.authorize_url.clone()).map_err(bad)?)
        .set_token_uri(TokenUrl::new(p.token_url.clone()).map_err(bad)?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_string()).map_err(bad)?))
}

/// Where to send the customer.
pub fn authorize_url(
    p: &OAuth2Provider,
    secret: &str,
    redirect: &str,
    login_hint: Option<&str>,
    s: &LoginSecrets<'_>,
) -> Result<String, ProviderFailed> {
    let state = s.state.to_string();
    let verifier = PkceCodeVerifier::new(s.pkce_verifier.to_string());
    let client = client(p, secret, redirect)?;
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
    for scope in super::oidc::distinct_scopes(&p.scopes, &[]) {
        request = request.add_scope(Scope::new(scope));
    }
    if let Some(hint) = login_hint {
        request = request.add_extra_param("login_hint", hint.to_string());
    }
    Ok(request.url().0.to_string())
}

/// Exchanges the code, then reads the userinfo endpoint with the token.
pub async fn exchange(
    oidc: &super::oidc::Oidc,
    p: &OAuth2Provider,
    secret: &str,
    redirect: &str,
    code: &str,
    s: &LoginSecrets<'_>,
) -> Result<ProviderIdentity, ProviderFailed> {
    oidc.may_call(&p.token_url)?;
    oidc.may_call(&p.userinfo_url)?;
    let http = oidc.http();
    let client = client(p, secret, redirect)?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(s.pkce_verifier.to_string()));
    let tokens = tokio::time::timeout(PROVIDER_TIMEOUT, exchange.request_async(http))
        .await
        .map_err(|_| ProviderFailed::unavailable())?
        .map_err(|e| exchange_failed(&p.token_url, e))?;
    let request = http
        .get(&p.userinfo_url)
        .bearer_auth(tokens.access_token().secret())
        .header("accept", "application/json")
        .send();
    let answer = tokio::time::timeout(PROVIDER_TIMEOUT, request)
        .await
        .map_err(|_| ProviderFailed::unavailable())?
        .map_err(|_| ProviderFailed::unavailable())?;
    if !answer.status().is_success() {
        return Err(ProviderFailed::error(
            "the provider's userinfo endpoint refused",
        ));
    }
    let info: Value = tokio::time::timeout(PROVIDER_TIMEOUT, answer.json())
        .await
        .map_err(|_| ProviderFailed::unavailable())?
        .map_err(|_| ProviderFailed::error("the provider's userinfo is not JSON"))?;
    identity_of(&info, p).ok_or_else(|| ProviderFailed::error("the userinfo has no subject"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn github() -> OAuth2Provider {
        OAuth2Provider {
            authorize_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            userinfo_url: "https://api.github.com/user".into(),
            client_id: "c".into(),
            client_secret: Default::default(),
            scopes: vec!["user:email".into()],
            subject_claim: "id".into(),
            email_claim: "email".into(),
            email_verified_claim: None,
        }
    }

    #[test]
    fn the_claim_mapping_reads_numbers_nested_claims_and_never_assumes_verified() {
        let mut p = github();
        let info = json!({ "id": 583231, "email": "octo@example.com" });
        let id = identity_of(&info, &p).unwrap();
        assert_eq!(id.subject, "583231");
        assert_eq!(id.email.as_deref(), Some("octo@example.com"));
        assert!(!id.email_verified);
        p.subject_claim = "user.uid".into();
        p.email_verified_claim = Some("user.verified".into());
        let nested = json!({ "user": { "uid": "u-1", "verified": true } });
        let id = identity_of(&nested, &p).unwrap();
        assert_eq!((id.subject.as_str(), id.email_verified), ("u-1", true));
        assert!(identity_of(&json!({ "user": {} }), &p).is_none());
    }
}
