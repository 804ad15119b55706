//! The rules: one module per aggregate, each a pure `decide` and a total
//! `evolve` behind the one `Aggregate` trait, tested given/when/then.

pub mod aggregate;
pub mod amounts;
pub mod customer;
pub mod customer_address;
pub mod customer_erasure;
pub mod customer_metafields;
pub mod customer_mfa;
#[cfg(test)]
mod customer_mfa_tests;
pub mod customer_passkey;
mod customer_password;
pub mod customer_profile;
mod customer_state;
mod customer_tags;
pub mod email_claim;
pub mod geo;
pub mod lockout;
pub mod login_attempts;
pub mod metafields;
pub mod mfa;
pub mod order;
pub mod order_discounts;
pub mod otp;
pub mod project;
pub mod provider_login;
pub mod providers;
pub mod session;
pub mod signing_keys;
mod text;
mod urls;
pub mod webauthn;
pub mod webhooks;
