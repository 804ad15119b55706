//! Customer metafields on the Storefront: `Customer.metafield` and
//! `Customer.metafields` (Shopify's shapes) read the keys the project
//! declares; `customerMetafieldsSet` writes its READ_WRITE ones.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use authd_projections::read_metafields::MetafieldRow;
use authd_services::commands::{MetafieldInput, SavedMetafield, SetMetafields};
use sha2::{Digest, Sha256};

use super::{
    addresses::caller,
    types::{CustomerUserError, ShopUserError, answer, refusable},
};
use crate::{command_client::send, error::ApiError, public::types::DateTime};

/// Identifiers read at most per `metafields(identifiers:)`.
pub const MAX_IDENTIFIERS: usize = 250;

/// Shopify's merchant-defined namespace, where none is named.
const DEFAULT_NAMESPACE: &str = "custom";

/// A value under one declared `namespace.key` (Shopify's `Metafield`).
#[derive(SimpleObject, Clone)]
pub struct Metafield {
    /// Stable per customer and key.
    pub id: ID,
    pub namespace: String,
    pub key: String,
    /// The Shopify metafield type (`single_line_text_field`, `json`…).
    #[graphql(name = "type")]
    pub type_name: String,
    /// Always a string, as in Shopify's API (`"true"`, `"42"`, JSON text).
    pub value: String,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

impl Metafield {
    fn id_of(project: &str, customer: &str, namespace: &str, key: &str) -> ID {
        let d = Sha256::digest(format!("{project}\0{customer}\0{namespace}\0{key}"));
        ID(format!("gid://authd/Metafield/{}", hex::encode(&d[..12])))
    }

    pub fn from_row(project: &str, customer: &str, r: MetafieldRow) -> Option<Self> {
        Some(Self {
            id: Self::id_of(project, customer, &r.namespace, &r.key),
            value: r.value?,
            namespace: r.namespace,
            key: r.key,
            type_name: r.type_name,
            created_at: DateTime(r.created_at),
            updated_at: DateTime(r.updated_at),
        })
    }

    pub fn from_saved(project: &str, customer: &str, m: SavedMetafield) -> Self {
        Self {
            id: Self::id_of(project, customer, &m.namespace, &m.key),
            namespace: m.namespace,
            key: m.key,
            type_name: m.type_name,
            value: m.value,
            created_at: DateTime(m.created_at),
            updated_at: DateTime(m.updated_at),
        }
    }
}

/// Shopify's `HasMetafieldsIdentifier`.
#[derive(InputObject, Clone)]
pub struct HasMetafieldsIdentifier {
    /// `custom` when left out.
    pub namespace: Option<String>,
    pub key: String,
}

/// One value to write; `type`, when given, must be the declared one.
#[derive(InputObject, Clone)]
pub struct CustomerMetafieldsSetInput {
    pub namespace: Option<String>,
    pub key: String,
    #[graphql(name = "type")]
    pub type_name: Option<String>,
    pub value: String,
}

impl From<CustomerMetafieldsSetInput> for MetafieldInput {
    fn from(i: CustomerMetafieldsSetInput) -> Self {
        Self {
            namespace: i.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            key: i.key,
            type_name: i.type_name,
            value: i.value,
        }
    }
}

/// The values under `identifiers` (null for an undeclared key or one
/// without a value), in their order: every declared key is readable.
pub fn read(
    ctx: &Context<'_>,
    customer: &str,
    identifiers: &[(String, String)],
) -> Result<Vec<Option<Metafield>>> {
    if identifiers.len() > MAX_IDENTIFIERS {
        return Err(ApiError::bad_request(format!("at most {MAX_IDENTIFIERS} identifiers")).into());
    }
    let (state, rc, _) = super::resolver::request(ctx);
    let project = &rc.project_id;
    let declared = state
        .read
        .metafield_definitions(project)
        .map_err(ApiError::internal)?;
    let keys: Vec<(&str, &str)> = identifiers
        .iter()
        .filter(|(n, k)| declared.iter().any(|d| d.namespace == *n && d.key == *k))
        .map(|(n, k)| (n.as_str(), k.as_str()))
        .collect();
    let rows = if keys.is_empty() {
        vec![]
    } else {
        state
            .read
            .metafields(project, customer, &keys)
            .map_err(ApiError::internal)?
    };
    Ok(identifiers
        .iter()
        .map(|(n, k)| {
            let row = rows.iter().find(|r| r.namespace == *n && r.key == *k)?;
            // Declared with another type since: not this key's value any more.
            let def = declared.iter().find(|d| d.namespace == *n && d.key == *k)?;
            if def.type_name != row.type_name {
                return None;
            }
            Metafield::from_row(project, customer, row.clone())
        })
        .collect())
}

pub fn identifier(namespace: Option<String>, key: String) -> (String, String) {
    (namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into()), key)
}

#[derive(SimpleObject, Default)]
pub struct CustomerMetafieldsSetPayload {
    pub metafields: Option<Vec<Metafield>>,
    pub customer_user_errors: Vec<CustomerUserError>,
    pub user_errors: Vec<ShopUserError>,
}

refusable!(CustomerMetafieldsSetPayload);

/// `metafields.2.value` → `["metafields", "2", "value"]`.
fn metafield_path(field: &str) -> Option<Vec<String>> {
    match field {
        "token" | "sessionId" => Some(vec!["customerAccessToken".into()]),
        _ => Some(field.split('.').map(Into::into).collect()),
    }
}

#[derive(Default)]
pub struct MetafieldMutation;

#[Object]
impl MetafieldMutation {
    /// Sets the signed-in customer's values under keys the project
    /// declares READ_WRITE; each must parse as its declared type (at most
    /// 64 KiB, 25 per call). All are set or none.
    async fn customer_metafields_set(
        &self,
        ctx: &Context<'_>,
        customer_access_token: String,
        metafields: Vec<CustomerMetafieldsSetInput>,
    ) -> Result<CustomerMetafieldsSetPayload> {
        answer(
            async {
                let (from, session_id) = caller(ctx, &customer_access_token).await?;
                let (state, rc, _) = super::resolver::request(ctx);
                let customer = match &from.actor {
                    authd_events::Actor::Customer(id) => id.clone(),
                    _ => String::new(),
                };
                let set = SetMetafields {
                    session_id,
                    metafields: metafields.into_iter().map(Into::into).collect(),
                };
                let saved = send(state, &from, set).await?;
                let metafields = saved
                    .metafields
                    .into_iter()
                    .map(|m| Metafield::from_saved(&rc.project_id, &customer, m))
                    .collect();
                Ok(CustomerMetafieldsSetPayload {
                    metafields: Some(metafields),
                    ..Default::default()
                })
            }
            .await,
            metafield_path,
        )
    }
}
