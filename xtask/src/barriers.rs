//! `check-barriers`: every host read of device data passes the host-read barrier, and the set of host
//! reads is closed and written down (`DESIGN.md`, "Host-read barriers (a closed set)").
//!
//! # The contract kb-sched follows
//!
//! - **The registry** is one constant at the top level of `crates/kb-sched/src/barrier.rs`:
//!
//!   ```rust,ignore
//!   pub(crate) const HOST_READ_REGISTRY: &[&str] = &[
//!       "Tensor::to_vec",
//!       "Tensor::to_ndarray",
//!       "Tensor::get",
//!       "Tensor::fmt", // the Debug and Display impls of Tensor both count as Tensor::fmt
//!       "Tensor::copy_from",
//!       "Tensor::to_npy",
//!   ];
//!   ```
//!
//!   Each entry is a string literal, `Type::method` (`Type` is the last path segment of the `impl`
//!   block's self type, trait impls included; an entry covers every impl of that name, such as both
//!   `Debug::fmt` and `Display::fmt`) or the bare name of a free function. The list is parsed, never
//!   assumed; an entry that is not a literal, not of that form, or listed twice is reported.
//! - **The barrier** is a call of a function or method named `host_read_barrier`
//!   (`self.host_read_barrier()?`, `barrier::host_read_barrier(&ctx, …)`).
//! - **Tensor storage** is read only through a function or method named `read_storage`, defined in
//!   `barrier.rs` (that definition is exempt; its absence is reported).
//! - **Readers are registered.** Every other function or method in `crates/kb-sched/src/**/*.rs`
//!   whose body uses `read_storage` must be a registry entry (`Type::method`; a free function by its
//!   bare name).
//! - **Entries exist and take the barrier.** Every entry names at least one function in kb-sched's
//!   `src` (else it is stale, reported at its line), and every function it names calls
//!   `host_read_barrier` before its first use of `read_storage`, by source position — also when it
//!   does not read storage itself (`to_ndarray` reading through `to_vec` still takes the barrier).
//! - **Nothing else reads device memory.** In every other crate (`crates/*/{src,tests,benches,
//!   examples}`, except `kb-mem` and `kb-oplog`, which sit below the runtime and own the store), and
//!   in kb-sched's own `tests`, `benches` and `examples`, any use of `read_storage` or of the memory
//!   store's reads (`read_region`, `read_region_into`, `read_region_as`, `read_region_f32`,
//!   `read_slice`, `read_bytes`) is reported. Within kb-sched's `src`, the store's reads may be used
//!   only in `barrier.rs`.
//! - **The scan finds what it looks for.** kb-sched must hold the registry, at least one call of
//!   `host_read_barrier` and at least one function using `read_storage`, so the check cannot pass by
//!   reading nothing. A workspace without a `kb-sched` package (kb-sched not written yet) is skipped,
//!   and says so; once the package exists, a missing registry is a finding.
//!
//! # How it reads
//!
//! The workspace root is the directory of the manifest path given (a directory may be given instead),
//! and no `cargo metadata` is run: crates are the directories `crates/*` whose `Cargo.toml` has a
//! `[package]`, and the one named `kb-sched` is the runtime. Every `.rs` file is parsed with `syn`
//! ([`source`]); a file that does not parse is a finding, never skipped. A "use" is a call (method or
//! path) or a path naming the function (`.map(MemoryStore::read_region)`); for the barrier only calls
//! count. Names are matched by their last segment, whatever the receiver's type. Code under
//! `#[cfg(test)]` in kb-sched's `src` follows the same rules as the rest: a test reads through a
//! registered host read too. The order "barrier before read" is source order, not control flow: a
//! barrier in one branch of an `if` counts for a read after the `if`. Macro bodies are read when they
//! parse as comma-separated expressions (`write!`, `format!`, `assert!`); a call inside any other
//! macro body goes unseen.
//!
//! Findings are `path:line: message — how to fix`; findings about the runtime as a whole (no barrier
//! call, no reader) point at the registry. On success it prints
//! `check-barriers: 6 registry entries, 9 barrier calls, 31 files scanned, ok`.

