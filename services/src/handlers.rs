//! Command handlers: load state, call `decide`, append, reply. Nothing else.

use std::{sync::Arc, time::Duration};

use authd_events::{
    Actor, AggregateKind, AggregateSubject, ApiKeyIssued, ApiKeyKind, Appended, EventMessage,
    EventStore, Expected, LoginMethod, MessageMeta, ProjectConfig, RevokeReason, SecretHash,
    StoreError,
    keyed_hash::{email_key, normalize_email, secret_hash},
};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::{
    aggregate::{Aggregate, At},
    cache::{StateCache, fold},
    command::*,
    customer::{self, Customer, CustomerCommand},
    email_claim::{self, ClaimDecision, EmailClaim},
    error::{CommandError, DomainError},
    login_attempts::{self, LoginAttempts},
    mail::{MailJob, MailKind, Mailbox},
    otp::{self, Otp, OtpCommand},
    password::{self, PasswordHasher},
    project::{self, Project, ProjectCommand},
    session::{self, Session, SessionCommand},
    tokens::{self, AccessClaims, SigningKeys},
};

/// How often a decision is retried after losing a concurrency race.
const MAX_ATTEMPTS: usize = 8;
/// Lifetime of a password-reset link.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// Lifetime of an email-verification link.
pub const VERIFY_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Clone)]
pub struct ServiceConfig {
    /// Key of the keyed hashes that stand in for emails in subjects, and of
    /// one-time-code hashes.
    pub index_key: Vec<u8>,
    pub access_token_ttl: Duration,
    pub session_ttl: Duration,
    pub clock: crate::clock::Clock,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            index_key: Vec::new(),
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            clock: Default::default(),
        }
    }
}

pub struct Services {
    store: EventStore,
    cache: Arc<StateCache>,
    hasher: PasswordHasher,
    keys: SigningKeys,
    mailbox: Mailbox,
    config: ServiceConfig,
}

/// The outcome of one load–decide–append round on one aggregate.
struct Decided<A: Aggregate> {
    /// Sequence of the aggregate's last message after the round.
    seq: u64,
    state: A,
    events: Vec<A::Event>,
    appended: Option<Appended>,
}

impl<A: Aggregate> Decided<A> {
    fn duplicate(&self) -> bool {
        self.appended.is_some_and(|a| a.duplicate)
    }
}

fn unavailable(e: StoreError) -> CommandError {
    tracing::warn!(error = %e, "event log");
    match e {
        StoreError::Unavailable(_) => CommandError::unavailable(),
        _ => CommandError::internal(),
    }
}

