//! The customer's passkey decisions: registering one, removing one, and
//! signing in with one (a passkey with user verification is a whole
//! sign-in). The WebAuthn ceremony (signature, origin, challenge, user
//! verification) is checked before: these decide on what it proved, and
//! the signature counter against the one last seen. Split from
//! `customer.rs`, whose `decide` calls `decide` here.

use authd_events::{
    CustomerEvent, LoginMethod, LoginSucceeded, MfaFailed, MfaFailureReason, MfaMethod,
    PasskeyRegistered, PasskeyRemoved, PasskeyUsed, Personal, RecoveryCodesGenerated, SecretHash,
};

use super::mfa::RECOVERY_CODES;

use super::customer_state::Customer;
use crate::error::DomainError;

/// Passkeys one customer may have.
pub const MAX_PASSKEYS: usize = 10;
/// Characters of a passkey's name.
pub const MAX_NAME: usize = 100;

/// What a verified WebAuthn assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub credential_id: Vec<u8>,
    /// The authenticator's signature counter.
    pub counter: u32,
    /// Backed up now (the BS flag).
    pub backed_up: bool,
}

pub enum PasskeyCommand {
    /// A verified registration; `recovery_hashes`: the recovery codes
    /// that come with a first factor (used only when it is one).
    Register {
        credential_id: Vec<u8>,
        name: String,
        credential: String,
        backup_eligible: bool,
        backed_up: bool,
        recovery_hashes: Vec<SecretHash>,
    },
    Remove {
        credential_id: Vec<u8>,
    },
    /// A sign-in with the passkey alone; `client` for the lockout.
    LogIn {
        assertion: Assertion,
        session_id: String,
        client: u64,
    },
}

pub(super) fn decide(
    s: &Customer,
    cmd: &PasskeyCommand,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    if !s.registered || s.erased {
        return Err(DomainError::InvalidPasskey);
    }
    match cmd {
        PasskeyCommand::Register {
            credential_id,
            name,
            credential,
            backup_eligible,
            backed_up,
            recovery_hashes,
        } => {
            if s.mfa.passkey(credential_id).is_some() {
                return Err(DomainError::PasskeyAlreadyRegistered);
            }
            if s.mfa.passkeys.len() >= MAX_PASSKEYS {
                return Err(DomainError::TooManyPasskeys(MAX_PASSKEYS));
            }
            let mut events = vec![CustomerEvent::PasskeyRegistered(PasskeyRegistered {
                credential_id: credential_id.clone(),
                name: Personal::plain(name_or_default(name)),
                credential: credential.clone(),
                backup_eligible: *backup_eligible,
                backed_up: *backed_up,
            })];
            // A first factor comes with recovery codes (as an app's
            // confirmation does): losing the device must not lose the account.
            if !s.mfa.active() && s.mfa.recovery_codes_left() == 0 && !recovery_hashes.is_empty() {
                events.push(CustomerEvent::RecoveryCodesGenerated(
                    RecoveryCodesGenerated {
                        code_hashes: recovery_hashes
                            .iter()
                            .take(RECOVERY_CODES)
                            .copied()
                            .collect(),
                    },
                ));
            }
            Ok(events)
        }
        PasskeyCommand::Remove { credential_id } => {
            if s.mfa.passkey(credential_id).is_none() {
                return Err(DomainError::PasskeyNotFound);
            }
            Ok(vec![CustomerEvent::PasskeyRemoved(PasskeyRemoved {
                credential_id: credential_id.clone(),
            })])
        }
        PasskeyCommand::LogIn {
            assertion,
            session_id,
            client,
        } => {
            if s.suspended {
                return Err(DomainError::AccountSuspended);
            }
            if let Some(until) = s.locked_for(*client, now) {
                return Err(DomainError::AccountLocked { until });
            }
            match used(s, assertion, None)? {
                Ok(used) => Ok(vec![
                    used,
                    CustomerEvent::LoginSucceeded(LoginSucceeded {
                        session_id: session_id.clone(),
                        method: LoginMethod::Passkey,
                    }),
                ]),
                Err(failed) => Ok(vec![failed]),
            }
        }
    }
}

/// The passkey's use, or (the counter did not move forward: a possible
/// clone) the failure to record; not one of the customer's passkeys is
/// refused outright.
pub(super) fn used(
    s: &Customer,
    a: &Assertion,
    challenge_hash: Option<[u8; 32]>,
) -> Result<Result<CustomerEvent, CustomerEvent>, DomainError> {
    let stored = s
        .mfa
        .passkey(&a.credential_id)
        .ok_or(DomainError::InvalidPasskey)?;
    if !counter_moved(stored.counter, a.counter) {
        return Ok(Err(CustomerEvent::MfaFailed(MfaFailed {
            challenge_hash,
            method: MfaMethod::Passkey,
            reason: MfaFailureReason::PossiblyCloned,
        })));
    }
    Ok(Ok(CustomerEvent::PasskeyUsed(PasskeyUsed {
        credential_id: a.credential_id.clone(),
        counter: a.counter,
        backed_up: a.backed_up,
    })))
}

/// WebAuthn §6.1.1: a counter must grow, unless the authenticator keeps
/// none (always 0).
pub fn counter_moved(stored: u32, presented: u32) -> bool {
    presented > stored || (stored == 0 && presented == 0)
}

fn name_or_default(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    if name.is_empty() {
        "Passkey".into()
    } else {
        name
    }
}

/// Whether a passkey sign-in's events are the refusal of a possible clone.
pub fn possibly_cloned(events: &[CustomerEvent]) -> bool {
    events.iter().any(|e| {
        matches!(e, CustomerEvent::MfaFailed(f) if f.reason == MfaFailureReason::PossiblyCloned)
    })
}
