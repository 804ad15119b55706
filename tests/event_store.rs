//! The event log's atomic batches against a real nats-server (2.12+): a
//! command's messages to several aggregates are appended all or nothing.

use authd::{app, nats_server::NatsServer};
use authd_events::{
    Actor, AggregateKind, AggregateSubject, BatchEntry, EmailClaimEvent, EmailClaimed, Event,
    EventMessage, EventStore, Expected, MessageMeta, RecordedRequest, RevokeReason, SessionEvent,
    SessionRevoked, StoreError,
};

fn message(command_id: &str, subject: &AggregateSubject, event: Event) -> EventMessage {
    EventMessage::new(
        MessageMeta {
            tenant: subject.tenant.clone(),
            aggregate_id: subject.id.clone(),
            time: 1,
            actor: Actor::System,
            request: RecordedRequest::default(),
            command_id: command_id.into(),
        },
        vec![event],
    )
}

fn claimed(c: &str) -> Event {
    Event::EmailClaim(EmailClaimEvent::Claimed(EmailClaimed {
        customer_id: c.into(),
    }))
}

fn revoked() -> Event {
    Event::Session(SessionEvent::Revoked(SessionRevoked {
        reason: RevokeReason::Logout,
    }))
}

async fn store(nats: &NatsServer) -> EventStore {
    let conn = app::connect(&nats.url()).await.unwrap();
    app::open_store(&conn).await.unwrap()
}

fn subject(kind: AggregateKind, id: &str) -> AggregateSubject {
    AggregateSubject::new("p_1", kind, id).unwrap()
}

#[tokio::test]
async fn a_batch_appends_every_message_in_order_or_none_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let store = store(&nats).await;
    let claim = subject(AggregateKind::EmailClaim, "e1");
    let s1 = subject(AggregateKind::Session, "s1");
    let s2 = subject(AggregateKind::Session, "s2");

    // Something unrelated first, so sequences do not start at 1.
    let other = subject(AggregateKind::Session, "s0");
    store
        .append(&other, &message("c0", &other, revoked()), Expected::Seq(0))
        .await
        .unwrap();

    let (m1, m2, m3) = (
        message("c1", &claim, claimed("c_1")),
        message("c1", &s1, revoked()),
        message("c1", &s2, revoked()),
    );
    let entries = [
        BatchEntry {
            subject: &claim,
            message: &m1,
            expected: Expected::Seq(0),
        },
        BatchEntry {
            subject: &s1,
            message: &m2,
            expected: Expected::Seq(0),
        },
        BatchEntry {
            subject: &s2,
            message: &m3,
            expected: Expected::Any,
        },
    ];
    let batched = store.append_batch(&entries).await.unwrap();
    assert_eq!(batched.seqs, vec![2, 3, 4]);
    assert!(!batched.duplicate);
    for (e, seq) in entries.iter().zip(&batched.seqs) {
        let read = store.read_aggregate(e.subject).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].seq, *seq);
        assert_eq!(read[0].message, *e.message);
    }

    // The same command again: nothing new, and it says so.
    let again = store.append_batch(&entries).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(store.last_stream_sequence().await.unwrap(), 4);

    // A second claim of the same email, batched with a fresh session: the
    // claim's expected sequence is stale, so neither message is appended.
    let s3 = subject(AggregateKind::Session, "s3");
    let (m4, m5) = (
        message("c2", &s3, revoked()),
        message("c2", &claim, claimed("c_2")),
    );
    let conflicting = [
        BatchEntry {
            subject: &s3,
            message: &m4,
            expected: Expected::Seq(0),
        },
        BatchEntry {
            subject: &claim,
            message: &m5,
            expected: Expected::Seq(0),
        },
    ];
    let err = store.append_batch(&conflicting).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(store.last_stream_sequence().await.unwrap(), 4);
    assert!(store.read_aggregate(&s3).await.unwrap().is_empty());
    let all: Vec<_> = {
        use futures::StreamExt;
        store.read_range(1, 4).await.unwrap().collect().await
    };
    assert_eq!(
        all.len(),
        4,
        "the stream holds exactly the four appended messages"
    );

    // With the claim's real sequence the same batch goes through.
    let fixed = [
        BatchEntry {
            subject: &s3,
            message: &m4,
            expected: Expected::Seq(0),
        },
        BatchEntry {
            subject: &claim,
            message: &m5,
            expected: Expected::Seq(2),
        },
    ];
    assert_eq!(store.append_batch(&fixed).await.unwrap().seqs, vec![5, 6]);
}

