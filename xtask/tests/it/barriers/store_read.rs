//! Within kb-sched, reading the memory store anywhere but `barrier.rs` fails, even in a registered
//! host read behind the barrier.

use super::{assert_findings, check_barriers};

#[test]
fn a_store_read_outside_barrier_rs_fails() {
    assert_findings(
        &check_barriers("store-read"),
        &["crates/kb-sched/src/tensor.rs:16: `Tensor::to_vec` calls `read_region_f32` outside barrier.rs — \
           within kb-sched only barrier.rs reads the memory store; read tensor storage through read_storage in \
           a registered host read"],
    );
}
