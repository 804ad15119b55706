//! Errors that answer a command: a stable code, the offending field, a
//! message fit for an end user.

use serde::{Deserialize, Serialize};

/// A rule said no. Each variant has a stable `code` clients may match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("email is not a valid address")]
    InvalidEmail,
    #[error("password must be at least {0} characters")]
    PasswordTooShort(usize),
    #[error("password must be at most {0} bytes")]
    PasswordTooLong(usize),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("refresh token is invalid or expired")]
    InvalidRefreshToken,
    #[error("refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    #[error("session has ended")]
    SessionRevoked,
    #[error("session not found")]
    SessionNotFound,
    #[error("project already exists")]
    ProjectExists,
    #[error("project not found")]
    ProjectNotFound,
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    #[error("password does not meet the policy: {0}")]
    WeakPassword(PolicyRule),
    #[error("the link or token is invalid or has expired")]
    InvalidToken,
    #[error("the code is invalid or has expired")]
    InvalidOtp,
    #[error("the email address is already verified")]
    AlreadyVerified,
    #[error("the current password is incorrect")]
    WrongCurrentPassword,
    #[error("too many failed attempts; try again later")]
    AccountLocked { until: i64 },
    #[error("this account is suspended")]
    AccountSuspended,
    #[error("the email address must be verified first")]
    EmailNotVerified,
    #[error("customer not found")]
    CustomerNotFound,
    #[error("registration is closed for this project")]
    RegistrationClosed,
    #[error("this sign-in method is disabled for this project")]
    MethodDisabled,
    #[error("too many requests; try again later")]
    RateLimited { retry_after_ms: i64 },
    #[error("the last secret key of a project cannot be revoked")]
    LastSecretKey,
}

/// A password-policy rule, named in the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRule {
    MinLength(u32),
    MaxLength(usize),
    Uppercase,
    Lowercase,
    Number,
    SpecialChar,
}

impl std::fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MinLength(n) => write!(f, "at least {n} characters"),
            Self::MaxLength(n) => write!(f, "at most {n} bytes"),
            Self::Uppercase => f.write_str("an uppercase letter"),
            Self::Lowercase => f.write_str("a lowercase letter"),
            Self::Number => f.write_str("a number"),
            Self::SpecialChar => f.write_str("a special character"),
        }
    }
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidEmail => "INVALID_EMAIL",
            Self::PasswordTooShort(_) => "PASSWORD_TOO_SHORT",
            Self::PasswordTooLong(_) => "PASSWORD_TOO_LONG",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::SessionRevoked => "SESSION_REVOKED",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::ProjectExists => "PROJECT_EXISTS",
            Self::ProjectNotFound => "PROJECT_NOT_FOUND",
            Self::InvalidInput(_) => "INVALID_INPUT",
            Self::WeakPassword(rule) => match rule {
                PolicyRule::MinLength(_) => "PASSWORD_TOO_SHORT",
                PolicyRule::MaxLength(_) => "PASSWORD_TOO_LONG",
                PolicyRule::Uppercase => "PASSWORD_REQUIRES_UPPERCASE",
                PolicyRule::Lowercase => "PASSWORD_REQUIRES_LOWERCASE",
                PolicyRule::Number => "PASSWORD_REQUIRES_NUMBER",
                PolicyRule::SpecialChar => "PASSWORD_REQUIRES_SPECIAL_CHAR",
            },
            Self::InvalidToken => "INVALID_TOKEN",
            Self::InvalidOtp => "INVALID_OTP",
            Self::AlreadyVerified => "ALREADY_VERIFIED",
            Self::WrongCurrentPassword => "INVALID_CURRENT_PASSWORD",
            Self::AccountLocked { .. } => "ACCOUNT_LOCKED",
            Self::AccountSuspended => "ACCOUNT_SUSPENDED",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::CustomerNotFound => "CUSTOMER_NOT_FOUND",
            Self::RegistrationClosed => "REGISTRATION_DISABLED",
            Self::MethodDisabled => "METHOD_DISABLED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::LastSecretKey => "LAST_SECRET_KEY",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidEmail | Self::EmailTaken => Some("email"),
            Self::PasswordTooShort(_) | Self::PasswordTooLong(_) | Self::WeakPassword(_) => {
                Some("password")
            }
            Self::InvalidToken => Some("token"),
            Self::InvalidOtp => Some("otp"),
            Self::WrongCurrentPassword => Some("currentPassword"),
            Self::InvalidRefreshToken | Self::RefreshTokenReused | Self::SessionRevoked => {
                Some("refreshToken")
            }
            Self::InvalidInput(field) => Some(field),
            _ => None,
        }
    }
}

/// What a command's requester hears when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    pub code: String,
    pub field: Option<String>,
    pub message: String,
    /// For RATE_LIMITED and ACCOUNT_LOCKED: milliseconds until a retry can succeed.
    pub retry_after_ms: Option<i64>,
}

impl CommandError {
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.into(),
            field: None,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// For failures that are not the requester's fault. The message never
    /// carries internals; those are logged where they happen.
    pub fn unavailable() -> Self {
        Self::new(
            "SERVICE_UNAVAILABLE",
            "the service is temporarily unavailable, try again",
        )
    }

    pub fn internal() -> Self {
        Self::new("INTERNAL", "internal error")
    }

    /// The command id was already used: its effects were stored once, and
    /// fresh tokens for it cannot be handed out again.
    pub fn duplicate() -> Self {
        Self::new(
            "DUPLICATE_REQUEST",
            "this request was already processed; send a new one",
        )
    }

    pub fn is_retryable(&self) -> bool {
        self.code == "SERVICE_UNAVAILABLE"
    }
}

impl From<DomainError> for CommandError {
    fn from(e: DomainError) -> Self {
        let retry_after_ms = match e {
            DomainError::RateLimited { retry_after_ms } => Some(retry_after_ms),
            DomainError::AccountLocked { until } => {
                Some((until - authd_events::now_millis()).max(0))
            }
            _ => None,
        };
        Self {
            code: e.code().into(),
            field: e.field().map(Into::into),
            message: e.to_string(),
            retry_after_ms,
        }
    }
}