fn internal(e: impl std::fmt::Display) -> CommandError {
    tracing::error!(error = %e, "internal error");
    CommandError::internal()
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

fn customer_actor(env: &CommandEnvelope) -> Result<&str, CommandError> {
    match &env.actor {
        Actor::Customer(id) => Ok(id),
        _ => Err(CommandError::new(
            "UNAUTHENTICATED",
            "a signed-in customer is required",
        )),
    }
}

fn require_admin(env: &CommandEnvelope) -> Result<(), CommandError> {
    match env.actor {
        Actor::Admin(_) | Actor::System => Ok(()),
        _ => Err(CommandError::new("FORBIDDEN", "an admin key is required")),
    }
}

impl Services {
    pub fn new(
        store: EventStore,
        cache: Arc<StateCache>,
        hasher: PasswordHasher,
        keys: SigningKeys,
        mailbox: Mailbox,
        config: ServiceConfig,
    ) -> Self {
        Self {
            store,
            cache,
            hasher,
            keys,
            mailbox,
            config,
        }
    }

    pub fn cache(&self) -> &Arc<StateCache> {
        &self.cache
    }

    pub async fn handle(&self, env: CommandEnvelope) -> Reply {
        if !authd_events::subject::is_valid_token(&env.tenant) {
            return Err(DomainError::InvalidInput("tenant").into());
        }
        if env.command_id.is_empty() || env.command_id.len() > 128 {
            return Err(DomainError::InvalidInput("commandId").into());
        }
        match env.command.clone() {
            Command::CreateProject(c) => self.create_project(&env, c).await,
            Command::RegisterCustomer(c) => self.register(&env, c).await,
            Command::LoginCustomer(c) => self.login(&env, c).await,
            Command::RefreshSession(c) => self.refresh(&env, c).await,
            Command::RevokeSession(c) => self.revoke(&env, c).await,
            Command::RequestOtp(c) => self.request_otp(&env, c).await,
            Command::LoginOtp(c) => self.login_otp(&env, c).await,
            Command::RequestPasswordReset(c) => self.request_reset(&env, c).await,
            Command::ResetPassword(c) => self.reset_password(&env, c).await,
            Command::UpdatePassword(c) => self.update_password(&env, c).await,
            Command::VerifyEmail(c) => self.verify_email(&env, c).await,
            Command::ResendVerification => self.resend_verification(&env).await,
            Command::ConfigureProject(c) => {
                require_admin(&env)?;
                self.project_command(&env, ProjectCommand::Configure { config: c })
                    .await
            }
            Command::IssueApiKey(c) => self.issue_key(&env, c).await,
            Command::RevokeApiKey(c) => {
                require_admin(&env)?;
                self.project_command(&env, ProjectCommand::RevokeKey { key_id: c.key_id })
                    .await
            }
            Command::SuspendCustomer(c) => {
                require_admin(&env)?;
                let cmd = || CustomerCommand::Suspend {
                    reason: c.reason.clone(),
                };
                self.admin_customer(&env, &c.customer_id, cmd).await
            }
            Command::ReactivateCustomer(c) => {
                require_admin(&env)?;
                self.admin_customer(&env, &c.customer_id, || CustomerCommand::Reactivate)
                    .await
            }
            Command::UnlockCustomer(c) => {
                require_admin(&env)?;
                self.admin_customer(&env, &c.customer_id, || CustomerCommand::Unlock)
                    .await
            }
        }
    }

    fn now(&self) -> i64 {
        self.config.clock.now()
    }

    fn meta(&self, env: &CommandEnvelope, aggregate_id: &str) -> MessageMeta {
        MessageMeta {
            tenant: env.tenant.clone(),
            aggregate_id: aggregate_id.to_string(),
            time: self.now(),
            actor: env.actor.clone(),
            request: env.request.clone(),
            command_id: env.command_id.clone(),
        }
    }

    /// Loads an aggregate: from the cache unless `fresh`, else from JetStream
    /// (from the cached state on, when there is one).
    async fn load<A: Aggregate>(
        &self,
        subject: &AggregateSubject,
        fresh: bool,
    ) -> Result<(u64, A, bool), CommandError> {
        let key = subject.to_string();
        let cached = self.cache.get::<A>(&key);
        if let (false, Some((seq, state))) = (fresh, cached.clone()) {
            return Ok((seq, state, true));
        }
        let (mut seq, mut state) = cached.unwrap_or_default();
        for m in self
            .store
            .read_aggregate_from(subject, seq + 1)
            .await
            .map_err(unavailable)?
        {
            state = fold(state, m.seq, &m.message);
            seq = m.seq;
        }
        self.cache.insert(&key, seq, state.clone());
        Ok((seq, state, false))
    }

    /// Load, decide, append with the expected sequence; on a lost race,
    /// reload and decide again. A rejection decided on cached state is
    /// confirmed against the aggregate's real last sequence first.
    async fn execute<A: Aggregate>(
        &self,
        env: &CommandEnvelope,
        subject: &AggregateSubject,
        mut decide: impl FnMut(&A) -> Result<Vec<A::Event>, DomainError>,
    ) -> Result<Decided<A>, CommandError> {
        let mut fresh = false;
        for _ in 0..MAX_ATTEMPTS {
            let (seq, state, from_cache) = self.load::<A>(subject, fresh).await?;
            let events = match decide(&state) {
                Ok(events) => events,
                Err(e) => {
                    if from_cache
                        && self
                            .store
                            .last_sequence(subject)
                            .await
                            .map_err(unavailable)?
                            != seq
                    {
                        fresh = true;
                        continue;
                    }
                    return Err(e.into());
                }
            };
            if events.is_empty() {
                return Ok(Decided {
                    seq,
                    state,
                    events,
                    appended: None,
                });
            }
            let meta = self.meta(env, &subject.id);
            let time = meta.time;
            let message = EventMessage::new(meta, events.iter().cloned().map(A::wrap).collect());
            match self
                .store
                .append(subject, &message, Expected::Seq(seq))
                .await
            {
                Ok(appended) => {
                    let state = state.evolve_all(
                        &events,
                        At {
                            seq: appended.seq,
                            time,
                        },
                    );
                    if !appended.duplicate {
                        self.cache
                            .insert(&subject.to_string(), appended.seq, state.clone());
                    }
                    return Ok(Decided {
                        seq: appended.seq,
                        state,
                        events,
                        appended: Some(appended),
                    });
                }
                Err(StoreError::Conflict) => fresh = true,
                Err(e) => return Err(unavailable(e)),
            }
        }
        tracing::warn!(%subject, "gave up after {MAX_ATTEMPTS} concurrent modifications");
        Err(CommandError::unavailable())
    }

    /// `execute` for a decision that depends on a password check (slow, so
    /// done outside `decide`): when the customer's password hash changed
    /// since it was checked, check the password against the new one and
    /// decide again.
    async fn execute_with_password(
        &self,
        env: &CommandEnvelope,
        subject: &AggregateSubject,
        password: &str,
        mut checked_hash: String,
        decide: impl Fn(&Customer, bool) -> Result<Vec<authd_events::CustomerEvent>, DomainError>,
    ) -> Result<Decided<Customer>, CommandError> {
        loop {
            let matches = self
                .hasher
                .verify(password.to_string(), checked_hash.clone())
                .await
                .map_err(internal)?;
            let mut changed = false;
            let d = self
                .execute(env, subject, |s: &Customer| {
                    if s.password_hash != checked_hash {
                        changed = true;
                        return Ok(vec![]);
                    }
                    decide(s, matches)
                })
                .await?;
            if !changed {
                return Ok(d);
            }
            checked_hash = d.state.password_hash.clone();
        }
    }

    /// The project of the command, which must exist.
    async fn project(&self, tenant: &str) -> Result<Project, CommandError> {
        let subject = subject(tenant, AggregateKind::Project, tenant)?;
        let (_, p, from_cache) = self.load::<Project>(&subject, false).await?;
        if p.name.is_some() {
            return Ok(p);
        }
        let p = if from_cache {
            self.load::<Project>(&subject, true).await?.1
        } else {
            p
        };
        if p.name.is_none() {
            return Err(DomainError::ProjectNotFound.into());
        }
        Ok(p)
    }

    fn customer_view(&self, id: &str, c: &Customer) -> CustomerView {
        CustomerView {
            id: id.to_string(),
            email: c.email.clone(),
            email_verified: c.email_verified,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }

    fn issue_tokens(
        &self,
        tenant: &str,
        customer_id: &str,
        session_id: &str,
        refresh_token: String,
        expires_at: i64,
        seq: u64,
    ) -> Tokens {
        let now = self.now() / 1000;
        let exp = now + self.config.access_token_ttl.as_secs() as i64;
        let access_token = self.keys.sign(&AccessClaims {
            iss: tokens::ISSUER.into(),
            sub: customer_id.into(),
            sid: session_id.into(),
            pid: tenant.into(),
            iat: now,
            exp,
            seq,
        });
        Tokens {
            access_token,
            access_token_expires_at: exp,
            refresh_token,
            refresh_token_expires_at: expires_at,
            session_id: session_id.into(),
        }
    }

    /// Starts a session for a customer whose login was just recorded.
    async fn start_session(
        &self,
        env: &CommandEnvelope,
        customer_id: &str,
        session_id: &str,
        method: LoginMethod,
    ) -> Result<(u64, Tokens), CommandError> {
        let subject = subject(&env.tenant, AggregateKind::Session, session_id)?;
        let refresh_token = tokens::new_refresh_token(session_id);
        let expires_at = self.now() + self.config.session_ttl.as_millis() as i64;
        let hash = secret_hash(&refresh_token);
        let d = self
            .execute(env, &subject, |s: &Session| {
                session::decide(
                    s,
                    SessionCommand::Start {
                        customer_id: customer_id.into(),
                        method,
                        refresh_token_hash: hash,
                        expires_at,
                    },
                )
            })
            .await?;
        if d.duplicate() {
            // The original attempt stored another token's hash.
            return Err(CommandError::duplicate());
        }
        let tokens = self.issue_tokens(
            &env.tenant,
            customer_id,
            session_id,
            refresh_token,
            expires_at,
            d.seq,
        );
        Ok((d.seq, tokens))
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

    fn link(config: &ProjectConfig, path: &str, token: &str) -> String {
        format!(
            "{}/{path}?token={token}",
            config.link_base_url.trim_end_matches('/')
        )
    }

    async fn create_project(&self, env: &CommandEnvelope, c: CreateProject) -> Reply {
        require_admin(env)?;
        let subject = subject(&env.tenant, AggregateKind::Project, &env.tenant)?;
        let public_key = c
            .public_key
            .unwrap_or_else(|| tokens::new_api_key("pk_test_"));
        let secret_key = c
            .secret_key
            .unwrap_or_else(|| tokens::new_api_key("sk_test_"));
        if !(public_key.starts_with("pk_test_") || public_key.starts_with("pk_live_"))
            || public_key.len() < 24
        {
            return Err(DomainError::InvalidInput("publicKey").into());
        }
        if !(secret_key.starts_with("sk_test_") || secret_key.starts_with("sk_live_"))
            || secret_key.len() < 24
        {
            return Err(DomainError::InvalidInput("secretKey").into());
        }
        let keys = vec![
            api_key(&public_key, ApiKeyKind::Public),
            api_key(&secret_key, ApiKeyKind::Secret),
        ];
        let d = self
            .execute(env, &subject, |s: &Project| {
                project::decide(
                    s,
                    ProjectCommand::Create {
                        name: c.name.clone(),
                        keys: keys.clone(),
                    },
                )
            })
            .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::ProjectCreated(ProjectKeys {
                project_id: env.tenant.clone(),
                public_key,
                secret_key,
            }),
        })
    }

    async fn project_command(&self, env: &CommandEnvelope, cmd: ProjectCommand) -> Reply {
        let subject = subject(&env.tenant, AggregateKind::Project, &env.tenant)?;
        let mut cmd = Some(cmd);
        let d = self
            .execute(env, &subject, |s: &Project| {
                // Commands are consumed by decide; a retry gets a rebuilt one.
                let c = cmd.take().ok_or(DomainError::InvalidInput("retry"))?;
                let rebuilt = match &c {
                    ProjectCommand::Configure { config } => ProjectCommand::Configure {
                        config: config.clone(),
                    },
                    ProjectCommand::RevokeKey { key_id } => ProjectCommand::RevokeKey {
                        key_id: key_id.clone(),
                    },
                    ProjectCommand::IssueKey { key } => {
                        ProjectCommand::IssueKey { key: key.clone() }
                    }
                    ProjectCommand::Create { name, keys } => ProjectCommand::Create {
                        name: name.clone(),
                        keys: keys.clone(),
                    },
                };
                cmd = Some(rebuilt);
                project::decide(s, c)
            })
            .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Done,
        })
    }

    async fn issue_key(&self, env: &CommandEnvelope, c: IssueApiKey) -> Reply {
        require_admin(env)?;
        let prefix = match (c.kind, c.live) {
            (ApiKeyKind::Public, false) => "pk_test_",
            (ApiKeyKind::Public, true) => "pk_live_",
            (ApiKeyKind::Secret, false) => "sk_test_",
            (ApiKeyKind::Secret, true) => "sk_live_",
        };
        let key = tokens::new_api_key(prefix);
        let issued = api_key(&key, c.kind);
        let key_id = issued.key_id.clone();
        let reply = self
            .project_command(env, ProjectCommand::IssueKey { key: issued })
            .await?;
        Ok(CommandOk {
            seq: reply.seq,
            outcome: Outcome::ApiKeyIssued(IssuedKey { key_id, key }),
        })
    }

    async fn admin_customer(
        &self,
        env: &CommandEnvelope,
        customer_id: &str,
        cmd: impl Fn() -> CustomerCommand,
    ) -> Reply {
        let subject = subject(&env.tenant, AggregateKind::Customer, customer_id)?;
        let d = self
            .execute(env, &subject, |s: &Customer| customer::decide(s, cmd()))
            .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Done,
        })
    }

    fn claim_subject(&self, tenant: &str, email: &str) -> Result<AggregateSubject, CommandError> {
        let key = email_key(&self.config.index_key, tenant, &normalize_email(email));
        subject(tenant, AggregateKind::EmailClaim, &key)
    }

    /// The customer id an email belongs to, if any (checked against the log
    /// when the cache knows none: it may have been registered a moment ago).
    async fn owner_of(
        &self,
        claim_subject: &AggregateSubject,
    ) -> Result<Option<String>, CommandError> {
        let (_, claim, from_cache) = self.load::<EmailClaim>(claim_subject, false).await?;
        if claim.owner.is_some() || !from_cache {
            return Ok(claim.owner);
        }
        Ok(self.load::<EmailClaim>(claim_subject, true).await?.1.owner)
    }

    /// A registered customer by id, reading the log when the cache does not know it.
    async fn registered_customer(
        &self,
        subject: &AggregateSubject,
    ) -> Result<Option<Customer>, CommandError> {
        let (_, c, from_cache) = self.load::<Customer>(subject, false).await?;
        let c = if !c.registered && from_cache {
            self.load::<Customer>(subject, true).await?.1
        } else {
            c
        };
        Ok(c.registered.then_some(c))
    }

    /// Claims `email` for a new customer: exactly one of concurrent claims
    /// wins. Returns the customer id to register (a new one, or the id of an
    /// orphaned claim being taken over).
    async fn claim_email(
        &self,
        env: &CommandEnvelope,
        claim_subject: &AggregateSubject,
    ) -> Result<String, CommandError> {
        let mut customer_id = authd_events::new_id("c");
        let now = self.now();
        let (_, claim, _) = self.load::<EmailClaim>(claim_subject, false).await?;
        let owner_registered = match claim.possible_orphan(now) {
            Some(owner) => {
                let owner_subject = subject(&env.tenant, AggregateKind::Customer, owner)?;
                Some(
                    self.load::<Customer>(&owner_subject, true)
                        .await?
                        .1
                        .registered,
                )
            }
            None => None,
        };
        let mut take_over = None;
        self.execute(
            env,
            claim_subject,
            |s: &EmailClaim| match email_claim::decide(s, &customer_id, now, owner_registered)? {
                ClaimDecision::Claim(events) => Ok(events),
                ClaimDecision::TakeOver(owner) => {
                    take_over = Some(owner);
                    Ok(vec![])
                }
            },
        )
        .await?;
        if let Some(owner) = take_over {
            customer_id = owner;
        }
        Ok(customer_id)
    }

    async fn register(&self, env: &CommandEnvelope, c: Credentials) -> Reply {
        if !valid_email(&c.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = self.project(&env.tenant).await?;
        let config = &project.config;
        if !config.public_registration {
            return Err(DomainError::RegistrationClosed.into());
        }
        if !config.password_login {
            return Err(DomainError::MethodDisabled.into());
        }
        password::check_with(&c.password, &config.password_policy)?;
        let email = c.email.trim().to_string();
        let claim_subject = self.claim_subject(&env.tenant, &email)?;
        // Hash before claiming, so a claim is never held while a slow hash runs.
        let password_hash = self.hasher.hash(c.password).await.map_err(internal)?;
        let customer_id = self.claim_email(env, &claim_subject).await?;

        let needs_verification = config.email_verification_required;
        let session_id = authd_events::new_id("s");
        let verification = needs_verification.then(|| link_token(&customer_id));
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let d = self
            .execute(env, &customer_subject, |s: &Customer| {
                customer::decide(
                    s,
                    CustomerCommand::Register {
                        email: email.clone(),
                        password_hash: password_hash.clone(),
                        email_verified: false,
                        session: (!needs_verification)
                            .then(|| (session_id.clone(), LoginMethod::Password)),
                        verification: verification
                            .as_ref()
                            .map(|(_, hash)| (*hash, self.now() + VERIFY_TTL_MS)),
                    },
                )
            })
            .await?;
        if d.duplicate() {
            return Err(CommandError::duplicate());
        }
        let customer = self.customer_view(&customer_id, &d.state);
        if let Some((token, _)) = verification {
            let link = Self::link(config, "verify", &token);
            self.send_mail(env, &email, config, MailKind::VerifyEmail { link })
                .await?;
            return Ok(CommandOk {
                seq: d.seq,
                outcome: Outcome::Registered {
                    customer,
                    tokens: None,
                    email_verification_required: true,
                },
            });
        }
        let (seq, tokens) = self
            .start_session(env, &customer_id, &session_id, LoginMethod::Password)
            .await?;
        Ok(CommandOk {
            seq,
            outcome: Outcome::Registered {
                customer,
                tokens: Some(tokens),
                email_verification_required: false,
            },
        })
    }

    async fn login(&self, env: &CommandEnvelope, c: Credentials) -> Reply {
        let email = c.email.trim();
        if c.password.len() > password::MAX_PASSWORD_BYTES {
            return Err(DomainError::PasswordTooLong(password::MAX_PASSWORD_BYTES).into());
        }
        let project = self.project(&env.tenant).await?;
        if !project.config.password_login {
            return Err(DomainError::MethodDisabled.into());
        }
        if !valid_email(email) {
            // Costs what a real attempt costs, so timing says nothing.
            self.hasher
                .verify_dummy(c.password)
                .await
                .map_err(internal)?;
            return Err(DomainError::InvalidCredentials.into());
        }
        let claim_subject = self.claim_subject(&env.tenant, email)?;
        let Some(owner) = self.owner_of(&claim_subject).await? else {
            return self
                .unknown_email_login(
                    env,
                    &claim_subject,
                    c.password,
                    project.config.lockout_threshold,
                )
                .await;
        };
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &owner)?;
        let Some(customer) = self.registered_customer(&customer_subject).await? else {
            return self
                .unknown_email_login(
                    env,
                    &claim_subject,
                    c.password,
                    project.config.lockout_threshold,
                )
                .await;
        };
        let session_id = authd_events::new_id("s");
        let (now, config) = (self.now(), &project.config);
        let d = self
            .execute_with_password(
                env,
                &customer_subject,
                &c.password,
                customer.password_hash.clone(),
                |s, matches| {
                    customer::decide(
                        s,
                        CustomerCommand::RecordPasswordLogin {
                            password_matches: matches,
                            session_id: session_id.clone(),
                            now,
                            lockout_threshold: config.lockout_threshold,
                            verification_required: config.email_verification_required,
                        },
                    )
                },
            )
            .await?;
        customer::login_outcome(&d.events, d.state.locked_until)?;
        if d.duplicate() {
            return Err(CommandError::duplicate());
        }
        let (seq, tokens) = self
            .start_session(env, &owner, &session_id, LoginMethod::Password)
            .await?;
        Ok(CommandOk {
            seq,
            outcome: Outcome::LoggedIn {
                customer: self.customer_view(&owner, &d.state),
                tokens,
                new_customer: false,
            },
        })
    }

    /// A login for an email without a customer: same cost, same answer
    /// (locks included), and still a recorded fact.
    async fn unknown_email_login(
        &self,
        env: &CommandEnvelope,
        claim_subject: &AggregateSubject,
        password: String,
        lockout_threshold: u32,
    ) -> Reply {
        self.hasher.verify_dummy(password).await.map_err(internal)?;
        let subject = subject(&env.tenant, AggregateKind::LoginAttempts, &claim_subject.id)?;
        let now = self.now();
        let mut before = None;
        self.execute(env, &subject, |s: &LoginAttempts| {
            before = Some(s.clone());
            Ok(login_attempts::decide(s, now, lockout_threshold))
        })
        .await?;
        Err(login_attempts::answer(&before.unwrap_or_default(), now).into())
    }

    async fn refresh(&self, env: &CommandEnvelope, c: RefreshSession) -> Reply {
        let Some(session_id) = tokens::refresh_token_session(&c.refresh_token) else {
            return Err(DomainError::InvalidRefreshToken.into());
        };
        let session_subject = subject(&env.tenant, AggregateKind::Session, session_id)?;
        let (_, current, _) = self.load::<Session>(&session_subject, false).await?;
        // The customer may have ended this session (suspension, password reset).
        let customer_allows = match &current.customer_id {
            Some(customer_id) => {
                let customer_subject = subject(&env.tenant, AggregateKind::Customer, customer_id)?;
                let (_, customer, _) = self.load::<Customer>(&customer_subject, false).await?;
                customer.session_allowed(session_id, current.started_seq)
            }
            None => true,
        };
        let presented = secret_hash(&c.refresh_token);
        let new_token = tokens::new_refresh_token(session_id);
        let new_hash = secret_hash(&new_token);
        let now = self.now();
        let d = self
            .execute(env, &session_subject, |s: &Session| {
                session::decide(
                    s,
                    SessionCommand::Refresh {
                        presented_hash: presented,
                        new_hash,
                        now,
                        customer_allows,
                    },
                )
            })
            .await?;
        if session::reuse_detected(&d.events) {
            return Err(DomainError::RefreshTokenReused.into());
        }
        if d.duplicate() {
            return Err(CommandError::duplicate());
        }
        let customer_id = d.state.customer_id.clone().unwrap_or_default();
        let tokens = self.issue_tokens(
            &env.tenant,
            &customer_id,
            session_id,
            new_token,
            d.state.expires_at,
            d.seq,
        );
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Refreshed { tokens },
        })
    }

    async fn revoke(&self, env: &CommandEnvelope, c: RevokeSession) -> Reply {
        let session_subject = subject(&env.tenant, AggregateKind::Session, &c.session_id)?;
        let (reason, by_customer) = match &env.actor {
            Actor::Customer(id) => (RevokeReason::Logout, Some(id.clone())),
            Actor::Admin(_) | Actor::System => (RevokeReason::Admin, None),
            Actor::Anonymous => return Err(DomainError::SessionNotFound.into()),
        };
        let d = self
            .execute(env, &session_subject, |s: &Session| {
                session::decide(
                    s,
                    SessionCommand::Revoke {
                        reason,
                        by_customer: by_customer.clone(),
                    },
                )
            })
            .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Revoked,
        })
    }

    /// Keyed hash of a one-time code, bound to the request that issued it.
    async fn request_otp(&self, env: &CommandEnvelope, c: EmailOnly) -> Reply {
        if !valid_email(&c.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = self.project(&env.tenant).await?;
        if !project.config.otp_login {
            return Err(DomainError::MethodDisabled.into());
        }
        let email = c.email.trim().to_string();
        let claim_subject = self.claim_subject(&env.tenant, &email)?;
        let known = match self.owner_of(&claim_subject).await? {
            Some(owner) => {
                let s = subject(&env.tenant, AggregateKind::Customer, &owner)?;
                self.registered_customer(&s).await?.is_some()
            }
            None => false,
        };
        // A code is issued (and throttled) for every address alike, so the
        // answer says nothing about accounts; it is mailed only where it can
        // sign in: to a customer, or to a new address when anyone may sign up.
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        let otp_id = authd_events::new_id("o");
        let code_hash = otp_hash(&self.config.index_key, &env.tenant, &otp_id, &code);
        let otp_subject = subject(&env.tenant, AggregateKind::Otp, &claim_subject.id)?;
        let now = self.now();
        let d = self
            .execute(env, &otp_subject, |s: &Otp| {
                otp::decide(
                    s,
                    OtpCommand::Issue {
                        otp_id: otp_id.clone(),
                        code_hash,
                        now,
                    },
                )
            })
            .await?;
        if d.duplicate() {
            // The first attempt stored another code's hash and mailed that code.
            return Err(CommandError::duplicate());
        }
        let expires_at = now + otp::OTP_TTL_MS;
        if known || project.config.public_registration {
            self.send_mail(
                env,
                &email,
                &project.config,
                MailKind::OtpCode { code, expires_at },
            )
            .await?;
        }
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Accepted {
                expires_at: Some(expires_at),
            },
        })
    }

    async fn login_otp(&self, env: &CommandEnvelope, c: OtpLogin) -> Reply {
        if !valid_email(&c.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = self.project(&env.tenant).await?;
        if !project.config.otp_login {
            return Err(DomainError::MethodDisabled.into());
        }
        let code = c.otp.trim().to_string();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::InvalidOtp.into());
        }
        let email = c.email.trim().to_string();
        let claim_subject = self.claim_subject(&env.tenant, &email)?;
        let otp_subject = subject(&env.tenant, AggregateKind::Otp, &claim_subject.id)?;
        let (tenant, key) = (env.tenant.clone(), self.config.index_key.clone());
        let now = self.now();
        let d = self
            .execute(env, &otp_subject, |s: &Otp| {
                let (tenant, key, code) = (tenant.clone(), key.clone(), code.clone());
                let presented =
                    Box::new(move |otp_id: &str| otp_hash(&key, &tenant, otp_id, &code));
                otp::decide(s, OtpCommand::Verify { presented, now })
            })
            .await?;
        if !otp::verified(&d.events) {
            return Err(DomainError::InvalidOtp.into());
        }
        if d.duplicate() {
            return Err(CommandError::duplicate());
        }
        let session_id = authd_events::new_id("s");
        let existing = match self.owner_of(&claim_subject).await? {
            Some(owner) => {
                let s = subject(&env.tenant, AggregateKind::Customer, &owner)?;
                self.registered_customer(&s).await?.map(|_| (owner, s))
            }
            None => None,
        };
        let (customer_id, state, new_customer) = match existing {
            Some((owner, customer_subject)) => {
                let d = self
                    .execute(env, &customer_subject, |s: &Customer| {
                        customer::decide(
                            s,
                            CustomerCommand::RecordOtpLogin {
                                session_id: session_id.clone(),
                            },
                        )
                    })
                    .await?;
                customer::login_outcome(&d.events, d.state.locked_until)?;
                (owner, d.state, false)
            }
            None => {
                // The code proved the address: sign up, when anyone may.
                if !project.config.public_registration {
                    return Err(DomainError::InvalidOtp.into());
                }
                let customer_id = self.claim_email(env, &claim_subject).await?;
                let customer_subject = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
                let d = self
                    .execute(env, &customer_subject, |s: &Customer| {
                        customer::decide(
                            s,
                            CustomerCommand::Register {
                                email: email.clone(),
                                password_hash: String::new(),
                                email_verified: true,
                                session: Some((session_id.clone(), LoginMethod::Otp)),
                                verification: None,
                            },
                        )
                    })
                    .await?;
                (customer_id, d.state, true)
            }
        };
        let (seq, tokens) = self
            .start_session(env, &customer_id, &session_id, LoginMethod::Otp)
            .await?;
        Ok(CommandOk {
            seq,
            outcome: Outcome::LoggedIn {
                customer: self.customer_view(&customer_id, &state),
                tokens,
                new_customer,
            },
        })
    }

    async fn request_reset(&self, env: &CommandEnvelope, c: EmailOnly) -> Reply {
        if !valid_email(&c.email) {
            return Err(DomainError::InvalidEmail.into());
        }
        let project = self.project(&env.tenant).await?;
        let email = c.email.trim().to_string();
        let claim_subject = self.claim_subject(&env.tenant, &email)?;
        let accepted = Outcome::Accepted { expires_at: None };
        let Some(owner) = self.owner_of(&claim_subject).await? else {
            return Ok(CommandOk {
                seq: 0,
                outcome: accepted,
            });
        };
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &owner)?;
        if self.registered_customer(&customer_subject).await?.is_none() {
            return Ok(CommandOk {
                seq: 0,
                outcome: accepted,
            });
        }
        let seq = self
            .mail_link(
                env,
                &customer_subject,
                &owner,
                &project.config,
                RESET_TTL_MS,
                "reset",
                |token_hash, expires_at| CustomerCommand::RequestPasswordReset {
                    token_hash,
                    expires_at,
                },
                |link| MailKind::ResetPassword { link },
            )
            .await?
            .0;
        // The same answer as for an unknown address; the sequence only lets
        // this gateway wait for its own write.
        Ok(CommandOk {
            seq,
            outcome: accepted,
        })
    }

    async fn reset_password(&self, env: &CommandEnvelope, c: ResetPassword) -> Reply {
        let customer_id = customer_of_token(&c.token)?.to_string();
        let project = self.project(&env.tenant).await?;
        password::check_with(&c.new_password, &project.config.password_policy)?;
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let token_hash = secret_hash(&c.token);
        let now = self.now();
        // Check the token before paying for a hash.
        let (_, current, _) = self.load::<Customer>(&customer_subject, false).await?;
        if !matches!(current.reset, Some((h, exp)) if h == token_hash && now < exp) {
            let (_, fresh, _) = self.load::<Customer>(&customer_subject, true).await?;
            if !matches!(fresh.reset, Some((h, exp)) if h == token_hash && now < exp) {
                return Err(DomainError::InvalidToken.into());
            }
        }
        let new_password_hash = self.hasher.hash(c.new_password).await.map_err(internal)?;
        let d = self
            .execute(env, &customer_subject, |s: &Customer| {
                customer::decide(
                    s,
                    CustomerCommand::ResetPassword {
                        token_hash,
                        new_password_hash: new_password_hash.clone(),
                        now,
                    },
                )
            })
            .await?;
        self.send_mail(
            env,
            &d.state.email,
            &project.config,
            MailKind::PasswordChanged,
        )
        .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Done,
        })
    }

    async fn update_password(&self, env: &CommandEnvelope, c: UpdatePassword) -> Reply {
        let customer_id = customer_actor(env)?.to_string();
        let project = self.project(&env.tenant).await?;
        if c.current_password.len() > password::MAX_PASSWORD_BYTES {
            return Err(DomainError::WrongCurrentPassword.into());
        }
        password::check_with(&c.new_password, &project.config.password_policy)?;
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let Some(customer) = self.registered_customer(&customer_subject).await? else {
            return Err(DomainError::CustomerNotFound.into());
        };
        let new_password_hash = self.hasher.hash(c.new_password).await.map_err(internal)?;
        let keep = c.end_other_sessions.then(|| c.session_id.clone());
        let d = self
            .execute_with_password(
                env,
                &customer_subject,
                &c.current_password,
                customer.password_hash.clone(),
                |s, matches| {
                    customer::decide(
                        s,
                        CustomerCommand::UpdatePassword {
                            current_matches: matches,
                            new_password_hash: new_password_hash.clone(),
                            keep_session: keep.clone(),
                        },
                    )
                },
            )
            .await?;
        self.send_mail(
            env,
            &d.state.email,
            &project.config,
            MailKind::PasswordChanged,
        )
        .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::Done,
        })
    }

    async fn verify_email(&self, env: &CommandEnvelope, c: TokenOnly) -> Reply {
        let customer_id = customer_of_token(&c.token)?.to_string();
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let token_hash = secret_hash(&c.token);
        let now = self.now();
        let d = self
            .execute(env, &customer_subject, |s: &Customer| {
                customer::decide(s, CustomerCommand::VerifyEmail { token_hash, now })
            })
            .await?;
        Ok(CommandOk {
            seq: d.seq,
            outcome: Outcome::EmailVerified {
                customer: self.customer_view(&customer_id, &d.state),
            },
        })
    }

    async fn resend_verification(&self, env: &CommandEnvelope) -> Reply {
        let customer_id = customer_actor(env)?.to_string();
        let project = self.project(&env.tenant).await?;
        let customer_subject = subject(&env.tenant, AggregateKind::Customer, &customer_id)?;
        let (seq, expires_at) = self
            .mail_link(
                env,
                &customer_subject,
                &customer_id,
                &project.config,
                VERIFY_TTL_MS,
                "verify",
                |token_hash, expires_at| CustomerCommand::RequestVerification {
                    token_hash,
                    expires_at,
                },
                |link| MailKind::VerifyEmail { link },
            )
            .await?;
        Ok(CommandOk {
            seq,
            outcome: Outcome::Accepted {
                expires_at: Some(expires_at),
            },
        })
    }

    /// Records a new link token for the customer (`command` gets its hash
    /// and expiry) and mails the link `<base>/<path>?token=…`. Returns the
    /// sequence appended and the expiry.
    #[allow(clippy::too_many_arguments)]
    async fn mail_link(
        &self,
        env: &CommandEnvelope,
        customer_subject: &AggregateSubject,
        customer_id: &str,
        config: &ProjectConfig,
        ttl_ms: i64,
        path: &str,
        command: impl Fn(SecretHash, i64) -> CustomerCommand,
        mail: impl FnOnce(String) -> MailKind,
    ) -> Result<(u64, i64), CommandError> {
        let (token, token_hash) = link_token(customer_id);
        let expires_at = self.now() + ttl_ms;
        let d = self
            .execute(env, customer_subject, |s: &Customer| {
                customer::decide(s, command(token_hash, expires_at))
            })
            .await?;
        let link = Self::link(config, path, &token);
        self.send_mail(env, &d.state.email, config, mail(link))
            .await?;
        Ok((d.seq, expires_at))
    }
}

/// Keyed hash of a one-time code, bound to the request that issued it.
fn otp_hash(index_key: &[u8], tenant: &str, otp_id: &str, code: &str) -> SecretHash {
    let mut mac = Hmac::<Sha256>::new_from_slice(index_key).expect("HMAC takes any key length");
    for part in ["otp", tenant, otp_id, code] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

fn api_key(key: &str, kind: ApiKeyKind) -> ApiKeyIssued {
    ApiKeyIssued {
        key_id: authd_events::new_id("k"),
        kind,
        live: key[3..].starts_with("live_"),
        key_hash: secret_hash(key),
        prefix: key.chars().take(12).collect(),
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
