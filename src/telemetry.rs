//! Where the process's logs and traces go: log lines to stderr (`text` or
//! `json`), and with `--otlp-endpoint` every span of ours to an
//! OpenTelemetry collector over OTLP/HTTP (protobuf), with the W3C trace
//! context carried across NATS (`authd_events::trace`).

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{
    Layer, filter::LevelFilter, fmt::format::JsonFields, layer::SubscriberExt,
    util::SubscriberInitExt,
};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What must be flushed before the process ends.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still queued (a bounded wait). Needs the runtime
    /// `init` was given to be running: call it from a blocking task.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            tracing::warn!(error = %e, "spans could not all be exported");
        }
    }
}

/// Installs the process's subscriber. `service` names the process in its
/// traces (`authd-gateway`, …); exports run on `runtime`.
pub fn init(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
    service: &'static str,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Telemetry> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,async_nats=warn".into());
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs
            .fmt_fields(JsonFields::new())
            .event_format(crate::json_logs::JsonLines)
            .boxed(),
    };
    let (traces, provider) = match otlp_endpoint {
        None => (None, None),
        Some(endpoint) => {
            let provider = provider(endpoint, service, runtime)?;
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            // Our spans (info and above), whatever RUST_LOG asks of the log.
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("authd"))
                .with_filter(LevelFilter::INFO);
            (Some(layer), Some(provider))
        }
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init()
        .context("cannot install the log subscriber")?;
    Ok(Telemetry { provider })
}

/// The OTLP/HTTP traces URL of a collector's base URL (as
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is read): `/v1/traces` appended.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let url =
        url::Url::parse(endpoint).with_context(|| format!("bad --otlp-endpoint {endpoint}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "--otlp-endpoint must be an http(s) URL"
    );
    let base = endpoint.trim_end_matches('/');
    Ok(if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    })
}

fn provider(
    endpoint: &str,
    service: &'static str,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<SdkTracerProvider> {
    let client = OtlpClient {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the OTLP client")?,
        runtime: runtime.clone(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint)?)
        .build()
        .context("cannot build the OTLP exporter")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}

/// The exporter's HTTP client: our reqwest (rustls), its requests run on
/// the process's tokio runtime (the batch exporter calls from a thread of
/// its own).
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OtlpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let client = self.client.clone();
        // Made on the runtime: reqwest's timeout needs its timer.
        let answer = self
            .runtime
            .spawn(async move {
                let sending = client
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send();
                let answer = sending.await?;
                let (status, headers) = (answer.status(), answer.headers().clone());
                Ok::<_, reqwest::Error>((status, headers, answer.bytes().await?))
            })
            .await??;
        let (status, headers, body) = answer;
        let mut response = Response::builder().status(status).body(body)?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(
            super::traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("http://c:4318/v1/traces/").unwrap(),
            "http://c:4318/v1/traces"
        );
        assert!(super::traces_url("ftp://c").is_err());
        assert!(super::traces_url("not a url").is_err());
    }
}
