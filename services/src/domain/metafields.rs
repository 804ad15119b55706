//! Customer metafields as a project declares them (`namespace.key`, one of
//! Shopify's metafield types, READ or READ_WRITE from the Storefront), and
//! whether a value parses as its type.

use authd_events::metafield::{MetafieldAccess, MetafieldDefinition};

use crate::error::{DomainError, MetafieldProblem};

/// At most this many declarations per project.
pub const MAX_DEFINITIONS: usize = 100;
/// A value's size limit, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// At most this many values in one write.
pub const MAX_VALUES_PER_SET: usize = 25;

/// What the customer state keeps of a value: enough to tell a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMetafield {
    pub namespace: String,
    pub key: String,
    pub digest: [u8; 16],
    pub created_at: i64,
    pub updated_at: i64,
}

/// The Shopify metafield types a declaration may name.
pub const TYPES: &[&str] = &[
    "single_line_text_field",
    "multi_line_text_field",
    "boolean",
    "number_integer",
    "number_decimal",
    "json",
    "date",
    "date_time",
    "url",
    "color",
];

/// The namespace `metafield(key:)` reads when none is given (Shopify's
/// merchant-defined one).
pub const DEFAULT_NAMESPACE: &str = "custom";

/// The declarations as stored, or the first one at fault (by index).
pub fn checked_definitions(
    definitions: &[MetafieldDefinition],
) -> Result<Vec<MetafieldDefinition>, DomainError> {
    let refused = |index, field, problem| DomainError::Metafield {
        list: "customerMetafields",
        index,
        field,
        problem,
    };
    if definitions.len() > MAX_DEFINITIONS {
        return Err(refused(
            MAX_DEFINITIONS,
            "key",
            MetafieldProblem::TooMany(MAX_DEFINITIONS),
        ));
    }
    let mut out: Vec<MetafieldDefinition> = Vec::with_capacity(definitions.len());
    for (i, d) in definitions.iter().enumerate() {
        let namespace = d.namespace.trim();
        let key = d.key.trim();
        if !identifier_ok(namespace, 255) {
            return Err(refused(i, "namespace", MetafieldProblem::BadIdentifier));
        }
        if !identifier_ok(key, 64) {
            return Err(refused(i, "key", MetafieldProblem::BadIdentifier));
        }
        if !TYPES.contains(&d.type_name.as_str()) {
            return Err(refused(i, "type", MetafieldProblem::UnknownType));
        }
        if out.iter().any(|o| o.namespace == namespace && o.key == key) {
            return Err(refused(i, "key", MetafieldProblem::Repeated));
        }
        out.push(MetafieldDefinition {
            namespace: namespace.to_string(),
            key: key.to_string(),
            type_name: d.type_name.clone(),
            access: d.access,
        });
    }
    Ok(out)
}

/// 2 to `max` characters of `[A-Za-z0-9_-]` (Shopify's rule).
fn identifier_ok(s: &str, max: usize) -> bool {
    (2..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The declaration of `namespace.key`, if any.
pub fn declared<'a>(
    definitions: &'a [MetafieldDefinition],
    namespace: &str,
    key: &str,
) -> Option<&'a MetafieldDefinition> {
    definitions
        .iter()
        .find(|d| d.namespace == namespace && d.key == key)
}

/// Whether the Storefront (the customer) may write it.
pub fn customer_writable(d: &MetafieldDefinition) -> bool {
    d.access == MetafieldAccess::ReadWrite
}

/// Whether `value` is a well-formed value of `type_name`.
pub fn value_parses(type_name: &str, value: &str) -> bool {
    match type_name {
        "single_line_text_field" => !value.contains(['\n', '\r']),
        "multi_line_text_field" => true,
        "boolean" => value == "true" || value == "false",
        "number_integer" => value
            .parse::<i64>()
            .is_ok_and(|n| n.unsigned_abs() <= 9_007_199_254_740_991),
        "number_decimal" => decimal_ok(value),
        "json" => serde_json::from_str::<serde_json::Value>(value).is_ok(),
        "date" => time::Date::parse(
            value,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_ok(),
        "date_time" => date_time_ok(value),
        "url" => url::Url::parse(value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "mailto" | "sms" | "tel")),
        "color" => {
            value.len() == 7
                && value.starts_with('#')
                && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
        }
        _ => false,
    }
}

