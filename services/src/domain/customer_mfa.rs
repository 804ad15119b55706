//! The customer's second-factor decisions: an authenticator's enrollment,
//! confirmation and removal, recovery codes, the sign-in's second step
//! and an admin's reset. Split from `customer.rs`, whose `decide` calls
//! `decide` here; the state is `customer_state::Customer::mfa`.

use authd_events::{
    ClientLocked, CustomerEvent, CustomerLocked, LoginMethod, MfaChallenged, MfaFailed,
    MfaFailureReason, MfaMethod, MfaPassed, MfaReset, Personal, RecoveryCodeUsed,
    RecoveryCodesGenerated, SecretHash, TotpConfirmed, TotpDisabled, TotpEnrolled,
};

use super::customer_passkey::{self, Assertion};
use super::customer_state::Customer;
use super::mfa::{self, RECOVERY_CODES};
use crate::error::DomainError;

/// What proves the second factor.
#[derive(Clone)]
pub enum Proof {
    /// A six-digit code of the authenticator.
    Totp(String),
    /// The keyed hash of a recovery code (`usecases::mfa` makes it).
    RecoveryCode(SecretHash),
    /// A passkey's assertion, verified (`None`: it did not verify).
    Passkey(Option<Assertion>),
}

/// A sign-in's challenge, made before the first factor is decided (it is
/// used only when the customer has a second factor).
#[derive(Clone)]
pub struct NewChallenge {
    pub token_hash: SecretHash,
    pub expires_at: i64,
    pub storefront: bool,
}

pub enum MfaCommand {
    /// A new authenticator secret (base32), waiting for a code.
    EnrollTotp { secret: String },
    /// The code proves the enrolled authenticator; the first recovery
    /// codes come with it.
    ConfirmTotp {
        code: String,
        recovery_hashes: Vec<SecretHash>,
    },
    /// Removes the authenticator; `lockout` is the project's threshold
    /// and the client (a wrong proof counts like a wrong password).
    DisableTotp { proof: Proof, lockout: (u32, u64) },
    /// A new set of recovery codes replaces the old one.
    GenerateRecoveryCodes { hashes: Vec<SecretHash> },
    /// The sign-in's second step: the challenge's token, the proof, and
    /// the session that starts when it holds.
    Verify {
        token_hash: SecretHash,
        proof: Proof,
        session_id: String,
        lockout: (u32, u64),
    },
    /// An admin removes every second factor.
    Reset { reason: String },
}

pub(super) fn decide(
    s: &Customer,
    cmd: &MfaCommand,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    use MfaCommand as C;
    match cmd {
        C::EnrollTotp { .. } if s.mfa.totp.is_some() => Err(DomainError::TotpAlreadyEnabled),
        C::EnrollTotp { secret } => Ok(vec![CustomerEvent::TotpEnrolled(TotpEnrolled {
            secret: Personal::plain(secret.clone()),
        })]),
        C::ConfirmTotp { .. } if s.mfa.totp.is_some() => Err(DomainError::TotpAlreadyEnabled),
        C::ConfirmTotp {
            code,
            recovery_hashes,
        } => {
            let secret = s
                .mfa
                .pending_totp
                .as_ref()
                .ok_or(DomainError::TotpNotEnrolled)?;
            let step = mfa::totp_step(secret, code, now).ok_or(DomainError::InvalidMfaCode)?;
            Ok(vec![
                CustomerEvent::TotpConfirmed(TotpConfirmed { step }),
                recovery_codes(recovery_hashes),
            ])
        }
        C::DisableTotp { .. } if s.mfa.totp.is_none() => Err(DomainError::MfaNotEnabled),
        C::DisableTotp { proof, lockout } => Ok(match check(s, proof, None, *lockout, now) {
            Ok(passed) => {
                let mut events = Vec::from_iter(passed.used);
                events.push(CustomerEvent::TotpDisabled(TotpDisabled {
                    via: passed.method,
                }));
                events
            }
            Err(failed) => failed,
        }),
        C::GenerateRecoveryCodes { .. } if !s.mfa.active() => Err(DomainError::MfaNotEnabled),
        C::GenerateRecoveryCodes { hashes } => Ok(vec![recovery_codes(hashes)]),
        C::Verify {
            token_hash,
            proof,
            session_id,
            lockout,
        } => {
            if s.mfa.open_challenge(token_hash, now).is_none() || !s.mfa.active() {
                return Err(DomainError::InvalidToken);
            }
            if s.suspended {
                return Err(DomainError::AccountSuspended);
            }
            Ok(match check(s, proof, Some(*token_hash), *lockout, now) {
                Ok(passed) => {
                    let mut events = vec![CustomerEvent::MfaPassed(MfaPassed {
                        challenge_hash: *token_hash,
                        method: passed.method,
                        totp_step: passed.step,
                        session_id: session_id.clone(),
                    })];
                    events.extend(passed.used);
                    if let Some(index) = passed.recovery_index {
                        events.push(CustomerEvent::RecoveryCodeUsed(RecoveryCodeUsed {
                            index: index as u32,
                            left: s.mfa.recovery_codes_left().saturating_sub(1),
                        }));
                    }
                    events
                }
                Err(failed) => failed,
            })
        }
        C::Reset { .. } if !s.mfa.active() && s.mfa.pending_totp.is_none() => Ok(vec![]),
        C::Reset { reason } => Ok(vec![CustomerEvent::MfaReset(MfaReset {
            reason: reason.clone(),
        })]),
    }
}

