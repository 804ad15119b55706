//! The second-factor decisions (`customer_mfa`), given/when/then on the
//! customer aggregate: a leaf beside both, so neither uses the other back.

use super::customer_mfa::*;
use super::customer_state::Customer;
use super::mfa;
use crate::domain::aggregate::{
    Aggregate,
    given::{self, T0},
};
use crate::domain::customer::{CustomerCommand, login_outcome};
use crate::error::DomainError;
use authd_events::{
    CustomerEvent, LoginMethod, MfaFailed, MfaFailureReason, MfaMethod, MfaPassed, Personal,
    RecoveryCodeUsed, RecoveryCodesGenerated, TotpConfirmed, TotpDisabled, TotpEnrolled,
};
use authd_events::{CustomerRegistered, LoginSucceeded, MfaChallenged};

const KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const NOW: i64 = 1_111_111_111_000;

fn code(at_ms: i64) -> String {
    mfa::totp_code(KEY, (at_ms / 1000) as u64).unwrap()
}
fn registered() -> CustomerEvent {
    CustomerEvent::Registered(CustomerRegistered {
        email: Personal::plain("ann@example.com"),
        password_hash: "$argon2id$hash".into(),
        email_verified: true,
    })
}
fn enrolled() -> CustomerEvent {
    CustomerEvent::TotpEnrolled(TotpEnrolled {
        secret: Personal::plain(KEY),
    })
}
fn confirmed(step: u64) -> CustomerEvent {
    CustomerEvent::TotpConfirmed(TotpConfirmed { step })
}
fn codes() -> CustomerEvent {
    CustomerEvent::RecoveryCodesGenerated(RecoveryCodesGenerated {
        code_hashes: vec![[1; 32], [2; 32]],
    })
}
fn challenge(expires_at: i64) -> CustomerEvent {
    CustomerEvent::MfaChallenged(MfaChallenged {
        token_hash: [5; 32],
        expires_at,
        method: LoginMethod::Password,
        storefront: false,
    })
}
/// Registered, an authenticator confirmed long ago, two recovery
/// codes, and a sign-in waiting for its second factor.
fn protected() -> Vec<CustomerEvent> {
    vec![
        registered(),
        enrolled(),
        confirmed(1),
        codes(),
        challenge(NOW + 300_000),
    ]
}
fn verify(proof: Proof) -> CustomerCommand {
    CustomerCommand::Mfa(MfaCommand::Verify {
        token_hash: [5; 32],
        proof,
        session_id: "s_2".into(),
        lockout: (5, 9),
    })
}
fn decide(
    given: &[CustomerEvent],
    cmd: CustomerCommand,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    given::state::<Customer>(given).decide(&cmd, now)
}
fn failed(method: MfaMethod, reason: MfaFailureReason) -> CustomerEvent {
    CustomerEvent::MfaFailed(MfaFailed {
        challenge_hash: Some([5; 32]),
        method,
        reason,
    })
}

#[test]
fn an_authenticator_counts_once_a_code_proves_it() {
    let confirm = |code: String| {
        CustomerCommand::Mfa(MfaCommand::ConfirmTotp {
            code,
            recovery_hashes: vec![[1; 32], [2; 32]],
        })
    };
    assert_eq!(
        decide(&[registered()], confirm(code(NOW)), NOW),
        Err(DomainError::TotpNotEnrolled)
    );
    let given = [registered(), enrolled()];
    assert!(
        !given::state::<Customer>(&given).mfa.active(),
        "enrolled is not on"
    );
    assert_eq!(
        decide(&given, confirm("000000".into()), NOW),
        Err(DomainError::InvalidMfaCode)
    );
    assert_eq!(
        decide(&given, confirm(code(NOW)), NOW),
        Ok(vec![confirmed((NOW / 30_000) as u64), codes()])
    );
    let on = [registered(), enrolled(), confirmed(1)];
    assert!(given::state::<Customer>(&on).mfa.active());
    let again = CustomerCommand::Mfa(MfaCommand::EnrollTotp { secret: KEY.into() });
    assert_eq!(
        decide(&on, again, NOW),
        Err(DomainError::TotpAlreadyEnabled)
    );
}

