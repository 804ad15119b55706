//! The relying party of an OpenID Connect login (the `openidconnect`
//! crate): discovery (kept for a few minutes per issuer), the
//! authorization URL with PKCE (S256), state and nonce, and the code
//! exchange whose ID token is checked (signature by the provider's JWKS,
//! `iss`, `aud`, `exp`, `nonce`). Every call is bounded in time.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use authd_events::{OidcProvider, ProviderFailure};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse as _,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
};

use crate::error::DomainError;

/// How long a provider's discovery document (and JWKS) is trusted.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// Longest wait for one call to a provider.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

/// Why a login through the provider failed: what the log records, and
/// what the caller hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFailed {
    pub reason: ProviderFailure,
    pub error: DomainError,
}

impl ProviderFailed {
    pub(crate) fn unavailable() -> Self {
        Self {
            reason: ProviderFailure::Unavailable,
            error: DomainError::ProviderUnavailable,
        }
    }

    pub(crate) fn error(what: &'static str) -> Self {
        Self {
            reason: ProviderFailure::ProviderError,
            error: DomainError::ProviderError(what),
        }
    }

    fn id_token(what: &'static str) -> Self {
        Self {
            reason: ProviderFailure::InvalidIdToken,
            error: DomainError::ProviderError(what),
        }
    }
}

/// What a failed code exchange at `endpoint` means to the caller: the
/// provider did not answer, refused the code, or answered garbage.
pub(crate) fn exchange_failed<RE, T>(
    endpoint: &str,
    e: openidconnect::RequestTokenError<RE, T>,
) -> ProviderFailed
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    tracing::info!(endpoint, error = %e, "code exchange refused");
    match e {
        openidconnect::RequestTokenError::Request(_) => ProviderFailed::unavailable(),
        openidconnect::RequestTokenError::ServerResponse(_) => {
            ProviderFailed::error("the provider refused the code")
        }
        _ => ProviderFailed::error("the provider's token answer is invalid"),
    }
}

/// Whether authd may call `url` at a provider: not when its host is a
/// loopback, private, link-local, CGNAT or unspecified address (or
/// `localhost`), unless `allow_private` (`--allow-private-provider-urls`,
/// and dev). A project admin names these URLs; without this, they could
/// make the services probe the network they run in. A name is checked
/// again when it is resolved (`PublicOnly`), so one that resolves to a
/// private address is refused too.
pub fn public_url(url: &str, allow_private: bool) -> bool {
    if allow_private {
        return true;
    }
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d != "localhost" && !d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => public_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => public_ip(ip.into()),
        None => false,
    }
}

/// Not an address of the network authd runs in.
fn public_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(ip) => {
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(|v4| !public_ip(v4.into())))
        }
    }
}

/// Resolves names for provider calls, keeping public addresses only: a
/// provider name that resolves into authd's own network is refused (DNS
/// rebinding included, since the check is on the addresses connected to).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> = found.filter(|a| public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client for every call to a provider: it never follows a
/// redirect (SSRF), and connects and answers within bounds.
pub(crate) fn provider_http(allow_private: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder();
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(std::sync::Arc::new(PublicOnly))
    };
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .expect("a reqwest client with rustls builds")
}

pub struct Oidc {
    http: reqwest::Client,
    allow_private: bool,
    metadata: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

/// What a login sends the provider and must present again at the callback.
pub struct LoginSecrets<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
}

impl Oidc {
    pub fn new(allow_private: bool) -> Self {
        Self {
            http: provider_http(allow_private),
            allow_private,
            metadata: Default::default(),
        }
    }

    /// The HTTP client for providers: no redirects followed, bounded.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `public_url` with this deployment's setting.
    pub(crate) fn may_call(&self, url: &str) -> Result<(), ProviderFailed> {
        if public_url(url, self.allow_private) {
            Ok(())
        } else {
            Err(ProviderFailed::error(
                "the provider's address is private (--allow-private-provider-urls allows it)",
            ))
        }
    }

