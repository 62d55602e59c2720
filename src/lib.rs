//! Overdue: cron-job and heartbeat monitoring, wire-compatible with healthchecks.io.

pub mod alerts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod retention;
pub mod smtp;
pub mod store;
