//! The executor against a real nats-server, through a proxy that can hold
//! the broker's answers: an append stored whose acknowledgement never came.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use authd_events::{
    Actor, AggregateKind, AggregateSubject, EventStore, LoginMethod, RequestMeta, StoreConfig,
    keyed_hash::secret_hash,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Executor;
use crate::{
    commands::{Command as Cmd, CommandEnvelope, RefreshSession},
    domain::{
        aggregate::Aggregate,
        session::{self, Session, SessionCommand},
    },
    infra::{cache::StateCache, clock::Clock},
};

/// The server and its store (removed when dropped).
struct Broker(Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `nats-server -js` on a free loopback port: `AUTHD_NATS_SERVER`, else
/// the project's `.tools/bin` one, else PATH's.
async fn broker() -> (Broker, u16) {
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/nats-server");
    let binary = std::env::var_os("AUTHD_NATS_SERVER")
        .map(PathBuf::from)
        .or_else(|| tools.exists().then_some(tools))
        .unwrap_or_else(|| "nats-server".into());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(&binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
    let broker = Broker(child, dir);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (broker, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nats-server did not listen on {port}");
}

/// A TCP proxy to the broker whose answers wait (in order, none lost)
/// while `hold` is set.
async fn proxy(to: u16, hold: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(("127.0.0.1", to))
                .await
                .unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
            let hold = hold.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = sr.read(&mut buf).await {
                    while hold.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn envelope(command_id: &str) -> CommandEnvelope {
    CommandEnvelope {
        command_id: command_id.into(),
        tenant: "t1".into(),
        actor: Actor::System,
        request: RequestMeta {
            request_id: "r1".into(),
            ip: None,
            user_agent: None,
        },
        command: Cmd::RefreshSession(RefreshSession {
            refresh_token: String::new(),
        }),
    }
}

/// A refresh whose append was stored but never acknowledged, sent again
/// after the broker's duplicate window: the second try is refused as a
/// conflict. The executor finds its own first try in the log and answers
/// with it; deciding again on the reloaded session would take the
/// rotation it made itself for a stolen token's reuse and end the session.
#[tokio::test]
async fn an_unanswered_append_found_in_the_log_is_the_commands_own() {
    let (_broker, port) = broker().await;
    let hold = Arc::new(AtomicBool::new(false));
    let via = proxy(port, hold.clone()).await;
    let client = async_nats::connect(format!("127.0.0.1:{via}"))
        .await
        .unwrap();
    let config = StoreConfig {
        // Short, so the second try is not taken for a duplicate.
        duplicate_window: Duration::from_secs(1),
        ..Default::default()
    };
    let store = EventStore::open(client, config).await.unwrap();
    let x = Executor::new(
        store.clone(),
        Arc::new(StateCache::new(100)),
        Clock::default(),
    );
    let session = AggregateSubject::new("t1", AggregateKind::Session, "s1").unwrap();
    let start = SessionCommand::Start {
        customer_id: "c1".into(),
        method: LoginMethod::Password,
        refresh_token_hash: secret_hash("r0"),
        expires_at: i64::MAX,
        storefront: false,
    };
    x.run::<Session>(&envelope("cmd-start"), &session, &start)
        .await
        .unwrap();

    let refresh = SessionCommand::Refresh {
        presented_hash: secret_hash("r0"),
        new_hash: secret_hash("r1"),
        customer_allows: true,
    };
    let mut rounds = 0;
    let d = x
        .decide::<Session>(&envelope("cmd-refresh"), &session, |state, now| {
            rounds += 1;
            if rounds == 1 {
                // The first try reaches the broker; its answer does not
                // come back before the executor gives up on it (2 s).
                hold.store(true, Ordering::SeqCst);
                let hold = hold.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    hold.store(false, Ordering::SeqCst);
                });
            }
            state.decide(&refresh, now)
        })
        .await
        .unwrap();
    assert!(!session::reuse_detected(&d.events), "{:?}", d.events);
    assert!(!d.duplicate);
    assert_eq!((d.state.generation, d.state.revoked), (1, None));
    assert_eq!(d.state.token_hash, secret_hash("r1"));

    let log = store.read_aggregate(&session).await.unwrap();
    let refreshes: Vec<_> = log
        .iter()
        .filter(|m| m.message.meta.command_id == "cmd-refresh")
        .collect();
    assert_eq!(refreshes.len(), 1, "appended once");
    assert_eq!(log.len(), 2);
    assert_eq!(d.seq, refreshes[0].seq);
    let (_, after, _) = x.load::<Session>(&session, true).await.unwrap();
    assert_eq!((after.generation, after.revoked), (1, None));
}
