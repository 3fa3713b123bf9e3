//! Every collective × algorithm × world size {1, 2, 3, 4, 5, 7, 8, 16} × dtype × reduce op, with
//! counts not divisible by the world size and empty tensors, against host references that replay
//! each algorithm's documented reduction order in plain loops. The machine's slices are tiny
//! (`collectives.slice_bytes = 12`), so every pipelined path cuts its chunks into several uneven
//! slices.

use kb_ccl::{
    CclError, CollectiveAlgo, ProcessGroup, ReduceOp, all_gather_into_tensor, all_reduce, broadcast, reduce,
    reduce_scatter_tensor,
};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode, Topology};
use kb_sched::{RankCtx, Runtime, SpawnError, Tensor};

use crate::reference::{chain_reduce, combine, input, read_bits, ring_all_reduce, ring_reduce_scatter, round, to_bits};

const WORLDS: [usize; 8] = [1, 2, 3, 4, 5, 7, 8, 16];
const DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::I32];
const ALGOS: [CollectiveAlgo; 4] =
    [CollectiveAlgo::Ring, CollectiveAlgo::Direct, CollectiveAlgo::HalvingDoubling, CollectiveAlgo::Tree];

fn ops_for(dtype: DType) -> Vec<ReduceOp> {
    let mut ops = vec![ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Product];
    ops.extend(if dtype.is_float() { [ReduceOp::Avg] } else { [ReduceOp::BXor] });
    ops
}

/// Rank `rank`'s `numel` input values, rounded to the dtype.
fn values(rank: usize, numel: usize, op: ReduceOp, dtype: DType) -> Vec<f32> {
    (0..numel).map(|i| round(dtype, input(rank, i, op, dtype))).collect()
}

fn make(ctx: &RankCtx, numel: usize, op: ReduceOp, dtype: DType) -> Result<Tensor, CclError> {
    let v = values(ctx.rank(), numel, op, dtype);
    Ok(if dtype == DType::I32 {
        ctx.device().from_slice(&[numel], &v.iter().map(|&x| x as i32).collect::<Vec<_>>())?
    } else {
        ctx.device().from_f32(&[numel], dtype, &v)?
    })
}

/// Counts: empty, one element, and one not divisible by the world size.
fn counts(n: usize) -> [usize; 3] {
    [0, 1, 2 * n + 1]
}

/// Runs `body` on `n` ranks of a machine with 12-byte slices.
fn run<T: 'static>(n: usize, body: impl Fn(RankCtx) -> Result<T, CclError> + 'static) -> Result<Vec<T>, SpawnError> {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = n as u32;
    spec.collectives.slice_bytes = 12;
    Runtime::new(spec, Mode::DATA).unwrap().spawn(n, body)
}

/// Finishes a reduction: `avg` divides once by `n`, rounding.
fn finish(acc: f32, n: usize, op: ReduceOp, dtype: DType) -> u32 {
    let acc = if op == ReduceOp::Avg { round(dtype, acc / n as f32) } else { acc };
    to_bits(dtype, acc)
}

/// `((x0 op x1) op x2) …` in member order: the direct algorithms' order.
fn in_member_order(xs: &[f32], op: ReduceOp, dtype: DType) -> f32 {
    xs[1..].iter().fold(xs[0], |acc, &x| combine(op, dtype, acc, x))
}

/// The halving-doubling order: `v[p] = op(v[p], v[p xor d])` for `d = n/2, …, 1`.
fn butterfly(xs: &[f32], op: ReduceOp, dtype: DType) -> f32 {
    let mut v = xs.to_vec();
    let mut d = xs.len() / 2;
    while d >= 1 {
        v = (0..v.len()).map(|p| combine(op, dtype, v[p], v[p ^ d])).collect();
        d /= 2;
    }
    v[0]
}

/// The binomial reduce order, positions counted from the root: `v[r] = op(v[r], v[r + d])` for
/// `r mod 2d = 0`, `d = 1, 2, …`.
fn binomial(xs: &[f32], root: usize, op: ReduceOp, dtype: DType) -> f32 {
    let n = xs.len();
    let mut v: Vec<f32> = (0..n).map(|r| xs[(root + r) % n]).collect();
    let mut d = 1;
    while d < n {
        for r in (0..n).step_by(2 * d) {
            if r + d < n {
                v[r] = combine(op, dtype, v[r], v[r + d]);
            }
        }
        d *= 2;
    }
    v[0]
}

