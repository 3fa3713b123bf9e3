//! `kernbench mlp`: one forward of kb-tp's `ParallelMLP` on T ranks, `Y = gelu(X·W1 + b1)·W2 + b2`
//! with X \[B, H\], W1 \[H, F\], W2 \[F, H\], b1 \[F\], b2 \[H\] (the math layout of the full arrays; the
//! layers hold PyTorch's [out, in], so W1 and W2 are transposed on the host before each rank
//! takes its shard). Reports the simulated time, split into compute and communication, TFLOP/s
//! and, unless `--timing-only`, rank 0's error against a host reference ([`check`]).
//!
//! # Timing
//!
//! The machine is the config's with `cluster.ranks = T`. Each rank loads its shards and X (host
//! writes; in a timing-only run without files, fills on the device), then waits until those
//! writes have ended (`kb_tp::kernels::written`): the forward is timed from the latest of those
//! moments over the ranks (`start`) to the end of its last op (`end`, the makespan):
//! `time = end − start`. The communication time is the all-reduce's own, as `kernbench
//! all-reduce` measures it: from the moment every rank's input to it is ready (kb-tp's
//! `CommSpan::ready_ps`, latest over the ranks) to the end of the last rank's share
//! (`CommSpan::end_ps`, latest over the ranks); zero when T = 1. The compute time is the rest,
//! `time − comm`: the GEMMs and epilogues before the all-reduce and the bias add after it.
//! TFLOP/s counts the two GEMMs of the whole block, `4·B·H·F / time`.
//!
//! # Inputs
//!
//! `--x`, `--w1` and `--w2` go together (`--b1`, `--b2` optional with them: a missing bias is
//! zeros), as f32 or the dtype itself; values are rounded to the dtype on the host, and the
//! reference uses the rounded values. Without files the inputs are seeded pseudo-random: X in
//! [-1, 1), W1 and W2 scaled by 1/√fan-in, the biases by 1/2.

pub(crate) mod check;
mod report;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::anyhow;
use clap::Args;
use kb_mem::DType;
use kb_oplog::MachineSpec;
use kb_sched::npy;
use kb_sched::{GemmBlocks, Runtime, Tensor};
use kb_tp::kernels::written;
use kb_tp::{CommSpan, ParallelMLP, TpError, clear_comm_spans, comm_spans, initialize_model_parallel};

use crate::cli::gemm::report::Check;
use crate::cli::gemm::{parse_gemm_dtype, write_result};
use crate::cli::rng::XorShift64Star;
use crate::cli::size::parse_size;
use crate::cli::{Classify, Failure, GlobalArgs, output};
use report::MlpReport;

/// The flags of `kernbench mlp`. Sizes take K/M/G suffixes (powers of 1024: `4K` = 4096).
#[derive(Debug, Args)]
pub(crate) struct MlpArgs {
    /// Tensor-parallel size T: the number of ranks the block is split over.
    #[arg(long)]
    tp: usize,
    /// Rows of X and Y (tokens) B.
    #[arg(long, value_parser = parse_size)]
    batch: usize,
    /// Hidden size H.
    #[arg(long, value_parser = parse_size)]
    hidden: usize,
    /// Feed-forward size F, a multiple of T [default: 4·H].
    #[arg(long, value_parser = parse_size)]
    ffn: Option<usize>,
    /// Element type of every tensor: f16, bf16 or f32 (the GEMMs accumulate in f32).
    #[arg(long, value_parser = parse_gemm_dtype, default_value = "f16")]
    dtype: DType,
    /// X from a .npy file of shape [B, H], f32 (rounded to the dtype) or the dtype itself
    /// [default: seeded pseudo-random values]; needs --w1 and --w2.
    #[arg(long, value_name = "X.npy")]
    x: Option<PathBuf>,
    /// W1 from a .npy file of shape [H, F], like --x.
    #[arg(long, value_name = "W1.npy")]
    w1: Option<PathBuf>,
    /// W2 from a .npy file of shape [F, H], like --x.
    #[arg(long, value_name = "W2.npy")]
    w2: Option<PathBuf>,
    /// b1 from a .npy file of shape [F] [default with files: zeros].
    #[arg(long, value_name = "B1.npy")]
    b1: Option<PathBuf>,
    /// b2 from a .npy file of shape [H] [default with files: zeros].
    #[arg(long, value_name = "B2.npy")]
    b2: Option<PathBuf>,
    /// Write rank 0's Y to a .npy file: f16 for f16, f32 otherwise (bf16 widened exactly).
    #[arg(long, value_name = "Y.npy")]
    out: Option<PathBuf>,
    /// Simulate time only: no data is kept, so no check and no --out.
    #[arg(long)]
    timing_only: bool,
}

