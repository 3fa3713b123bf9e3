//! The multi-rank scheduler: a park/resume round trip, and spawn + join of 1024 ranks that each
//! launch a small kernel and wait for it.
//!
//! Targets (issue 5): round trip ≤ 100 ns (the `may` pattern measured 52–77 ns on these machines);
//! 1024 ranks in < 100 ms wall time and < 128 MiB peak RSS.
//!
//! Measured 2026-11-24 (AMD EPYC Zen 4, release): park/resume round trip 84 ns (one rank yielding
//! 100 000 times through the scheduler, rounds included); spawn + join of 1024 ranks that each
//! launch a kernel and wait 41 ms, peak RSS 45 MiB for the whole process.

// A bench reports its memory figure to the person running it.
#![allow(clippy::print_stderr, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kb_bench::fixtures::{peak_rss_kib, spawn_1024_small_kernels, yield_round_trips};

fn bench(c: &mut Criterion) {
    let before = peak_rss_kib();
    spawn_1024_small_kernels().expect("1024 ranks run");
    eprintln!("peak RSS after one spawn of 1024 ranks: {} MiB (before: {} MiB)", peak_rss_kib() / 1024, before / 1024);
    let mut g = c.benchmark_group("ranks");
    let trips = 100_000u64;
    g.throughput(Throughput::Elements(trips));
    g.bench_function("park_resume_round_trip", |b| b.iter(|| yield_round_trips(trips).unwrap()));
    g.throughput(Throughput::Elements(1024));
    g.sample_size(10);
    g.bench_function("spawn_1024_ranks_kernel_and_wait", |b| b.iter(|| spawn_1024_small_kernels().unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
