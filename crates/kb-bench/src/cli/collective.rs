//! `kernbench all-reduce`, `all-gather`, `reduce-scatter`, `broadcast`, `reduce` and `all-to-all`:
//! sweeps of one kb-ccl collective over message sizes, with nccl-tests' flags, columns and bandwidth
//! definitions.
//!
//! # Sizes and counts
//!
//! As in nccl-tests, a size `S` from the sweep gives `count = S / dtype size` elements, and:
//!
//! - all-reduce, broadcast, reduce: every rank's buffer holds `count` elements; the reported size is
//!   `count × dtype size`, the count column is `count`;
//! - all-gather: each rank contributes `count / P` elements (rounded down) to an output of
//!   `P × (count / P)`; reduce-scatter: each rank's input holds `P × (count / P)` elements and its
//!   output `count / P`. The reported size is the total, `P × (count / P) × dtype size` (the output
//!   of all-gather, the input of reduce-scatter), the count column is the per-rank `count / P`.
//!   (nccl-tests also rounds the per-rank count down to a multiple of 4 elements, for alignment;
//!   kernbench does not need that.)
//! - all-to-all: every rank's input and output hold `P × (count / P)` elements, `count / P`
//!   (rounded down) for each peer; as in nccl-tests' alltoall_perf, the reported size is that
//!   per-rank total, `P × (count / P) × dtype size`, and the count column is `count / P`.
//!
//! `algbw = size / time`; `busbw = algbw × factor`, the factor being nccl-tests': `2(P−1)/P` for
//! all-reduce, `(P−1)/P` for all-gather, reduce-scatter and all-to-all, 1 for broadcast and reduce.
//!
//! # Algorithm
//!
//! `--algo` (auto, ring, direct, halving-doubling or tree; the machine config's `collectives.algo`
//! by default) is passed to the collective through `ProcessGroup::with_algo`; the report names it.
//! A collective that does not implement the algorithm refuses it (`CclError::UnsupportedAlgo`),
//! and the command exits 2 with that message.
//!
//! # Timing
//!
//! For each size, every rank's tensors are created on the host (written by host-write ops; in
//! `--timing-only` runs left unwritten, as no data is kept), then the writes are run to their end
//! (`Runtime::run_all`) and the clock is read: that is the start, the moment every input is
//! ready. P ranks are then spawned; each calls the collective and waits on its [`kb_sched::Work`],
//! which returns the simulated time at which that rank's share ended. The time reported is the
//! latest of those ends minus the start — the same in data and timing-only runs. Each size runs on
//! a fresh runtime (so one size's op log is freed before the next), except with `--trace`: then
//! one runtime serves the whole sweep, and the trace shows every size, one after the other. The
//! times are the same either way: the clock is read only once the previous size has ended.
//!
//! # Checking
//!
//! With `-c 1` (the default) and data kept, every rank's output is read back and compared, element
//! by element, with a host reference computed in plain loops ([`check`]); `#wrong` counts the
//! elements that differ, over all ranks. The inputs are small integers chosen so that every result
//! is exact in the dtype, so the comparison is for equality. With `-c 0` or `--timing-only`,
//! `#wrong` is `N/A`. Any wrong element makes the command exit 1, after the report is printed.

pub(crate) mod check;
mod report;

use std::fmt;
use std::rc::Rc;
use std::str::FromStr;

use anyhow::anyhow;
use clap::Args;
use kb_ccl::{CclError, CollectiveAlgo, ProcessGroup, ReduceOp};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Topology};
use kb_sched::{Runtime, SchedError, Tensor};

use crate::cli::size::parse_size;
use crate::cli::{Classify, Failure, GlobalArgs, output};
use check::Pattern;
use report::{Report, Row};