/// A validated request.
#[derive(Debug, Clone, Copy)]
struct Problem {
    tp: usize,
    batch: usize,
    hidden: usize,
    ffn: usize,
    dtype: DType,
}

impl Problem {
    /// Checks `args` before anything is simulated; returns the problem and its machine (the
    /// config's with `cluster.ranks = T`).
    fn new(machine: &MachineSpec, args: &MlpArgs) -> Result<(Problem, MachineSpec), Failure> {
        let ffn = match args.ffn {
            Some(f) => f,
            None => args.hidden.checked_mul(4).ok_or_else(|| Failure::bad_input("--hidden is too large"))?,
        };
        for (flag, value) in [("--tp", args.tp), ("--batch", args.batch), ("--hidden", args.hidden), ("--ffn", ffn)] {
            if value == 0 {
                return Err(Failure::bad_input(format!("{flag} must be positive, got 0")));
            }
        }
        if !ffn.is_multiple_of(args.tp) {
            return Err(Failure::bad_input(format!("--ffn {ffn} is not divisible by --tp {}", args.tp)));
        }
        let p = Problem { tp: args.tp, batch: args.batch, hidden: args.hidden, ffn, dtype: args.dtype };
        let mut spec = machine.clone();
        spec.cluster.ranks = u32::try_from(p.tp)
            .map_err(|_| Failure::bad_input(format!("--tp {} is too large (at most {})", p.tp, u32::MAX)))?;
        spec.validate().bad_input()?;
        let tcm = GemmBlocks::default().tcm_bytes(p.dtype, DType::F32) as u64;
        if tcm > spec.device.tcm_bytes {
            return Err(Failure::bad_input(format!(
                "the GEMM kernel's blocks need {tcm} bytes of TCM per program but a PE has {} (device.tcm_bytes)",
                spec.device.tcm_bytes
            )));
        }
        match p.hbm_need() {
            Some(need) if need <= spec.device.hbm_bytes => {}
            need => {
                let need = need.map_or_else(|| "more than u64::MAX".to_string(), |n| n.to_string());
                return Err(Failure::bad_input(format!(
                    "each rank's shards and activations of {} need {need} bytes of HBM but a device has {} \
                     (device.hbm_bytes)",
                    p.dtype, spec.device.hbm_bytes
                )));
            }
        }
        let files = [&args.x, &args.w1, &args.w2].iter().filter(|f| f.is_some()).count();
        if files != 0 && files != 3 {
            return Err(Failure::bad_input("--x, --w1 and --w2 go together: give all three or none"));
        }
        if files == 0 && (args.b1.is_some() || args.b2.is_some()) {
            return Err(Failure::bad_input("--b1 and --b2 need --x, --w1 and --w2"));
        }
        if args.timing_only && args.out.is_some() {
            return Err(Failure::bad_input("--out needs the values of Y, but --timing-only keeps no data"));
        }
        Ok((p, spec))
    }

    /// HBM bytes of one rank's tensors: X, its shards of W1, b1, W2, the whole b2, its part of
    /// the activation and its partial Y; `None` on overflow.
    fn hbm_need(&self) -> Option<u64> {
        let (b, h, f) = (self.batch as u64, self.hidden as u64, (self.ffn / self.tp) as u64);
        let elems =
            [b.checked_mul(h)?, f.checked_mul(h)?, f, h.checked_mul(f)?, h, b.checked_mul(f)?, b.checked_mul(h)?];
        elems.iter().try_fold(0u64, |sum, &e| sum.checked_add(e))?.checked_mul(self.dtype.size() as u64)
    }

    /// The two GEMMs of the whole block: 2·B·H·F each.
    fn flops(&self) -> f64 {
        4.0 * self.batch as f64 * self.hidden as f64 * self.ffn as f64
    }
}

/// The full arrays on the host, rounded to the dtype: the math layout for the reference, and the
/// layers' layout (W1ᵀ [F, H], W2ᵀ [H, F]) for loading.
#[derive(Debug)]
struct Host {
    x: Vec<f32>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
    fc1: Vec<f32>,
    fc2: Vec<f32>,
}

