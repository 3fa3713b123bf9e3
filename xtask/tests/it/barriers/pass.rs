//! A runtime whose host reads are all registered and take the barrier first passes, with kb-mem's own
//! store reads and another crate's tensor reads allowed.

use std::path::PathBuf;

use super::check_barriers;
use crate::{fixture, xtask};

#[test]
fn registered_host_reads_behind_the_barrier_pass() {
    let run = check_barriers("pass");
    assert_eq!(run.stdout, ["check-barriers: 4 registry entries, 5 barrier calls, 5 files scanned, ok"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn the_workspace_root_directory_may_stand_for_its_manifest() {
    let manifest = fixture("barriers-pass");
    let root = manifest.parent().expect("a fixture's manifest is in its root");
    let run = xtask([PathBuf::from("check-barriers"), PathBuf::from("--manifest-path"), root.to_owned()]);
    assert_eq!(run.stdout, ["check-barriers: 4 registry entries, 5 barrier calls, 5 files scanned, ok"]);
    assert_eq!(run.code, 0);
}
