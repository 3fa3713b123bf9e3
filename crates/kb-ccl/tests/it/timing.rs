//! Timing: an uncontended ring all-reduce on the ring topology takes exactly its closed form.

use kb_ccl::{
    CclError, ProcessGroup, ReduceOp, all_gather_into_tensor_async, all_reduce_async, all_to_all_single_async,
    broadcast_async, new_group, reduce_scatter_tensor_async,
};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode, Topology};
use kb_sched::Runtime;

/// Picoseconds of `x` nanoseconds, rounded.
fn ps(ns: f64) -> u64 {
    (ns * 1000.0).round() as u64
}

/// The closed form, from the machine spec alone. Each chunk (`chunk_elems`) moves in `S` slices
/// of at most `collectives.slice_bytes`; a slice's hop takes `h = latency + slice/link_gbps`
/// (neighbours on the ring are one hop apart) and its reduce-into on the receiver's vector unit
/// `r = max(slice elements / (flops per cycle · clock), 3 · slice bytes / HBM share)` (it reads the
/// incoming scratch and the accumulator and writes the accumulator, all in HBM).
///
/// - One slice: each of the n−1 reduce-scatter steps is a hop then a reduce, each of the n−1
///   all-gather steps a hop: `(n−1)(h + r) + (n−1)h`.
/// - `S ≥ 2` slices with `r ≤ (S−1)h`: slice `j + 1` crosses the link while slice `j` is reduced
///   (on another PE), and slice `j` of the next step is ready before the link frees, so every
///   member's outgoing link is busy from start to end: `2(n−1)·S·h`.
fn closed_form(spec: &MachineSpec, n: u64, chunk_elems: u64, elem_bytes: u64) -> u64 {
    let slice_elems = (spec.collectives.slice_bytes / elem_bytes).min(chunk_elems);
    assert_eq!(chunk_elems % slice_elems, 0, "the closed form below is for whole slices");
    let slices = chunk_elems / slice_elems;
    let (hop, reduce) = hop_and_reduce(spec, slice_elems, elem_bytes);
    if slices == 1 {
        (n - 1) * (hop + reduce) + (n - 1) * hop
    } else {
        assert!(reduce <= (slices - 1) * hop, "the link is the bottleneck");
        2 * (n - 1) * slices * hop
    }
}

fn measure(n: u32, count: usize, dtype: DType) -> (u64, MachineSpec) {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = n;
    let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
    let spans = rt
        .spawn(n as usize, move |ctx| {
            let t = ctx.device().empty(&[count], dtype)?;
            let start = ctx.runtime().now();
            let end = all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?.wait()?;
            Ok::<_, CclError>((start, end))
        })
        .unwrap();
    let (start, end) = spans[0];
    assert!(spans.iter().all(|&s| s == (start, end)), "every rank starts and ends together: {spans:?}");
    (end - start, spec)
}

#[test]
fn an_uncontended_ring_all_reduce_takes_its_closed_form() {
    for (n, count, dtype) in [
        (2, 1 << 20, DType::F32),
        (3, 3 * 1000, DType::F32),
        (4, 1 << 16, DType::F16),
        (5, 5 * 777, DType::BF16),
        (8, 1 << 20, DType::F32),
        (8, 8, DType::I32),
        (4, 1 << 22, DType::BF16),
    ] {
        let (took, spec) = measure(n, count, dtype);
        let want = closed_form(&spec, u64::from(n), (count / n as usize) as u64, dtype.size() as u64);
        assert_eq!(took, want, "{n} ranks, {count} × {dtype}");
    }
}

#[test]
fn one_rank_takes_no_time() {
    let (took, _) = measure(1, 1000, DType::F32);
    assert_eq!(took, 0);
}

/// One hop and one reduce-into of a chunk, from the spec alone (as in [`closed_form`]).
fn hop_and_reduce(spec: &MachineSpec, chunk_elems: u64, elem_bytes: u64) -> (u64, u64) {
    let (d, c) = (&spec.device, &spec.cluster);
    let chunk_bytes = chunk_elems * elem_bytes;
    let hop = ps(c.link_latency_ns) + ps(chunk_bytes as f64 / c.link_gbps);
    let share = d.hbm_gbps / ((d.hbm_gbps / d.dma_gbps).floor()).max(1.0);
    let reduce =
        ps(chunk_elems as f64 / (d.vector_flops_per_cycle * d.clock_ghz)).max(ps((3 * chunk_bytes) as f64 / share));
    (hop, reduce)
}

