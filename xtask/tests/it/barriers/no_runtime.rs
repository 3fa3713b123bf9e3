//! A workspace without a kb-sched package (kb-sched not written yet) is skipped, and says so.

use super::check_barriers;

#[test]
fn a_workspace_without_kb_sched_is_skipped() {
    let run = check_barriers("no-runtime");
    assert_eq!(run.stdout, ["check-barriers: no kb-sched crate yet, skipped, ok"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}
