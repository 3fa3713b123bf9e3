//! Once kb-sched exists, a `barrier.rs` without the registry fails, and so does a missing `barrier.rs`.

use super::{assert_findings, check_barriers};

/// The one finding of both fixtures.
const MISSING: &str = "crates/kb-sched/src/barrier.rs:1: no host-read registry found in \
                       crates/kb-sched/src/barrier.rs — define `pub(crate) const HOST_READ_REGISTRY: &[&str] = \
                       &[\"Type::method\", …];` there, one entry per host read";

#[test]
fn a_barrier_rs_without_the_registry_fails() {
    assert_findings(&check_barriers("missing-registry"), &[MISSING]);
}

#[test]
fn a_runtime_without_barrier_rs_fails() {
    assert_findings(&check_barriers("no-barrier-file"), &[MISSING]);
}
