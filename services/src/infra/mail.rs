//! Outgoing mail: jobs on the `AUTH_MAIL` work-queue stream. This is the only
//! place a plaintext one-time code or link token travels; a job is deleted
//! once the mailer acknowledges it, after the SMTP server accepted it.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    message::PublishMessage,
    stream::{RetentionPolicy, StorageType},
};
use authd_events::subject::{MAIL_STREAM, mail_subject};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct MailJob {
    /// Unique per job; also its `Nats-Msg-Id`, so a retried command sends once.
    pub id: String,
    pub tenant: String,
    pub to: String,
    pub from: String,
    pub kind: MailKind,
}

impl std::fmt::Debug for MailJob {
    // Jobs carry codes and links: only the id and kind are printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MailJob({}, {})", self.id, self.kind.name())
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub enum MailKind {
    OtpCode {
        code: String,
        expires_at: i64,
    }, // 0
    VerifyEmail {
        link: String,
    }, // 1
    ResetPassword {
        link: String,
    }, // 2
    PasswordChanged, // 3
    /// An admin's invitation: the link sets the first password.
    Activate {
        link: String,
    }, // 4
    /// Sent to the old address when the account moved to another.
    EmailChanged, // 5
    /// A second factor was added to or removed from the account
    /// (`added`: what, e.g. "an authenticator app").
    SecondFactorChanged {
        added: bool,
        factor: String,
    }, // 6
}

impl MailKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::OtpCode { .. } => "otp_code",
            Self::VerifyEmail { .. } => "verify_email",
            Self::ResetPassword { .. } => "reset_password",
            Self::PasswordChanged => "password_changed",
            Self::Activate { .. } => "activate",
            Self::EmailChanged => "email_changed",
            Self::SecondFactorChanged { .. } => "second_factor_changed",
        }
    }
}

/// Subject, plain-text body and HTML body of a job.
pub fn render(job: &MailJob) -> (String, String, String) {
    fn html_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let (subject, lines, link): (&str, Vec<String>, Option<&str>) = match &job.kind {
        MailKind::OtpCode { code, .. } => (
            "Your sign-in code",
            vec![
                format!("Your sign-in code is {code}."),
                "It expires in 10 minutes and works once.".into(),
            ],
            None,
        ),
        MailKind::VerifyEmail { link } => (
            "Verify your email address",
            vec!["Confirm your email address by opening this link:".into()],
            Some(link),
        ),
        MailKind::ResetPassword { link } => (
            "Reset your password",
            vec![
                "Someone asked to reset the password of your account.".into(),
                "If it was you, open this link within 30 minutes:".into(),
            ],
            Some(link),
        ),
        MailKind::Activate { link } => (
            "Activate your account",
            vec![
                "An account was created for you.".into(),
                "Choose your password by opening this link within 30 days:".into(),
            ],
            Some(link),
        ),
        MailKind::EmailChanged => (
            "Your email address was changed",
            vec![
                "The email address of your account was just changed to another one.".into(),
                "If this was not you, contact the shop at once.".into(),
            ],
            None,
        ),
        MailKind::SecondFactorChanged { added, factor } => (
            if *added {
                "A second factor was added to your account"
            } else {
                "A second factor was removed from your account"
            },
            vec![
                if *added {
                    format!("{factor} now protects the sign-in to your account.")
                } else {
                    format!("{factor} no longer protects the sign-in to your account.")
                },
                "If this was not you, reset your password and contact the shop at once.".into(),
            ],
            None,
        ),
        MailKind::PasswordChanged => (
            "Your password was changed",
            vec![
                "The password of your account was just changed and your other sessions were ended."
                    .into(),
                "If this was not you, reset your password at once.".into(),
            ],
            None,
        ),
    };
    let mut text = lines.join("\n");
    let mut html = lines
        .iter()
        .map(|l| format!("<p>{}</p>", html_escape(l)))
        .collect::<String>();
    if let Some(link) = link {
        text.push_str(&format!("\n\n{link}\n"));
        html.push_str(&format!(
            "<p><a href=\"{0}\">{0}</a></p>",
            html_escape(link)
        ));
    }
    text.push_str("\n\nIf you did not ask for this, ignore this message.\n");
    let html = format!(
        "<!doctype html><html><body>{html}<p>If you did not ask for this, ignore this message.</p></body></html>"
    );
    (subject.to_string(), text, html)
}

