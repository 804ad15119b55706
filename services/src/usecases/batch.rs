//! A command's batch: the aggregates it names (`load`, `guard`, `create`),
//! decided on together by the executor (`Batch::decide`), and the
//! one-aggregate shorthands (`Executor::run`, `Executor::decide`).
//!
//! An aggregate named with `guard` is one the decision depends on even when
//! nothing is appended to it: when the command then writes a single new
//! aggregate (a sign-in that only starts a session), that one message is
//! appended alone, on the condition that the guarding aggregate is still
//! at the sequence decided on (one publish instead of an atomic batch).

use authd_events::AggregateSubject;

use super::executor::{Committed, Executor, Source, Tx, load_slot, new_slot};
use crate::{
    commands::CommandEnvelope,
    domain::aggregate::Aggregate,
    error::{CommandError, DomainError},
};

/// The aggregates a command touches, decided on together.
pub(crate) struct Batch<'a> {
    x: &'a Executor,
    env: &'a CommandEnvelope,
    sources: Vec<(AggregateSubject, Source)>,
}

impl<'a> Batch<'a> {
    /// An aggregate that may already exist: read from the cache or the log.
    pub(crate) fn load<A: Aggregate>(mut self, subject: &AggregateSubject) -> Self {
        self.sources
            .push((subject.clone(), Source::Load(load_slot::<A>)));
        self
    }

    /// An aggregate the decision depends on even when it appends nothing to
    /// it: the command is appended only while its last sequence is the one
    /// decided on. When the command appends to it, its own message checks
    /// that; when the command writes one aggregate made for it (`create`)
    /// and nothing else, that message is published alone with this
    /// aggregate's sequence as its condition. Any other shape is refused
    /// (JetStream cannot check a subject that is not written in a batch).
    pub(crate) fn guard<A: Aggregate>(mut self, subject: &AggregateSubject) -> Self {
        self.sources
            .push((subject.clone(), Source::Guard(load_slot::<A>)));
        self
    }

    /// An aggregate under an id made for this command (a ULID): it starts
    /// empty without a read. Its append still expects sequence 0.
    pub(crate) fn create<A: Aggregate>(mut self, subject: &AggregateSubject) -> Self {
        self.sources
            .push((subject.clone(), Source::New(new_slot::<A>, load_slot::<A>)));
        self
    }

    /// Loads, decides and appends everything decided as one atomic batch;
    /// on a lost race (any aggregate changed since it was read), reloads
    /// from the log and decides again. A rejection decided on cached state
    /// is confirmed against the aggregates' real last sequences first.
    pub(crate) async fn decide<T>(
        self,
        decide: impl FnMut(&mut Tx) -> Result<T, DomainError>,
    ) -> Result<Committed<T>, CommandError> {
        self.x.commit(self.env, &self.sources, decide).await
    }
}

/// One aggregate's round (see `Executor::decide`).
pub(crate) struct Decided<A: Aggregate> {
    /// Sequence of the aggregate's last message after the round.
    pub(crate) seq: u64,
    pub(crate) state: A,
    pub(crate) events: Vec<A::Event>,
    pub(crate) duplicate: bool,
}

impl Executor {
    pub(crate) fn batch<'a>(&'a self, env: &'a CommandEnvelope) -> Batch<'a> {
        Batch {
            x: self,
            env,
            sources: Vec::new(),
        }
    }

    /// `command` put to one aggregate: load, decide, append, retry.
    pub(crate) async fn run<A: Aggregate>(
        &self,
        env: &CommandEnvelope,
        subject: &AggregateSubject,
        command: &A::Command,
    ) -> Result<Decided<A>, CommandError> {
        self.decide(env, subject, |state: &A, now| state.decide(command, now))
            .await
    }

    /// A decision on one aggregate: load, decide, append, retry.
    pub(crate) async fn decide<A: Aggregate>(
        &self,
        env: &CommandEnvelope,
        subject: &AggregateSubject,
        mut decide: impl FnMut(&A, i64) -> Result<Vec<A::Event>, DomainError>,
    ) -> Result<Decided<A>, CommandError> {
        let done = self
            .batch(env)
            .load::<A>(subject)
            .decide(|tx| tx.apply::<A>(subject, &mut decide))
            .await?;
        Ok(Decided {
            seq: done.seq_of(subject),
            state: done.state::<A>(subject).clone(),
            events: done.value,
            duplicate: done.duplicate,
        })
    }
}
