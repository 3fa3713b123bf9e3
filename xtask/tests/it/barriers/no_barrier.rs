//! A registered method that never calls the barrier fails at its name, whether it reads storage
//! itself or through another host read.

use super::{assert_findings, check_barriers};

#[test]
fn a_registered_method_without_a_barrier_fails() {
    assert_findings(
        &check_barriers("no-barrier"),
        &[
            "crates/kb-sched/src/tensor.rs:20: `Tensor::get` is in the host-read registry but does not call \
             host_read_barrier before reading — call host_read_barrier at the start of `Tensor::get`, before it \
             reads",
            "crates/kb-sched/src/tensor.rs:25: `Tensor::to_ndarray` is in the host-read registry but does not \
             call host_read_barrier before reading — call host_read_barrier at the start of \
             `Tensor::to_ndarray`, before it reads",
        ],
    );
}