/// Runs `body` on `n` ranks of a timing-only ring and returns each rank's (start, end).
fn spans(
    n: u32,
    body: impl Fn(&kb_sched::RankCtx) -> Result<u64, CclError> + 'static,
) -> (Vec<(u64, u64)>, MachineSpec) {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = n;
    let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
    let spans = rt
        .spawn(n as usize, move |ctx| {
            let start = ctx.runtime().now();
            Ok::<_, CclError>((start, body(&ctx)?))
        })
        .unwrap();
    (spans, spec)
}

#[test]
fn an_uncontended_reduce_scatter_takes_n_minus_1_hops_and_reduces() {
    for (n, m) in [(2u32, 1usize << 18), (5, 999), (8, 1 << 16)] {
        let (spans, spec) = spans(n, move |ctx| {
            let x = ctx.device().empty(&[n as usize * m], DType::F32)?;
            let out = ctx.device().empty(&[m], DType::F32)?;
            Ok(reduce_scatter_tensor_async(ctx, &ProcessGroup::world(ctx), &out, &x, ReduceOp::Sum)?.wait()?)
        });
        // Each part moves in slices; with one slice, each of the n−1 steps is a hop then a
        // reduce. With two ranks and S slices, the S hops run back to back and the last slice's
        // reduce ends last.
        let slice = (spec.collectives.slice_bytes / 4).min(m as u64);
        let slices = m as u64 / slice;
        let (hop, reduce) = hop_and_reduce(&spec, slice, 4);
        let want = if slices == 1 { u64::from(n - 1) * (hop + reduce) } else { slices * hop + reduce };
        assert!(slices == 1 || n == 2);
        for (start, end) in spans {
            assert_eq!(end - start, want, "{n} ranks, {m} per rank");
        }
    }
}

#[test]
fn an_uncontended_all_gather_takes_n_minus_1_hops() {
    for (n, m) in [(2u32, 1usize << 18), (5, 999), (8, 1 << 16)] {
        let (spans, spec) = spans(n, move |ctx| {
            let x = ctx.device().empty(&[m], DType::BF16)?;
            let out = ctx.device().empty(&[n as usize * m], DType::BF16)?;
            Ok(all_gather_into_tensor_async(ctx, &ProcessGroup::world(ctx), &out, &x)?.wait()?)
        });
        let (hop, _) = hop_and_reduce(&spec, m as u64, 2);
        // The local copy into the member's own part runs on PE 0's DMA engine meanwhile; it is
        // shorter than the hops here.
        let d = &spec.device;
        let copy =
            ps(d.dma_setup_ns) + ps((2 * m) as f64 / d.dma_gbps.min(d.hbm_gbps / (d.hbm_gbps / d.dma_gbps).floor()));
        for (start, end) in spans {
            assert!(copy < u64::from(n - 1) * hop);
            assert_eq!(end - start, u64::from(n - 1) * hop, "{n} ranks, {m} per rank");
        }
    }
}

#[test]
fn two_all_reduces_sharing_the_ring_take_about_twice_as_long() {
    let count = 1 << 20;
    let (one, _) = spans(4, move |ctx| {
        let t = ctx.device().empty(&[count], DType::F32)?;
        Ok(all_reduce_async(ctx, &ProcessGroup::world(ctx), &t, ReduceOp::Sum)?.wait()?)
    });
    let (two, _) = spans(4, move |ctx| {
        let (a, b) = (ctx.device().empty(&[count], DType::F32)?, ctx.device().empty(&[count], DType::F32)?);
        let world = ProcessGroup::world(ctx);
        let wa = all_reduce_async(ctx, &world, &a, ReduceOp::Sum)?;
        let wb = all_reduce_async(ctx, &world, &b, ReduceOp::Sum)?;
        Ok(wa.wait()?.max(wb.wait()?))
    });
    let (one, two) = (one[0].1 - one[0].0, two[0].1 - two[0].0);
    let ratio = two as f64 / one as f64;
    assert!((1.8..=2.05).contains(&ratio), "one {one} ps, two {two} ps: ratio {ratio}");
}

