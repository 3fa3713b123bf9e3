//! `kernbench gemm`: one launch of kb-sched's GEMM kernel, `C = A·B` with A [M, K], B [K, N] and
//! C [M, N] in one dtype, on device 0; reports its simulated time, TFLOP/s and GEMM utilization
//! and, unless `--timing-only`, its error against a host reference ([`check`]).
//!
//! The time is the launch's own: the input writes run to their end first (`Runtime::run_all`),
//! then the clock is read, the kernel launched and waited for — the same in data and timing-only
//! runs. Inputs are `--a`/`--b` `.npy` files (f32, rounded to the dtype on load, or the dtype
//! itself) or seeded pseudo-random values in [-1, 1); a timing-only run without files fills A and
//! B on the device instead, which costs the host channel the same time and makes no host data.

pub(crate) mod check;
pub(crate) mod report;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::anyhow;
use clap::Args;
use kb_mem::DType;
use kb_oplog::MachineSpec;
use kb_sched::npy::{self, NpyArray};
use kb_sched::{Device, GemmBlocks, Runtime, SchedError, Tensor, gemm};

use crate::cli::rng::XorShift64Star;
use crate::cli::size::parse_size;
use crate::cli::{Classify, Failure, GlobalArgs, output};
use report::{Check, GemmReport};

/// Seed of A's pseudo-random values.
const SEED_A: u64 = 0x6b65_726e_6265_6e41; // "kernbenA"
/// Seed of B's pseudo-random values.
const SEED_B: u64 = 0x6b65_726e_6265_6e42; // "kernbenB"

/// The flags of `kernbench gemm`. Sizes take K/M/G suffixes (powers of 1024: `4K` = 4096).
#[derive(Debug, Args)]
pub(crate) struct GemmArgs {
    /// Rows of A and C.
    #[arg(long, value_parser = parse_size)]
    m: usize,
    /// Columns of B and C.
    #[arg(long, value_parser = parse_size)]
    n: usize,
    /// Columns of A, rows of B (the reduction).
    #[arg(long, value_parser = parse_size)]
    k: usize,
    /// Element type of A, B and C: f16, bf16 or f32 (the kernel accumulates in f32).
    #[arg(long, value_parser = parse_gemm_dtype, default_value = "f16")]
    dtype: DType,
    /// Rows of C per program [default: 128].
    #[arg(long, value_parser = parse_size, value_name = "BM")]
    block_m: Option<usize>,
    /// Columns of C per program [default: 128].
    #[arg(long, value_parser = parse_size, value_name = "BN")]
    block_n: Option<usize>,
    /// Depth of one step along K [default: 64].
    #[arg(long, value_parser = parse_size, value_name = "BK")]
    block_k: Option<usize>,
    /// A from a .npy file of shape [M, K], f32 (rounded to the dtype) or the dtype itself
    /// [default: seeded pseudo-random values in [-1, 1)].
    #[arg(long, value_name = "A.npy")]
    a: Option<PathBuf>,
    /// B from a .npy file of shape [K, N], like --a.
    #[arg(long, value_name = "B.npy")]
    b: Option<PathBuf>,
    /// Write C to a .npy file: f16 for f16, f32 otherwise (bf16 widened exactly).
    #[arg(long, value_name = "C.npy")]
    out: Option<PathBuf>,
    /// Simulate time only: no data is kept, so no check and no --out (much faster for big sizes).
    #[arg(long)]
    timing_only: bool,
}

/// Parses `--dtype`: any name `DType` reads, if the GEMM kernel takes it.
pub(crate) fn parse_gemm_dtype(text: &str) -> Result<DType, String> {
    match DType::from_str(text).map_err(|e| e.to_string())? {
        dtype @ (DType::F16 | DType::BF16 | DType::F32) => Ok(dtype),
        other => Err(format!("the GEMM kernel takes f16, bf16 or f32, not {other}")),
    }
}

/// A validated request: sizes, dtype and blocks that fit the machine.
#[derive(Debug, Clone, Copy)]
struct Problem {
    m: usize,
    n: usize,
    k: usize,
    dtype: DType,
    blocks: GemmBlocks,
}

