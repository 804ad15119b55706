//! A project's webhook endpoints, for its admins: create one (its
//! signing secret shown once), change, rotate its secret, delete, list;
//! and each endpoint's deliveries with every attempt (`webhookDeliveries`,
//! read from the attempts' stream the feed role writes).

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use authd_events::webhook::{self, Attempt, Outcome};
use authd_projections::read_webhooks::WebhookEndpointRow;
use authd_services::commands::{
    CreateWebhookEndpoint, DeleteWebhookEndpoint, UpdateWebhookEndpoint, WebhookEndpointSaved,
};

use super::resolver::{ctx_of, send};
use crate::{
    error::{ApiError, Payload, UserError, respond},
    public::types::{DateTime, MutationResponse},
    storefront::mailing_address::{PageInfo, decode_cursor, encode_cursor},
};

/// Most deliveries a page holds.
const MAX_PAGE: i32 = 100;

#[derive(SimpleObject, Clone)]
pub struct WebhookEndpoint {
    pub id: ID,
    pub url: String,
    /// The event types sent (`customer.login.failed`, or `customer.*`);
    /// empty: every event.
    pub event_types: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

impl From<WebhookEndpointRow> for WebhookEndpoint {
    fn from(r: WebhookEndpointRow) -> Self {
        let e = r.endpoint;
        Self {
            id: ID(e.endpoint_id),
            url: e.url,
            event_types: e.event_types,
            description: e.description,
            enabled: e.enabled,
            created_at: DateTime(r.created_at),
            updated_at: DateTime(r.updated_at),
        }
    }
}

#[derive(InputObject)]
pub struct WebhookEndpointCreateInput {
    /// `https://…` (plain http and private addresses only where the
    /// deployment allows them: `authd dev`, `--allow-private-webhook-urls`).
    pub url: String,
    #[graphql(default)]
    pub event_types: Vec<String>,
    #[graphql(default)]
    pub description: String,
}

#[derive(InputObject)]
pub struct WebhookEndpointUpdateInput {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// A disabled endpoint is sent nothing (what happens meanwhile is not
    /// sent later).
    pub enabled: Option<bool>,
    /// A new signing secret, in the response; the old one signs no more.
    #[graphql(default = false)]
    pub rotate_secret: bool,
}

#[derive(SimpleObject, Default)]
pub struct WebhookEndpointResponse {
    pub success: bool,
    pub endpoint: Option<WebhookEndpoint>,
    /// The Standard Webhooks signing secret (`whsec_…`): on creation and
    /// rotation only, and never again.
    pub secret: Option<String>,
    pub errors: Vec<UserError>,
}

impl Payload for WebhookEndpointResponse {
    fn failed(_message: String, errors: Vec<UserError>) -> Self {
        Self {
            errors,
            ..Default::default()
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookDeliveryStatus {
    Succeeded,
    Retrying,
    Failed,
}

impl From<Outcome> for WebhookDeliveryStatus {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Succeeded => Self::Succeeded,
            Outcome::Retrying => Self::Retrying,
            Outcome::Failed => Self::Failed,
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct WebhookAttempt {
    pub at: DateTime,
    /// The endpoint's HTTP status; null when it did not answer.
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub status: WebhookDeliveryStatus,
    pub next_attempt_at: Option<DateTime>,
}

/// One event sent to the endpoint, with its attempts, oldest first.
#[derive(SimpleObject, Clone)]
pub struct WebhookDelivery {
    /// The `webhook-id` header: the same at every attempt.
    pub id: ID,
    pub event_sequence: String,
    pub event_type: String,
    pub customer_id: Option<ID>,
    /// The last attempt's.
    pub status: WebhookDeliveryStatus,
    pub attempts: Vec<WebhookAttempt>,
    pub next_attempt_at: Option<DateTime>,
}

#[derive(SimpleObject)]
pub struct WebhookDeliveryEdge {
    pub cursor: String,
    pub node: WebhookDelivery,
}

#[derive(SimpleObject)]
pub struct WebhookDeliveryConnection {
    pub edges: Vec<WebhookDeliveryEdge>,
    pub nodes: Vec<WebhookDelivery>,
    pub page_info: PageInfo,
}

fn attempt(a: &Attempt) -> WebhookAttempt {
    WebhookAttempt {
        at: DateTime(a.at),
        status_code: a.status_code.map(i32::from),
        duration_ms: a.duration_ms.min(i32::MAX as u64) as i32,
        error: a.error.clone(),
        status: a.outcome.into(),
        next_attempt_at: a.next_attempt_at.map(DateTime),
    }
}

/// The attempts grouped by delivery, newest delivery (by its first
/// attempt) first, each with the stream sequence of its first attempt.
fn deliveries(attempts: Vec<(u64, Attempt)>) -> Vec<(u64, WebhookDelivery)> {
    let mut order: Vec<(u64, String)> = Vec::new();
    let mut by_id: HashMap<String, WebhookDelivery> = HashMap::new();
    for (seq, a) in attempts {
        let d = by_id.entry(a.delivery_id.clone()).or_insert_with(|| {
            order.push((seq, a.delivery_id.clone()));
            WebhookDelivery {
                id: ID(a.delivery_id.clone()),
                event_sequence: a.event_sequence.to_string(),
                event_type: a.event_type.clone(),
                customer_id: a.customer_id.clone().map(ID),
                status: a.outcome.into(),
                attempts: Vec::new(),
                next_attempt_at: None,
            }
        });
        d.status = a.outcome.into();
        d.next_attempt_at = a.next_attempt_at.map(DateTime);
        d.attempts.push(attempt(&a));
    }
    order
        .into_iter()
        .rev()
        .filter_map(|(seq, id)| by_id.remove(&id).map(|d| (seq, d)))
        .collect()
}

fn bad(message: impl Into<String>) -> async_graphql::Error {
    ApiError::bad_request(message).into()
}

fn endpoint_of(ctx: &Context<'_>, id: &str) -> Result<Option<WebhookEndpoint>> {
    let (state, admin) = ctx_of(ctx);
    Ok(state
        .read
        .webhook_endpoint(&admin.inner.project_id, id)
        .map_err(ApiError::internal)?
        .map(Into::into))
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The project's endpoints, oldest first (never their secrets).
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        let (state, admin) = ctx_of(ctx);
        Ok(state
            .read
            .webhook_endpoints(&admin.inner.project_id)
            .map_err(ApiError::internal)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// What was sent to an endpoint, newest first: each delivery with its
    /// attempts (the last 10,000 attempts per endpoint, for 30 days).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<WebhookDeliveryConnection> {
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(bad(format!("first must be between 0 and {MAX_PAGE}")));
        }
        if endpoint_of(ctx, &endpoint_id)?.is_none() {
            return Err(ApiError::new(
                authd_services::ErrorCode::NotFound,
                "no webhook endpoint with this id in this project",
            )
            .into());
        }
        let cursor_prefix = format!("{}:", endpoint_id.0);
        let after: Option<u64> = match &after {
            None => None,
            Some(c) => Some(
                decode_cursor(c)
                    .and_then(|k| k.strip_prefix(&cursor_prefix).and_then(|s| s.parse().ok()))
                    .ok_or_else(|| bad("after is not a cursor of this endpoint's deliveries"))?,
            ),
        };
        let (state, admin) = ctx_of(ctx);
        let attempts = webhook::attempts(
            state.store.jetstream(),
            &admin.inner.project_id,
            &endpoint_id,
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "webhookDeliveries");
            async_graphql::Error::from(ApiError::unavailable())
        })?;
        let all: Vec<_> = deliveries(attempts)
            .into_iter()
            .filter(|(seq, _)| after.is_none_or(|a| *seq < a))
            .collect();
        let has_next_page = all.len() > first as usize;
        let edges: Vec<_> = all
            .into_iter()
            .take(first as usize)
            .map(|(seq, node)| WebhookDeliveryEdge {
                cursor: encode_cursor(&format!("{cursor_prefix}{seq}")),
                node,
            })
            .collect();
        Ok(WebhookDeliveryConnection {
            page_info: PageInfo {
                has_next_page,
                has_previous_page: after.is_some(),
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            nodes: edges.iter().map(|e| e.node.clone()).collect(),
            edges,
        })
    }
}

#[derive(Default)]
pub struct WebhookMutation;

fn saved(ctx: &Context<'_>, s: WebhookEndpointSaved) -> Result<WebhookEndpointResponse, ApiError> {
    // `send` waited until the read model has the write.
    let endpoint =
        endpoint_of(ctx, &s.endpoint.endpoint_id).map_err(|_| ApiError::unavailable())?;
    Ok(WebhookEndpointResponse {
        success: true,
        endpoint,
        secret: s.secret,
        errors: vec![],
    })
}

#[Object]
impl WebhookMutation {
    /// A new endpoint for the project's events; the response is the only
    /// place its signing secret is shown.
    async fn webhook_endpoint_create(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointCreateInput,
    ) -> Result<WebhookEndpointResponse> {
        let create = CreateWebhookEndpoint {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        };
        respond(
            async {
                let s = send(ctx, create).await?;
                saved(ctx, s)
            }
            .await,
        )
    }

    async fn webhook_endpoint_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WebhookEndpointUpdateInput,
    ) -> Result<WebhookEndpointResponse> {
        let update = UpdateWebhookEndpoint {
            endpoint_id: id.0,
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            enabled: input.enabled,
            rotate_secret: input.rotate_secret,
        };
        respond(
            async {
                let s = send(ctx, update).await?;
                saved(ctx, s)
            }
            .await,
        )
    }

    /// The endpoint is sent nothing more (deliveries queued for it are
    /// dropped).
    async fn webhook_endpoint_delete(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        let delete = DeleteWebhookEndpoint { endpoint_id: id.0 };
        respond(
            send(ctx, delete)
                .await
                .map(|_| MutationResponse::done("webhook endpoint deleted")),
        )
    }
}
