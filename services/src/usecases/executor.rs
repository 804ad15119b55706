//! The executor: the only place that loads aggregates, decides, appends and
//! retries. A use case names the aggregates a command touches and decides
//! on their states; whatever it decides for all of them is appended as one
//! atomic batch, each message with its own aggregate's expected last
//! subject sequence, so a command is recorded whole or not at all.
//!
//! This file is the load, retry and commit side (`Executor::commit`, the
//! append, and the state each round sees, `Tx`); naming a command's
//! aggregates is `batch.rs`.

use std::{future::Future, pin::Pin, sync::Arc};

use tracing::Instrument;

use authd_events::{
    AggregateSubject, BatchEntry, Batched, Event, EventMessage, EventStore, Expected, MessageMeta,
    StoreError,
};

use crate::{
    commands::CommandEnvelope,
    domain::aggregate::Aggregate,
    error::{CommandError, DomainError},
    infra::{
        cache::{AnyAggregate, StateCache, fold},
        clock::Clock,
    },
};

/// How often a decision is retried after losing a concurrency race.
const MAX_ATTEMPTS: usize = 8;

mod unacknowledged;

pub(crate) fn unavailable(e: StoreError) -> CommandError {
    tracing::warn!(error = %e, "event log");
    match e {
        StoreError::Unavailable(_) => CommandError::unavailable(),
        _ => CommandError::internal(),
    }
}

pub(crate) struct Executor {
    store: EventStore,
    cache: Arc<StateCache>,
    clock: Clock,
}

/// An aggregate's state as one round of a command sees it.
pub(super) struct Slot {
    subject: AggregateSubject,
    /// Stream sequence of the aggregate's last message (0: none yet).
    seq: u64,
    from_cache: bool,
    /// Made for this command (a new id): nothing but this command writes it.
    created: bool,
    /// Must still be at `seq` for the command to be appended, even when
    /// nothing is appended to it.
    guard: bool,
    state: Box<dyn AnyAggregate>,
    /// The events this round decided for it.
    events: Vec<Event>,
}

pub(super) type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Slot, CommandError>> + Send + 'a>>;
pub(super) type Load = for<'a> fn(&'a Executor, &'a AggregateSubject, bool) -> LoadFuture<'a>;

pub(super) fn load_slot<'a, A: Aggregate>(
    x: &'a Executor,
    subject: &'a AggregateSubject,
    fresh: bool,
) -> LoadFuture<'a> {
    Box::pin(async move {
        let (seq, state, from_cache) = x.load::<A>(subject, fresh).await?;
        Ok(Slot {
            subject: subject.clone(),
            seq,
            from_cache,
            created: false,
            guard: false,
            state: Box::new(state),
            events: Vec::new(),
        })
    })
}

pub(super) fn new_slot<A: Aggregate>(subject: &AggregateSubject) -> Slot {
    Slot {
        subject: subject.clone(),
        seq: 0,
        from_cache: false,
        created: true,
        guard: false,
        state: Box::new(A::default()),
        events: Vec::new(),
    }
}

/// The aggregates of one command, as its decision sees them.
pub(crate) struct Tx {
    slots: Vec<Slot>,
    now: i64,
}

fn find<'s>(slots: &'s [Slot], subject: &AggregateSubject) -> &'s Slot {
    slots
        .iter()
        .find(|s| s.subject == *subject)
        .unwrap_or_else(|| panic!("{subject} was not named in the batch"))
}

fn downcast<A: Aggregate>(slot: &Slot) -> &A {
    slot.state
        .as_any()
        .downcast_ref::<A>()
        .unwrap_or_else(|| panic!("{} is not a {:?}", slot.subject, A::KIND))
}

impl Tx {
    /// The time of this round: what `decide` is given and what the
    /// messages record.
    pub(crate) fn now(&self) -> i64 {
        self.now
    }

