//! Recording + timing a 4096³ GEMM (blocks 128×128×128) through the runtime in timing-only mode:
//! the tile kernel runs shape-only for each of the 1024 programs, every op is validated, costed
//! and timed by the engine.
//!
//! Issue 4 asks for the ops/s figure. Measured 2026-11-24 (AMD EPYC Zen 4, one core, release):
//! 102 401 ops (1024 programs) recorded and timed in 226 ms lean (≈ 453 k ops/s, kernel code,
//! block pointers, hazards, validation, cost model and engine included), simulating 5787 µs.
//!
//! Measured 2026-12-02, session 3, after a touch keeps its box inline and its span computed once
//! and the engine was reworked: 177 ms lean (≈ 580 k ops/s; 165–187 ms), 219 ms keeping every op
//! (≈ 467 k ops/s). Side by side with the previous commit, best of three runs each, alternating:
//! 182–200 ms → 143–162 ms lean.
//!
//! Measured 2026-12-02, session 4, with fat LTO and the engine's 32-byte resource records: 125 ms
//! lean (≈ 820 k ops/s; 118–136 ms), 219 ms keeping every op (196–242 ms).

// A bench reports its op count to the person running it.
#![allow(clippy::print_stderr, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kb_bench::fixtures::record_gemm_4096;
use kb_oplog::Mode;

fn bench(c: &mut Criterion) {
    let (ops, makespan) = record_gemm_4096(Mode::TIMING_LEAN).expect("the GEMM records");
    eprintln!("4096³ GEMM: {ops} ops, simulated {:.1} µs", makespan as f64 / 1e6);
    let mut g = c.benchmark_group("runtime");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ops));
    g.bench_function("gemm_4096_record_and_time_lean", |b| b.iter(|| record_gemm_4096(Mode::TIMING_LEAN).unwrap()));
    g.bench_function("gemm_4096_record_and_time_keep_ops", |b| b.iter(|| record_gemm_4096(Mode::TIMING).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
