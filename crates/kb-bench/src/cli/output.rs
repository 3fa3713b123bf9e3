//! Everything `kernbench` prints: results on standard output, the one-line error and sweeps'
//! progress bars on standard error. Commands render their results to strings (so tests can read them) and print here.

// The one module of the command line that prints; everything else returns strings or failures.
#![allow(clippy::print_stderr)]

use std::io::{ErrorKind, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Failure;

/// Prints `text` to standard output as is (it carries its own final newline). A closed pipe
/// (`kernbench config | head -1`) is not an error: the reader has what it wanted.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(Failure::Internal(anyhow::Error::new(e).context("cannot write to standard output")))
        }
        _ => Ok(()),
    }
}

/// Prints the failure as `kernbench: error: <message>` on one line of standard error.
pub(crate) fn report_failure(failure: &Failure) {
    eprintln!("kernbench: error: {}", failure.one_line());
}

/// A progress bar of `steps` steps on standard error, for a sweep of more than one step — when
/// standard error is a terminal; `None` otherwise (pipes and files get no bar).
pub(crate) fn progress(steps: usize) -> Option<ProgressBar> {
    if steps < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} sizes, at {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    Some(bar)
}

/// `value` as pretty JSON ending with a newline. Reports are plain structs of numbers, strings and
/// options, which serialize without error.
pub(crate) fn json_text(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string_pretty(value).unwrap_or_else(|e| unreachable!("plain fields: {e}"));
    format!("{json}\n")
}

/// A report's `key value` table, one row per line, keys padded to 12 columns.
pub(crate) fn key_value_table(rows: &[(&str, String)]) -> String {
    rows.iter().map(|(key, value)| format!("{key:<12} {value}\n")).collect()
}

/// The `max_abs_err` cell of a checked report: the error and its tolerance, or `-` when nothing
/// was checked.
pub(crate) fn error_cell(max_abs_err: Option<f64>, tolerance: Option<f64>) -> String {
    match (max_abs_err, tolerance) {
        (Some(err), Some(tol)) => format!("{err:.3e} (tolerance {tol:.3e})"),
        _ => "-".to_string(),
    }
}
