//! Webhooks: the feed enqueues, for each event, a delivery for each
//! endpoint of its project that wants its type (`enqueue`, in the feed's
//! order, before its checkpoint moves past the event); the deliverer
//! (`deliver`) sends them, signed per the Standard Webhooks spec, in order
//! per customer, retrying with exponential backoff for the retry window,
//! and records every attempt.

mod deliver;
mod endpoints;
mod options;
mod send;

pub use deliver::deliver;
pub use endpoints::{Endpoints, Enqueuer, Pending};
pub use options::WebhookOptions;