#[derive(Clone)]
pub struct Mailbox {
    js: jetstream::Context,
}

#[derive(Debug, thiserror::Error)]
#[error("mail queue unavailable: {0}")]
pub struct MailboxError(String);

impl Mailbox {
    /// Creates `AUTH_MAIL` (work queue, file storage, `replicas`) if it
    /// does not exist, and raises its replicas to `replicas` if fewer.
    pub async fn open(client: async_nats::Client, replicas: usize) -> Result<Self, MailboxError> {
        let js = jetstream::new(client);
        let mut stream = js
            .get_or_create_stream(jetstream::stream::Config {
                name: MAIL_STREAM.to_string(),
                subjects: vec!["authd.mail.>".to_string()],
                retention: RetentionPolicy::WorkQueue,
                storage: StorageType::File,
                duplicate_window: Duration::from_secs(120),
                // Undelivered mail is worthless after a week.
                max_age: Duration::from_secs(7 * 24 * 3600),
                num_replicas: replicas.max(1),
                ..Default::default()
            })
            .await
            .map_err(|e| MailboxError(e.to_string()))?;
        let have = stream
            .info()
            .await
            .map_err(|e| MailboxError(e.to_string()))?
            .config
            .clone();
        authd_events::store::raise_replicas(&js, have, replicas)
            .await
            .map_err(|e| MailboxError(e.to_string()))?;
        Ok(Self { js })
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// A round trip to the mail queue that queues nothing: what a request
    /// for an address without an account spends instead of `send`, so the
    /// answer takes as long either way.
    pub async fn round_trip(&self) -> Result<(), MailboxError> {
        self.js
            .get_stream(MAIL_STREAM)
            .await
            .map(|_| ())
            .map_err(|e| MailboxError(e.to_string()))
    }

    /// Deletes, with erase, every job still queued in `tenant` for one of
    /// `addresses` (an erased customer's): how many there were. The queue
    /// holds only what the mailer has not delivered yet, so this reads a
    /// few messages, not a history.
    pub async fn erase_queued(
        &self,
        tenant: &str,
        addresses: &[String],
    ) -> Result<u32, MailboxError> {
        let err = |e: &dyn std::fmt::Display| MailboxError(e.to_string());
        let mut stream = self.js.get_stream(MAIL_STREAM).await.map_err(|e| err(&e))?;
        let state = stream.info().await.map_err(|e| err(&e))?.state.clone();
        let wanted: Vec<String> = addresses
            .iter()
            .map(|a| authd_events::keyed_hash::normalize_email(a))
            .collect();
        let mut dropped = 0;
        for seq in state.first_sequence..=state.last_sequence {
            if state.messages == 0 {
                break;
            }
            let Ok(raw) = stream.get_raw_message(seq).await else {
                // Delivered (and erased) or never there.
                continue;
            };
            let Ok(job) = postcard::from_bytes::<MailJob>(&raw.payload) else {
                continue;
            };
            let to = authd_events::keyed_hash::normalize_email(&job.to);
            if job.tenant == tenant && wanted.contains(&to) {
                // Gone already if the mailer took it meanwhile.
                if stream.delete_message(seq).await.is_ok() {
                    dropped += 1;
                }
            }
        }
        Ok(dropped)
    }

    pub async fn send(&self, job: &MailJob) -> Result<(), MailboxError> {
        let payload = postcard::to_stdvec(job).expect("encoding to a Vec cannot fail");
        self.js
            .send_publish(
                mail_subject(&job.tenant),
                PublishMessage::build()
                    .payload(payload.into())
                    .message_id(&job.id),
            )
            .await
            .map_err(|e| MailboxError(e.to_string()))?
            .await
            .map_err(|e| MailboxError(e.to_string()))?;
        Ok(())
    }
}