/// The partial result of the subtree over positions `lo .. hi` of the in-order binary tree whose
/// position `i` holds member `(i + shift) mod n`: `op(op(own, left), right)`.
fn tree_partial(xs: &[f32], lo: usize, hi: usize, shift: usize, op: ReduceOp, dtype: DType) -> Option<f32> {
    if lo >= hi {
        return None;
    }
    let mid = lo + (hi - lo) / 2;
    let mut acc = xs[(mid + shift) % xs.len()];
    let children = [tree_partial(xs, lo, mid, shift, op, dtype), tree_partial(xs, mid + 1, hi, shift, op, dtype)];
    for c in children.into_iter().flatten() {
        acc = combine(op, dtype, acc, c);
    }
    Some(acc)
}

/// The members' results, or `None` when `algo` cannot run `collective` on `n` members — after
/// checking that every member was refused with the reason [`refusal`] gives.
fn accepted<T>(
    got: Result<Vec<T>, SpawnError>,
    collective: &str,
    algo: CollectiveAlgo,
    n: usize,
    dtype: DType,
) -> Option<Vec<T>> {
    if let Some(why) = refusal(algo, n, collective == "all_reduce") {
        let e = got.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(&format!("{collective}: rank 0: {why}")), "{e}");
        return None;
    }
    Some(got.unwrap_or_else(|e| panic!("{algo}, {n} ranks, {dtype}: {e}")))
}

/// The expected all-reduce result of `algo`, as bit patterns.
fn all_reduce_reference(inputs: &[Vec<f32>], algo: CollectiveAlgo, op: ReduceOp, dtype: DType) -> Vec<u32> {
    let (n, count) = (inputs.len(), inputs[0].len());
    if algo == CollectiveAlgo::Ring {
        return ring_all_reduce(inputs, op, dtype);
    }
    let half = count.div_ceil(2);
    (0..count)
        .map(|i| {
            let xs: Vec<f32> = inputs.iter().map(|x| x[i]).collect();
            let acc = match algo {
                CollectiveAlgo::Direct => in_member_order(&xs, op, dtype),
                CollectiveAlgo::HalvingDoubling => butterfly(&xs, op, dtype),
                CollectiveAlgo::Tree => {
                    let tree = usize::from(i >= half);
                    tree_partial(&xs, 0, n, tree, op, dtype).unwrap_or(xs[0])
                }
                _ => unreachable!("ring is above"),
            };
            if n == 1 { to_bits(dtype, xs[0]) } else { finish(acc, n, op, dtype) }
        })
        .collect()
}

/// What a member is told when `algo` cannot run a collective on `n` members (`all_reduce`: the
/// collective is an all-reduce; every other collective refuses the tree).
fn refusal(algo: CollectiveAlgo, n: usize, all_reduce: bool) -> Option<String> {
    match algo {
        CollectiveAlgo::HalvingDoubling if !n.is_power_of_two() => {
            Some(format!("algorithm halving-doubling needs a group whose size is a power of two, not {n}"))
        }
        CollectiveAlgo::Tree if !all_reduce => {
            Some("algorithm tree runs all-reduce only (use ring, direct or halving-doubling)".into())
        }
        _ => None,
    }
}

#[test]
fn all_reduce_by_every_algorithm_matches_its_reference_bitwise_on_every_member() {
    for algo in ALGOS {
        for n in WORLDS {
            for dtype in DTYPES {
                let got = run(n, move |ctx| {
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let mut got = Vec::new();
                    for op in ops_for(dtype) {
                        for count in counts(n) {
                            let t = make(&ctx, count, op, dtype)?;
                            all_reduce(&ctx, &group, &t, op)?;
                            got.push((op, count, read_bits(&t)?));
                        }
                    }
                    Ok(got)
                });
                let Some(got) = accepted(got, "all_reduce", algo, n, dtype) else { continue };
                for (rank, got) in got.iter().enumerate() {
                    for (op, count, bits) in got {
                        let inputs: Vec<Vec<f32>> = (0..n).map(|r| values(r, *count, *op, dtype)).collect();
                        let want = all_reduce_reference(&inputs, algo, *op, dtype);
                        assert_eq!(bits, &want, "{algo}, {n} ranks, {dtype}, {op}, {count}: rank {rank}");
                    }
                }
            }
        }
    }
}

