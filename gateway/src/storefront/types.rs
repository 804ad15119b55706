//! The Storefront API's types, named and shaped as Shopify's Storefront API
//! names them (`Customer`, `CustomerAccessToken`, `CustomerUserError`,
//! `CustomerErrorCode`, the deprecated `UserError`), and how a refusal
//! becomes `customerUserErrors` + `userErrors`.

use async_graphql::{Enum, ID, Scalar, ScalarType, SimpleObject, Value};
use authd_projections::read::CustomerRow;
use authd_services::{
    CommandError, ErrorCode,
    commands::{AccessToken, CustomerView},
};

use crate::{error::ApiError, public::types::DateTime};

/// Shopify's `CustomerErrorCode`, exactly: clients generated from
/// Shopify's schema match on these.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CustomerErrorCode {
    AlreadyEnabled,
    BadDomain,
    Blank,
    ContainsHtmlTags,
    ContainsUrl,
    CustomerDisabled,
    Invalid,
    InvalidMultipassRequest,
    NotFound,
    PasswordStartsOrEndsWithWhitespace,
    Taken,
    TokenInvalid,
    TooLong,
    TooShort,
    UnidentifiedCustomer,
}

impl CustomerErrorCode {
    /// The Storefront code of one of our codes; `None` where Shopify has
    /// none (a rate limit: the message says when to retry).
    pub fn of(code: ErrorCode) -> Option<Self> {
        use ErrorCode as E;
        Some(match code {
            E::InvalidEmail | E::InvalidInput | E::Invalid | E::PasswordTooCommon => Self::Invalid,
            E::PasswordRequiresUppercase
            | E::PasswordRequiresLowercase
            | E::PasswordRequiresNumber
            | E::PasswordRequiresSpecialChar => Self::Invalid,
            E::RegistrationDisabled | E::MethodDisabled | E::AlreadyVerified => Self::Invalid,
            E::EmailTaken | E::PhoneTaken => Self::Taken,
            E::PasswordTooShort => Self::TooShort,
            E::PasswordTooLong | E::TooLong => Self::TooLong,
            E::ContainsHtmlTags => Self::ContainsHtmlTags,
            E::ContainsUrl => Self::ContainsUrl,
            // A lock is a failed sign-in like any other (unknown addresses
            // lock alike, so it says nothing about an account).
            E::InvalidCredentials | E::AccountLocked => Self::UnidentifiedCustomer,
            E::AccountSuspended | E::EmailNotVerified => Self::CustomerDisabled,
            E::InvalidToken
            | E::InvalidRefreshToken
            | E::RefreshTokenReused
            | E::SessionRevoked
            | E::SessionNotFound
            | E::Unauthenticated => Self::TokenInvalid,
            E::CustomerNotFound | E::NotFound => Self::NotFound,
            E::LimitReached | E::InvalidMfaCode | E::MfaNotEnabled => Self::Invalid,
            E::InvalidPasskey
            | E::PasskeyPossiblyCloned
            | E::PasskeyAlreadyRegistered
            | E::PasskeysNotConfigured => Self::Invalid,
            E::AlreadyEnabled => Self::AlreadyEnabled,
            _ => return None,
        })
    }
}

/// Shopify's `URL` scalar: an absolute URL, as a string.
#[derive(Clone)]
pub struct Url(pub String);

