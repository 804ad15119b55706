//! What every aggregate is: a state folded from its own events.

use authd_events::{AggregateKind, Event};

/// Where an event stands in the log: its message's stream sequence and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct At {
    pub seq: u64,
    /// Unix ms.
    pub time: i64,
}

pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    const KIND: AggregateKind;
    /// The aggregate's own event enum.
    type Event: Clone + Send + Sync;

    fn wrap(event: Self::Event) -> Event;

    /// Applies one of the aggregate's own events. Total: it never fails, and
    /// ignores events of other aggregates.
    fn evolve(self, event: &Event, at: At) -> Self;

    fn evolve_all(self, events: &[Self::Event], at: At) -> Self {
        events
            .iter()
            .fold(self, |s, e| s.evolve(&Self::wrap(e.clone()), at))
    }
}
