//! Metafield values on a customer: each checked against the project's
//! declarations (declared, writable by the one who writes, the declared
//! type, a value that parses as it, at most 64 KiB); a value equal to the
//! one stored records nothing.

use authd_events::{
    CustomerEvent, Personal,
    metafield::{CustomerMetafieldsSet, MetafieldDefinition, MetafieldValue},
};
use sha2::{Digest, Sha256};

use super::{
    customer_state::Customer,
    metafields::{self, StoredMetafield},
};
use crate::error::{DomainError, MetafieldProblem};

/// One value to write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetafieldInput {
    pub namespace: String,
    pub key: String,
    /// When given, it must be the declared type.
    pub type_name: Option<String>,
    pub value: String,
}

/// Who writes: the customer (READ_WRITE keys only) or an admin (every
/// declared key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Customer,
    Admin,
}

#[derive(Debug, Clone)]
pub struct SetMetafields {
    pub definitions: Vec<MetafieldDefinition>,
    pub values: Vec<MetafieldInput>,
    pub writer: Writer,
}

fn digest(type_name: &str, value: &str) -> [u8; 16] {
    let d = Sha256::digest(format!("{type_name}\0{value}"));
    d[..16].try_into().expect("16 of 32 bytes")
}

/// The values as they will be stored (the declared type filled in), or
/// the first one at fault.
pub fn checked(cmd: &SetMetafields) -> Result<Vec<MetafieldValue>, DomainError> {
    let refused = |index, field, problem| DomainError::Metafield {
        list: "metafields",
        index,
        field,
        problem,
    };
    let max = metafields::MAX_VALUES_PER_SET;
    if cmd.values.len() > max {
        return Err(refused(max, "key", MetafieldProblem::TooMany(max)));
    }
    let mut out: Vec<MetafieldValue> = Vec::with_capacity(cmd.values.len());
    for (i, v) in cmd.values.iter().enumerate() {
        let Some(def) = metafields::declared(&cmd.definitions, &v.namespace, &v.key) else {
            return Err(refused(i, "key", MetafieldProblem::NotDeclared));
        };
        if cmd.writer == Writer::Customer && !metafields::customer_writable(def) {
            return Err(refused(i, "key", MetafieldProblem::ReadOnly));
        }
        let type_name: &'static str = metafields::TYPES
            .iter()
            .find(|t| **t == def.type_name)
            .copied()
            .unwrap_or("unknown");
        if v.type_name.as_deref().is_some_and(|t| t != def.type_name) {
            return Err(refused(i, "type", MetafieldProblem::WrongType(type_name)));
        }
        if v.value.len() > metafields::MAX_VALUE_BYTES {
            return Err(refused(
                i,
                "value",
                MetafieldProblem::ValueTooLong(metafields::MAX_VALUE_BYTES),
            ));
        }
        if !metafields::value_parses(&def.type_name, &v.value) {
            return Err(refused(i, "value", MetafieldProblem::BadValue(type_name)));
        }
        if out
            .iter()
            .any(|o| o.namespace == def.namespace && o.key == def.key)
        {
            return Err(refused(i, "key", MetafieldProblem::Repeated));
        }
        out.push(MetafieldValue {
            namespace: def.namespace.clone(),
            key: def.key.clone(),
            type_name: def.type_name.clone(),
            value: Personal::plain(v.value.clone()),
        });
    }
    Ok(out)
}

pub(super) fn set(s: &Customer, cmd: &SetMetafields) -> Result<Vec<CustomerEvent>, DomainError> {
    let values: Vec<MetafieldValue> = checked(cmd)?
        .into_iter()
        .filter(|v| {
            let d = digest(&v.type_name, v.value.as_plain().unwrap_or_default());
            !s.metafields
                .iter()
                .any(|m| m.namespace == v.namespace && m.key == v.key && m.digest == d)
        })
        .collect();
    if values.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![CustomerEvent::MetafieldsSet(CustomerMetafieldsSet {
        values,
    })])
}