#[Scalar(name = "URL")]
impl ScalarType for Url {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Url(s)),
            other => Err(async_graphql::InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// A refusal, naming the input at fault by its path
/// (`["input", "email"]`).
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerUserError {
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: Option<CustomerErrorCode>,
    /// After a rate limit: seconds until a retry can succeed (not in
    /// Shopify's schema; clients that do not ask never see it).
    pub retry_after_seconds: Option<i64>,
    /// The password was right and the customer has a second factor:
    /// finish with `customerAccessTokenCreateWithMfa(mfaToken, …)` (not in
    /// Shopify's schema either).
    pub mfa_token: Option<String>,
    /// What may finish that sign-in.
    pub mfa_methods: Option<Vec<crate::mfa::MfaMethod>>,
}

/// Shopify's deprecated `UserError`: the same refusals, without codes.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "UserError")]
pub struct ShopUserError {
    pub field: Option<Vec<String>>,
    pub message: String,
}

impl From<&CustomerUserError> for ShopUserError {
    fn from(e: &CustomerUserError) -> Self {
        Self {
            field: e.field.clone(),
            message: e.message.clone(),
        }
    }
}

impl CustomerUserError {
    pub fn new(field: &[&str], message: &str, code: CustomerErrorCode) -> Self {
        Self {
            field: Some(field.iter().map(|f| f.to_string()).collect()),
            message: message.to_string(),
            code: Some(code),
            retry_after_seconds: None,
            mfa_token: None,
            mfa_methods: None,
        }
    }

    /// A command's refusal; `path` turns the field it names (`email`)
    /// into this operation's input path.
    pub fn from_command(e: CommandError, path: fn(&str) -> Option<Vec<String>>) -> Self {
        let code = CustomerErrorCode::of(e.code);
        // Wrong credentials name no field (as Shopify's do).
        let field = match code {
            Some(CustomerErrorCode::UnidentifiedCustomer) => None,
            _ => e.field.as_deref().and_then(path),
        };
        Self {
            field,
            message: e.message,
            code,
            retry_after_seconds: e.retry_after_ms.map(|ms| (ms + 999) / 1000),
            mfa_token: None,
            mfa_methods: None,
        }
    }

    /// A sign-in that cannot finish in one step: no code (it is not a
    /// mistake), the token and the methods that finish it.
    pub fn mfa_required(m: authd_services::commands::MfaRequired) -> Self {
        Self {
            field: None,
            message: "this account has a second factor: finish the sign-in with \
                      customerAccessTokenCreateWithMfa and the mfaToken"
                .into(),
            code: None,
            retry_after_seconds: None,
            mfa_methods: Some(crate::mfa::MfaMethod::all(&m.methods)),
            mfa_token: Some(m.mfa_token),
        }
    }
}

#[derive(SimpleObject)]
pub struct CustomerAccessToken {
    /// Null for a project with cookie sessions: the token is in the
    /// HttpOnly cookie, out of scripts' reach.
    pub access_token: Option<String>,
    pub expires_at: DateTime,
}

impl CustomerAccessToken {
    pub fn of(t: AccessToken) -> Self {
        Self {
            access_token: Some(t.token),
            expires_at: DateTime(t.expires_at),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Customer {
    pub id: ID,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The names, or the email when there are none.
    pub display_name: String,
    pub phone: Option<String>,
    pub accepts_marketing: bool,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

fn display_name(first: &Option<String>, last: &Option<String>, email: &str) -> String {
    let names: Vec<&str> = [first, last]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        email.to_string()
    } else {
        names.join(" ")
    }
}

impl Customer {
    pub fn from_view(v: CustomerView) -> Self {
        Self {
            id: ID(v.id),
            display_name: display_name(&v.first_name, &v.last_name, &v.email),
            email: Some(v.email),
            first_name: v.first_name,
            last_name: v.last_name,
            phone: v.phone,
            accepts_marketing: v.accepts_marketing,
            created_at: DateTime(v.created_at),
            updated_at: DateTime(v.updated_at),
        }
    }

    pub fn from_row(r: CustomerRow) -> Self {
        Self {
            id: ID(r.id),
            display_name: display_name(&r.first_name, &r.last_name, &r.email),
            email: Some(r.email),
            first_name: r.first_name,
            last_name: r.last_name,
            phone: r.phone,
            accepts_marketing: r.accepts_marketing,
            created_at: DateTime(r.created_at),
            updated_at: DateTime(r.updated_at),
        }
    }
}

/// A Storefront payload: its refusals go to `customerUserErrors` (where it
/// has them) and, without codes, to `userErrors`.
pub trait Refusable: Default {
    fn refused(errors: Vec<CustomerUserError>) -> Self;
}

/// Implements `Refusable` for payloads with both lists.
macro_rules! refusable {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::storefront::types::Refusable for $t {
            // Some payloads have nothing but the two lists.
            #[allow(clippy::needless_update)]
            fn refused(errors: Vec<$crate::storefront::types::CustomerUserError>) -> Self {
                Self {
                    user_errors: errors.iter().map(Into::into).collect(),
                    customer_user_errors: errors,
                    ..Default::default()
                }
            }
        }
    )*};
}
pub(crate) use refusable;

/// Why a Storefront operation did not succeed: the gateway's own checks
/// of the input (already in Shopify's terms), or anything else.
pub enum Failure {
    Input(Vec<CustomerUserError>),
    Api(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<CustomerUserError> for Failure {
    fn from(e: CustomerUserError) -> Self {
        Self::Input(vec![e])
    }
}

/// Renders a resolver's result: a refusal of the input becomes the
/// payload's errors (with `path` naming the field a command's refusal
/// names), an outage or internal failure a GraphQL error with
/// `extensions.code`.
pub fn answer<P: Refusable>(
    result: Result<P, Failure>,
    path: fn(&str) -> Option<Vec<String>>,
) -> async_graphql::Result<P> {
    match result {
        Ok(payload) => Ok(payload),
        Err(Failure::Input(errors)) => Ok(P::refused(errors)),
        Err(Failure::Api(ApiError::Rejected(e))) if e.code != ErrorCode::DuplicateRequest => {
            Ok(P::refused(vec![CustomerUserError::from_command(e, path)]))
        }
        Err(Failure::Api(e)) => Err(e.into()),
    }
}

/// Paths of the fields named by commands, per operation.
pub mod paths {
    fn of(prefix: &str, field: &str) -> Option<Vec<String>> {
        Some(vec![prefix.to_string(), field.to_string()])
    }

    /// `customerCreate(input:)`, `customerAccessTokenCreate(input:)`.
    pub fn input(field: &str) -> Option<Vec<String>> {
        of("input", field)
    }

    /// `customerAccessTokenCreateWithMfa`: its arguments by name.
    pub fn mfa(field: &str) -> Option<Vec<String>> {
        match field {
            "code" => Some(vec!["totp".into()]),
            other => Some(vec![other.to_string()]),
        }
    }

    /// `customerUpdate(customer:)`; the token is its own argument.
    pub fn update(field: &str) -> Option<Vec<String>> {
        match field {
            "token" | "sessionId" => Some(vec!["customerAccessToken".into()]),
            _ => of("customer", field),
        }
    }

    /// `customerReset(id:, input: { resetToken, password })`.
    pub fn reset(field: &str) -> Option<Vec<String>> {
        match field {
            "token" => of("input", "resetToken"),
            "password" | "newPassword" => of("input", "password"),
            "customerId" => Some(vec!["id".into()]),
            _ => of("input", field),
        }
    }

    /// `customerResetByUrl(resetUrl:, password:)`.
    pub fn reset_by_url(field: &str) -> Option<Vec<String>> {
        match field {
            "token" | "customerId" => Some(vec!["resetUrl".into()]),
            _ => Some(vec!["password".into()]),
        }
    }

    /// `customerActivate(id:, input: { activationToken, password })`.
    pub fn activate(field: &str) -> Option<Vec<String>> {
        match field {
            "token" => of("input", "activationToken"),
            "password" | "newPassword" => of("input", "password"),
            _ => of("input", field),
        }
    }

    /// `customerActivateByUrl(activationUrl:, password:)`.
    pub fn activate_by_url(field: &str) -> Option<Vec<String>> {
        match field {
            "token" | "customerId" => Some(vec!["activationUrl".into()]),
            _ => Some(vec!["password".into()]),
        }
    }

    /// Operations whose only argument is the token.
    pub fn token(_: &str) -> Option<Vec<String>> {
        Some(vec!["customerAccessToken".into()])
    }

    /// `customerRecover(email:)`.
    pub fn email(field: &str) -> Option<Vec<String>> {
        Some(vec![field.to_string()])
    }
}
