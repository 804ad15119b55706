//! What a resolver checks before it acts: the rate limits, and a signed-in
//! customer's live session.

use std::collections::HashSet;

use async_graphql::{
    Context,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use authd_projections::read::SessionRow;
use authd_services::{CommandError, ErrorCode};

use crate::{context::RequestContext, error::ApiError, state::AppState};

/// The shared state and the request's context.
pub fn request<'a>(ctx: &'a Context<'_>) -> (&'a AppState, &'a RequestContext) {
    (
        ctx.data_unchecked::<AppState>(),
        ctx.data_unchecked::<RequestContext>(),
    )
}

/// The longest address anyone can have.
const MAX_EMAIL_BYTES: usize = 254;

/// Applies the per-IP and (with `account`) per-account limits; a refusal
/// is a RATE_LIMITED rejection for the payload.
pub fn rate_limit(ctx: &Context<'_>, account: Option<&str>) -> Result<(), ApiError> {
    let (state, rc) = request(ctx);
    // No address is longer (RFC 5321); nothing longer becomes a key.
    if account.is_some_and(|a| a.len() > MAX_EMAIL_BYTES) {
        return Err(ApiError::Rejected(
            CommandError::new(ErrorCode::InvalidEmail, "email is not a valid address")
                .with_field("email"),
        ));
    }
    let ip = rc.request.ip.as_deref().and_then(|ip| ip.parse().ok());
    state
        .rate_limits
        .check(ip, account.map(|e| (rc.project_id.as_str(), e)))
        .map_err(|wait| {
            let mut e =
                CommandError::new(ErrorCode::RateLimited, "too many requests; try again later");
            e.retry_after_ms = Some(wait.as_millis() as i64);
            ApiError::Rejected(e)
        })
}

/// The live session of the bearer token, for operations that need a
/// signed-in customer: without one, an UNAUTHENTICATED rejection; with a
/// token that may only add a second factor, MFA_ENROLLMENT_REQUIRED.
pub async fn signed_in(ctx: &Context<'_>) -> Result<SessionRow, ApiError> {
    let session = signed_in_to_enroll(ctx).await?;
    not_restricted(request(ctx).1)?;
    Ok(session)
}

/// Refuses a token that may only add a second factor (the project
/// requires one and the customer has none yet).
pub fn not_restricted(rc: &crate::context::RequestContext) -> Result<(), ApiError> {
    match rc.auth.claims().and_then(|c| c.restricted.as_deref()) {
        None => Ok(()),
        Some(_) => Err(ApiError::Rejected(
            authd_services::error::DomainError::MfaEnrollmentRequired.into(),
        )),
    }
}

/// `signed_in` for what a restricted token may do: add a second factor,
/// see its state, sign out.
pub async fn signed_in_to_enroll(ctx: &Context<'_>) -> Result<SessionRow, ApiError> {
    let (state, rc) = request(ctx);
    match rc.auth.require(state).await {
        Ok(Some(session)) => Ok(session),
        _ => Err(ApiError::Rejected(CommandError::new(
            ErrorCode::Unauthenticated,
            "a valid access token is required",
        ))),
    }
}

/// Refuses, with `RECENT_LOGIN_REQUIRED`, a session whose sign-in is older
/// than `Limits::recent_sign_in`: adding or removing a second factor takes
/// a fresh proof that the customer is there, not a token that may have
/// leaked.
pub fn recent_sign_in(ctx: &Context<'_>, session_id: &str) -> Result<(), ApiError> {
    let (state, rc) = request(ctx);
    let started = state
        .read
        .session_started_at(&rc.project_id, session_id)
        .map_err(ApiError::internal)?
        .unwrap_or(0);
    let age = authd_events::now_millis() - started;
    if age > state.limits.recent_sign_in.as_millis() as i64 {
        return Err(ApiError::Rejected(CommandError::new(
            ErrorCode::RecentLoginRequired,
            "sign in again to change your second factors (the last sign-in is too old)",
        )));
    }
    Ok(())
}

