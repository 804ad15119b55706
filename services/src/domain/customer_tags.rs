//! The customer's tags, set by an admin (Shopify's `Customer.tags`): each
//! one trimmed and checked, repeats (in any case) dropped, at most
//! `MAX_TAGS`; setting the same list again records nothing.

use authd_events::{CustomerEvent, CustomerTagsSet};

use super::{customer_state::Customer, text};
use crate::error::{DomainError, ProfileProblem};

pub(super) const MAX_TAGS: usize = 250;
const MAX_TAG_CHARS: usize = 255;

/// The tags as stored: trimmed, blank ones and repeats left out.
pub(super) fn checked(tags: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let Some(tag) = text::check(tag, "tags", MAX_TAG_CHARS)? else {
            continue;
        };
        // Shopify keeps tags as one comma-separated string.
        if tag.contains(',') {
            return Err(DomainError::Profile {
                field: "tags",
                problem: ProfileProblem::Invalid,
            });
        }
        if !out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(DomainError::Profile {
            field: "tags",
            problem: ProfileProblem::TooLong(MAX_TAGS),
        });
    }
    Ok(out)
}

pub(super) fn set(s: &Customer, tags: &[String]) -> Result<Vec<CustomerEvent>, DomainError> {
    let tags = checked(tags)?;
    if tags == s.tags {
        return Ok(vec![]);
    }
    Ok(vec![CustomerEvent::TagsSet(CustomerTagsSet { tags })])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_checked() {
        assert_eq!(
            checked(&strings(&[" VIP ", "vip", "", "wholesale"])),
            Ok(strings(&["VIP", "wholesale"]))
        );
        let invalid = |problem| {
            Err(DomainError::Profile {
                field: "tags",
                problem,
            })
        };
        assert_eq!(
            checked(&strings(&["a,b"])),
            invalid(ProfileProblem::Invalid)
        );
        assert_eq!(
            checked(&strings(&["<b>x</b>"])),
            invalid(ProfileProblem::ContainsHtmlTags)
        );
        assert_eq!(
            checked(&["x".repeat(256)]),
            invalid(ProfileProblem::TooLong(255))
        );
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(checked(&many), invalid(ProfileProblem::TooLong(MAX_TAGS)));
    }

    #[test]
    fn the_same_tags_again_record_nothing() {
        let mut s = Customer::default();
        let first = set(&s, &strings(&["VIP"])).unwrap();
        assert_eq!(first.len(), 1);
        s.tags = strings(&["VIP"]);
        assert_eq!(set(&s, &strings(&[" VIP", "vip"])), Ok(vec![]));
    }
}