/// `v` rounded to `dtype` (what a tensor of `dtype` holds), as f32.
fn rounded(dtype: DType, v: Vec<f32>) -> Vec<f32> {
    let mut bytes = vec![0u8; v.len() * dtype.size()];
    dtype.encode_f32_slice(&v, &mut bytes);
    let mut out = vec![0f32; v.len()];
    dtype.decode_f32_slice(&bytes, &mut out);
    out
}

/// `a` [rows, cols] transposed to [cols, rows].
fn transposed(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| a[r * cols + c])).collect()
}

/// Reads one input file: f32 or the dtype, of `shape`.
fn read(path: &Path, flag: &str, shape: &[usize], dims: &str, p: Problem) -> Result<Vec<f32>, Failure> {
    let array = npy::read_npy(path).bad_input()?;
    if array.dtype != DType::F32 && array.dtype != p.dtype {
        return Err(Failure::bad_input(format!(
            "{}: {flag} holds {} values; with --dtype {} it must hold f32 (rounded on load) or {}",
            path.display(),
            array.dtype,
            p.dtype,
            p.dtype
        )));
    }
    if array.shape != shape {
        return Err(Failure::bad_input(format!(
            "{}: {flag} has shape {:?} but must be {dims} = {shape:?} for --batch {} --hidden {} --ffn {}",
            path.display(),
            array.shape,
            p.batch,
            p.hidden,
            p.ffn
        )));
    }
    Ok(array.to_f32())
}

/// The inputs: from the files, or seeded pseudo-random values; `None` for a timing-only run
/// without files (the devices fill zeros instead).
fn host_inputs(args: &MlpArgs, p: Problem) -> Result<Option<Host>, Failure> {
    let (b, h, f) = (p.batch, p.hidden, p.ffn);
    let (x, w1, b1, w2, b2) = match (&args.x, &args.w1, &args.w2) {
        (Some(x), Some(w1), Some(w2)) => {
            let optional = |path: &Option<PathBuf>, flag, n, dims| match path {
                Some(path) => read(path, flag, &[n], dims, p),
                None => Ok(vec![0.0; n]),
            };
            (
                read(x, "--x", &[b, h], "[B, H]", p)?,
                read(w1, "--w1", &[h, f], "[H, F]", p)?,
                optional(&args.b1, "--b1", f, "[F]")?,
                read(w2, "--w2", &[f, h], "[F, H]", p)?,
                optional(&args.b2, "--b2", h, "[H]")?,
            )
        }
        _ if args.timing_only => return Ok(None),
        _ => {
            let random = |seed: u64, n: usize, scale: f32| {
                XorShift64Star::new(seed).signed_units(n).into_iter().map(|v| v * scale).collect::<Vec<f32>>()
            };
            (
                random(SEED_X, b * h, 1.0),
                random(SEED_W1, h * f, 1.0 / (h as f32).sqrt()),
                random(SEED_B1, f, 0.5),
                random(SEED_W2, f * h, 1.0 / (f as f32).sqrt()),
                random(SEED_B2, h, 0.5),
            )
        }
    };
    let (w1, w2) = (rounded(p.dtype, w1), rounded(p.dtype, w2));
    Ok(Some(Host {
        fc1: transposed(&w1, h, f),
        fc2: transposed(&w2, f, h),
        x: rounded(p.dtype, x),
        b1: rounded(p.dtype, b1),
        b2: rounded(p.dtype, b2),
        w1,
        w2,
    }))
}

/// Seeds of the pseudo-random inputs.
const SEED_X: u64 = 0x6b62_6d6c_7058; // "kbmlpX"
const SEED_W1: u64 = 0x006b_626d_6c70_5731; // "kbmlpW1"
const SEED_B1: u64 = 0x006b_626d_6c70_6231; // "kbmlpb1"
const SEED_W2: u64 = 0x006b_626d_6c70_5732; // "kbmlpW2"
const SEED_B2: u64 = 0x006b_626d_6c70_6232; // "kbmlpb2"

/// What one rank reports back.
#[derive(Debug)]
struct RankRun {
    /// When its inputs' writes had ended.
    ready_ps: u64,
    /// The collectives its forward ran.
    spans: Vec<CommSpan>,
    /// Its Y.
    y: Tensor,
}

/// The simulated times of one forward, picoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MlpTimes {
    /// From the moment every rank's inputs are written to the end of the forward's last op.
    total_ps: u64,
    /// The all-reduce's own time (zero when T = 1).
    comm_ps: u64,
}