/// Root fields that check a credential or send mail. A request may hold at
/// most one of them, however it names them (aliases, fragments), so one
/// POST cannot buy many password hashes, guesses or mails.
pub const COSTLY_FIELDS: &[&str] = &[
    "customerRegister",
    "customerLogin",
    "customerLoginOTP",
    "customerRequestOTP",
    "customerRequestPasswordReset",
    "customerResetPassword",
    "customerUpdatePassword",
    "customerLoginMfa",
    "customerTotpConfirm",
    "customerTotpDisable",
    "customerPasskeyRegisterFinish",
    "customerPasskeyLoginFinish",
    "customerVerifyEmail",
    "customerResendVerificationEmail",
    "customerRefreshToken",
    // They call the provider (discovery, code exchange).
    "customerLoginWithProvider",
    "customerProviderCallback",
    "customerProviderVerifyOTP",
    "refreshShopifyCustomerToken",
];

/// Refuses, before anything runs, a request whose operation holds more
/// than one costly root field. A document that does not parse, or names
/// no operation it has, is left to execution to report.
pub fn one_costly_field(
    request: &mut async_graphql::Request,
    costly: &[&str],
) -> Result<(), ApiError> {
    let wanted = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return Ok(());
    };
    let mut count = 0;
    for (name, operation) in document.operations.iter() {
        let selected = match (&wanted, name) {
            (Some(wanted), Some(name)) => name.as_str() == wanted,
            (Some(_), None) => false,
            (None, _) => true,
        };
        if selected {
            let mut seen = HashSet::new();
            count += costly_in(
                document,
                &operation.node.selection_set.node,
                costly,
                &mut seen,
            );
        }
    }
    if count > 1 {
        return Err(ApiError::bad_request(format!(
            "a request may hold at most one field that checks a credential or sends mail \
             (it holds {count}); send one per request"
        )));
    }
    Ok(())
}

/// Whether the operation that runs is a mutation (a document that does not
/// parse is left to execution to report, as not one).
pub fn is_mutation(request: &mut async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let wanted = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    document.operations.iter().any(|(name, op)| {
        let selected = match (&wanted, name) {
            (Some(wanted), Some(name)) => name.as_str() == wanted,
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}

/// Costly fields at the root of `set`, through fragments (each counted
/// once: the same fragment spread twice merges into one execution).
fn costly_in(
    document: &ExecutableDocument,
    set: &SelectionSet,
    costly: &[&str],
    seen: &mut HashSet<String>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(costly.contains(&f.node.name.node.as_str())),
            Selection::InlineFragment(f) => {
                costly_in(document, &f.node.selection_set.node, costly, seen)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                match document
                    .fragments
                    .get(spread.node.fragment_name.node.as_str())
                {
                    Some(fragment) if seen.insert(name) => {
                        costly_in(document, &fragment.node.selection_set.node, costly, seen)
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::{COSTLY_FIELDS, one_costly_field};

    fn check(query: &str, operation: Option<&str>) -> bool {
        let mut request = async_graphql::Request::new(query);
        if let Some(op) = operation {
            request = request.operation_name(op);
        }
        one_costly_field(&mut request, COSTLY_FIELDS).is_ok()
    }

    #[test]
    fn one_costly_field_per_request_however_it_is_named() {
        let login = r#"customerLogin(email: "a@b.co", password: "x") { success }"#;
        assert!(check(&format!("mutation {{ {login} }}"), None));
        assert!(!check(
            &format!("mutation {{ a: {login} b: {login} }}"),
            None
        ));
        assert!(!check(
            &format!("mutation {{ {login} customerRequestOTP(email: \"a@b.co\") {{ success }} }}"),
            None
        ));
        // Through fragments, inline or named, and nested ones.
        assert!(!check(
            &format!("mutation {{ ... on Mutation {{ a: {login} }} b: {login} }}"),
            None
        ));
        assert!(!check(
            &format!(
                "mutation {{ ...F }} fragment F on Mutation {{ a: {login} ...G }} \
                 fragment G on Mutation {{ b: {login} }}"
            ),
            None
        ));
        // A fragment that spreads itself is no loop here (validation refuses it).
        assert!(check(
            &format!("mutation {{ ...F }} fragment F on Mutation {{ {login} ...F }}"),
            None
        ));
        // Only the operation that runs counts.
        let two = format!("mutation A {{ {login} }} mutation B {{ {login} }}");
        assert!(check(&two, Some("A")));
        // Cheap fields are not limited.
        assert!(check(
            "mutation { a: customerLogout { success } b: customerLogout { success } }",
            None
        ));
    }
}
