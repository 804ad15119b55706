//! The use cases: one file per feature, each command a short `UseCase`
//! impl over the executor (which alone loads, decides, appends, retries).

mod activation;
mod addresses;
mod batch;
mod customer_admin;
mod delete_account;
mod email_change;
mod email_verification;
mod erasure;
pub(crate) mod executor;
mod login_otp;
mod login_password;
mod metafields;
mod mfa;
mod mfa_login;
mod orders;
mod passkey_ceremonies;
mod passkeys;
mod password_reset;
mod password_update;
mod phone_claim;
mod project_admin;
mod provider_login;
mod providers;
mod register;
mod sessions;
mod shopify;
mod signing_keys;
mod storefront;
mod webhooks;

use std::{sync::Arc, time::Duration};

use authd_events::{
    Actor, AggregateKind, AggregateSubject, EventStore, ProjectConfig, SecretHash,
    keyed_hash::{email_key, normalize_email, secret_hash},
};

use crate::{
    commands::{
        AccessToken, CommandEnvelope, CommandSpec, CustomerView, Sent, SignedIn,
        StorefrontSignedIn, Tokens,
    },
    domain::{customer::Customer, email_claim::EmailClaim, project::Project},
    error::{CommandError, DomainError},
    infra::{
        cache::StateCache,
        key_ring::Signer,
        mail::{MailJob, MailKind, Mailbox},
        oidc::Oidc,
        password::PasswordHasher,
        sealing::{self, SecretBox},
        tokens::{self, AccessClaims},
    },
};
use executor::Executor;

/// Lifetime of a password-reset link.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// Lifetime of an invitation's activation link.
pub const ACTIVATION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// Lifetime of an email-verification link.
pub const VERIFY_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Clone)]
pub struct ServiceConfig {
    /// Key of the keyed hashes that stand in for emails in subjects, and of
    /// one-time-code hashes.
    pub index_key: Vec<u8>,
    /// Seals provider secrets and keys provider-login states (services
    /// only; at least 32 bytes, else a random one for this process).
    pub secrets_key: Vec<u8>,
    /// Providers at loopback and private addresses may be called.
    pub allow_private_providers: bool,
    /// Webhook endpoints may name private addresses and plain http.
    pub allow_private_webhooks: bool,
    pub access_token_ttl: Duration,
    pub session_ttl: Duration,
    pub clock: crate::infra::clock::Clock,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            index_key: Vec::new(),
            secrets_key: Vec::new(),
            allow_private_providers: false,
            allow_private_webhooks: false,
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            clock: Default::default(),
        }
    }
}

pub struct Services {
    x: Executor,
    hasher: PasswordHasher,
    signer: Arc<Signer>,
    mailbox: Mailbox,
    config: ServiceConfig,
    secrets: SecretBox,
    /// Derives a provider login's nonce and PKCE verifier from its state.
    state_key: Vec<u8>,
    oidc: Oidc,
    shopify: crate::infra::shopify::Shopify,
}

/// A command's use case.
pub(crate) trait UseCase: CommandSpec {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<Self::Outcome>, CommandError>;
}

impl Services {
    pub fn new(
        store: EventStore,
        cache: Arc<StateCache>,
        hasher: PasswordHasher,
        signer: Arc<Signer>,
        mailbox: Mailbox,
        config: ServiceConfig,
    ) -> Self {
        let (secrets, state_key) = sealing::provider_keys(&config.secrets_key);
        Self {
            x: Executor::new(store, cache, config.clock.clone()),
            hasher,
            signer,
            mailbox,
            secrets,
            state_key,
            oidc: Oidc::new(config.allow_private_providers),
            shopify: crate::infra::shopify::Shopify::new(config.allow_private_providers),
            config,
        }
    }

    pub fn cache(&self) -> &Arc<StateCache> {
        self.x.cache()
    }

    fn now(&self) -> i64 {
        self.x.now()
    }

    /// Who sent the command, as the lockout counts clients.
    fn client(env: &CommandEnvelope) -> u64 {
        crate::domain::lockout::client_key(env.request.ip.as_deref())
    }

    /// The project of the command, which must exist.
    async fn project(&self, tenant: &str) -> Result<Project, CommandError> {
        let subject = subject(tenant, AggregateKind::Project, tenant)?;
        let p = self
            .x
            .current::<Project>(&subject, |p| p.name.is_some())
            .await?;
        if p.name.is_none() {
            return Err(DomainError::ProjectNotFound.into());
        }
        Ok(p)
    }

