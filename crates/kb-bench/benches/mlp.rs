//! One forward of kb-tp's `ParallelMLP`, timing only: T = 8 ranks, B = 8, H = 4096, F = 16384,
//! f16 (`kb_bench::fixtures::mlp_forward_timing`) — spawn, `initialize_model_parallel`, the
//! shards' fills, both layers' GEMM and epilogue launches and the all-reduce, recorded and timed.
//!
//! Target (issue 7): report the wall time. Measured 2026-11-25 (AMD EPYC Zen 4, release): see the
//! figure below, updated with each run that changes it.
//!
//! Last measured: MEASURED_FIGURE.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use kb_bench::fixtures::mlp_forward_timing;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mlp");
    g.sample_size(10);
    g.bench_function("parallel_mlp_forward_t8_b8_h4096_timing_only", |b| {
        b.iter(|| mlp_forward_timing(8, 8, 4096).expect("the forward runs"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
