//! The services role: pure aggregates (`domain/`), one use case per file
//! over an executor that alone loads, decides, appends and retries
//! (`usecases/`), every command declared once (`commands/`: its payload,
//! outcome and sender; `dispatch.rs` runs its use case), one error
//! vocabulary (`error.rs`), and the plumbing (`infra/`: cache, bus,
//! runtime, hashing, tokens, signing keys, providers, mail).
//!
//! Dependencies point one way: `dispatch` and `infra::runtime` above the
//! use cases, the use cases above `commands`, `domain` and the rest of
//! `infra`, and `error` below everything.

pub mod commands;
mod dispatch;
pub mod domain;
pub mod error;
mod error_details;
pub mod infra;
mod retries;
pub mod usecases;

pub use commands::{CommandSpec, Who};
pub use domain::{
    aggregate, customer, email_claim, login_attempts, otp, project, session, signing_keys,
};
pub use error::{CommandError, DomainError, ErrorCode};
pub use infra::{bus, cache, clock, key_ring, mail, mailer, password, runtime, tokens};
pub use infra::{
    bus::{BusError, CommandBus},
    runtime::Shutdown,
};
pub use usecases::{ServiceConfig, Services};
