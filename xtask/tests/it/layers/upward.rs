//! A low layer depending on a higher one fails, at the line declaring the dependency.

use crate::check_layers;

#[test]
fn a_dependency_on_a_higher_layer_fails() {
    let run = check_layers("upward");
    assert_eq!(
        run.stdout,
        ["crates/low/Cargo.toml:7: low depends on high, which is not in its layer row (may depend on: —) \
          — remove the dependency or change the layer table in ARCHITECTURE.md"]
    );
    assert_eq!(run.code, 1);
}
