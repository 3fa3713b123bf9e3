//! Everything `kernbench` prints: results on standard output, the one-line error on standard
//! error. Commands render their results to strings (so tests can read them) and print here.

// The one module of the command line that prints; everything else returns strings or failures.
#![allow(clippy::print_stderr)]

use std::io::{ErrorKind, Write};

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