impl Problem {
    /// Checks `args` against `machine` before anything is simulated: every size positive, the
    /// blocks within one PE's TCM, A, B and C within device 0's HBM, `--out` only with data.
    fn new(machine: &MachineSpec, args: &GemmArgs) -> Result<Problem, Failure> {
        let default = GemmBlocks::default();
        let blocks = GemmBlocks {
            m: args.block_m.unwrap_or(default.m),
            n: args.block_n.unwrap_or(default.n),
            k: args.block_k.unwrap_or(default.k),
        };
        let sizes = [
            ("--m", args.m),
            ("--n", args.n),
            ("--k", args.k),
            ("--block-m", blocks.m),
            ("--block-n", blocks.n),
            ("--block-k", blocks.k),
        ];
        for (flag, value) in sizes {
            if value == 0 {
                return Err(Failure::bad_input(format!("{flag} must be positive, got 0")));
            }
        }
        let p = Problem { m: args.m, n: args.n, k: args.k, dtype: args.dtype, blocks };
        let tcm = machine.device.tcm_bytes;
        match p.tcm_need() {
            Some(need) if need as u64 <= tcm => {}
            need => {
                let need = need.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string());
                return Err(Failure::bad_input(format!(
                    "blocks {} need {need} bytes of TCM per program but a PE has {tcm} (device.tcm_bytes); \
                     use smaller --block-m/--block-n/--block-k",
                    p.blocks_text()
                )));
            }
        }
        let hbm = machine.device.hbm_bytes;
        match p.hbm_need() {
            Some(need) if need <= hbm => {}
            need => {
                let need = need.map_or_else(|| "more than u64::MAX".to_string(), |n| n.to_string());
                return Err(Failure::bad_input(format!(
                    "A, B and C of {} need {need} bytes of HBM but device 0 has {hbm} (device.hbm_bytes)",
                    p.dtype
                )));
            }
        }
        if args.timing_only && args.out.is_some() {
            return Err(Failure::bad_input("--out needs the values of C, but --timing-only keeps no data"));
        }
        Ok(p)
    }

    /// TCM bytes one program needs (`GemmBlocks::tcm_bytes`), or `None` when a tile's element
    /// count is so large that the formula would overflow (it cannot fit then anyway).
    fn tcm_need(&self) -> Option<usize> {
        let limit = usize::MAX / 64;
        let tile = |x: usize, y: usize| x.checked_mul(y).is_some_and(|t| t <= limit);
        let b = self.blocks;
        (tile(b.m, b.k) && tile(b.k, b.n) && tile(b.m, b.n)).then(|| b.tcm_bytes(self.dtype, self.dtype))
    }

    /// HBM bytes of A, B and C, or `None` on overflow.
    fn hbm_need(&self) -> Option<u64> {
        let bytes = |x: usize, y: usize| x.checked_mul(y)?.checked_mul(self.dtype.size()).map(|b| b as u64);
        bytes(self.m, self.k)?.checked_add(bytes(self.k, self.n)?)?.checked_add(bytes(self.m, self.n)?)
    }

    fn blocks_text(&self) -> String {
        format!("{}x{}x{}", self.blocks.m, self.blocks.n, self.blocks.k)
    }

    /// 2·M·N·K.
    fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// Runs `kernbench gemm`.
pub(crate) fn run(machine: &MachineSpec, global: &GlobalArgs, args: &GemmArgs) -> Result<(), Failure> {
    let p = Problem::new(machine, args)?;
    let rt = Runtime::new(machine.clone(), global.mode(args.timing_only)).internal()?;
    let dev = rt.device(0).internal()?;
    let a =
        input(&dev, args.a.as_deref(), Operand { flag: "--a", shape: [p.m, p.k], dims: "[M, K]", seed: SEED_A }, p)?;
    let b =
        input(&dev, args.b.as_deref(), Operand { flag: "--b", shape: [p.k, p.n], dims: "[K, N]", seed: SEED_B }, p)?;
    let c = dev.empty(&[p.m, p.n], p.dtype).map_err(user_if_too_big)?;

    // The inputs are ready when their writes end; the launch is timed from there.
    rt.run_all();
    let start = rt.now();
    let work = gemm(&dev, &a, &b, &c, false, p.blocks).map_err(user_if_too_big)?;
    let end = work.wait().internal()?;

    let checked = if args.timing_only { None } else { Some(check_result(&a, &b, &c, p)?) };
    if let (Some(path), Some((_, c_values))) = (&args.out, &checked) {
        write_c(path, p, c_values)?;
    }
    if let Some(path) = &global.trace {
        rt.write_trace(path).bad_input()?;
    }

    let time_ps =
        end.checked_sub(start).ok_or_else(|| Failure::Internal(anyhow!("the launch ended before it began")))?;
    let device = &machine.device;
    let rate = device.gemm_flops_per_cycle.get(p.dtype).ok_or_else(|| Failure::Internal(anyhow!("no GEMM rate")))?;
    // FLOP/s = pes · FLOP/cycle · GHz · 1e9, so TFLOP/s = pes · FLOP/cycle · GHz / 1e3.
    let peak_tflops = f64::from(device.pes) * rate * device.clock_ghz / 1e3;
    // FLOP per picosecond is TFLOP/s.
    let tflops = p.flops() / time_ps as f64;
    let report = GemmReport {
        m: p.m,
        n: p.n,
        k: p.k,
        dtype: p.dtype.name(),
        time_us: time_ps as f64 / 1e6,
        tflops,
        utilization: tflops / peak_tflops,
        check: checked.as_ref().map_or(Check::Skipped, |(outcome, _)| outcome.check()),
        max_abs_err: checked.as_ref().map(|(outcome, _)| outcome.max_abs_err),
        blocks: p.blocks_text(),
        tolerance: checked.as_ref().map(|(outcome, _)| outcome.tolerance),
    };
    output::print(&report.render(global.format))?;
    match &checked {
        Some((outcome, _)) if !outcome.passed() => Err(Failure::CheckFailed(anyhow!(
            "check failed: max_abs_err {:.3e} exceeds the tolerance {:.3e} for {} with k = {}",
            outcome.max_abs_err,
            outcome.tolerance,
            p.dtype,
            p.k
        ))),
        _ => Ok(()),
    }
}

