//! The Storefront API (`/graphql/storefront`): the customer operations of
//! Shopify's Storefront API, with its names, arguments and payloads, over
//! the same customers as the Customer Auth API (one identity per project).
//! One small object per feature, merged.

pub mod account;
pub mod addresses;
pub mod browser;
pub mod catalog;
mod customer_data;
pub mod discounts;
pub mod in_context;
pub mod input;
pub mod mailing_address;
pub mod metafields;
pub mod nodes;
pub mod order_search;
pub mod orders;
pub mod passkeys;
pub mod recovery;
mod resolver;
pub mod session;
pub mod tokens;
pub mod types;

use async_graphql::{EmptySubscription, MergedObject};

pub use browser::Carried;

#[derive(MergedObject, Default)]
pub struct Query(account::CustomerQuery, nodes::NodeQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(
    account::AccountMutation,
    tokens::TokenMutation,
    recovery::RecoveryMutation,
    recovery::ActivationMutation,
    addresses::AddressMutation,
    metafields::MetafieldMutation,
    passkeys::PasskeyMutation,
);

pub type StorefrontSchema = async_graphql::Schema<Query, Mutation, EmptySubscription>;

/// Root fields that check a credential, hash a password or send mail: one
/// per request (see `guards::one_costly_field`).
pub const COSTLY_FIELDS: &[&str] = &[
    "customerCreate",
    "customerAccessTokenCreate",
    "customerAccessTokenCreateWithMfa",
    "customerAccessTokenCreateWithPasskey",
    "customerPasskeyRegisterFinish",
    "customerUpdate",
    "customerRecover",
    "customerReset",
    "customerResetByUrl",
    "customerActivate",
    "customerActivateByUrl",
];

pub fn build(limits: &crate::state::Limits, introspection: bool) -> StorefrontSchema {
    let schema =
        async_graphql::Schema::build(Query::default(), Mutation::default(), EmptySubscription)
            .register_input_type::<in_context::CountryCode>()
            .register_input_type::<in_context::LanguageCode>()
            .register_input_type::<in_context::BuyerInput>()
            .register_input_type::<in_context::VisitorConsent>()
            .directive(in_context::InContext);
    crate::state::limited(schema, limits, introspection).finish()
}
