//! Errors that answer a command: a stable code, the offending field, a
//! message fit for an end user.

use serde::{Deserialize, Serialize};

pub use crate::error_details::{MetafieldProblem, PolicyRule, ProfileProblem};

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
    #[error("this customer was erased already")]
    AlreadyErased,
    #[error("sign in again (within the last 5 minutes) to do this")]
    RecentLoginRequired,
    #[error("registration is closed for this project")]
    RegistrationClosed,
    #[error("this sign-in method is disabled for this project")]
    MethodDisabled,
    #[error("too many requests; try again later")]
    RateLimited { retry_after_ms: i64 },
    #[error("the last secret key of a project cannot be revoked")]
    LastSecretKey,
    #[error("this password is too common; choose another")]
    PasswordTooCommon,
    #[error("this account is already active: sign in or reset the password")]
    AlreadyEnabled,
    #[error("this phone number belongs to another account")]
    PhoneTaken,
    #[error("the sign-in state is unknown, used or expired: start the sign-in again")]
    InvalidState,
    #[error("no such enabled sign-in provider in this project")]
    ProviderNotFound,
    #[error("the sign-in provider did not answer in time")]
    ProviderUnavailable,
    #[error("the sign-in provider refused or answered something invalid: {0}")]
    ProviderError(&'static str),
    #[error("returnTo is not one of the project's return URLs")]
    ReturnUrlNotAllowed,
    #[error("the address does not exist")]
    AddressNotFound,
    #[error("no order with this externalId")]
    OrderNotFound,
    #[error("a customer can have at most {0} addresses; delete one first")]
    TooManyAddresses(usize),
    #[error("no webhook endpoint with this id in this project")]
    WebhookEndpointNotFound,
    #[error("a project can have at most {0} webhook endpoints; delete one first")]
    TooManyWebhookEndpoints(usize),
    #[error("the webhook URL is not allowed: {0}")]
    WebhookUrlNotAllowed(&'static str),
    #[error("the code is wrong, expired or already used")]
    InvalidMfaCode,
    #[error("no second factor is set up")]
    MfaNotEnabled,
    #[error("an authenticator app is already set up; disable it first")]
    TotpAlreadyEnabled,
    #[error("no authenticator app is waiting to be confirmed: start with customerTotpEnroll")]
    TotpNotEnrolled,
    #[error(
        "this shop requires a second factor: add one (customerTotpEnroll) before anything else"
    )]
    MfaEnrollmentRequired,
    #[error(
        "passkeys are not set up for this project: an admin sets webauthnRpId and webauthnOrigins"
    )]
    PasskeysNotConfigured,
    #[error("the passkey's answer did not verify")]
    InvalidPasskey,
    #[error(
        "this passkey's signature counter went back: it may have been copied, so it is refused"
    )]
    PasskeyPossiblyCloned,
    #[error("this passkey is registered already")]
    PasskeyAlreadyRegistered,
    #[error("no passkey with this id")]
    PasskeyNotFound,
    #[error("a customer can have at most {0} passkeys; remove one first")]
    TooManyPasskeys(usize),
    #[error("{field} {problem}")]
    Profile {
        field: &'static str,
        problem: ProfileProblem,
    },
    /// One entry of a list of metafields (`list`: `metafields` in a write,
    /// `customerMetafields` in a declaration) is refused; its field path is
    /// `list.index.field`.
    #[error("{list}[{index}].{field} {problem}")]
    Metafield {
        list: &'static str,
        index: usize,
        field: &'static str,
        problem: MetafieldProblem,
    },
}

/// Declares `ErrorCode` with each code's wire text.
macro_rules! error_codes {
    ($( $(#[$meta:meta])* $variant:ident = $text:literal, )*) => {
        /// Every code a client can see, in both APIs, the admin API and the
        /// CLI: one vocabulary from the services to the wire. It travels in
        /// postcard (by variant index), so new codes go at the end only.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $( $(#[$meta])* $variant, )*
        }

        impl ErrorCode {
            /// `EMAIL_TAKEN`: what `code` fields and `extensions.code` say.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )*
                }
            }

            pub const ALL: &'static [ErrorCode] = &[$( Self::$variant, )*];
        }
    };
}

