//! Overdue: cron-job and heartbeat monitoring, wire-compatible with healthchecks.io.

pub mod cli;
pub mod domain;
pub mod keys;
pub mod store;
