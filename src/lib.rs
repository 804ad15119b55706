//! The `authd` binary's wiring, shared by the CLI and the integration tests.

pub mod admin_cli;
mod admin_client;
mod admin_export;
mod admin_orders;
pub mod admin_providers;
pub mod app;
pub mod bench_baseline;
pub mod events_cli;
pub mod json_logs;
pub mod nats_server;
pub mod projections_cli;
pub mod telemetry;
pub mod verify;
