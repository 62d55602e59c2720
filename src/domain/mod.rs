//! Pure domain logic: no IO, time passed in as arguments.

pub mod badge;
pub mod channel;
pub mod check;
pub mod schedule;