/// The collectives `kernbench` sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collective {
    /// `kernbench all-reduce`: `kb_ccl::all_reduce`, in place.
    AllReduce,
    /// `kernbench all-gather`: `kb_ccl::all_gather_into_tensor`.
    AllGather,
    /// `kernbench reduce-scatter`: `kb_ccl::reduce_scatter_tensor`.
    ReduceScatter,
    /// `kernbench broadcast`: `kb_ccl::broadcast`, in place, from `--root`.
    Broadcast,
    /// `kernbench reduce`: `kb_ccl::reduce`, in place, into `--root`.
    Reduce,
    /// `kernbench all-to-all`: `kb_ccl::all_to_all_single`, equal splits.
    AllToAll,
}

impl Collective {
    /// The subcommand's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Collective::AllReduce => "all-reduce",
            Collective::AllGather => "all-gather",
            Collective::ReduceScatter => "reduce-scatter",
            Collective::Broadcast => "broadcast",
            Collective::Reduce => "reduce",
            Collective::AllToAll => "all-to-all",
        }
    }

    /// Whether it combines values with a reduce op.
    fn reduces(self) -> bool {
        matches!(self, Collective::AllReduce | Collective::ReduceScatter | Collective::Reduce)
    }

    /// Whether it has a root.
    fn rooted(self) -> bool {
        matches!(self, Collective::Broadcast | Collective::Reduce)
    }

    /// nccl-tests' bus-bandwidth factor for `p` ranks.
    fn bus_factor(self, p: usize) -> f64 {
        let p = p as f64;
        match self {
            Collective::AllReduce => 2.0 * (p - 1.0) / p,
            Collective::AllGather | Collective::ReduceScatter | Collective::AllToAll => (p - 1.0) / p,
            Collective::Broadcast | Collective::Reduce => 1.0,
        }
    }

    /// Per-rank element count (the count column) of a sweep size of `count` elements on `p` ranks.
    fn param_count(self, count: usize, p: usize) -> usize {
        match self {
            Collective::AllReduce | Collective::Broadcast | Collective::Reduce => count,
            Collective::AllGather | Collective::ReduceScatter | Collective::AllToAll => count / p,
        }
    }

    /// Elements of the reported size, from the per-rank count.
    fn total_count(self, param: usize, p: usize) -> usize {
        match self {
            Collective::AllReduce | Collective::Broadcast | Collective::Reduce => param,
            Collective::AllGather | Collective::ReduceScatter | Collective::AllToAll => param * p,
        }
    }
}

impl fmt::Display for Collective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flags of the collective subcommands, as nccl-tests' (`all_reduce_perf` …). Sizes take
/// K/M/G suffixes (powers of 1024: `4K` = 4096).
#[derive(Debug, Args)]
pub(crate) struct CollectiveArgs {
    /// Number of ranks P [default: the machine's cluster.ranks].
    #[arg(short = 'g', long = "ranks", value_name = "P")]
    ranks: Option<usize>,
    /// Smallest size of the sweep, bytes.
    #[arg(short = 'b', long, value_parser = parse_size, default_value = "32M", value_name = "BYTES")]
    minbytes: usize,
    /// Largest size of the sweep, bytes.
    #[arg(short = 'e', long, value_parser = parse_size, default_value = "32M", value_name = "BYTES")]
    maxbytes: usize,
    /// Factor between successive sizes (at least 2).
    #[arg(short = 'f', long, default_value_t = 2, value_name = "FACTOR")]
    stepfactor: usize,
    /// Element type: float, half, bfloat16 or int32 (or f32, f16, bf16, i32 …).
    #[arg(short = 'd', long, value_parser = parse_collective_dtype, default_value = "float", value_name = "TYPE")]
    datatype: DType,
    /// Reduce op, for all-reduce, reduce-scatter and reduce: sum, prod, min, max, avg (floats), band,
    /// bor, bxor (integers).
    #[arg(short = 'o', long, value_parser = parse_op, default_value = "sum")]
    op: ReduceOp,
    /// Root rank, for broadcast and reduce.
    #[arg(short = 'r', long, default_value_t = 0)]
    root: usize,
    /// Check the results against a host reference: 1 (yes) or 0 (no).
    #[arg(short = 'c', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1), value_name = "0|1")]
    check: u8,
    /// Collective algorithm: auto, ring, direct, halving-doubling or tree [default: the machine
    /// config's collectives.algo].
    #[arg(long, value_parser = CollectiveAlgo::from_str, value_name = "ALGO")]
    algo: Option<CollectiveAlgo>,
    /// Simulate time only: no data is kept, so nothing is checked (#wrong is N/A).
    #[arg(long)]
    timing_only: bool,
}

