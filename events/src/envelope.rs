//! The envelope around events and its wire codec.
//!
//! One NATS message carries the events one command produced for one
//! aggregate, with the metadata they share. The payload is
//! `postcard(schema_version: u16) ++ postcard(body)`; every version that was
//! ever written stays decodable (upcast on read), and
//! `events/tests/golden/` holds encoded bytes of each.

use serde::{Deserialize, Serialize};

use crate::{event::Event, personal::Personal};

/// The schema version written by this build. Version 2 keeps the client IP
/// and user agent of a recorded request as [`Personal`] values (sealed
/// under the customer's key with the rest of their personal data); version
/// 1 kept them as plain strings and is upcast on read.
pub const SCHEMA_VERSION: u16 = 2;

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

/// The request an event came from, as the log records it: the client's
/// address and user agent are personal data (sealed with the customer's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub request_id: String,
    pub ip: Option<Personal>,
    pub user_agent: Option<Personal>,
}

impl RecordedRequest {
    /// The client's address, unless it is sealed (or erased).
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_ref().and_then(Personal::as_plain)
    }

    /// The client's user agent, unless it is sealed (or erased).
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_ref().and_then(Personal::as_plain)
    }
}

impl From<RequestMeta> for RecordedRequest {
    fn from(r: RequestMeta) -> Self {
        Self {
            request_id: r.request_id,
            ip: r.ip.map(Personal::Plain),
            user_agent: r.user_agent.map(Personal::Plain),
        }
    }
}

/// Metadata shared by all events of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub tenant: String,
    pub aggregate_id: String,
    /// Unix milliseconds.
    pub time: i64,
    pub actor: Actor,
    pub request: RecordedRequest,
    /// The command that produced the message; also its `Nats-Msg-Id`.
    pub command_id: String,
}

/// Schema version 1's message: the request's address and user agent as
/// plain strings.
#[derive(Deserialize)]
struct MessageV1 {
    meta: MessageMetaV1,
    events: Vec<EventEnvelope>,
}

#[derive(Deserialize)]
struct MessageMetaV1 {
    tenant: String,
    aggregate_id: String,
    time: i64,
    actor: Actor,
    request: RequestMeta,
    command_id: String,
}

impl From<MessageV1> for EventMessage {
    fn from(m: MessageV1) -> Self {
        let MessageMetaV1 {
            tenant,
            aggregate_id,
            time,
            actor,
            request,
            command_id,
        } = m.meta;
        EventMessage {
            meta: MessageMeta {
                tenant,
                aggregate_id,
                time,
                actor,
                request: request.into(),
                command_id,
            },
            events: m.events,
        }
    }
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
            1 => Ok(postcard::from_bytes::<MessageV1>(rest)?.into()),
            2 => Ok(postcard::from_bytes::<EventMessage>(rest)?),
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
    /// The W3C `traceparent` of the append that wrote it, when it was
    /// traced and read by a subscription (see [`crate::trace`]).
    pub traceparent: Option<Box<str>>,
}
