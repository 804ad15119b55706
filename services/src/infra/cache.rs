//! The services' own projection: decided-on state per aggregate, with the
//! stream sequence of the aggregate's last message, fed by a tail of the
//! stream. It is a hint that saves reading JetStream on the hot path; the
//! append with expected sequence is what guarantees a decision was made on
//! current state.

use std::{
    any::Any,
    collections::{HashMap, VecDeque, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    sync::Mutex,
};

use authd_events::{EventMessage, RecordedMessage};

use crate::domain::aggregate::Aggregate;

/// How many recent tail deliveries are remembered to decide whether a freshly
/// read aggregate may be cached without missing a concurrent message.
const RECENT: usize = 65_536;

/// An aggregate's state whose type is known only where it was made.
pub(crate) trait AnyAggregate: Send + Sync {
    fn apply(&mut self, seq: u64, msg: &EventMessage);
    fn as_any(&self) -> &dyn Any;
    fn boxed_clone(&self) -> Box<dyn AnyAggregate>;
}

impl<A: Aggregate> AnyAggregate for A {
    fn apply(&mut self, seq: u64, msg: &EventMessage) {
        *self = fold(std::mem::take(self), seq, msg);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn boxed_clone(&self) -> Box<dyn AnyAggregate> {
        Box::new(self.clone())
    }
}

pub fn fold<A: Aggregate>(state: A, seq: u64, msg: &EventMessage) -> A {
    let at = crate::domain::aggregate::At {
        seq,
        time: msg.meta.time,
        client: crate::domain::lockout::client_key(msg.meta.request.ip()),
    };
    msg.bodies().fold(state, |s, e| s.evolve(e, at))
}

struct Entry {
    seq: u64,
    state: Box<dyn AnyAggregate>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Stream sequence of the last message the tail delivered.
    tail_seq: u64,
    /// (stream sequence, subject hash) of recent tail deliveries.
    recent: VecDeque<(u64, u64)>,
    /// `recent` holds every delivery with a sequence at least this.
    recent_from: u64,
}

pub struct StateCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

fn subject_hash(subject: &str) -> u64 {
    let mut h = DefaultHasher::new();
    subject.hash(&mut h);
    h.finish()
}

impl StateCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    pub fn get<A: Aggregate>(&self, subject: &str) -> Option<(u64, A)> {
        let inner = self.inner.lock().unwrap();
        let e = inner.entries.get(subject)?;
        Some((e.seq, e.state.as_any().downcast_ref::<A>()?.clone()))
    }

    /// Stores `state` as of the aggregate's last sequence `seq`, unless the
    /// tail may already have passed a later message of this aggregate that
    /// `state` lacks.
    /// Drops what the cache holds for `subject` (its messages may have
    /// expired: see `AggregateKind::expires`).
    pub fn forget(&self, subject: &str) {
        self.inner.lock().unwrap().entries.remove(subject);
    }

    pub fn insert<A: Aggregate>(&self, subject: &str, seq: u64, state: A) {
        self.insert_any(subject, seq, Box::new(state));
    }

    /// `insert` of a state of any aggregate type.
    pub(crate) fn insert_any(&self, subject: &str, seq: u64, state: Box<dyn AnyAggregate>) {
        let mut inner = self.inner.lock().unwrap();
        if inner.entries.get(subject).is_some_and(|e| e.seq >= seq) {
            return;
        }
        if inner.tail_seq > seq {
            let h = subject_hash(subject);
            let covered = inner.recent_from <= seq + 1;
            let missed = inner.recent.iter().any(|(s, sh)| *s > seq && *sh == h);
            if !covered || missed {
                inner.entries.remove(subject);
                return;
            }
        }
        if inner.entries.len() >= self.capacity {
            // Crude but bounded: a full cache starts over from cold reads.
            inner.entries.clear();
        }
        inner
            .entries
            .insert(subject.to_string(), Entry { seq, state });
        metrics::gauge!("authd_state_cache_entries").set(inner.entries.len() as f64);
    }

    /// Feeds one message from the tail of the stream.
    pub fn apply(&self, msg: &RecordedMessage) {
        let subject = msg.subject.to_string();
        let mut inner = self.inner.lock().unwrap();
        inner.tail_seq = msg.seq;
        if inner.recent.len() == RECENT
            && let Some((dropped, _)) = inner.recent.pop_front()
        {
            inner.recent_from = dropped + 1;
        }
        inner.recent.push_back((msg.seq, subject_hash(&subject)));
        if let Some(e) = inner.entries.get_mut(&subject)
            && msg.seq > e.seq
        {
            e.state.apply(msg.seq, &msg.message);
            e.seq = msg.seq;
        }
    }

    /// Where the tail should resume after an interruption.
    pub fn tail_seq(&self) -> u64 {
        self.inner.lock().unwrap().tail_seq
    }

    pub fn set_tail_start(&self, seq: u64) {
        let mut inner = self.inner.lock().unwrap();
        // Reads made from now on include everything up to `seq`; what the
        // tail delivers after it is remembered in `recent`.
        inner.tail_seq = inner.tail_seq.max(seq);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::Session;
    use authd_events::*;

    fn msg(seq: u64, id: &str, e: SessionEvent) -> RecordedMessage {
        let meta = MessageMeta {
            tenant: "p".into(),
            aggregate_id: id.into(),
            time: 0,
            actor: Actor::System,
            request: Default::default(),
            command_id: format!("c{seq}"),
        };
        RecordedMessage {
            seq,
            subject: AggregateSubject::new("p", AggregateKind::Session, id).unwrap(),
            message: EventMessage::new(meta, vec![Event::Session(e)]),
            traceparent: None,
        }
    }
    fn revoke() -> SessionEvent {
        SessionEvent::Revoked(SessionRevoked {
            reason: RevokeReason::Logout,
        })
    }
    const S1: &str = "authd.evt.p.session.s1";

    #[test]
    fn the_tail_keeps_cached_entries_current() {
        let c = StateCache::new(10);
        c.insert(S1, 0, Session::default());
        c.apply(&msg(1, "s1", revoke()));
        c.apply(&msg(2, "s2", revoke()));
        let (seq, s) = c.get::<Session>(S1).unwrap();
        assert_eq!((seq, s.revoked), (1, Some(RevokeReason::Logout)));
    }

    #[test]
    fn a_read_older_than_a_delivered_message_of_its_aggregate_is_not_cached() {
        let c = StateCache::new(10);
        c.apply(&msg(1, "s1", revoke()));
        // read happened before message 1 was appended
        c.insert(S1, 0, Session::default());
        assert!(c.get::<Session>(S1).is_none());
        // a message of another aggregate in between does not matter
        c.apply(&msg(2, "s2", revoke()));
        c.insert(S1, 1, Session::default());
        assert_eq!(c.get::<Session>(S1).map(|(s, _)| s), Some(1));
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = StateCache::new(2);
        for i in 0..5 {
            c.insert(&format!("s{i}"), 0, Session::default());
        }
        assert!(c.len() <= 2);
    }
}