#[test]
fn reduce_scatter_by_every_algorithm_matches_its_reference() {
    for algo in ALGOS {
        for n in WORLDS {
            for dtype in DTYPES {
                let got = run(n, move |ctx| {
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let mut got = Vec::new();
                    for op in ops_for(dtype) {
                        for m in [0, 1, 5] {
                            let x = make(&ctx, n * m, op, dtype)?;
                            let before = read_bits(&x)?;
                            let out = ctx.device().full(&[m], -7.0, dtype)?;
                            reduce_scatter_tensor(&ctx, &group, &out, &x, op)?;
                            assert_eq!(read_bits(&x)?, before, "the input is not written");
                            got.push((op, m, read_bits(&out)?));
                        }
                    }
                    Ok(got)
                });
                let Some(got) = accepted(got, "reduce_scatter_tensor", algo, n, dtype) else { continue };
                for (rank, got) in got.iter().enumerate() {
                    for (op, m, bits) in got {
                        let inputs: Vec<Vec<f32>> = (0..n).map(|r| values(r, n * m, *op, dtype)).collect();
                        let want: Vec<u32> = if algo == CollectiveAlgo::Ring {
                            ring_reduce_scatter(&inputs, *op, dtype).swap_remove(rank)
                        } else {
                            (rank * m..(rank + 1) * m)
                                .map(|i| {
                                    let xs: Vec<f32> = inputs.iter().map(|x| x[i]).collect();
                                    if n == 1 {
                                        return to_bits(dtype, xs[0]);
                                    }
                                    let acc = if algo == CollectiveAlgo::Direct {
                                        in_member_order(&xs, *op, dtype)
                                    } else {
                                        butterfly(&xs, *op, dtype)
                                    };
                                    finish(acc, n, *op, dtype)
                                })
                                .collect()
                        };
                        assert_eq!(bits, &want, "{algo}, {n} ranks, {dtype}, {op}, {m} per rank: rank {rank}");
                    }
                }
            }
        }
    }
}

#[test]
fn all_gather_and_broadcast_by_every_algorithm_copy_exactly() {
    for algo in ALGOS {
        for n in WORLDS {
            for dtype in DTYPES {
                let got = run(n, move |ctx| {
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let mut got = Vec::new();
                    for m in [0, 1, 7] {
                        let x = make(&ctx, m, ReduceOp::Sum, dtype)?;
                        let out = ctx.device().zeros(&[n * m], dtype)?;
                        all_gather_into_tensor(&ctx, &group, &out, &x)?;
                        got.push(read_bits(&out)?);
                        for root in [0, n / 2, n - 1] {
                            let t = make(&ctx, m, ReduceOp::Sum, dtype)?;
                            broadcast(&ctx, &group, &t, root)?;
                            got.push(read_bits(&t)?);
                        }
                    }
                    Ok(got)
                });
                let Some(got) = accepted(got, "all_gather_into_tensor", algo, n, dtype) else { continue };
                let bits = |r: usize, m: usize| -> Vec<u32> {
                    values(r, m, ReduceOp::Sum, dtype).iter().map(|&x| to_bits(dtype, x)).collect()
                };
                for (rank, got) in got.iter().enumerate() {
                    let mut want = Vec::new();
                    for m in [0, 1, 7] {
                        want.push((0..n).flat_map(|r| bits(r, m)).collect::<Vec<_>>());
                        for root in [0, n / 2, n - 1] {
                            want.push(bits(root, m));
                        }
                    }
                    assert_eq!(got, &want, "{algo}, {n} ranks, {dtype}: rank {rank}");
                }
            }
        }
    }
}

