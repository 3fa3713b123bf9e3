//! A barrier after the read fails at the read, even inside `write!`, and an entry covers every impl of
//! its name: `Debug::fmt` is fine, `Display::fmt` is not.

use super::{assert_findings, check_barriers};

#[test]
fn a_barrier_after_the_read_fails_at_the_read() {
    assert_findings(
        &check_barriers("late-barrier"),
        &["crates/kb-sched/src/tensor.rs:29: `Tensor::fmt` is in the host-read registry but does not call \
           host_read_barrier before reading — call host_read_barrier at the start of `Tensor::fmt`, before it \
           reads"],
    );
}
