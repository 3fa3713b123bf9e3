use cargo_metadata::DependencyKind::{Build, Development, Normal};

use super::dependency_line;

/// A manifest using every way of declaring a dependency; line numbers are in the comments.
const MANIFEST: &str = r#"[package]
name = "demo"
version = "0.0.0"
description = """
a description whose lines look like keys:
bytemuck = "1"
[dependencies]
half = "2"
"""
build = 'build.rs' # not a dependency section: dependencies = "x" ; [dependencies]

[dependencies] # line 12
anyhow.workspace = true
half = "2.7"
may = { version = "0.3", features = [
  "thiserror = 1",
] }
"quoted" = { path = "../quoted" }
alias = { package = "kb-mem", path = "../kb-mem" }
serde . workspace = true

[dependencies.bytemuck] # line 22
version = "1"
features = ["derive"]

[build-dependencies]
cc = "1" # line 27

[dev-dependencies]
thiserror = "2"

[target.'cfg(target_os = "linux")'.dependencies]
libc = "0.2" # line 33

[target."x86_64-pc-windows-msvc".build-dependencies]
winres = "0.1" # line 36

[workspace.dependencies]
toml = "1"
"#;

#[test]
fn each_declaration_form_is_found() {
    let line = |key| dependency_line(MANIFEST, key, Normal, None);
    assert_eq!(line("anyhow"), Some(13), "name.workspace = true");
    assert_eq!(line("half"), Some(14), "name = \"version\", not the look-alike inside the description");
    assert_eq!(line("may"), Some(15), "name = {{ … }} spanning lines");
    assert_eq!(line("quoted"), Some(18), "a quoted key");
    assert_eq!(line("alias"), Some(19), "a renamed dependency, found by its rename");
    assert_eq!(line("serde"), Some(20), "spaces around the dot");
    assert_eq!(line("bytemuck"), Some(22), "a [dependencies.name] table");
}

#[test]
fn build_and_target_sections_are_told_apart() {
    assert_eq!(dependency_line(MANIFEST, "cc", Build, None), Some(27));
    assert_eq!(dependency_line(MANIFEST, "cc", Normal, None), None);
    assert_eq!(dependency_line(MANIFEST, "thiserror", Development, None), Some(30));
    assert_eq!(dependency_line(MANIFEST, "thiserror", Normal, None), None, "not the string in may's features");
    assert_eq!(dependency_line(MANIFEST, "libc", Normal, Some(r#"cfg(target_os = "linux")"#)), Some(33));
    assert_eq!(
        dependency_line(MANIFEST, "libc", Normal, Some(r#"cfg(target_os="linux")"#)),
        Some(33),
        "cargo's spacing of cfg(…) may differ from the manifest's"
    );
    assert_eq!(dependency_line(MANIFEST, "libc", Normal, None), None);
    assert_eq!(dependency_line(MANIFEST, "libc", Normal, Some("cfg(windows)")), None);
    assert_eq!(dependency_line(MANIFEST, "winres", Build, Some("x86_64-pc-windows-msvc")), Some(36));
}

#[test]
fn keys_outside_dependency_sections_are_not_declarations() {
    assert_eq!(dependency_line(MANIFEST, "toml", Normal, None), None, "[workspace.dependencies]");
    assert_eq!(dependency_line(MANIFEST, "name", Normal, None), None, "[package]");
    assert_eq!(dependency_line(MANIFEST, "build", Normal, None), None);
    assert_eq!(dependency_line("", "anyhow", Normal, None), None);
}

#[test]
fn dotted_keys_from_an_enclosing_table_are_declarations() {
    let text = "[package]\nname = \"x\"\n\n[target]\n'cfg(unix)'.dependencies.nix = \"0.30\"\n";
    assert_eq!(dependency_line(text, "nix", Normal, Some("cfg(unix)")), Some(5));
}
