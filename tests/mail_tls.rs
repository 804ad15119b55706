//! Mail over TLS with credentials: STARTTLS with AUTH, implicit TLS
//! (`smtps://`), and a certificate nobody vouched for, against real SMTP
//! servers on loopback with a test CA (`tests/fixtures/tls/`).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{
    PASSWORD, TestEnv,
    smtp::{SmtpServer, fixture, install_crypto_provider, token_in},
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use serde_json::json;

const REQUEST_RESET: &str =
    "mutation R($email: String!) { customerRequestPasswordReset(email: $email) { success } }";

async fn request_reset(env: &TestEnv, email: &str) {
    let r = env.gql(REQUEST_RESET, json!({ "email": email })).await;
    assert_eq!(
        r["data"]["customerRequestPasswordReset"]["success"], true,
        "{r}"
    );
}

async fn queued_mail(env: &TestEnv) -> u64 {
    let js = async_nats::jetstream::new(env.client.clone());
    let mut stream = js.get_stream("AUTH_MAIL").await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn starttls_with_credentials_delivers_through_a_private_ca() {
    let port = authd::nats_server::free_port();
    // A password with characters that must be percent-encoded in the URL.
    let smtp = SmtpServer::start_tls(port, "mailer", "s3cret pass/word");
    let env = TestEnv::start_mailing_to(smtp, |c| {
        c.smtp_url = Some(format!(
            "smtp://mailer:s3cret%20pass%2Fword@127.0.0.1:{port}?tls=required"
        ));
        c.smtp_ca_file = Some(fixture("ca.pem"));
    })
    .await;
    env.register("ann@example.com", PASSWORD).await;
    request_reset(&env, "ann@example.com").await;

    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(token_in(&mail).len() >= 32);
    // The server offers AUTH only after STARTTLS, so a login proves both.
    assert_eq!(env.smtp().logins(), vec!["mailer".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_untrusted_certificate_or_wrong_password_delivers_nothing_and_loses_nothing() {
    let port = authd::nats_server::free_port();
    let smtp = SmtpServer::start_tls(port, "mailer", "right");
    let url = |password: &str| format!("smtp://mailer:{password}@127.0.0.1:{port}?tls=required");
    // First without the CA: the public roots do not vouch for the test CA.
    let mut env = TestEnv::start_mailing_to(smtp, |c| c.smtp_url = Some(url("right"))).await;
    env.register("ann@example.com", PASSWORD).await;
    request_reset(&env, "ann@example.com").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.smtp().count_to("ann@example.com"), 0);
    assert!(env.smtp().logins().is_empty());
    assert_eq!(queued_mail(&env).await, 1);

    // Trusted, but the wrong password: still nothing delivered or lost.
    env.stop_mailer().await;
    env.config.smtp_ca_file = Some(fixture("ca.pem"));
    env.config.smtp_url = Some(url("wrong"));
    env.start_mailer();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.smtp().count_to("ann@example.com"), 0);
    assert_eq!(queued_mail(&env).await, 1);

    // Fixed: the queued mail goes out once, and the queue empties.
    env.stop_mailer().await;
    env.config.smtp_url = Some(url("right"));
    env.start_mailer();
    env.smtp().nth_to("ann@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.smtp().count_to("ann@example.com"), 1);
    assert_eq!(queued_mail(&env).await, 0);
}

/// Implicit TLS in front of a plain SMTP server: accepts TLS on its own
/// port with the fixture certificate and relays the cleartext to `backend`.
/// Counts completed handshakes.
async fn tls_terminator(backend: u16) -> (u16, Arc<AtomicUsize>) {
    install_crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("smtp.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("smtp.key")).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    (port, handshakes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn implicit_tls_delivers() {
    let backend = authd::nats_server::free_port();
    let smtp = SmtpServer::start(backend);
    let (port, handshakes) = tls_terminator(backend).await;
    let env = TestEnv::start_mailing_to(smtp, |c| {
        c.smtp_url = Some(format!("smtps://127.0.0.1:{port}"));
        c.smtp_ca_file = Some(fixture("ca.pem"));
    })
    .await;
    env.register("ann@example.com", PASSWORD).await;
    request_reset(&env, "ann@example.com").await;

    env.smtp().nth_to("ann@example.com", 1).await;
    assert!(handshakes.load(Ordering::SeqCst) >= 1);
    // Nothing reached the plain server except through the TLS port.
    assert_eq!(env.smtp().all().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ca_file_without_tls_in_the_url_is_a_clear_error() {
    let env = TestEnv::start_with(|c| {
        c.smtp_url = Some("smtp://user:hunter2-secret@127.0.0.1:25".into());
        c.smtp_ca_file = Some(fixture("ca.pem"));
    })
    .await;
    let err = authd::app::run_mailer(
        &env.config,
        env.client.clone(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("needs TLS"), "{err}");
    assert!(!err.contains("hunter2-secret"), "{err}");
}
