//! The files `check-barriers` reads: the workspace root, its crates (`crates/*` with a `Cargo.toml`
//! naming a package), and the Rust files under a crate's directories, in a fixed order.
//!
//! No `cargo metadata`: the check reads only `crates/*/…` paths, so a fixture tree needs no working
//! workspace, and the check needs neither cargo nor the network.

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One crate of the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crate {
    /// Its package name.
    pub(crate) name: String,
    /// Its directory.
    pub(crate) dir: PathBuf,
}

/// The workspace root: `manifest_path` itself if it is a directory, else the directory holding it.
pub(crate) fn root(manifest_path: &Path) -> anyhow::Result<PathBuf> {
    if manifest_path.is_dir() {
        return Ok(manifest_path.to_owned());
    }
    if !manifest_path.is_file() {
        bail!("cannot read the workspace of {}: no such file or directory", manifest_path.display());
    }
    Ok(manifest_path.parent().map_or_else(|| PathBuf::from("."), Path::to_owned))
}

/// Every crate under `root/crates`, sorted by directory: each directory with a `Cargo.toml` that has a
/// `[package]` name. Other directories and files there are not crates and are skipped.
pub(crate) fn crates(root: &Path) -> anyhow::Result<Vec<Crate>> {
    let crates_dir = root.join("crates");
    let mut crates = Vec::new();
    for dir in sorted_entries(&crates_dir)? {
        let manifest = dir.join("Cargo.toml");
        if !dir.is_dir() || !manifest.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
        if let Some(name) = package_name(&text).with_context(|| format!("cannot parse {}", manifest.display()))? {
            crates.push(Crate { name, dir });
        }
    }
    Ok(crates)
}

/// The `[package] name` in the manifest `text`, or `None` for a manifest without a package.
pub(crate) fn package_name(text: &str) -> anyhow::Result<Option<String>> {
    let manifest: toml::Table = toml::from_str(text)?;
    let Some(package) = manifest.get("package") else { return Ok(None) };
    match package.get("name").and_then(toml::Value::as_str) {
        Some(name) => Ok(Some(name.to_owned())),
        None => bail!("its [package] has no name"),
    }
}

/// Every `.rs` file under `dir`, recursively, sorted by path; none if `dir` does not exist.
pub(crate) fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if dir.is_dir() {
        collect(dir, &mut files)?;
    }
    files.sort();
    Ok(files)
}

/// Adds the `.rs` files under `dir` to `files`.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|extension| extension == "rs") && path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// The entries of `dir`, sorted.
fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.map(|entry| entry.map(|entry| entry.path())).collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

/// `path` relative to `root`, with `/` separators, as diagnostics print it.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|component| component.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}
