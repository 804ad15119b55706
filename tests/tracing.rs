//! Traces and JSON logs across processes (#24): `authd gateway` and `authd
//! services` as processes of their own, exporting to an OTLP/HTTP receiver
//! this test runs (decoding the protobuf with the OpenTelemetry proto
//! types). One sign-in is one connected trace: the gateway's request, the
//! command sent over NATS, the services' command with its decision and
//! append, and the gateway projection's apply of what was appended. The
//! services' JSON log lines of that command carry its request id, project
//! and command.

use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use authd::nats_server::{NatsServer, free_port};
use authd_services::commands::{Command as Cmd, CommandEnvelope, CreateProject, ProjectKeys};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::any_value::Value as Any,
};
use prost::Message as _;
use serde_json::{Value, json};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Got>>>;

/// An OTLP/HTTP traces receiver on a free loopback port.
async fn receiver() -> (String, Spans) {
    let spans: Spans = Default::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut kept = kept.lock().unwrap();
                for rs in request.resource_spans {
                    let service = rs
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
                        .unwrap_or_default();
                    for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                        kept.push(Got {
                            service: service.clone(),
                            name: span.name,
                            trace: span.trace_id,
                            id: span.span_id,
                            parent: span.parent_span_id,
                            attributes: span
                                .attributes
                                .iter()
                                .filter_map(|a| {
                                    Some((a.key.clone(), text(a.value.as_ref()?.value.as_ref()?)?))
                                })
                                .collect(),
                        });
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

fn text(v: &Any) -> Option<String> {
    match v {
        Any::StringValue(s) => Some(s.clone()),
        Any::IntValue(i) => Some(i.to_string()),
        Any::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An authd role as its own process, logging JSON lines to `<data>.log`;
/// exporting its spans to `otlp` when given.
fn role(args: &[&str], data: &Path, keys: &Path, otlp: Option<&str>) -> Proc {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
    if let Some(otlp) = otlp {
        command.args(["--otlp-endpoint", otlp]);
    }
    Proc(
        command
            .args(args)
            .args(["--log-format", "json"])
            .arg("--data-dir")
            .arg(data)
            .arg("--signing-key-file")
            .arg(keys.join("signing.pem"))
            .arg("--index-key-file")
            .arg(keys.join("index.key"))
            .arg("--data-key-file")
            .arg(keys.join("data.key"))
            .args(["--argon2-m-cost", "64", "--argon2-t-cost", "1"])
            .env("RUST_LOG", "warn,authd_services=debug")
            // Spans leave every 100 ms instead of every 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(format!("{}.log", data.display())).unwrap())
            .spawn()
            .unwrap(),
    )
}

async fn create_shop(bus: &authd_services::CommandBus) -> (String, ProjectKeys) {
    let create = CommandEnvelope {
        command_id: authd_events::new_id("cmd"),
        tenant: authd_events::new_id("p"),
        actor: authd_events::Actor::System,
        request: Default::default(),
        command: Cmd::CreateProject(CreateProject {
            name: "Shop".into(),
            public_key: None,
            secret_key: None,
        }),
    };
    for _ in 0..300 {
        if let Ok(reply) = bus.send_envelope(&create).await {
            let keys = authd_services::commands::decode(&reply.unwrap().outcome).unwrap();
            return (create.tenant, keys);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no services instance answered");
}

async fn gql(http: &reqwest::Client, base: &str, key: &str, id: &str, query: &str) -> Value {
    let r = http
        .post(format!("{base}/graphql/public"))
        .header("x-api-key", key)
        .header("x-request-id", id)
        .json(&json!({ "query": query }))
        .send()
        .await;
    match r {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(e) => json!({ "transport": e.to_string() }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sign_in_is_one_trace_across_gateway_services_and_projection() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let (otlp, spans) = receiver().await;
    let keys = dir.path().join("keys");
    let url = nats.url();
    let _services = role(
        &["services", "--nats-url", &url],
        &dir.path().join("s"),
        &keys,
        Some(&otlp),
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["gateway", "--nats-url", &url, "--listen", &listen];
    let _gateway = role(&args, &dir.path().join("g"), &keys, Some(&otlp));
    let base = format!("http://{listen}");
    let logs = || {
        ["s.log", "g.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
                format!("--- {f}\n{text}")
            })
            .collect::<String>()
    };

    let client = async_nats::connect(&url).await.unwrap();
    let bus = authd_services::CommandBus::new(client, Duration::from_secs(5));
    let (project, k) = create_shop(&bus).await;
    let http = reqwest::Client::new();
    let register = r#"mutation { customerRegister(email: "t@example.com", password: "correct horse battery") { success } }"#;
    let mut registered = Value::Null;
    for _ in 0..300 {
        registered = gql(&http, &base, &k.public_key, "trace-register", register).await;
        if registered["data"]["customerRegister"]["success"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        registered["data"]["customerRegister"]["success"],
        true,
        "{registered}\n{}",
        logs()
    );
    let login = r#"mutation { customerLogin(email: "t@example.com", password: "correct horse battery") { success accessToken } }"#;
    let signed_in = gql(&http, &base, &k.public_key, "trace-login", login).await;
    assert_eq!(
        signed_in["data"]["customerLogin"]["success"], true,
        "{signed_in}"
    );

    // The request's span, then every span of its trace.
    let mut trace = Vec::new();
    for _ in 0..100 {
        let got = spans.lock().unwrap().clone();
        if let Some(root) = got.iter().find(|s| {
            s.name == "request"
                && s.attributes.get("request_id").map(String::as_str) == Some("trace-login")
        }) {
            trace = got
                .iter()
                .filter(|s| s.trace == root.trace)
                .cloned()
                .collect();
            if trace.iter().any(|s| s.name == "apply") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<(&str, &str)> = trace
        .iter()
        .map(|s| (s.service.as_str(), s.name.as_str()))
        .collect();
    let span = |service: &str, name: &str| -> &Got {
        trace
            .iter()
            .find(|s| s.service == service && s.name == name)
            .unwrap_or_else(|| {
                let all: Vec<String> = spans
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        format!(
                            "{}/{} {:?}",
                            s.service,
                            s.name,
                            s.attributes.get("request_id")
                        )
                    })
                    .collect();
                panic!(
                    "no {service} span {name} in {names:?}\nall: {all:?}\n{}",
                    logs()
                )
            })
    };
    let request = span("authd-gateway", "request");
    assert!(request.parent.is_empty(), "the request starts the trace");
    assert_eq!(request.attributes["project"], project);
    assert_eq!(request.attributes["path"], "/graphql/public");
    let send = span("authd-gateway", "send");
    assert_eq!(
        send.parent, request.id,
        "the command is sent in the request"
    );
    assert_eq!(send.attributes["command"], "customer.login");
    let command = span("authd-services", "command");
    assert_eq!(
        command.parent, send.id,
        "services continue the sender's span"
    );
    assert_eq!(command.attributes["request_id"], "trace-login");
    let decide = span("authd-services", "decide");
    assert_eq!(decide.parent, command.id);
    let append = span("authd-services", "append");
    assert_eq!(append.parent, command.id);
    let apply = span("authd-gateway", "apply");
    assert_eq!(
        apply.parent, append.id,
        "the projection applies what was appended"
    );
    // Connected: every span but the request's has its parent in the trace.
    for s in &trace {
        assert!(
            s.parent.is_empty() || trace.iter().any(|p| p.id == s.parent),
            "{} ({}) has a parent outside the trace: {names:?}",
            s.name,
            s.service
        );
    }
    assert_eq!(
        trace.iter().filter(|s| s.parent.is_empty()).count(),
        1,
        "{names:?}"
    );

    // The services' log line of that command names it, as JSON.
    let services_log = std::fs::read_to_string(dir.path().join("s.log")).unwrap();
    let line = services_log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "command" && l["fields"]["request_id"] == "trace-login")
        .unwrap_or_else(|| panic!("no JSON line for the login's command:\n{services_log}"));
    assert_eq!(line["fields"]["command"], "customer.login", "{line}");
    assert_eq!(line["fields"]["project"], project, "{line}");
    assert_eq!(line["fields"]["ok"], true, "{line}");
    assert_eq!(line["level"], "DEBUG", "{line}");
    // No secret reaches the log.
    assert!(!services_log.contains("correct horse battery"));
    let access = signed_in["data"]["customerLogin"]["accessToken"]
        .as_str()
        .unwrap();
    assert!(!services_log.contains(access));
}

/// Without `--otlp-endpoint`, nothing is added to the messages in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untraced_messages_carry_no_trace_context() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let keys = dir.path().join("keys");
    let url = nats.url();
    let args = ["services", "--nats-url", &url];
    let _services = role(&args, &dir.path().join("s"), &keys, None);
    let client = async_nats::connect(&url).await.unwrap();
    let bus = authd_services::CommandBus::new(client.clone(), Duration::from_secs(5));
    create_shop(&bus).await;
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("AUTH_EVENTS").await.unwrap();
    let first = stream.get_raw_message(1).await.unwrap();
    assert!(
        first.headers.get("traceparent").is_none(),
        "{:?}",
        first.headers
    );
}
