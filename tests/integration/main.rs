//! Overdue's integration tests: one binary, one module per area.

mod schedule_oracle;
