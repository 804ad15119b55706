//! A project's external sign-in providers: what a valid configuration is,
//! and how one change (add or change a provider, remove one, set the
//! return URLs) turns the whole configuration into the next.

use authd_events::{AuthProvider, ProviderKind, ProvidersConfig, Sealed};

use super::urls::secure_url;
use crate::error::DomainError;

/// Most providers per project.
pub const MAX_PROVIDERS: usize = 20;
/// Most return URLs per project.
pub const MAX_RETURN_URLS: usize = 50;

/// One change to a project's providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEdit {
    /// Adds the provider, or replaces the one with its id. Making it the
    /// default makes every other one not the default.
    Put(Box<AuthProvider>),
    Remove {
        id: String,
    },
    ReturnUrls(Vec<String>),
}

/// The configuration after `edit`, checked whole.
pub fn edit(config: &ProvidersConfig, edit: &ProviderEdit) -> Result<ProvidersConfig, DomainError> {
    let mut next = config.clone();
    match edit {
        ProviderEdit::Put(p) => {
            if p.is_default {
                next.providers.iter_mut().for_each(|q| q.is_default = false);
            }
            match next.providers.iter_mut().find(|q| q.id == p.id) {
                Some(q) => *q = (**p).clone(),
                None => next.providers.push((**p).clone()),
            }
        }
        ProviderEdit::Remove { id } => {
            let before = next.providers.len();
            next.providers.retain(|q| q.id != *id);
            if next.providers.len() == before {
                return Err(DomainError::ProviderNotFound);
            }
        }
        ProviderEdit::ReturnUrls(urls) => next.return_urls = urls.clone(),
    }
    validate(&next)?;
    Ok(next)
}

pub fn validate(c: &ProvidersConfig) -> Result<(), DomainError> {
    if c.providers.len() > MAX_PROVIDERS {
        return Err(DomainError::InvalidInput("providers"));
    }
    for (i, p) in c.providers.iter().enumerate() {
        if !is_key(&p.key) {
            return Err(DomainError::InvalidInput("key"));
        }
        if c.providers[..i].iter().any(|q| q.key == p.key) {
            return Err(DomainError::InvalidInput("key"));
        }
        let name = p.name.trim();
        if name.is_empty() || name.len() > 100 || name.len() != p.name.len() {
            return Err(DomainError::InvalidInput("name"));
        }
        match &p.kind {
            ProviderKind::Oidc(o) => {
                let issuer_ok = secure_url(&o.issuer)
                    .is_some_and(|u| u.query().is_none() && u.fragment().is_none());
                if !issuer_ok {
                    return Err(DomainError::InvalidInput("issuer"));
                }
                check_client(&o.client_id, &o.client_secret, &o.scopes)?;
            }
            ProviderKind::OAuth2(o) => {
                for url in [&o.authorize_url, &o.token_url, &o.userinfo_url] {
                    if secure_url(url).is_none_or(|u| u.fragment().is_some()) {
                        return Err(DomainError::InvalidInput("url"));
                    }
                }
                check_client(&o.client_id, &o.client_secret, &o.scopes)?;
                let claims = [
                    Some(&o.subject_claim),
                    Some(&o.email_claim),
                    o.email_verified_claim.as_ref(),
                ];
                if !claims
                    .into_iter()
                    .flatten()
                    .all(|c| !c.is_empty() && c.len() <= 100)
                {
                    return Err(DomainError::InvalidInput("claims"));
                }
            }
            ProviderKind::Shopify(s) => {
                if !is_shop_domain(&s.shop_domain) {
                    return Err(DomainError::InvalidInput("shopDomain"));
                }
                if s.storefront_token.0.is_empty() {
                    return Err(DomainError::InvalidInput("storefrontAccessToken"));
                }
            }
        }
    }
    if c.return_urls.len() > MAX_RETURN_URLS {
        return Err(DomainError::InvalidInput("returnUrls"));
    }
    for url in &c.return_urls {
        if secure_url(url).is_none_or(|u| u.fragment().is_some()) {
            return Err(DomainError::InvalidInput("returnUrls"));
        }
    }
    Ok(())
}

/// A client's id, its (sealed) secret and its scopes.
fn check_client(id: &str, secret: &Sealed, scopes: &[String]) -> Result<(), DomainError> {
    if id.is_empty() || id.len() > 500 {
        return Err(DomainError::InvalidInput("clientId"));
    }
    if secret.0.is_empty() {
        return Err(DomainError::InvalidInput("clientSecret"));
    }
    if scopes.len() > 20 || !scopes.iter().all(|s| is_scope(s)) {
        return Err(DomainError::InvalidInput("scopes"));
    }
    Ok(())
}