mod registry;
mod source;
mod workspace;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::Context;

use crate::diagnostic::{Diagnostic, Outcome};
use registry::Registry;
use source::{Function, Use};

/// The package of the runtime, which owns the registry.
const RUNTIME: &str = "kb-sched";
/// The packages below the runtime, which own the memory store and may read it.
const BELOW_RUNTIME: &[&str] = &["kb-mem", "kb-oplog"];
/// The registry's file, relative to the runtime's directory.
const REGISTRY_FILE: &str = "src/barrier.rs";
/// The barrier.
const BARRIER: &str = "host_read_barrier";
/// The one reader of tensor storage.
const READ_STORAGE: &str = "read_storage";
/// Every name the scan looks for: the barrier, the storage reader, and the memory store's reads.
const WATCHED: &[&str] = &[
    BARRIER,
    READ_STORAGE,
    "read_region",
    "read_region_into",
    "read_region_as",
    "read_region_f32",
    "read_slice",
    "read_bytes",
];
/// The directories of another crate that are scanned for direct reads.
const OTHER_CRATE_DIRS: &[&str] = &["src", "tests", "benches", "examples"];
/// The directories of the runtime, outside its `src`, that are scanned for direct reads.
const RUNTIME_OUTSIDE_DIRS: &[&str] = &["tests", "benches", "examples"];

/// What `check-barriers` found.
#[derive(Debug)]
pub(crate) enum Scan {
    /// The workspace has no kb-sched package yet: nothing to check.
    NoRuntime,
    /// The runtime was scanned.
    Scanned(Report),
}

/// What a scan of a workspace with kb-sched found.
#[derive(Debug)]
pub(crate) struct Report {
    /// Every finding, unsorted.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// How many well-formed registry entries there are.
    pub(crate) entries: usize,
    /// How many calls of `host_read_barrier` kb-sched's `src` makes.
    pub(crate) barriers: usize,
    /// How many Rust files were read.
    pub(crate) files: usize,
}

/// Runs `check-barriers` on the workspace whose root manifest (or root directory) is `manifest_path`.
pub(crate) fn check(manifest_path: &Path) -> anyhow::Result<Outcome> {
    Ok(match scan(manifest_path)? {
        Scan::NoRuntime => Outcome::new(Vec::new(), format!("no {RUNTIME} crate yet, skipped")),
        Scan::Scanned(report) => {
            let checked = format!(
                "{}, {}, {} scanned",
                counted(report.entries, "registry entry", "registry entries"),
                counted(report.barriers, "barrier call", "barrier calls"),
                counted(report.files, "file", "files"),
            );
            Outcome::new(report.diagnostics, checked)
        }
    })
}

/// `count` and the noun in the right number.
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Scans the workspace whose root manifest (or root directory) is `manifest_path`.
///
/// Fails (rather than reporting) only when the workspace's crates or files cannot be read.
pub(crate) fn scan(manifest_path: &Path) -> anyhow::Result<Scan> {
    let root = workspace::root(manifest_path)?;
    let crates = workspace::crates(&root)?;
    let Some(runtime) = crates.iter().find(|krate| krate.name == RUNTIME) else { return Ok(Scan::NoRuntime) };
    let allowlist = Allowlist::read(&root)?;
    let allowed = allowlist.entries.iter().map(|(path, _)| (path.clone(), false)).collect();
    let mut scanner = Scanner { root: &root, diagnostics: Vec::new(), files: 0, allowed };
    let runtime = Runtime::read(&mut scanner, &runtime.dir)?;
    let barriers = runtime.check(&mut scanner.diagnostics);
    if let Some(registry) = &runtime.registry {
        runtime.check_registry(registry, &mut scanner.diagnostics);
    }
    for krate in &crates {
        let dirs = if krate.name == RUNTIME {
            RUNTIME_OUTSIDE_DIRS
        } else if BELOW_RUNTIME.contains(&krate.name.as_str()) {
            continue;
        } else {
            OTHER_CRATE_DIRS
        };
        for dir in dirs {
            for path in workspace::rust_files(&krate.dir.join(dir))? {
                scanner.check_outside(&path)?;
            }
        }
    }
    for ((path, used), (_, line)) in scanner.allowed.iter().zip(&allowlist.entries) {
        if !used {
            let message =
                format!("allowlist entry `{path}` makes no direct read of device memory — remove the stale entry");
            scanner.diagnostics.push(Diagnostic::new(ALLOWLIST, *line, message));
        }
    }
    let entries = runtime.registry.as_ref().map_or(0, |registry| registry.entries.len());
    Ok(Scan::Scanned(Report { diagnostics: scanner.diagnostics, entries, barriers, files: scanner.files }))
}

