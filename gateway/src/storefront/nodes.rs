//! `node(id)` and `nodes(ids)`: the caller's own `Order`s and
//! `MailingAddress`es by their global ids; anyone else's, or any id
//! without a live token (`Authorization: Bearer` or the session cookie),
//! answers null.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::{
    mailing_address::{MAX_PAGE, MailingAddress, address_id},
    orders::{ORDER_GID, Order},
    session::live_session,
};
use crate::error::ApiError;

#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID"))]
// An order is larger than an address; one is built per id asked for.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    MailingAddress(MailingAddress),
    Order(Order),
}

/// The prefix Hydrogen's order page rebuilds an order's id with
/// (`gid://shopify/Order/<id>?key=<key>` from the `/account/orders/<id>`
/// URL): the same order. Its `key` is not needed: only the caller's own
/// orders resolve.
const SHOPIFY_ORDER_GID: &str = "gid://shopify/Order/";

/// The stored id of an order's global id (ours or Shopify's form; a
/// `?key=` query is ignored).
fn order_id(gid: &str) -> Option<&str> {
    let gid = gid.trim();
    let id = gid
        .strip_prefix(ORDER_GID)
        .or_else(|| gid.strip_prefix(SHOPIFY_ORDER_GID))?;
    let id = id.split('?').next().unwrap_or(id);
    let ok = !id.is_empty() && id.len() <= 128 && authd_events::subject::is_valid_token(id);
    ok.then_some(id)
}

async fn resolve(ctx: &Context<'_>, customer: &str, gid: &str) -> Result<Option<Node>> {
    let (state, rc, _) = super::resolver::request(ctx);
    if let Some(id) = order_id(gid) {
        let row = state
            .read
            .order(&rc.project_id, customer, id)
            .map_err(ApiError::internal)?;
        return Ok(row.map(|r| Node::Order(Order::from_row(r))));
    }
    if let Some(id) = address_id(gid) {
        let row = state
            .read
            .address(&rc.project_id, customer, &id)
            .map_err(ApiError::internal)?;
        return Ok(row.map(|r| Node::MailingAddress(MailingAddress::from_row(r))));
    }
    Ok(None)
}

/// The caller's customer, from the carried token.
async fn caller(ctx: &Context<'_>) -> Result<Option<String>> {
    let (state, rc, carried) = super::resolver::request(ctx);
    let Some(token) = carried.token(None) else {
        return Ok(None);
    };
    Ok(live_session(state, &rc.project_id, token)
        .await?
        .map(|l| l.customer_id))
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        match caller(ctx).await? {
            Some(customer) => resolve(ctx, &customer, &id).await,
            None => Ok(None),
        }
    }

    /// At most 250 ids; each answers its node or null.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_PAGE as usize {
            return Err(ApiError::bad_request("ids cannot exceed 250").into());
        }
        let Some(customer) = caller(ctx).await? else {
            return Ok(ids.iter().map(|_| None).collect());
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(resolve(ctx, &customer, id).await?);
        }
        Ok(out)
    }
}
