//! `check-barriers` on fixture source trees `tests/fixtures/barriers-*`, one file per behaviour.
//!
//! Each fixture is a tiny fake workspace: `crates/*` with a `Cargo.toml` naming the package and
//! sources that parse but need not compile.

mod late_barrier;
mod missing_registry;
mod no_barrier;
mod no_runtime;
mod nothing_found;
mod outside_read;
mod pass;
mod stale_entry;
mod store_read;
mod unparsable;
mod unregistered;

use std::path::PathBuf;

use super::{Run, fixture, xtask};

/// Runs `cargo xtask check-barriers` on the fixture `barriers-<name>`.
fn check_barriers(name: &str) -> Run {
    let manifest = fixture(&format!("barriers-{name}"));
    xtask([PathBuf::from("check-barriers"), PathBuf::from("--manifest-path"), manifest])
}

/// Asserts that `run` failed with exactly the findings `expected`, one per line, and counted them.
fn assert_findings(run: &Run, expected: &[&str]) {
    assert_eq!(run.stdout, expected, "stderr: {}", run.stderr);
    let plural = if expected.len() == 1 { "" } else { "s" };
    assert_eq!(run.stderr, format!("check-barriers: failed, {} finding{plural}\n", expected.len()));
    assert_eq!(run.code, 1);
}
