//! The client side of commands: what the gateway and the CLI use to send a
//! command and get its own outcome type back.

use std::time::Duration;

use tracing::Instrument;

use authd_events::{Actor, RequestMeta, subject::command_subject};

use crate::{
    commands::{self, CommandEnvelope, CommandSpec, Reply, Sent},
    error::CommandError,
};

/// The header that tells services how long the sender waits for an answer
/// (milliseconds, relative, so clocks need not agree): work still queued
/// after that is dropped rather than done for nobody.
pub const TIMEOUT_HEADER: &str = "Authd-Timeout-Ms";

/// How long a command waits for a services instance to appear (or for its
/// client to reconnect)…
const NO_RESPONDERS_PATIENCE: Duration = Duration::from_secs(2);
/// …asking again this often.
const NO_RESPONDERS_RETRY: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct CommandBus {
    client: async_nats::Client,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("not connected to NATS")]
    Disconnected,
    #[error("no services instance is running")]
    NoResponders,
    #[error("command timed out")]
    TimedOut,
    #[error("NATS request failed: {0}")]
    Request(String),
    #[error("reply could not be decoded")]
    BadReply,
}

/// Who sends a command, for whom, from which request.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The project the command acts in.
    pub tenant: String,
    pub actor: Actor,
    pub request: RequestMeta,
}

impl CommandBus {
    pub fn new(client: async_nats::Client, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    /// Sends a command under a new command id; `Ok(Err(_))` is the services'
    /// answer that it did not succeed, `Err(_)` that no answer came.
    pub async fn send<C: CommandSpec>(
        &self,
        from: &Sender,
        command: C,
    ) -> Result<Result<Sent<C::Outcome>, CommandError>, BusError> {
        let env = CommandEnvelope {
            command_id: authd_events::new_id("cmd"),
            tenant: from.tenant.clone(),
            actor: from.actor.clone(),
            request: from.request.clone(),
            command: command.into(),
        };
        match self.send_envelope(&env).await? {
            Ok(ok) => {
                let outcome = commands::decode(&ok.outcome).map_err(|_| BusError::BadReply)?;
                Ok(Ok(Sent {
                    seq: ok.seq,
                    outcome,
                }))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Sends an envelope as it is (its command id included).
    pub async fn send_envelope(&self, env: &CommandEnvelope) -> Result<Reply, BusError> {
        let span = tracing::info_span!("send", command = env.command.name());
        self.send_traced(env).instrument(span).await
    }

    async fn send_traced(&self, env: &CommandEnvelope) -> Result<Reply, BusError> {
        // While disconnected, a request would only wait out its timeout. A
        // client between two brokers (a node restarting, a lame duck closing
        // its clients) is back within milliseconds: worth a short wait,
        // since nothing was sent yet.
        let mut waited = Duration::ZERO;
        while self.client.connection_state() != async_nats::connection::State::Connected {
            if waited >= NO_RESPONDERS_PATIENCE {
                return Err(BusError::Disconnected);
            }
            if waited.is_zero() {
                crate::retries::retried("disconnected");
            }
            tokio::time::sleep(NO_RESPONDERS_RETRY).await;
            waited += NO_RESPONDERS_RETRY;
        }
        let subject = command_subject(env.command.name());
        let payload: bytes::Bytes = commands::encode(env).into();
        // No responder means nobody received the command, so asking again
        // is safe: it rides out a services instance (re)starting.
        let msg = loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                TIMEOUT_HEADER,
                self.timeout.as_millis().to_string().as_str(),
            );
            authd_events::trace::inject(&mut headers);
            let request = async_nats::Request::new()
                .payload(payload.clone())
                .headers(headers)
                .timeout(Some(self.timeout));
            match self.client.send_request(subject.clone(), request).await {
                Ok(msg) => break msg,
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                    if waited >= NO_RESPONDERS_PATIENCE {
                        return Err(BusError::NoResponders);
                    }
                    crate::retries::retried("no_responders");
                    tokio::time::sleep(NO_RESPONDERS_RETRY).await;
                    waited += NO_RESPONDERS_RETRY;
                }
                Err(e) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
                    return Err(BusError::TimedOut);
                }
                Err(e) => return Err(BusError::Request(e.to_string())),
            }
        };
        commands::decode::<Reply>(&msg.payload).map_err(|_| BusError::BadReply)
    }
}
