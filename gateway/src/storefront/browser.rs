//! Browser-safe sessions for the Storefront API: the session cookie
//! (`HttpOnly; SameSite=Lax`, `Secure` but for local development), the
//! CSRF proof a cookie-authenticated mutation needs, and CORS by each
//! project's allow-list.

use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie's name.
pub const COOKIE: &str = "authd_sf";
/// The header that proves a request came from script (a form cannot set
/// it, and another origin cannot send it without a preflight we refuse).
pub const CSRF_HEADER: &str = "x-authd-csrf";

/// What a Storefront request carries besides its arguments, and how the
/// project wants tokens handed to browsers.
#[derive(Default)]
pub struct Carried {
    /// `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// The session cookie (only read when the project has cookie sessions).
    pub cookie: Option<String>,
    /// The project's `cookieSessions`: sign-in sets the cookie and the
    /// body carries no token.
    pub cookie_mode: bool,
    /// `Secure` on the cookie (dropped only for http://localhost in dev).
    pub secure_cookie: bool,
}

impl Carried {
    /// The token an operation acts with: its argument when given, else the
    /// bearer header, else the cookie.
    pub fn token<'a>(&'a self, argument: Option<&'a str>) -> Option<&'a str> {
        argument
            .filter(|t| !t.trim().is_empty())
            .or(self.bearer.as_deref())
            .or(self.cookie.as_deref())
    }

    /// `Set-Cookie` for a session token that lives `max_age_secs`.
    pub fn set_cookie(&self, token: &str, max_age_secs: i64) -> String {
        format!(
            "{COOKIE}={token}; Path=/graphql/storefront; Max-Age={}; HttpOnly; SameSite=Lax{}",
            max_age_secs.max(0),
            if self.secure_cookie { "; Secure" } else { "" }
        )
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        self.set_cookie("", 0)
    }
}

/// The session cookie's value in a `Cookie` header.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// Whether the request proves it came from the shop's own page: the CSRF
/// header, and an `Origin` (when the browser sent one) on the allow-list.
pub fn csrf_proof(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    headers.contains_key(CSRF_HEADER) && origin.is_none_or(|o| allowed.iter().any(|a| a == o))
}

/// Answers for an allowed origin: that origin, with credentials.
pub fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// The headers of a preflight answered for an allowed origin.
pub fn preflight_headers(headers: &mut HeaderMap, origin: &str) {
    allow_origin(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "content-type, authorization, x-api-key, x-shopify-storefront-access-token, \
             x-authd-csrf, x-request-id",
        ),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

/// Whether the host a browser reached us by is this machine (where a
/// `Secure` cookie cannot be set over plain http).
pub fn local_host(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others_and_set_with_every_attribute() {
        let h = headers(&[("cookie", "a=1; authd_sf=tok.en.5; b=2")]);
        assert_eq!(cookie_value(&h).as_deref(), Some("tok.en.5"));
        assert_eq!(cookie_value(&headers(&[("cookie", "authd_sfx=1")])), None);
        let c = Carried {
            secure_cookie: true,
            ..Default::default()
        };
        assert_eq!(
            c.set_cookie("t", 60),
            "authd_sf=t; Path=/graphql/storefront; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(c.clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn csrf_proof_needs_the_header_and_an_allowed_origin() {
        let allowed = vec!["https://shop.example".to_string()];
        let ok = headers(&[("x-authd-csrf", "1"), ("origin", "https://shop.example")]);
        assert!(csrf_proof(&ok, &allowed));
        // A server (no Origin) with the header.
        assert!(csrf_proof(&headers(&[("x-authd-csrf", "1")]), &allowed));
        let evil = headers(&[("x-authd-csrf", "1"), ("origin", "https://evil.example")]);
        assert!(!csrf_proof(&evil, &allowed));
        let form = headers(&[("origin", "https://shop.example")]);
        assert!(!csrf_proof(&form, &allowed));
    }

    #[test]
    fn local_hosts_are_recognised_with_or_without_a_port() {
        for host in ["localhost", "localhost:4000", "127.0.0.1:80", "[::1]:4000"] {
            assert!(local_host(&headers(&[("host", host)])), "{host}");
        }
        for host in ["shop.example", "localhost.evil.example:80", "10.0.0.1"] {
            assert!(!local_host(&headers(&[("host", host)])), "{host}");
        }
    }
}
