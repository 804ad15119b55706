//! The customer's profile (names, phone, marketing consent): its rules and
//! its event, and the signed-in customer's account update. The profile is personal data: each field travels in a
//! `Personal` wrapper, never in a subject or header.

use authd_events::{CustomerEmailChanged, CustomerEvent, Personal, SecretHash};

pub use super::customer_state::Profile;
use super::{
    customer_password::update_password,
    customer_state::{Customer, verification_requested},
    text,
};
use crate::error::{DomainError, ProfileProblem};

/// The longest name Shopify accepts, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// A change to some fields of a profile: `None` keeps a field; for the
/// optional ones, `Some(None)` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileChange {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub accepts_marketing: Option<bool>,
}

impl ProfileChange {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The profile after the change, its fields checked and normalized
    /// (names trimmed, empty ones removed; the phone in E.164).
    pub fn applied_to(&self, p: &Profile) -> Result<Profile, DomainError> {
        let name = |change: &Option<Option<String>>, old: &Option<String>, field| match change {
            None => Ok(old.clone()),
            Some(None) => Ok(None),
            Some(Some(n)) => check_name(n, field),
        };
        Ok(Profile {
            first_name: name(&self.first_name, &p.first_name, "firstName")?,
            last_name: name(&self.last_name, &p.last_name, "lastName")?,
            phone: match &self.phone {
                None => p.phone.clone(),
                Some(None) => None,
                Some(Some(v)) if v.trim().is_empty() => None,
                Some(Some(v)) => Some(normalize_phone(v)?),
            },
            accepts_marketing: self.accepts_marketing.unwrap_or(p.accepts_marketing),
        })
    }
}

/// The events of changing `s`'s profile to `to`: none when nothing changes.
pub(super) fn change_profile(s: &Customer, to: &Profile) -> Vec<CustomerEvent> {
    if *to == s.profile {
        return vec![];
    }
    vec![CustomerEvent::ProfileChanged(to.to_event())]
}

/// The signed-in customer's change of profile, address (with its
/// verification link) and password (`customer_password::update_password`).
pub(super) fn update_account(
    s: &Customer,
    change: &ProfileChange,
    new_email: &Option<(String, SecretHash, i64)>,
    new_password_hash: &Option<String>,
    keep_session: &Option<String>,
) -> Result<Vec<CustomerEvent>, DomainError> {
    if s.suspended {
        return Err(DomainError::AccountSuspended);
    }
    let mut events = change_profile(s, &change.applied_to(&s.profile)?);
    if let Some((email, token_hash, expires_at)) = new_email {
        events.push(CustomerEvent::EmailChanged(CustomerEmailChanged {
            email: Personal::plain(email.clone()),
        }));
        events.push(verification_requested(*token_hash, *expires_at));
    }
    if let Some(hash) = new_password_hash {
        events.extend(update_password(hash, keep_session));
    }
    Ok(events)
}

/// A name as stored: trimmed, `None` when blank.
fn check_name(name: &str, field: &'static str) -> Result<Option<String>, DomainError> {
    text::check_name(name, field, MAX_NAME_CHARS)
}

/// A phone number in E.164: `+`, then 2 to 15 digits, the first not 0.
/// Spaces, dots, dashes and parentheses between digits are dropped.
pub fn normalize_phone(phone: &str) -> Result<String, DomainError> {
    let invalid = DomainError::Profile {
        field: "phone",
        problem: ProfileProblem::Invalid,
    };
    let phone = phone.trim();
    let Some(rest) = phone.strip_prefix('+') else {
        return Err(invalid);
    };
    if phone.len() > 32 {
        return Err(invalid);
    }
    let mut digits = String::from("+");
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' => {}
            _ => return Err(invalid),
        }
    }
    let n = digits.len() - 1;
    if !(2..=15).contains(&n) || digits.as_bytes()[1] == b'0' {
        return Err(invalid);
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(first: Option<&str>, phone: Option<Option<&str>>) -> ProfileChange {
        ProfileChange {
            first_name: first.map(|f| Some(f.to_string())),
            phone: phone.map(|p| p.map(str::to_string)),
            ..Default::default()
        }
    }

    fn problem(r: Result<Profile, DomainError>) -> Option<(&'static str, ProfileProblem)> {
        match r {
            Err(DomainError::Profile { field, problem }) => Some((field, problem)),
            _ => None,
        }
    }

    #[test]
    fn names_are_trimmed_and_checked_like_shopify_does() {
        let p = Profile::default();
        let ann = change(Some("  Ann "), None).applied_to(&p).unwrap();
        assert_eq!(ann.first_name.as_deref(), Some("Ann"));
        // Unicode names are names.
        assert!(
            change(Some("Zoë Åström-Łukasz 李"), None)
                .applied_to(&p)
                .is_ok()
        );
        let long = "x".repeat(256);
        assert_eq!(
            problem(change(Some(&long), None).applied_to(&p)),
            Some(("firstName", ProfileProblem::TooLong(255)))
        );
        assert!(change(Some(&"é".repeat(255)), None).applied_to(&p).is_ok());
        for html in ["<script>x</script>", "a</b", "<!-- x"] {
            assert_eq!(
                problem(change(Some(html), None).applied_to(&p)),
                Some(("firstName", ProfileProblem::ContainsHtmlTags)),
                "{html}"
            );
        }
        assert!(change(Some("a < b"), None).applied_to(&p).is_ok());
        for url in ["https://evil.example", "see www.evil.example", "HTTP:x"] {
            assert_eq!(
                problem(change(Some(url), None).applied_to(&p)),
                Some(("firstName", ProfileProblem::ContainsUrl)),
                "{url}"
            );
        }
        // A blank name removes it.
        let gone = change(Some("   "), None).applied_to(&ann).unwrap();
        assert_eq!(gone.first_name, None);
    }

    #[test]
    fn phones_are_e164_and_null_removes_one() {
        let p = Profile::default();
        let with = change(None, Some(Some("+1 (613) 555-1111")))
            .applied_to(&p)
            .unwrap();
        assert_eq!(with.phone.as_deref(), Some("+16135551111"));
        for bad in [
            "6135551111",
            "+0123",
            "+1",
            "+1234567890123456",
            "+1 613 x",
            "+",
        ] {
            assert_eq!(
                problem(change(None, Some(Some(bad))).applied_to(&p)),
                Some(("phone", ProfileProblem::Invalid)),
                "{bad}"
            );
        }
        let kept = change(Some("Ann"), None).applied_to(&with).unwrap();
        assert_eq!(kept.phone, with.phone);
        let removed = change(None, Some(None)).applied_to(&with).unwrap();
        assert_eq!(removed.phone, None);
    }

    #[test]
    fn the_event_carries_every_field_as_personal_data() {
        let p = Profile {
            first_name: Some("Ann".into()),
            last_name: None,
            phone: Some("+16135551111".into()),
            accepts_marketing: true,
        };
        let e = p.to_event();
        assert_eq!(format!("{e:?}").matches("<redacted>").count(), 3);
        assert!(!format!("{e:?}").contains("Ann"));
        assert_eq!(Profile::from_event(&e), p);
        assert!(!Profile::from_event(&Profile::default().to_event()).accepts_marketing);
    }
}
