//! The customer's state as its decisions read it, and what the halves of
//! the customer aggregate share: `customer.rs` (the commands, `decide`,
//! `evolve`), `customer_password.rs` and `customer_profile.rs` all use
//! this module, which uses none of them.

use authd_events::{
    CustomerEvent, CustomerProfile, EmailVerificationRequested, Personal, SecretHash,
};

use super::lockout::{self, ClientLocks};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    pub registered: bool,
    pub email: String,
    /// Empty for a customer who signed up with a one-time code.
    pub password_hash: String,
    pub email_verified: bool,
    /// Unix ms.
    pub created_at: i64,
    pub updated_at: i64,
    pub suspended: bool,
    /// Failed password logins (from any client) since the last success or
    /// account-wide lock.
    pub failed_logins: u32,
    /// Account-wide locks since the last successful login: each one lasts longer.
    pub locks: u32,
    /// Unix ms; locked for every client while now < this.
    pub locked_until: i64,
    /// Failures and locks per client (see `lockout`).
    pub clients: ClientLocks,
    /// Sessions started at or before this stream sequence have ended, but `sessions_ended_except`.
    pub sessions_ended_seq: u64,
    pub sessions_ended_except: Option<String>,
    pub verification: Option<(SecretHash, i64)>,
    pub reset: Option<(SecretHash, i64)>,
    /// When reset links were requested, within the last hour or so.
    pub reset_requested_at: Vec<i64>,
    pub profile: Profile,
    /// An invitation's activation token (hash, expiry), until a password is set.
    pub activation: Option<(SecretHash, i64)>,
}

impl Customer {
    /// Whether a successful sign-in from `client` changes this state (it
    /// clears failures and locks): only then is it a customer event.
    pub(super) fn login_resets_something(&self, client: u64) -> bool {
        self.failed_logins > 0 || self.locks > 0 || self.clients.has(client)
    }

    pub(super) fn lockout(&self) -> lockout::Account<'_> {
        lockout::Account {
            failed: self.failed_logins,
            locks: self.locks,
            locked_until: self.locked_until,
            clients: &self.clients,
        }
    }

    /// Until when `client` is refused (its own lock or the account's).
    pub fn locked_for(&self, client: u64, now: i64) -> Option<i64> {
        self.lockout().locked_for(client, now)
    }

    /// Whether a session started at stream sequence `started_seq` is still allowed.
    pub fn session_allowed(&self, session_id: &str, started_seq: u64) -> bool {
        !self.suspended
            && (started_seq > self.sessions_ended_seq
                || self.sessions_ended_except.as_deref() == Some(session_id))
    }
}

pub(super) fn verification_requested(token_hash: SecretHash, expires_at: i64) -> CustomerEvent {
    CustomerEvent::EmailVerificationRequested(EmailVerificationRequested {
        token_hash,
        expires_at,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// E.164 (`+16135551111`).
    pub phone: Option<String>,
    pub accepts_marketing: bool,
}

impl Profile {
    pub fn to_event(&self) -> CustomerProfile {
        let personal = |v: &Option<String>| v.as_ref().map(Personal::plain);
        CustomerProfile {
            first_name: personal(&self.first_name),
            last_name: personal(&self.last_name),
            phone: personal(&self.phone),
            accepts_marketing: self.accepts_marketing.then(|| Personal::plain("true")),
        }
    }

    pub fn from_event(e: &CustomerProfile) -> Self {
        let plain =
            |v: &Option<Personal>| v.as_ref().and_then(Personal::as_plain).map(str::to_string);
        Self {
            first_name: plain(&e.first_name),
            last_name: plain(&e.last_name),
            phone: plain(&e.phone),
            accepts_marketing: plain(&e.accepts_marketing).as_deref() == Some("true"),
        }
    }
}