/// kb-sched's `src`, read.
#[derive(Debug)]
struct Runtime {
    /// Every file of `src` that parses.
    files: Vec<ScannedFile>,
    /// The registry, if `barrier.rs` parses and defines it.
    registry: Option<Registry>,
    /// The path of `barrier.rs`, relative to the workspace root.
    registry_file: String,
    /// The path of `src`, relative to the workspace root.
    src_dir: String,
}

impl Runtime {
    /// Reads the `src` of the runtime crate in `dir`; reports a missing registry.
    fn read(scanner: &mut Scanner<'_>, dir: &Path) -> anyhow::Result<Self> {
        let registry_path = dir.join(REGISTRY_FILE);
        let registry_file = workspace::relative(scanner.root, &registry_path);
        let src = dir.join("src");
        let src_dir = workspace::relative(scanner.root, &src);
        let mut files = Vec::new();
        let mut registry = None;
        // A barrier.rs that does not parse is reported as such, not also as lacking the registry.
        let mut registry_unreadable = false;
        for path in workspace::rust_files(&src)? {
            let in_barrier_file = path == registry_path;
            let Some((file, text, uses)) = scanner.read(&path)? else {
                registry_unreadable |= in_barrier_file;
                continue;
            };
            if in_barrier_file {
                registry = registry::find(&file, &text);
            }
            files.push(ScannedFile { path: workspace::relative(scanner.root, &path), in_barrier_file, uses });
        }
        if registry.is_none() && !registry_unreadable {
            let message = format!(
                "no host-read registry found in {registry_file} — define `pub(crate) const {}: &[&str] = \
                 &[\"Type::method\", …];` there, one entry per host read",
                registry::NAME
            );
            scanner.diagnostics.push(Diagnostic::new(&registry_file, 1, message));
        }
        Ok(Self { files, registry, registry_file, src_dir })
    }

