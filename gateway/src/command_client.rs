//! The one way the gateway sends a command: typed by the command's registry
//! line, counted in the metrics, and waited for (bounded) until this
//! gateway's read model has applied it, so what the caller reads next
//! includes their own write.

use authd_events::Actor;
use authd_services::{CommandSpec, bus::Sender};

use crate::{error::ApiError, state::AppState};

/// Sends `command` as `from` and returns its own outcome type.
pub async fn send<C: CommandSpec>(
    state: &AppState,
    from: &Sender,
    command: C,
) -> Result<C::Outcome, ApiError> {
    let started = std::time::Instant::now();
    let result = state.bus.send(from, command).await;
    let outcome = match &result {
        Ok(Ok(_)) => "ok",
        Ok(Err(e)) => e.code.as_str(),
        Err(_) => "UNDELIVERED",
    };
    crate::metrics::command(C::NAME, outcome, started.elapsed().as_secs_f64());
    match result {
        Ok(Ok(sent)) => {
            state.wait_applied(sent.seq).await;
            Ok(sent.outcome)
        }
        Ok(Err(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, command = C::NAME, "command not delivered");
            Err(ApiError::unavailable())
        }
    }
}

/// The actor of a public request: its customer when a valid bearer token
/// came with it.
pub fn public_actor(rc: &crate::context::RequestContext) -> Actor {
    match rc.auth.claims() {
        Some(c) => Actor::Customer(c.sub.clone()),
        None => Actor::Anonymous,
    }
}
