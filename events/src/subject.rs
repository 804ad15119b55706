//! Every NATS subject authd uses is built here and nowhere else.

use std::fmt;

/// The JetStream stream that holds every auth event.
pub const EVENT_STREAM: &str = "AUTH_EVENTS";
/// The JetStream work-queue stream for outgoing mail.
pub const MAIL_STREAM: &str = "AUTH_MAIL";
/// Subjects captured by [`EVENT_STREAM`].
pub const EVENT_SUBJECTS: &str = "authd.evt.>";
/// Queue group shared by every services instance.
pub const SERVICES_QUEUE_GROUP: &str = "authd-services";
/// Subscription covering every command.
pub const COMMAND_SUBJECTS: &str = "authd.cmd.>";

const EVENT_PREFIX: &str = "authd.evt.";
const COMMAND_PREFIX: &str = "authd.cmd.";

/// The kinds of aggregate, each with its own subject token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateKind {
    Project,
    EmailClaim,
    Customer,
    Session,
    LoginAttempts,
    Otp,
    /// A phone number's claim, as the email's: one customer per number.
    PhoneClaim,
    /// The keys that sign access tokens: one aggregate, [`signing_keys_subject`].
    SigningKeys,
    /// One external-provider login, by its state's hash.
    ProviderLogin,
    /// A provider identity's claim: one customer per (provider, subject).
    ProviderIdentity,
    /// An order, by a keyed hash of the project's `externalId`.
    Order,
    /// A passkey ceremony, by its challenge's hash.
    Webauthn,
}

impl AggregateKind {
    pub fn token(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::EmailClaim => "email",
            Self::Customer => "customer",
            Self::Session => "session",
            Self::LoginAttempts => "login",
            Self::Otp => "otp",
            Self::PhoneClaim => "phone",
            Self::SigningKeys => "keys",
            Self::ProviderLogin => "plogin",
            Self::ProviderIdentity => "ident",
            Self::Order => "order",
            Self::Webauthn => "webauthn",
        }
    }

    /// Aggregates keyed by an address rather than an account (failed logins
    /// for unknown addresses, one-time codes): anyone can make them grow,
    /// so their messages age out (see `StoreConfig::anonymous_ttl`).
    pub fn expires(self) -> bool {
        matches!(
            self,
            Self::LoginAttempts | Self::Otp | Self::ProviderLogin | Self::Webauthn
        )
    }

    pub fn from_token(token: &str) -> Option<Self> {
        Some(match token {
            "project" => Self::Project,
            "email" => Self::EmailClaim,
            "phone" => Self::PhoneClaim,
            "customer" => Self::Customer,
            "session" => Self::Session,
            "login" => Self::LoginAttempts,
            "otp" => Self::Otp,
            "keys" => Self::SigningKeys,
            "plogin" => Self::ProviderLogin,
            "ident" => Self::ProviderIdentity,
            "order" => Self::Order,
            "webauthn" => Self::Webauthn,
            _ => return None,
        })
    }
}

/// A subject token must be non-empty and free of the characters NATS treats specially.
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `authd.evt.<tenant>.<aggregate>.<id>`: the subject of one aggregate's messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggregateSubject {
    pub tenant: String,
    pub kind: AggregateKind,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid subject token {0:?}")]
pub struct InvalidSubject(pub String);

impl AggregateSubject {
    pub fn new(
        tenant: impl Into<String>,
        kind: AggregateKind,
        id: impl Into<String>,
    ) -> Result<Self, InvalidSubject> {
        let (tenant, id) = (tenant.into(), id.into());
        for t in [&tenant, &id] {
            if !is_valid_token(t) {
                return Err(InvalidSubject(t.clone()));
            }
        }
        Ok(Self { tenant, kind, id })
    }

    pub fn parse(subject: &str) -> Option<Self> {
        let rest = subject.strip_prefix(EVENT_PREFIX)?;
        let mut parts = rest.split('.');
        let (tenant, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Self::new(tenant, AggregateKind::from_token(kind)?, id).ok()
    }

    /// Filter for every aggregate of one tenant, for tools.
    pub fn tenant_filter(tenant: &str) -> String {
        format!("{EVENT_PREFIX}{tenant}.>")
    }
}

impl fmt::Display for AggregateSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{EVENT_PREFIX}{}.{}.{}",
            self.tenant,
            self.kind.token(),
            self.id
        )
    }
}

/// The tenant of what belongs to the deployment rather than a project.
/// Project ids are generated (`p_…`), so none is ever this.
pub const SYSTEM_TENANT: &str = "_authd";

/// `authd.evt._authd.keys.jwt`: the ring of access-token signing keys.
pub fn signing_keys_subject() -> AggregateSubject {
    AggregateSubject::new(SYSTEM_TENANT, AggregateKind::SigningKeys, "jwt")
        .expect("a constant, valid subject")
}

/// `authd.cmd.<name>`.
pub fn command_subject(name: &str) -> String {
    format!("{COMMAND_PREFIX}{name}")
}

/// The command name of a command subject, if it is one.
pub fn command_name(subject: &str) -> Option<&str> {
    subject.strip_prefix(COMMAND_PREFIX)
}

/// `authd.mail.<tenant>`.
pub fn mail_subject(tenant: &str) -> String {
    format!("authd.mail.{tenant}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        let s = AggregateSubject::new("p_1", AggregateKind::Customer, "c_2").unwrap();
        assert_eq!(s.to_string(), "authd.evt.p_1.customer.c_2");
        assert_eq!(AggregateSubject::parse(&s.to_string()), Some(s));
    }

    #[test]
    fn tokens_with_wildcards_or_dots_are_refused() {
        for bad in ["", "a.b", "*", ">", "a b", "é"] {
            assert!(
                AggregateSubject::new(bad, AggregateKind::Customer, "x").is_err(),
                "{bad}"
            );
        }
        assert_eq!(AggregateSubject::parse("authd.evt.p.unknown.x"), None);
        assert_eq!(AggregateSubject::parse("authd.evt.p.customer.x.y"), None);
    }
}
