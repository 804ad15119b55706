//! The client side of commands: what the gateway and the CLI use to send a
//! command and wait for its reply.

use std::time::Duration;

use authd_events::subject::command_subject;

use crate::command::{self, CommandEnvelope, Reply};

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

impl CommandBus {
    pub fn new(client: async_nats::Client, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    pub async fn send(&self, env: &CommandEnvelope) -> Result<Reply, BusError> {
        // While disconnected, a request would only wait out its timeout.
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(BusError::Disconnected);
        }
        let subject = command_subject(env.command.name());
        let request = async_nats::Request::new()
            .payload(command::encode(env).into())
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
        command::decode::<Reply>(&msg.payload).map_err(|_| BusError::BadReply)
    }
}
