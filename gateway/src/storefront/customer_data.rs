//! The signed-in `Customer`'s own data on the Storefront: addresses
//! (`defaultAddress`, `addresses`) and orders (`orders`,
//! `numberOfOrders`).

use async_graphql::{ComplexObject, Context, Result};

use super::{
    mailing_address::{MailingAddress, MailingAddressConnection, PageArgs, connection},
    metafields::{self, HasMetafieldsIdentifier, Metafield},
    orders::{OrderConnection, OrderSortKeys, UnsignedInt64},
    types::Customer,
};
use crate::error::ApiError;

#[ComplexObject]
impl Customer {
    async fn default_address(&self, ctx: &Context<'_>) -> Result<Option<MailingAddress>> {
        let (state, rc, _) = super::resolver::request(ctx);
        let row = state
            .read
            .default_address(&rc.project_id, &self.id)
            .map_err(ApiError::internal)?;
        Ok(row.map(MailingAddress::from_row))
    }

    /// The customer's addresses, oldest first (newest with `reverse`).
    async fn addresses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default_with = "Some(false)")] reverse: Option<bool>,
    ) -> Result<MailingAddressConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse: reverse.unwrap_or(false),
        };
        let request = args.request()?;
        let (state, rc, _) = super::resolver::request(ctx);
        let page = state
            .read
            .addresses(&rc.project_id, &self.id, request)
            .map_err(ApiError::internal)?;
        Ok(connection(page))
    }

    /// The customer's orders: by `sortKey` (`ID`, the order they were
    /// first recorded in; `PROCESSED_AT`; `TOTAL_PRICE`; `RELEVANCE` is
    /// `ID`), filtered by Shopify's search syntax (`processed_at:>=2026-01-01
    /// financial_status:paid fulfillment_status:fulfilled name:#1001`,
    /// terms ANDed).
    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default_with = "Some(false)")] reverse: Option<bool>,
        #[graphql(default_with = "Some(OrderSortKeys::Id)")] sort_key: Option<OrderSortKeys>,
        query: Option<String>,
    ) -> Result<OrderConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse: reverse.unwrap_or(false),
        };
        let sort_key = sort_key.unwrap_or(OrderSortKeys::Id);
        self.order_page(ctx, args, sort_key, query).await
    }

    /// Set by the shop's admins (`customerTagsSet`).
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let (state, rc, _) = super::resolver::request(ctx);
        Ok(state
            .read
            .customer_tags(&rc.project_id, &self.id)
            .map_err(ApiError::internal)?)
    }

    /// The value under a key the project declares (`namespace` defaults
    /// to `custom`); null when there is none.
    async fn metafield(
        &self,
        ctx: &Context<'_>,
        namespace: Option<String>,
        key: String,
    ) -> Result<Option<Metafield>> {
        let id = metafields::identifier(namespace, key);
        Ok(metafields::read(ctx, &self.id, &[id])?.pop().flatten())
    }

    /// The values under `identifiers`, in their order (null where there
    /// is none); at most 250.
    async fn metafields(
        &self,
        ctx: &Context<'_>,
        identifiers: Vec<HasMetafieldsIdentifier>,
    ) -> Result<Vec<Option<Metafield>>> {
        let ids: Vec<_> = identifiers
            .into_iter()
            .map(|i| metafields::identifier(i.namespace, i.key))
            .collect();
        metafields::read(ctx, &self.id, &ids)
    }

    async fn number_of_orders(&self, ctx: &Context<'_>) -> Result<UnsignedInt64> {
        self.order_count(ctx).await
    }
}