error_codes! {
    InvalidEmail = "INVALID_EMAIL",
    PasswordTooShort = "PASSWORD_TOO_SHORT",
    PasswordTooLong = "PASSWORD_TOO_LONG",
    PasswordRequiresUppercase = "PASSWORD_REQUIRES_UPPERCASE",
    PasswordRequiresLowercase = "PASSWORD_REQUIRES_LOWERCASE",
    PasswordRequiresNumber = "PASSWORD_REQUIRES_NUMBER",
    PasswordRequiresSpecialChar = "PASSWORD_REQUIRES_SPECIAL_CHAR",
    EmailTaken = "EMAIL_TAKEN",
    InvalidCredentials = "INVALID_CREDENTIALS",
    InvalidRefreshToken = "INVALID_REFRESH_TOKEN",
    RefreshTokenReused = "REFRESH_TOKEN_REUSED",
    SessionRevoked = "SESSION_REVOKED",
    SessionNotFound = "SESSION_NOT_FOUND",
    ProjectExists = "PROJECT_EXISTS",
    ProjectNotFound = "PROJECT_NOT_FOUND",
    InvalidInput = "INVALID_INPUT",
    InvalidToken = "INVALID_TOKEN",
    InvalidOtp = "INVALID_OTP",
    AlreadyVerified = "ALREADY_VERIFIED",
    InvalidCurrentPassword = "INVALID_CURRENT_PASSWORD",
    AccountLocked = "ACCOUNT_LOCKED",
    AccountSuspended = "ACCOUNT_SUSPENDED",
    EmailNotVerified = "EMAIL_NOT_VERIFIED",
    CustomerNotFound = "CUSTOMER_NOT_FOUND",
    RegistrationDisabled = "REGISTRATION_DISABLED",
    MethodDisabled = "METHOD_DISABLED",
    RateLimited = "RATE_LIMITED",
    LastSecretKey = "LAST_SECRET_KEY",
    /// The command id was used before: its effects were stored once.
    DuplicateRequest = "DUPLICATE_REQUEST",
    Unauthenticated = "UNAUTHENTICATED",
    Forbidden = "FORBIDDEN",
    /// A command that could not be decoded.
    BadCommand = "BAD_COMMAND",
    ServiceUnavailable = "SERVICE_UNAVAILABLE",
    Internal = "INTERNAL",
    // What the gateway answers before any command is sent.
    MissingApiKey = "MISSING_API_KEY",
    InvalidApiKey = "INVALID_API_KEY",
    BadRequest = "BAD_REQUEST",
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    GraphqlValidationFailed = "GRAPHQL_VALIDATION_FAILED",
    AuditIndexDisabled = "AUDIT_INDEX_DISABLED",
    NotFound = "NOT_FOUND",
    MethodNotAllowed = "METHOD_NOT_ALLOWED",
    PasswordTooCommon = "PASSWORD_TOO_COMMON",
    TooLong = "TOO_LONG",
    ContainsHtmlTags = "CONTAINS_HTML_TAGS",
    ContainsUrl = "CONTAINS_URL",
    /// A profile field (the phone) that is not well formed.
    Invalid = "INVALID",
    AlreadyEnabled = "ALREADY_ENABLED",
    PhoneTaken = "PHONE_TAKEN",
    InvalidState = "INVALID_STATE",
    ProviderNotFound = "PROVIDER_NOT_FOUND",
    ProviderUnavailable = "PROVIDER_UNAVAILABLE",
    ProviderError = "PROVIDER_ERROR",
    ReturnUrlNotAllowed = "RETURN_URL_NOT_ALLOWED",
    /// A customer's list is full (addresses).
    LimitReached = "LIMIT_REACHED",
    /// The customer was erased before: nothing is recorded twice.
    AlreadyErased = "ALREADY_ERASED",
    /// A customer without a password deletes their account only from a
    /// sign-in less than 5 minutes old.
    RecentLoginRequired = "RECENT_LOGIN_REQUIRED",
    /// A webhook URL that is not https, names a private address, or
    /// carries credentials.
    UrlNotAllowed = "URL_NOT_ALLOWED",
    /// The same operation is already running (a read-model rebuild).
    InProgress = "IN_PROGRESS",
    /// A second factor's code (TOTP or recovery code) that is wrong,
    /// outside the time window or used before.
    InvalidMfaCode = "INVALID_MFA_CODE",
    /// The operation needs a second factor the customer does not have.
    MfaNotEnabled = "MFA_NOT_ENABLED",
    /// The project requires a second factor and the customer has none:
    /// the session may only add one.
    MfaEnrollmentRequired = "MFA_ENROLLMENT_REQUIRED",
    /// The project has no WebAuthn relying party (`webauthnRpId`).
    PasskeysNotConfigured = "PASSKEYS_NOT_CONFIGURED",
    /// A passkey's answer that does not verify: signature, origin,
    /// challenge (unknown, expired or used), user verification, or a
    /// credential that is not the customer's.
    InvalidPasskey = "INVALID_PASSKEY",
    /// The passkey's signature counter did not move forward: refused as a
    /// possible clone (and recorded).
    PasskeyPossiblyCloned = "PASSKEY_POSSIBLY_CLONED",
    /// The credential is registered already (in this project).
    PasskeyAlreadyRegistered = "PASSKEY_ALREADY_REGISTERED",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DomainError {
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Self::InvalidEmail => C::InvalidEmail,
            Self::PasswordTooShort(_) => C::PasswordTooShort,
            Self::PasswordTooLong(_) => C::PasswordTooLong,
            Self::EmailTaken => C::EmailTaken,
            Self::InvalidCredentials => C::InvalidCredentials,
            Self::InvalidRefreshToken => C::InvalidRefreshToken,
            Self::RefreshTokenReused => C::RefreshTokenReused,
            Self::SessionRevoked => C::SessionRevoked,
            Self::SessionNotFound => C::SessionNotFound,
            Self::ProjectExists => C::ProjectExists,
            Self::ProjectNotFound => C::ProjectNotFound,
            Self::InvalidInput(_) => C::InvalidInput,
            Self::WeakPassword(rule) => match rule {
                PolicyRule::MinLength(_) => C::PasswordTooShort,
                PolicyRule::MaxLength(_) => C::PasswordTooLong,
                PolicyRule::Uppercase => C::PasswordRequiresUppercase,
                PolicyRule::Lowercase => C::PasswordRequiresLowercase,
                PolicyRule::Number => C::PasswordRequiresNumber,
                PolicyRule::SpecialChar => C::PasswordRequiresSpecialChar,
            },
            Self::InvalidToken => C::InvalidToken,
            Self::InvalidOtp => C::InvalidOtp,
            Self::AlreadyVerified => C::AlreadyVerified,
            Self::WrongCurrentPassword => C::InvalidCurrentPassword,
            Self::AccountLocked { .. } => C::AccountLocked,
            Self::AccountSuspended => C::AccountSuspended,
            Self::EmailNotVerified => C::EmailNotVerified,
            Self::CustomerNotFound => C::CustomerNotFound,
            Self::AlreadyErased => C::AlreadyErased,
            Self::RecentLoginRequired => C::RecentLoginRequired,
            Self::RegistrationClosed => C::RegistrationDisabled,
            Self::MethodDisabled => C::MethodDisabled,
            Self::RateLimited { .. } => C::RateLimited,
            Self::LastSecretKey => C::LastSecretKey,
            Self::PasswordTooCommon => C::PasswordTooCommon,
            Self::AlreadyEnabled | Self::TotpAlreadyEnabled => C::AlreadyEnabled,
            Self::InvalidMfaCode => C::InvalidMfaCode,
            Self::MfaEnrollmentRequired => C::MfaEnrollmentRequired,
            Self::MfaNotEnabled | Self::TotpNotEnrolled => C::MfaNotEnabled,
            Self::PasskeysNotConfigured => C::PasskeysNotConfigured,
            Self::InvalidPasskey => C::InvalidPasskey,
            Self::PasskeyPossiblyCloned => C::PasskeyPossiblyCloned,
            Self::PasskeyAlreadyRegistered => C::PasskeyAlreadyRegistered,
            Self::PasskeyNotFound => C::NotFound,
            Self::TooManyPasskeys(_) => C::LimitReached,
            Self::PhoneTaken => C::PhoneTaken,
            Self::InvalidState => C::InvalidState,
            Self::ProviderNotFound => C::ProviderNotFound,
            Self::ProviderUnavailable => C::ProviderUnavailable,
            Self::ProviderError(_) => C::ProviderError,
            Self::ReturnUrlNotAllowed => C::ReturnUrlNotAllowed,
            Self::AddressNotFound | Self::OrderNotFound => C::NotFound,
            Self::TooManyAddresses(_) | Self::TooManyWebhookEndpoints(_) => C::LimitReached,
            Self::WebhookEndpointNotFound => C::NotFound,
            Self::WebhookUrlNotAllowed(_) => C::UrlNotAllowed,
            Self::Profile { problem, .. } => match problem {
                ProfileProblem::TooLong(_) => C::TooLong,
                ProfileProblem::ContainsHtmlTags => C::ContainsHtmlTags,
                ProfileProblem::ContainsUrl => C::ContainsUrl,
                ProfileProblem::Invalid => C::Invalid,
            },
            Self::Metafield { problem, .. } => match problem {
                MetafieldProblem::ValueTooLong(_) => C::TooLong,
                _ => C::Invalid,
            },
        }
    }

    /// The input path at fault, dotted (`metafields.2.value`).
    pub fn field_path(&self) -> Option<String> {
        match self {
            Self::Metafield {
                list, index, field, ..
            } => Some(format!("{list}.{index}.{field}")),
            other => other.field().map(Into::into),
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidEmail | Self::EmailTaken => Some("email"),
            Self::PhoneTaken => Some("phone"),
            Self::PasswordTooShort(_)
            | Self::PasswordTooLong(_)
            | Self::WeakPassword(_)
            | Self::PasswordTooCommon => Some("password"),
            Self::InvalidToken => Some("token"),
            Self::InvalidOtp => Some("otp"),
            Self::InvalidState => Some("state"),
            Self::ProviderNotFound => Some("providerKey"),
            Self::ReturnUrlNotAllowed => Some("returnTo"),
            Self::AddressNotFound | Self::WebhookEndpointNotFound => Some("id"),
            Self::WebhookUrlNotAllowed(_) => Some("url"),
            Self::OrderNotFound => Some("externalId"),
            Self::WrongCurrentPassword => Some("currentPassword"),
            Self::InvalidRefreshToken | Self::RefreshTokenReused | Self::SessionRevoked => {
                Some("refreshToken")
            }
            Self::InvalidInput(field) | Self::Profile { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// What a command's requester hears when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    pub code: ErrorCode,
    pub field: Option<String>,
    pub message: String,
    /// For RATE_LIMITED and ACCOUNT_LOCKED: milliseconds until a retry can succeed.
    pub retry_after_ms: Option<i64>,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: &str) -> Self {
        Self {
            code,
            field: None,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// For failures that are not the requester's fault. The message never
    /// carries internals; those are logged where they happen.
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            "the service is temporarily unavailable, try again",
        )
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The command id was already used: its effects were stored once, and
    /// fresh tokens for it cannot be handed out again.
    pub fn duplicate() -> Self {
        Self::new(
            ErrorCode::DuplicateRequest,
            "this request was already processed; send a new one",
        )
    }

    pub fn is_retryable(&self) -> bool {
        self.code == ErrorCode::ServiceUnavailable
    }

    /// For rejections that name the input at fault.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.into());
        self
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
            code: e.code(),
            field: e.field_path(),
            message: e.to_string(),
            retry_after_ms,
        }
    }
}

/// Password hashing did not happen (`infra::password`).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The queue is full: try again in a moment.
    #[error("too many passwords are being checked; try again shortly")]
    Busy,
    /// The caller's deadline passed before a thread was free.
    #[error("the request's deadline passed before its password could be checked")]
    Expired,
    #[error("password hashing failed")]
    Failed,
}

/// How long a caller is told to wait when the queue is full.
pub const BUSY_RETRY_AFTER_MS: i64 = 1_000;

impl From<HashError> for CommandError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => {
                let mut busy = Self::new(ErrorCode::RateLimited, &e.to_string());
                busy.retry_after_ms = Some(BUSY_RETRY_AFTER_MS);
                busy
            }
            HashError::Expired => Self::unavailable(),
            HashError::Failed => {
                tracing::error!(error = %e, "internal error");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_distinct_screaming_snake_words() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{text}"
            );
        }
    }

    #[test]
    fn codes_travel_by_variant_index() {
        // Clients of older builds decode these bytes: never reorder.
        assert_eq!(postcard::to_stdvec(&ErrorCode::InvalidEmail).unwrap(), [0]);
        assert_eq!(postcard::to_stdvec(&ErrorCode::Internal).unwrap(), [33]);
    }
}
