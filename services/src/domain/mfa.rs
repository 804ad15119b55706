//! A customer's second factors as the customer aggregate keeps them, and
//! the TOTP check (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps, one step
//! of drift either way). Below `customer_state`, which holds an `Mfa`;
//! `customer_mfa` makes the decisions.

use authd_events::{CustomerEvent, LoginMethod, SecretHash};

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;
/// Steps either side of now that a code may come from (clock drift).
pub const SKEW_STEPS: u16 = 1;
/// How long a sign-in waits for its second factor.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60_000;
/// Wrong codes one challenge takes before it is void (the lockout counts
/// them too).
pub const CHALLENGE_MAX_FAILURES: u32 = 5;
/// Sign-ins waiting for their second factor at once (devices, tabs):
/// the oldest goes first.
pub const MAX_CHALLENGES: usize = 5;
/// Codes in a set of recovery codes.
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mfa {
    /// Base32 secret of an authenticator not confirmed yet.
    pub pending_totp: Option<String>,
    /// Base32 secret of the confirmed authenticator.
    pub totp: Option<String>,
    /// The newest TOTP step taken (RFC 6238 §5.2): codes of this step or
    /// earlier are refused.
    pub last_step: u64,
    /// Keyed hashes of the recovery codes; `None` once used.
    pub recovery: Vec<Option<SecretHash>>,
    /// The sign-ins waiting for their second factor, oldest first.
    pub challenges: Vec<Challenge>,
    /// Registered passkeys, oldest first.
    pub passkeys: Vec<StoredPasskey>,
}

/// A passkey as the customer aggregate keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub credential_id: Vec<u8>,
    /// The WebAuthn library's credential (JSON), as registered.
    pub credential: String,
    /// The signature counter last seen.
    pub counter: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub token_hash: SecretHash,
    /// Unix ms.
    pub expires_at: i64,
    pub method: LoginMethod,
    pub storefront: bool,
    pub failures: u32,
}

impl Mfa {
    /// Whether sign-in asks for a second factor.
    pub fn active(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }

    pub fn passkey(&self, credential_id: &[u8]) -> Option<&StoredPasskey> {
        self.passkeys
            .iter()
            .find(|p| p.credential_id == credential_id)
    }

    pub fn recovery_codes_left(&self) -> u32 {
        self.recovery.iter().filter(|c| c.is_some()).count() as u32
    }

    /// The challenge `token_hash` names, while it can still be answered.
    pub fn open_challenge(&self, token_hash: &SecretHash, now: i64) -> Option<&Challenge> {
        self.challenges.iter().find(|c| {
            subtle_eq(&c.token_hash, token_hash)
                && now < c.expires_at
                && c.failures < CHALLENGE_MAX_FAILURES
        })
    }

    /// The place of an unused recovery code with this hash.
    pub fn recovery_index(&self, hash: &SecretHash) -> Option<usize> {
        self.recovery
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| subtle_eq(c, hash)))
    }

    /// Applies the second-factor events; the lockout's share of
    /// `MfaFailed` and `MfaPassed` is `customer.rs`'s.
    pub fn evolve(&mut self, e: &CustomerEvent) {
        match e {
            CustomerEvent::TotpEnrolled(t) => {
                self.pending_totp = t.secret.as_plain().map(str::to_string);
            }
            CustomerEvent::TotpConfirmed(c) => {
                self.totp = self.pending_totp.take();
                self.last_step = self.last_step.max(c.step);
            }
            CustomerEvent::TotpDisabled(_) => {
                self.totp = None;
                self.last_factor_gone();
            }
            CustomerEvent::PasskeyRegistered(p) => self.passkeys.push(StoredPasskey {
                credential_id: p.credential_id.clone(),
                credential: p.credential.clone(),
                counter: 0,
            }),
            CustomerEvent::PasskeyRemoved(r) => {
                self.passkeys.retain(|p| p.credential_id != r.credential_id);
                self.last_factor_gone();
            }
            CustomerEvent::PasskeyUsed(u) => {
                let used = self
                    .passkeys
                    .iter_mut()
                    .find(|p| p.credential_id == u.credential_id);
                if let Some(p) = used {
                    p.counter = u.counter;
                }
            }
            CustomerEvent::RecoveryCodesGenerated(g) => {
                self.recovery = g.code_hashes.iter().copied().map(Some).collect();
            }
            CustomerEvent::RecoveryCodeUsed(u) => {
                if let Some(c) = self.recovery.get_mut(u.index as usize) {
                    *c = None;
                }
            }
            CustomerEvent::MfaChallenged(c) => {
                if self.challenges.len() >= MAX_CHALLENGES {
                    self.challenges.remove(0);
                }
                self.challenges.push(Challenge {
                    token_hash: c.token_hash,
                    expires_at: c.expires_at,
                    method: c.method,
                    storefront: c.storefront,
                    failures: 0,
                });
            }
            CustomerEvent::MfaPassed(p) => {
                self.challenges.retain(|c| c.token_hash != p.challenge_hash);
                if let Some(step) = p.totp_step {
                    self.last_step = self.last_step.max(step);
                }
            }
            CustomerEvent::MfaFailed(f) => {
                let failed = self
                    .challenges
                    .iter_mut()
                    .find(|c| Some(c.token_hash) == f.challenge_hash);
                if let Some(c) = failed {
                    c.failures += 1;
                }
            }
            CustomerEvent::MfaReset(_) => *self = Mfa::default(),
            _ => {}
        }
    }
}

