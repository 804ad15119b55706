//! The read side's outward feed: every event of the log, in order, as
//! JSON (`docs/events.md`) on NATS, for services on the bus (a SIEM
//! forwarder, a storefront backend). A role of its own (`authd feed`),
//! beside the projections: it only reads the log. Webhook deliveries will
//! live here too.

mod checkpoint;
mod nats_feed;

pub use checkpoint::Checkpoint;
pub use nats_feed::{FEED_PREFIX, feed_subject, run};