    async fn discover(
        &self,
        issuer: &str,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, ProviderFailed> {
        if !fresh
            && let Some((at, md)) = self.metadata.lock().unwrap().get(issuer)
            && at.elapsed() < METADATA_TTL
        {
            return Ok(md.clone());
        }
        self.may_call(issuer)?;
        let url =
            IssuerUrl::new(issuer.to_string()).map_err(|_| ProviderFailed::error("issuer"))?;
        let found = tokio::time::timeout(
            PROVIDER_TIMEOUT,
            CoreProviderMetadata::discover_async(url, &self.http),
        )
        .await
        .map_err(|_| ProviderFailed::unavailable())?;
        let md = found.map_err(|e| {
            tracing::warn!(issuer, error = %e, "OpenID Connect discovery failed");
            match e {
                openidconnect::DiscoveryError::Request(_) => ProviderFailed::unavailable(),
                _ => ProviderFailed::error("discovery"),
            }
        })?;
        // A discovery document may name other hosts: the same rule holds.
        self.may_call(md.jwks_uri().url().as_str())?;
        if let Some(token) = md.token_endpoint() {
            self.may_call(token.url().as_str())?;
        }
        if let Some(info) = md.userinfo_endpoint() {
            self.may_call(info.url().as_str())?;
        }
        let mut cache = self.metadata.lock().unwrap();
        if cache.len() > 1_000 {
            cache.clear();
        }
        cache.insert(issuer.to_string(), (Instant::now(), md.clone()));
        Ok(md)
    }

    async fn client(
        &self,
        p: &OidcProvider,
        secret: &str,
        redirect: &str,
        fresh: bool,
    ) -> Result<Client, ProviderFailed> {
        let md = self.discover(&p.issuer, fresh).await?;
        let redirect = RedirectUrl::new(redirect.to_string())
            .map_err(|_| ProviderFailed::error("returnTo"))?;
        Ok(CoreClient::from_provider_metadata(
            md,
            ClientId::new(p.client_id.clone()),
            Some(ClientSecret::new(secret.to_string())),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the customer: the provider's authorization endpoint.
    pub async fn authorize_url(
        &self,
        p: &OidcProvider,
        secret: &str,
        redirect: &str,
        login_hint: Option<&str>,
        s: &LoginSecrets<'_>,
    ) -> Result<String, ProviderFailed> {
        let client = self.client(p, secret, redirect, false).await?;
        let (state, nonce) = (s.state.to_string(), s.nonce.to_string());
        let verifier = PkceCodeVerifier::new(s.pkce_verifier.to_string());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        // The library asks for `openid` itself.
        for scope in distinct_scopes(&p.scopes, &["openid"]) {
            request = request.add_scope(Scope::new(scope));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        Ok(request.url().0.to_string())
    }

    /// Exchanges the code and checks the ID token; reads userinfo for an
    /// email the ID token does not carry.
    pub async fn exchange(
        &self,
        p: &OidcProvider,
        secret: &str,
        redirect: &str,
        code: &str,
        s: &LoginSecrets<'_>,
    ) -> Result<ProviderIdentity, ProviderFailed> {
        let client = self.client(p, secret, redirect, false).await?;
        let exchange = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|_| ProviderFailed::error("the provider has no token endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(s.pkce_verifier.to_string()));
        let tokens = tokio::time::timeout(PROVIDER_TIMEOUT, exchange.request_async(&self.http))
            .await
            .map_err(|_| ProviderFailed::unavailable())?
            .map_err(|e| exchange_failed(&p.issuer, e))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| ProviderFailed::error("the provider sent no ID token"))?;
        let nonce = Nonce::new(s.nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => c.clone(),
            // The provider may have rotated its keys since discovery.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let client = self.client(p, secret, redirect, true).await?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|_| ProviderFailed::id_token("the ID token is invalid"))?
                    .clone()
            }
            Err(e) => {
                tracing::info!(issuer = %p.issuer, error = %e, "ID token refused");
                return Err(ProviderFailed::id_token("the ID token is invalid"));
            }
        };
        let mut identity = ProviderIdentity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified() == Some(true),
        };
        if identity.email.is_none()
            && let Ok(request) = client.user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
        {
            let info: Result<CoreUserInfoClaims, _> =
                tokio::time::timeout(PROVIDER_TIMEOUT, request.request_async(&self.http))
                    .await
                    .map_err(|_| ProviderFailed::unavailable())?;
            if let Ok(info) = info {
                identity.email = info.email().map(|e| e.to_string());
                identity.email_verified = info.email_verified() == Some(true);
            }
        }
        Ok(identity)
    }
}

/// Each scope once, in the order given, leaving out blanks and those the
/// request carries already (`implied`): a strict provider refuses a
/// repeated scope.
pub(crate) fn distinct_scopes(scopes: &[String], implied: &[&str]) -> Vec<String> {
    let mut seen: Vec<&str> = implied.to_vec();
    let mut out = Vec::new();
    for scope in scopes.iter().map(|s| s.trim()) {
        if !scope.is_empty() && !seen.contains(&scope) {
            seen.push(scope);
            out.push(scope.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{distinct_scopes, provider_http, public_url};

    #[tokio::test]
    async fn a_name_that_resolves_to_this_machine_is_not_called() {
        // `localhost` passes no literal check here: the resolver refuses it.
        let http = provider_http(false);
        let e = http.get("http://localhost:9/").send().await.unwrap_err();
        assert!(format!("{e:?}").contains("no public address"), "{e:?}");
    }

    #[test]
    fn providers_at_private_addresses_are_refused_unless_allowed() {
        for private in [
            "http://127.0.0.1:8080/",
            "https://localhost/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/token",
            "http://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:127.0.0.1]/",
            "not a url",
        ] {
            assert!(!public_url(private, false), "{private}");
        }
        assert!(public_url("http://127.0.0.1:8080/", true));
        assert!(public_url("https://[::ffff:8.8.8.8]/", false));
        for public in [
            "https://accounts.google.com",
            "https://8.8.8.8/",
            "https://[2001:db8::1]/",
        ] {
            assert!(public_url(public, false), "{public}");
        }
    }

    #[test]
    fn each_scope_is_asked_for_once() {
        let scopes: Vec<String> = ["openid", "email", " profile", "email", ""]
            .map(String::from)
            .to_vec();
        assert_eq!(distinct_scopes(&scopes, &["openid"]), ["email", "profile"]);
        assert_eq!(
            distinct_scopes(&scopes, &[]),
            ["openid", "email", "profile"]
        );
    }
}
