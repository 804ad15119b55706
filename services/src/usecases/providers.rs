//! External sign-in providers: their configuration (admin), and the start
//! of a login through one (the redirect to the provider).

use authd_events::{
    AggregateKind, AuthProvider, OAuth2Provider, OidcProvider, ProviderKind, ProviderLoginStarted,
    Sealed, ShopifyProvider,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Services, UseCase, subject};
use crate::{
    commands::{
        CommandEnvelope, EditProviders, ProviderSaved, ProviderSettings, ProviderStarted, Sent,
        StartProviderLogin,
    },
    domain::{
        aggregate::Aggregate,
        project::{Project, ProjectCommand},
        provider_login::{ProviderLogin, ProviderLoginCommand, STATE_TTL_MS},
        providers::{self, ProviderEdit},
    },
    error::{CommandError, DomainError},
    infra::{
        oauth,
        oidc::{LoginSecrets, ProviderFailed, ProviderIdentity},
    },
};

impl UseCase for EditProviders {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<ProviderSaved>, CommandError> {
        let project = subject(&env.tenant, AggregateKind::Project, &env.tenant)?;
        let mut saved = None;
        let d =
            s.x.decide(env, &project, |p: &Project, now| {
                let edit = match &self {
                    EditProviders::Put(input) => {
                        let id = input
                            .id
                            .clone()
                            .unwrap_or_else(|| authd_events::new_id("ap"));
                        let kept = p.providers.providers.iter().find(|q| q.id == id);
                        if input.id.is_some() && kept.is_none() {
                            return Err(DomainError::ProviderNotFound);
                        }
                        let kind = provider_kind(s, &input.settings, kept.map(|k| &k.kind))?;
                        saved = Some(id.clone());
                        ProviderEdit::Put(Box::new(AuthProvider {
                            id,
                            key: input.key.clone(),
                            name: input.name.clone(),
                            enabled: input.enabled,
                            is_default: input.is_default,
                            priority: input.priority,
                            kind,
                        }))
                    }
                    EditProviders::Remove { id } => ProviderEdit::Remove { id: id.clone() },
                    EditProviders::ReturnUrls(urls) => ProviderEdit::ReturnUrls(urls.clone()),
                };
                p.decide(&ProjectCommand::EditProviders(edit), now)
            })
            .await?;
        Ok(Sent {
            seq: d.seq,
            outcome: ProviderSaved { id: saved },
        })
    }
}

/// A provider's kind as stored: its settings, with the secrets that came
/// in sealed, and those left out kept from `kept`.
fn provider_kind(
    s: &Services,
    settings: &ProviderSettings,
    kept: Option<&ProviderKind>,
) -> Result<ProviderKind, DomainError> {
    let seal =
        |secret: &Option<String>, kept: Option<&Sealed>, field| seal_secret(s, secret, kept, field);
    let allowed = |url: &str, field| {
        if crate::infra::oidc::public_url(url, s.config.allow_private_providers) {
            Ok(())
        } else {
            Err(DomainError::InvalidInput(field))
        }
    };
    match settings {
        ProviderSettings::Oidc { issuer, .. } => allowed(issuer, "issuer")?,
        ProviderSettings::OAuth2 {
            authorize_url,
            token_url,
            userinfo_url,
            ..
        } => {
            allowed(authorize_url, "authorizeUrl")?;
            allowed(token_url, "tokenUrl")?;
            allowed(userinfo_url, "userinfoUrl")?;
        }
        ProviderSettings::Shopify { shop_domain, .. } => {
            allowed(&format!("https://{shop_domain}/"), "shopDomain")?
        }
    }
    Ok(match settings {
        ProviderSettings::Oidc {
            issuer,
            client_id,
            client_secret,
            scopes,
        } => {
            let kept = match kept {
                Some(ProviderKind::Oidc(o)) => Some(&o.client_secret),
                _ => None,
            };
            ProviderKind::Oidc(OidcProvider {
                issuer: issuer.trim_end_matches('/').to_string(),
                client_id: client_id.clone(),
                client_secret: seal(client_secret, kept, "clientSecret")?,
                scopes: scopes.clone(),
            })
        }
        ProviderSettings::OAuth2 {
            authorize_url,
            token_url,
            userinfo_url,
            client_id,
            client_secret,
            scopes,
            subject_claim,
            email_claim,
            email_verified_claim,
        } => {
            let kept = match kept {
                Some(ProviderKind::OAuth2(o)) => Some(&o.client_secret),
                _ => None,
            };
            ProviderKind::OAuth2(OAuth2Provider {
                authorize_url: authorize_url.clone(),
                token_url: token_url.clone(),
                userinfo_url: userinfo_url.clone(),
                client_id: client_id.clone(),
                client_secret: seal(client_secret, kept, "clientSecret")?,
                scopes: scopes.clone(),
                subject_claim: subject_claim.clone(),
                email_claim: email_claim.clone(),
                email_verified_claim: email_verified_claim.clone(),
            })
        }
        ProviderSettings::Shopify {
            shop_domain,
            storefront_token,
            multipass_secret,
        } => {
            let kept = match kept {
                Some(ProviderKind::Shopify(k)) => Some(k),
                _ => None,
            };
            ProviderKind::Shopify(shopify(
                s,
                shop_domain,
                storefront_token,
                multipass_secret,
                kept,
            )?)
        }
    })
}

