//! A customer's erasure (GDPR art. 17), in this order, each step recorded:
//! `customer.erased` with every session ended and the address and phone
//! claims released (one atomic batch: the commitment); then, idempotent and
//! driven from it, the mail still queued for them deleted with erase, their
//! data key destroyed (what the log holds of them is unreadable from then
//! on), and `customer.erasure.completed`. Mail goes before the key: an
//! erasure resumed after a crash finds their addresses by opening their
//! events, which only the key can. Read models blank the customer on the
//! event, not on the key. Sending the command again for a customer whose
//! erasure did not finish finishes it; for one that did, `ALREADY_ERASED`.

use authd_events::{AggregateKind, AggregateSubject, CustomerEvent, Event};

use super::{Services, UseCase, customer_admin::named_by_id, phone_claim::PhoneMove, subject};
use crate::{
    commands::{CommandEnvelope, EraseCustomer, Erasure, Sent},
    domain::{
        customer::{Customer, CustomerCommand},
        email_claim::{ClaimCommand, EmailClaim},
    },
    error::{CommandError, DomainError},
};

impl UseCase for EraseCustomer {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Erasure>, CommandError> {
        let customer = subject(&env.tenant, AggregateKind::Customer, &self.customer_id)
            .map_err(|e| e.with_field("id"))?;
        let (_, current, _) = s.x.load::<Customer>(&customer, true).await?;
        if !current.registered {
            return Err(named_by_id(DomainError::CustomerNotFound.into()));
        }
        if current.erased && current.erasure_completed {
            return Err(DomainError::AlreadyErased.into());
        }
        if !current.erased {
            mark(s, &customer).await?;
            commit(s, env, &customer, &current, &self.reason).await?;
        }
        finish(s, env, &customer).await
    }
}

/// The mark that an erasure is under way (see `Services::resume_erasures`).
pub(super) async fn mark(s: &Services, customer: &AggregateSubject) -> Result<(), CommandError> {
    if let Some(keys) = s.x.store().data_keys() {
        keys.mark_erasing(&customer.tenant, &customer.id)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "erasure: mark");
                CommandError::unavailable()
            })?;
    }
    Ok(())
}

/// A mark older than this whose customer is not erased is a command that
/// failed before its commit: dropped.
const STALE_MARK_MS: i64 = 10 * 60 * 1000;

impl Services {
    /// Finishes the erasures a crash (or an unreachable mail queue or key
    /// stream) left between `customer.erased` and
    /// `customer.erasure.completed`: every services instance does this when
    /// it starts. Returns how many it finished.
    pub async fn resume_erasures(&self) -> usize {
        let Some(keys) = self.x.store().data_keys() else {
            return 0;
        };
        let marks = match keys.erasing().await {
            Ok(marks) => marks,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list unfinished erasures");
                return 0;
            }
        };
        let mut finished = 0;
        for (project, customer_id, marked_at) in marks {
            let Ok(customer) = subject(&project, AggregateKind::Customer, &customer_id) else {
                continue;
            };
            let state = match self.x.load::<Customer>(&customer, true).await {
                Ok((_, state, _)) => state,
                Err(_) => continue,
            };
            let env = CommandEnvelope {
                command_id: format!("erasure-resumed-{customer_id}"),
                tenant: project.clone(),
                actor: authd_events::Actor::System,
                request: Default::default(),
                command: crate::commands::Command::EraseCustomer(EraseCustomer {
                    customer_id: customer_id.clone(),
                    reason: "resumed".into(),
                }),
            };
            if state.erased && !state.erasure_completed {
                match finish(self, &env, &customer).await {
                    Ok(_) => {
                        tracing::info!(project, customer = customer_id, "erasure finished");
                        finished += 1;
                    }
                    Err(e) => tracing::warn!(error = %e.message, "erasure not finished yet"),
                }
            } else if state.erasure_completed || self.now() - marked_at > STALE_MARK_MS {
                let _ = keys.unmark_erasing(&project, &customer_id).await;
            }
        }
        finished
    }
}

/// `customer.erased`, the sessions' end and the claims' release, at once.
pub(super) async fn commit(
    s: &Services,
    env: &CommandEnvelope,
    customer: &AggregateSubject,
    current: &Customer,
    reason: &str,
) -> Result<(), CommandError> {
    let email_claim = (!current.email.is_empty())
        .then(|| s.claim_subject(&env.tenant, &current.email))
        .transpose()?;
    let phone = PhoneMove::plan(s, &env.tenant, current.profile.phone.as_deref(), None)?;
    let erase = CustomerCommand::Erase {
        reason: reason.to_string(),
    };
    let release = ClaimCommand::Release {
        customer_id: customer.id.clone(),
    };
    let mut batch = s.x.batch(env).load::<Customer>(customer);
    if let Some(c) = &email_claim {
        batch = batch.load::<EmailClaim>(c);
    }
    phone
        .load(batch)
        .decide(|tx| {
            // The claims were planned on this state: a change meanwhile
            // refuses the erasure (sent again, it plans anew).
            let now = tx.state::<Customer>(customer);
            if now.email != current.email || now.profile.phone != current.profile.phone {
                return Err(DomainError::InvalidInput("id"));
            }
            tx.decide::<Customer>(customer, &erase)?;
            if let Some(c) = &email_claim {
                tx.decide::<EmailClaim>(c, &release)?;
            }
            phone.decide(tx, &customer.id)
        })
        .await
        .map_err(named_by_id)?;
    Ok(())
}

