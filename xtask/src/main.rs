//! `cargo xtask`: the workspace's own checks, run from the command line and, through `#[test]`s on
//! the real tree, by `cargo test --workspace`.
//!
//! Each check is one module returning an [`Outcome`]: its sorted diagnostics, printed one per line as
//! `path:line: message — how to fix` (exit code 1), or a one-line summary when it passes.

// A command-line tool: its findings go to standard output and its errors to standard error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod barriers;
mod diagnostic;
mod layers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use diagnostic::Outcome;

/// One workspace check, run as `cargo xtask <name>`.
#[derive(Debug)]
struct Check {
    /// The subcommand running it.
    name: &'static str,
    /// What it checks, for `--help`.
    about: &'static str,
    /// Runs it on the workspace whose root manifest is given.
    run: fn(&Path) -> anyhow::Result<Outcome>,
}

/// Every check, in the order `cargo xtask check` runs them.
const CHECKS: &[Check] = &[
    Check {
        name: "check-layers",
        about: "every crate depends only on what its row of the layer table in ARCHITECTURE.md allows",
        run: layers::check,
    },
    Check {
        name: "check-barriers",
        about: "every host read of device data is in kb-sched's host-read registry and calls the barrier first",
        run: barriers::check,
    },
];

/// The root `Cargo.toml` of this repository's workspace.
fn workspace_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml")
}

/// Checks to run, and the workspace to run them on.
#[derive(Debug)]
struct Command {
    /// The checks to run.
    checks: Vec<&'static Check>,
    /// The root manifest of the workspace to check.
    manifest_path: PathBuf,
}

/// What the command line asks for: checks to run, or the usage text.
#[derive(Debug)]
enum Request {
    /// Run these checks.
    Run(Command),
    /// Print the usage text.
    Help,
}

/// Parses the arguments after `cargo xtask`, or says what is wrong with them.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Request, String> {
    let mut subcommand = None;
    let mut manifest_path = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(Request::Help),
            "--manifest-path" => {
                let path = args.next().ok_or("`--manifest-path` needs a path")?;
                manifest_path = Some(PathBuf::from(path));
            }
            _ if arg.starts_with("--manifest-path=") => {
                manifest_path = Some(PathBuf::from(&arg["--manifest-path=".len()..]));
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option `{arg}`")),
            _ if subcommand.is_some() => return Err(format!("unexpected argument `{arg}`")),
            _ => subcommand = Some(arg),
        }
    }
    let checks = match subcommand.as_deref() {
        None | Some("check") => CHECKS.iter().collect(),
        Some(name) => match CHECKS.iter().find(|check| check.name == name) {
            Some(check) => vec![check],
            None => return Err(format!("unknown command `{name}`")),
        },
    };
    Ok(Request::Run(Command { checks, manifest_path: manifest_path.unwrap_or_else(workspace_manifest) }))
}

/// The usage text.
fn usage() -> String {
    let mut text = String::from(
        "usage: cargo xtask [COMMAND] [--manifest-path PATH]\n\n\
         commands:\n  check            run every check (the default)\n",
    );
    for check in CHECKS {
        text += &format!("  {:<16} {}\n", check.name, check.about);
    }
    text += "\noptions:\n  --manifest-path PATH  the workspace's root Cargo.toml (default: this repository's)\n";
    text
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(Request::Run(command)) => command,
        Ok(Request::Help) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprint!("error: {problem}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for check in &command.checks {
        match (check.run)(&command.manifest_path) {
            Ok(outcome) if outcome.diagnostics.is_empty() => println!("{}: {}, ok", check.name, outcome.checked),
            Ok(outcome) => {
                for diagnostic in &outcome.diagnostics {
                    println!("{diagnostic}");
                }
                let count = outcome.diagnostics.len();
                let plural = if count == 1 { "" } else { "s" };
                eprintln!("{}: failed, {count} finding{plural}", check.name);
                failed = true;
            }
            Err(error) => {
                eprintln!("{}: error: {error:#}", check.name);
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
