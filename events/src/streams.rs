//! What every stream authd creates shares: its replicas follow
//! `--stream-replicas` upward.

use async_nats::jetstream::{self, stream};

/// Updates a stream created with fewer replicas than `wanted` (a cluster
/// grew, or `--stream-replicas` was raised): never silently left as it was.
/// Fewer wanted than it has are left alone (lowering is an operator's
/// deliberate act). Returns the configuration as it is now.
pub async fn raise_replicas(
    js: &jetstream::Context,
    mut config: stream::Config,
    wanted: usize,
) -> Result<stream::Config, String> {
    if config.num_replicas >= wanted {
        return Ok(config);
    }
    tracing::warn!(
        stream = %config.name,
        from = config.num_replicas,
        to = wanted,
        "the stream has fewer replicas than --stream-replicas asks: raising them"
    );
    config.num_replicas = wanted;
    js.update_stream(config.clone())
        .await
        .map_err(|e| format!("cannot raise {}'s replicas to {wanted}: {e}", config.name))?;
    Ok(config)
}

/// The messages on the subjects `filter` matches that `stream` holds when
/// it is called, in order, through one ordered consumer; the returned
/// stream ends after them (later ones are not waited for).
pub async fn held<I>(
    stream: &stream::Stream<I>,
    filter: &str,
) -> Result<impl futures::Stream<Item = Result<jetstream::Message, String>> + use<I>, String> {
    use futures::StreamExt;
    let mut consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: filter.to_string(),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let pending = consumer
        .info()
        .await
        .map_err(|e| e.to_string())?
        .num_pending;
    let messages = consumer.messages().await.map_err(|e| e.to_string())?;
    Ok(messages
        .take(pending as usize)
        .map(|m| m.map_err(|e| e.to_string())))
}
