//! Integration tests of the `kernbench` binary, one file per behaviour: each runs the built command
//! and reads what it prints and writes.

mod collective;
mod config;
mod errors;
mod gemm;
mod machine;
mod mlp;
mod npy_files;
mod trace;

use std::path::PathBuf;
use std::process::Command;

/// What one run of `kernbench` did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code.
    pub(crate) code: i32,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

/// Runs `kernbench` with `args`.
pub(crate) fn kernbench(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kernbench")).args(args).output().expect("the kernbench binary runs");
    Run {
        code: out.status.code().expect("kernbench exits, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `kernbench gemm <args> --format json`, asserts it succeeded, and returns the JSON.
pub(crate) fn gemm_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["gemm", "--format", "json"];
    all.extend_from_slice(args);
    let run = kernbench(&all);
    assert_eq!(run.code, 0, "kernbench {all:?} failed: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

/// Asserts that `run` was refused as bad input: exit 2, nothing on standard output, and one line
/// `kernbench: error: …` on standard error containing `needle`.
pub(crate) fn assert_bad_input(run: &Run, needle: &str) {
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    let line = run.stderr.strip_suffix('\n').unwrap_or_else(|| panic!("stderr ends with a newline: {run:?}"));
    assert!(!line.contains('\n'), "the error is one line: {run:?}");
    assert!(line.starts_with("kernbench: error: "), "{run:?}");
    assert!(line.contains(needle), "expected {needle:?} in {line:?}");
}

/// A fresh, empty directory for one test's files.
pub(crate) fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernbench-it").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir
}

/// `path` as a `&str` argument.
pub(crate) fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// `a · b` for row-major `a` [m, k] and `b` [k, n], in f64 plain loops: the tests' reference.
pub(crate) fn reference(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for kk in 0..k {
                c[i * n + j] += f64::from(a[i * k + kk]) * f64::from(b[kk * n + j]);
            }
        }
    }
    c
}
