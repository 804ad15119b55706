//! SQLite read models fed from the event stream: one model per file
//! (`projects`, `customers`, `sessions`, the `audit` index), one checkpoint
//! in the same transaction as their rows, rebuildable from sequence 1 at
//! any time.

mod addresses;
mod audit;
mod customers;
pub mod db;
pub mod erasure;
pub mod export;
mod key_cache;
pub mod live_rebuild;
mod metafields;
mod orders;
pub mod passkeys;
mod projects;
pub mod read;
pub mod read_addresses;
pub mod read_audit;
pub mod read_metafields;
pub mod read_orders;
pub mod read_passkeys;
pub mod read_webhooks;
mod replay;
mod row_cache;
pub mod runner;
mod sessions;
mod tables;

pub use live_rebuild::{RebuildStatus, Rebuilder, resolve, upgrade_at_start};
pub use read::ReadModel;
pub use replay::{Until, rebuild, rebuild_apart};
pub use runner::Projector;
pub use tables::{apply_batch, audit_path};