pub(super) fn evolve(s: &mut Customer, e: &CustomerMetafieldsSet, at: i64) {
    for v in &e.values {
        let d = digest(&v.type_name, v.value.as_plain().unwrap_or_default());
        match s
            .metafields
            .iter_mut()
            .find(|m| m.namespace == v.namespace && m.key == v.key)
        {
            Some(m) => {
                m.digest = d;
                m.updated_at = at;
            }
            None => s.metafields.push(StoredMetafield {
                namespace: v.namespace.clone(),
                key: v.key.clone(),
                digest: d,
                created_at: at,
                updated_at: at,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authd_events::metafield::MetafieldAccess;

    fn def(key: &str, type_name: &str, access: MetafieldAccess) -> MetafieldDefinition {
        MetafieldDefinition {
            namespace: "custom".into(),
            key: key.into(),
            type_name: type_name.into(),
            access,
        }
    }

    fn input(key: &str, type_name: Option<&str>, value: &str) -> MetafieldInput {
        MetafieldInput {
            namespace: "custom".into(),
            key: key.into(),
            type_name: type_name.map(Into::into),
            value: value.into(),
        }
    }

    fn cmd(values: Vec<MetafieldInput>, writer: Writer) -> SetMetafields {
        SetMetafields {
            definitions: vec![
                def("birthday", "date", MetafieldAccess::ReadWrite),
                def("tier", "single_line_text_field", MetafieldAccess::Read),
            ],
            values,
            writer,
        }
    }

    fn refusal(index: usize, field: &'static str, problem: MetafieldProblem) -> DomainError {
        DomainError::Metafield {
            list: "metafields",
            index,
            field,
            problem,
        }
    }

    fn set_on(s: &Customer, values: Vec<MetafieldInput>, w: Writer) -> Vec<CustomerEvent> {
        set(s, &cmd(values, w)).unwrap()
    }

    #[test]
    fn a_customer_writes_declared_writable_keys_with_values_of_their_type() {
        let s = Customer::default();
        let events = set_on(
            &s,
            vec![input("birthday", None, "1990-04-01")],
            Writer::Customer,
        );
        let [CustomerEvent::MetafieldsSet(e)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(e.values[0].type_name, "date");
        assert_eq!(e.values[0].value.as_plain(), Some("1990-04-01"));

        let refused = |values, w| set(&s, &cmd(values, w)).unwrap_err();
        assert_eq!(
            refused(vec![input("tier", None, "gold")], Writer::Customer),
            refusal(0, "key", MetafieldProblem::ReadOnly)
        );
        assert_eq!(
            refused(
                vec![
                    input("birthday", None, "1990-04-01"),
                    input("nope", None, "x")
                ],
                Writer::Customer
            ),
            refusal(1, "key", MetafieldProblem::NotDeclared)
        );
        assert_eq!(
            refused(vec![input("birthday", Some("json"), "1")], Writer::Admin),
            refusal(0, "type", MetafieldProblem::WrongType("date"))
        );
        assert_eq!(
            refused(vec![input("birthday", None, "April")], Writer::Admin),
            refusal(0, "value", MetafieldProblem::BadValue("date"))
        );
        let huge = "x".repeat(metafields::MAX_VALUE_BYTES + 1);
        assert_eq!(
            refused(vec![input("tier", None, &huge)], Writer::Admin),
            refusal(
                0,
                "value",
                MetafieldProblem::ValueTooLong(metafields::MAX_VALUE_BYTES)
            )
        );
        // An admin writes read-only keys.
        assert_eq!(
            set_on(&s, vec![input("tier", None, "gold")], Writer::Admin).len(),
            1
        );
    }

    #[test]
    fn the_same_value_again_records_nothing_and_a_change_keeps_created_at() {
        let mut s = Customer::default();
        let events = set_on(
            &s,
            vec![input("birthday", None, "1990-04-01")],
            Writer::Customer,
        );
        let CustomerEvent::MetafieldsSet(e) = &events[0] else {
            panic!()
        };
        evolve(&mut s, e, 10);
        assert!(
            set_on(
                &s,
                vec![input("birthday", None, "1990-04-01")],
                Writer::Customer
            )
            .is_empty()
        );
        let events = set_on(
            &s,
            vec![input("birthday", None, "1990-04-02")],
            Writer::Customer,
        );
        let CustomerEvent::MetafieldsSet(e) = &events[0] else {
            panic!()
        };
        evolve(&mut s, e, 20);
        assert_eq!(
            (s.metafields[0].created_at, s.metafields[0].updated_at),
            (10, 20)
        );
    }
}
