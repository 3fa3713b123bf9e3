//! Reading device memory outside the runtime fails at each read: another crate calling the store or
//! `read_storage`, naming a store read as a value, and kb-sched's own tests. kb-mem, which owns the
//! store, may read it.

use super::{assert_findings, check_barriers};

/// How every direct read is fixed.
const FIX: &str = "and so reads device memory directly — go through a Tensor host read (to_vec, to_ndarray, \
                   get) so the host-read barrier runs";

#[test]
fn a_direct_read_outside_the_runtime_fails() {
    let expected = [
        format!("crates/kb-ccl/src/lib.rs:8: `all_gather` calls `read_region` {FIX}"),
        format!("crates/kb-ccl/src/lib.rs:9: `all_gather` calls `read_storage` {FIX}"),
        format!("crates/kb-ccl/src/lib.rs:14: code outside any function uses `read_region` {FIX}"),
        format!("crates/kb-sched/tests/it.rs:6: `reads_zeros` calls `read_slice` {FIX}"),
    ];
    assert_findings(&check_barriers("outside-read"), &expected.each_ref().map(String::as_str));
}
