//! An external crate missing from the "may use" column fails wherever it is declared: as a normal, a
//! build and a renamed target-specific dependency. Its dev-dependency is free.

use crate::check_layers;

#[test]
fn an_external_crate_not_in_the_row_fails_at_each_declaration() {
    let run = check_layers("external");
    let fix = "— remove the dependency or change the layer table in ARCHITECTURE.md";
    assert_eq!(
        run.stdout,
        [
            format!("crates/app/Cargo.toml:8: app uses may, which is not in its layer row (may use: anyhow) {fix}"),
            format!("crates/app/Cargo.toml:11: app uses may, which is not in its layer row (may use: anyhow) {fix}"),
            format!(
                "crates/app/Cargo.toml:17: app uses may (renamed coroutines), which is not in its layer row \
                 (may use: anyhow) {fix}"
            ),
        ]
    );
    assert_eq!(run.code, 1);
}