    pub(crate) fn state<A: Aggregate>(&self, subject: &AggregateSubject) -> &A {
        downcast(find(&self.slots, subject))
    }

    /// The aggregate the round's one message must be published on condition
    /// of (its subject and last sequence), when a guarded aggregate had
    /// nothing appended to it; `None` when every aggregate the round
    /// depends on checks its own sequence in the batch. A guard takes one
    /// message to a new aggregate: JetStream checks one other subject's
    /// sequence per message, and only a new aggregate can forgo its own.
    fn guard(
        &self,
        messages: &[(usize, EventMessage)],
    ) -> Result<Option<(&AggregateSubject, u64)>, StoreError> {
        let guards: Vec<&Slot> = self
            .slots
            .iter()
            .filter(|s| s.guard && s.events.is_empty())
            .collect();
        match (messages, guards.as_slice()) {
            (_, []) => Ok(None),
            ([(i, _)], [guard]) if self.slots[*i].created => Ok(Some((&guard.subject, guard.seq))),
            _ => Err(StoreError::Other(format!(
                "{} guarded aggregate(s) with {} message(s): a guard takes one message to a new aggregate",
                guards.len(),
                messages.len()
            ))),
        }
    }

    /// The messages the round decided, each with its slot's index.
    fn messages(&self, env: &CommandEnvelope) -> Vec<(usize, EventMessage)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.events.is_empty())
            .map(|(i, s)| {
                let meta = MessageMeta {
                    tenant: env.tenant.clone(),
                    aggregate_id: s.subject.id.clone(),
                    time: self.now,
                    actor: env.actor.clone(),
                    request: env.request.clone().into(),
                    command_id: env.command_id.clone(),
                };
                (i, EventMessage::new(meta, s.events.clone()))
            })
            .collect()
    }

    /// Puts `command` to one aggregate; the events it decides are appended
    /// with the rest (and returned, to tell the caller what happened).
    pub(crate) fn decide<A: Aggregate>(
        &mut self,
        subject: &AggregateSubject,
        command: &A::Command,
    ) -> Result<Vec<A::Event>, DomainError> {
        self.apply::<A>(subject, |state, now| state.decide(command, now))
    }

    /// Decides on one aggregate; what it returns is appended with the rest.
    pub(crate) fn apply<A: Aggregate>(
        &mut self,
        subject: &AggregateSubject,
        decide: impl FnOnce(&A, i64) -> Result<Vec<A::Event>, DomainError>,
    ) -> Result<Vec<A::Event>, DomainError> {
        let now = self.now;
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.subject == *subject)
            .unwrap_or_else(|| panic!("{subject} was not named in the batch"));
        let events = decide(downcast(slot), now)?;
        slot.events.extend(events.iter().cloned().map(A::wrap));
        Ok(events)
    }
}

/// What a command appended, and the states it left.
pub(crate) struct Committed<T> {
    /// Highest sequence appended (or read, when nothing was).
    pub(crate) seq: u64,
    pub(crate) value: T,
    /// The command id was appended before: nothing new was written.
    pub(crate) duplicate: bool,
    slots: Vec<Slot>,
}

impl<T> Committed<T> {
    fn new(value: T, slots: Vec<Slot>, duplicate: bool) -> Self {
        Self {
            seq: slots.iter().map(|s| s.seq).max().unwrap_or(0),
            value,
            duplicate,
            slots,
        }
    }

    /// The aggregate's state after the command.
    pub(crate) fn state<A: Aggregate>(&self, subject: &AggregateSubject) -> &A {
        downcast(find(&self.slots, subject))
    }

    /// The sequence of the aggregate's last message after the command.
    pub(crate) fn seq_of(&self, subject: &AggregateSubject) -> u64 {
        find(&self.slots, subject).seq
    }
}

pub(super) enum Source {
    Load(Load),
    /// Loaded like `Load`, and guarded (see `Batch::guard`).
    Guard(Load),
    /// A brand-new id: nothing to read on the first attempt.
    New(fn(&AggregateSubject) -> Slot, Load),
}

