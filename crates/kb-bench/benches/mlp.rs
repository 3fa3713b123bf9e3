//! One forward of kb-tp's `ParallelMLP`, timing only: T = 8 ranks, B = 8, H = 4096, F = 16384,
//! f16 (`kb_bench::fixtures::mlp_forward_timing`) — spawn, `initialize_model_parallel`, the
//! shards' fills, both layers' GEMM and epilogue launches and the all-reduce, recorded and timed.
//!
//! Target (issue 7): report the wall time (no target figure set).
//!
//! Measured 2026-12-02 (AMD EPYC, 2 cores shared with other builds, release): 305 ms per forward
//! (294–315 ms, 10 samples) — 68 240 timed ops over the 8 ranks (the GEMMs' DMA and dot
//! ops dominate), so roughly 5 µs per op: recording through the runtime, not the engine, is the
//! cost to look at first.

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
