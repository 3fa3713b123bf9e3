//! The `kernbench` command line: its arguments (clap derive), the subcommands, and how their
//! outcomes become exit codes.
//!
//! - [`config`]: `kernbench config`, the effective machine config;
//! - [`gemm`]: `kernbench gemm`, one GEMM kernel launch, timed and checked;
//! - [`mlp`]: `kernbench mlp`, one forward of a tensor-parallel MLP block on T ranks, timed and
//!   checked;
//! - [`collective`]: `kernbench all-reduce`, `all-gather`, `reduce-scatter`, `broadcast`, `reduce`,
//!   `all-to-all`: sweeps of one collective over message sizes, in nccl-tests' format;
//! - [`size`]: the `4K`-style size parser every size flag uses;
//! - [`rng`]: the seeded generator of pseudo-random inputs;
//! - [`failure`]: why a command did not succeed, and its exit code;
//! - [`output`]: everything the binary prints (the one module allowed to).

pub(crate) mod collective;
pub(crate) mod config;
pub(crate) mod failure;
pub(crate) mod gemm;
pub(crate) mod mlp;
pub(crate) mod output;
pub(crate) mod rng;
pub(crate) mod size;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use kb_oplog::MachineSpec;

use collective::Collective;
pub(crate) use failure::{Classify, Failure};

/// kernbench: simulate AI-accelerator kernels and report their simulated time.
///
/// Exit codes: 0 success, 2 bad input, 1 failed check (or an internal error).
#[derive(Debug, Parser)]
#[command(name = "kernbench", version)]
pub(crate) struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// The job to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every subcommand takes, before or after its name.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Machine config TOML (keys it leaves out keep the embedded default's values).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Global options")]
    pub(crate) config: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table, help_heading = "Global options")]
    pub(crate) format: Format,
    /// Write a Chrome trace (Perfetto, chrome://tracing) of the simulated run to FILE.
    #[arg(long, global = true, value_name = "FILE", help_heading = "Global options")]
    pub(crate) trace: Option<PathBuf>,
}