/// The types the collective sweeps take, with nccl-tests' names for the table.
const DTYPES: [(DType, &str); 4] =
    [(DType::F32, "float"), (DType::F16, "half"), (DType::BF16, "bfloat16"), (DType::I32, "int32")];

/// nccl-tests' name of `dtype` (one of [`DTYPES`]).
fn nccl_type_name(dtype: DType) -> &'static str {
    DTYPES.iter().find(|(d, _)| *d == dtype).map_or_else(|| dtype.name(), |(_, name)| name)
}

/// Parses `-d`: any name `DType` reads, if the sweeps take it.
fn parse_collective_dtype(text: &str) -> Result<DType, String> {
    let dtype = DType::from_str(text).map_err(|e| e.to_string())?;
    if DTYPES.iter().any(|(d, _)| *d == dtype) {
        Ok(dtype)
    } else {
        Err(format!("the collective sweeps take float (f32), half (f16), bfloat16 (bf16) or int32 (i32), not {dtype}"))
    }
}

/// Parses `-o`: nccl-tests' names, plus kb-ccl's bitwise ops.
fn parse_op(text: &str) -> Result<ReduceOp, String> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "sum" => ReduceOp::Sum,
        "prod" | "product" => ReduceOp::Product,
        "min" => ReduceOp::Min,
        "max" => ReduceOp::Max,
        "avg" => ReduceOp::Avg,
        "band" => ReduceOp::BAnd,
        "bor" => ReduceOp::BOr,
        "bxor" => ReduceOp::BXor,
        _ => return Err(format!("`{text}`: expected sum, prod, min, max, avg, band, bor or bxor")),
    })
}

/// nccl-tests' name of `op` (`prod` for the product).
fn op_name(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Product => "prod",
        other => other.name(),
    }
}

/// A validated request.
#[derive(Debug, Clone)]
struct Sweep {
    collective: Collective,
    ranks: usize,
    /// The sizes of the sweep, bytes, as asked (before rounding to whole elements).
    sizes: Vec<usize>,
    dtype: DType,
    /// The reduce op, for reducing collectives.
    op: Option<ReduceOp>,
    /// The root, for rooted collectives.
    root: Option<usize>,
    algo: CollectiveAlgo,
    check: bool,
    timing_only: bool,
}

