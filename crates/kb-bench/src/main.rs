//! `kernbench`: the command line of the kernbench simulator.
//!
//! One subcommand per job (`kernbench config`, `kernbench gemm`, `kernbench all-reduce`, …), global flags `--config FILE`,
//! `--format table|json|csv` and `--trace FILE`. Exit code 0 on success, 2 on bad input (usage
//! errors included), 1 on a failed check or an internal error. Every figure it prints comes from
//! kb-sched and kb-oplog; the command line only asks and reports. See [`cli`].

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit 2 (and `--help`/`--version` exit 0) inside clap.
    let args = cli::Cli::parse();
    match cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            cli::output::report_failure(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}
