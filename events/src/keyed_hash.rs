//! Keyed hashes that stand in for personal data in subjects and indexes.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Lower-cases and trims an email so that `A@Example.com ` and `a@example.com`
/// are one address.
/// An address as authd compares addresses: Unicode NFKC (so a fullwidth
/// `ａｎｎ@…` is `ann@…`), lowercased, without surrounding white space. Two
/// addresses are one account exactly when these agree.
pub fn normalize_email(email: &str) -> String {
    if email.is_ascii() {
        // ASCII is its own NFKC: skip the Unicode tables (a replay
        // normalizes every registration's address).
        return email.trim().to_ascii_lowercase();
    }
    nfkc_lowercase(email)
}

/// `normalize_email` for any text: trimmed, NFKC, lowercased.
fn nfkc_lowercase(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    email.trim().nfkc().collect::<String>().to_lowercase()
}

/// HMAC-SHA256 of the normalized email under the deployment's index key, hex
/// encoded: the email-claim aggregate id. Without the key, subjects cannot be
/// matched against a list of addresses.
pub fn email_key(index_key: &[u8], tenant: &str, normalized_email: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(index_key).expect("HMAC takes any key length");
    mac.update(tenant.as_bytes());
    mac.update(&[0]);
    mac.update(normalized_email.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..20])
}

/// The phone-claim aggregate id: `email_key` of the E.164 number in a
/// namespace of its own.
pub fn phone_key(index_key: &[u8], tenant: &str, e164: &str) -> String {
    email_key(index_key, tenant, &format!("phone:{e164}"))
}

/// SHA-256 of a high-entropy secret (refresh token, API key). Such secrets
/// need no slow hash: they cannot be guessed.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_addresses_normalize_as_the_unicode_path_does() {
        let mut every_ascii: String = (0u8..128).map(char::from).collect();
        every_ascii.push_str("@Example.COM");
        for e in [
            " Ann@Example.COM ",
            "\tBOB+tag@EXAMPLE.org\r\n",
            "",
            "   ",
            "x",
            every_ascii.as_str(),
        ] {
            assert!(e.is_ascii());
            assert_eq!(normalize_email(e), nfkc_lowercase(e), "{e:?}");
        }
    }

    #[test]
    fn email_key_ignores_case_and_spaces_but_not_tenant() {
        let k = b"key";
        let a = email_key(k, "p1", &normalize_email(" Ann@Example.COM "));
        assert_eq!(a, email_key(k, "p1", &normalize_email("ann@example.com")));
        // Compatibility forms are the same address (NFKC before lowercasing).
        assert_eq!(
            normalize_email("ＡＮＮ@ｅｘａｍｐｌｅ.com"),
            "ann@example.com"
        );
        assert_eq!(
            normalize_email("ann\u{FB01}x@example.com"),
            "annfix@example.com"
        );
        assert_ne!(a, email_key(k, "p2", &normalize_email("ann@example.com")));
        assert_ne!(
            a,
            email_key(b"other", "p1", &normalize_email("ann@example.com"))
        );
        assert!(crate::subject::is_valid_token(&a));
    }
}
