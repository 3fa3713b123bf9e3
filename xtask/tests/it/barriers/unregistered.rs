//! A method or a free function reading tensor storage without a registry entry fails, at its name.

use super::{assert_findings, check_barriers};

#[test]
fn an_unregistered_storage_read_fails() {
    assert_findings(
        &check_barriers("unregistered"),
        &[
            "crates/kb-sched/src/tensor.rs:20: `Tensor::peek` reads tensor storage but is not in the host-read \
             registry — register it in HOST_READ_REGISTRY (crates/kb-sched/src/barrier.rs) and call \
             host_read_barrier first",
            "crates/kb-sched/src/tensor.rs:27: `dump` reads tensor storage but is not in the host-read registry \
             — register it in HOST_READ_REGISTRY (crates/kb-sched/src/barrier.rs) and call host_read_barrier \
             first",
        ],
    );
}
