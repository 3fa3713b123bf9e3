//! `check-layers`: every workspace crate depends only on what its row of the layer table allows.
//!
//! The table lives in `ARCHITECTURE.md` (see [`table`]). The workspace comes from
//! `cargo metadata --no-deps --offline`. For each workspace crate, every normal and build dependency
//! (dev-dependencies are free) that is itself a workspace crate must be in the row's "may depend on",
//! and every other one in its "may use". Checked both ways: a crate without a row fails, and so does a
//! row for a crate that is not in the workspace.

mod manifest;
mod table;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{Context, ensure};
use cargo_metadata::{Dependency, DependencyKind, MetadataCommand};

use crate::diagnostic::{Diagnostic, Outcome};
use table::{Row, TABLE_FILE};

/// How to fix a dependency the layer table does not allow.
const DEPENDENCY_FIX: &str = "remove the dependency or change the layer table in ARCHITECTURE.md";

/// What a scan of one workspace found.
#[derive(Debug)]
pub(crate) struct Report {
    /// Every finding, unsorted.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// How many workspace crates were scanned.
    pub(crate) crates: usize,
    /// How many normal and build dependencies were checked against the table.
    pub(crate) dependencies: usize,
}

/// Runs `check-layers` on the workspace whose root manifest is `manifest_path`.
pub(crate) fn check(manifest_path: &Path) -> anyhow::Result<Outcome> {
    let report = scan(manifest_path)?;
    let checked = format!("{} crates, {} dependencies checked", report.crates, report.dependencies);
    Ok(Outcome::new(report.diagnostics, checked))
}

/// Compares the workspace at `manifest_path` with its layer table.
///
/// Fails (rather than reporting) only when the workspace or a file cannot be read, or when the
/// workspace has no package, so a broken setup never passes by scanning nothing.
pub(crate) fn scan(manifest_path: &Path) -> anyhow::Result<Report> {
    let metadata = MetadataCommand::new()
        .manifest_path(manifest_path)
        .no_deps()
        .other_options(vec!["--offline".to_owned()])
        .exec()
        .with_context(|| format!("cannot read the workspace of {}", manifest_path.display()))?;
    let root = &metadata.workspace_root;
    let table_path = root.join(TABLE_FILE);
    let table_text =
        fs::read_to_string(&table_path).with_context(|| format!("cannot read the layer table in {table_path}"))?;
    let (table, mut diagnostics) = table::parse(&table_text);

    let mut packages = metadata.workspace_packages();
    ensure!(!packages.is_empty(), "cargo metadata lists no workspace package under {root}");
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let members: BTreeSet<&str> = packages.iter().map(|package| package.name.as_str()).collect();

    for row in &table.rows {
        if !members.contains(row.name.as_str()) {
            let message = format!(
                "the layer table has a row for {}, which is not a workspace crate — remove the stale row \
                 or add the crate to the workspace",
                row.name
            );
            diagnostics.push(Diagnostic::new(TABLE_FILE, row.line, message));
        }
    }

    let mut dependencies = 0;
    for package in &packages {
        let manifest = package.manifest_path.strip_prefix(root).unwrap_or(&package.manifest_path).to_string();
        let Some(row) = table.row(&package.name) else {
            let message = format!(
                "{} has no row in the layer table — add a row for {} to the layer table in ARCHITECTURE.md",
                package.name, package.name
            );
            diagnostics.push(Diagnostic::new(manifest, 1, message));
            continue;
        };
        let mut manifest_text = None;
        for dependency in &package.dependencies {
            if !matches!(dependency.kind, DependencyKind::Normal | DependencyKind::Build) {
                continue;
            }
            dependencies += 1;
            let internal = members.contains(dependency.name.as_str());
            let Some(problem) = disallowed(row, dependency, internal) else { continue };
            let text = match &manifest_text {
                Some(text) => text,
                None => manifest_text.insert(
                    fs::read_to_string(&package.manifest_path)
                        .with_context(|| format!("cannot read {}", package.manifest_path))?,
                ),
            };
            let key = dependency.rename.as_deref().unwrap_or(&dependency.name);
            let target = dependency.target.as_ref().map(ToString::to_string);
            let line = manifest::dependency_line(text, key, dependency.kind, target.as_deref()).unwrap_or(1);
            diagnostics.push(Diagnostic::new(manifest.clone(), line, problem));
        }
    }
    Ok(Report { diagnostics, crates: packages.len(), dependencies })
}

/// Why `row` may not have `dependency` (a workspace crate if `internal`), or `None` if it may.
fn disallowed(row: &Row, dependency: &Dependency, internal: bool) -> Option<String> {
    let (allowed, verb, column) =
        if internal { (&row.may_depend_on, "depends on", "may depend on") } else { (&row.may_use, "uses", "may use") };
    if allowed.contains(&dependency.name) {
        return None;
    }
    let renamed = match &dependency.rename {
        Some(rename) => format!(" (renamed {rename})"),
        None => String::new(),
    };
    let listed = if allowed.is_empty() { "—".to_owned() } else { allowed.join(", ") };
    Some(format!(
        "{} {verb} {}{renamed}, which is not in its layer row ({column}: {listed}) — {DEPENDENCY_FIX}",
        row.name, dependency.name
    ))
}

#[cfg(test)]
mod tests {
    use super::scan;

    /// The check itself, on this repository: `cargo test --workspace` enforces the layer table.
    #[test]
    fn the_real_tree_follows_its_layer_table() {
        let report = scan(&crate::workspace_manifest()).expect("the workspace can be scanned");
        let found: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(found, Vec::<String>::new(), "cargo xtask check-layers must pass on this tree");
        assert!(report.crates >= 2, "expected kb-mem and xtask at least, scanned {} crates", report.crates);
        assert!(report.dependencies >= 2, "scanned only {} dependencies", report.dependencies);
    }
}
