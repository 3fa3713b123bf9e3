//! Phase-2 GEMM replay at 1024×1024×1024: `kb_oplog::execute` of one `OpKind::Gemm` on a paged
//! `MemoryStore` (read A and B, convert to f32, multiply, round, write C), side by side with
//! numpy's single-threaded sgemm (`benches/gemm_numpy.py`).
//!
//! Targets: full op replay ≥ 1.0× numpy's f32 sgemm GFLOP/s with f32 operands, ≥ 0.95× with f16
//! or bf16 inputs (against the same numpy f32 figure). Throughput is printed as elements = FLOPs
//! (2·n³ per GEMM), so criterion's `Gelem/s` reads as GFLOP/s.
//!
//! Rerun both sides in one session, interleaved (numpy, Rust, numpy, Rust, …: the machine is
//! noisy, ±10 % between runs), and compare medians:
//!
//! ```text
//! env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 crates/kb-bench/benches/gemm_numpy.py
//! cargo bench -p kb-bench --bench gemm      # ~45 s
//! ```
//!
//! Measured 2026-11-24 on AMD EPYC (Zen 4, family 25 model 17, 2 vCPUs under KVM, AVX-512;
//! the `gemm` crate runs its AVX-512 kernel), against numpy 2.4.6 on OpenBLAS 0.3.31
//! (scipy-openblas64, kernel SkylakeX per threadpoolctl, 1 thread; neither OPENBLAS_CORETYPE nor
//! OPENBLAS_L2_SIZE set), numpy run before and after the Rust bench (99.2 and 101.6 GFLOP/s,
//! mean 100.4), after kb-mem's f16/bf16 encoding moved to `half`'s bulk conversion:
//!
//! | case                                   | GFLOP/s | ÷ numpy f32 | target |
//! |----------------------------------------|---------|-------------|--------|
//! | numpy f32 `np.matmul(a, b, out=c)`     | 100.4   | 1           |        |
//! | numpy f16 path `a.astype(f32) @ b...`  |  83.8   | 0.83        |        |
//! | `op_f32` (f32 → f32 op replay)         | 102.2   | 1.02        | ≥ 1.0  |
//! | `op_f16` (f16 → f16)                   | 100.3   | 1.00        | ≥ 0.95 |
//! | `op_bf16` (bf16 → bf16)                |  97.3   | 0.97        | ≥ 0.95 |
//! | `op_f16_in_f32_out` (f16 → f32)        |  95.6   | 0.95        | ≥ 0.95 |
//!
//! An earlier round (eight interleaved runs, before the bulk f16 encoding) had `op_f16` at 0.88×:
//! writing C converted f16 one element at a time (1.8 ms per 1024² region against 0.2 ms in
//! bulk). The bare multiply (`bare_sgemm_f32`) measured 1.06–1.08× numpy; the store traffic
//! around it (reads ~0.14–0.34 ms, writes ~0.3–0.4 ms per 1024² region) is what separates the op
//! from the multiply. The machine is noisy (±10 % between runs): compare medians of interleaved
//! runs.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kb_bench::fixtures::{gemm_store, xorshift_f32};
use kb_mem::DType;
use kb_oplog::{OpKind, Pe, execute, sgemm};
use std::hint::black_box;
use std::time::Duration;

const N: usize = 1024;
const FLOPS: u64 = 2 * (N as u64).pow(3);

/// Replays one 1024³ GEMM op with `ab` inputs and a `c` output, and checks a few entries of C
/// against f64 dot products of the stored (rounded) operands.
fn checked_op(ab: DType, c: DType) -> (kb_mem::MemoryStore, OpKind) {
    let (mut store, a, b, c) = gemm_store(N, N, N, ab, c).expect("a 16 GiB HBM space holds the operands");
    let op = OpKind::Gemm { pe: Pe { device: 0, pe: 0 }, a: a.clone(), b: b.clone(), c: c.clone(), accumulate: false };
    execute(&mut store, &op).expect("a valid GEMM op");
    let (av, bv, cv) = (
        store.read_region_f32(&a).expect("a"),
        store.read_region_f32(&b).expect("b"),
        store.read_region_f32(&c).expect("c"),
    );
    for (i, j) in [(0, 0), (17, 1000), (N - 1, N - 1)] {
        let want: f64 = (0..N).map(|p| f64::from(av[i * N + p]) * f64::from(bv[p * N + j])).sum();
        // f32 accumulation over 1024 terms of magnitude ≤ 1, then one rounding into C's dtype.
        let tol = 1e-3 + want.abs() * if c.dtype == DType::F32 { 1e-5 } else { 1e-2 };
        assert!((f64::from(cv[i * N + j]) - want).abs() <= tol, "c[{i},{j}] = {} vs {want}", cv[i * N + j]);
    }
    (store, op)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm_1024");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(FLOPS));
    for (name, ab, cd) in [
        ("op_f32", DType::F32, DType::F32),
        ("op_f16", DType::F16, DType::F16),
        ("op_bf16", DType::BF16, DType::BF16),
        ("op_f16_in_f32_out", DType::F16, DType::F32),
    ] {
        let (mut store, op) = checked_op(ab, cd);
        g.bench_function(name, |bch| bch.iter(|| execute(&mut store, black_box(&op)).expect("a valid GEMM op")));
    }
    let (a, b) = (xorshift_f32(1, N * N), xorshift_f32(2, N * N));
    let mut out = vec![0f32; N * N];
    g.bench_function("bare_sgemm_f32", |bch| {
        bch.iter(|| sgemm(N, N, N, black_box(&a), black_box(&b), &mut out, false));
    });
    g.finish();

    // The store traffic around the multiply: one operand read (the op reads two) and the C write.
    let mut g = c.benchmark_group("store_1024x1024");
    g.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements((N * N) as u64));
    for (name, dtype) in [("f32", DType::F32), ("f16", DType::F16), ("bf16", DType::BF16)] {
        let (mut store, a, _, c) = gemm_store(N, N, N, dtype, dtype).expect("a 16 GiB HBM space holds the operands");
        g.bench_function(format!("read_region_f32_{name}"), |bch| {
            bch.iter(|| store.read_region_f32(black_box(&a)).expect("a readable region"));
        });
        g.bench_function(format!("write_region_f32_{name}"), |bch| {
            bch.iter(|| store.write_region_f32(black_box(&c), &out).expect("a writable region"));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