/// Runs one forward of the block on `rt` (T ranks); returns its times and every rank's Y.
fn forward(rt: &Runtime, p: Problem, host: Option<Rc<Host>>) -> Result<(MlpTimes, Vec<Tensor>), Failure> {
    let runs = rt
        .spawn(p.tp, move |ctx| {
            initialize_model_parallel(&ctx, p.tp, 1)?;
            let dev = ctx.device();
            let (block, x) = match &host {
                Some(h) => (
                    ParallelMLP::from_full(
                        &ctx,
                        p.hidden,
                        p.ffn,
                        p.dtype,
                        (&h.fc1, Some(&h.b1)),
                        (&h.fc2, Some(&h.b2)),
                    )?,
                    dev.from_f32(&[p.batch, p.hidden], p.dtype, &h.x)?,
                ),
                None => (ParallelMLP::new(&ctx, p.hidden, p.ffn, p.dtype)?, dev.zeros(&[p.batch, p.hidden], p.dtype)?),
            };
            let mut inputs = block.parameters();
            inputs.push(&x);
            let ready_ps = written(ctx.runtime(), &inputs)?.wait()?;
            clear_comm_spans(&ctx);
            let y = block.forward(&x)?;
            Ok::<_, TpError>(RankRun { ready_ps, spans: comm_spans(&ctx), y })
        })
        .internal()?;
    let end = rt.run_all();
    let start = runs.iter().map(|r| r.ready_ps).max().unwrap_or(0);
    let all_reduces: Vec<&CommSpan> =
        runs.iter().flat_map(|r| r.spans.iter()).filter(|s| s.collective == "all_reduce").collect();
    let comm_ps = match (all_reduces.iter().map(|s| s.ready_ps).max(), all_reduces.iter().map(|s| s.end_ps).max()) {
        (Some(ready), Some(end)) => end.saturating_sub(ready),
        _ => 0,
    };
    let total_ps =
        end.checked_sub(start).ok_or_else(|| Failure::Internal(anyhow!("the forward ended before it began")))?;
    Ok((MlpTimes { total_ps, comm_ps }, runs.into_iter().map(|r| r.y).collect()))
}

/// Runs `kernbench mlp`.
pub(crate) fn run(machine: &MachineSpec, global: &GlobalArgs, args: &MlpArgs) -> Result<(), Failure> {
    let (p, spec) = Problem::new(machine, args)?;
    let host = host_inputs(args, p)?.map(Rc::new);
    let rt = Runtime::new(spec, global.mode(args.timing_only)).bad_input()?;
    let (times, ys) = forward(&rt, p, host.clone())?;
    if let Some(path) = &global.trace {
        rt.write_trace(path).bad_input()?;
    }
    let checked = match (&host, args.timing_only) {
        (Some(h), false) => {
            let y = ys[0].to_vec::<f32>().internal()?;
            let shape = check::Mlp { batch: p.batch, hidden: p.hidden, ffn: p.ffn, tp: p.tp, dtype: p.dtype };
            let arrays = check::Arrays { x: &h.x, w1: &h.w1, b1: &h.b1, w2: &h.w2, b2: &h.b2 };
            Some((check::check(shape, arrays, &y), y))
        }
        _ => None,
    };
    if let (Some(path), Some((_, y))) = (&args.out, &checked) {
        write_result(path, &[p.batch, p.hidden], p.dtype, y)?;
    }
    let us = |ps: u64| ps as f64 / 1e6;
    let report = MlpReport {
        tp: p.tp,
        batch: p.batch,
        hidden: p.hidden,
        ffn: p.ffn,
        dtype: p.dtype.name(),
        time_us: us(times.total_ps),
        compute_us: us(times.total_ps - times.comm_ps.min(times.total_ps)),
        comm_us: us(times.comm_ps),
        max_abs_err: checked.as_ref().map(|(o, _)| o.max_abs_err),
        check: match &checked {
            None => Check::Skipped,
            Some((o, _)) if o.passed => Check::Pass,
            Some(_) => Check::Fail,
        },
        // FLOP per picosecond is TFLOP/s.
        tflops: if times.total_ps == 0 { 0.0 } else { p.flops() / times.total_ps as f64 },
        tolerance: checked.as_ref().map(|(o, _)| o.tolerance),
    };
    output::print(&report.render(global.format))?;
    match &checked {
        Some((outcome, _)) if !outcome.passed => Err(Failure::CheckFailed(anyhow!(
            "check failed: rank 0's Y is off by up to {:.3e}, beyond its element's bound (largest bound {:.3e}) for {} \
             with T = {}",
            outcome.max_abs_err,
            outcome.tolerance,
            p.dtype,
            p.tp
        ))),
        _ => Ok(()),
    }
}
