//! The customer's password decisions: a login attempt, a wrong password and
//! the locks it starts, an update, a reset by link, an invitation's
//! activation, what an attempt answers, and a sign-in without password
//! (a code, a provider) that may prove the address. Split from `customer.rs`, whose `decide` calls them.

use authd_events::{
    ClientLocked, CustomerEvent, CustomerLocked, CustomerUnlocked, EmailVerified, LoginFailed,
    LoginFailureReason, LoginMethod, LoginSucceeded, PasswordChangeVia, PasswordChanged,
    SecretHash, SessionsEnded,
};

use super::customer_mfa::{NewChallenge, challenged};
use super::customer_state::Customer;
use crate::error::DomainError;

/// A failed password login, for `reason`.
fn failed(reason: LoginFailureReason) -> CustomerEvent {
    CustomerEvent::LoginFailed(LoginFailed {
        method: LoginMethod::Password,
        reason,
    })
}

/// `threshold` is the project's lockout threshold and the client trying.
pub(super) fn password_attempt(
    s: &Customer,
    password_matches: bool,
    (session_id, challenge): (&str, &NewChallenge),
    threshold: (u32, u64),
    verification_required: bool,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    // Every attempt is a fact; the caller hears the answer the
    // events imply (see `login_outcome`).
    if s.locked_for(threshold.1, now).is_some() || !password_matches {
        return Ok(wrong_password(s, password_matches, threshold, now));
    }
    if s.suspended {
        return Ok(vec![failed(LoginFailureReason::Suspended)]);
    }
    if verification_required && !s.email_verified {
        return Ok(vec![failed(LoginFailureReason::EmailNotVerified)]);
    }
    if s.mfa.active() {
        // The password alone clears nothing (or it would reset the
        // count of wrong second-factor codes between guesses).
        return Ok(vec![challenged(challenge, LoginMethod::Password)]);
    }
    if !s.login_resets_something(threshold.1) {
        // Nothing to record on the customer: the session's start is the
        // sign-in's record (who, how, when), and the login's append is
        // guarded by the customer's sequence instead.
        return Ok(vec![]);
    }
    Ok(vec![CustomerEvent::LoginSucceeded(LoginSucceeded {
        session_id: session_id.to_string(),
        method: LoginMethod::Password,
    })])
}

pub(super) fn reset_password(
    s: &Customer,
    token_hash: &SecretHash,
    new_password_hash: &str,
    keep_session: &Option<String>,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    match s.reset {
        Some((hash, expires_at)) if hash == *token_hash && now < expires_at => {
            let mut events =
                set_by_link(s, new_password_hash, PasswordChangeVia::Reset, keep_session);
            // Proving control of the inbox also lifts a lockout (recorded
            // right after the sessions end, as it always was).
            if s.locked_until > 0 || s.failed_logins > 0 || !s.clients.is_empty() {
                events.insert(2, CustomerEvent::Unlocked(CustomerUnlocked {}));
            }
            Ok(events)
        }
        _ => Err(DomainError::InvalidToken),
    }
}

/// A password set with a mailed link: every session but `keep_session`
/// ends, and the link reaching the inbox proves the address.
fn set_by_link(
    s: &Customer,
    new_password_hash: &str,
    via: PasswordChangeVia,
    keep_session: &Option<String>,
) -> Vec<CustomerEvent> {
    let mut events = vec![
        CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: new_password_hash.to_string(),
            via,
        }),
        CustomerEvent::SessionsEnded(SessionsEnded {
            except: keep_session.clone(),
        }),
    ];
    if !s.email_verified {
        events.push(CustomerEvent::EmailVerified(EmailVerified {}));
    }
    events
}

pub(super) const HOUR_MS: i64 = 3_600_000;

/// Whether a reset link was mailed too recently: at most one per
/// `otp::MIN_INTERVAL_MS` and `otp::MAX_PER_HOUR` an hour, as codes.
pub(super) fn reset_throttled(s: &Customer, now: i64) -> bool {
    reset_throttled_after(&s.reset_requested_at, now)
}

/// `reset_throttled` for any record of request times (unknown addresses
/// are throttled alike).
pub fn reset_throttled_after(requested_at: &[i64], now: i64) -> bool {
    let recent = requested_at.iter().filter(|t| now - **t < HOUR_MS);
    recent
        .clone()
        .any(|t| now - t < super::otp::MIN_INTERVAL_MS)
        || recent.count() >= super::otp::MAX_PER_HOUR
}