fn recovery_codes(hashes: &[SecretHash]) -> CustomerEvent {
    CustomerEvent::RecoveryCodesGenerated(RecoveryCodesGenerated {
        code_hashes: hashes.iter().take(RECOVERY_CODES).copied().collect(),
    })
}

struct Passed {
    method: MfaMethod,
    step: Option<u64>,
    recovery_index: Option<usize>,
    /// A passkey's use (its new counter).
    used: Option<CustomerEvent>,
}

/// The proof checked, or the events of its failure: refused untried
/// during a lock; a wrong or replayed code counts toward the lockout and
/// may start a lock.
fn check(
    s: &Customer,
    proof: &Proof,
    challenge_hash: Option<SecretHash>,
    (threshold, client): (u32, u64),
    now: i64,
) -> Result<Passed, Vec<CustomerEvent>> {
    let method = match proof {
        Proof::Totp(_) => MfaMethod::Totp,
        Proof::RecoveryCode(_) => MfaMethod::RecoveryCode,
        Proof::Passkey(_) => MfaMethod::Passkey,
    };
    let failed = |reason| {
        CustomerEvent::MfaFailed(MfaFailed {
            challenge_hash,
            method,
            reason,
        })
    };
    if s.locked_for(client, now).is_some() {
        return Err(vec![failed(MfaFailureReason::Locked)]);
    }
    let outcome = match proof {
        Proof::Totp(code) => match s
            .mfa
            .totp
            .as_ref()
            .and_then(|t| mfa::totp_step(t, code, now))
        {
            Some(step) if step > s.mfa.last_step => Ok(Passed {
                method,
                step: Some(step),
                recovery_index: None,
                used: None,
            }),
            Some(_) => Err(MfaFailureReason::ReplayedCode),
            None => Err(MfaFailureReason::WrongCode),
        },
        Proof::RecoveryCode(hash) => match s.mfa.recovery_index(hash) {
            Some(index) => Ok(Passed {
                method,
                step: None,
                recovery_index: Some(index),
                used: None,
            }),
            None => Err(MfaFailureReason::WrongCode),
        },
        Proof::Passkey(assertion) => {
            match assertion
                .as_ref()
                .map(|a| customer_passkey::used(s, a, challenge_hash))
            {
                Some(Ok(Ok(used))) => Ok(Passed {
                    method,
                    step: None,
                    recovery_index: None,
                    used: Some(used),
                }),
                Some(Ok(Err(_))) => Err(MfaFailureReason::PossiblyCloned),
                None | Some(Err(_)) => Err(MfaFailureReason::InvalidPasskey),
            }
        }
    };
    outcome.map_err(|reason| {
        let mut events = vec![failed(reason)];
        let locks = s.lockout().after_failure(client, threshold, now);
        if let Some(until) = locks.client_until {
            events.push(CustomerEvent::ClientLocked(ClientLocked { until }));
        }
        if let Some(until) = locks.account_until {
            events.push(CustomerEvent::Locked(CustomerLocked { until }));
        }
        events
    })
}

/// The sign-in's first factor held and the customer has a second one:
/// the challenge instead of a session.
pub(super) fn challenged(c: &NewChallenge, method: LoginMethod) -> CustomerEvent {
    CustomerEvent::MfaChallenged(MfaChallenged {
        token_hash: c.token_hash,
        expires_at: c.expires_at,
        method,
        storefront: c.storefront,
    })
}

/// Whether a sign-in's events wait for a second factor (no session yet).
pub fn waits_for_second_factor(events: &[CustomerEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, CustomerEvent::MfaChallenged(_)))
}

/// What a second-factor step answers, from the events it decided.
pub fn outcome(events: &[CustomerEvent], locked_until: i64) -> Result<(), DomainError> {
    for e in events {
        if let CustomerEvent::MfaFailed(f) = e {
            return Err(match f.reason {
                MfaFailureReason::Locked => DomainError::AccountLocked {
                    until: locked_until,
                },
                MfaFailureReason::WrongCode | MfaFailureReason::ReplayedCode => {
                    DomainError::InvalidMfaCode
                }
                MfaFailureReason::InvalidPasskey => DomainError::InvalidPasskey,
                MfaFailureReason::PossiblyCloned => DomainError::PasskeyPossiblyCloned,
            });
        }
    }
    Ok(())
}
