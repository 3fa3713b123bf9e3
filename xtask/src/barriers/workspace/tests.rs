//! Package names, the workspace root and relative paths.

use std::path::Path;

use super::{package_name, relative, root};

#[test]
fn the_package_name_comes_from_the_package_table() {
    let manifest =
        "[package]\nname = \"kb-sched\" # the runtime\nversion.workspace = true\n\n[dependencies]\nname = \"x\"\n";
    assert_eq!(package_name(manifest).expect("parses"), Some("kb-sched".to_owned()));
    assert_eq!(package_name("[workspace]\nmembers = [\"crates/*\"]\n").expect("parses"), None);
    let nameless = package_name("[package]\nversion = \"0.0.0\"\n").expect_err("a package needs a name");
    assert_eq!(nameless.to_string(), "its [package] has no name");
    assert!(package_name("[package\n").is_err());
}

#[test]
fn the_root_is_the_manifest_directory_or_the_directory_itself() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    assert_eq!(root(&manifest).expect("exists"), Path::new(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(root(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("exists"), Path::new(env!("CARGO_MANIFEST_DIR")));
    let absent = root(&manifest.with_file_name("Absent.toml")).expect_err("no such file");
    assert!(absent.to_string().starts_with("cannot read the workspace of "), "{absent}");
}

#[test]
fn relative_paths_use_slashes() {
    let root = Path::new("/work/ws");
    assert_eq!(
        relative(root, &root.join("crates").join("kb-sched").join("src/barrier.rs")),
        "crates/kb-sched/src/barrier.rs"
    );
}
