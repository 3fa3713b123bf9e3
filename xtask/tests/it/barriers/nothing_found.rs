//! A runtime without any barrier call or storage read fails, so the check cannot pass by reading
//! nothing.

use super::{assert_findings, check_barriers};

#[test]
fn finding_no_barrier_and_no_reader_fails() {
    assert_findings(
        &check_barriers("nothing-found"),
        &[
            "crates/kb-sched/src/barrier.rs:8: no call of host_read_barrier found in crates/kb-sched/src — every \
             host read in the registry must call host_read_barrier before it reads",
            "crates/kb-sched/src/barrier.rs:8: no function in crates/kb-sched/src uses read_storage — read \
             tensor storage only through read_storage, from the host reads in the registry",
        ],
    );
}