#[test]
fn all_reduces_on_disjoint_neighbour_groups_do_not_slow_each_other() {
    let count = 1 << 18;
    let (alone, _) = spans(4, move |ctx| {
        let t = ctx.device().empty(&[count], DType::F32)?;
        let g = new_group(ctx, &[0, 1])?;
        match g {
            Some(g) => Ok(all_reduce_async(ctx, &g, &t, ReduceOp::Sum)?.wait()?),
            None => Ok(ctx.runtime().now()),
        }
    });
    let (both, _) = spans(4, move |ctx| {
        let t = ctx.device().empty(&[count], DType::F32)?;
        let low = new_group(ctx, &[0, 1])?;
        let high = new_group(ctx, &[2, 3])?;
        let g = low.or(high).expect("every rank is in one");
        Ok(all_reduce_async(ctx, &g, &t, ReduceOp::Sum)?.wait()?)
    });
    let took = |s: &[(u64, u64)], r: usize| s[r].1 - s[r].0;
    assert_eq!(took(&both, 0), took(&alone, 0));
    assert_eq!(took(&both, 2), took(&alone, 0), "links 2↔3 are not links 0↔1");
}

#[test]
fn a_broadcast_pipelines_its_slices_along_the_chain() {
    // S slices, one hop h each. Slice k reaches the member i hops down the chain from the root at
    // (i + k + 1)·h, and that member forwards it by (i + k + 2)·h. A member's work covers its sends
    // too, so it ends at (i + S)·h — except the last member, which only receives: (n + S − 2)·h.
    for (n, root, slices) in [(2u32, 0usize, 1u64), (4, 1, 4), (7, 6, 3), (5, 2, 1)] {
        let spec = MachineSpec::default();
        let count = (slices * spec.collectives.slice_bytes / 4) as usize;
        let (spans, spec) = spans(n, move |ctx| {
            let t = ctx.device().empty(&[count], DType::F32)?;
            Ok(broadcast_async(ctx, &ProcessGroup::world(ctx), &t, root)?.wait()?)
        });
        let slice = (spec.collectives.slice_bytes / 4).min(count as u64);
        assert_eq!(count as u64, slices * slice);
        let (hop, _) = hop_and_reduce(&spec, slice, 4);
        for (rank, (start, end)) in spans.iter().enumerate() {
            let i = (rank + n as usize - root) % n as usize;
            let n = u64::from(n);
            let want = if i as u64 == n - 1 { (n + slices - 2) * hop } else { (i as u64 + slices) * hop };
            assert_eq!(end - start, want, "{n} ranks, root {root}: rank {rank}");
        }
    }
}

#[test]
fn ring_all_reduce_bus_bandwidth_approaches_the_link_bandwidth_as_size_grows() {
    // nccl-tests' bus bandwidth: size / time × 2(n−1)/n. Per slice the link also carries its
    // latency, so the ceiling is slice / (latency + slice / link_gbps): 91% on the default machine.
    let n = 8u32;
    let (mut first, mut last) = (None, 0.0);
    for mib in [1usize, 8, 64, 256] {
        let count = mib << 18;
        let (took, spec) = measure(n, count, DType::F32);
        let bytes = (count * 4) as f64;
        let busbw = bytes / (took as f64 / 1e3) * 2.0 * f64::from(n - 1) / f64::from(n);
        assert!(busbw >= last, "{mib} MiB: busbw {busbw} GB/s fell (was {last})");
        first.get_or_insert(busbw);
        last = busbw;
        if mib == 256 {
            let c = &spec.cluster;
            let slice = spec.collectives.slice_bytes as f64;
            let ceiling = c.link_gbps * (slice / c.link_gbps) / (c.link_latency_ns + slice / c.link_gbps);
            assert!(busbw > 0.97 * ceiling && busbw <= ceiling, "busbw {busbw} GB/s, ceiling {ceiling} GB/s");
            assert!(busbw > 0.85 * c.link_gbps, "busbw {busbw} GB/s on {} GB/s links", c.link_gbps);
            assert!(first.is_some_and(|f| f < 0.9 * busbw), "small sizes pay more latency: {first:?}");
        }
    }
}

#[test]
fn on_a_switch_every_ring_step_crosses_two_links() {
    // Up to the switch and down to the next member, store and forward: each step's slice takes
    // two hops. One slice per chunk: (n−1)(2h + r) + (n−1)·2h.
    for (n, count) in [(4u32, 4 * 1000usize), (8, 8 * 4096)] {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = n;
        spec.cluster.topology = Topology::Switch;
        let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
        let spans = rt
            .spawn(n as usize, move |ctx| {
                let t = ctx.device().empty(&[count], DType::F32)?;
                let start = ctx.runtime().now();
                Ok::<_, CclError>(
                    all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?.wait()? - start,
                )
            })
            .unwrap();
        let (hop, reduce) = hop_and_reduce(&spec, (count / n as usize) as u64, 4);
        let n = u64::from(n);
        assert_eq!(spans[0], (n - 1) * (2 * hop + reduce) + (n - 1) * 2 * hop, "{n} ranks");
    }
}