    /// Checks everything but the registry's entries: that the scan found barriers, storage reads and
    /// `read_storage` itself, that every reader is registered, and that only `barrier.rs` reads the
    /// store. Returns how many barrier calls there are.
    fn check(&self, diagnostics: &mut Vec<Diagnostic>) -> usize {
        let Self { files, registry, registry_file, src_dir } = self;
        // Where findings about the runtime as a whole go: the registry, or the top of its file.
        let anchor = registry.as_ref().map_or(1, |registry| registry.line);

        let barriers = files
            .iter()
            .flat_map(ScannedFile::all_uses)
            .filter(|(_, found)| found.name == BARRIER && found.called)
            .count();
        if barriers == 0 {
            let message = format!(
                "no call of {BARRIER} found in {src_dir} — every host read in the registry must call {BARRIER} \
                 before it reads"
            );
            diagnostics.push(Diagnostic::new(registry_file, anchor, message));
        }

        let barrier_file = files.iter().find(|file| file.in_barrier_file);
        if let Some(file) = barrier_file
            && !file.uses.functions.iter().any(|function| function.name == READ_STORAGE)
        {
            let message = format!(
                "no {READ_STORAGE} function found in {registry_file} — define {READ_STORAGE} there; it is the \
                 only reader of tensor storage"
            );
            diagnostics.push(Diagnostic::new(registry_file, 1, message));
        }

        let registered: BTreeSet<&str> =
            registry.iter().flat_map(|registry| registry.entries.iter().map(|entry| entry.name.as_str())).collect();
        let mut readers = 0;
        for file in files {
            for function in &file.uses.functions {
                let exempt = file.in_barrier_file && function.name == READ_STORAGE;
                if exempt || !function.uses.iter().any(|found| found.name == READ_STORAGE) {
                    continue;
                }
                readers += 1;
                if registry.is_some() && !registered.contains(function.key.as_str()) {
                    let message = format!(
                        "`{}` reads tensor storage but is not in the host-read registry — register it in {} \
                         ({registry_file}) and call {BARRIER} first",
                        function.key,
                        registry::NAME
                    );
                    diagnostics.push(Diagnostic::new(&file.path, function.line, message));
                }
            }
            for (function, found) in file.all_uses() {
                let message = match found.name {
                    READ_STORAGE if function.is_none() => format!(
                        "{READ_STORAGE} is used outside any function — use it only in a host read of the registry"
                    ),
                    BARRIER | READ_STORAGE => continue,
                    _ if file.in_barrier_file => continue,
                    store_read => format!(
                        "{} {} `{store_read}` outside barrier.rs — within {RUNTIME} only barrier.rs reads the \
                         memory store; read tensor storage through {READ_STORAGE} in a registered host read",
                        who(function),
                        verb(found),
                    ),
                };
                diagnostics.push(Diagnostic::new(&file.path, found.line, message));
            }
        }
        if readers == 0 {
            let message = format!(
                "no function in {src_dir} uses {READ_STORAGE} — read tensor storage only through \
                 {READ_STORAGE}, from the host reads in the registry"
            );
            diagnostics.push(Diagnostic::new(registry_file, anchor, message));
        }
        barriers
    }

    /// Checks the registry: its shape, that every entry names a function, and that every function it
    /// names calls the barrier before its first storage read.
    fn check_registry(&self, registry: &Registry, diagnostics: &mut Vec<Diagnostic>) {
        for (line, message) in &registry.problems {
            diagnostics.push(Diagnostic::new(&self.registry_file, *line, message.clone()));
        }
        for entry in &registry.entries {
            let mut named = false;
            for file in &self.files {
                for function in file.uses.functions.iter().filter(|function| function.key == entry.name) {
                    named = true;
                    let barrier = function.uses.iter().find(|found| found.name == BARRIER && found.called);
                    let read = function.uses.iter().find(|found| found.name == READ_STORAGE);
                    let line = match (barrier, read) {
                        (None, _) => function.line,
                        (Some(barrier), Some(read)) if read.offset < barrier.offset => read.line,
                        _ => continue,
                    };
                    let message = format!(
                        "`{}` is in the host-read registry but does not call {BARRIER} before reading — call \
                         {BARRIER} at the start of `{}`, before it reads",
                        entry.name, entry.name
                    );
                    diagnostics.push(Diagnostic::new(&file.path, line, message));
                }
            }
            if !named {
                let message =
                    format!("registry entry `{}` names no method in {RUNTIME} — remove the stale entry", entry.name);
                diagnostics.push(Diagnostic::new(&self.registry_file, entry.line, message));
            }
        }
    }
}

/// How a finding names the code holding a use: the function's key, or none.
fn who(function: Option<&Function>) -> String {
    match function {
        Some(function) => format!("`{}`", function.key),
        None => "code outside any function".to_owned(),
    }
}

/// "calls" or "uses", for a use that calls or only names.
fn verb(found: &Use) -> &'static str {
    if found.called { "calls" } else { "uses" }
}

/// Reads and parses files, counting them and reporting those that do not parse.
struct Scanner<'a> {
    /// The workspace root.
    root: &'a Path,
    /// The findings so far.
    diagnostics: Vec<Diagnostic>,
    /// How many files were read.
    files: usize,
    /// The allowlisted files (see [`ALLOWLIST`]) and whether each made a direct read.
    allowed: Vec<(String, bool)>,
}

