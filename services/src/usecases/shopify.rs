//! Shopify as a provider: Multipass for a signed-in customer of a Plus
//! store (a new session and a Shopify customer access token at once), a
//! mailed code otherwise, and the renewal of a Shopify token.

use authd_events::{
    Actor, AuthProvider, CustomerEvent, CustomerProviderLoginFailed, LoginMethod, ProviderFailure,
    ProviderKind, Sealed, ShopifyProvider, keyed_hash::normalize_email,
};
use serde_json::json;

use super::{Services, UseCase, subject};
use crate::{
    commands::{
        CommandEnvelope, ProviderStarted, RenewShopifyToken, RequestOtp, Sent, ShopifyAccess,
    },
    domain::{
        customer::{self, Customer, CustomerCommand},
        session::Session,
    },
    error::{CommandError, DomainError},
    infra::shopify::{ShopifyToken, multipass_token},
};

fn open(s: &Services, sealed: &Sealed) -> Result<String, CommandError> {
    s.secrets.open(sealed).map_err(|_| {
        tracing::error!("a Shopify secret does not open: was --secrets-key-file changed?");
        CommandError::internal()
    })
}

/// Shopify's `expiresAt` as unix ms.
fn access(t: ShopifyToken) -> Result<ShopifyAccess, CommandError> {
    let at = time::OffsetDateTime::parse(
        &t.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| DomainError::ProviderError("Shopify's expiresAt is not a date"))?;
    Ok(ShopifyAccess {
        access_token: t.access_token,
        expires_at: (at.unix_timestamp_nanos() / 1_000_000) as i64,
    })
}

/// `customerLoginWithProvider` for a Shopify store.
pub(super) async fn start(
    s: &Services,
    env: &CommandEnvelope,
    provider: &AuthProvider,
    shop: &ShopifyProvider,
    email: Option<String>,
    return_to: String,
) -> Result<Sent<ProviderStarted>, CommandError> {
    let (provider_id, provider_key) = (provider.id.clone(), provider.key.clone());
    match (&shop.multipass_secret, &env.actor) {
        (Some(secret), Actor::Customer(customer_id)) => {
            let customer = subject(
                &env.tenant,
                authd_events::AggregateKind::Customer,
                customer_id,
            )?;
            let c = s
                .registered_customer(&customer)
                .await?
                .ok_or(DomainError::CustomerNotFound)?;
            // Multipass speaks for the signed-in customer only.
            if email.is_some_and(|e| normalize_email(&e) != normalize_email(&c.email)) {
                return Err(DomainError::InvalidInput("email").into());
            }
            if c.suspended {
                return Err(DomainError::AccountSuspended.into());
            }
            // A Multipass token speaks only for an address its customer
            // proved: else anyone could register someone's address here
            // and be its owner at the store (pre-hijacking). A mailed code
            // proves it (`customerProviderVerifyOTP`), and the same call
            // then answers MULTIPASS.
            if !c.email_verified {
                let unproven = ProviderFailure::EmailNotVerified;
                record_failure(s, env, &customer, &provider_id, unproven).await;
                return by_code(s, env, provider_id, provider_key, c.email).await;
            }
            let token = multipass_token(
                &open(s, secret)?,
                &json!({
                    "email": c.email, "created_at": authd_events::format_millis(s.now()),
                    "identifier": customer.id, "return_to": return_to,
                }),
            );
            let storefront_token = open(s, &shop.storefront_token)?;
            let exchanged = s
                .shopify
                .token_with_multipass(&shop.shop_domain, &storefront_token, &token)
                .await;
            let shopify = match exchanged {
                Ok(t) => access(t).map_err(|e| (ProviderFailure::ProviderError, e)),
                Err(f) => Err((f.reason, f.error.into())),
            };
            let shopify = match shopify {
                Ok(shopify) => shopify,
                Err((reason, e)) => {
                    record_failure(s, env, &customer, &provider_id, reason).await;
                    return Err(e);
                }
            };
            let signed_in = new_session(s, env, &customer).await?;
            Ok(Sent {
                seq: signed_in.seq,
                outcome: ProviderStarted::Multipass {
                    provider_id,
                    provider_key,
                    signed_in: Box::new(signed_in.outcome),
                    shopify,
                },
            })
        }
        _ => {
            let email = email.ok_or(DomainError::InvalidEmail)?;
            by_code(s, env, provider_id, provider_key, email).await
        }
    }
}

