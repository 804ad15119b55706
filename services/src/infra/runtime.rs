//! Runs the services role: the command subscription (queue group, so
//! instances share the load) and the tail that keeps the state cache current.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use authd_events::{
    EventStore, RecordedMessage,
    subject::{COMMAND_SUBJECTS, EVENT_SUBJECTS, SERVICES_QUEUE_GROUP},
};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tracing::Instrument;

pub use super::follow::{Shutdown, follow_subjects};
use super::{bus::TIMEOUT_HEADER, cache::StateCache, password};
use crate::{
    commands::{self, CommandEnvelope, Reply},
    error::{CommandError, ErrorCode},
    usecases::Services,
};

/// Commands handled at once by one instance; more wait in NATS.
const MAX_IN_FLIGHT: usize = 1024;

/// Serves commands until `shutdown`; in-flight commands finish first.
pub async fn serve(
    client: async_nats::Client,
    services: Arc<Services>,
    store: EventStore,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let tail = tokio::spawn(run_tail(store, services.cache().clone(), shutdown.clone()));
    let mut sub = client
        .queue_subscribe(COMMAND_SUBJECTS, SERVICES_QUEUE_GROUP.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("cannot subscribe to commands: {e}"))?;
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    tracing::info!("services listening on {COMMAND_SUBJECTS}");
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            msg = sub.next() => match msg { Some(m) => m, None => break },
        };
        let Some(reply_to) = msg.reply.clone() else {
            continue;
        };
        let received = Instant::now();
        let permit = permits.clone().acquire_owned().await?;
        let (client, services) = (client.clone(), services.clone());
        tokio::spawn(async move {
            let reply: Reply = match commands::decode::<CommandEnvelope>(&msg.payload) {
                Ok(env) => {
                    let name = env.command.name();
                    let started = std::time::Instant::now();
                    // A child of the gateway's span when the command came
                    // with a `traceparent`.
                    let span = tracing::info_span!(
                        "command",
                        command = name,
                        request_id = env.request.request_id.as_str(),
                        project = env.tenant.as_str(),
                    );
                    authd_events::trace::continue_from(&span, msg.headers.as_ref());
                    let handled = async {
                        let reply = match caller_deadline(&msg, received) {
                            Some(deadline) => {
                                password::with_deadline(deadline, services.handle(env)).await
                            }
                            None => services.handle(env).await,
                        };
                        tracing::debug!(ok = reply.is_ok(), elapsed = ?started.elapsed(), "command");
                        reply
                    };
                    handled.instrument(span).await
                }
                Err(_) => Err(CommandError::new(
                    ErrorCode::BadCommand,
                    "command could not be decoded",
                )),
            };
            if let Err(e) = client
                .publish(reply_to, commands::encode(&reply).into())
                .await
            {
                tracing::warn!(error = %e, "cannot send reply");
            }
            drop(permit);
        });
    }
    let _ = sub.unsubscribe().await;
    // Let in-flight commands finish and reply.
    let _ = permits.acquire_many(MAX_IN_FLIGHT as u32).await;
    // The replies reach the broker, if it is still there: one stopped
    // first never answers, and the client would wait for it forever.
    let _ = tokio::time::timeout(Duration::from_secs(5), client.flush()).await;
    tail.abort();
    Ok(())
}

/// When the sender stops waiting, from its timeout header (see
/// [`TIMEOUT_HEADER`]); none without one.
fn caller_deadline(msg: &async_nats::Message, received: Instant) -> Option<Instant> {
    let ms: u64 = msg
        .headers
        .as_ref()?
        .get(TIMEOUT_HEADER)?
        .as_str()
        .parse()
        .ok()?;
    received.checked_add(Duration::from_millis(ms))
}

/// Follows the stream from its end, feeding the cache; resumes where it
/// stopped after any interruption (a broker restart, say).
pub async fn run_tail(store: EventStore, cache: Arc<StateCache>, shutdown: Shutdown) {
    let start = loop {
        if shutdown.is_cancelled() {
            return;
        }
        match store.last_stream_sequence().await {
            Ok(seq) => break seq,
            Err(e) => {
                tracing::warn!(error = %e, "state tail cannot start yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    cache.set_tail_start(start);
    let apply = |m: &RecordedMessage| cache.apply(m);
    follow_subjects(
        &store,
        EVENT_SUBJECTS,
        start,
        "state tail",
        apply,
        &shutdown,
    )
    .await;
}
