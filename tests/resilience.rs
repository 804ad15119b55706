//! Broker restarts, projection restarts and rebuilds.

mod common;

use std::time::Duration;

use authd_projections::Until;
use common::{PASSWORD, TestEnv};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_recovers_when_nats_server_is_killed_and_restarted() {
    let mut env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    assert_eq!(reg["success"], true);

    env.nats.kill();
    // While the broker is down, requests fail fast with a code; none hangs.
    let down = tokio::time::timeout(
        Duration::from_secs(20),
        env.gql(
            "mutation { customerLogin(email: \"ann@example.com\", password: \"x\") { success } }",
            json!({}),
        ),
    )
    .await
    .expect("a request during the outage answers");
    assert_eq!(
        down["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{down}"
    );
    let health = env.http.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);

    env.nats.restart().unwrap();
    // Same processes, no restart of authd: it reconnects and carries on.
    let mut login = json!(null);
    for _ in 0..100 {
        login = env.login("ann@example.com", PASSWORD).await;
        if login["success"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(login["success"], true, "{login}");
    let me = env
        .current_user(login["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(
        me["data"]["currentUser"]["email"], "ann@example.com",
        "{me}"
    );
    let bob = env.register("bob@example.com", PASSWORD).await;
    assert_eq!(bob["success"], true, "{bob}");
    let me = env.current_user(bob["accessToken"].as_str().unwrap()).await;
    assert_eq!(
        me["data"]["currentUser"]["email"], "bob@example.com",
        "{me}"
    );
    let mut healthy = false;
    for _ in 0..50 {
        if env
            .http
            .get(env.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_projection_resumes_and_a_rebuild_gives_the_same_rows() {
    let mut env = TestEnv::start_with(|c| c.audit_index = true).await;
    for i in 0..5 {
        let r = env.register(&format!("u{i}@example.com"), PASSWORD).await;
        env.refresh(r["refreshToken"].as_str().unwrap()).await;
        env.login(&format!("u{i}@example.com"), "wrong password")
            .await;
    }
    // Stop every role, write more while the gateway is down, start again.
    env.stop_roles().await;
    env.start_services();
    let bus = authd_services::CommandBus::new(env.client.clone(), Duration::from_secs(5));
    for i in 5..8 {
        let cmd = authd_services::commands::CommandEnvelope {
            command_id: authd_events::new_id("cmd"),
            tenant: env.project_id.clone(),
            actor: authd_events::Actor::Anonymous,
            request: Default::default(),
            command: authd_services::commands::Command::RegisterCustomer(
                authd_services::commands::RegisterCustomer {
                    email: format!("u{i}@example.com"),
                    password: PASSWORD.into(),
                    profile: Default::default(),
                    sign_in: true,
                },
            ),
        };
        let mut reply = bus.send_envelope(&cmd).await;
        for _ in 0..50 {
            if reply.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            reply = bus.send_envelope(&cmd).await;
        }
        assert!(reply.unwrap().is_ok());
    }
    env.start_gateway().await;
    let last = env.last_seq().await;
    let mut applied = env.gateway.as_ref().unwrap().applied.clone();
    tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();
    let mut audit_applied = env.gateway.as_ref().unwrap().audit_applied.clone().unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        audit_applied.wait_for(|s| *s >= last),
    )
    .await
    .unwrap()
    .unwrap();
    let live = env.read_model().dump().unwrap();
    let live_audit = env.read_model().dump_audit().unwrap();
    assert!(
        live_audit
            .iter()
            .filter(|r| r.starts_with("audit:"))
            .count()
            >= 8,
        "every registration is in the audit index"
    );
    assert_eq!(
        live.iter().filter(|r| r.starts_with("customers:")).count(),
        8
    );

    let rebuilt = env.dir.path().join("rebuilt.db");
    let reached = authd_projections::rebuild(&env.store, &rebuilt, Until::Latest, true, |_, _| {})
        .await
        .unwrap();
    assert_eq!(reached, last);
    let conn = rusqlite::Connection::open(&rebuilt).unwrap();
    assert_eq!(authd_projections::db::dump(&conn).unwrap(), live);
    assert_eq!(
        authd_projections::db::dump_audit(&conn).unwrap(),
        live_audit
    );

    // Up to a sequence: the state at that point in history.
    let partial = env.dir.path().join("partial.db");
    authd_projections::rebuild(&env.store, &partial, Until::Sequence(3), false, |_, _| {})
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&partial).unwrap();
    assert_eq!(authd_projections::db::checkpoint(&conn).unwrap(), 3);
    // A rebuild never overwrites an existing file.
    assert!(
        authd_projections::rebuild(&env.store, &partial, Until::Latest, false, |_, _| {})
            .await
            .is_err()
    );

    // Up to a moment: everything recorded at or before it, nothing after.
    let cut = authd_events::now_millis();
    tokio::time::sleep(Duration::from_millis(20)).await;
    env.register("late@example.com", PASSWORD).await;
    let at_cut = env.dir.path().join("at-cut.db");
    let reached =
        authd_projections::rebuild(&env.store, &at_cut, Until::Time(cut), false, |_, _| {})
            .await
            .unwrap();
    assert_eq!(reached, last);
    let conn = rusqlite::Connection::open(&at_cut).unwrap();
    assert_eq!(authd_projections::db::dump(&conn).unwrap(), live);
    assert!(env.last_seq().await > last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_delivered_again_after_a_crash_applies_nothing_twice() {
    let env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    for _ in 0..3 {
        env.login("ann@example.com", "wrong password").await;
    }
    // Read the messages as the projection gets them.
    let last = env.last_seq().await;
    let messages: Vec<_> = {
        use futures::StreamExt;
        let stream = env.store.subscribe(1).await.unwrap();
        stream
            .take(last as usize)
            .map(Result::unwrap)
            .collect()
            .await
    };
    let path = env.dir.path().join("crash.db");
    let mut conn = authd_projections::db::open(&path).unwrap();
    authd_projections::db::migrate(&conn).unwrap();
    let (first, rest) = messages.split_at(messages.len() - 2);
    authd_projections::apply_batch(&mut conn, first).unwrap();
    // The process died after the commit but before it could note the
    // progress anywhere else: the same messages come again, then the rest.
    authd_projections::apply_batch(&mut conn, first).unwrap();
    authd_projections::apply_batch(&mut conn, &messages).unwrap();
    authd_projections::apply_batch(&mut conn, rest).unwrap();
    let failed: i64 = conn
        .query_row("SELECT failed_logins FROM customers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(failed, 3);
    assert_eq!(authd_projections::db::checkpoint(&conn).unwrap(), last);
    assert_eq!(
        authd_projections::db::dump(&conn).unwrap(),
        env.read_model().dump().unwrap()
    );
}

/// The replay's reader: exactly the asked range, in order, across many pull
/// requests (more messages than one pull asks for), and nothing when the
/// range is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_range_read_gives_exactly_the_asked_messages_across_many_pulls() {
    use authd_events::{
        Actor, AggregateKind, AggregateSubject, CustomerEvent, CustomerRegistered, Event,
        EventMessage, MessageMeta, Personal, RecordedRequest,
    };
    use futures::StreamExt;

    let env = TestEnv::start().await;
    env.register("first@example.com", PASSWORD).await;
    let js = env.store.jetstream().clone();
    let mut acks = futures::stream::FuturesUnordered::new();
    for i in 0..5_000 {
        let id = format!("c_range{i:05}");
        let message = EventMessage::new(
            MessageMeta {
                tenant: env.project_id.clone(),
                aggregate_id: id.clone(),
                time: authd_events::now_millis(),
                actor: Actor::System,
                request: RecordedRequest::default(),
                command_id: format!("range-{i}"),
            },
            vec![Event::Customer(CustomerEvent::Registered(
                CustomerRegistered {
                    email: Personal::plain(format!("range{i}@example.com")),
                    password_hash: "$argon2id$not-a-real-hash".into(),
                    email_verified: false,
                },
            ))],
        );
        let subject = AggregateSubject::new(&env.project_id, AggregateKind::Customer, id.as_str())
            .unwrap()
            .to_string();
        acks.push(
            js.publish(subject, message.encode().into())
                .await
                .unwrap()
                .into_future(),
        );
    }
    while let Some(ack) = acks.next().await {
        ack.unwrap();
    }
    let last = env.last_seq().await;
    assert!(last > 5_000);

    let read = |from, to| {
        let store = env.store.clone();
        async move {
            let stream = store.read_range(from, to).await.unwrap();
            tokio::time::timeout(
                Duration::from_secs(30),
                stream.map(|m| m.unwrap().seq).collect::<Vec<_>>(),
            )
            .await
            .expect("a range read ends")
        }
    };
    assert_eq!(read(1, last).await, (1..=last).collect::<Vec<_>>());
    assert_eq!(read(17, 4_500).await, (17..=4_500).collect::<Vec<_>>());
    assert_eq!(read(last, last).await, vec![last]);
    // An empty range ends at once rather than waiting for messages.
    let t = std::time::Instant::now();
    assert!(read(10, 9).await.is_empty());
    assert!(t.elapsed() < Duration::from_secs(5));
    // The messages are the ones subscribe() gives, decoded alike.
    let ranged: Vec<_> = env
        .store
        .read_range(1, 50)
        .await
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            (m.seq, m.subject.to_string(), m.message.encode())
        })
        .collect()
        .await;
    let subscribed: Vec<_> = env
        .store
        .subscribe(1)
        .await
        .unwrap()
        .take(50)
        .map(|m| {
            let m = m.unwrap();
            (m.seq, m.subject.to_string(), m.message.encode())
        })
        .collect()
        .await;
    assert_eq!(ranged, subscribed);

    // A rebuilt file is an ordinary WAL file for the gateway to open.
    let rebuilt = env.dir.path().join("rebuilt.db");
    authd_projections::rebuild(&env.store, &rebuilt, Until::Latest, false, |_, _| {})
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&rebuilt).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let customers: i64 = conn
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(customers, 5_001);

    // A rebuild that fails (here on a message that does not decode) leaves
    // no file behind.
    js.publish(
        format!("authd.evt.{}.customer.c_garbage", env.project_id),
        "not an event".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let failed = env.dir.path().join("failed.db");
    let error = authd_projections::rebuild(&env.store, &failed, Until::Latest, false, |_, _| {})
        .await
        .unwrap_err();
    assert!(error.to_string().contains("decode"), "{error}");
    assert!(!failed.exists());
}

/// A long-lived session (more events than are read one by one) loads from
/// the stream in one pass after a restart, with every earlier token still
/// known: the next refresh works and an old token is caught as reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_history_loads_cold_after_a_restart() {
    let mut env = TestEnv::start().await;
    let reg = env.register("long@example.com", PASSWORD).await;
    let mut tokens = vec![reg["refreshToken"].as_str().unwrap().to_string()];
    for _ in 0..40 {
        let r = env.refresh(tokens.last().unwrap()).await;
        assert_eq!(r["success"], true, "{r}");
        tokens.push(r["refreshToken"].as_str().unwrap().to_string());
    }
    // The session's subject, read whole and from its middle, among other
    // subjects' messages.
    env.register("other@example.com", PASSWORD).await;
    let session_id = tokens[0].split('.').next().unwrap();
    let subject = authd_events::AggregateSubject::new(
        &env.project_id,
        authd_events::AggregateKind::Session,
        session_id,
    )
    .unwrap();
    let history = env.store.read_aggregate(&subject).await.unwrap();
    assert_eq!(history.len(), 41);
    assert!(history.iter().all(|m| m.subject == subject));
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        history.last().unwrap().seq,
        env.store.last_sequence(&subject).await.unwrap()
    );
    let tail = env
        .store
        .read_aggregate_from(&subject, history[20].seq)
        .await
        .unwrap();
    assert_eq!(
        tail.iter().map(|m| m.seq).collect::<Vec<_>>(),
        history[20..].iter().map(|m| m.seq).collect::<Vec<_>>()
    );

    // Cold caches: the services load the session from the stream.
    env.stop_roles().await;
    env.start_services();
    env.start_gateway().await;
    let next = env.refresh(tokens.last().unwrap()).await;
    assert_eq!(next["success"], true, "{next}");
    let reused = env.refresh(&tokens[3]).await;
    assert_eq!(
        reused["errors"][0]["code"], "REFRESH_TOKEN_REUSED",
        "{reused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_waits_briefly_for_a_services_instance_to_start() {
    let mut env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    env.stop_roles().await;
    // Nobody serves commands now; one arrives, and services start after it.
    let bus = authd_services::CommandBus::new(env.client.clone(), Duration::from_secs(5));
    let from = authd_services::bus::Sender {
        tenant: env.project_id.clone(),
        actor: authd_events::Actor::Anonymous,
        request: Default::default(),
    };
    let login = authd_services::commands::LogInWithPassword {
        email: "ann@example.com".into(),
        password: PASSWORD.into(),
    };
    let (sent, ()) = tokio::join!(bus.send(&from, login), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        env.start_services();
    });
    let signed_in = sent.expect("delivered once services started").unwrap();
    let authd_services::commands::SignIn::SignedIn(signed_in) = signed_in.outcome else {
        panic!("no second factor here")
    };
    assert_eq!(signed_in.customer.email, "ann@example.com");
}

/// A broker that stops answering while a command's append is in flight (a
/// frozen node, a stream leader's election): the append goes unacknowledged,
/// the services send the same messages again with the same `Nats-Msg-Id`s,
/// and when the broker answers, the first is stored and the repeat is a
/// duplicate, taken as this command's own append. The caller gets one
/// clear answer (a session), and the log holds the sign-in once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_append_the_frozen_broker_never_acknowledged_is_sent_again_and_stored_once() {
    let env = TestEnv::start_with(|c| {
        // A password check of ~1 s: the sign-in is being decided, its state
        // read, when the broker freezes; its append comes during the pause.
        c.hash = authd_services::password::HashParams {
            m_cost: 19456,
            t_cost: 200,
            p_cost: 1,
        };
        c.command_timeout = Duration::from_secs(20);
    })
    .await;
    let r = env.register("ann@example.com", PASSWORD).await;
    assert_eq!(r["success"], true, "{r}");
    let customer_id = r["user"]["id"].as_str().unwrap().to_string();
    let pid = nix::unistd::Pid::from_raw(env.nats.pid().unwrap() as i32);
    let signal = |s| nix::sys::signal::kill(pid, s).unwrap();

    let login = env.login("ann@example.com", PASSWORD);
    let freeze = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(nix::sys::signal::Signal::SIGSTOP);
        let frozen = std::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(7)).await;
        let thawed_at = authd_events::now_millis();
        signal(nix::sys::signal::Signal::SIGCONT);
        (frozen, thawed_at)
    };
    let (login, (frozen, thawed_at)) = tokio::join!(login, freeze);
    assert_eq!(
        login["success"], true,
        "one clear answer, a session: {login}"
    );
    assert!(frozen.elapsed() >= Duration::from_secs(7));

    // The sign-in is in the log once, decided while the broker was frozen.
    let last = env.last_seq().await;
    let mut signed_in = Vec::new();
    let mut messages = std::pin::pin!(env.store.read_range(1, last).await.unwrap());
    use futures::StreamExt as _;
    while let Some(m) = messages.next().await {
        let m = m.unwrap();
        for e in m.message.bodies() {
            if e.type_name() == "customer.login.succeeded" && m.subject.id == customer_id {
                signed_in.push(m.message.meta.time);
            }
        }
    }
    assert_eq!(signed_in.len(), 1, "stored once: {signed_in:?}");
    assert!(
        signed_in[0] < thawed_at - 3_000,
        "decided {} ms before the thaw: the append did not wait through the pause \
         (the request itself reached the services late)",
        thawed_at - signed_in[0]
    );
    let refreshed = env.refresh(login["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed["success"], true, "{refreshed}");
}

/// A read the frozen broker never answered (a new address's claim, not in
/// the services' cache, read after the password is hashed) is asked again
/// until the caller's deadline instead of failing after its 5 s wait: the
/// sign-up is answered once the broker thaws, and stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_the_frozen_broker_never_answered_is_asked_again() {
    let env = TestEnv::start_with(|c| {
        // A password hash of ~1 s: the broker freezes while it runs, and
        // the claim's read comes during the pause.
        c.hash = authd_services::password::HashParams {
            m_cost: 19456,
            t_cost: 200,
            p_cost: 1,
        };
        c.command_timeout = Duration::from_secs(20);
    })
    .await;
    let pid = nix::unistd::Pid::from_raw(env.nats.pid().unwrap() as i32);
    let signal = |s| nix::sys::signal::kill(pid, s).unwrap();
    let register = env.register("bea@example.com", PASSWORD);
    let freeze = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(nix::sys::signal::Signal::SIGSTOP);
        tokio::time::sleep(Duration::from_secs(7)).await;
        signal(nix::sys::signal::Signal::SIGCONT);
    };
    let (registered, ()) = tokio::join!(register, freeze);
    assert_eq!(
        registered["success"], true,
        "one clear answer: {registered}"
    );
    let again = env.register("bea@example.com", PASSWORD).await;
    assert_eq!(again["errors"][0]["code"], "EMAIL_TAKEN", "{again}");
    let login = env.login("bea@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
}
