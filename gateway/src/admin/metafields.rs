//! Customer metafields for admins: the project's declarations (read on
//! `project { settings { customerMetafields } }`, written with
//! `projectConfigure(input: { customerMetafields })`), a customer's
//! values (`customer { metafields }`) and `customerMetafieldsSet`, which
//! writes any declared key.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use authd_events::metafield::{MetafieldAccess, MetafieldDefinition};
use authd_services::commands::AdminSetMetafields;

use super::resolver::{ctx_of, send};
use crate::{
    error::{ApiError, UserError, payloads, respond},
    storefront::metafields::{CustomerMetafieldsSetInput, Metafield},
};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "MetafieldAccess")]
pub enum Access {
    /// Customers read it; only admins write it.
    Read,
    /// Customers read and write it (`customerMetafieldsSet`).
    ReadWrite,
}

/// One `namespace.key` customers' metafields may hold.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "CustomerMetafieldDefinitionInput")]
pub struct CustomerMetafieldDefinition {
    /// 2–255 of `A-Z a-z 0-9 _ -` (`custom`).
    pub namespace: String,
    /// 2–64 of `A-Z a-z 0-9 _ -`.
    pub key: String,
    /// `single_line_text_field`, `multi_line_text_field`, `boolean`,
    /// `number_integer`, `number_decimal`, `json`, `date`, `date_time`,
    /// `url` or `color`.
    #[graphql(name = "type")]
    pub type_name: String,
    pub access: Access,
}

impl From<CustomerMetafieldDefinition> for MetafieldDefinition {
    fn from(d: CustomerMetafieldDefinition) -> Self {
        Self {
            namespace: d.namespace,
            key: d.key,
            type_name: d.type_name,
            access: match d.access {
                Access::Read => MetafieldAccess::Read,
                Access::ReadWrite => MetafieldAccess::ReadWrite,
            },
        }
    }
}

impl From<MetafieldDefinition> for CustomerMetafieldDefinition {
    fn from(d: MetafieldDefinition) -> Self {
        Self {
            namespace: d.namespace,
            key: d.key,
            type_name: d.type_name,
            access: match d.access {
                MetafieldAccess::Read => Access::Read,
                MetafieldAccess::ReadWrite => Access::ReadWrite,
            },
        }
    }
}

/// Every declared key's value the customer holds, in declaration order.
pub fn of_customer(ctx: &Context<'_>, customer: &str) -> Result<Vec<Metafield>> {
    let (state, admin) = ctx_of(ctx);
    let project = &admin.inner.project_id;
    let declared = state
        .read
        .metafield_definitions(project)
        .map_err(ApiError::internal)?;
    let keys: Vec<(&str, &str)> = declared
        .iter()
        .map(|d| (d.namespace.as_str(), d.key.as_str()))
        .collect();
    let rows = state
        .read
        .metafields(project, customer, &keys)
        .map_err(ApiError::internal)?;
    Ok(declared
        .iter()
        .filter_map(|d| {
            let r = rows.iter().find(|r| {
                r.namespace == d.namespace && r.key == d.key && r.type_name == d.type_name
            })?;
            Metafield::from_row(project, customer, r.clone())
        })
        .collect())
}

#[derive(SimpleObject, Default)]
pub struct CustomerMetafieldsSetResponse {
    pub success: bool,
    pub message: Option<String>,
    pub metafields: Option<Vec<Metafield>>,
    pub errors: Vec<UserError>,
}

payloads!(CustomerMetafieldsSetResponse);

#[derive(Default)]
pub struct MetafieldMutation;

#[Object]
impl MetafieldMutation {
    /// Sets a customer's values under any declared key (READ ones too);
    /// each must parse as its declared type. All are set or none.
    async fn customer_metafields_set(
        &self,
        ctx: &Context<'_>,
        id: ID,
        metafields: Vec<CustomerMetafieldsSetInput>,
    ) -> Result<CustomerMetafieldsSetResponse> {
        let (_, admin) = ctx_of(ctx);
        let project = admin.inner.project_id.clone();
        let set = AdminSetMetafields {
            customer_id: id.0.clone(),
            metafields: metafields.into_iter().map(Into::into).collect(),
        };
        respond(send(ctx, set).await.map(|saved| {
            CustomerMetafieldsSetResponse {
                success: true,
                message: Some("metafields set".into()),
                metafields: Some(
                    saved
                        .metafields
                        .into_iter()
                        .map(|m| Metafield::from_saved(&project, &id, m))
                        .collect(),
                ),
                errors: vec![],
            }
        }))
    }
}
