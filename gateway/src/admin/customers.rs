//! Customers of the project: lookup with their audit history, invite,
//! suspend, reactivate, unlock.

use async_graphql::{ComplexObject, Context, ID, Object, Result, SimpleObject};
use authd_services::{
    ErrorCode,
    commands::{
        InviteCustomer, ProfileChange, ReactivateCustomer, ResetMfa, SetCustomerTags,
        SuspendCustomer, UnlockCustomer,
    },
};

use super::resolver::{ctx_of, send};
use crate::{
    error::{ApiError, UserError, payloads, respond},
    public::types::{DateTime, MutationResponse, UserStatus},
};

#[derive(SimpleObject, Default)]
pub struct CustomerInviteResponse {
    pub success: bool,
    pub message: Option<String>,
    pub customer_id: Option<ID>,
    /// The customer existed without a password: a new link was mailed.
    pub invited_again: Option<bool>,
    pub errors: Vec<UserError>,
}

payloads!(CustomerInviteResponse);

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AdminCustomer {
    pub id: ID,
    pub email: String,
    pub email_verified: bool,
    pub status: UserStatus,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

/// Most events one page of a customer's history returns.
const MAX_EVENTS_PAGE: i32 = 200;

#[ComplexObject]
impl AdminCustomer {
    /// When the customer last signed in (the start of their newest session).
    async fn last_login_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>> {
        let (state, admin) = ctx_of(ctx);
        let at = state
            .read
            .last_sign_in(&admin.inner.project_id, &self.id)
            .map_err(ApiError::internal)?;
        Ok(at.map(DateTime))
    }

    /// The customer's second factors (what `customerMfaReset` removes).
    async fn mfa(&self, ctx: &Context<'_>) -> Result<crate::public::types::MfaStatus> {
        let (state, admin) = ctx_of(ctx);
        Ok(crate::public::types::MfaStatus::of(
            state,
            &admin.inner.project_id,
            &self.id,
        )?)
    }

    /// The customer's values under every declared metafield key.
    async fn metafields(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::storefront::metafields::Metafield>> {
        super::metafields::of_customer(ctx, &self.id)
    }

    /// The customer's history from the audit index, newest first: their own
    /// events and their sessions', each with the request it came from.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        #[graphql(desc = "`nextCursor` of the previous page")] before: Option<String>,
    ) -> Result<AuditEventPage> {
        let (state, admin) = ctx_of(ctx);
        if !state.audit_index {
            return Err(ApiError::new(
                ErrorCode::AuditIndexDisabled,
                "this gateway keeps no audit index: start it with --audit-index true \
                 (the event log has every event: `authd events customer …`)",
            )
            .into());
        }
        if !(1..=MAX_EVENTS_PAGE).contains(&first) {
            return Err(ApiError::bad_request(format!(
                "`first` must be between 1 and {MAX_EVENTS_PAGE}"
            ))
            .into());
        }
        let before =
            match before {
                None => None,
                Some(c) => Some(parse_cursor(&c).ok_or_else(|| {
                    ApiError::bad_request("`before` is not a cursor from this API")
                })?),
            };
        let mut rows = state
            .read
            .customer_events(&admin.inner.project_id, &self.id, before, first as u32 + 1)
            .map_err(ApiError::internal)?;
        let more = rows.len() > first as usize;
        rows.truncate(first as usize);
        let next_cursor = rows
            .last()
            .filter(|_| more)
            .map(|r| format!("{}.{}", r.seq, r.idx));
        Ok(AuditEventPage {
            events: rows
                .into_iter()
                .map(|r| AuditEvent {
                    id: ID(r.event_id),
                    event_type: r.event_type,
                    at: DateTime(r.at),
                    actor: r.actor,
                    session_id: r.session_id.map(ID),
                    request_id: r.request_id,
                    ip: r.ip,
                    user_agent: r.user_agent,
                    sequence: r.seq.to_string(),
                })
                .collect(),
            next_cursor,
        })
    }
}

/// `<seq>.<idx>`, as `nextCursor` gives it.
fn parse_cursor(c: &str) -> Option<(u64, u32)> {
    let (seq, idx) = c.split_once('.')?;
    Some((seq.parse().ok()?, idx.parse().ok()?))
}

#[derive(SimpleObject)]
pub struct AuditEventPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct AuditEvent {
    /// The event's own id (a ULID).
    pub id: ID,
    /// Dotted type, as in the log's headers: `customer.login.failed`, `session.started`, …
    #[graphql(name = "type")]
    pub event_type: String,
    pub at: DateTime,
    /// `anonymous`, `system`, `customer:<id>` or `admin:<key prefix>`.
    pub actor: String,
    pub session_id: Option<ID>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The stream sequence of the message (a string: it outgrows 32 bits).
    pub sequence: String,
}

fn customer(r: authd_projections::read::CustomerRow) -> AdminCustomer {
    let now = authd_events::now_millis();
    AdminCustomer {
        id: ID(r.id),
        email: r.email,
        email_verified: r.email_verified,
        status: UserStatus::from_read_model(&r.status),
        failed_logins: r.failed_logins as i32,
        locked_until: (r.locked_until > now).then_some(DateTime(r.locked_until)),
        created_at: DateTime(r.created_at),
        updated_at: DateTime(r.updated_at),
    }
}

#[derive(Default)]
pub struct CustomerQuery;

#[Object]
impl CustomerQuery {
    /// A customer of the project, by id or by email.
    async fn customer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        email: Option<String>,
    ) -> Result<Option<AdminCustomer>> {
        let (state, admin) = ctx_of(ctx);
        let project = &admin.inner.project_id;
        let row = match (id, email) {
            (Some(id), None) => state.read.customer(project, &id),
            (None, Some(email)) => state.read.customer_by_email(project, &email),
            _ => {
                return Err(ApiError::bad_request("give exactly one of `id` and `email`").into());
            }
        }
        .map_err(ApiError::internal)?;
        Ok(row.map(customer))
    }

    /// Everything authd holds of a customer, as one JSON document
    /// (`authd.customer-export/1`, see the README's "Data export");
    /// `NOT_FOUND` for a customer the project does not have.
    async fn customer_data_export(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<async_graphql::Json<serde_json::Value>> {
        let (state, admin) = ctx_of(ctx);
        state.wait_audit().await;
        let doc = crate::export::customer_export(
            &state.read,
            &state.store,
            state.audit_index,
            &admin.inner.project_id,
            &id,
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such customer"))?;
        Ok(async_graphql::Json(doc))
    }
}

#[derive(Default)]
pub struct CustomerMutation;

#[Object]
impl CustomerMutation {
    /// Creates a customer without a password and mails them a link that
    /// activates the account (the Storefront's `customerActivate`); for a
    /// customer invited before and not yet active, mails a new link.
    async fn customer_invite(
        &self,
        ctx: &Context<'_>,
        email: String,
        first_name: Option<String>,
        last_name: Option<String>,
    ) -> Result<CustomerInviteResponse> {
        let invite = InviteCustomer {
            email,
            profile: ProfileChange {
                first_name: first_name.map(Some),
                last_name: last_name.map(Some),
                ..Default::default()
            },
        };
        respond(
            send(ctx, invite)
                .await
                .map(|invited| CustomerInviteResponse {
                    success: true,
                    message: Some("invitation mailed".into()),
                    customer_id: Some(ID(invited.customer.id)),
                    invited_again: Some(invited.invited_again),
                    errors: vec![],
                }),
        )
    }

    /// Suspends a customer: no login by any method, every session ends.
    async fn customer_suspend(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<MutationResponse> {
        let suspend = SuspendCustomer {
            customer_id: id.0,
            reason,
        };
        respond(
            send(ctx, suspend)
                .await
                .map(|_| MutationResponse::done("customer suspended")),
        )
    }

    /// Sets the customer's tags (the whole list: trimmed, repeats in any
    /// case dropped; at most 250, each at most 255 characters, no commas).
    async fn customer_tags_set(
        &self,
        ctx: &Context<'_>,
        id: ID,
        tags: Vec<String>,
    ) -> Result<MutationResponse> {
        let set = SetCustomerTags {
            customer_id: id.0,
            tags,
        };
        respond(
            send(ctx, set)
                .await
                .map(|_| MutationResponse::done("tags set")),
        )
    }

    async fn customer_reactivate(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        let reactivate = ReactivateCustomer { customer_id: id.0 };
        respond(
            send(ctx, reactivate)
                .await
                .map(|_| MutationResponse::done("customer reactivated")),
        )
    }

    /// Lifts a lockout after failed logins.
    /// Removes every second factor of the customer (an authenticator
    /// app, recovery codes), for support once who they are was checked
    /// another way; `reason` is recorded with the admin, and the customer
    /// is told by mail.
    async fn customer_mfa_reset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<MutationResponse> {
        let reset = ResetMfa {
            customer_id: id.0,
            reason,
        };
        respond(
            send(ctx, reset)
                .await
                .map(|_| MutationResponse::done("second factors removed")),
        )
    }

    async fn customer_unlock(&self, ctx: &Context<'_>, id: ID) -> Result<MutationResponse> {
        let unlock = UnlockCustomer { customer_id: id.0 };
        respond(
            send(ctx, unlock)
                .await
                .map(|_| MutationResponse::done("customer unlocked")),
        )
    }
}
