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
