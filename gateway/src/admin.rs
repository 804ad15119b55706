//! The admin API (`/graphql/admin`, `Authorization: Bearer sk_…`): the
//! project's configuration and keys, and customer support operations.

use async_graphql::{
    ComplexObject, Context, EmptySubscription, Enum, ID, InputObject, Object, Result, SimpleObject,
};
use authd_events::{Actor, ApiKeyKind, ProjectConfig};
use authd_services::{
    CommandError,
    command::{
        Command, CreateProject, CustomerRef, IssueApiKey, Outcome, RevokeApiKey, SuspendCustomer,
    },
};

use crate::{
    auth::RequestContext,
    schema::{AuthConfig, DateTime, MutationResponse, UserError, UserStatus, send_as},
    state::AppState,
};

pub type AdminSchema = async_graphql::Schema<AdminQuery, AdminMutation, EmptySubscription>;

pub fn build(limits: &crate::Limits) -> AdminSchema {
    async_graphql::Schema::build(AdminQuery, AdminMutation, EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .finish()
}

pub struct AdminContext {
    pub inner: RequestContext,
    /// First characters of the key, recorded as the actor.
    pub key_prefix: String,
}

#[derive(SimpleObject)]
pub struct ProjectSettings {
    pub public_registration_enabled: bool,
    pub email_verification_required: bool,
    pub password_login_enabled: bool,
    pub otp_login_enabled: bool,
    pub lockout_threshold: i32,
    pub mail_sender: String,
    pub link_base_url: String,
}

#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub kind: KeyKind,
    pub live: bool,
    /// The first characters of the key.
    pub prefix: String,
    pub revoked: bool,
    pub created_at: DateTime,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum KeyKind {
    Public,
    Secret,
}

#[derive(SimpleObject)]
pub struct Project {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime,
    pub auth_config: AuthConfig,
    pub settings: ProjectSettings,
    pub api_keys: Vec<ApiKey>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AdminCustomer {
    pub id: ID,
    pub email: String,
    pub email_verified: bool,
    pub status: UserStatus,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime>,
    pub last_login_at: Option<DateTime>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

/// Most events one page of a customer's history returns.
const MAX_EVENTS_PAGE: i32 = 200;

#[ComplexObject]
impl AdminCustomer {
    /// The customer's history from the audit index, newest first: their own
    /// events and their sessions', each with the request it came from.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        #[graphql(desc = "`nextCursor` of the previous page")] before: Option<String>,
    ) -> Result<AuditEventPage> {
        let (state, admin) = ctx_of(ctx);
        if !state.audit_index {
            return Err(crate::schema::gql_error(
                "AUDIT_INDEX_DISABLED",
                "this gateway keeps no audit index: start it with --audit-index true \
                 (the event log has every event: `authd events customer …`)",
            ));
        }
        if !(1..=MAX_EVENTS_PAGE).contains(&first) {
            return Err(crate::schema::gql_error(
                "BAD_REQUEST",
                &format!("`first` must be between 1 and {MAX_EVENTS_PAGE}"),
            ));
        }
        let before = match before {
            None => None,
            Some(c) => Some(parse_cursor(&c).ok_or_else(|| {
                crate::schema::gql_error("BAD_REQUEST", "`before` is not a cursor from this API")
            })?),
        };
        let mut rows = state
            .read
            .customer_events(&admin.inner.project_id, &self.id, before, first as u32 + 1)
            .map_err(crate::internal)?;
        let more = rows.len() > first as usize;
        rows.truncate(first as usize);
        let next_cursor = rows
            .last()
            .filter(|_| more)
            .map(|r| format!("{}.{}", r.seq, r.idx));
        Ok(AuditEventPage {
            events: rows
                .into_iter()
                .map(|r| AuditEvent {
                    id: ID(r.event_id),
                    event_type: r.event_type,
                    at: DateTime(r.at),
                    actor: r.actor,
                    session_id: r.session_id.map(ID),
                    request_id: r.request_id,
                    ip: r.ip,
                    user_agent: r.user_agent,
                    sequence: r.seq.to_string(),
                })
                .collect(),
            next_cursor,
        })
    }
}

/// `<seq>.<idx>`, as `nextCursor` gives it.
fn parse_cursor(c: &str) -> Option<(u64, u32)> {
    let (seq, idx) = c.split_once('.')?;
    Some((seq.parse().ok()?, idx.parse().ok()?))
}

#[derive(SimpleObject)]
pub struct AuditEventPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct AuditEvent {
    /// The event's own id (a ULID).
    pub id: ID,
    /// Dotted type, as in the log's headers: `customer.login.failed`, `session.started`, …
    #[graphql(name = "type")]
    pub event_type: String,
    pub at: DateTime,
    /// `anonymous`, `system`, `customer:<id>` or `admin:<key prefix>`.
    pub actor: String,
    pub session_id: Option<ID>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The stream sequence of the message (a string: it outgrows 32 bits).
    pub sequence: String,
}

/// Every field optional: what is left out keeps its current value.
#[derive(InputObject, Default)]
pub struct ProjectConfigInput {
    pub public_registration_enabled: Option<bool>,
    pub email_verification_required: Option<bool>,
    pub password_login_enabled: Option<bool>,
    pub otp_login_enabled: Option<bool>,
    pub lockout_threshold: Option<i32>,
    pub mail_sender: Option<String>,
    pub link_base_url: Option<String>,
    pub password_policy: Option<PasswordPolicyInput>,
}

#[derive(InputObject)]
pub struct PasswordPolicyInput {
    pub min_length: Option<i32>,
    pub require_uppercase: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_numbers: Option<bool>,
    pub require_special_chars: Option<bool>,
}

#[derive(SimpleObject, Default)]
pub struct ApiKeyIssueResponse {
    pub success: bool,
    /// Shown once: only its hash is kept.
    pub key: Option<String>,
    pub key_id: Option<ID>,
    pub errors: Vec<UserError>,
}

fn ctx_of<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a AdminContext) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<AdminContext>(),
    )
}

