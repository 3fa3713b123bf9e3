//! kb-bench: benchmarks of the kernbench simulator itself, and the fixtures they run.
//!
//! The criterion benches live in `benches/`; this library builds their inputs so the same
//! programs can be measured by a bench and checked by a test.

pub mod fixtures;