/// Every address the customer had, from their events, opened with their
/// key while it exists (this process forgot it on reading
/// `customer.erased`: it is read again).
async fn addresses(s: &Services, customer: &AggregateSubject) -> Result<Vec<String>, CommandError> {
    let mut messages =
        s.x.store()
            .read_aggregate(customer)
            .await
            .map_err(super::executor::unavailable)?;
    let key = match s.x.store().data_keys() {
        Some(keys) => keys
            .fetch(&customer.tenant, &customer.id)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "erasure: data key");
                CommandError::unavailable()
            })?,
        None => None,
    };
    if let Some(key) = key {
        for m in &mut messages {
            key.open_message(&mut m.message);
        }
    }
    let mut out: Vec<String> = Vec::new();
    for e in messages.iter().flat_map(|m| m.message.bodies()) {
        let email = match e {
            Event::Customer(CustomerEvent::Registered(r)) => &r.email,
            Event::Customer(CustomerEvent::EmailChanged(c)) => &c.email,
            _ => continue,
        };
        if let Some(plain) = email.as_plain()
            && !out.iter().any(|a| a == plain)
        {
            out.push(plain.to_string());
        }
    }
    Ok(out)
}

/// The customer's messages that hold personal data in plain (written by
/// a build before sealing), deleted with erase: their sequences. Their
/// own aggregate's, then, at or below the plaintext horizon, every other
/// message of theirs (a claim of their address, say); a session or an
/// order with such a message leaves the log whole (every message of it
/// that is theirs), so that no later message of it is left without its
/// start for a replay.
async fn erase_plaintext(
    s: &Services,
    customer: &AggregateSubject,
) -> Result<Vec<u64>, CommandError> {
    let unavailable = super::executor::unavailable;
    let bare = s.x.store().without_data_keys();
    let mut doomed: Vec<u64> = bare
        .read_aggregate(customer)
        .await
        .map_err(unavailable)?
        .iter()
        .filter(|m| m.message.holds_plaintext())
        .map(|m| m.seq)
        .collect();
    let horizon = s.x.store().plaintext_horizon().await.map_err(unavailable)?;
    let mut whole: Vec<AggregateSubject> = Vec::new();
    bare.scan_until(
        &AggregateSubject::tenant_filter(&customer.tenant),
        horizon,
        |m| {
            let kind = m.subject.kind;
            if kind != AggregateKind::Customer
                && m.message.personal_owner(kind) == Some(customer.id.as_str())
                && m.message.holds_plaintext()
            {
                if matches!(kind, AggregateKind::Order | AggregateKind::Session) {
                    if !whole.contains(&m.subject) {
                        whole.push(m.subject);
                    }
                } else {
                    doomed.push(m.seq);
                }
            }
            Ok(())
        },
    )
    .await
    .map_err(unavailable)?;
    for aggregate in &whole {
        let messages = bare.read_aggregate(aggregate).await.map_err(unavailable)?;
        doomed.extend(
            messages
                .iter()
                .filter(|m| m.message.personal_owner(aggregate.kind) == Some(customer.id.as_str()))
                .map(|m| m.seq),
        );
    }
    doomed.sort_unstable();
    for seq in &doomed {
        s.x.store().erase_message(*seq).await.map_err(unavailable)?;
    }
    Ok(doomed)
}

/// The erasure's idempotent work, then its record.
pub(super) async fn finish(
    s: &Services,
    env: &CommandEnvelope,
    customer: &AggregateSubject,
) -> Result<Sent<Erasure>, CommandError> {
    let unavailable = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "erasure: {what}");
        CommandError::unavailable()
    };
    let addresses = addresses(s, customer).await?;
    let mail_jobs_dropped = s
        .mailbox
        .erase_queued(&env.tenant, &addresses)
        .await
        .map_err(|e| unavailable("mail queue", &e))?;
    let plaintext_erased = erase_plaintext(s, customer).await?;
    let key_destroyed = match s.x.store().data_keys() {
        Some(keys) => keys
            .destroy(&env.tenant, &customer.id)
            .await
            .map_err(|e| unavailable("data key", &e))?,
        None => false,
    };
    // Its own command id: the erasure's messages to this customer carry
    // the command's (a repeat of the command records nothing twice; the
    // aggregate records the completion once).
    let done_env = CommandEnvelope {
        command_id: format!("{}.erasure-completed", env.command_id),
        ..env.clone()
    };
    let complete = CustomerCommand::CompleteErasure {
        key_destroyed,
        mail_jobs_dropped,
        plaintext_erased: plaintext_erased.clone(),
    };
    let done = s.x.run::<Customer>(&done_env, customer, &complete).await?;
    if let Some(keys) = s.x.store().data_keys() {
        // Finished: nothing for a starting instance to resume. (A mark left
        // behind is dropped by the next start.)
        let _ = keys.unmark_erasing(&customer.tenant, &customer.id).await;
    }
    Ok(Sent {
        seq: done.seq,
        outcome: Erasure {
            key_destroyed,
            mail_jobs_dropped,
            plaintext_erased,
        },
    })
}