async fn admin_send(ctx: &Context<'_>, command: Command) -> Result<Result<Outcome, CommandError>> {
    let (state, admin) = ctx_of(ctx);
    Ok(send_as(
        state,
        &admin.inner,
        Actor::Admin(admin.key_prefix.clone()),
        command,
    )
    .await?
    .map(|(_, o)| o))
}

async fn admin_simple(ctx: &Context<'_>, command: Command, done: &str) -> Result<MutationResponse> {
    Ok(match admin_send(ctx, command).await? {
        Ok(_) => MutationResponse {
            success: true,
            message: Some(done.into()),
            errors: vec![],
        },
        Err(mut e) => {
            // These mutations name the customer by `id`.
            if e.code == "CUSTOMER_NOT_FOUND" && e.field.is_none() {
                e.field = Some("id".into());
            }
            MutationResponse {
                success: false,
                message: Some(e.message.clone()),
                errors: vec![e.into()],
            }
        }
    })
}

fn customer(r: authd_projections::read::CustomerRow) -> AdminCustomer {
    let now = authd_events::now_millis();
    AdminCustomer {
        id: ID(r.id),
        email: r.email,
        email_verified: r.email_verified,
        status: UserStatus::from_read_model(&r.status),
        failed_logins: r.failed_logins as i32,
        locked_until: (r.locked_until > now).then_some(DateTime(r.locked_until)),
        last_login_at: r.last_login_at.map(DateTime),
        created_at: DateTime(r.created_at),
        updated_at: DateTime(r.updated_at),
    }
}

pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The project of the secret key.
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        let (state, admin) = ctx_of(ctx);
        let id = &admin.inner.project_id;
        let Some(p) = state.read.project(id).map_err(crate::internal)? else {
            return Ok(None);
        };
        let keys = state.read.api_keys(id).map_err(crate::internal)?;
        let c = &p.config;
        Ok(Some(Project {
            id: ID(p.id),
            name: p.name,
            created_at: DateTime(p.created_at),
            auth_config: AuthConfig::from(c),
            settings: ProjectSettings {
                public_registration_enabled: c.public_registration,
                email_verification_required: c.email_verification_required,
                password_login_enabled: c.password_login,
                otp_login_enabled: c.otp_login,
                lockout_threshold: c.lockout_threshold as i32,
                mail_sender: c.mail_sender.clone(),
                link_base_url: c.link_base_url.clone(),
            },
            api_keys: keys
                .into_iter()
                .map(|k| ApiKey {
                    id: ID(k.key_id),
                    kind: if k.kind == "secret" {
                        KeyKind::Secret
                    } else {
                        KeyKind::Public
                    },
                    live: k.live,
                    prefix: k.prefix,
                    revoked: k.revoked,
                    created_at: DateTime(k.created_at),
                })
                .collect(),
        }))
    }

    /// A customer of the project, by id or by email.
    async fn customer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        email: Option<String>,
    ) -> Result<Option<AdminCustomer>> {
        let (state, admin) = ctx_of(ctx);
        let project = &admin.inner.project_id;
        let row = match (id, email) {
            (Some(id), None) => state.read.customer(project, &id),
            (None, Some(email)) => state.read.customer_by_email(project, &email),
            _ => {
                return Err(crate::schema::gql_error(
                    "BAD_REQUEST",
                    "give exactly one of `id` and `email`",
                ));
            }
        }
        .map_err(crate::internal)?;
        Ok(row.map(customer))
    }
}

#[derive(SimpleObject, Default)]
pub struct ProjectCreateResponse {
    pub success: bool,
    pub project_id: Option<ID>,
    /// Shown once.
    pub public_api_key: Option<String>,
    /// Shown once; the new project's own admin key.
    pub admin_key: Option<String>,
    pub errors: Vec<UserError>,
}

pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates another project, independent of this one: its customers and
    /// keys are its own, and this key gets no access to them.
    async fn project_create(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<ProjectCreateResponse> {
        let (state, admin) = ctx_of(ctx);
        let project = authd_events::new_id("p");
        let rc = RequestContext {
            project_id: project.clone(),
            auth: crate::auth::Bearer::None,
            request: admin.inner.request.clone(),
        };
        let command = Command::CreateProject(CreateProject {
            name,
            public_key: None,
            secret_key: None,
        });
        let actor = Actor::Admin(admin.key_prefix.clone());
        Ok(match send_as(state, &rc, actor, command).await? {
            Ok((_, Outcome::ProjectCreated(k))) => ProjectCreateResponse {
                success: true,
                project_id: Some(ID(k.project_id)),
                public_api_key: Some(k.public_key),
                admin_key: Some(k.secret_key),
                errors: vec![],
            },
            Ok(_) => return Err(crate::internal("unexpected outcome")),
            Err(e) => ProjectCreateResponse {
                errors: vec![e.into()],
                ..Default::default()
            },
        })
    }

    /// Changes the project's configuration; fields left out keep their value.
    async fn project_configure(
        &self,
        ctx: &Context<'_>,
        input: ProjectConfigInput,
    ) -> Result<MutationResponse> {
        let (state, admin) = ctx_of(ctx);
        let current = state
            .read
            .project(&admin.inner.project_id)
            .map_err(crate::internal)?
            .map(|p| p.config)
            .unwrap_or_default();
        let mut c: ProjectConfig = current;
        let i = input;
        if let Some(v) = i.public_registration_enabled {
            c.public_registration = v;
        }
        if let Some(v) = i.email_verification_required {
            c.email_verification_required = v;
        }
        if let Some(v) = i.password_login_enabled {
            c.password_login = v;
        }
        if let Some(v) = i.otp_login_enabled {
            c.otp_login = v;
        }
        if let Some(v) = i.lockout_threshold {
            c.lockout_threshold = v.max(0) as u32;
        }
        if let Some(v) = i.mail_sender {
            c.mail_sender = v;
        }
        if let Some(v) = i.link_base_url {
            c.link_base_url = v;
        }
        if let Some(p) = i.password_policy {
            let pp = &mut c.password_policy;
            if let Some(v) = p.min_length {
                pp.min_length = v.max(0) as u32;
            }
            if let Some(v) = p.require_uppercase {
                pp.require_uppercase = v;
            }
            if let Some(v) = p.require_lowercase {
                pp.require_lowercase = v;
            }
            if let Some(v) = p.require_numbers {
                pp.require_numbers = v;
            }
            if let Some(v) = p.require_special_chars {
                pp.require_special_chars = v;
            }
        }
        admin_simple(ctx, Command::ConfigureProject(c), "configuration saved").await
    }

    /// Issues a new API key; the response is the only place it is shown.
    async fn api_key_issue(
        &self,
        ctx: &Context<'_>,
        kind: KeyKind,
        #[graphql(default = false)] live: bool,
    ) -> Result<ApiKeyIssueResponse> {
        let kind = match kind {
            KeyKind::Public => ApiKeyKind::Public,
            KeyKind::Secret => ApiKeyKind::Secret,
        };
        Ok(
            match admin_send(ctx, Command::IssueApiKey(IssueApiKey { kind, live })).await? {
                Ok(Outcome::ApiKeyIssued(k)) => ApiKeyIssueResponse {
                    success: true,
                    key: Some(k.key),
                    key_id: Some(ID(k.key_id)),
                    errors: vec![],
                },
                Ok(_) => return Err(crate::internal("unexpected outcome")),
                Err(e) => ApiKeyIssueResponse {
                    errors: vec![e.into()],
                    ..Default::default()
                },
            },
        )
    }

    async fn api_key_revoke(&self, ctx: &Context<'_>, key_id: ID) -> Result<MutationResponse> {
        admin_simple(
            ctx,
            Command::RevokeApiKey(RevokeApiKey { key_id: key_id.0 }),
            "key revoked",
        )
        .await
    }

    /// Suspends a customer: no login by any method, every session ends.
    async fn customer_suspend(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<MutationResponse> {
        let command = Command::SuspendCustomer(SuspendCustomer {
            customer_id: id.0,
            reason,
        });
        admin_simple(ctx, command, "customer suspended").await
    }

    async fn customer_reactivate(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        admin_simple(
            ctx,
            Command::ReactivateCustomer(CustomerRef { customer_id: id.0 }),
            "customer reactivated",
        )
        .await
    }

    /// Lifts a lockout after failed logins.
    async fn customer_unlock(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        admin_simple(
            ctx,
            Command::UnlockCustomer(CustomerRef { customer_id: id.0 }),
            "customer unlocked",
        )
        .await
    }
}