/// `google`, `auth0-eu`: lowercase letters, digits, `-` and `_`.
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `shop.myshopify.com`: a host name; a port only on this machine (a
/// local stand-in), where it is spoken to over plain http.
fn is_shop_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    match port {
        None => name_ok && !host.starts_with('.') && !host.ends_with('.'),
        Some(p) => host == "127.0.0.1" && p.parse::<u16>().is_ok_and(|p| p > 0),
    }
}

/// An OAuth scope token (RFC 6749 §3.3), kept short.
fn is_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 64
        && scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// The provider a login names: by key, else the default one, else the
/// first by priority; enabled only.
pub fn find<'a>(c: &'a ProvidersConfig, key: Option<&str>) -> Option<&'a AuthProvider> {
    let enabled = c.providers.iter().filter(|p| p.enabled);
    match key {
        Some(key) => enabled.into_iter().find(|p| p.key == key),
        None => {
            let mut enabled: Vec<_> = enabled.collect();
            enabled.sort_by_key(|p| (!p.is_default, p.priority));
            enabled.first().copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authd_events::{OidcProvider, Sealed};

    fn oidc(id: &str, key: &str, is_default: bool, priority: i32) -> AuthProvider {
        AuthProvider {
            id: id.into(),
            key: key.into(),
            name: "Example".into(),
            enabled: true,
            is_default,
            priority,
            kind: ProviderKind::Oidc(OidcProvider {
                issuer: "https://id.example".into(),
                client_id: "client".into(),
                client_secret: Sealed(vec![1; 40]),
                scopes: vec!["email".into()],
            }),
        }
    }

    #[test]
    fn put_adds_or_replaces_and_one_default_remains() {
        let c = edit(
            &Default::default(),
            &ProviderEdit::Put(Box::new(oidc("a", "google", true, 1))),
        )
        .unwrap();
        let c = edit(&c, &ProviderEdit::Put(Box::new(oidc("b", "okta", true, 0)))).unwrap();
        assert!(!c.providers[0].is_default && c.providers[1].is_default);
        let mut renamed = oidc("a", "google", false, 5);
        renamed.name = "Google".into();
        let c = edit(&c, &ProviderEdit::Put(Box::new(renamed))).unwrap();
        assert_eq!(c.providers.len(), 2);
        assert_eq!(c.providers[0].name, "Google");
        assert_eq!(find(&c, None).unwrap().key, "okta");
        assert_eq!(find(&c, Some("google")).unwrap().id, "a");
        let c = edit(&c, &ProviderEdit::Remove { id: "b".into() }).unwrap();
        assert_eq!(find(&c, None).unwrap().key, "google");
        assert_eq!(
            edit(&c, &ProviderEdit::Remove { id: "b".into() }),
            Err(DomainError::ProviderNotFound)
        );
    }

    #[test]
    fn bad_providers_and_return_urls_are_refused_by_field() {
        let base = ProvidersConfig::default();
        let put = |p| edit(&base, &ProviderEdit::Put(Box::new(p)));
        let mut p = oidc("a", "Google!", false, 0);
        assert_eq!(put(p.clone()), Err(DomainError::InvalidInput("key")));
        p.key = "google".into();
        if let ProviderKind::Oidc(o) = &mut p.kind {
            o.issuer = "http://id.example".into();
        }
        assert_eq!(put(p.clone()), Err(DomainError::InvalidInput("issuer")));
        let twice = edit(
            &base,
            &ProviderEdit::Put(Box::new(oidc("a", "google", false, 0))),
        )
        .unwrap();
        assert_eq!(
            edit(
                &twice,
                &ProviderEdit::Put(Box::new(oidc("b", "google", false, 0)))
            ),
            Err(DomainError::InvalidInput("key"))
        );
        for bad in [
            "http://shop.example/cb",
            "https://shop.example/cb#x",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                edit(&base, &ProviderEdit::ReturnUrls(vec![bad.into()])),
                Err(DomainError::InvalidInput("returnUrls")),
                "{bad}"
            );
        }
        let ok = vec![
            "https://shop.example/cb".into(),
            "http://127.0.0.1:3000/cb".into(),
        ];
        assert!(edit(&base, &ProviderEdit::ReturnUrls(ok)).is_ok());
        let mut disabled = oidc("a", "google", true, 0);
        disabled.enabled = false;
        let c = edit(&base, &ProviderEdit::Put(Box::new(disabled))).unwrap();
        assert!(find(&c, None).is_none() && find(&c, Some("google")).is_none());
    }
}