impl Executor {
    pub(crate) fn new(store: EventStore, cache: Arc<StateCache>, clock: Clock) -> Self {
        Self {
            store,
            cache,
            clock,
        }
    }

    pub(crate) fn store(&self) -> &EventStore {
        &self.store
    }

    pub(crate) fn cache(&self) -> &Arc<StateCache> {
        &self.cache
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `Batch::decide`: loads the batch's aggregates, decides, appends as
    /// one atomic batch; on a lost race reloads from the log and decides
    /// again (at most `MAX_ATTEMPTS` rounds). A rejection decided on cached
    /// state is confirmed against the aggregates' real last sequences first.
    pub(super) async fn commit<T>(
        &self,
        env: &CommandEnvelope,
        sources: &[(AggregateSubject, Source)],
        mut decide: impl FnMut(&mut Tx) -> Result<T, DomainError>,
    ) -> Result<Committed<T>, CommandError> {
        let x = self;
        let mut fresh = false;
        // Rounds whose append went unacknowledged: one of them may be stored.
        let mut unsure: Vec<(T, Vec<Slot>)> = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            let mut slots = Vec::with_capacity(sources.len());
            for (subject, source) in sources {
                slots.push(match source {
                    Source::New(new, _) if !fresh => new(subject),
                    Source::New(_, load) => Slot {
                        created: true,
                        ..load(x, subject, fresh).await?
                    },
                    Source::Load(load) => load(x, subject, fresh).await?,
                    Source::Guard(load) => Slot {
                        guard: true,
                        ..load(x, subject, fresh).await?
                    },
                });
            }
            let mut tx = Tx {
                slots,
                now: x.clock.now(),
            };
            let value = match tracing::info_span!("decide").in_scope(|| decide(&mut tx)) {
                Ok(value) => value,
                Err(e) => {
                    if !fresh && x.stale(&tx.slots).await? {
                        crate::retries::retried("stale_state");
                        fresh = true;
                        continue;
                    }
                    return Err(e.into());
                }
            };
            let mut unacked = false;
            let appending = x.append(env, &mut tx, &mut unacked);
            let outcome = appending.instrument(tracing::info_span!("append")).await;
            match outcome {
                Ok(duplicate) if unsure.is_empty() && !unacked => {
                    return Ok(Committed::new(value, tx.slots, duplicate));
                }
                Ok(false) => return Ok(Committed::new(value, tx.slots, false)),
                // A duplicate or a conflict after a try went unanswered:
                // that try may be stored, and then it is this command's
                // append, whatever this round decided.
                Ok(true) | Err(StoreError::Conflict) => {
                    let duplicate = outcome.is_ok();
                    if unacked {
                        unsure.push((value, tx.slots));
                    }
                    if let Some(own) = x.stored_round(env, &mut unsure).await? {
                        return Ok(own);
                    }
                    if duplicate && let Some((value, slots)) = unsure.pop() {
                        // Stored, but not found yet (a replica behind):
                        // the last unanswered round stands for it.
                        let mut tx = Tx {
                            slots,
                            now: x.clock.now(),
                        };
                        x.take_as_stored(env, &mut tx).await.map_err(unavailable)?;
                        return Ok(Committed::new(value, tx.slots, false));
                    }
                    crate::retries::retried("conflict");
                    fresh = true
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        tracing::warn!(
            command = env.command.name(),
            "gave up after {MAX_ATTEMPTS} concurrent modifications"
        );
        Err(CommandError::unavailable())
    }

    /// Loads an aggregate: from the cache unless `fresh`, else from JetStream
    /// (from the cached state on, when there is one). Returns the sequence of
    /// its last message, the state, and whether it came from the cache.
    pub(crate) async fn load<A: Aggregate>(
        &self,
        subject: &AggregateSubject,
        fresh: bool,
    ) -> Result<(u64, A, bool), CommandError> {
        let key = subject.to_string();
        let cached = self.cache.get::<A>(&key);
        if !fresh {
            // The cache's hit rate: what its bound (`StateCache::new`) costs.
            let result = if cached.is_some() { "hit" } else { "miss" };
            metrics::counter!("authd_state_cache_lookups_total", "result" => result).increment(1);
        }
        if let (false, Some((seq, state))) = (fresh, cached.clone()) {
            return Ok((seq, state, true));
        }
        // Messages of an expiring aggregate may be gone from the log (their
        // TTL passed): a reload starts over instead of from the cached copy.
        let (mut seq, mut state) = if fresh && subject.kind.expires() {
            self.cache.forget(&key);
            Default::default()
        } else {
            cached.unwrap_or_default()
        };
        let from = seq + 1;
        for m in self
            .read_again(|| self.store.read_aggregate_from(subject, from))
            .await
            .map_err(unavailable)?
        {
            state = fold(state, m.seq, &m.message);
            seq = m.seq;
        }
        self.cache.insert(&key, seq, state.clone());
        Ok((seq, state, false))
    }

    /// The aggregate's current state; when the cache's copy does not pass
    /// `known` (it may predate a write a moment ago), read from the log.
    pub(crate) async fn current<A: Aggregate>(
        &self,
        subject: &AggregateSubject,
        known: impl Fn(&A) -> bool,
    ) -> Result<A, CommandError> {
        let (_, state, from_cache) = self.load::<A>(subject, false).await?;
        if known(&state) || !from_cache {
            return Ok(state);
        }
        Ok(self.load::<A>(subject, true).await?.1)
    }

    /// Whether any cached state of the round is behind the log.
    async fn stale(&self, slots: &[Slot]) -> Result<bool, CommandError> {
        for slot in slots.iter().filter(|s| s.from_cache) {
            let last = self
                .read_again(|| self.store.last_sequence(&slot.subject))
                .await
                .map_err(unavailable)?;
            if last != slot.seq {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Appends what the round decided (one message per aggregate, all in
    /// one atomic batch, or one message guarded by an aggregate it leaves
    /// alone: `Tx::guard`) and moves each slot to its new state and sequence.
    /// Returns whether the command had been appended before (the slots then
    /// stay as they were).
    async fn append_once(&self, env: &CommandEnvelope, tx: &mut Tx) -> Result<bool, StoreError> {
        let messages = tx.messages(env);
        if messages.is_empty() {
            return Ok(false);
        }
        let batched = match tx.guard(&messages)? {
            Some((guard, guard_seq)) => {
                let (i, message) = &messages[0];
                let appended = self
                    .store
                    .append_guarded(&tx.slots[*i].subject, message, guard, guard_seq)
                    .await?;
                Batched {
                    seqs: vec![appended.seq],
                    duplicate: appended.duplicate,
                }
            }
            None => {
                let entries: Vec<BatchEntry<'_>> = messages
                    .iter()
                    .map(|(i, m)| BatchEntry {
                        subject: &tx.slots[*i].subject,
                        message: m,
                        expected: Expected::Seq(tx.slots[*i].seq),
                    })
                    .collect();
                self.store.append_batch(&entries).await?
            }
        };
        if batched.duplicate {
            // An earlier attempt of this command was stored; its sequence
            // (single messages report it) is as good as any to wait for.
            if let ([(i, _)], [seq]) = (messages.as_slice(), batched.seqs.as_slice()) {
                tx.slots[*i].seq = *seq;
            }
            return Ok(true);
        }
        for ((i, message), seq) in messages.iter().zip(batched.seqs) {
            let slot = &mut tx.slots[*i];
            slot.state.apply(seq, message);
            slot.seq = seq;
            self.cache
                .insert_any(&slot.subject.to_string(), seq, slot.state.boxed_clone());
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests;
