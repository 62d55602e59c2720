//! Overdue's integration tests: one binary, one module per area.

mod support;

mod cli;
mod schedule_oracle;
mod store;