#[test]
fn on_a_torus_the_ring_algorithm_pays_for_the_wrap_around_route() {
    // A 2×2 torus: members 0, 1, 2, 3 sit at (0,0), (1,0), (0,1), (1,1). Ring neighbours 1→2 and
    // 3→0 are two hops apart (x then y), so the slowest step takes two hops.
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 4;
    spec.cluster.topology = Topology::Torus2d { dims: [2, 2] };
    assert_eq!(spec.route(1, 2).unwrap().len(), 2);
    assert_eq!(spec.route(0, 1).unwrap().len(), 1);
    let count = 4 * 1000;
    let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
    let spans = rt
        .spawn(4, move |ctx| {
            let t = ctx.device().empty(&[count], DType::F32)?;
            Ok::<_, CclError>(all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?.wait()?)
        })
        .unwrap();
    let (hop, reduce) = hop_and_reduce(&spec, 1000, 4);
    let on_a_ring = 3 * (hop + reduce) + 3 * hop;
    let slowest = spans.iter().max().copied().unwrap();
    assert!(slowest > on_a_ring, "{slowest} ps vs {on_a_ring} ps on a ring");
    assert!(slowest <= 3 * (2 * hop + reduce) + 3 * 2 * hop, "{slowest} ps");
}

/// A runtime in `mode` on `n` ranks of `topology`, with slices of `slice` bytes if given.
fn runtime_on(n: u32, topology: Topology, slice: Option<u64>, mode: Mode) -> Runtime {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = n;
    spec.cluster.topology = topology;
    if let Some(bytes) = slice {
        spec.collectives.slice_bytes = bytes;
    }
    Runtime::new(spec, mode).unwrap()
}

#[test]
fn recording_wave_by_wave_times_exactly_as_recording_at_once() {
    // A runtime that keeps data records a ring all-reduce at once, op by op; a timing-only one
    // records it step by step as the timing reaches each step; a lean one also records each op
    // by the cost of the first of its shape. Every member's span is the same all three ways: on
    // every topology (multi-hop routes on the switch and the torus), with uneven chunks cut into
    // several slices (the last one shorter), and with two all-reduces of two groups sharing links.
    let cases = [
        (2u32, 1usize << 20, DType::F32, ReduceOp::Sum, Topology::Ring, None),
        (5, 5 * 777 + 3, DType::BF16, ReduceOp::Avg, Topology::Ring, Some(1000)),
        (8, 3 << 18, DType::F16, ReduceOp::Max, Topology::Ring, None),
        (3, 1, DType::I32, ReduceOp::Sum, Topology::Ring, None),
        (6, 6 * 500 + 5, DType::F32, ReduceOp::Sum, Topology::Switch, Some(512)),
        (6, 6 * 500 + 1, DType::F16, ReduceOp::Sum, Topology::Torus2d { dims: [3, 2] }, Some(600)),
    ];
    for (n, count, dtype, op, topology, slice) in cases {
        let spans: Vec<Vec<[(u64, u64); 2]>> = [Mode::DATA, Mode::TIMING, Mode::TIMING_LEAN]
            .into_iter()
            .map(|mode| {
                let rt = runtime_on(n, topology, slice, mode);
                rt.spawn(n as usize, move |ctx| {
                    let t = ctx.device().empty(&[count], dtype)?;
                    let start = ctx.runtime().now();
                    let whole = (start, all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, op)?.wait()?);
                    // Then the even and the odd ranks at once, over links both rings use.
                    let evens: Vec<usize> = (0..n as usize).step_by(2).collect();
                    let odds: Vec<usize> = (1..n as usize).step_by(2).collect();
                    let (even, odd) = (new_group(&ctx, &evens)?, new_group(&ctx, &odds)?);
                    let group = even.or(odd).expect("every rank is even or odd");
                    let start = ctx.runtime().now();
                    let halves = (start, all_reduce_async(&ctx, &group, &t, op)?.wait()?);
                    Ok::<_, CclError>([whole, halves])
                })
                .unwrap()
            })
            .collect();
        let case = format!("{n} ranks on {topology}, {count} × {dtype}, {op}, slices {slice:?}");
        assert_eq!(spans[0], spans[1], "{case}: data vs timing");
        assert_eq!(spans[0], spans[2], "{case}: data vs lean");
    }
}