#[test]
fn a_right_password_of_a_protected_account_records_a_challenge_and_clears_nothing() {
    let mut given = vec![registered(), enrolled(), confirmed(1)];
    // Two wrong codes before: a right password must not wipe them.
    given.push(failed(MfaMethod::Totp, MfaFailureReason::WrongCode));
    given.push(failed(MfaMethod::Totp, MfaFailureReason::WrongCode));
    let nc = NewChallenge {
        token_hash: [5; 32],
        expires_at: NOW + 300_000,
        storefront: true,
    };
    let login = CustomerCommand::RecordPasswordLogin {
        password_matches: true,
        session_id: "s_1".into(),
        lockout_threshold: 5,
        verification_required: false,
        client: 0,
        challenge: nc.clone(),
    };
    let then = decide(&given, login, NOW).unwrap();
    assert_eq!(then, vec![challenged(&nc, LoginMethod::Password)]);
    assert!(waits_for_second_factor(&then));
    assert_eq!(login_outcome(&then, 0), Ok(()));
    // A code login (and a provider's) asks too.
    let otp = CustomerCommand::RecordOtpLogin {
        session_id: "s_1".into(),
        challenge: nc.clone(),
    };
    assert_eq!(
        decide(&given, otp, NOW).unwrap(),
        vec![challenged(&nc, LoginMethod::Otp)]
    );
    // Without a second factor: signed in as before.
    let otp = CustomerCommand::RecordOtpLogin {
        session_id: "s_1".into(),
        challenge: nc.clone(),
    };
    assert_eq!(
        decide(&[registered()], otp, NOW).unwrap(),
        vec![CustomerEvent::LoginSucceeded(LoginSucceeded {
            session_id: "s_1".into(),
            method: LoginMethod::Otp,
        })]
    );
}

#[test]
fn a_code_passes_once_and_a_replayed_stale_or_future_one_fails() {
    let given = protected();
    let step = (NOW / 30_000) as u64;
    let passed = decide(&given, verify(Proof::Totp(code(NOW))), NOW).unwrap();
    assert_eq!(
        passed,
        vec![CustomerEvent::MfaPassed(MfaPassed {
            challenge_hash: [5; 32],
            method: MfaMethod::Totp,
            totp_step: Some(step),
            session_id: "s_2".into(),
        })]
    );
    // The same code again (a new challenge): refused as replayed.
    let mut after = given.clone();
    after.extend(passed);
    after.push(challenge(NOW + 300_000));
    assert_eq!(
        decide(&after, verify(Proof::Totp(code(NOW))), NOW).unwrap(),
        vec![failed(MfaMethod::Totp, MfaFailureReason::ReplayedCode)]
    );
    // The previous step's code is older than the one used: refused too.
    assert_eq!(
        decide(&after, verify(Proof::Totp(code(NOW - 30_000))), NOW).unwrap(),
        vec![failed(MfaMethod::Totp, MfaFailureReason::ReplayedCode)]
    );
    // The next step's code is newer: taken (one step of drift).
    assert!(matches!(
        decide(&after, verify(Proof::Totp(code(NOW + 30_000))), NOW).unwrap()[..],
        [CustomerEvent::MfaPassed(_)]
    ));
    for stale_or_future in [code(NOW - 90_000), code(NOW + 90_000), "123456".into()] {
        let then = decide(&given, verify(Proof::Totp(stale_or_future)), NOW).unwrap();
        assert_eq!(
            then,
            vec![failed(MfaMethod::Totp, MfaFailureReason::WrongCode)]
        );
        assert_eq!(outcome(&then, 0), Err(DomainError::InvalidMfaCode));
    }
}

#[test]
fn the_challenge_is_single_use_expires_and_dies_after_five_wrong_codes() {
    let given = protected();
    let right = || verify(Proof::Totp(code(NOW)));
    assert_eq!(
        decide(&given, right(), NOW + 300_000),
        Err(DomainError::InvalidToken),
        "expired"
    );
    let other_token = CustomerCommand::Mfa(MfaCommand::Verify {
        token_hash: [6; 32],
        proof: Proof::Totp(code(NOW)),
        session_id: "s_2".into(),
        lockout: (5, 9),
    });
    assert_eq!(
        decide(&given, other_token, NOW),
        Err(DomainError::InvalidToken)
    );
    let mut used = given.clone();
    used.extend(decide(&given, right(), NOW).unwrap());
    assert_eq!(
        decide(&used, right(), NOW),
        Err(DomainError::InvalidToken),
        "used"
    );
    let mut guessed = given.clone();
    for _ in 0..5 {
        guessed.push(failed(MfaMethod::Totp, MfaFailureReason::WrongCode));
    }
    // Lockout threshold 50 here so only the challenge's own limit counts.
    let cmd = CustomerCommand::Mfa(MfaCommand::Verify {
        token_hash: [5; 32],
        proof: Proof::Totp(code(NOW)),
        session_id: "s_2".into(),
        lockout: (50, 1),
    });
    assert_eq!(decide(&guessed, cmd, NOW), Err(DomainError::InvalidToken));
}

