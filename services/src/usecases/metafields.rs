//! Metafield values on a customer: the signed-in customer writes the
//! project's READ_WRITE keys (with their session checked live in the same
//! decision), an admin writes any declared key. The declarations are read
//! from the project as the services know it.

use authd_events::AggregateKind;

use super::{Services, UseCase, customer_actor, storefront::caller_is_live, subject};
use crate::{
    commands::{
        AdminSetMetafields, CommandEnvelope, MetafieldInput, MetafieldsSaved, SavedMetafield, Sent,
        SetMetafields,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        customer_metafields::{self, Writer},
        session::Session,
    },
    error::CommandError,
};

/// The command for `values`, with the project's declarations.
async fn command(
    s: &Services,
    env: &CommandEnvelope,
    values: Vec<MetafieldInput>,
    writer: Writer,
) -> Result<CustomerCommand, CommandError> {
    let project = s.project(&env.tenant).await?;
    Ok(CustomerCommand::SetMetafields(
        customer_metafields::SetMetafields {
            definitions: project.customer_metafields,
            values,
            writer,
        },
    ))
}

/// The values the command named, as the customer holds them now.
fn saved(c: &Customer, cmd: &CustomerCommand) -> MetafieldsSaved {
    let CustomerCommand::SetMetafields(set) = cmd else {
        return MetafieldsSaved::default();
    };
    // Checked already: the decision passed.
    let values = customer_metafields::checked(set).unwrap_or_default();
    let metafields = values
        .into_iter()
        .filter_map(|v| {
            let stored = c
                .metafields
                .iter()
                .find(|m| m.namespace == v.namespace && m.key == v.key)?;
            Some(SavedMetafield {
                value: v.value.as_plain().unwrap_or_default().to_string(),
                namespace: v.namespace,
                key: v.key,
                type_name: v.type_name,
                created_at: stored.created_at,
                updated_at: stored.updated_at,
            })
        })
        .collect();
    MetafieldsSaved { metafields }
}

impl UseCase for SetMetafields {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<MetafieldsSaved>, CommandError> {
        let cmd = command(s, env, self.metafields, Writer::Customer).await?;
        let customer = subject(&env.tenant, AggregateKind::Customer, customer_actor(env))?;
        let caller = subject(&env.tenant, AggregateKind::Session, &self.session_id)?;
        let done =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .load::<Session>(&caller)
                .decide(|tx| {
                    caller_is_live(tx, &caller, &customer, &self.session_id)?;
                    tx.decide::<Customer>(&customer, &cmd)?;
                    Ok(())
                })
                .await?;
        Ok(Sent {
            seq: done.seq,
            outcome: saved(done.state::<Customer>(&customer), &cmd),
        })
    }
}

impl UseCase for AdminSetMetafields {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<MetafieldsSaved>, CommandError> {
        let cmd = command(s, env, self.metafields, Writer::Admin).await?;
        let customer = subject(&env.tenant, AggregateKind::Customer, &self.customer_id)?;
        let done =
            s.x.batch(env)
                .load::<Customer>(&customer)
                .decide(|tx| {
                    tx.decide::<Customer>(&customer, &cmd)?;
                    Ok(())
                })
                .await
                .map_err(super::customer_admin::named_by_id)?;
        Ok(Sent {
            seq: done.seq,
            outcome: saved(done.state::<Customer>(&customer), &cmd),
        })
    }
}
