//! A workspace that follows its table passes, with normal and build dependencies checked and
//! dev-dependencies free.

use crate::check_layers;

#[test]
fn a_workspace_following_its_table_passes() {
    let run = check_layers("pass");
    assert_eq!(run.stdout, ["check-layers: 2 crates, 3 dependencies checked, ok"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}