/// A secret that came in, sealed; or, left out, the stored one.
fn seal_secret(
    s: &Services,
    secret: &Option<String>,
    kept: Option<&Sealed>,
    field: &'static str,
) -> Result<Sealed, DomainError> {
    match (secret, kept) {
        (Some(v), _) if !v.is_empty() && v.len() <= 1_000 => Ok(s.secrets.seal(v)),
        (None, Some(k)) => Ok(k.clone()),
        _ => Err(DomainError::InvalidInput(field)),
    }
}

/// A Shopify store's settings, its secrets sealed.
fn shopify(
    s: &Services,
    shop_domain: &str,
    storefront_token: &Option<String>,
    multipass_secret: &Option<String>,
    kept: Option<&ShopifyProvider>,
) -> Result<ShopifyProvider, DomainError> {
    let multipass = match multipass_secret.as_deref() {
        Some("") => None,
        Some(_) => Some(seal_secret(s, multipass_secret, None, "multipassSecret")?),
        None => kept.and_then(|k| k.multipass_secret.clone()),
    };
    Ok(ShopifyProvider {
        shop_domain: shop_domain.trim().to_ascii_lowercase(),
        storefront_token: seal_secret(
            s,
            storefront_token,
            kept.map(|k| &k.storefront_token),
            "storefrontAccessToken",
        )?,
        multipass_secret: multipass,
    })
}

/// A login's nonce and PKCE verifier, derived from its state under the
/// secrets key: nothing secret is stored, and only services can compute
/// them again when the state comes back.
pub(super) struct Derived {
    pub(super) nonce: String,
    pub(super) pkce_verifier: String,
}

pub(super) fn derive(key: &[u8], state: &str) -> Derived {
    let mac = |label: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(label.as_bytes());
        m.update(&[0]);
        m.update(state.as_bytes());
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    };
    Derived {
        nonce: mac("oidc nonce"),
        pkce_verifier: mac("oidc pkce verifier"),
    }
}

/// The provider-login aggregate of a presented state: by its SHA-256, and
/// only for a state shaped as ours are (43 base64url characters).
pub(super) fn login_subject(
    tenant: &str,
    state: &str,
) -> Result<authd_events::AggregateSubject, CommandError> {
    let shaped = state.len() == 43
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Err(DomainError::InvalidState.into());
    }
    subject(
        tenant,
        AggregateKind::ProviderLogin,
        &hex::encode(Sha256::digest(state.as_bytes())),
    )
}