#[test]
fn wrong_codes_count_toward_the_lockout_and_a_pass_clears_it() {
    let mut given = protected();
    for _ in 0..4 {
        given.push(failed(MfaMethod::Totp, MfaFailureReason::WrongCode));
    }
    // given::state records every event from client 0; this is the fifth
    // failure of client 0, at the threshold of 5.
    let wrong = CustomerCommand::Mfa(MfaCommand::Verify {
        token_hash: [5; 32],
        proof: Proof::Totp("000000".into()),
        session_id: "s_2".into(),
        lockout: (5, 0),
    });
    let s = given::state::<Customer>(&given);
    assert_eq!(s.failed_logins, 4);
    let then = s.decide(&wrong, NOW).unwrap();
    assert!(
        matches!(
            then[..],
            [CustomerEvent::MfaFailed(_), CustomerEvent::ClientLocked(_)]
        ),
        "{then:?}"
    );
    given.extend(then);
    let s = given::state::<Customer>(&given);
    assert!(s.locked_for(0, T0).is_some());
    // Locked: even the right code is refused untried.
    let right = CustomerCommand::Mfa(MfaCommand::Verify {
        token_hash: [5; 32],
        proof: Proof::Totp(code(NOW)),
        session_id: "s_2".into(),
        lockout: (5, 0),
    });
    let mut fresh = given.clone();
    fresh.push(challenge(NOW + 300_000));
    let then = given::state::<Customer>(&fresh).decide(&right, T0).unwrap();
    assert_eq!(
        then,
        vec![failed(MfaMethod::Totp, MfaFailureReason::Locked)]
    );
    // Another client passes, and the pass clears the count.
    let mut other = protected();
    other.push(failed(MfaMethod::Totp, MfaFailureReason::WrongCode));
    let mut s = given::state::<Customer>(&other);
    assert_eq!(s.failed_logins, 1);
    let passed = s.decide(&verify(Proof::Totp(code(NOW))), NOW).unwrap();
    let at = crate::domain::aggregate::At {
        seq: 9,
        time: NOW,
        client: 0,
    };
    for e in &passed {
        s = s.evolve(&Customer::wrap(e.clone()), at);
    }
    assert_eq!(s.failed_logins, 0);
    assert!(s.mfa.challenges.is_empty());
}

#[test]
fn recovery_codes_are_single_use_and_disable_needs_a_factor() {
    let given = protected();
    let then = decide(&given, verify(Proof::RecoveryCode([2; 32])), NOW).unwrap();
    assert_eq!(
        then[1],
        CustomerEvent::RecoveryCodeUsed(RecoveryCodeUsed { index: 1, left: 1 })
    );
    let mut after = given.clone();
    after.extend(then);
    after.push(challenge(NOW + 300_000));
    assert_eq!(
        given::state::<Customer>(&after).mfa.recovery_codes_left(),
        1
    );
    assert_eq!(
        decide(&after, verify(Proof::RecoveryCode([2; 32])), NOW).unwrap(),
        vec![failed(MfaMethod::RecoveryCode, MfaFailureReason::WrongCode)]
    );
    let disable = |proof| {
        CustomerCommand::Mfa(MfaCommand::DisableTotp {
            proof,
            lockout: (5, 9),
        })
    };
    assert_eq!(
        decide(&after, disable(Proof::RecoveryCode([1; 32])), NOW).unwrap(),
        vec![CustomerEvent::TotpDisabled(TotpDisabled {
            via: MfaMethod::RecoveryCode
        })]
    );
    assert_eq!(
        decide(&after, disable(Proof::Totp("000000".into())), NOW).unwrap(),
        vec![CustomerEvent::MfaFailed(MfaFailed {
            challenge_hash: None,
            method: MfaMethod::Totp,
            reason: MfaFailureReason::WrongCode,
        })]
    );
    assert_eq!(
        decide(&[registered()], disable(Proof::Totp(code(NOW))), NOW),
        Err(DomainError::MfaNotEnabled)
    );
    let generate = CustomerCommand::Mfa(MfaCommand::GenerateRecoveryCodes { hashes: vec![] });
    assert_eq!(
        decide(&[registered()], generate, NOW),
        Err(DomainError::MfaNotEnabled)
    );
}

#[test]
fn an_admin_reset_removes_every_factor() {
    let given = protected();
    let reset = || {
        CustomerCommand::Mfa(MfaCommand::Reset {
            reason: "ticket 1".into(),
        })
    };
    let then = decide(&given, reset(), NOW).unwrap();
    let mut after = given.clone();
    after.extend(then);
    let s = given::state::<Customer>(&after);
    assert!(!s.mfa.active());
    assert_eq!(s.mfa, mfa::Mfa::default());
    assert_eq!(decide(&after, reset(), NOW), Ok(vec![]), "nothing to reset");
}
