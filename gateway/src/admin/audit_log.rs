//! `auditLog`: the project's audit trail from the audit index, newest
//! first, filtered (customer, email, session, event types, actor type, IP
//! or CIDR, time range, security events only) and paged Relay's way.
//! Cursors are bound to the project and the filter.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use authd_projections::read_audit::{AuditFilter, AuditLogRow, AuditPage};
use authd_services::ErrorCode;
use sha2::{Digest, Sha256};

use super::resolver::ctx_of;
use crate::{
    error::ApiError,
    public::types::DateTime,
    storefront::mailing_address::{PageInfo, decode_cursor, encode_cursor},
};

/// Most entries a page holds.
const MAX_PAGE: i32 = 250;
/// Entries a CIDR filter examines for one page at most; past that the page
/// ends early (with `hasNextPage`) rather than scanning on.
const CIDR_SCAN: usize = 10_000;

/// What a security team watches. The audit index holds every event of
/// the project but those that age out of the log (attempts on unknown
/// addresses, codes: the live feed has them).
pub const SECURITY_TYPES: &[&str] = &[
    "customer.login.failed",
    "customer.locked",
    "customer.client.locked",
    "customer.unlocked",
    "session.refresh_token.reused",
    "customer.password.changed",
    "customer.password_reset.requested",
    "customer.email.changed",
    "customer.suspended",
    "customer.reactivated",
    "customer.sessions.ended",
    "customer.provider.linked",
    "customer.provider_login.failed",
    "customer.erased",
    "project.api_key.issued",
    "project.api_key.revoked",
    "project.providers.configured",
    // Where the project's events are sent.
    "project.webhook_endpoint.created",
    "project.webhook_endpoint.updated",
    "project.webhook_endpoint.deleted",
    "signing_key.added",
    "signing_key.retired",
];

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AuditActorType {
    Customer,
    AdminKey,
    Operator,
    System,
    Anonymous,
}