impl Sweep {
    /// Checks `args` before anything is simulated; returns the sweep and its machine (the config's
    /// with `cluster.ranks` set to P).
    fn new(
        collective: Collective,
        machine: &MachineSpec,
        args: &CollectiveArgs,
    ) -> Result<(Sweep, MachineSpec), Failure> {
        let ranks = args.ranks.unwrap_or(machine.cluster.ranks as usize);
        if ranks == 0 {
            return Err(Failure::bad_input("-g/--ranks must be positive, got 0"));
        }
        let ranks_u32 = u32::try_from(ranks)
            .map_err(|_| Failure::bad_input(format!("-g/--ranks {ranks} is too large (at most {})", u32::MAX)))?;
        let mut spec = machine.clone();
        spec.cluster.ranks = ranks_u32;
        if let Topology::Torus2d { dims } = spec.cluster.topology
            && u64::from(dims[0]) * u64::from(dims[1]) != ranks as u64
        {
            return Err(Failure::bad_input(format!(
                "-g/--ranks {ranks}: the machine's torus2d topology has cluster.torus_dims [{}, {}] = {} positions; \
                 use -g {} or a config whose torus_dims match",
                dims[0],
                dims[1],
                u64::from(dims[0]) * u64::from(dims[1]),
                u64::from(dims[0]) * u64::from(dims[1])
            )));
        }
        spec.validate().bad_input()?;
        if args.minbytes == 0 {
            return Err(Failure::bad_input("-b/--minbytes must be positive, got 0"));
        }
        if args.minbytes > args.maxbytes {
            return Err(Failure::bad_input(format!(
                "-b/--minbytes {} is larger than -e/--maxbytes {}",
                args.minbytes, args.maxbytes
            )));
        }
        if args.stepfactor < 2 {
            return Err(Failure::bad_input(format!("-f/--stepfactor must be at least 2, got {}", args.stepfactor)));
        }
        let root = collective.rooted().then_some(args.root);
        if let Some(root) = root
            && root >= ranks
        {
            return Err(Failure::bad_input(format!("-r/--root {root} is not a rank: -g/--ranks is {ranks}")));
        }
        let op = collective.reduces().then_some(args.op);
        if let Some(op) = op {
            let why = match op {
                ReduceOp::Avg if !args.datatype.is_float() => Some("avg is defined for float types only"),
                ReduceOp::BAnd | ReduceOp::BOr | ReduceOp::BXor if !args.datatype.is_int() => {
                    Some("bitwise ops are defined for integer types only")
                }
                _ => None,
            };
            if let Some(why) = why {
                return Err(Failure::bad_input(format!(
                    "-o/--op {}: not defined for -d/--datatype {} ({why})",
                    op_name(op),
                    nccl_type_name(args.datatype)
                )));
            }
        }
        let mut sizes = Vec::new();
        let mut size = Some(args.minbytes);
        while let Some(s) = size.filter(|&s| s <= args.maxbytes) {
            sizes.push(s);
            size = s.checked_mul(args.stepfactor);
        }
        let sweep = Sweep {
            collective,
            ranks,
            sizes,
            dtype: args.datatype,
            op,
            root,
            algo: args.algo.unwrap_or(machine.collectives.algo),
            check: args.check == 1 && !args.timing_only,
            timing_only: args.timing_only,
        };
        sweep.check_hbm(&spec)?;
        Ok((sweep, spec))
    }

    /// Refuses sizes whose tensors alone do not fit in one device's HBM.
    fn check_hbm(&self, spec: &MachineSpec) -> Result<(), Failure> {
        let Some(&largest) = self.sizes.last() else { return Ok(()) };
        let (input, output) = self.shapes(largest / self.dtype.size());
        let bytes = (input + output.unwrap_or(0)) as u128 * self.dtype.size() as u128;
        let hbm = spec.device.hbm_bytes;
        if bytes > u128::from(hbm) {
            return Err(Failure::bad_input(format!(
                "-e/--maxbytes {largest}: {} needs {bytes} bytes of tensors per rank but a device has {hbm} \
                 (device.hbm_bytes)",
                self.collective
            )));
        }
        Ok(())
    }

    /// Element counts of each rank's input and (out-of-place collectives) output for a sweep size
    /// of `count` elements.
    fn shapes(&self, count: usize) -> (usize, Option<usize>) {
        let p = self.ranks;
        let param = self.collective.param_count(count, p);
        match self.collective {
            Collective::AllReduce | Collective::Broadcast | Collective::Reduce => (param, None),
            Collective::AllGather => (param, Some(param * p)),
            Collective::ReduceScatter => (param * p, Some(param)),
            Collective::AllToAll => (param * p, Some(param * p)),
        }
    }

    /// The input pattern of this sweep.
    fn pattern(&self) -> Pattern {
        Pattern::new(self.op, self.dtype, self.ranks)
    }
}

