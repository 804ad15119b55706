//! Orders from the shop's backend (`order.record`, `order.cancel`): one
//! aggregate per order, keyed by a keyed hash of the project's
//! `externalId`, so a repeated or replayed record is one order.

use authd_events::{AggregateKind, AggregateSubject, keyed_hash::email_key};

use super::{Services, UseCase, subject};
use crate::{
    commands::{CancelOrder, CommandEnvelope, Done, OrderOutcome, OrderSaved, RecordOrder, Sent},
    domain::{
        aggregate::Aggregate,
        order::{Order, OrderCommand},
    },
    error::{CommandError, DomainError},
};

impl Services {
    /// The order with the project's `externalId`.
    fn order_subject(
        &self,
        tenant: &str,
        external_id: &str,
    ) -> Result<AggregateSubject, CommandError> {
        let key = email_key(
            &self.config.index_key,
            tenant,
            &format!("order:{}", external_id.trim()),
        );
        subject(tenant, AggregateKind::Order, &key)
    }
}

impl UseCase for RecordOrder {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<OrderSaved>, CommandError> {
        let customer_id = match (&self.customer_id, &self.email) {
            (Some(id), _) => {
                let customer = subject(&env.tenant, AggregateKind::Customer, id)
                    .map_err(|_| DomainError::CustomerNotFound)?;
                s.registered_customer(&customer)
                    .await?
                    .ok_or(DomainError::CustomerNotFound)?;
                id.clone()
            }
            (None, Some(email)) => {
                let claim = s.claim_subject(&env.tenant, email)?;
                let (customer, _) = s
                    .owner_of(&env.tenant, &claim)
                    .await?
                    .ok_or(DomainError::CustomerNotFound)?;
                customer.id
            }
            (None, None) => return Err(DomainError::InvalidInput("customerId").into()),
        };
        let recorded = self.order.checked(&customer_id)?;
        let discounts = self.order.checked_discounts(&recorded)?;
        let order = s.order_subject(&env.tenant, &recorded.external_id)?;
        let record = OrderCommand::Record(Box::new(recorded), discounts);
        // Whether the last (deciding) round found the order recorded.
        let mut existed = false;
        let done =
            s.x.decide::<Order>(env, &order, |state, now| {
                existed = state.recorded.is_some();
                state.decide(&record, now)
            })
            .await?;
        let outcome = match (done.events.is_empty(), existed) {
            (true, _) => OrderOutcome::Unchanged,
            (false, true) => OrderOutcome::Replaced,
            (false, false) => OrderOutcome::Created,
        };
        Ok(Sent {
            seq: done.seq,
            outcome: OrderSaved {
                customer_id,
                outcome,
            },
        })
    }
}

impl UseCase for CancelOrder {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let order = s.order_subject(&env.tenant, &self.external_id)?;
        let cancel = OrderCommand::Cancel {
            reason: self.reason,
        };
        let done = s.x.run::<Order>(env, &order, &cancel).await?;
        Ok(Sent {
            seq: done.seq,
            outcome: Done,
        })
    }
}
