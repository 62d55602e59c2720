//! Overdue's integration tests: one binary, one module per area.

mod cli;
mod schedule_oracle;
