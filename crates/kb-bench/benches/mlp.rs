//! One forward of kb-tp's `ParallelMLP`, timing only: T = 8 ranks, B = 8, H = 4096, F = 16384,
//! f16 (`kb_bench::fixtures::mlp_forward_timing`) — spawn, `initialize_model_parallel`, the
//! shards' fills, both layers' GEMM and epilogue launches and the all-reduce, recorded and timed.
//!
//! Target (issue 7): report the wall time (no target figure set).
//!
//! Measured 2026-12-02, session 2 (AMD EPYC, 2 cores shared with other builds, release): 244 ms
//! per forward (221–266 ms, 10 samples), on a runtime keeping every op, for 51 856 timed ops over
//! the 8 ranks (33 728 DMA, 16 384 GEMM, the rest fills, vector ops and the all-reduce's 112 link
//! transfers).
//!
//! Measured 2026-12-02, session 3: 152 ms (140–172 ms), about 2.9 µs per op, recording and timing
//! together, on a runtime that keeps no ops (as `kernbench mlp --timing-only` now runs without
//! `--trace`; keeping them costs about 20% more: 187–197 ms against 151–161 ms side by side).
//! Where the time goes (perf): the GEMM kernel's recording — program instances' loads and dots,
//! tile allocation in TCM and the tensors' hazard tracking — about three quarters; the engine
//! about a tenth; page faults of growing tables about a fifth.
//!
//! Measured 2026-12-02, session 4, after the release profile took fat LTO (kb-sched, kb-oplog and
//! kb-mem inline into each other) and the engine's resource records halved: 105 ms (101–112 ms).

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use kb_bench::fixtures::mlp_forward_timing;
use kb_oplog::Mode;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mlp");
    g.sample_size(10);
    g.bench_function("parallel_mlp_forward_t8_b8_h4096_timing_only", |b| {
        b.iter(|| mlp_forward_timing(8, 8, 4096, Mode::TIMING_LEAN).expect("the forward runs"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