impl GlobalArgs {
    /// The runtime mode of a subcommand: data unless `timing_only`; a timing-only run keeps its
    /// ops only when a trace is asked for (otherwise each op is forgotten once timed, so a
    /// thousand-rank sweep does not hold millions of ops).
    pub(crate) fn mode(&self, timing_only: bool) -> kb_oplog::Mode {
        match (timing_only, self.trace.is_some()) {
            (false, _) => kb_oplog::Mode::DATA,
            (true, true) => kb_oplog::Mode::TIMING,
            (true, false) => kb_oplog::Mode::TIMING_LEAN,
        }
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned, human-readable lines (for `config`: the TOML document).
    Table,
    /// One JSON object.
    Json,
    /// A header line and one row per result.
    Csv,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the effective machine config: TOML (`--format table`) or JSON with the same keys.
    Config,
    /// Run the GEMM kernel C = A·B once on device 0; report its simulated time, TFLOP/s, GEMM
    /// utilization and its error against a host reference.
    #[command(after_help = "Sizes take K, M or G suffixes (powers of 1024): --m 4K is 4096.")]
    Gemm(gemm::GemmArgs),
    /// Run one forward of a tensor-parallel MLP block, Y = gelu(X·W1 + b1)·W2 + b2, split over T
    /// ranks (Megatron's column- then row-parallel layers, one all-reduce); report its simulated
    /// time, split into compute and communication, TFLOP/s and rank 0's error against a host
    /// reference.
    #[command(after_help = "Sizes take K, M or G suffixes (powers of 1024): --hidden 4K is 4096.")]
    Mlp(mlp::MlpArgs),
    /// Sweep an all-reduce over message sizes on P ranks, like nccl-tests' all_reduce_perf:
    /// size = each rank's buffer; busbw = algbw × 2(P−1)/P.
    #[command(after_help = COLLECTIVE_HELP)]
    AllReduce(collective::CollectiveArgs),
    /// Sweep an all-gather over message sizes on P ranks, like nccl-tests' all_gather_perf:
    /// size = the gathered output (P × count per rank); busbw = algbw × (P−1)/P.
    #[command(after_help = COLLECTIVE_HELP)]
    AllGather(collective::CollectiveArgs),
    /// Sweep a reduce-scatter over message sizes on P ranks, like nccl-tests'
    /// reduce_scatter_perf: size = each rank's input (P × count per rank); busbw = algbw × (P−1)/P.
    #[command(after_help = COLLECTIVE_HELP)]
    ReduceScatter(collective::CollectiveArgs),
    /// Sweep a broadcast from --root over message sizes on P ranks, like nccl-tests'
    /// broadcast_perf: size = each rank's buffer; busbw = algbw.
    #[command(after_help = COLLECTIVE_HELP)]
    Broadcast(collective::CollectiveArgs),
    /// Sweep a reduce into --root over message sizes on P ranks, like nccl-tests' reduce_perf:
    /// size = each rank's buffer; busbw = algbw.
    #[command(after_help = COLLECTIVE_HELP)]
    Reduce(collective::CollectiveArgs),
    /// Sweep an all-to-all over message sizes on P ranks, like nccl-tests' alltoall_perf:
    /// size = each rank's buffer (P × count per peer); busbw = algbw × (P−1)/P.
    #[command(after_help = COLLECTIVE_HELP)]
    AllToAll(collective::CollectiveArgs),
}

/// The common help text of the collective subcommands.
const COLLECTIVE_HELP: &str = "Sizes take K, M or G suffixes (powers of 1024): -e 128M. The sweep runs from \
-b to -e, multiplying by -f. Each size is timed from the moment every rank's input is ready to the end of the \
last rank's share. Exit 1 when an element differs from the host reference (#wrong > 0).";

/// Runs the command `cli` asks for, printing its results.
pub(crate) fn run(cli: &Cli) -> Result<(), Failure> {
    let machine = load_machine(cli.global.config.as_deref())?;
    match &cli.command {
        Command::Config => config::run(&machine, &cli.global),
        Command::Gemm(args) => gemm::run(&machine, &cli.global, args),
        Command::Mlp(args) => mlp::run(&machine, &cli.global, args),
        Command::AllReduce(args) => collective::run(Collective::AllReduce, &machine, &cli.global, args),
        Command::AllGather(args) => collective::run(Collective::AllGather, &machine, &cli.global, args),
        Command::ReduceScatter(args) => collective::run(Collective::ReduceScatter, &machine, &cli.global, args),
        Command::Broadcast(args) => collective::run(Collective::Broadcast, &machine, &cli.global, args),
        Command::Reduce(args) => collective::run(Collective::Reduce, &machine, &cli.global, args),
        Command::AllToAll(args) => collective::run(Collective::AllToAll, &machine, &cli.global, args),
    }
}

/// The machine of `--config FILE`, or the embedded default.
fn load_machine(path: Option<&Path>) -> Result<MachineSpec, Failure> {
    match path {
        Some(path) => MachineSpec::from_file(path).bad_input(),
        None => Ok(MachineSpec::default()),
    }
}

#[cfg(test)]
mod tests {
    use kb_oplog::Mode;

    use super::*;

    #[test]
    fn a_timing_only_run_keeps_its_ops_only_for_a_trace() {
        let args =
            |trace: Option<&str>| GlobalArgs { config: None, format: Format::Table, trace: trace.map(PathBuf::from) };
        assert_eq!(args(None).mode(false), Mode::DATA);
        assert_eq!(args(Some("t.json")).mode(false), Mode::DATA);
        assert_eq!(args(Some("t.json")).mode(true), Mode::TIMING);
        assert_eq!(args(None).mode(true), Mode::TIMING_LEAN);
    }
}
