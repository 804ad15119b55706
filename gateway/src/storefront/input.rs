//! Checks the Storefront API makes before sending a command, in Shopify's
//! terms (`BLANK`, `BAD_DOMAIN`, `PASSWORD_STARTS_OR_ENDS_WITH_WHITESPACE`),
//! all at once, so a form can show every problem together.

use super::types::{CustomerErrorCode as Code, CustomerUserError};

/// The longest address anyone can have (RFC 5321).
const MAX_EMAIL_BYTES: usize = 254;

pub fn check_email(email: &str, path: &[&str]) -> Vec<CustomerUserError> {
    let email = email.trim();
    let refuse = |message: &str, code| vec![CustomerUserError::new(path, message, code)];
    if email.is_empty() {
        return refuse("email can't be blank", Code::Blank);
    }
    if email.len() > MAX_EMAIL_BYTES {
        return refuse("email is too long (at most 254 characters)", Code::TooLong);
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return refuse("email is invalid", Code::Invalid);
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return refuse("email is invalid", Code::Invalid);
    }
    if !domain_ok(domain) {
        return refuse("email contains an invalid domain name", Code::BadDomain);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("email is invalid", Code::Invalid);
    }
    vec![]
}

/// A host name with at least two labels, each 1 to 63 letters, digits or
/// inner hyphens, the last not all digits.
fn domain_ok(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars().count() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
}

pub fn check_password(password: &str, path: &[&str]) -> Vec<CustomerUserError> {
    if password.is_empty() {
        return vec![CustomerUserError::new(
            path,
            "password can't be blank",
            Code::Blank,
        )];
    }
    if password.trim() != password {
        return vec![CustomerUserError::new(
            path,
            "password cannot start or end with whitespace",
            Code::PasswordStartsOrEndsWithWhitespace,
        )];
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(errors: Vec<CustomerUserError>) -> Option<Code> {
        errors.first().and_then(|e| e.code)
    }

    #[test]
    fn emails_are_refused_with_shopify_codes() {
        let p = &["input", "email"];
        assert_eq!(code(check_email("ann@shop.example", p)), None);
        assert_eq!(code(check_email(" Ann@Example.COM ", p)), None);
        assert_eq!(code(check_email("zoë@bücher.de", p)), None);
        assert_eq!(code(check_email("   ", p)), Some(Code::Blank));
        assert_eq!(code(check_email("ann", p)), Some(Code::Invalid));
        assert_eq!(code(check_email("@shop.example", p)), Some(Code::Invalid));
        assert_eq!(
            code(check_email("a b@shop.example", p)),
            Some(Code::Invalid)
        );
        for bad in [
            "ann@localhost",
            "ann@shop..example",
            "ann@-shop.example",
            "ann@1.2.3.4",
        ] {
            assert_eq!(code(check_email(bad, p)), Some(Code::BadDomain), "{bad}");
        }
        let long = format!("{}@{}.example", "a".repeat(60), "b".repeat(200));
        assert_eq!(code(check_email(&long, p)), Some(Code::TooLong));
        let e = &check_email("", p)[0];
        assert_eq!(e.field, Some(vec!["input".into(), "email".into()]));
    }

    #[test]
    fn passwords_must_not_be_blank_or_padded() {
        let p = &["input", "password"];
        assert_eq!(code(check_password("correct horse", p)), None);
        assert_eq!(code(check_password("", p)), Some(Code::Blank));
        for padded in [" secret123", "secret123 ", "\tsecret123", "secret123\n"] {
            assert_eq!(
                code(check_password(padded, p)),
                Some(Code::PasswordStartsOrEndsWithWhitespace)
            );
        }
    }
}
