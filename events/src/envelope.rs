//! The envelope around events and its wire codec.
//!
//! One NATS message carries the events one command produced for one
//! aggregate, with the metadata they share. The payload is
//! `postcard(schema_version: u16) ++ postcard(body)`; every version that was
//! ever written stays decodable (upcast on read), and
//! `events/tests/golden/` holds encoded bytes of each.

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// The schema version written by this build.
pub const SCHEMA_VERSION: u16 = 1;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    Anonymous,        // 0
    Customer(String), // 1
    Admin(String),    // 2
    System,           // 3
    /// Whoever holds the operator key (`--operator-key-file`).
    Operator, // 4
}

/// The request an event came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Metadata shared by all events of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub tenant: String,
    pub aggregate_id: String,
    /// Unix milliseconds.
    pub time: i64,
    pub actor: Actor,
    pub request: RequestMeta,
    /// The command that produced the message; also its `Nats-Msg-Id`.
    pub command_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// ULID, unique per event.
    pub event_id: [u8; 16],
    pub body: Event,
}

/// What one NATS message holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    pub meta: MessageMeta,
    pub events: Vec<EventEnvelope>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message has no schema version")]
    MissingVersion,
    #[error("schema version {0} is newer than this build understands")]
    UnknownVersion(u16),
    #[error("malformed event body: {0}")]
    Body(#[from] postcard::Error),
}

impl EventMessage {
    pub fn new(meta: MessageMeta, events: Vec<Event>) -> Self {
        let events = events
            .into_iter()
            .map(|body| EventEnvelope {
                event_id: ulid::Ulid::new().to_bytes(),
                body,
            })
            .collect();
        Self { meta, events }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = postcard::to_stdvec(&SCHEMA_VERSION).expect("u16 always encodes");
        postcard::to_io(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (version, rest) =
            postcard::take_from_bytes::<u16>(bytes).map_err(|_| DecodeError::MissingVersion)?;
        match version {
            1 => Ok(postcard::from_bytes::<EventMessage>(rest)?),
            v => Err(DecodeError::UnknownVersion(v)),
        }
    }

    /// Comma-separated type names, for the `Authd-Event-Types` header.
    pub fn type_names(&self) -> String {
        let mut names: Vec<&str> = self.events.iter().map(|e| e.body.type_name()).collect();
        names.dedup();
        names.join(",")
    }

    pub fn bodies(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().map(|e| &e.body)
    }
}

/// A message as read back from the stream.
#[derive(Debug, Clone)]
pub struct RecordedMessage {
    /// Stream sequence.
    pub seq: u64,
    pub subject: crate::subject::AggregateSubject,
    pub message: EventMessage,
}
