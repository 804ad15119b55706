//! `authEvents`: the admin API's live feed, a GraphQL subscription (over
//! WebSocket, graphql-transport-ws: `ws.rs`). Each event of the key's
//! project from `fromSequence` on (without it: from now), in order, with
//! `auditLog`'s filter; the entries are `auditLog`'s with the event's
//! fields. It reads the log itself (one ordered consumer per
//! subscription, pulled as the subscriber takes entries), so it needs no
//! audit index and lags nothing behind it.

use std::time::Duration;

use async_graphql::{Context, ID, Result, Subscription};
use authd_events::{AggregateKind, AggregateSubject, RecordedMessage, json};
use authd_projections::read_audit::AuditFilter;
use futures::{Stream, StreamExt};

use super::{
    audit_log::{AuditLogEntry, AuditLogFilter, actor_type, checked},
    resolver::ctx_of,
};
use crate::{error::ApiError, public::types::DateTime};

/// Entries buffered between the log and the subscriber.
const BUFFER: usize = 256;

fn entries(m: &RecordedMessage) -> impl Iterator<Item = AuditLogEntry> + '_ {
    let meta = &m.message.meta;
    // As the audit index labels it.
    let actor = json::actor_label(&meta.actor);
    let actor_type = actor_type(&actor);
    let customer = json::customer_of(m).map(|c| ID(c.to_string()));
    let session = (m.subject.kind == AggregateKind::Session).then(|| ID(meta.aggregate_id.clone()));
    m.message
        .events
        .iter()
        .enumerate()
        .map(move |(idx, e)| AuditLogEntry {
            sequence: m.seq.to_string(),
            index: idx as i32,
            event_id: ID(ulid::Ulid::from_bytes(e.event_id).to_string()),
            event_type: e.body.type_name().to_string(),
            at: DateTime(meta.time),
            project_id: ID(meta.tenant.clone()),
            customer_id: customer.clone(),
            session_id: session.clone(),
            actor: actor.clone(),
            actor_type,
            ip: json::shown(&meta.request.ip).map(str::to_string),
            user_agent: json::shown(&meta.request.user_agent).map(str::to_string),
            request_id: meta.request.request_id.clone(),
            command_id: meta.command_id.clone(),
            seq: m.seq,
            prefetched: Some(json::event_data(&e.body)),
        })
}

/// `auditLog`'s filter, applied to an entry as it passes.
struct Live {
    f: AuditFilter,
    cidr: Option<ipnet::IpNet>,
}

impl Live {
    fn admits(&self, e: &AuditLogEntry) -> bool {
        let f = &self.f;
        let is = |want: &Option<String>, got: &Option<ID>| match want {
            None => true,
            Some(w) => got.as_ref().is_some_and(|g| g.0 == *w),
        };
        if !is(&f.customer_id, &e.customer_id) || !is(&f.session_id, &e.session_id) {
            return false;
        }
        if let Some(types) = &f.types
            && !types.contains(&e.event_type)
        {
            return false;
        }
        if let Some((label, prefix)) = &f.actor {
            let ok = if *prefix {
                e.actor.starts_with(label.as_str())
            } else {
                e.actor == *label
            };
            if !ok {
                return false;
            }
        }
        let ip =
            e.ip.as_deref()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
        if let Some(want) = &f.ip
            && ip.map(|ip| ip.to_string()).as_deref() != Some(want.as_str())
        {
            return false;
        }
        if let Some(net) = &self.cidr
            && !ip.is_some_and(|ip| net.contains(&ip))
        {
            return false;
        }
        f.from.is_none_or(|from| e.at.0 >= from) && f.to.is_none_or(|to| e.at.0 <= to)
    }
}

/// The log from `from` on, as the project's entries, into `tx` (bounded:
/// a subscriber that takes nothing holds the reading still); resubscribes
/// from where it was after an outage; ends when the subscriber is gone.
async fn follow(
    store: authd_events::EventStore,
    project: String,
    mut from: u64,
    live: Live,
    tx: tokio::sync::mpsc::Sender<Result<AuditLogEntry>>,
) {
    let filter = AggregateSubject::tenant_filter(&project);
    loop {
        let stream = match store.subscribe_to(&filter, from).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "authEvents cannot subscribe");
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        let mut stream = std::pin::pin!(stream);
        loop {
            let next = tokio::select! {
                _ = tx.closed() => return,
                n = stream.next() => n,
            };
            match next {
                Some(Ok(m)) if m.seq >= from => {
                    from = m.seq + 1;
                    for e in entries(&m).filter(|e| live.admits(e)) {
                        if tx.send(Ok(e)).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "authEvents subscription failed");
                    break;
                }
                None => break,
            }
        }
    }
}

#[derive(Default)]
pub struct AuthEventsSubscription;

#[Subscription]
impl AuthEventsSubscription {
    /// Every event of the project, in order, as it is recorded: from
    /// `fromSequence` (a stream sequence, inclusive; to resume after a
    /// disconnect, the last `sequence` received plus one) or, without it,
    /// from now on. `filter` is `auditLog`'s. A subscriber that falls more
    /// than a few hundred entries behind is disconnected (close code 4413).
    async fn auth_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        from_sequence: Option<i64>,
    ) -> Result<impl Stream<Item = Result<AuditLogEntry>> + use<>> {
        let (state, admin) = ctx_of(ctx);
        let project = admin.inner.project_id.clone();
        if project.is_empty() {
            return Err(ApiError::new(
                authd_services::ErrorCode::Forbidden,
                "the operator key names the project it watches (projectId in connection_init's payload)",
            )
            .into());
        }
        if from_sequence.is_some_and(|s| s < 1) {
            return Err(ApiError::bad_request("fromSequence starts at 1").into());
        }
        let filter = filter.unwrap_or_default();
        let live = checked(ctx, &filter)?.map(|(f, cidr)| Live { f, cidr });
        let from = match from_sequence {
            Some(s) => s as u64,
            None => {
                state
                    .store
                    .last_stream_sequence()
                    .await
                    .map_err(|_| ApiError::unavailable())?
                    + 1
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel(BUFFER);
        // A filter nothing can match (an unknown email) still subscribes:
        // it just never sends.
        if let Some(live) = live {
            tokio::spawn(follow(state.store.clone(), project, from, live, tx));
        } else {
            tokio::spawn(async move { tx.closed().await });
        }
        Ok(tokio_stream_from(rx))
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + use<T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