impl Mfa {
    /// Recovery codes stand in for the factors: they go with the last one.
    fn last_factor_gone(&mut self) {
        if !self.active() {
            self.recovery.clear();
        }
    }
}

fn subtle_eq(a: &SecretHash, b: &SecretHash) -> bool {
    // Every byte compared: the time taken tells nothing of where they differ.
    a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// A TOTP of the base32 `secret`; `None` for a secret that is not base32
/// or too short (RFC 4226 asks for at least 128 bits).
fn totp(secret: &str) -> Option<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret).ok()?;
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .build()
        .ok()
}

/// The step (unix seconds / 30) whose code `code` is, within one step of
/// `now_ms`; `None` when it is none of them.
pub fn totp_step(secret: &str, code: &str, now_ms: i64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now_ms / 1000).ok()?;
    totp(secret)?.check(code, now)
}

/// The code of the step `unix_secs` falls in (tests and tools).
pub fn totp_code(secret: &str, unix_secs: u64) -> Option<String> {
    Some(totp(secret)?.generate(unix_secs).to_string())
}

/// A new secret: 160 random bits (RFC 4226's recommended length), base32.
pub fn new_totp_secret(random: [u8; 20]) -> String {
    totp_rs::Secret::from(random.to_vec()).to_base32()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key ("12345678901234567890") in base32.
    const RFC_KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn rfc_6238_test_vectors() {
        // Appendix B gives 8 digits; 6 digits are the last six of them.
        let vectors = [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (t, eight) in vectors {
            assert_eq!(totp_code(RFC_KEY, t).unwrap(), eight[2..], "T = {t}");
            let step = totp_step(RFC_KEY, &eight[2..], t as i64 * 1000);
            assert_eq!(step, Some(t / 30), "T = {t}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let now = 1_111_111_111u64;
        let code = |t: u64| totp_code(RFC_KEY, t).unwrap();
        let at = |c: &str| totp_step(RFC_KEY, c, now as i64 * 1000);
        assert_eq!(at(&code(now)), Some(now / 30));
        assert_eq!(at(&code(now - 30)), Some(now / 30 - 1), "a step late");
        assert_eq!(at(&code(now + 30)), Some(now / 30 + 1), "a step early");
        assert_eq!(at(&code(now - 60)), None, "stale");
        assert_eq!(at(&code(now + 60)), None, "from the future");
        assert_eq!(at("12345"), None);
        assert_eq!(at("abcdef"), None);
        assert_eq!(at(""), None);
        assert_eq!(
            totp_step("not base32!", &code(now), now as i64 * 1000),
            None
        );
    }

    #[test]
    fn a_new_secret_is_160_bits_of_base32() {
        let s = new_totp_secret([42; 20]);
        assert_eq!(s.len(), 32);
        assert!(totp_code(&s, 0).is_some());
    }
}