/// Runs one of the collective subcommands.
pub(crate) fn run(
    collective: Collective,
    machine: &MachineSpec,
    global: &GlobalArgs,
    args: &CollectiveArgs,
) -> Result<(), Failure> {
    let (sweep, spec) = Sweep::new(collective, machine, args)?;
    let mode = global.mode(sweep.timing_only);
    let new_runtime = || Runtime::new(spec.clone(), mode).bad_input();
    // One runtime for the whole sweep when it is traced; otherwise a fresh one per size, so the
    // op log (with the input writes' bytes) of one size is freed before the next.
    let traced = global.trace.as_ref().map(|_| new_runtime()).transpose()?;
    let progress = output::progress(sweep.sizes.len());
    let mut rows = Vec::with_capacity(sweep.sizes.len());
    for &size in &sweep.sizes {
        if let Some(bar) = &progress {
            bar.set_message(format!("{size} B"));
        }
        let rt = match &traced {
            Some(rt) => rt.clone(),
            None => new_runtime()?,
        };
        rows.push(run_size(&rt, &sweep, size)?);
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let (Some(path), Some(rt)) = (&global.trace, &traced) {
        rt.write_trace(path).bad_input()?;
    }
    let report = Report {
        collective: sweep.collective.name(),
        ranks: sweep.ranks,
        algo: sweep.algo.name(),
        dtype: sweep.dtype.name(),
        op: sweep.op.map(op_name),
        root: sweep.root,
        rows,
        type_name: nccl_type_name(sweep.dtype),
        topology: spec.cluster.topology.name(),
        minbytes: args.minbytes,
        maxbytes: args.maxbytes,
        stepfactor: args.stepfactor,
        check: sweep.check,
    };
    output::print(&report.render(global.format))?;
    let wrong: u64 = report.rows.iter().filter_map(|r| r.wrong).sum();
    if wrong > 0 {
        let bad: Vec<String> =
            report.rows.iter().filter(|r| r.wrong.is_some_and(|w| w > 0)).map(|r| r.size.to_string()).collect();
        return Err(Failure::CheckFailed(anyhow!(
            "check failed: {wrong} wrong elements (sizes {} B) against the host reference",
            bad.join(", ")
        )));
    }
    Ok(())
}

/// One rank's tensors: the one the collective works on in place, or its input and output.
#[derive(Debug, Clone)]
struct RankTensors {
    input: Tensor,
    output: Option<Tensor>,
}

/// Times (and checks) the collective at one size.
fn run_size(rt: &Runtime, sweep: &Sweep, size: usize) -> Result<Row, Failure> {
    let p = sweep.ranks;
    let count = size / sweep.dtype.size();
    let param = sweep.collective.param_count(count, p);
    let (input_len, output_len) = sweep.shapes(count);
    let pattern = sweep.pattern();

    let mut tensors = Vec::with_capacity(p);
    for rank in 0..p {
        let dev = rt.device(rank as u32).internal()?;
        let input = if rt.keeps_data() {
            let values: Vec<f32> = (0..input_len).map(|i| pattern.value(rank, i)).collect();
            dev.from_f32(&[input_len], sweep.dtype, &values)
        } else {
            dev.empty(&[input_len], sweep.dtype)
        }
        .map_err(user_if_too_big)?;
        let output = output_len.map(|n| dev.empty(&[n], sweep.dtype)).transpose().map_err(user_if_too_big)?;
        tensors.push(RankTensors { input, output });
    }

    // Every input is ready when its write ends: the collective is timed from there.
    rt.run_all();
    let start = rt.now();
    let shared = Rc::new(tensors);
    let for_ranks = shared.clone();
    let (collective, op, root, algo) = (sweep.collective, sweep.op, sweep.root, sweep.algo);
    // A collective that refuses the algorithm is the request's fault: kept here to exit 2.
    let refused: Rc<std::cell::RefCell<Option<String>>> = Rc::default();
    let refusal = refused.clone();
    let ends = rt
        .spawn(p, move |ctx| {
            let world = ProcessGroup::world(&ctx).with_algo(algo);
            let mine = &for_ranks[ctx.rank()];
            let work = match collective {
                Collective::AllReduce => {
                    kb_ccl::all_reduce_async(&ctx, &world, &mine.input, op.unwrap_or(ReduceOp::Sum))
                }
                Collective::AllGather => {
                    kb_ccl::all_gather_into_tensor_async(&ctx, &world, output_of(mine)?, &mine.input)
                }
                Collective::ReduceScatter => kb_ccl::reduce_scatter_tensor_async(
                    &ctx,
                    &world,
                    output_of(mine)?,
                    &mine.input,
                    op.unwrap_or(ReduceOp::Sum),
                ),
                Collective::Broadcast => kb_ccl::broadcast_async(&ctx, &world, &mine.input, root.unwrap_or(0)),
                Collective::Reduce => {
                    kb_ccl::reduce_async(&ctx, &world, &mine.input, root.unwrap_or(0), op.unwrap_or(ReduceOp::Sum))
                }
                Collective::AllToAll => kb_ccl::all_to_all_single_async(&ctx, &world, output_of(mine)?, &mine.input),
            };
            let work = work.inspect_err(|e| {
                if matches!(e, CclError::UnsupportedAlgo { .. }) {
                    refusal.borrow_mut().get_or_insert_with(|| e.to_string());
                }
            })?;
            let end = work.wait()?;
            Ok::<_, CclError>((end, kb_ccl::last_algo(&ctx)))
        })
        .map_err(|e| match refused.borrow_mut().take() {
            Some(message) => Failure::bad_input(message),
            // A size whose buffers do not fit the machine's HBM is the user's to change.
            None if e.to_string().contains("out of HBM") => Failure::BadInput(e.into()),
            None => Failure::Internal(e.into()),
        })?;
    let end = ends.iter().map(|e| e.0).max().unwrap_or(start);
    // What ran: `auto`'s pick for this size, else the algorithm asked for.
    let ran = ends.first().and_then(|e| e.1).unwrap_or(sweep.algo);
    let time_ps =
        end.checked_sub(start).ok_or_else(|| Failure::Internal(anyhow!("the collective ended before it began")))?;

    let wrong = if sweep.check { Some(count_wrong(sweep, &pattern, &shared, param)?) } else { None };

    let bytes = sweep.collective.total_count(param, p) * sweep.dtype.size();
    // Bytes per picosecond ÷ 1000 is GB/s (10⁹ bytes per second).
    let algbw = if time_ps == 0 { 0.0 } else { bytes as f64 / time_ps as f64 * 1e3 };
    Ok(Row {
        size: bytes,
        count: param,
        time_us: time_ps as f64 / 1e6,
        algbw_gbps: algbw,
        busbw_gbps: algbw * sweep.collective.bus_factor(p),
        wrong,
        algo: ran.name(),
    })
}

/// The output tensor of an out-of-place collective.
fn output_of(t: &RankTensors) -> Result<&Tensor, CclError> {
    t.output.as_ref().ok_or_else(|| {
        CclError::Sched(SchedError::Invalid {
            op: "kernbench",
            reason: "an out-of-place collective without output".into(),
        })
    })
}

/// Reads every rank's result back and counts the elements that differ from the host reference.
fn count_wrong(sweep: &Sweep, pattern: &Pattern, tensors: &[RankTensors], param: usize) -> Result<u64, Failure> {
    let mut wrong = 0u64;
    for (rank, t) in tensors.iter().enumerate() {
        let result = t.output.as_ref().unwrap_or(&t.input).to_vec::<f64>().internal()?;
        let expected = |i: usize| match sweep.collective {
            Collective::AllReduce => pattern.reduced(i),
            Collective::ReduceScatter => pattern.reduced(rank * param + i),
            Collective::AllGather => pattern.stored(i / param.max(1), i % param.max(1)),
            Collective::Broadcast => pattern.stored(sweep.root.unwrap_or(0), i),
            // The root holds the reduction; every other rank's tensor is left as it was.
            Collective::Reduce if Some(rank) == sweep.root => pattern.reduced(i),
            Collective::Reduce => pattern.stored(rank, i),
            Collective::AllToAll => pattern.exchanged(rank, i, param),
        };
        wrong += result.iter().enumerate().filter(|&(i, &v)| v != expected(i)).count() as u64;
    }
    Ok(wrong)
}

/// A runtime error that the request's size caused (HBM exhausted, a shape too large) is bad input;
/// any other is the simulator's.
fn user_if_too_big(e: SchedError) -> Failure {
    match e {
        SchedError::HbmExhausted { .. } | SchedError::Mem(_) => Failure::BadInput(e.into()),
        _ => Failure::Internal(e.into()),
    }
}