/// `-12.5`, `3`: digits, at most one point, an optional leading minus.
fn decimal_ok(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.len() <= 15
        && fraction.len() <= 9
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 3339 (`2026-05-01T10:00:00Z`) or ISO 8601 without an offset
/// (`2026-05-01T10:00:00`), as Shopify takes them.
fn date_time_ok(value: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(value, &Rfc3339).is_ok()
        || time::PrimitiveDateTime::parse(
            value,
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(namespace: &str, key: &str, type_name: &str) -> MetafieldDefinition {
        MetafieldDefinition {
            namespace: namespace.into(),
            key: key.into(),
            type_name: type_name.into(),
            access: MetafieldAccess::ReadWrite,
        }
    }

    fn refusal(index: usize, field: &'static str, problem: MetafieldProblem) -> DomainError {
        DomainError::Metafield {
            list: "customerMetafields",
            index,
            field,
            problem,
        }
    }

    #[test]
    fn declarations_are_trimmed_and_checked_one_by_one() {
        let ok = checked_definitions(&[def(" custom ", "birthday", "date")]).unwrap();
        assert_eq!(ok, vec![def("custom", "birthday", "date")]);
        assert_eq!(
            checked_definitions(&[def("custom", "a", "date")]),
            Err(refusal(0, "key", MetafieldProblem::BadIdentifier))
        );
        assert_eq!(
            checked_definitions(&[def("custom", "ok", "date"), def("cus tom", "ok", "date")]),
            Err(refusal(1, "namespace", MetafieldProblem::BadIdentifier))
        );
        assert_eq!(
            checked_definitions(&[def("custom", "ok", "money")]),
            Err(refusal(0, "type", MetafieldProblem::UnknownType))
        );
        assert_eq!(
            checked_definitions(&[def("custom", "ok", "date"), def("custom", "ok", "json")]),
            Err(refusal(1, "key", MetafieldProblem::Repeated))
        );
        let many: Vec<_> = (0..=MAX_DEFINITIONS)
            .map(|i| def("custom", &format!("k{i}"), "json"))
            .collect();
        assert!(matches!(
            checked_definitions(&many),
            Err(DomainError::Metafield {
                problem: MetafieldProblem::TooMany(MAX_DEFINITIONS),
                ..
            })
        ));
    }

    #[test]
    fn each_type_takes_its_own_values_only() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("single_line_text_field", &["hello", ""], &["two\nlines"]),
            ("multi_line_text_field", &["two\nlines"], &[]),
            ("boolean", &["true", "false"], &["yes", "TRUE", "1"]),
            (
                "number_integer",
                &["42", "-7"],
                &["4.2", "x", "9007199254740992"],
            ),
            (
                "number_decimal",
                &["4.25", "-1", "10.0"],
                &["1.", ".5", "1e3", "x"],
            ),
            ("json", &["{\"a\":[1,2]}", "3"], &["{a:1}", ""]),
            ("date", &["2026-02-28"], &["2026-02-30", "28/02/2026"]),
            (
                "date_time",
                &["2026-05-01T10:00:00Z", "2026-05-01T10:00:00"],
                &["2026-05-01", "yesterday"],
            ),
            (
                "url",
                &["https://shop.example/a", "mailto:a@b.c"],
                &["javascript:alert(1)", "x"],
            ),
            ("color", &["#00ff7F"], &["red", "#12345"]),
        ];
        for (type_name, good, bad) in cases {
            for v in *good {
                assert!(value_parses(type_name, v), "{type_name} should take {v:?}");
            }
            for v in *bad {
                assert!(
                    !value_parses(type_name, v),
                    "{type_name} should refuse {v:?}"
                );
            }
        }
        assert!(!value_parses("money", "1"));
    }
}