#[test]
fn ring_reduce_scatter_all_gather_and_all_to_all_time_the_same_recorded_wave_by_wave() {
    // As the all-reduce above: a reduce-scatter, then an all-gather of its result, then a pairwise
    // all-to-all of that, over the whole
    // world and then over the even and the odd ranks at once, take the same spans recorded at
    // once (data), wave by wave (timing) and wave by wave by cost (lean). Uneven parts cut into
    // slices with a shorter last one, `avg`, one and two members, multi-hop routes.
    let cases = [
        (1u32, 1000usize, DType::F32, ReduceOp::Avg, Topology::Ring, Some(1000)),
        (2, 1 << 18, DType::F32, ReduceOp::Sum, Topology::Ring, None),
        (3, 777, DType::BF16, ReduceOp::Avg, Topology::Ring, Some(1000)),
        (5, 1, DType::I32, ReduceOp::Max, Topology::Ring, None),
        (6, 501, DType::F32, ReduceOp::Sum, Topology::Switch, Some(512)),
        (6, 499, DType::F16, ReduceOp::Min, Topology::Torus2d { dims: [3, 2] }, Some(600)),
    ];
    for (n, part, dtype, op, topology, slice) in cases {
        let spans: Vec<Vec<Vec<(u64, u64)>>> = [Mode::DATA, Mode::TIMING, Mode::TIMING_LEAN]
            .into_iter()
            .map(|mode| {
                let rt = runtime_on(n, topology, slice, mode);
                rt.spawn(n as usize, move |ctx| {
                    let world = ProcessGroup::world(&ctx);
                    let mut groups = vec![(world.clone(), n as usize)];
                    if n > 1 {
                        let evens: Vec<usize> = (0..n as usize).step_by(2).collect();
                        let odds: Vec<usize> = (1..n as usize).step_by(2).collect();
                        let (even, odd) = (new_group(&ctx, &evens)?, new_group(&ctx, &odds)?);
                        let size = if ctx.rank() % 2 == 0 { evens.len() } else { odds.len() };
                        groups.push((even.or(odd).expect("every rank is even or odd"), size));
                    }
                    let mut spans = Vec::new();
                    for (group, size) in groups {
                        let whole = ctx.device().empty(&[size * part], dtype)?;
                        let mine = ctx.device().empty(&[part], dtype)?;
                        let start = ctx.runtime().now();
                        spans.push((start, reduce_scatter_tensor_async(&ctx, &group, &mine, &whole, op)?.wait()?));
                        let start = ctx.runtime().now();
                        spans.push((start, all_gather_into_tensor_async(&ctx, &group, &whole, &mine)?.wait()?));
                        let exchanged = ctx.device().empty(&[size * part], dtype)?;
                        let start = ctx.runtime().now();
                        spans.push((start, all_to_all_single_async(&ctx, &group, &exchanged, &whole)?.wait()?));
                    }
                    Ok::<_, CclError>(spans)
                })
                .unwrap()
            })
            .collect();
        let case = format!("{n} ranks on {topology}, parts of {part} × {dtype}, {op}, slices {slice:?}");
        assert!(spans[0].iter().flatten().all(|&(start, end)| end > start), "{case}: every collective takes time");
        assert_eq!(spans[0], spans[1], "{case}: data vs timing");
        assert_eq!(spans[0], spans[2], "{case}: data vs lean");
    }
}

#[test]
fn every_send_of_a_direct_broadcast_waits_for_the_roots_earlier_write() {
    // The root's tensor is read by one send per member: the second and later reads of it must
    // wait for the root's earlier write as the first does, not only for each other.
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 5;
    let rt = Runtime::new(spec, Mode::TIMING).unwrap();
    rt.spawn(5, |ctx| {
        let t = ctx.device().empty(&[1 << 16], DType::F32)?;
        if ctx.rank() == 2 {
            let big = ctx.device().full(&[1 << 16], 3.0, DType::F32)?;
            t.copy_from(&big)?;
        }
        let group = ProcessGroup::world(&ctx).with_algo(kb_oplog::CollectiveAlgo::Direct);
        Ok::<_, CclError>(broadcast_async(&ctx, &group, &t, 2)?.wait()?)
    })
    .unwrap();
    let (write_end, sends) = rt.with_sim(|sim| {
        let mut write_end = None;
        let mut sends = Vec::new();
        for (_, op, times) in sim.ops() {
            let times = times.expect("every op has run");
            match op.label.as_deref() {
                Some("copy_from") => write_end = Some(times.end),
                Some("broadcast direct send") => sends.push(times.start),
                _ => {}
            }
        }
        (write_end.expect("the root wrote its tensor"), sends)
    });
    assert_eq!(sends.len(), 4, "one send per other member");
    assert!(write_end > 0);
    for start in sends {
        assert!(start >= write_end, "a send starts at {start} ps, before the root's write ends at {write_end} ps");
    }
}
