//! The Customer Auth API (`/graphql/public`): operation names, arguments and
//! response fields exactly as in `shared/api/customer-auth-api.md`, with
//! `message` and `errors { field message code }` added to payloads.

use async_graphql::{
    Context, EmptySubscription, Enum, ErrorExtensions, ID, Object, Result, Scalar, ScalarType,
    SimpleObject, Value,
};
use authd_events::Actor;
use authd_services::{
    CommandError,
    command::{
        Command, CommandEnvelope, Credentials, CustomerView, EmailOnly, OtpLogin, Outcome,
        RefreshSession, ResetPassword, RevokeSession, TokenOnly, Tokens, UpdatePassword,
    },
};

use crate::{auth::RequestContext, state::AppState};

pub type PublicSchema = async_graphql::Schema<Query, Mutation, EmptySubscription>;

pub fn build(limits: &crate::Limits) -> PublicSchema {
    async_graphql::Schema::build(Query, Mutation, EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_depth * 2)
        .limit_directives(16)
        .finish()
}

/// ISO-8601 date and time in UTC, e.g. `2026-11-22T01:45:56.123Z`.
pub struct DateTime(pub i64);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        let Value::String(s) = &value else {
            return Err(async_graphql::InputValueError::expected_type(value));
        };
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                async_graphql::InputValueError::custom("expected an RFC 3339 date-time")
            })?;
        Ok(DateTime((t.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    fn to_value(&self) -> Value {
        Value::String(format_millis(self.0))
    }
}

pub fn format_millis(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserStatus {
    /// Can sign in.
    Active,
    /// Registered, but the project requires a verified email and this one
    /// is not verified yet: cannot sign in until the link is used.
    Inactive,
    /// Suspended by an admin: cannot sign in by any method; sessions ended.
    Suspended,
}

impl UserStatus {
    pub(crate) fn from_read_model(status: &str) -> Self {
        match status {
            "SUSPENDED" => Self::Suspended,
            "INACTIVE" => Self::Inactive,
            _ => Self::Active,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserType {
    Customer,
    Admin,
}

#[derive(SimpleObject)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub email_verified: bool,
    pub status: Option<UserStatus>,
    pub user_type: UserType,
    pub tenant_id: Option<ID>,
    pub project_id: Option<ID>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

impl User {
    /// A customer as a command's reply shows them; `inactive` when they
    /// registered unverified in a project that requires verification.
    fn from_view(v: CustomerView, project: &str, inactive: bool) -> Self {
        Self {
            id: ID(v.id),
            email: v.email,
            email_verified: v.email_verified,
            status: Some(if inactive {
                UserStatus::Inactive
            } else {
                UserStatus::Active
            }),
            user_type: UserType::Customer,
            tenant_id: Some(ID(project.to_string())),
            project_id: Some(ID(project.to_string())),
            created_at: DateTime(v.created_at),
            updated_at: DateTime(v.updated_at),
        }
    }

    fn from_row(r: authd_projections::read::CustomerRow) -> Self {
        let status = UserStatus::from_read_model(&r.status);
        Self {
            id: ID(r.id),
            email: r.email,
            email_verified: r.email_verified,
            status: Some(status),
            user_type: UserType::Customer,
            tenant_id: Some(ID(r.project_id.clone())),
            project_id: Some(ID(r.project_id)),
            created_at: DateTime(r.created_at),
            updated_at: DateTime(r.updated_at),
        }
    }
}

/// A reason an operation did not succeed, naming the input at fault.
#[derive(SimpleObject, Clone)]
pub struct UserError {
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: String,
    /// For RATE_LIMITED and ACCOUNT_LOCKED: seconds until a retry can succeed.
    pub retry_after_seconds: Option<i64>,
}

impl From<CommandError> for UserError {
    fn from(e: CommandError) -> Self {
        Self {
            field: e.field.map(|f| vec![f]),
            message: e.message,
            code: e.code,
            retry_after_seconds: e.retry_after_ms.map(|ms| (ms + 999) / 1000),
        }
    }
}

#[derive(SimpleObject, Default)]
pub struct LoginResponse {
    pub success: bool,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub user: Option<User>,
    /// When the access token expires.
    pub access_token_expires_at: Option<DateTime>,
    /// For one-time-code logins: whether the code signed a new customer up.
    pub is_new_customer: Option<bool>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct RegisterResponse {
    pub success: bool,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub user: Option<User>,
    pub email_verification_required: bool,
    pub access_token_expires_at: Option<DateTime>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct MutationResponse {
    pub success: bool,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct OtpRequestResponse {
    pub success: bool,
    pub expires_at: Option<DateTime>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct VerifyEmailResponse {
    pub success: bool,
    pub user: Option<User>,
    pub message: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuthMethod {
    Password,
    Otp,
}

#[derive(SimpleObject)]
pub struct PasswordPolicy {
    pub min_length: i32,
    /// Longest accepted password, in bytes.
    pub max_length: i32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_special_chars: bool,
}

#[derive(SimpleObject)]
pub struct AuthConfig {
    pub auth_methods: Vec<AuthMethod>,
    pub public_registration_enabled: bool,
    pub email_verification_required: bool,
    pub password_policy: PasswordPolicy,
}

impl From<&authd_events::ProjectConfig> for AuthConfig {
    fn from(c: &authd_events::ProjectConfig) -> Self {
        let mut auth_methods = Vec::new();
        if c.password_login {
            auth_methods.push(AuthMethod::Password);
        }
        if c.otp_login {
            auth_methods.push(AuthMethod::Otp);
        }
        let p = &c.password_policy;
        Self {
            auth_methods,
            public_registration_enabled: c.public_registration,
            email_verification_required: c.email_verification_required,
            password_policy: PasswordPolicy {
                min_length: p.min_length as i32,
                max_length: authd_services::password::MAX_PASSWORD_BYTES as i32,
                require_uppercase: p.require_uppercase,
                require_lowercase: p.require_lowercase,
                require_numbers: p.require_numbers,
                require_special_chars: p.require_special_chars,
            },
        }
    }
}

fn failure(e: CommandError) -> (Option<String>, Vec<UserError>) {
    (Some(e.message.clone()), vec![e.into()])
}

/// A GraphQL error with `extensions.code`, for what is not the caller's
/// input at fault.
pub fn gql_error(code: &'static str, message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

fn tokens_fields(t: Tokens) -> (Option<String>, Option<String>, Option<DateTime>) {
    (
        Some(t.access_token),
        Some(t.refresh_token),
        Some(DateTime(t.access_token_expires_at * 1000)),
    )
}

fn unauthenticated() -> CommandError {
    CommandError::new("UNAUTHENTICATED", "a valid access token is required")
}

/// Applies the rate limits; `Err` is a RATE_LIMITED rejection for the payload.
fn rate_limit(ctx: &Context<'_>, email: Option<&str>) -> Result<(), CommandError> {
    let state = ctx.data_unchecked::<AppState>();
    let rc = ctx.data_unchecked::<RequestContext>();
    let ip = rc.request.ip.as_deref().and_then(|ip| ip.parse().ok());
    state
        .rate_limits
        .check(ip, email.map(|e| (rc.project_id.as_str(), e)))
        .map_err(|wait| {
            let mut e = CommandError::new("RATE_LIMITED", "too many requests; try again later");
            e.retry_after_ms = Some(wait.as_millis() as i64);
            e
        })
}

/// Sends a command; `Ok(Err(_))` is a rejection for the payload, `Err(_)` an
/// outage for the `errors` list.
async fn send(ctx: &Context<'_>, command: Command) -> Result<Result<(u64, Outcome), CommandError>> {
    let state = ctx.data_unchecked::<AppState>();
    let rc = ctx.data_unchecked::<RequestContext>();
    let actor = match rc.auth.claims() {
        Some(c) => Actor::Customer(c.sub.clone()),
        None => Actor::Anonymous,
    };
    send_as(state, rc, actor, command).await
}

pub async fn send_as(
    state: &AppState,
    rc: &RequestContext,
    actor: Actor,
    command: Command,
) -> Result<Result<(u64, Outcome), CommandError>> {
    let env = CommandEnvelope {
        command_id: authd_events::new_id("cmd"),
        tenant: rc.project_id.clone(),
        actor,
        request: rc.request.clone(),
        command,
    };
    let name = env.command.name();
    let started = std::time::Instant::now();
    let result = state.bus.send(&env).await;
    let outcome = match &result {
        Ok(Ok(_)) => "ok",
        Ok(Err(e)) => e.code.as_str(),
        Err(_) => "UNDELIVERED",
    };
    crate::metrics::command(name, outcome, started.elapsed().as_secs_f64());
    match result {
        Ok(Ok(ok)) => {
            state.wait_applied(ok.seq).await;
            Ok(Ok((ok.seq, ok.outcome)))
        }
        Ok(Err(e)) if e.code == "SERVICE_UNAVAILABLE" => Err(gql_error(
            "SERVICE_UNAVAILABLE",
            "the service is temporarily unavailable, try again",
        )),
        Ok(Err(e)) if e.code == "INTERNAL" => Err(gql_error("INTERNAL", "internal error")),
        Ok(Err(e)) => Ok(Err(e)),
        Err(e) => {
            tracing::warn!(error = %e, command = name, "command not delivered");
            Err(gql_error(
                "SERVICE_UNAVAILABLE",
                "the service is temporarily unavailable, try again",
            ))
        }
    }
}

/// Turns a simple command's outcome into `{ success message errors }`.
async fn simple(ctx: &Context<'_>, command: Command, done: &str) -> Result<MutationResponse> {
    Ok(match send(ctx, command).await? {
        Ok(_) => MutationResponse {
            success: true,
            message: Some(done.into()),
            errors: vec![],
        },
        Err(e) => {
            let (message, errors) = failure(e);
            MutationResponse {
                message,
                errors,
                ..Default::default()
            }
        }
    })
}

fn login_response(
    project: &str,
    outcome: Result<(u64, Outcome), CommandError>,
) -> Result<LoginResponse> {
    Ok(match outcome {
        Ok((
            _,
            Outcome::LoggedIn {
                customer,
                tokens,
                new_customer,
            },
        )) => {
            let (access_token, refresh_token, access_token_expires_at) = tokens_fields(tokens);
            LoginResponse {
                success: true,
                access_token,
                refresh_token,
                access_token_expires_at,
                user: Some(User::from_view(customer, project, false)),
                is_new_customer: Some(new_customer),
                ..Default::default()
            }
        }
        Ok(_) => return Err(crate::internal("unexpected outcome")),
        Err(e) => {
            let (message, errors) = failure(e);
            LoginResponse {
                message,
                errors,
                ..Default::default()
            }
        }
    })
}

pub struct Query;

#[Object]
impl Query {
    /// The customer the bearer access token belongs to; null without one.
    async fn current_user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let state = ctx.data_unchecked::<AppState>();
        let rc = ctx.data_unchecked::<RequestContext>();
        let Some(session) = rc.auth.require(state).await? else {
            return Ok(None);
        };
        let row = state
            .read
            .customer(&rc.project_id, &session.customer_id)
            .map_err(crate::internal)?
            .ok_or_else(|| {
                gql_error(
                    "UNAUTHENTICATED",
                    "the access token's customer does not exist",
                )
            })?;
        Ok(Some(User::from_row(row)))
    }

    /// How customers of this project may sign in and sign up.
    async fn auth_config(&self, ctx: &Context<'_>) -> Result<AuthConfig> {
        let state = ctx.data_unchecked::<AppState>();
        let rc = ctx.data_unchecked::<RequestContext>();
        let project = state
            .read
            .project(&rc.project_id)
            .map_err(crate::internal)?;
        let config = project.map(|p| p.config).unwrap_or_default();
        Ok(AuthConfig::from(&config))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Registers a customer with email and password, and signs them in
    /// (unless the project requires the email to be verified first).
    async fn customer_register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<RegisterResponse> {
        if let Err(e) = rate_limit(ctx, Some(&email)) {
            let (message, errors) = failure(e);
            return Ok(RegisterResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        let project = ctx.data_unchecked::<RequestContext>().project_id.clone();
        Ok(
            match send(
                ctx,
                Command::RegisterCustomer(Credentials { email, password }),
            )
            .await?
            {
                Ok((
                    _,
                    Outcome::Registered {
                        customer,
                        tokens,
                        email_verification_required,
                    },
                )) => {
                    let (access_token, refresh_token, access_token_expires_at) =
                        tokens.map(tokens_fields).unwrap_or((None, None, None));
                    RegisterResponse {
                        success: true,
                        access_token,
                        refresh_token,
                        access_token_expires_at,
                        user: Some(User::from_view(
                            customer,
                            &project,
                            email_verification_required,
                        )),
                        email_verification_required,
                        message: email_verification_required
                            .then(|| "check your inbox to verify your email address".to_string()),
                        ..Default::default()
                    }
                }
                Ok(_) => return Err(crate::internal("unexpected outcome")),
                Err(e) => {
                    let (message, errors) = failure(e);
                    RegisterResponse {
                        message,
                        errors,
                        ..Default::default()
                    }
                }
            },
        )
    }

    /// Signs a customer in with email and password.
    async fn customer_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<LoginResponse> {
        if let Err(e) = rate_limit(ctx, Some(&email)) {
            let (message, errors) = failure(e);
            return Ok(LoginResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        let project = ctx.data_unchecked::<RequestContext>().project_id.clone();
        let outcome = send(ctx, Command::LoginCustomer(Credentials { email, password })).await?;
        let mut response = login_response(&project, outcome)?;
        response.is_new_customer = None;
        Ok(response)
    }

    /// Exchanges a refresh token for new tokens; the old one stops working,
    /// and presenting it again ends the session.
    async fn customer_refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<LoginResponse> {
        Ok(
            match send(
                ctx,
                Command::RefreshSession(RefreshSession { refresh_token }),
            )
            .await?
            {
                Ok((_, Outcome::Refreshed { tokens })) => {
                    let (access_token, refresh_token, access_token_expires_at) =
                        tokens_fields(tokens);
                    LoginResponse {
                        success: true,
                        access_token,
                        refresh_token,
                        access_token_expires_at,
                        ..Default::default()
                    }
                }
                Ok(_) => return Err(crate::internal("unexpected outcome")),
                Err(e) => {
                    let (message, errors) = failure(e);
                    LoginResponse {
                        message,
                        errors,
                        ..Default::default()
                    }
                }
            },
        )
    }

    /// Ends the session of the bearer access token.
    async fn customer_logout(&self, ctx: &Context<'_>) -> Result<MutationResponse> {
        let state = ctx.data_unchecked::<AppState>();
        let rc = ctx.data_unchecked::<RequestContext>();
        let Ok(Some(session)) = rc.auth.require(state).await else {
            let (message, errors) = failure(unauthenticated());
            return Ok(MutationResponse {
                success: false,
                message,
                errors,
            });
        };
        simple(
            ctx,
            Command::RevokeSession(RevokeSession {
                session_id: session.id,
            }),
            "logged out",
        )
        .await
    }

    /// Mails a six-digit sign-in code. The answer is the same whether or not
    /// the address has an account: a code is mailed to a customer, or to a
    /// new address when the project allows public registration (using it
    /// signs that address up); otherwise nothing is mailed.
    #[graphql(name = "customerRequestOTP")]
    async fn customer_request_otp(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> Result<OtpRequestResponse> {
        if let Err(e) = rate_limit(ctx, Some(&email)) {
            let (message, errors) = failure(e);
            return Ok(OtpRequestResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        Ok(
            match send(ctx, Command::RequestOtp(EmailOnly { email })).await? {
                Ok((_, Outcome::Accepted { expires_at })) => OtpRequestResponse {
                    success: true,
                    expires_at: expires_at.map(DateTime),
                    message: Some("if this address can sign in, a code is on its way".into()),
                    errors: vec![],
                },
                Ok(_) => return Err(crate::internal("unexpected outcome")),
                Err(e) => {
                    let (message, errors) = failure(e);
                    OtpRequestResponse {
                        message,
                        errors,
                        ..Default::default()
                    }
                }
            },
        )
    }

    /// Signs in with a code from `customerRequestOTP`.
    #[graphql(name = "customerLoginOTP")]
    async fn customer_login_otp(
        &self,
        ctx: &Context<'_>,
        email: String,
        otp: String,
    ) -> Result<LoginResponse> {
        if let Err(e) = rate_limit(ctx, Some(&email)) {
            let (message, errors) = failure(e);
            return Ok(LoginResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        let project = ctx.data_unchecked::<RequestContext>().project_id.clone();
        let outcome = send(ctx, Command::LoginOtp(OtpLogin { email, otp })).await?;
        login_response(&project, outcome)
    }

    /// Mails a password-reset link. The answer is the same whether or not
    /// the address has an account.
    async fn customer_request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> Result<MutationResponse> {
        if let Err(e) = rate_limit(ctx, Some(&email)) {
            let (message, errors) = failure(e);
            return Ok(MutationResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        simple(
            ctx,
            Command::RequestPasswordReset(EmailOnly { email }),
            "if this address has an account, a reset link is on its way",
        )
        .await
    }

    /// Sets a new password with the token of a reset link; ends every session.
    async fn customer_reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<MutationResponse> {
        if let Err(e) = rate_limit(ctx, None) {
            let (message, errors) = failure(e);
            return Ok(MutationResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        let command = Command::ResetPassword(ResetPassword {
            token,
            new_password,
        });
        let mut response = simple(ctx, command, "password changed").await?;
        rename_field(&mut response.errors, "password", "newPassword");
        Ok(response)
    }

    /// Changes the signed-in customer's password; other sessions end unless
    /// `endOtherSessions` is false.
    async fn customer_update_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
        #[graphql(default = true)] end_other_sessions: bool,
    ) -> Result<MutationResponse> {
        let state = ctx.data_unchecked::<AppState>();
        let rc = ctx.data_unchecked::<RequestContext>();
        let Ok(Some(session)) = rc.auth.require(state).await else {
            let (message, errors) = failure(unauthenticated());
            return Ok(MutationResponse {
                success: false,
                message,
                errors,
            });
        };
        let command = Command::UpdatePassword(UpdatePassword {
            session_id: session.id,
            current_password,
            new_password,
            end_other_sessions,
        });
        let mut response = simple(ctx, command, "password changed").await?;
        rename_field(&mut response.errors, "password", "newPassword");
        Ok(response)
    }

    /// Verifies the customer's email with the token of a verification link.
    async fn customer_verify_email(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<VerifyEmailResponse> {
        if let Err(e) = rate_limit(ctx, None) {
            let (message, errors) = failure(e);
            return Ok(VerifyEmailResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        let project = ctx.data_unchecked::<RequestContext>().project_id.clone();
        Ok(
            match send(ctx, Command::VerifyEmail(TokenOnly { token })).await? {
                Ok((_, Outcome::EmailVerified { customer })) => VerifyEmailResponse {
                    success: true,
                    user: Some(User::from_view(customer, &project, false)),
                    message: Some("email verified".into()),
                    errors: vec![],
                },
                Ok(_) => return Err(crate::internal("unexpected outcome")),
                Err(e) => {
                    let (message, errors) = failure(e);
                    VerifyEmailResponse {
                        message,
                        errors,
                        ..Default::default()
                    }
                }
            },
        )
    }

    /// Mails the signed-in customer a new verification link.
    async fn customer_resend_verification_email(
        &self,
        ctx: &Context<'_>,
    ) -> Result<MutationResponse> {
        let state = ctx.data_unchecked::<AppState>();
        let rc = ctx.data_unchecked::<RequestContext>();
        if !matches!(rc.auth.require(state).await, Ok(Some(_))) {
            let (message, errors) = failure(unauthenticated());
            return Ok(MutationResponse {
                success: false,
                message,
                errors,
            });
        }
        let email = rc.auth.claims().map(|c| c.sub.clone());
        if let Err(e) = rate_limit(ctx, email.as_deref()) {
            let (message, errors) = failure(e);
            return Ok(MutationResponse {
                message,
                errors,
                ..Default::default()
            });
        }
        simple(
            ctx,
            Command::ResendVerification,
            "a verification link is on its way",
        )
        .await
    }
}

/// Names the argument of this operation rather than the command's field.
fn rename_field(errors: &mut [UserError], from: &str, to: &str) {
    for e in errors {
        if let Some(f) = e.field.as_mut().and_then(|f| f.first_mut())
            && f == from
        {
            *f = to.to_string();
        }
    }
}
