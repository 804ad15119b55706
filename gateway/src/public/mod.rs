//! The Customer Auth API (`/graphql/public`): operation names, arguments and
//! response fields exactly as in `shared/api/customer-auth-api.md`, one
//! small object per feature, merged.

pub mod account;
pub mod delete_account;
pub mod login;
pub mod mfa;
pub mod passkeys;
pub mod passwords;
pub mod providers;
pub mod register;
pub mod sessions;
pub mod types;
pub mod verification;

use async_graphql::{EmptySubscription, MergedObject};

#[derive(MergedObject, Default)]
pub struct Query(
    account::AccountQuery,
    providers::ProviderQuery,
    mfa::MfaQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    register::RegisterMutation,
    login::LoginMutation,
    sessions::SessionMutation,
    passwords::PasswordMutation,
    verification::VerificationMutation,
    providers::ProviderMutation,
    delete_account::DeleteAccountMutation,
    mfa::MfaMutation,
    passkeys::PasskeyMutation,
);

pub type PublicSchema = async_graphql::Schema<Query, Mutation, EmptySubscription>;

/// The schema; `introspection` answers `__schema`/`__type` (dev, or
/// `--introspection`).
pub fn build(limits: &crate::state::Limits, introspection: bool) -> PublicSchema {
    let schema =
        async_graphql::Schema::build(Query::default(), Mutation::default(), EmptySubscription);
    crate::state::limited(schema, limits, introspection).finish()
}
