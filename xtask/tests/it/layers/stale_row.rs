//! A row for a crate that is not in the workspace is stale and fails, at the row's line.

use crate::check_layers;

#[test]
fn a_row_for_a_crate_not_in_the_workspace_fails() {
    let run = check_layers("stale-row");
    assert_eq!(
        run.stdout,
        ["ARCHITECTURE.md:8: the layer table has a row for gone, which is not a workspace crate — remove the \
          stale row or add the crate to the workspace"]
    );
    assert_eq!(run.code, 1);
}
