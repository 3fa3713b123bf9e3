//! Collectives: a timing-only ring all-reduce of 1 MiB on 1024 ranks (about 3.1 million link
//! transfers and reductions), and the peak RSS of one of 1 GiB on 1024 ranks.
//!
//! Targets (issue 6): the 1 MiB run ≤ 100 ms wall for the whole run (spawn, rendezvous,
//! recording, timing); the 1 GiB run (two 512 KiB slices per chunk: about 6.3 million ops) with
//! peak RSS < 256 MiB.
//!
//! References, run side by side: `reference_minimal_ring_loop_1MiB_1024_ranks` (a minimal Rust
//! event loop for that ring alone over its materialised graph, [`minimal_ring_loop`]),
//! `reference_streaming_ring_loop_1MiB_1024_ranks` (the same loop generating and retiring ops as
//! it goes, [`minimal_ring_streaming`] — the shape of the issue's "minimal Rust event loop for
//! that ring alone"); both agree with kb-ccl's time to the picosecond. And `benches/ring_simpy.py`
//! (the same ring on greenlet and SimPy).
//!
//! Measured 2026-12-02, session 4 (AMD EPYC Zen 4, 2 vCPUs shared with other tenants, release
//! with fat LTO, criterion medians; absolute times drift up to 1.5× within a session):
//! - 1 MiB on 1024 ranks, the whole run: 265, 283, 290 and 292 ms in four criterion runs —
//!   target ≤ 100 ms not met. It was 349 ms at the end of session 3 and 0.77–0.88 s at the start
//!   of it. Side by side in the same runs, the materialised minimal loop: 134, 133, 115 and 127 ms
//!   (kernbench 1.98×, 2.13×, 2.52×, 2.30×; 2.5× in session 3). The streaming minimal loop, in
//!   the fourth run: 92.5 ms, so kernbench takes 3.15× it. The issue puts that loop at about 30 ms
//!   and the target at about 3.3× that; on this machine the streaming loop itself is three times
//!   slower than that figure (it too waits on memory: one step of 1024 ranks touches 2,048
//!   resource queues and 3,000 op records), so kernbench is within the ratio of the loop measured
//!   here but not at the absolute figure. The SimPy + greenlet script (`benches/ring_simpy.py`,
//!   the Python reference) simulated the same 1059.7 µs in 255 s, so kernbench is about
//!   960× faster (target ≥ 300×: met).
//! - 1 GiB on 1024 ranks (two slices per chunk, about 6.3 million ops): peak RSS 66 MiB — target
//!   met (155 MiB in session 3, before rendezvous stopped copying the member list per rank and
//!   the plan's slot states shrank to 16 bytes). Timing-only runs record the ring one step at a
//!   time as the timing reaches it, so only a step or two of ops is alive.
//! - 128 MiB on 8 ranks: 0.68–0.92 ms.
//!
//! Where the time goes (perf, 4 runs): the engine's timing loop 42% and adding ops to it 16% —
//! the same ring's ops added straight to an engine, wave by wave, take 180–200 ms on their own,
//! about 60 ns per op, bound by cache misses on op and resource records (a step of 1024 ranks
//! touches about 2,000 op records and 3,000 resource records, more than the L1 and much of the
//! L2 hold); the plan's per-slot bookkeeping (a million slots) and the ring's loop 26%; page faults
//! and freeing (1024 coroutine stacks, 16 MB of slot states) about 11%.

// A bench reports its memory figure to the person running it.
#![allow(clippy::print_stderr, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kb_bench::fixtures::{
    Collective, minimal_ring_loop, minimal_ring_streaming, peak_rss_kib, ring_all_reduce, timed_collective,
};
use kb_oplog::{CollectiveAlgo, Mode};

fn bench(c: &mut Criterion) {
    let before = peak_rss_kib();
    let took = ring_all_reduce(1024, 1 << 30, Mode::TIMING_LEAN).expect("1024 ranks run");
    eprintln!(
        "1 GiB ring all-reduce on 1024 ranks: simulated {} us; peak RSS {} MiB (before: {} MiB)",
        took / 1_000_000,
        peak_rss_kib() / 1024,
        before / 1024
    );
    let mut g = c.benchmark_group("collectives");
    g.sample_size(10);
    // 2(n − 1) transfers and n − 1 reductions per member.
    g.throughput(Throughput::Elements(3 * 1023 * 1024));
    g.bench_function("ring_all_reduce_1MiB_1024_ranks_timing_only", |b| {
        b.iter(|| ring_all_reduce(1024, 1 << 20, Mode::TIMING_LEAN).unwrap());
    });
    g.bench_function("reference_minimal_ring_loop_1MiB_1024_ranks", |b| b.iter(|| minimal_ring_loop(1024, 1 << 20)));
    g.bench_function("reference_streaming_ring_loop_1MiB_1024_ranks", |b| {
        b.iter(|| minimal_ring_streaming(1024, 1 << 20));
    });
    g.throughput(Throughput::Elements(3 * 7 * 8 * 256));
    g.bench_function("ring_all_reduce_128MiB_8_ranks_timing_only", |b| {
        b.iter(|| ring_all_reduce(8, 128 << 20, Mode::TIMING_LEAN).unwrap());
    });
    // The other collectives at the same scale, and `auto` (four algorithms' dry runs, bounded by
    // the best so far, then the pick's run).
    let run = |which, ranks, algo| move || timed_collective(which, ranks, 1 << 20, algo, Mode::TIMING_LEAN).unwrap();
    g.throughput(Throughput::Elements(2 * 1023 * 1024));
    g.bench_function("ring_reduce_scatter_1MiB_1024_ranks_timing_only", |b| {
        b.iter(run(Collective::ReduceScatter, 1024, CollectiveAlgo::Ring));
    });
    g.throughput(Throughput::Elements(1023 * 1024));
    g.bench_function("ring_all_gather_1MiB_1024_ranks_timing_only", |b| {
        b.iter(run(Collective::AllGather, 1024, CollectiveAlgo::Ring));
    });
    g.throughput(Throughput::Elements(255 * 256));
    g.bench_function("pairwise_all_to_all_1MiB_256_ranks_timing_only", |b| {
        b.iter(run(Collective::AllToAll, 256, CollectiveAlgo::Ring));
    });
    g.throughput(Throughput::Elements(3 * 1023 * 1024));
    g.bench_function("auto_all_reduce_1MiB_1024_ranks_timing_only", |b| {
        b.iter(run(Collective::AllReduce, 1024, CollectiveAlgo::Auto));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