/// A code mailed with `customerRequestOTP`'s rules, for
/// `customerProviderVerifyOTP`.
async fn by_code(
    s: &Services,
    env: &CommandEnvelope,
    provider_id: String,
    provider_key: String,
    email: String,
) -> Result<Sent<ProviderStarted>, CommandError> {
    let sent = RequestOtp { email }.run(s, env).await?;
    Ok(Sent {
        seq: sent.seq,
        outcome: ProviderStarted::Otp {
            provider_id,
            provider_key,
            expires_at: sent.outcome.expires_at,
        },
    })
}

/// A failed Multipass exchange, on the customer's record (the store's
/// answer is the caller's error either way; a record that cannot be
/// written is logged, not answered instead).
async fn record_failure(
    s: &Services,
    env: &CommandEnvelope,
    customer: &authd_events::AggregateSubject,
    provider_id: &str,
    reason: ProviderFailure,
) {
    let failed = CustomerEvent::ProviderLoginFailed(CustomerProviderLoginFailed {
        provider_id: provider_id.to_string(),
        reason,
    });
    let recorded =
        s.x.decide(env, customer, |_: &Customer, _| Ok(vec![failed.clone()]))
            .await;
    if let Err(e) = recorded {
        tracing::warn!(code = %e.code, "a failed Multipass sign-in was not recorded");
    }
}

/// A new session for a customer Shopify vouched for through Multipass.
async fn new_session(
    s: &Services,
    env: &CommandEnvelope,
    customer: &authd_events::AggregateSubject,
) -> Result<Sent<crate::commands::SignedIn>, CommandError> {
    let session = s.new_session(&env.tenant)?;
    let record = CustomerCommand::RecordProviderLogin {
        session_id: session.id.clone(),
        email_proven: false,
        // Multipass speaks for a customer signed in already.
        challenge: None,
    };
    let start = session.start(&customer.id, LoginMethod::Provider);
    let done =
        s.x.batch(env)
            .load::<Customer>(customer)
            .create::<Session>(&session.subject)
            .decide(|tx| {
                let events = tx.decide::<Customer>(customer, &record)?;
                if let Err(e) = customer::login_outcome(&events, 0) {
                    return Ok(Err(e));
                }
                tx.decide::<Session>(&session.subject, &start)?;
                Ok(Ok(()))
            })
            .await?;
    done.value.clone()?;
    s.signed_in(env, &done, customer, session, false).await
}

impl UseCase for RenewShopifyToken {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<ShopifyAccess>, CommandError> {
        if self.token.is_empty() || self.token.len() > 1_000 {
            return Err(DomainError::InvalidToken.into());
        }
        let project = s.project(&env.tenant).await?;
        let shop = project
            .providers
            .providers
            .iter()
            .filter(|p| p.enabled)
            .find_map(|p| match &p.kind {
                ProviderKind::Shopify(shop)
                    if p.id == self.shop_id
                        || p.key == self.shop_id
                        || shop.shop_domain == self.shop_id =>
                {
                    Some(shop)
                }
                _ => None,
            })
            .ok_or(DomainError::ProviderNotFound)?;
        let storefront_token = open(s, &shop.storefront_token)?;
        let renewed = s
            .shopify
            .renew(&shop.shop_domain, &storefront_token, &self.token)
            .await
            .map_err(|f| CommandError::from(f.error))?;
        Ok(Sent {
            seq: 0,
            outcome: access(renewed)?,
        })
    }
}