/// What an input operand is, for loading it and for error messages.
#[derive(Debug, Clone, Copy)]
struct Operand {
    /// Its flag.
    flag: &'static str,
    /// The shape it must have.
    shape: [usize; 2],
    /// That shape in letters.
    dims: &'static str,
    /// The seed of its pseudo-random values.
    seed: u64,
}

/// Creates an input on `dev`: read from `path`, or pseudo-random, or (timing only) filled.
fn input(dev: &Device, path: Option<&Path>, op: Operand, p: Problem) -> Result<Tensor, Failure> {
    let tensor = match path {
        Some(path) => {
            let array = npy::read_npy(path).bad_input()?;
            if array.dtype != DType::F32 && array.dtype != p.dtype {
                return Err(Failure::bad_input(format!(
                    "{}: {} holds {} values; with --dtype {} it must hold f32 (rounded on load) or {}",
                    path.display(),
                    op.flag,
                    array.dtype,
                    p.dtype,
                    p.dtype
                )));
            }
            if array.shape != op.shape {
                return Err(Failure::bad_input(format!(
                    "{}: {} has shape {:?} but must be {} = {:?} for --m {} --n {} --k {}",
                    path.display(),
                    op.flag,
                    array.shape,
                    op.dims,
                    op.shape,
                    p.m,
                    p.n,
                    p.k
                )));
            }
            dev.from_f32(&op.shape, p.dtype, &array.to_f32())
        }
        None if dev.runtime().keeps_data() => {
            let values = XorShift64Star::new(op.seed).signed_units(op.shape[0] * op.shape[1]);
            dev.from_f32(&op.shape, p.dtype, &values)
        }
        None => dev.zeros(&op.shape, p.dtype),
    };
    tensor.map_err(user_if_too_big)
}

/// A runtime error that the request's size caused (HBM or TCM exhausted, a shape too large) is
/// bad input; any other is the simulator's.
pub(crate) fn user_if_too_big(e: SchedError) -> Failure {
    match e {
        SchedError::HbmExhausted { .. } | SchedError::TcmExhausted { .. } | SchedError::Mem(_) => {
            Failure::BadInput(e.into())
        }
        _ => Failure::Internal(e.into()),
    }
}

/// Reads A, B and C back and checks C against the host reference; returns the outcome and C.
fn check_result(a: &Tensor, b: &Tensor, c: &Tensor, p: Problem) -> Result<(check::Outcome, Vec<f32>), Failure> {
    let a = a.to_vec::<f32>().internal()?;
    let b = b.to_vec::<f32>().internal()?;
    let c = c.to_vec::<f32>().internal()?;
    let outcome = check::check(check::Gemm { m: p.m, n: p.n, k: p.k, dtype: p.dtype }, &a, &b, &c);
    Ok((outcome, c))
}

/// Writes C to `path` (see [`write_result`]).
fn write_c(path: &Path, p: Problem, c: &[f32]) -> Result<(), Failure> {
    write_result(path, &[p.m, p.n], p.dtype, c)
}

/// Writes a result of `shape` and `dtype` read back as f32 to `path`: f16 as f16 (exact), f32 and
/// bf16 as f32 (bf16 widens exactly; numpy has no bfloat16).
pub(crate) fn write_result(path: &Path, shape: &[usize], dtype: DType, values: &[f32]) -> Result<(), Failure> {
    let dtype = if dtype == DType::F16 { DType::F16 } else { DType::F32 };
    let array = NpyArray::from_f32(shape, dtype, values).internal()?;
    npy::write_npy(path, &array).bad_input()
}
