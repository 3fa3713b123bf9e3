//! Integration tests of `cargo xtask`: the binary run on the fixture workspaces in
//! `tests/fixtures/`, one file per behaviour, asserting its exact output and exit code.

mod barriers;
mod cli;
mod layers;

use std::path::PathBuf;
use std::process::Command;

/// What one run of the xtask binary printed, and how it exited.
#[derive(Debug)]
struct Run {
    /// The exit code.
    code: i32,
    /// Standard output, line by line.
    stdout: Vec<String>,
    /// Standard error, whole.
    stderr: String,
}

/// The root manifest of the fixture workspace `name`.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).join("Cargo.toml")
}

/// Runs the xtask binary with `args`.
fn xtask<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().expect("the xtask binary runs");
    Run {
        code: output.status.code().expect("xtask exits with a code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 output").lines().map(str::to_owned).collect(),
        stderr: String::from_utf8(output.stderr).expect("utf-8 output"),
    }
}

/// Runs `cargo xtask check-layers` on the fixture workspace `name`.
fn check_layers(name: &str) -> Run {
    xtask([PathBuf::from("check-layers"), PathBuf::from("--manifest-path"), fixture(name)])
}
