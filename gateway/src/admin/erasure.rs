//! `customerErase`: forgets a customer (GDPR art. 17). What happens, in
//! order, is the services' `usecases/erasure.rs`; the answer comes once
//! this gateway's read model has blanked the customer.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use authd_services::commands::EraseCustomer;

use super::resolver::send;
use crate::error::{UserError, payloads, respond};

#[derive(SimpleObject, Default)]
pub struct CustomerEraseResponse {
    pub success: bool,
    pub message: Option<String>,
    /// The customer's data key was destroyed now (false: it was gone
    /// already, or they never had one, as customers of earlier builds).
    pub key_destroyed: Option<bool>,
    /// Mail still queued for the customer, deleted unsent.
    pub mail_jobs_dropped: Option<i32>,
    /// The sequences of the customer's messages that a build before
    /// sealing wrote with personal data in plain, deleted from the log
    /// with erase (their audit entries go with them).
    pub plaintext_messages_erased: Option<Vec<String>>,
    pub errors: Vec<UserError>,
}

payloads!(CustomerEraseResponse);

#[derive(Default)]
pub struct ErasureMutation;

#[Object]
impl ErasureMutation {
    /// Erases a customer: every session ends, their address and phone are
    /// free again, queued mail to them is dropped, their data key is
    /// destroyed (what the log holds of them can never be read again) and
    /// every read model forgets them. Their audit history stays, with
    /// `[erased]` where personal data was. `reason` (at most 500
    /// characters) is recorded for good: never put the customer's personal
    /// data in it. `ALREADY_ERASED` for a customer erased before; sent again
    /// for one whose erasure was interrupted, it finishes it.
    async fn customer_erase(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<CustomerEraseResponse> {
        let erase = EraseCustomer {
            customer_id: id.0,
            reason,
        };
        respond(send(ctx, erase).await.map(|done| CustomerEraseResponse {
            success: true,
            message: Some("customer erased".into()),
            key_destroyed: Some(done.key_destroyed),
            mail_jobs_dropped: Some(done.mail_jobs_dropped as i32),
            plaintext_messages_erased: Some(
                done.plaintext_erased.iter().map(u64::to_string).collect(),
            ),
            errors: vec![],
        }))
    }
}