    fn claim_subject(&self, tenant: &str, email: &str) -> Result<AggregateSubject, CommandError> {
        let key = email_key(&self.config.index_key, tenant, &normalize_email(email));
        subject(tenant, AggregateKind::EmailClaim, &key)
    }

    /// The registered customer an email belongs to, if any (checked against
    /// the log when the cache knows none: they may have registered a moment
    /// ago).
    async fn owner_of(
        &self,
        tenant: &str,
        claim: &AggregateSubject,
    ) -> Result<Option<(AggregateSubject, Customer)>, CommandError> {
        let claim = self
            .x
            .current::<EmailClaim>(claim, |c| c.owner.is_some())
            .await?;
        let Some(owner) = claim.owner else {
            return Ok(None);
        };
        let customer = subject(tenant, AggregateKind::Customer, &owner)?;
        Ok(self
            .registered_customer(&customer)
            .await?
            .map(|c| (customer, c)))
    }

    /// A registered customer by subject, reading the log when the cache does not know it.
    async fn registered_customer(
        &self,
        subject: &AggregateSubject,
    ) -> Result<Option<Customer>, CommandError> {
        let c = self
            .x
            .current::<Customer>(subject, |c| c.registered)
            .await?;
        Ok(c.registered.then_some(c))
    }

    /// Signs an access token for a session whose message is at `seq`.
    fn issue_tokens(
        &self,
        tenant: &str,
        customer_id: &str,
        session_id: &str,
        refresh_token: String,
        expires_at: i64,
        (seq, restricted): (u64, bool),
    ) -> Result<Tokens, CommandError> {
        let now_ms = self.now();
        let now = now_ms / 1000;
        let exp = now + self.config.access_token_ttl.as_secs() as i64;
        let claims = AccessClaims {
            iss: tokens::ISSUER.into(),
            aud: tenant.into(),
            sub: customer_id.into(),
            sid: session_id.into(),
            pid: tenant.into(),
            iat: now,
            exp,
            seq,
            restricted: restricted.then(|| tokens::MFA_ENROLLMENT.to_string()),
        };
        let access_token = self.signer.sign(&claims, now_ms).map_err(|e| {
            tracing::error!(error = %e, "cannot sign an access token");
            CommandError::unavailable()
        })?;
        Ok(Tokens {
            access_token,
            access_token_expires_at: exp,
            refresh_token,
            refresh_token_expires_at: expires_at,
            session_id: session_id.into(),
        })
    }

    /// A session about to start for this command: its id, subject and
    /// refresh token (only the token's hash is recorded).
    fn new_session(&self, tenant: &str) -> Result<NewSession, CommandError> {
        let ttl_ms = self.config.session_ttl.as_millis() as i64;
        self.session_with(tenant, ttl_ms, false)
    }

    /// A Storefront session about to start: its token lives as long as
    /// the project's configuration says.
    fn new_storefront_session(
        &self,
        tenant: &str,
        project: &Project,
    ) -> Result<NewSession, CommandError> {
        let ttl_ms = project.storefront.access_token_ttl_secs as i64 * 1000;
        self.session_with(tenant, ttl_ms, true)
    }

    fn session_with(
        &self,
        tenant: &str,
        ttl_ms: i64,
        storefront: bool,
    ) -> Result<NewSession, CommandError> {
        let id = authd_events::new_id("s");
        Ok(NewSession {
            subject: subject(tenant, AggregateKind::Session, &id)?,
            refresh_token: tokens::new_refresh_token(&id),
            expires_at: self.now() + ttl_ms,
            id,
            storefront,
        })
    }

    /// The answer to a Storefront sign-in whose batch `done` started
    /// `session` for the customer at `customer`.
    fn storefront_signed_in<T>(
        &self,
        done: &executor::Committed<T>,
        customer: &AggregateSubject,
        session: NewSession,
    ) -> Result<Sent<StorefrontSignedIn>, CommandError> {
        if done.duplicate {
            return Err(CommandError::duplicate());
        }
        Ok(Sent {
            seq: done.seq,
            outcome: StorefrontSignedIn {
                customer: customer_view(&customer.id, done.state::<Customer>(customer)),
                access_token: {
                    let seq = done.seq_of(&session.subject);
                    session.access_token(seq)
                },
            },
        })
    }

    /// The tokens of a session started at `seq` (the access token carries
    /// it, so any gateway can wait until its read model has the session).
    fn session_tokens(
        &self,
        tenant: &str,
        customer_id: &str,
        session: NewSession,
        seq: (u64, bool),
    ) -> Result<Tokens, CommandError> {
        self.issue_tokens(
            tenant,
            customer_id,
            &session.id,
            session.refresh_token,
            session.expires_at,
            seq,
        )
    }

