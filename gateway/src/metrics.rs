//! Prometheus metrics at `GET /metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use (several gateways in
/// one process, as in tests, share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours
        // simply renders nothing new.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// One command as the gateway saw it: its name, how it ended, how long it took.
pub fn command(name: &'static str, outcome: &str, seconds: f64) {
    metrics::counter!("authd_commands_total", "command" => name, "outcome" => outcome.to_string())
        .increment(1);
    metrics::histogram!("authd_command_duration_seconds", "command" => name).record(seconds);
}

pub fn request(api: &'static str) {
    metrics::counter!("authd_graphql_requests_total", "api" => api).increment(1);
}

pub fn applied(seq: u64) {
    metrics::gauge!("authd_read_model_applied_sequence").set(seq as f64);
}
