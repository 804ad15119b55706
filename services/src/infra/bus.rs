//! The client side of commands: what the gateway and the CLI use to send a
//! command and get its own outcome type back.

use std::time::Duration;

use authd_events::{Actor, RequestMeta, subject::command_subject};

use crate::{
    commands::{self, CommandEnvelope, CommandSpec, Reply, Sent},
    error::CommandError,
};

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
        // While disconnected, a request would only wait out its timeout.
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(BusError::Disconnected);
        }
        let subject = command_subject(env.command.name());
        let request = async_nats::Request::new()
            .payload(commands::encode(env).into())
            .timeout(Some(self.timeout));
        let msg = self
            .client
            .send_request(subject, request)
            .await
            .map_err(|e| match e.kind() {
                async_nats::RequestErrorKind::NoResponders => BusError::NoResponders,
                async_nats::RequestErrorKind::TimedOut => BusError::TimedOut,
                _ => BusError::Request(e.to_string()),
            })?;
        commands::decode::<Reply>(&msg.payload).map_err(|_| BusError::BadReply)
    }
}
