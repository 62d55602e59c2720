//! Pure domain logic: no IO, time passed in as arguments.

pub mod channel;
pub mod check;
pub mod schedule;