#[test]
fn reduce_by_every_algorithm_lands_its_reference_at_the_root_only() {
    for algo in ALGOS {
        for n in WORLDS {
            for dtype in DTYPES {
                let got = run(n, move |ctx| {
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let mut got = Vec::new();
                    for op in ops_for(dtype) {
                        for root in [0, n - 1] {
                            let count = 2 * n + 1;
                            let t = make(&ctx, count, op, dtype)?;
                            reduce(&ctx, &group, &t, root, op)?;
                            got.push((op, root, read_bits(&t)?));
                        }
                    }
                    Ok(got)
                });
                let Some(got) = accepted(got, "reduce", algo, n, dtype) else { continue };
                for (rank, got) in got.iter().enumerate() {
                    for (op, root, bits) in got {
                        let count = 2 * n + 1;
                        let inputs: Vec<Vec<f32>> = (0..n).map(|r| values(r, count, *op, dtype)).collect();
                        let want: Vec<u32> = if rank != *root {
                            inputs[rank].iter().map(|&x| to_bits(dtype, x)).collect()
                        } else if algo == CollectiveAlgo::Ring {
                            chain_reduce(&inputs, *root, *op, dtype)
                        } else {
                            (0..count)
                                .map(|i| {
                                    let xs: Vec<f32> = inputs.iter().map(|x| x[i]).collect();
                                    if n == 1 {
                                        return to_bits(dtype, xs[0]);
                                    }
                                    let acc = if algo == CollectiveAlgo::Direct {
                                        in_member_order(&xs, *op, dtype)
                                    } else {
                                        binomial(&xs, *root, *op, dtype)
                                    };
                                    finish(acc, n, *op, dtype)
                                })
                                .collect()
                        };
                        assert_eq!(bits, &want, "{algo}, {n} ranks, {dtype}, {op}, root {root}: rank {rank}");
                    }
                }
            }
        }
    }
}

#[test]
fn auto_picks_an_algorithm_that_gives_a_correct_result() {
    for n in [2, 5, 8, 16] {
        let got = run(n, move |ctx| {
            let group = ProcessGroup::world(&ctx).with_algo(CollectiveAlgo::Auto);
            let t = make(&ctx, 3 * n + 2, ReduceOp::Sum, DType::F32)?;
            all_reduce(&ctx, &group, &t, ReduceOp::Sum)?;
            Ok(read_bits(&t)?)
        })
        .unwrap();
        assert!(got.iter().all(|g| g == &got[0]), "{n} ranks: every member holds the same bytes");
        let inputs: Vec<Vec<f32>> = (0..n).map(|r| values(r, 3 * n + 2, ReduceOp::Sum, DType::F32)).collect();
        let candidates: Vec<Vec<u32>> = ALGOS
            .iter()
            .filter(|&&a| refusal(a, n, true).is_none())
            .map(|&a| all_reduce_reference(&inputs, a, ReduceOp::Sum, DType::F32))
            .collect();
        assert!(candidates.contains(&got[0]), "{n} ranks: auto's result is one algorithm's");
    }
}

#[test]
fn auto_passes_over_an_algorithm_whose_buffers_do_not_fit() {
    // 16 members of 128 KiB on devices of 1 MiB of HBM: the one-shot all-reduce would receive
    // 15 × 128 KiB on each, which does not fit; auto picks another, direct fails naming the limit.
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 16;
    spec.device.hbm_bytes = 1 << 20;
    for (algo, fits) in [(CollectiveAlgo::Auto, true), (CollectiveAlgo::Direct, false)] {
        let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
        let got = rt.spawn(16, move |ctx| {
            let t = ctx.device().empty(&[32 << 10], DType::F32)?;
            all_reduce(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &t, ReduceOp::Sum)
        });
        match (fits, got) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert!(e.to_string().contains("all_reduce: out of HBM on device"), "{e}"),
            (_, other) => panic!("{algo}: {other:?}"),
        }
    }
}

