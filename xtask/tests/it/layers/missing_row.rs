//! A workspace crate without a row in the table fails, at the top of its manifest.

use crate::check_layers;

#[test]
fn a_crate_without_a_row_fails() {
    let run = check_layers("missing-row");
    assert_eq!(
        run.stdout,
        ["crates/unlisted/Cargo.toml:1: unlisted has no row in the layer table — add a row for unlisted to \
          the layer table in ARCHITECTURE.md"]
    );
    assert_eq!(run.code, 1);
}