/// The file listing files outside the runtime that may read a memory store directly, relative
/// to the workspace root: `path — reason` per line, `#` comments. A workspace without it allows
/// none.
const ALLOWLIST: &str = "xtask/direct-read-allowlist.txt";

/// The entries of [`ALLOWLIST`]: path and 1-based line.
struct Allowlist {
    entries: Vec<(String, usize)>,
}

impl Allowlist {
    fn read(root: &Path) -> anyhow::Result<Allowlist> {
        let path = root.join(ALLOWLIST);
        if !path.exists() {
            return Ok(Allowlist { entries: Vec::new() });
        }
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| (l.split(" — ").next().unwrap_or(l).trim().to_string(), i + 1))
            .collect();
        Ok(Allowlist { entries })
    }
}

impl Scanner<'_> {
    /// Reads and parses `path`: its syntax, text and uses, or `None` (with a finding) if it does not parse.
    fn read(&mut self, path: &Path) -> anyhow::Result<Option<(syn::File, String, source::Uses)>> {
        let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        self.files += 1;
        match source::parse(&text) {
            Ok(file) => {
                let uses = source::uses(&file, &text, WATCHED);
                Ok(Some((file, text, uses)))
            }
            Err(error) => {
                let message = format!(
                    "cannot be parsed as Rust ({}) — fix the syntax; check-barriers must read every file it scans",
                    error.message
                );
                self.diagnostics.push(Diagnostic::new(workspace::relative(self.root, path), error.line, message));
                Ok(None)
            }
        }
    }

    /// Reports every direct read of device memory in `path`, a file outside kb-sched's `src`.
    fn check_outside(&mut self, path: &Path) -> anyhow::Result<()> {
        let Some((_, _, uses)) = self.read(path)? else { return Ok(()) };
        let file = ScannedFile { path: workspace::relative(self.root, path), in_barrier_file: false, uses };
        let allowed = self.allowed.iter().position(|(p, _)| Path::new(p) == Path::new(&file.path));
        for (function, found) in file.all_uses() {
            if found.name != BARRIER
                && let Some(entry) = allowed
            {
                self.allowed[entry].1 = true;
            } else if found.name != BARRIER {
                let message = format!(
                    "{} {} `{}` and so reads device memory directly — go through a Tensor host read \
                     (to_vec, to_ndarray, get) so the host-read barrier runs",
                    who(function),
                    verb(found),
                    found.name
                );
                self.diagnostics.push(Diagnostic::new(&file.path, found.line, message));
            }
        }
        Ok(())
    }
}

/// One parsed file and what it uses.
#[derive(Debug)]
struct ScannedFile {
    /// Its path, relative to the workspace root.
    path: String,
    /// Whether it is the runtime's `barrier.rs`.
    in_barrier_file: bool,
    /// What it uses.
    uses: source::Uses,
}

impl ScannedFile {
    /// Every use in the file, with the function holding it (`None` outside every function).
    fn all_uses(&self) -> impl Iterator<Item = (Option<&Function>, &Use)> {
        let owned = self
            .uses
            .functions
            .iter()
            .flat_map(|function| function.uses.iter().map(move |found| (Some(function), found)));
        owned.chain(self.uses.loose.iter().map(|found| (None, found)))
    }
}

#[cfg(test)]
mod tests {
    use super::{Scan, scan};

    /// The check itself, on this repository: `cargo test --workspace` enforces the host-read barrier.
    #[test]
    fn the_real_tree_passes_every_host_read_through_the_barrier() {
        let Scan::Scanned(report) = scan(&crate::workspace_manifest()).expect("the workspace can be scanned") else {
            panic!("the workspace has no kb-sched crate");
        };
        let found: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(found, Vec::<String>::new(), "cargo xtask check-barriers must pass on this tree");
        assert!(report.entries >= 1, "found no registry entry");
        assert!(report.barriers >= 1, "found no call of host_read_barrier");
        assert!(report.files >= 2, "scanned only {} files", report.files);
    }
}
