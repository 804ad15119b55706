//! Customer metafields: the `namespace.key`s a project declares that its
//! customers may read (and write), and the values set on a customer. A
//! value is personal data, so it travels in a `Personal` wrapper.

use serde::{Deserialize, Serialize};

use crate::personal::Personal;

/// Who may touch a declared metafield from the Storefront API (admins
/// read and write every declared key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetafieldAccess {
    Read,      // 0
    ReadWrite, // 1
}

/// One declared `namespace.key` and its Shopify metafield type
/// (`single_line_text_field`, `boolean`, `number_integer`, `json`, `date`…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetafieldDefinition {
    pub namespace: String,
    pub key: String,
    pub type_name: String,
    pub access: MetafieldAccess,
}

/// The project's customer metafield declarations, whole, as they are from
/// this event on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMetafieldsDeclared {
    pub definitions: Vec<MetafieldDefinition>,
}

/// One value, checked against its declared type when it was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetafieldValue {
    pub namespace: String,
    pub key: String,
    pub type_name: String,
    pub value: Personal,
}

/// Values set on the customer (each replaces the one under its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMetafieldsSet {
    pub values: Vec<MetafieldValue>,
}
