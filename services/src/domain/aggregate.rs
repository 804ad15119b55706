//! What every aggregate is: a state folded from its own events, and the
//! rule that turns a command into new events.

use authd_events::{AggregateKind, Event};

use crate::error::DomainError;

/// Where an event stands in the log: its message's stream sequence and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct At {
    pub seq: u64,
    /// Unix ms.
    pub time: i64,
    /// The client of the message's request (`lockout::client_key`).
    pub client: u64,
}

pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    const KIND: AggregateKind;
    /// What may be asked of the aggregate.
    type Command;
    /// The aggregate's own event enum.
    type Event: Clone + Send + Sync + PartialEq + std::fmt::Debug;

    fn wrap(event: Self::Event) -> Event;

    /// The rule: what happens when `command` arrives at `now` (unix ms).
    /// Pure: no I/O, no clock, no randomness but what the command carries.
    fn decide(&self, command: &Self::Command, now: i64) -> Result<Vec<Self::Event>, DomainError>;

    /// Applies one of the aggregate's own events. Total: it never fails, and
    /// ignores events of other aggregates.
    fn evolve(self, event: &Event, at: At) -> Self;

    fn evolve_all(self, events: &[Self::Event], at: At) -> Self {
        events
            .iter()
            .fold(self, |s, e| s.evolve(&Self::wrap(e.clone()), at))
    }
}

/// Given/when/then for any aggregate, with no I/O.
#[cfg(test)]
pub(crate) mod given {
    use super::*;

    /// The time every given event happened at.
    pub(crate) const T0: i64 = 1_000_000;

    /// The state after `given`, the i-th event at stream sequence i + 1.
    pub(crate) fn state<A: Aggregate>(given: &[A::Event]) -> A {
        given.iter().enumerate().fold(A::default(), |s, (i, e)| {
            s.evolve(
                &A::wrap(e.clone()),
                At {
                    seq: i as u64 + 1,
                    time: T0,
                    client: 0,
                },
            )
        })
    }

    /// Given these events, when this command arrives at `now`, then this.
    #[track_caller]
    pub(crate) fn check<A: Aggregate>(
        given: &[A::Event],
        when: A::Command,
        now: i64,
        then: Result<Vec<A::Event>, DomainError>,
    ) {
        assert_eq!(state::<A>(given).decide(&when, now), then);
    }
}