#[tokio::test]
async fn a_guarded_append_lands_only_while_the_guarding_aggregate_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let store = store(&nats).await;
    let customer = subject(AggregateKind::Customer, "c_1");
    let seen = store
        .append(
            &customer,
            &message("c0", &customer, revoked()),
            Expected::Seq(0),
        )
        .await
        .unwrap()
        .seq;

    // The customer is where the decision saw it: the session is appended,
    // and nothing on the customer's subject.
    let s1 = subject(AggregateKind::Session, "s1");
    let m1 = message("c1", &s1, revoked());
    let a = store
        .append_guarded(&s1, &m1, &customer, seen)
        .await
        .unwrap();
    assert!(!a.duplicate);
    assert_eq!(store.read_aggregate(&s1).await.unwrap()[0].message, m1);
    assert_eq!(store.last_sequence(&customer).await.unwrap(), seen);
    // The same command again (which makes another session id) is a
    // duplicate, not a second session.
    let s1b = subject(AggregateKind::Session, "s1b");
    let again = store
        .append_guarded(&s1b, &message("c1", &s1b, revoked()), &customer, seen)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.seq, a.seq);
    assert!(store.read_aggregate(&s1b).await.unwrap().is_empty());
    // So is a repeat that, deciding on a changed state, writes the customer
    // in a batch: its message to the customer carries the same id.
    let s1c = subject(AggregateKind::Session, "s1c");
    let (mc, ms) = (
        message("c1", &customer, revoked()),
        message("c1", &s1c, revoked()),
    );
    let batch = [
        BatchEntry {
            subject: &customer,
            message: &mc,
            expected: Expected::Seq(seen),
        },
        BatchEntry {
            subject: &s1c,
            message: &ms,
            expected: Expected::Seq(0),
        },
    ];
    assert!(store.append_batch(&batch).await.unwrap().duplicate);
    assert_eq!(store.last_stream_sequence().await.unwrap(), a.seq);

    // The customer moved on (a suspension, say): a decision made before it
    // appends nothing, and says it lost a race.
    let moved = store
        .append(
            &customer,
            &message("c2", &customer, revoked()),
            Expected::Seq(seen),
        )
        .await
        .unwrap()
        .seq;
    let s2 = subject(AggregateKind::Session, "s2");
    let err = store
        .append_guarded(&s2, &message("c3", &s2, revoked()), &customer, seen)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert!(store.read_aggregate(&s2).await.unwrap().is_empty());
    assert_eq!(store.last_stream_sequence().await.unwrap(), moved);
    // Decided again on the new state, it lands.
    store
        .append_guarded(&s2, &message("c3", &s2, revoked()), &customer, moved)
        .await
        .unwrap();
    assert_eq!(store.read_aggregate(&s2).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_stream_made_without_atomic_batches_is_updated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let conn = app::connect(&nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(conn.client.clone());
    // As an older build made it.
    js.create_stream(async_nats::jetstream::stream::Config {
        name: authd_events::subject::EVENT_STREAM.into(),
        subjects: vec![authd_events::subject::EVENT_SUBJECTS.into()],
        duplicate_window: std::time::Duration::from_secs(120),
        allow_direct: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let store = app::open_store(&conn).await.unwrap();
    let mut stream = js
        .get_stream(authd_events::subject::EVENT_STREAM)
        .await
        .unwrap();
    assert!(stream.info().await.unwrap().config.allow_atomic_publish);
    let (a, b) = (
        subject(AggregateKind::Session, "a"),
        subject(AggregateKind::Session, "b"),
    );
    let (ma, mb) = (message("c", &a, revoked()), message("c", &b, revoked()));
    let batch = [
        BatchEntry {
            subject: &a,
            message: &ma,
            expected: Expected::Seq(0),
        },
        BatchEntry {
            subject: &b,
            message: &mb,
            expected: Expected::Seq(0),
        },
    ];
    assert_eq!(store.append_batch(&batch).await.unwrap().seqs, vec![1, 2]);
}

#[test]
fn an_old_nats_server_is_refused_with_what_to_do() {
    let err = authd::nats_server::NatsServerError::TooOld {
        path: "/usr/sbin/nats-server".into(),
        found: "2.9.10".into(),
    }
    .to_string();
    assert!(err.contains("2.9.10") && err.contains("2.12"), "{err}");
    assert!(err.contains("scripts/install-nats-server"), "{err}");
    assert_eq!(authd::nats_server::parse_version("2.12.8"), Some((2, 12)));
    assert_eq!(authd::nats_server::parse_version("v2.9.10"), Some((2, 9)));
}

#[tokio::test]
async fn a_cold_aggregate_is_read_whole_in_batches_among_other_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats"), None).unwrap();
    let store = store(&nats).await;
    let long = subject(AggregateKind::Session, "long");
    let other = subject(AggregateKind::Session, "other");
    // 600 messages of one aggregate (more than two batches), interleaved
    // with another's.
    let mut expected = Vec::new();
    for i in 0..600u64 {
        let m = message(&format!("c{i}"), &long, revoked());
        let a = store.append(&long, &m, Expected::Any).await.unwrap();
        expected.push((a.seq, m));
        let o = message(&format!("o{i}"), &other, revoked());
        store.append(&other, &o, Expected::Any).await.unwrap();
    }
    let read = store.read_aggregate(&long).await.unwrap();
    assert_eq!(read.len(), 600);
    for (r, (seq, m)) in read.iter().zip(&expected) {
        assert_eq!((r.seq, &r.message), (*seq, m));
        assert_eq!(r.subject, long);
    }
    // From a sequence on: only what follows it.
    let from = expected[400].0;
    let tail = store.read_aggregate_from(&long, from).await.unwrap();
    assert_eq!(tail.len(), 200);
    assert_eq!(tail[0].seq, from);
    // Nothing after the last, and nothing for a subject never written.
    let after = store
        .read_aggregate_from(&long, expected[599].0 + 1)
        .await
        .unwrap();
    assert!(after.is_empty());
    let none = subject(AggregateKind::Session, "never");
    assert!(store.read_aggregate(&none).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_older_nats_server_is_refused_when_the_store_opens() {
    // Debian's package (2.9) is on machines of this kind; elsewhere there
    // is no old server to try.
    let debian = std::path::PathBuf::from("/usr/sbin/nats-server");
    if !debian.exists() {
        eprintln!("no /usr/sbin/nats-server here: nothing older to refuse");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let old = NatsServer::start_binary(debian, &dir.path().join("nats"), None).unwrap();
    let conn = app::connect(&old.url()).await.unwrap();
    let err = app::open_store(&conn)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("too old") && err.contains("2.12"), "{err}");
}

#[test]
fn a_nats_server_that_cannot_bind_its_port_is_not_taken_for_ready() {
    // Another process holds the port: a connection would reach it, but the
    // server we started is not there.
    let dir = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let err = NatsServer::start(&dir.path().join("taken"), Some(port))
        .err()
        .expect("a server that could not bind its port is no server");
    assert!(err.to_string().contains("address already in use"), "{err}");
    // With no port asked for, it starts (on a free one).
    let nats = NatsServer::start(&dir.path().join("free"), None).unwrap();
    assert_ne!(nats.port(), port);
    std::net::TcpStream::connect(("127.0.0.1", nats.port())).unwrap();
}

#[test]
fn a_nats_server_left_running_on_a_store_is_stopped_before_another_starts() {
    // Its owner died without stopping it (authd dev killed with SIGKILL):
    // two servers on one store must never run at once.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nats");
    let first = NatsServer::start(&store, None).unwrap();
    let stale = first.pid().unwrap();
    std::mem::forget(first);
    let second = NatsServer::start(&store, None).unwrap();
    // Gone (a zombie until this process ends: it was our child) …
    let cmdline = std::fs::read(format!("/proc/{stale}/cmdline")).unwrap_or_default();
    assert!(cmdline.is_empty(), "the first server still runs");
    // … and the new one serves.
    assert_ne!(second.pid(), Some(stale));
    std::net::TcpStream::connect(("127.0.0.1", second.port())).unwrap();
}
