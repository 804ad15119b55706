//! A command that touches several aggregates is recorded whole or not at
//! all (one JetStream atomic batch): against real nats-server, services,
//! gateway and read model, under races and a broker crash.

mod common;

use std::{collections::HashMap, time::Duration};

use authd_events::{
    AggregateKind, AggregateSubject, CustomerEvent, EmailClaimEvent, Event, SessionEvent,
};
use common::{PASSWORD, TestEnv};
use futures::StreamExt;
use serde_json::{Value, json};

/// Every message of the stream, decoded: (sequence, subject, events).
async fn log(env: &TestEnv) -> Vec<(u64, AggregateSubject, Vec<Event>)> {
    let last = env.last_seq().await;
    env.store
        .read_range(1, last)
        .await
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            let events = m.message.bodies().cloned().collect();
            (m.seq, m.subject, events)
        })
        .collect()
        .await
}

async fn suspend(env: &TestEnv, id: &str, mutation: &str) {
    let q = format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ success errors {{ code }} }} }}");
    let r = env.admin(&q, json!({ "id": id })).await;
    assert_eq!(r["data"][mutation]["success"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspension_racing_logins_never_leaves_an_earlier_session_alive() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let customer_id = reg["user"]["id"].as_str().unwrap().to_string();
    let mut logins: Vec<Value> = Vec::new();
    for _ in 0..25 {
        let racing =
            futures::future::join_all((0..4).map(|_| env.login("ann@example.com", PASSWORD)));
        let (results, ()) = tokio::join!(racing, suspend(&env, &customer_id, "customerSuspend"));
        logins.extend(results.into_iter().filter(|r| r["success"] == true));
        suspend(&env, &customer_id, "customerReactivate").await;
    }
    assert!(!logins.is_empty(), "some logins won their race");

    // In the log, each login's success and its session's start sit in one
    // batch: no end-of-sessions point falls between them.
    let log = log(&env).await;
    let mut succeeded = HashMap::new();
    let mut started = HashMap::new();
    let mut ends = Vec::new();
    for (seq, subject, events) in &log {
        for e in events {
            match e {
                Event::Customer(CustomerEvent::LoginSucceeded(l)) => {
                    succeeded.insert(l.session_id.clone(), *seq);
                }
                Event::Customer(CustomerEvent::SessionsEnded(_)) => ends.push(*seq),
                Event::Session(SessionEvent::Started(_)) => {
                    started.insert(subject.id.clone(), *seq);
                }
                _ => {}
            }
        }
    }
    assert!(ends.len() >= 25, "every suspension ended sessions");
    // A login that resets nothing appends its session alone, guarded by
    // the customer's sequence: none may land while the customer is
    // suspended (it would have been decided before the suspension).
    let mut suspended = false;
    let mut guarded = 0;
    for (seq, subject, events) in &log {
        for e in events {
            match e {
                Event::Customer(CustomerEvent::Suspended(_)) => suspended = true,
                Event::Customer(CustomerEvent::Reactivated(_)) => suspended = false,
                Event::Session(SessionEvent::Started(_)) => {
                    assert!(
                        !suspended,
                        "session {subject} started at {seq}, while suspended"
                    );
                    guarded += usize::from(!succeeded.contains_key(&subject.id));
                }
                _ => {}
            }
        }
    }
    assert!(guarded > 0, "some logins started their session alone");
    for (session, login_seq) in &succeeded {
        let Some(start_seq) = started.get(session) else {
            panic!("login {session} recorded without its session");
        };
        assert_eq!(*start_seq, login_seq + 1, "one batch, in order");
        assert!(
            !ends.iter().any(|e| login_seq < e && e < start_seq),
            "a suspension landed between a login and its session"
        );
    }
    // And as a client sees it: after the last reactivation, a session that
    // started before a suspension cannot be refreshed; a later one can.
    let last_end = *ends.iter().max().unwrap();
    for login in &logins {
        let refreshed = env.refresh(login["refreshToken"].as_str().unwrap()).await;
        let session = refreshed_session(login);
        let before = started[&session] < last_end;
        assert_eq!(refreshed["success"] == true, !before, "{refreshed}");
        if before {
            assert_eq!(
                refreshed["errors"][0]["code"], "SESSION_REVOKED",
                "{refreshed}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_devices_signing_in_at_once_never_race_on_the_customer() {
    // Logins that reset nothing write nothing to the customer, so they do
    // not conflict with each other (each used to append to the customer and
    // retry on losing the race, up to eight times).
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let customer_id = reg["user"]["id"].as_str().unwrap().to_string();
    let before = env.last_seq().await;
    let results =
        futures::future::join_all((0..24).map(|_| env.login("ann@example.com", PASSWORD))).await;
    for r in &results {
        assert_eq!(r["success"], true, "{r}");
    }
    let log = log(&env).await;
    let new: Vec<_> = log.iter().filter(|(seq, _, _)| *seq > before).collect();
    assert_eq!(new.len(), 24, "one message a login");
    assert!(new.iter().all(|(_, s, _)| s.kind == AggregateKind::Session));
    assert!(!new.iter().any(|(_, s, _)| s.id == customer_id));
    // Every one of them is a live session.
    for r in &results {
        let refreshed = env.refresh(r["refreshToken"].as_str().unwrap()).await;
        assert_eq!(refreshed["success"], true, "{refreshed}");
    }
}

/// The session id a login answer's refresh token names.
fn refreshed_session(login: &Value) -> String {
    let token = login["refreshToken"].as_str().unwrap();
    token.rsplit_once('.').unwrap().0.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registrations_through_a_broker_crash_leave_no_address_taken_without_an_account() {
    let mut env = TestEnv::start().await;
    let emails: Vec<String> = (0..60).map(|i| format!("crash{i}@example.com")).collect();
    // Registrations in flight when the broker dies (SIGKILL, as a crash),
    // then it comes back with its store.
    let pid = nix::unistd::Pid::from_raw(env.nats.pid().unwrap() as i32);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let registering = futures::future::join_all(emails.iter().enumerate().map(|(i, e)| {
        let (env, done) = (&env, &done);
        async move {
            tokio::time::sleep(Duration::from_millis(3 * i as u64)).await;
            let r = env.register(e, PASSWORD).await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            r
        }
    }));
    // The crash comes once the first registration has been answered (however
    // slow the machine), while the later ones are still in flight.
    let crash = async {
        while done.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    };
    let (results, ()) = tokio::join!(registering, crash);
    assert!(
        results.iter().any(|r| r["success"] == true),
        "some registrations got in before the crash: {:?}",
        results
            .iter()
            .map(|r| r["errors"][0]["code"].to_string())
            .collect::<std::collections::BTreeSet<_>>()
    );
    env.nats.restart().unwrap();
    wait_until_serving(&env).await;

    // Every address is either free (registers now) or has an account that
    // signs in with the password it was registered with.
    for email in &emails {
        let again = env.register(email, PASSWORD).await;
        if again["success"] == true {
            continue;
        }
        assert_eq!(again["errors"][0]["code"], "EMAIL_TAKEN", "{again}");
        let login = env.login(email, PASSWORD).await;
        assert_eq!(
            login["success"], true,
            "{email} is taken but cannot sign in: {login}"
        );
    }
    // And in the log, every claim names a customer that was recorded.
    let log = log(&env).await;
    let registered: std::collections::HashSet<String> = log
        .iter()
        .filter(|(_, s, e)| {
            s.kind == AggregateKind::Customer
                && e.iter()
                    .any(|e| matches!(e, Event::Customer(CustomerEvent::Registered(_))))
        })
        .map(|(_, s, _)| s.id.clone())
        .collect();
    let mut claims = 0;
    for (_, _, events) in &log {
        for e in events {
            if let Event::EmailClaim(EmailClaimEvent::Claimed(c)) = e {
                claims += 1;
                assert!(registered.contains(&c.customer_id), "orphan claim {c:?}");
            }
        }
    }
    assert_eq!(claims, registered.len(), "one claim per customer");
}

async fn wait_until_serving(env: &TestEnv) {
    for _ in 0..150 {
        let r = env.register("probe@example.com", PASSWORD).await;
        if r["success"] == true || r["errors"][0]["code"] == "EMAIL_TAKEN" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the service did not come back after the broker restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_and_login_append_in_one_round_trip_each() {
    let env = TestEnv::start().await;
    let before = env.store.append_round_trips();
    let reg = env.register("ann@example.com", PASSWORD).await;
    assert_eq!(reg["success"], true, "{reg}");
    // Claim, customer and session: three messages, one append.
    assert_eq!(env.store.append_round_trips() - before, 1);
    // A login that resets nothing on the customer: its session's start
    // alone, one message, one append (guarded by the customer's sequence).
    let before = (env.store.append_round_trips(), env.last_seq().await);
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
    assert_eq!(env.store.append_round_trips() - before.0, 1);
    let log = log(&env).await;
    let kinds = |from: u64| -> Vec<AggregateKind> {
        log.iter()
            .filter(|(seq, _, _)| *seq > from)
            .map(|(_, s, _)| s.kind)
            .collect()
    };
    assert_eq!(kinds(before.1), [AggregateKind::Session]);

    // After a wrong password, the login clears the failure on the customer
    // too: two messages, still one append (one atomic batch).
    let wrong = env.login("ann@example.com", "wrong password").await;
    assert_eq!(wrong["success"], false, "{wrong}");
    let before = (env.store.append_round_trips(), env.last_seq().await);
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
    assert_eq!(env.store.append_round_trips() - before.0, 1);
    let log = self::log(&env).await;
    let last_two: Vec<(AggregateKind, Vec<Event>)> = log
        .iter()
        .filter(|(seq, _, _)| *seq > before.1)
        .map(|(_, s, e)| (s.kind, e.clone()))
        .collect();
    assert_eq!(last_two.len(), 2, "{last_two:?}");
    assert_eq!(last_two[0].0, AggregateKind::Customer);
    assert!(matches!(
        last_two[0].1[..],
        [Event::Customer(CustomerEvent::LoginSucceeded(_))]
    ));
    assert_eq!(last_two[1].0, AggregateKind::Session);
}
