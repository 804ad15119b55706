//! Support operations on one customer: suspend (which ends every session in
//! the same message), reactivate, unlock.

use authd_events::AggregateKind;

use super::{Services, UseCase, subject};
use crate::{
    commands::{
        CommandEnvelope, Done, ReactivateCustomer, Sent, SetCustomerTags, SuspendCustomer,
        UnlockCustomer,
    },
    domain::customer::{Customer, CustomerCommand},
    error::CommandError,
};

/// A refusal of an admin command that names its customer by `id`: an
/// unknown customer is the `id`'s fault.
pub(super) fn named_by_id(e: CommandError) -> CommandError {
    if e.field.is_none() && e.code == crate::error::ErrorCode::CustomerNotFound {
        e.with_field("id")
    } else {
        e
    }
}

/// Decides `command` on the customer `customer_id`.
async fn on_customer(
    s: &Services,
    env: &CommandEnvelope,
    customer_id: &str,
    command: CustomerCommand,
) -> Result<Sent<Done>, CommandError> {
    let customer = subject(&env.tenant, AggregateKind::Customer, customer_id)?;
    let d =
        s.x.run::<Customer>(env, &customer, &command)
            .await
            .map_err(named_by_id)?;
    Ok(Sent {
        seq: d.seq,
        outcome: Done,
    })
}

impl UseCase for SuspendCustomer {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let suspend = CustomerCommand::Suspend {
            reason: self.reason,
        };
        on_customer(s, env, &self.customer_id, suspend).await
    }
}

impl UseCase for ReactivateCustomer {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        on_customer(s, env, &self.customer_id, CustomerCommand::Reactivate).await
    }
}

impl UseCase for SetCustomerTags {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        on_customer(
            s,
            env,
            &self.customer_id,
            CustomerCommand::SetTags(self.tags),
        )
        .await
    }
}

impl UseCase for UnlockCustomer {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        on_customer(s, env, &self.customer_id, CustomerCommand::Unlock).await
    }
}
