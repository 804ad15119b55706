//! The plumbing. The use cases stand on the state cache, password
//! hashing, token signing, the signing-key ring, sealing, the providers'
//! clients and mail; `runtime` (which serves the use cases) and `bus` (the
//! command client of the gateway and the CLI) sit above them.

pub mod bus;
pub mod cache;
pub mod clock;
pub mod follow;
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
pub mod webauthn;
