//! Table tests of schedule parsing and iteration.
