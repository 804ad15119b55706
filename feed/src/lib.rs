//! The read side's outward feed: every event of the log, in order, as
//! JSON (`docs/events.md`) on NATS, for services on the bus (a SIEM
//! forwarder, a storefront backend), and to each project's webhook
//! endpoints over HTTP. A role of its own (`authd feed`), beside the
//! projections: it only reads the log.

mod checkpoint;
mod nats_feed;
pub mod webhooks;

pub use checkpoint::Checkpoint;
pub use nats_feed::{FEED_PREFIX, feed_subject, run};
