//! The signed-in customer's mailing addresses: each command is decided on
//! the customer, with the caller's session loaded to check it is still
//! live (a deletion or suspension may have just landed).

use authd_events::AggregateKind;
use sha2::{Digest, Sha256};

use super::{
    Services, UseCase, customer_actor, customer_view, storefront::caller_is_live, subject,
};
use crate::{
    commands::{
        AddressView, CommandEnvelope, CreateAddress, CustomerView, DeleteAddress, Done, Sent,
        SetDefaultAddress, UpdateAddress,
    },
    domain::{
        customer::{Customer, CustomerCommand},
        customer_address::AddressCommand,
        session::Session,
    },
    error::{CommandError, DomainError},
};

/// Decides `cmd` on the caller's customer; the customer after it and the
/// sequence to wait for.
async fn decide(
    s: &Services,
    env: &CommandEnvelope,
    session_id: &str,
    cmd: AddressCommand,
) -> Result<(Customer, u64, bool), CommandError> {
    let customer = subject(&env.tenant, AggregateKind::Customer, customer_actor(env))?;
    let caller = subject(&env.tenant, AggregateKind::Session, session_id)?;
    let cmd = CustomerCommand::Address(cmd);
    let done =
        s.x.batch(env)
            .load::<Customer>(&customer)
            .load::<Session>(&caller)
            .decide(|tx| {
                caller_is_live(tx, &caller, &customer, session_id)?;
                tx.decide::<Customer>(&customer, &cmd)?;
                Ok(())
            })
            .await?;
    Ok((
        done.state::<Customer>(&customer).clone(),
        done.seq,
        done.duplicate,
    ))
}

fn view(c: &Customer, id: &str) -> Result<AddressView, DomainError> {
    let (_, address) = c
        .addresses
        .iter()
        .find(|(a, _)| a == id)
        .ok_or(DomainError::AddressNotFound)?;
    Ok(AddressView {
        id: id.to_string(),
        is_default: c.default_address.as_deref() == Some(id),
        address: address.clone(),
    })
}

/// A new address's id, from the command's: a repeated command names the
/// address it added the first time.
fn new_address_id(env: &CommandEnvelope) -> String {
    let digest = Sha256::digest(format!("{}\0{}", env.tenant, env.command_id));
    format!("ad_{}", hex::encode(&digest[..13]))
}

impl UseCase for CreateAddress {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<AddressView>, CommandError> {
        let address_id = new_address_id(env);
        let add = AddressCommand::Add {
            address_id: address_id.clone(),
            change: self.address,
        };
        let (c, seq, duplicate) = decide(s, env, &self.session_id, add).await?;
        let outcome = view(&c, &address_id).map_err(|e| {
            // Added by the first attempt and deleted since.
            if duplicate {
                CommandError::duplicate()
            } else {
                e.into()
            }
        })?;
        Ok(Sent { seq, outcome })
    }
}

impl UseCase for UpdateAddress {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<AddressView>, CommandError> {
        let update = AddressCommand::Update {
            address_id: self.address_id.clone(),
            change: self.address,
        };
        let (c, seq, _) = decide(s, env, &self.session_id, update).await?;
        Ok(Sent {
            seq,
            outcome: view(&c, &self.address_id)?,
        })
    }
}

impl UseCase for DeleteAddress {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let remove = AddressCommand::Remove {
            address_id: self.address_id,
        };
        let (_, seq, _) = decide(s, env, &self.session_id, remove).await?;
        Ok(Sent { seq, outcome: Done })
    }
}

impl UseCase for SetDefaultAddress {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<CustomerView>, CommandError> {
        let set = AddressCommand::SetDefault {
            address_id: self.address_id,
        };
        let (c, seq, _) = decide(s, env, &self.session_id, set).await?;
        Ok(Sent {
            seq,
            outcome: customer_view(customer_actor(env), &c),
        })
    }
}