    /// The answer to a login whose batch `done` started `session` for the
    /// customer at `customer`.
    async fn signed_in<T>(
        &self,
        env: &CommandEnvelope,
        done: &executor::Committed<T>,
        customer: &AggregateSubject,
        session: NewSession,
        new_customer: bool,
    ) -> Result<Sent<SignedIn>, CommandError> {
        if done.duplicate {
            // The first attempt stored another refresh token's hash.
            return Err(CommandError::duplicate());
        }
        let seq = done.seq_of(&session.subject);
        let c = done.state::<Customer>(customer);
        let restricted = self.restricted(&env.tenant, c).await?;
        let tokens = self.session_tokens(&env.tenant, &customer.id, session, (seq, restricted))?;
        Ok(Sent {
            seq: done.seq,
            outcome: SignedIn {
                customer: customer_view(&customer.id, c),
                tokens,
                new_customer,
            },
        })
    }

    async fn send_mail(
        &self,
        env: &CommandEnvelope,
        to: &str,
        config: &ProjectConfig,
        kind: MailKind,
    ) -> Result<(), CommandError> {
        let job = MailJob {
            id: format!("{}-{}", env.command_id, kind.name()),
            tenant: env.tenant.clone(),
            to: to.to_string(),
            from: config.mail_sender.clone(),
            kind,
        };
        self.mailbox.send(&job).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot queue mail");
            CommandError::unavailable()
        })
    }
}

struct NewSession {
    id: String,
    subject: AggregateSubject,
    /// For a Storefront session, the hashed part of its access token.
    refresh_token: String,
    expires_at: i64,
    storefront: bool,
}

impl NewSession {
    /// A Storefront session's token, once its start is at `seq`.
    fn access_token(self, seq: u64) -> AccessToken {
        AccessToken {
            token: tokens::storefront_token(&self.refresh_token, seq),
            expires_at: self.expires_at,
            session_id: self.id,
        }
    }

    fn start(
        &self,
        customer_id: &str,
        method: authd_events::LoginMethod,
    ) -> crate::domain::session::SessionCommand {
        crate::domain::session::SessionCommand::Start {
            customer_id: customer_id.to_string(),
            method,
            refresh_token_hash: secret_hash(&self.refresh_token),
            expires_at: self.expires_at,
            storefront: self.storefront,
        }
    }
}

fn subject(tenant: &str, kind: AggregateKind, id: &str) -> Result<AggregateSubject, CommandError> {
    AggregateSubject::new(tenant, kind, id).map_err(|_| {
        DomainError::InvalidInput(match kind {
            AggregateKind::Project => "project",
            AggregateKind::Customer => "customerId",
            AggregateKind::Session => "sessionId",
            _ => "id",
        })
        .into()
    })
}

fn customer_view(id: &str, c: &Customer) -> CustomerView {
    CustomerView {
        id: id.to_string(),
        email: c.email.clone(),
        email_verified: c.email_verified,
        first_name: c.profile.first_name.clone(),
        last_name: c.profile.last_name.clone(),
        phone: c.profile.phone.clone(),
        accepts_marketing: c.profile.accepts_marketing,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

pub fn valid_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
}

/// A link token is `<customer id>.<256 random bits>`: the id finds the
/// aggregate, the secret proves the mail was read. Only its hash is stored.
fn link_token(customer_id: &str) -> (String, SecretHash) {
    let token = tokens::new_refresh_token(customer_id);
    let hash = secret_hash(&token);
    (token, hash)
}

fn customer_of_token(token: &str) -> Result<&str, CommandError> {
    tokens::refresh_token_session(token).ok_or_else(|| DomainError::InvalidToken.into())
}

fn link(config: &ProjectConfig, path: &str, token: &str) -> String {
    format!(
        "{}/{path}?token={token}",
        config.link_base_url.trim_end_matches('/')
    )
}

/// The signed-in customer a command acts for (its registry line says
/// `Customer`, so the dispatch has checked there is one).
fn customer_actor(env: &CommandEnvelope) -> &str {
    match &env.actor {
        Actor::Customer(id) => id,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn email_syntax() {
        for ok in ["a@b.co", " Ann.Lee+tag@Example.com ", "x@sub.domain.org"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@b.co",
            "a@",
            "a@b",
            "a b@c.de",
            "a@.co",
            "a@co.",
            "a@b@c.de",
            &format!("{}@b.co", "x".repeat(65)),
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