#[test]
fn last_algo_names_what_auto_ran_and_auto_takes_that_algorithms_time() {
    // Small tensors favour few steps, large ones the pipelined ring: auto's pick is reported per
    // call, and running the reported algorithm by name takes exactly auto's time.
    let spec = || {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = 8;
        spec
    };
    let mut picks = Vec::new();
    for count in [16usize, 1 << 22] {
        let span = move |algo: CollectiveAlgo| {
            let rt = Runtime::new(spec(), Mode::TIMING_LEAN).unwrap();
            let got = rt
                .spawn(8, move |ctx| {
                    let before = kb_ccl::last_algo(&ctx);
                    let t = ctx.device().empty(&[count], DType::F32)?;
                    let start = ctx.runtime().now();
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let end = kb_ccl::all_reduce_async(&ctx, &group, &t, ReduceOp::Sum)?.wait()?;
                    Ok::<_, CclError>((before, end - start, kb_ccl::last_algo(&ctx)))
                })
                .unwrap();
            assert!(got.iter().all(|g| g.0.is_none()), "nothing is reported before a collective");
            assert!(got.iter().all(|g| g.2 == got[0].2), "every member reports the same algorithm");
            (got[0].1, got[0].2.expect("an algorithm ran"))
        };
        let (auto_time, picked) = span(CollectiveAlgo::Auto);
        assert_ne!(picked, CollectiveAlgo::Auto, "{count} elements: auto reports its pick");
        assert_eq!(span(picked), (auto_time, picked), "{count} elements: {picked} by name times as auto did");
        for other in ALGOS.into_iter().filter(|&a| a != picked) {
            assert!(span(other).0 >= auto_time, "{count} elements: {other} beats auto's {picked}");
        }
        picks.push(picked);
    }
    assert_ne!(picks[0], picks[1], "the pick depends on the size: {picks:?}");
}

#[test]
fn auto_picks_the_fastest_algorithm_of_every_collective_on_every_topology() {
    // Auto's dry runs after the first stop as soon as they cannot beat the best so far; the pick
    // must still be the algorithm that, run by name, takes the least time (the first of the
    // candidates on a tie), for every collective, topology and size.
    let topologies = [Topology::Ring, Topology::Switch, Topology::Torus2d { dims: [4, 4] }];
    let candidates =
        [CollectiveAlgo::Ring, CollectiveAlgo::Tree, CollectiveAlgo::HalvingDoubling, CollectiveAlgo::Direct];
    for topology in topologies {
        for count in [16usize, 1 << 12, 1 << 18] {
            for kind in 0..5 {
                let time = |algo: CollectiveAlgo| {
                    let mut spec = MachineSpec::default();
                    spec.cluster.ranks = 16;
                    spec.cluster.topology = topology;
                    let rt = Runtime::new(spec, Mode::TIMING_LEAN).unwrap();
                    let got = rt.spawn(16, move |ctx| {
                        let group = ProcessGroup::world(&ctx).with_algo(algo);
                        let whole = ctx.device().empty(&[16 * count], DType::F32)?;
                        let part = ctx.device().empty(&[count], DType::F32)?;
                        let start = ctx.runtime().now();
                        let work = match kind {
                            0 => kb_ccl::all_reduce_async(&ctx, &group, &whole, ReduceOp::Sum)?,
                            1 => kb_ccl::reduce_scatter_tensor_async(&ctx, &group, &part, &whole, ReduceOp::Sum)?,
                            2 => kb_ccl::all_gather_into_tensor_async(&ctx, &group, &whole, &part)?,
                            3 => kb_ccl::broadcast_async(&ctx, &group, &whole, 5)?,
                            _ => kb_ccl::reduce_async(&ctx, &group, &whole, 5, ReduceOp::Sum)?,
                        };
                        let end = work.wait()?;
                        Ok::<_, CclError>((end - start, kb_ccl::last_algo(&ctx)))
                    });
                    // An algorithm the collective refuses (the tree runs all-reduce only).
                    got.ok().map(|g| (g.iter().map(|x| x.0).max().unwrap_or(0), g[0].1))
                };
                let (auto_time, picked) = time(CollectiveAlgo::Auto).expect("auto always runs");
                let case = format!("collective {kind}, {count} × 16 elements on {topology}");
                let by_name: Vec<(u64, CollectiveAlgo)> =
                    candidates.into_iter().filter_map(|a| time(a).map(|(t, _)| (t, a))).collect();
                let fastest = by_name.iter().min_by_key(|(t, _)| *t).copied().expect("some algorithm runs");
                assert_eq!((auto_time, picked), (fastest.0, Some(fastest.1)), "{case}: {by_name:?}");
            }
        }
    }
}