/// A redirect provider's settings (OpenID Connect or plain OAuth 2.0) and
/// its opened client secret.
pub(super) fn redirect_provider(
    s: &Services,
    p: &AuthProvider,
) -> Result<(ProviderKind, String), CommandError> {
    let sealed = match &p.kind {
        ProviderKind::Oidc(o) => &o.client_secret,
        ProviderKind::OAuth2(o) => &o.client_secret,
        ProviderKind::Shopify(_) => return Err(DomainError::ProviderNotFound.into()),
    };
    let secret = s.secrets.open(sealed).map_err(|_| {
        tracing::error!(provider = %p.id, "a provider's client secret does not open: was --secrets-key-file changed?");
        CommandError::internal()
    })?;
    Ok((p.kind.clone(), secret))
}

/// Where a redirect provider sends the customer to sign in.
async fn authorize(
    s: &Services,
    kind: &ProviderKind,
    secret: &str,
    redirect: &str,
    hint: Option<&str>,
    secrets: &LoginSecrets<'_>,
) -> Result<String, ProviderFailed> {
    match kind {
        ProviderKind::Oidc(o) => {
            s.oidc
                .authorize_url(o, secret, redirect, hint, secrets)
                .await
        }
        ProviderKind::OAuth2(o) => oauth::authorize_url(o, secret, redirect, hint, secrets),
        ProviderKind::Shopify(_) => Err(ProviderFailed::error("not a redirect provider")),
    }
}

/// Who signed in, by the code a redirect provider sent back.
pub(super) async fn exchange(
    s: &Services,
    kind: &ProviderKind,
    secret: &str,
    redirect: &str,
    code: &str,
    secrets: &LoginSecrets<'_>,
) -> Result<ProviderIdentity, ProviderFailed> {
    match kind {
        ProviderKind::Oidc(o) => s.oidc.exchange(o, secret, redirect, code, secrets).await,
        ProviderKind::OAuth2(o) => {
            oauth::exchange(&s.oidc, o, secret, redirect, code, secrets).await
        }
        ProviderKind::Shopify(_) => Err(ProviderFailed::error("not a redirect provider")),
    }
}

impl UseCase for StartProviderLogin {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<ProviderStarted>, CommandError> {
        let project = s.project(&env.tenant).await?;
        let provider = providers::find(&project.providers, self.provider_key.as_deref())
            .ok_or(DomainError::ProviderNotFound)?;
        let urls = &project.providers.return_urls;
        let return_to = match (&self.return_to, &provider.kind) {
            (Some(r), _) if urls.contains(r) => r.clone(),
            (None, _) if urls.len() == 1 => urls[0].clone(),
            // Multipass sends the customer to their account at the store.
            (None, ProviderKind::Shopify(shop)) => format!("https://{}/account", shop.shop_domain),
            _ => return Err(DomainError::ReturnUrlNotAllowed.into()),
        };
        if let ProviderKind::Shopify(shop) = &provider.kind {
            return super::shopify::start(s, env, provider, shop, self.email, return_to).await;
        }
        if let Some(email) = &self.email
            && (email.len() > 254 || email.chars().any(char::is_control))
        {
            return Err(DomainError::InvalidEmail.into());
        }
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let state = URL_SAFE_NO_PAD.encode(random);
        let derived = derive(&s.state_key, &state);
        let (kind, secret) = redirect_provider(s, provider)?;
        let secrets = LoginSecrets {
            state: &state,
            nonce: &derived.nonce,
            pkce_verifier: &derived.pkce_verifier,
        };
        let redirect_url = authorize(
            s,
            &kind,
            &secret,
            &return_to,
            self.email.as_deref(),
            &secrets,
        )
        .await
        .map_err(|f| CommandError::from(f.error))?;
        let start = ProviderLoginCommand::Start(ProviderLoginStarted {
            provider_id: provider.id.clone(),
            return_to,
            expires_at: s.now() + STATE_TTL_MS,
        });
        let login = login_subject(&env.tenant, &state)?;
        let d = s.x.run::<ProviderLogin>(env, &login, &start).await?;
        Ok(Sent {
            seq: d.seq,
            outcome: ProviderStarted::Redirect {
                provider_id: provider.id.clone(),
                provider_key: provider.key.clone(),
                redirect_url,
                state,
            },
        })
    }
}
