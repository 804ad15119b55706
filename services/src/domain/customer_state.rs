//! The customer's state as its decisions read it, and what the halves of
//! the customer aggregate share: `customer.rs` (the commands, `decide`,
//! `evolve`), `customer_password.rs` and `customer_profile.rs` all use
//! this module, which uses none of them.

use authd_events::{
    CustomerEvent, CustomerProfile, EmailVerificationRequested, MailingAddress, Personal,
    SecretHash,
};

use super::lockout::{self, ClientLocks};
use super::mfa::Mfa;

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
    /// Mailing addresses by id, oldest first.
    pub addresses: Vec<(String, Address)>,
    pub default_address: Option<String>,
    /// Set by an admin.
    pub tags: Vec<String>,
    /// The metafield values set, as digests (enough to tell a change).
    pub metafields: Vec<super::metafields::StoredMetafield>,
    /// Erased (`customer.erased`): no one any more; nothing but the
    /// erasure's completion is decided on it.
    pub erased: bool,
    /// The erasure's work is done (`customer.erasure.completed`).
    pub erasure_completed: bool,
    /// Second factors and the sign-in waiting for one.
    pub mfa: Mfa,
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

/// An address as stored and answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-2 code without the country (`ON`) where the country has
    /// subdivisions, else the text given.
    pub province: Option<String>,
    /// ISO 3166-1 alpha-2 (`CA`).
    pub country: Option<String>,
    pub zip: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

impl Address {
    pub fn to_event(&self) -> MailingAddress {
        let p = |v: &Option<String>| v.as_ref().map(|v| Personal::plain(v.clone()));
        MailingAddress {
            first_name: p(&self.first_name),
            last_name: p(&self.last_name),
            company: p(&self.company),
            address1: p(&self.address1),
            address2: p(&self.address2),
            city: p(&self.city),
            province: p(&self.province),
            country: p(&self.country),
            zip: p(&self.zip),
            phone: p(&self.phone),
        }
    }

    pub fn from_event(e: &MailingAddress) -> Self {
        let p = |v: &Option<Personal>| v.as_ref().and_then(|v| v.as_plain()).map(str::to_string);
        Self {
            first_name: p(&e.first_name),
            last_name: p(&e.last_name),
            company: p(&e.company),
            address1: p(&e.address1),
            address2: p(&e.address2),
            city: p(&e.city),
            province: p(&e.province),
            country: p(&e.country),
            zip: p(&e.zip),
            phone: p(&e.phone),
        }
    }
}
