//! Overdue's integration tests: one binary, one module per area.

mod support;

mod alerts;
mod chaos;
mod cli;
mod ping_api;
mod schedule_oracle;
mod store;
