//! The checks every free-text field of a customer's data passes (names,
//! address lines): a length, no HTML tags, no control characters, and for
//! names no URL.

use crate::error::{DomainError, ProfileProblem};

/// A field as stored: trimmed, `None` when blank.
pub(super) fn check(
    value: &str,
    field: &'static str,
    max_chars: usize,
) -> Result<Option<String>, DomainError> {
    checked(value, field, max_chars, false)
}

/// As `check`, and refusing a URL (a name is no place for a link).
pub(super) fn check_name(
    value: &str,
    field: &'static str,
    max_chars: usize,
) -> Result<Option<String>, DomainError> {
    checked(value, field, max_chars, true)
}

fn checked(
    value: &str,
    field: &'static str,
    max_chars: usize,
    refuse_urls: bool,
) -> Result<Option<String>, DomainError> {
    let value = value.trim();
    let problem = |problem| DomainError::Profile { field, problem };
    if value.chars().count() > max_chars {
        return Err(problem(ProfileProblem::TooLong(max_chars)));
    }
    if contains_html_tag(value) {
        return Err(problem(ProfileProblem::ContainsHtmlTags));
    }
    if refuse_urls && contains_url(value) {
        return Err(problem(ProfileProblem::ContainsUrl));
    }
    if value.chars().any(char::is_control) {
        return Err(problem(ProfileProblem::Invalid));
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

/// `<` followed by a letter, `/` or `!` opens a tag as browsers read it.
fn contains_html_tag(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
}

fn contains_url(s: &str) -> bool {
    let lower = s.to_lowercase();
    lower.contains("://") || lower.contains("www.") || lower.contains("http:")
}
