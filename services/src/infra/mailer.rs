//! The mailer role: takes jobs off `AUTH_MAIL` and delivers them over SMTP
//! (or into an outbox directory in dev), acknowledging only after the
//! server accepted the message. A failed delivery is retried with backoff,
//! so no mail is lost across mailer or SMTP restarts.

use std::{path::PathBuf, time::Duration};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox as Address, MultiPart, SinglePart, header::ContentType},
    transport::smtp::client::{Certificate, Tls, TlsParameters},
};
use tokio_util::sync::CancellationToken;

use super::mail::{MailJob, Mailbox, render};

const CONSUMER: &str = "authd-mailer";

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl Transport {
    /// `smtp://[user:pass@]host:port` (STARTTLS with `?tls=required`),
    /// `smtps://…` for implicit TLS. `ca_pem` adds trusted roots (PEM) to
    /// the public ones, for a relay whose certificate a private CA signed.
    /// Errors never repeat the URL: it may carry a password.
    pub fn smtp(url: &str, ca_pem: Option<&[u8]>) -> anyhow::Result<Self> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("invalid SMTP URL: {e}"))?;
        if let Some(pem) = ca_pem {
            let parsed =
                url::Url::parse(url).map_err(|e| anyhow::anyhow!("invalid SMTP URL: {e}"))?;
            let host = parsed.host_str().unwrap_or_default().to_string();
            let tls_param = parsed
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.into_owned());
            let params = TlsParameters::builder(host)
                .add_root_certificate(
                    Certificate::from_pem(pem)
                        .map_err(|e| anyhow::anyhow!("invalid SMTP CA certificate: {e}"))?,
                )
                .build_rustls()
                .map_err(|e| anyhow::anyhow!("SMTP TLS setup failed: {e}"))?;
            let tls = match (parsed.scheme(), tls_param.as_deref()) {
                ("smtps", _) => Tls::Wrapper(params),
                ("smtp", Some("required")) => Tls::Required(params),
                ("smtp", Some("opportunistic")) => Tls::Opportunistic(params),
                _ => anyhow::bail!(
                    "an SMTP CA certificate needs TLS: use smtps://… or smtp://…?tls=required"
                ),
            };
            builder = builder.tls(tls);
        }
        let transport = builder.timeout(Some(Duration::from_secs(10))).build();
        Ok(Self::Smtp(transport))
    }

    pub fn outbox(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self::Outbox(dir))
    }

    async fn deliver(&self, message: &Message) -> anyhow::Result<()> {
        match self {
            Self::Smtp(t) => {
                t.send(message.clone()).await?;
            }
            Self::Outbox(dir) => {
                AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message.clone())
                    .await?;
            }
        }
        Ok(())
    }
}

pub fn build_message(job: &MailJob) -> anyhow::Result<Message> {
    let (subject, text, html) = render(job);
    Ok(Message::builder()
        .from(job.from.parse::<Address>()?)
        .to(job.to.parse::<Address>()?)
        .subject(subject)
        .message_id(Some(format!("<{}@authd>", job.id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )?)
}

/// Delay before the `attempt`-th retry: 1 s doubling up to a minute.
pub fn backoff(attempt: u64) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

pub async fn run(
    mailbox: Mailbox,
    transport: Transport,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let js = mailbox.jetstream().clone();
    while !shutdown.is_cancelled() {
        match consume(&js, &transport, &shutdown).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "mailer interrupted, resuming");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
    Ok(())
}

async fn consume(
    js: &jetstream::Context,
    transport: &Transport,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let stream = js.get_stream(authd_events::subject::MAIL_STREAM).await?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.to_string()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                max_deliver: -1,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    tracing::info!("mailer consuming {}", authd_events::subject::MAIL_STREAM);
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            m = messages.next() => match m {
                Some(m) => m.map_err(|e| anyhow::anyhow!(e))?,
                None => anyhow::bail!("mail consumer ended"),
            },
        };
        let attempt = msg.info().map(|i| i.delivered as u64).unwrap_or(1);
        let job: MailJob = match postcard::from_bytes(&msg.payload) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "undecodable mail job dropped");
                erase(&stream, &msg).await;
                let _ = msg.ack_with(AckKind::Term).await;
                continue;
            }
        };
        let message = match build_message(&job) {
            Ok(m) => m,
            Err(e) => {
                // A malformed address never gets better by retrying.
                tracing::error!(job = ?job, error = %e, "mail job cannot be built; dropped");
                erase(&stream, &msg).await;
                let _ = msg.ack_with(AckKind::Term).await;
                continue;
            }
        };
        match transport.deliver(&message).await {
            Ok(()) => {
                erase(&stream, &msg).await;
                // Double ack: the job is gone only once the server has it.
                if let Err(e) = msg.double_ack().await {
                    tracing::warn!(job = ?job, error = %e, "delivered but not acknowledged; may be sent twice");
                }
                tracing::debug!(job = ?job, "mail delivered");
            }
            Err(e) => {
                let delay = backoff(attempt);
                tracing::warn!(job = ?job, attempt, error = %e, ?delay, "mail delivery failed, will retry");
                let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
            }
        }
    }
}

/// Deletes a finished job's message with erase: the server overwrites its
/// bytes (the address, the code or link token) in the stream's block file.
/// An acknowledgement alone leaves them there for as long as any other
/// message of the block is pending (measured on nats-server 2.12.8), which
/// with a slow or failing relay is every delivered job.
async fn erase(stream: &jetstream::stream::Stream, msg: &jetstream::Message) {
    let Ok(info) = msg.info() else { return };
    if let Err(e) = stream.delete_message(info.stream_sequence).await {
        // Still acknowledged: it goes from the queue, not yet from the disk.
        tracing::warn!(error = %e, seq = info.stream_sequence, "a finished mail job was not erased");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::mail::MailKind;

    #[test]
    fn backoff_grows_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(50), Duration::from_secs(60));
    }

    #[test]
    fn messages_have_text_and_html_and_escape_links() {
        let job = MailJob {
            id: "m1".into(),
            tenant: "p".into(),
            to: "ann@example.com".into(),
            from: "Shop <no-reply@shop.example>".into(),
            kind: MailKind::ResetPassword {
                link: "https://shop.example/reset?token=a&b=<c>".into(),
            },
        };
        let (subject, text, html) = render(&job);
        assert_eq!(subject, "Reset your password");
        assert!(text.contains("https://shop.example/reset?token=a&b=<c>"));
        assert!(html.contains("token=a&amp;b=&lt;c&gt;"));
        let formatted = String::from_utf8(build_message(&job).unwrap().formatted()).unwrap();
        assert!(formatted.contains("multipart/alternative"));
        let bad = MailJob {
            to: "not an address".into(),
            ..job
        };
        assert!(build_message(&bad).is_err());
    }
}
