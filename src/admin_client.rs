//! The client every `authd admin` subcommand uses: commands sent as the
//! operator with the typed client, and aggregates read from the log.

use authd_events::{Actor, AggregateKind, AggregateSubject, EventStore, RequestMeta};
use authd_services::{CommandBus, CommandSpec, aggregate::Aggregate, bus::Sender};

/// Sends an admin command for `tenant` with the typed client, as the CLI.
pub(crate) async fn send<C: CommandSpec>(
    bus: &CommandBus,
    tenant: &str,
    command: C,
) -> anyhow::Result<C::Outcome> {
    let from = Sender {
        tenant: tenant.to_string(),
        actor: Actor::Operator,
        request: RequestMeta {
            request_id: ulid::Ulid::new().to_string(),
            ip: None,
            user_agent: Some("authd admin".into()),
        },
    };
    match bus.send(&from, command).await? {
        Ok(sent) => Ok(sent.outcome),
        Err(e) => anyhow::bail!("{}: {}", e.code, e.message),
    }
}

pub(crate) async fn load<A: Aggregate>(
    store: &EventStore,
    tenant: &str,
    kind: AggregateKind,
    id: &str,
) -> anyhow::Result<A> {
    let subject = AggregateSubject::new(tenant, kind, id)?;
    let mut state = A::default();
    for m in store.read_aggregate(&subject).await? {
        state = authd_services::cache::fold(state, m.seq, &m.message);
    }
    Ok(state)
}
