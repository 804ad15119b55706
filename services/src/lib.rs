//! Commands and their handlers around pure aggregates: one module per
//! aggregate (`decide` + `evolve`, tested without I/O), password hashing,
//! token signing, and the runtime that serves `authd.cmd.*`.

pub mod aggregate;
pub mod bus;
pub mod cache;
pub mod clock;
pub mod command;
pub mod customer;
pub mod email_claim;
pub mod error;
pub mod handlers;
pub mod login_attempts;
pub mod mail;
pub mod mailer;
pub mod otp;
pub mod password;
pub mod project;
pub mod runtime;
pub mod session;
pub mod tokens;

pub use bus::{BusError, CommandBus};
pub use error::{CommandError, DomainError};
pub use handlers::{ServiceConfig, Services};
pub use runtime::Shutdown;
