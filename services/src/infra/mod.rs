//! What the use cases stand on: the services' state cache and runtime, the
//! command bus's client side, password hashing, token signing, mail.

pub mod bus;
pub mod cache;
pub mod clock;
pub mod key_ring;
pub mod mail;
pub mod mailer;
pub mod oauth;
pub mod oidc;
pub mod password;
pub mod runtime;
pub mod sealing;
pub mod shopify;
pub mod tokens;