/// An invitation's activation: the first password, with the mailed
/// token; the link reached the inbox, which proves the address.
pub(super) fn activate(
    s: &Customer,
    token_hash: &SecretHash,
    new_password_hash: &str,
    keep_session: &Option<String>,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    match s.activation {
        Some((hash, expires_at)) if hash == *token_hash && now < expires_at => Ok(set_by_link(
            s,
            new_password_hash,
            PasswordChangeVia::Activation,
            keep_session,
        )),
        _ => Err(DomainError::InvalidToken),
    }
}

pub(super) fn activation_requested(token_hash: SecretHash, expires_at: i64) -> CustomerEvent {
    CustomerEvent::ActivationRequested(authd_events::ActivationRequested {
        token_hash,
        expires_at,
    })
}

/// A password check that did not let the customer in: refused during a
/// lock (the client's or the account's), or a wrong password, which may
/// start one or both. `threshold`: the project's threshold and the client.
pub(super) fn wrong_password(
    s: &Customer,
    matches: bool,
    (lockout_threshold, client): (u32, u64),
    now: i64,
) -> Vec<CustomerEvent> {
    if s.locked_for(client, now).is_some() {
        return vec![failed(LoginFailureReason::Locked)];
    }
    let mut events = vec![failed(LoginFailureReason::WrongPassword)];
    if !matches {
        let locks = s.lockout().after_failure(client, lockout_threshold, now);
        if let Some(until) = locks.client_until {
            events.push(CustomerEvent::ClientLocked(ClientLocked { until }));
        }
        if let Some(until) = locks.account_until {
            events.push(CustomerEvent::Locked(CustomerLocked { until }));
        }
    }
    events
}

pub(super) fn update_password(
    new_password_hash: &str,
    keep_session: &Option<String>,
) -> Vec<CustomerEvent> {
    let mut events = vec![CustomerEvent::PasswordChanged(PasswordChanged {
        password_hash: new_password_hash.to_string(),
        via: PasswordChangeVia::Update,
    })];
    if let Some(keep) = keep_session {
        events.push(CustomerEvent::SessionsEnded(SessionsEnded {
            except: Some(keep.clone()),
        }));
    }
    events
}

/// What a recorded login attempt answers.
pub fn login_outcome(events: &[CustomerEvent], locked_until: i64) -> Result<(), DomainError> {
    for e in events {
        if let CustomerEvent::LoginFailed(f) = e {
            return Err(match f.reason {
                LoginFailureReason::WrongPassword => DomainError::InvalidCredentials,
                LoginFailureReason::Locked => DomainError::AccountLocked {
                    until: locked_until,
                },
                LoginFailureReason::Suspended => DomainError::AccountSuspended,
                LoginFailureReason::EmailNotVerified => DomainError::EmailNotVerified,
            });
        }
    }
    Ok(())
}

/// A sign-in that needs no password (a code, a provider); `proven` when
/// it proves the address (a code reached the inbox, the provider says so).
pub(super) fn proven_login(
    s: &Customer,
    session_id: &str,
    method: LoginMethod,
    proven: bool,
    challenge: Option<&NewChallenge>,
) -> Result<Vec<CustomerEvent>, DomainError> {
    if s.suspended {
        return Ok(vec![CustomerEvent::LoginFailed(LoginFailed {
            method,
            reason: LoginFailureReason::Suspended,
        })]);
    }
    let mut events = Vec::new();
    if proven && !s.email_verified {
        events.extend(address_proven(s, Some(session_id)));
    }
    if let Some(challenge) = challenge.filter(|_| s.mfa.active()) {
        events.push(challenged(challenge, method));
        return Ok(events);
    }
    events.push(CustomerEvent::LoginSucceeded(LoginSucceeded {
        session_id: session_id.to_string(),
        method,
    }));
    Ok(events)
}

/// The address of a never-verified account was just proven (a code, a
/// reset link): whoever registered it may not own it (pre-hijacking), so
/// every session started before ends (`keep` is the one being started) and
/// a password set before is dropped; the owner sets one by reset.
fn address_proven(s: &Customer, keep: Option<&str>) -> Vec<CustomerEvent> {
    let mut events = vec![CustomerEvent::EmailVerified(EmailVerified {})];
    if !s.password_hash.is_empty() {
        events.push(CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: String::new(),
            via: PasswordChangeVia::Unproven,
        }));
    }
    events.push(CustomerEvent::SessionsEnded(SessionsEnded {
        except: keep.map(Into::into),
    }));
    events
}
