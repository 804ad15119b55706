//! Personal data gone from disk (#22), searched for in the files
//! themselves: what nats-server keeps in its store directory after a
//! mail job is done with; against a real gateway, services, mailer,
//! nats-server and SMTP server.

mod common;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use common::{
    PASSWORD, TestEnv,
    smtp::{REFUSED_DOMAIN, token_in},
};
use serde_json::json;

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The files under `dir` that hold `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

const RESET: &str =
    "mutation R($email: String!) { customerRequestPasswordReset(email: $email) { success } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivered_mail_job_is_erased_from_the_brokers_files() {
    let env = TestEnv::start_with_mail().await;
    let store = env.dir.path().join("nats");
    let waiting = format!("bob{REFUSED_DOMAIN}");
    env.register(&waiting, PASSWORD).await;
    env.register("ann@example.com", PASSWORD).await;
    // Bob's relay refuses (451): his jobs wait in the queue, beside Ann's.
    for email in [waiting.as_str(), "ann@example.com"] {
        let r = env.gql(RESET, json!({ "email": email })).await;
        assert_eq!(
            r["data"]["customerRequestPasswordReset"]["success"], true,
            "{r}"
        );
    }
    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(
        mail.text.contains("?token="),
        "the reset mail: {}",
        mail.text
    );
    let token = token_in(&mail);
    assert!(token.len() > 20, "{token}");

    // The mailer erases the job right after the relay took it.
    let mut left = holding(&store, token.as_bytes());
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = holding(&store, token.as_bytes());
    }
    assert!(
        left.is_empty(),
        "the delivered reset token is still in {left:?}"
    );
    let mail_stream = files(&store)
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("AUTH_MAIL"))
        .count();
    assert!(mail_stream > 0, "the search reads the mail stream's files");
    // The control: Bob's waiting jobs are still there, as they must be.
    let waiting_in = holding(&store, waiting.as_bytes());
    assert!(
        waiting_in
            .iter()
            .any(|f| f.to_string_lossy().contains("AUTH_MAIL")),
        "bob's queued jobs are on disk: {waiting_in:?}"
    );
    assert_eq!(env.smtp().count_to(&waiting), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_destroyed_data_key_is_gone_from_the_brokers_files() {
    use authd_events::data_keys::{DataKeys, KeyError, ensure_stream, key_subject};
    let env = TestEnv::start().await;
    let store = env.dir.path().join("nats");
    let js = async_nats::jetstream::new(env.client.clone());
    ensure_stream(&js, 1).await.unwrap();
    let kek = [7u8; 32];
    let keys = DataKeys::new(js.clone(), &kek);

    let ann = keys.create("p_shop", "c_ann").await.unwrap();
    let sealed = ann.seal("email", "ann@example.com");
    assert_eq!(sealed.as_plain(), None);
    assert_eq!(ann.open("email", &sealed).unwrap(), "ann@example.com");
    // Bound to its field and its customer.
    assert!(ann.open("phone", &sealed).is_err());
    let bob = keys.create("p_shop", "c_bob").await.unwrap();
    assert!(bob.open("email", &sealed).is_err());
    // Made once: a second create, from a process without the cache, finds it.
    let elsewhere = DataKeys::new(js.clone(), &kek);
    let again = elsewhere.create("p_shop", "c_ann").await.unwrap();
    assert_eq!(again.open("email", &sealed).unwrap(), "ann@example.com");
    // Another key-encryption key unwraps nothing.
    let wrong = DataKeys::new(js.clone(), &[8u8; 32]);
    assert!(matches!(
        wrong.get("p_shop", "c_ann").await,
        Err(KeyError::WrongKek)
    ));

    // The hard way: the wrapped key's bytes are in the store, then gone.
    let stream = js.get_stream("AUTH_KEYS").await.unwrap();
    let subject = key_subject("p_shop", "c_ann").unwrap();
    let wrapped = stream
        .direct_get_last_for_subject(subject.as_str())
        .await
        .unwrap()
        .payload
        .to_vec();
    assert!(
        !holding(&store, &wrapped).is_empty(),
        "the control: found before"
    );
    assert!(keys.destroy("p_shop", "c_ann").await.unwrap());
    let left = holding(&store, &wrapped);
    assert!(left.is_empty(), "the destroyed key is still in {left:?}");
    for k in [&keys, &elsewhere] {
        k.forget("p_shop", "c_ann");
        assert!(k.get("p_shop", "c_ann").await.unwrap().is_none());
    }
    assert!(!keys.destroy("p_shop", "c_ann").await.unwrap(), "once");
    // Bob's key is untouched.
    let bob_again = DataKeys::new(js.clone(), &kek)
        .get("p_shop", "c_bob")
        .await
        .unwrap()
        .unwrap();
    let b = bob.seal("email", "bob@example.com");
    assert_eq!(bob_again.open("email", &b).unwrap(), "bob@example.com");
}