#[derive(InputObject, Default, Debug)]
pub struct AuditLogFilter {
    pub customer_id: Option<ID>,
    pub email: Option<String>,
    pub session_id: Option<ID>,
    /// Dotted types (`customer.login.failed`); an unknown one is refused.
    pub event_types: Option<Vec<String>>,
    pub actor_type: Option<AuditActorType>,
    /// An address (`203.0.113.7`) or a CIDR (`203.0.113.0/24`, `2001:db8::/32`).
    pub ip: Option<String>,
    pub from: Option<DateTime>,
    pub to: Option<DateTime>,
    /// Only the events in `SECURITY_TYPES` (with `eventTypes`: those of
    /// them it names).
    pub security_only: Option<bool>,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct AuditLogEntry {
    /// The message's stream sequence (a string: it outgrows 32 bits).
    pub sequence: String,
    /// The event's place in its message (a command's events share one).
    pub index: i32,
    pub event_id: ID,
    #[graphql(name = "type")]
    pub event_type: String,
    pub at: DateTime,
    pub project_id: ID,
    /// The customer it concerns; null for the project's own events (its
    /// configuration and keys).
    pub customer_id: Option<ID>,
    pub session_id: Option<ID>,
    /// `anonymous`, `system`, `operator`, `customer:<id>` or `admin:<key prefix>`.
    pub actor: String,
    pub actor_type: AuditActorType,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub command_id: String,
    #[graphql(skip)]
    pub seq: u64,
    /// `data` when the entry was made from the message itself (the live
    /// feed), not from the index.
    #[graphql(skip)]
    pub prefetched: Option<serde_json::Value>,
}

#[async_graphql::ComplexObject]
impl AuditLogEntry {
    /// The event's own fields, as `docs/events.md` documents them:
    /// personal values as text (`"[erased]"` once the customer is erased),
    /// secrets never. Read from the log (one direct get per entry, only
    /// when asked for); `null` for a message an erasure deleted.
    async fn data(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<async_graphql::Json<serde_json::Value>>> {
        if let Some(data) = &self.prefetched {
            return Ok(Some(async_graphql::Json(data.clone())));
        }
        let (state, _) = ctx_of(ctx);
        let m = state.store.read_message(self.seq).await.map_err(|e| {
            tracing::warn!(error = %e, "auditLog data");
            async_graphql::Error::from(ApiError::unavailable())
        })?;
        Ok(m.and_then(|m| {
            m.message
                .events
                .get(self.index as usize)
                .map(|e| async_graphql::Json(authd_events::json::event_data(&e.body)))
        }))
    }
}

#[derive(SimpleObject)]
pub struct AuditLogEdge {
    pub cursor: String,
    pub node: AuditLogEntry,
}

#[derive(SimpleObject)]
pub struct AuditLogConnection {
    pub edges: Vec<AuditLogEdge>,
    pub nodes: Vec<AuditLogEntry>,
    pub page_info: PageInfo,
}

pub(super) fn actor_type(actor: &str) -> AuditActorType {
    match actor {
        a if a.starts_with("customer:") => AuditActorType::Customer,
        a if a.starts_with("admin:") => AuditActorType::AdminKey,
        "operator" => AuditActorType::Operator,
        "system" => AuditActorType::System,
        _ => AuditActorType::Anonymous,
    }
}

fn entry(project: &str, r: AuditLogRow) -> AuditLogEntry {
    AuditLogEntry {
        sequence: r.seq.to_string(),
        event_id: ID(r.event_id),
        event_type: r.event_type,
        at: DateTime(r.at),
        project_id: ID(project.to_string()),
        customer_id: (!r.customer_id.is_empty()).then_some(ID(r.customer_id)),
        session_id: r.session_id.map(ID),
        actor_type: actor_type(&r.actor),
        actor: r.actor,
        ip: r.ip,
        user_agent: r.user_agent,
        request_id: r.request_id,
        command_id: r.command_id,
        seq: r.seq,
        index: r.idx as i32,
        prefetched: None,
    }
}

fn bad(message: impl Into<String>) -> async_graphql::Error {
    ApiError::bad_request(message).into()
}

/// The filter as the read model takes it, and the CIDR to apply on top.
pub(super) fn checked(
    ctx: &Context<'_>,
    f: &AuditLogFilter,
) -> Result<Option<(AuditFilter, Option<ipnet::IpNet>)>> {
    let (state, admin) = ctx_of(ctx);
    let mut out = AuditFilter {
        customer_id: f.customer_id.as_ref().map(|c| c.0.clone()),
        session_id: f.session_id.as_ref().map(|s| s.0.clone()),
        from: f.from.map(|d| d.0),
        to: f.to.map(|d| d.0),
        ..Default::default()
    };
    if let Some(email) = &f.email {
        let found = state
            .read
            .customer_by_email(&admin.inner.project_id, email)
            .map_err(ApiError::internal)?;
        match (found, &out.customer_id) {
            (None, _) => return Ok(None),
            (Some(c), Some(id)) if c.id != *id => return Ok(None),
            (Some(c), _) => out.customer_id = Some(c.id),
        }
    }
    if let Some(types) = &f.event_types {
        if types.len() > 100 {
            return Err(bad("at most 100 eventTypes"));
        }
        if let Some(unknown) = types
            .iter()
            .find(|t| !authd_events::EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(bad(format!("{unknown:?} is not an event type")));
        }
        out.types = Some(types.clone());
    }
    if f.security_only == Some(true) {
        let security: Vec<String> = match &out.types {
            Some(types) => types
                .iter()
                .filter(|t| SECURITY_TYPES.contains(&t.as_str()))
                .cloned()
                .collect(),
            None => SECURITY_TYPES.iter().map(|t| t.to_string()).collect(),
        };
        if security.is_empty() {
            return Ok(None);
        }
        out.types = Some(security);
    }
    out.actor = f.actor_type.map(|a| match a {
        AuditActorType::Customer => ("customer:".to_string(), true),
        AuditActorType::AdminKey => ("admin:".to_string(), true),
        AuditActorType::Operator => ("operator".to_string(), false),
        AuditActorType::System => ("system".to_string(), false),
        AuditActorType::Anonymous => ("anonymous".to_string(), false),
    });
    let mut cidr = None;
    if let Some(ip) = &f.ip {
        let ip = ip.trim();
        if let Ok(addr) = ip.parse::<std::net::IpAddr>() {
            out.ip = Some(addr.to_string());
        } else {
            let net: ipnet::IpNet = ip
                .parse()
                .map_err(|_| bad(format!("{ip:?} is neither an IP address nor a CIDR")))?;
            cidr = Some(net.trunc());
        }
    }
    Ok(Some((out, cidr)))
}

/// What binds a cursor to its project and filter.
fn fingerprint(project: &str, f: &AuditLogFilter) -> String {
    let d = Sha256::digest(format!("{project}\0{f:?}"));
    hex::encode(&d[..6])
}

fn cursor(fp: &str, r: &AuditLogRow) -> String {
    encode_cursor(&format!("al:{}:{}:{fp}", r.seq, r.idx))
}

fn parse_cursor(fp: &str, c: &str) -> Result<(u64, u32)> {
    let invalid = || bad("the cursor is not one of this project's and filter's");
    let key = decode_cursor(c).ok_or_else(invalid)?;
    let mut parts = key.split(':');
    let (Some("al"), Some(seq), Some(idx), Some(got), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    if got != fp {
        return Err(invalid());
    }
    Ok((
        seq.parse().map_err(|_| invalid())?,
        idx.parse().map_err(|_| invalid())?,
    ))
}

#[derive(Default)]
pub struct AuditLogQuery;

#[Object]
impl AuditLogQuery {
    /// The project's audit trail, newest first: each event that concerns
    /// one of its customers, with the request it came from. `first`/`last`
    /// at most 250; cursors work only with the filter they came from.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<AuditLogConnection> {
        let (state, admin) = ctx_of(ctx);
        if !state.audit_index {
            return Err(ApiError::new(
                ErrorCode::AuditIndexDisabled,
                "this gateway keeps no audit index: start it with --audit-index true",
            )
            .into());
        }
        let filter = filter.unwrap_or_default();
        let project = admin.inner.project_id.clone();
        let (limit, from_end) = match (first, last) {
            (Some(_), Some(_)) => return Err(bad("give `first` or `last`, not both")),
            (None, Some(n)) => (n, true),
            (Some(n), None) => (n, false),
            (None, None) => (50, false),
        };
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad(format!(
                "first and last must be between 1 and {MAX_PAGE}"
            )));
        }
        let fp = fingerprint(&project, &filter);
        let after = after.map(|c| parse_cursor(&fp, &c)).transpose()?;
        let before = before.map(|c| parse_cursor(&fp, &c)).transpose()?;
        let empty = AuditLogConnection {
            edges: vec![],
            nodes: vec![],
            page_info: PageInfo {
                has_next_page: false,
                has_previous_page: false,
                start_cursor: None,
                end_cursor: None,
            },
        };
        let Some((f, cidr)) = checked(ctx, &filter)? else {
            return Ok(empty);
        };
        let mut page = AuditPage {
            after,
            before,
            limit: limit as u32,
            from_end,
        };
        // Where a CIDR scan stopped, for a page it ended early and empty.
        let mut scanned_to = None;
        let (rows, more) = match cidr {
            None => state
                .read
                .audit_log(&project, &f, page)
                .map_err(ApiError::internal)?,
            Some(net) => {
                // Filtered here, page by page, at most CIDR_SCAN examined.
                let mut kept = Vec::new();
                let mut examined = 0;
                let mut more;
                loop {
                    let (rows, m) = state
                        .read
                        .audit_log(&project, &f, page)
                        .map_err(ApiError::internal)?;
                    more = m;
                    examined += rows.len();
                    let edge =
                        if from_end { rows.first() } else { rows.last() }.map(|r| (r.seq, r.idx));
                    scanned_to = if from_end { rows.first() } else { rows.last() }.cloned();
                    let matching = rows.into_iter().filter(|r| {
                        r.ip.as_deref()
                            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                            .is_some_and(|ip| net.contains(&ip))
                    });
                    if from_end {
                        let mut m: Vec<_> = matching.collect();
                        m.extend(kept);
                        kept = m;
                    } else {
                        kept.extend(matching);
                    }
                    if kept.len() >= limit as usize || !more || examined >= CIDR_SCAN {
                        break;
                    }
                    match (from_end, edge) {
                        (false, Some(e)) => page.after = Some(e),
                        (true, Some(e)) => page.before = Some(e),
                        _ => break,
                    }
                }
                if kept.len() > limit as usize {
                    more = true;
                    if from_end {
                        kept.drain(..kept.len() - limit as usize);
                    } else {
                        kept.truncate(limit as usize);
                    }
                }
                (kept, more)
            }
        };
        let scanned_to = scanned_to
            .filter(|_| rows.is_empty() && more)
            .map(|r| cursor(&fp, &r));
        let edges: Vec<AuditLogEdge> = rows
            .into_iter()
            .map(|r| AuditLogEdge {
                cursor: cursor(&fp, &r),
                node: entry(&project, r),
            })
            .collect();
        Ok(AuditLogConnection {
            page_info: PageInfo {
                has_next_page: if from_end { before.is_some() } else { more },
                has_previous_page: if from_end { more } else { after.is_some() },
                start_cursor: edges
                    .first()
                    .map(|e| e.cursor.clone())
                    .or(scanned_to.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()).or(scanned_to),
            },
            nodes: edges.iter().map(|e| e.node.clone()).collect(),
            edges,
        })
    }
}
