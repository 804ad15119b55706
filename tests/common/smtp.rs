//! A real SMTP server (mailin-embedded, from crates.io) on a loopback port,
//! keeping what it receives for the test to read.

use std::{
    net::TcpStream,
    sync::{Arc, Mutex},
    time::Duration,
};

use mailin_embedded::{Handler, Response, Server, response};

#[derive(Clone, Default)]
struct Sink {
    inbox: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    buf: Vec<u8>,
    /// The one user and password AUTH accepts, when set.
    credentials: Option<(String, String)>,
    /// Users that authenticated successfully, in order.
    logins: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    fn check(&self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => {
                self.logins.lock().unwrap().push(user.to_string());
                response::AUTH_OK
            }
            _ => response::INVALID_CREDENTIALS,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    /// The raw message, quoted-printable soft breaks and escapes decoded.
    pub text: String,
}

/// Mail to this domain is refused with a temporary error (451), so the
/// job stays queued and is retried.
pub const REFUSED_DOMAIN: &str = "@refused.example";

impl Handler for Sink {
    fn rcpt(&mut self, to: &str) -> Response {
        if to.contains(REFUSED_DOMAIN) {
            return response::INTERNAL_ERROR;
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.buf.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn data_end(&mut self) -> Response {
        let text = decode_qp(&String::from_utf8_lossy(&self.buf));
        self.inbox.lock().unwrap().push(Received {
            to: self.to.clone(),
            text,
        });
        response::OK
    }
}

fn decode_qp(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
    logins: Arc<Mutex<Vec<String>>>,
}

/// The test CA (`tests/fixtures/tls/ca.pem`) and a certificate it signed
/// for `localhost` and `127.0.0.1`, valid for a century.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// rustls needs one process-wide crypto provider; the test build links two.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl SmtpServer {
    /// Starts serving plain SMTP on `port`, or on a free one for 0 (it runs
    /// until the test process ends).
    pub fn start(port: u16) -> Self {
        Self::serve(port, Sink::default(), false)
    }

    /// SMTP offering STARTTLS with the fixture certificate, and AUTH
    /// PLAIN/LOGIN (only after STARTTLS) for exactly `user`/`password`.
    pub fn start_tls(port: u16, user: &str, password: &str) -> Self {
        let sink = Sink {
            credentials: Some((user.into(), password.into())),
            ..Sink::default()
        };
        Self::serve(port, sink, true)
    }

    fn serve(port: u16, sink: Sink, tls: bool) -> Self {
        let (inbox, logins) = (sink.inbox.clone(), sink.logins.clone());
        if tls {
            install_crypto_provider();
        }
        // Bound here, so the port is ours before anything connects (no
        // window in which another test can take a port picked as free).
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("SMTP test server cannot listen on {port}: {e}"));
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut server = Server::new(sink);
            server.with_name("smtp.test").with_tcp_listener(listener);
            if tls {
                let path = |n| fixture(n).to_str().unwrap().to_string();
                server
                    .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                        cert_path: path("smtp.pem"),
                        key_path: path("smtp.key"),
                    })
                    .unwrap()
                    .with_auth(mailin_embedded::AuthMechanism::Plain)
                    .with_auth(mailin_embedded::AuthMechanism::Login);
            }
            server.serve().unwrap();
        });
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            port,
            inbox,
            logins,
        }
    }

    /// Users that authenticated, in order.
    pub fn logins(&self) -> Vec<String> {
        self.logins.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits for the `n`-th (1-based) message to `to`.
    pub async fn nth_to(&self, to: &str, n: usize) -> Received {
        for _ in 0..300 {
            let found: Vec<Received> = self
                .all()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no message {n} to {to} arrived; inbox: {:?}",
            self.all().iter().map(|m| &m.to).collect::<Vec<_>>()
        );
    }

    pub fn count_to(&self, to: &str) -> usize {
        self.all()
            .iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .count()
    }
}

/// The six-digit code in a sign-in mail.
pub fn code_in(mail: &Received) -> String {
    let i = mail
        .text
        .find("Your sign-in code is ")
        .expect("a code mail")
        + "Your sign-in code is ".len();
    mail.text[i..i + 6].to_string()
}

/// The `token` parameter of the first link in a mail.
pub fn token_in(mail: &Received) -> String {
    let i = mail.text.find("?token=").expect("a link") + "?token=".len();
    mail.text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
        .collect()
}
