//! The Customer Auth API (`/graphql/public`): operation names, arguments and
//! response fields exactly as in `shared/api/customer-auth-api.md`, one
//! small object per feature, merged.

pub mod account;
pub mod login;
pub mod passwords;
pub mod register;
pub mod sessions;
pub mod types;
pub mod verification;

use async_graphql::{EmptySubscription, MergedObject};

#[derive(MergedObject, Default)]
pub struct Query(account::AccountQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(
    register::RegisterMutation,
    login::LoginMutation,
    sessions::SessionMutation,
    passwords::PasswordMutation,
    verification::VerificationMutation,
);

pub type PublicSchema = async_graphql::Schema<Query, Mutation, EmptySubscription>;

pub fn build(limits: &crate::state::Limits) -> PublicSchema {
    async_graphql::Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(limits.max_depth * 2)
        .limit_directives(16)
        .finish()
}
