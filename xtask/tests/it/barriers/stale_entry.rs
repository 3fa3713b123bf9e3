//! A registry entry naming no method fails at the entry's line.

use super::{assert_findings, check_barriers};

#[test]
fn a_stale_registry_entry_fails() {
    assert_findings(
        &check_barriers("stale-entry"),
        &["crates/kb-sched/src/barrier.rs:10: registry entry `Tensor::to_npy` names no method in kb-sched — \
           remove the stale entry"],
    );
}
