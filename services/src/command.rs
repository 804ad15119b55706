//! Commands and replies as they travel over NATS request/reply (postcard).

use authd_events::{Actor, ApiKeyKind, ProjectConfig, RequestMeta};
use serde::{Deserialize, Serialize};

use crate::error::CommandError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandEnvelope {
    /// Unique per request; becomes the `Nats-Msg-Id` of what it appends.
    pub command_id: String,
    /// The project the command acts in.
    pub tenant: String,
    pub actor: Actor,
    pub request: RequestMeta,
    pub command: Command,
}

#[derive(Clone, Serialize, Deserialize)]
pub enum Command {
    CreateProject(CreateProject),     // 0
    RegisterCustomer(Credentials),    // 1
    LoginCustomer(Credentials),       // 2
    RefreshSession(RefreshSession),   // 3
    RevokeSession(RevokeSession),     // 4
    RequestOtp(EmailOnly),            // 5
    LoginOtp(OtpLogin),               // 6
    RequestPasswordReset(EmailOnly),  // 7
    ResetPassword(ResetPassword),     // 8
    UpdatePassword(UpdatePassword),   // 9
    VerifyEmail(TokenOnly),           // 10
    ResendVerification,               // 11
    ConfigureProject(ProjectConfig),  // 12
    IssueApiKey(IssueApiKey),         // 13
    RevokeApiKey(RevokeApiKey),       // 14
    SuspendCustomer(SuspendCustomer), // 15
    ReactivateCustomer(CustomerRef),  // 16
    UnlockCustomer(CustomerRef),      // 17
}

impl Command {
    /// The `<name>` of `authd.cmd.<name>`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateProject(_) => "project.create",
            Self::RegisterCustomer(_) => "customer.register",
            Self::LoginCustomer(_) => "customer.login",
            Self::RefreshSession(_) => "session.refresh",
            Self::RevokeSession(_) => "session.revoke",
            Self::RequestOtp(_) => "otp.request",
            Self::LoginOtp(_) => "otp.login",
            Self::RequestPasswordReset(_) => "customer.password_reset.request",
            Self::ResetPassword(_) => "customer.password_reset.complete",
            Self::UpdatePassword(_) => "customer.password.update",
            Self::VerifyEmail(_) => "customer.email.verify",
            Self::ResendVerification => "customer.email_verification.resend",
            Self::ConfigureProject(_) => "project.configure",
            Self::IssueApiKey(_) => "project.api_key.issue",
            Self::RevokeApiKey(_) => "project.api_key.revoke",
            Self::SuspendCustomer(_) => "customer.suspend",
            Self::ReactivateCustomer(_) => "customer.reactivate",
            Self::UnlockCustomer(_) => "customer.unlock",
        }
    }
}

impl std::fmt::Debug for Command {
    // Commands carry passwords and tokens: only their name is ever printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({})", self.name())
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct CreateProject {
    pub name: String,
    /// Keys chosen by the caller (dev mode keeps its keys across restarts);
    /// generated when absent.
    pub public_key: Option<String>,
    pub secret_key: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RefreshSession {
    pub refresh_token: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RevokeSession {
    pub session_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct EmailOnly {
    pub email: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct OtpLogin {
    pub email: String,
    pub otp: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct TokenOnly {
    pub token: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ResetPassword {
    pub token: String,
    pub new_password: String,
}

/// Acts for the customer of the actor, in the session `session_id`.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpdatePassword {
    pub session_id: String,
    pub current_password: String,
    pub new_password: String,
    pub end_other_sessions: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct IssueApiKey {
    pub kind: ApiKeyKind,
    pub live: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RevokeApiKey {
    pub key_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SuspendCustomer {
    pub customer_id: String,
    pub reason: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct CustomerRef {
    pub customer_id: String,
}

pub type Reply = Result<CommandOk, CommandError>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandOk {
    /// Highest stream sequence the command appended (or read, if it appended
    /// nothing): wait for a read model to reach it to read your own write.
    pub seq: u64,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Outcome {
    ProjectCreated(ProjectKeys),
    Registered {
        customer: CustomerView,
        tokens: Option<Tokens>,
        email_verification_required: bool,
    },
    LoggedIn {
        customer: CustomerView,
        tokens: Tokens,
        new_customer: bool,
    },
    Refreshed {
        tokens: Tokens,
    },
    Revoked,
    /// The request was taken; what happens next is told by mail (or not at
    /// all, for an address without an account).
    Accepted {
        expires_at: Option<i64>,
    },
    /// A state change with nothing more to tell.
    Done,
    EmailVerified {
        customer: CustomerView,
    },
    ApiKeyIssued(IssuedKey),
}

#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedKey {
    pub key_id: String,
    /// Shown once; only its hash is stored.
    pub key: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedKey({})", self.key_id)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ProjectKeys {
    pub project_id: String,
    pub public_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for ProjectKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProjectKeys({})", self.project_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerView {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last change to the account.
    pub updated_at: i64,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    /// Unix seconds.
    pub access_token_expires_at: i64,
    pub refresh_token: String,
    /// Unix milliseconds.
    pub refresh_token_expires_at: i64,
    pub session_id: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens(session {})", self.session_id)
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("encoding to a Vec cannot fail")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}
