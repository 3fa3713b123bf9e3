//! all_to_all_single against a plain-loop reference (pairwise and direct), its errors, and its
//! timing on the switch topology.

use std::cell::RefCell;
use std::rc::Rc;

use kb_ccl::{CclError, CollectiveAlgo, ProcessGroup, ReduceOp, all_to_all_single, all_to_all_single_async, new_group};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode, Topology};
use kb_sched::{RankCtx, Runtime, Tensor, spawn};

use crate::errors::failures;
use crate::reference::{input, read_bits, round, to_bits};

pub(crate) const WORLDS: [usize; 8] = [1, 2, 3, 4, 5, 7, 8, 16];
pub(crate) const DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::I32];

/// The `numel` values of the tensor seeded by `seed` (a rank, or a rank and a peer), rounded to
/// the dtype.
pub(crate) fn values(seed: usize, numel: usize, dtype: DType) -> Vec<f32> {
    (0..numel).map(|i| round(dtype, input(seed, i, ReduceOp::Sum, dtype))).collect()
}

/// The same values as bit patterns of the dtype.
pub(crate) fn bits(seed: usize, numel: usize, dtype: DType) -> Vec<u32> {
    values(seed, numel, dtype).iter().map(|&v| to_bits(dtype, v)).collect()
}

/// A tensor of `shape` on the rank's device holding `values(seed, …)`.
pub(crate) fn make(ctx: &RankCtx, seed: usize, shape: &[usize], dtype: DType) -> Result<Tensor, CclError> {
    let v = values(seed, shape.iter().product(), dtype);
    Ok(if dtype == DType::I32 {
        ctx.device().from_slice(shape, &v.iter().map(|&x| x as i32).collect::<Vec<_>>())?
    } else {
        ctx.device().from_f32(shape, dtype, &v)?
    })
}

/// The expected output of member `j` of `n`, `m` elements per part: part `i` is part `j` of
/// member `i`'s input.
fn expected(j: usize, n: usize, m: usize, dtype: DType) -> Vec<u32> {
    let mut out = Vec::with_capacity(n * m);
    for i in 0..n {
        let theirs = bits(i, n * m, dtype);
        for e in 0..m {
            out.push(theirs[j * m + e]);
        }
    }
    out
}

#[test]
fn part_j_of_member_i_lands_in_part_i_of_member_j() {
    for algo in [CollectiveAlgo::Ring, CollectiveAlgo::Direct, CollectiveAlgo::Auto] {
        for dtype in DTYPES {
            for n in WORLDS {
                let got = spawn(n, move |ctx| {
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let mut got = Vec::new();
                    for m in [0, 1, 3] {
                        let x = make(&ctx, ctx.rank(), &[n * m], dtype)?;
                        let before = read_bits(&x)?;
                        // A 2-D output: only the element count has to match.
                        let out = ctx.device().full(&[n, m], -7.0, dtype)?;
                        all_to_all_single(&ctx, &group, &out, &x)?;
                        assert_eq!(read_bits(&x)?, before, "the input is not written");
                        got.push((m, read_bits(&out)?));
                    }
                    Ok::<_, CclError>(got)
                })
                .unwrap_or_else(|e| panic!("{algo}, {n} ranks, {dtype}: {e}"));
                for (j, got) in got.iter().enumerate() {
                    for (m, bits) in got {
                        assert_eq!(
                            bits,
                            &expected(j, n, *m, dtype),
                            "{algo}, {n} ranks, {dtype}, {m} per part: rank {j}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_machine_configs_algorithm_is_used_when_the_group_names_none() {
    for (algo, label) in
        [(CollectiveAlgo::Direct, "all_to_all direct send"), (CollectiveAlgo::Ring, "all_to_all pairwise send")]
    {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = 3;
        spec.collectives.algo = algo;
        let rt = Runtime::new(spec, Mode::DATA).unwrap();
        let got = rt
            .spawn(3, move |ctx| {
                let x = make(&ctx, ctx.rank(), &[6], DType::F32)?;
                let out = ctx.device().empty(&[6], DType::F32)?;
                all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)?;
                Ok::<_, CclError>(read_bits(&out)?)
            })
            .unwrap();
        for (j, bits) in got.iter().enumerate() {
            assert_eq!(bits, &expected(j, 3, 2, DType::F32), "{algo}: rank {j}");
        }
        let sends = rt.with_sim(|s| s.ops().filter(|(_, op, _)| op.display_name() == label).count());
        assert_eq!(sends, 3 * 2, "{algo}: n(n − 1) transfers labelled {label:?}");
    }
}

#[test]
fn a_sub_group_exchanges_among_its_members_only() {
    let got = spawn(5, |ctx| {
        let x = make(&ctx, ctx.rank(), &[3], DType::BF16)?;
        let out = ctx.device().zeros(&[3], DType::BF16)?;
        if let Some(g) = new_group(&ctx, &[4, 1, 2])? {
            all_to_all_single(&ctx, &g, &out, &x)?;
        }
        Ok::<_, CclError>(read_bits(&out)?)
    })
    .unwrap();
    let zero = vec![0u32; 3];
    assert_eq!(got[0], zero);
    assert_eq!(got[3], zero);
    // Member j (ranks 1, 2, 4) gets element j of each member's input, in group order.
    for (j, rank) in [1usize, 2, 4].into_iter().enumerate() {
        let want: Vec<u32> = [1usize, 2, 4].iter().map(|&i| bits(i, 3, DType::BF16)[j]).collect();
        assert_eq!(got[rank], want, "rank {rank}");
    }
}

#[test]
fn unsupported_algorithms_are_refused_by_every_member_before_anything_is_recorded() {
    for (algo, name) in [(CollectiveAlgo::Tree, "tree"), (CollectiveAlgo::HalvingDoubling, "halving-doubling")] {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = 4;
        let rt = Runtime::new(spec, Mode::DATA).unwrap();
        let before = Rc::new(RefCell::new(0));
        let seen = before.clone();
        let e = rt
            .spawn(4, move |ctx| {
                let (x, out) = (ctx.device().zeros(&[8], DType::F32)?, ctx.device().zeros(&[8], DType::F32)?);
                *seen.borrow_mut() = ctx.runtime().with_sim(|s| s.ops().count());
                all_to_all_single(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &out, &x)
            })
            .unwrap_err();
        let f = failures(e);
        assert_eq!(f.len(), 4, "each member refuses alone: {f:?}");
        for f in &f {
            assert_eq!(
                f.message,
                format!(
                    "all_to_all_single: rank {}: algorithm {name} is not implemented for this collective (use auto, ring or direct)",
                    f.rank
                )
            );
        }
        assert_eq!(rt.with_sim(|s| s.ops().count()), *before.borrow(), "{algo}: no op was recorded");
    }
}

#[test]
fn sizes_that_do_not_fit_are_errors() {
    let e = spawn(2, |ctx| {
        let (x, out) = (ctx.device().zeros(&[6], DType::F32)?, ctx.device().zeros(&[5], DType::F32)?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_to_all_single: rank 0: output is f32 [5] but input is f32 [6]: both must hold the same number of elements of one dtype"
    );
    let e = spawn(2, |ctx| {
        let (x, out) = (ctx.device().zeros(&[4], DType::F32)?, ctx.device().zeros(&[4], DType::F16)?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_to_all_single: rank 0: output is f16 [4] but input is f32 [4]: both must hold the same number of elements of one dtype"
    );
    let e = spawn(3, |ctx| {
        let (x, out) = (ctx.device().zeros(&[7], DType::I32)?, ctx.device().zeros(&[7], DType::I32)?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_to_all_single: rank 0: input holds 7 elements, which a group of 3 cannot split into 3 equal parts"
    );
    let e = spawn(2, |ctx| {
        let both = ctx.device().zeros(&[2, 4], DType::F32)?;
        let (x, out) = (both.slice(0, 0, 1)?.reshape(&[4])?, both.slice(0, 1, 2)?.reshape(&[4])?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_to_all_single: rank 0: output and input share a storage; in-place calls are not supported (pass separate tensors)"
    );
}

#[test]
fn members_that_disagree_name_both_ranks_and_values() {
    let e = spawn(3, |ctx| {
        let m = if ctx.rank() == 2 { 2 } else { 1 };
        let (x, out) = (ctx.device().zeros(&[3 * m], DType::F32)?, ctx.device().zeros(&[3 * m], DType::F32)?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("all_to_all_single: rank 2 passed output f32 [6] but rank 0 passed output f32 [3]"),
        "{e}"
    );
    let e = spawn(2, |ctx| {
        let dtype = if ctx.rank() == 1 { DType::BF16 } else { DType::F16 };
        let (x, out) = (ctx.device().zeros(&[4], dtype)?, ctx.device().zeros(&[4], dtype)?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("all_to_all_single: rank 1 passed output bf16 [4] but rank 0 passed output f16 [4]"),
        "{e}"
    );
    let e = spawn(2, |ctx| {
        let algo = if ctx.rank() == 1 { CollectiveAlgo::Direct } else { CollectiveAlgo::Ring };
        let (x, out) = (ctx.device().zeros(&[4], DType::F32)?, ctx.device().zeros(&[4], DType::F32)?);
        all_to_all_single(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &out, &x)
    })
    .unwrap_err();
    assert!(e.to_string().contains("all_to_all_single: rank 1 chose algorithm direct but rank 0 chose ring"), "{e}");
}

#[test]
fn a_non_member_is_refused() {
    // Rank 0 hands its group to rank 2, a non-member, which then calls the collective on it.
    let shared: Rc<RefCell<Option<ProcessGroup>>> = Rc::default();
    let e = spawn(3, move |ctx| {
        let group = match new_group(&ctx, &[0, 1])? {
            Some(g) => {
                *shared.borrow_mut() = Some(g.clone());
                g
            }
            None => {
                ctx.yield_now()?;
                shared.borrow().clone().expect("rank 0 ran in the round before")
            }
        };
        let (x, out) = (ctx.device().zeros(&[4], DType::F32)?, ctx.device().zeros(&[4], DType::F32)?);
        all_to_all_single(&ctx, &group, &out, &x)
    })
    .unwrap_err();
    let f = failures(e);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].message, "all_to_all_single: rank 2 is not a member of group [0, 1]");
}

/// Picoseconds of `x` nanoseconds, rounded.
fn ps(ns: f64) -> u64 {
    (ns * 1000.0).round() as u64
}

/// Each rank's time for an all-to-all of `m` f32 per part on `n` ranks of a timing-only switch.
fn switch_all_to_all(n: u32, m: usize, algo: CollectiveAlgo) -> (Vec<u64>, MachineSpec) {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = n;
    spec.cluster.topology = Topology::Switch;
    let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
    let took = rt
        .spawn(n as usize, move |ctx| {
            let (x, out) = (
                ctx.device().empty(&[n as usize * m], DType::F32)?,
                ctx.device().empty(&[n as usize * m], DType::F32)?,
            );
            let start = ctx.runtime().now();
            let end = all_to_all_single_async(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &out, &x)?.wait()?;
            Ok::<_, CclError>(end - start)
        })
        .unwrap();
    (took, spec)
}

#[test]
fn on_a_switch_direct_overlaps_the_hops_that_pairwise_exchange_serialises() {
    // Every transfer crosses two links (up to the switch, down to the peer), one hop h each, store
    // and forward. Pairwise: a member's step-s send waits for its step-(s−1) send and its peer's
    // step-(s−1) receive, which all end together, so each of the n − 1 steps takes 2h: 2(n − 1)h.
    // Direct: member p's up link serves its n − 1 sends in recording order (peer p + 1 first),
    // the s-th ending at s·h; it then takes the peer's down link, which at that moment gets only
    // that transfer (the one from p = q − s), so the last one ends at n·h. The local copies (a DMA
    // of one part) are shorter than a hop.
    for (n, m) in [(2u32, 1usize << 14), (4, 1 << 16), (8, 5000)] {
        let (pairwise, spec) = switch_all_to_all(n, m, CollectiveAlgo::Ring);
        let (direct, _) = switch_all_to_all(n, m, CollectiveAlgo::Direct);
        let c = &spec.cluster;
        let hop = ps(c.link_latency_ns) + ps((4 * m) as f64 / c.link_gbps);
        let d = &spec.device;
        let copy =
            ps(d.dma_setup_ns) + ps((4 * m) as f64 / d.dma_gbps.min(d.hbm_gbps / (d.hbm_gbps / d.dma_gbps).floor()));
        assert!(copy < hop);
        let n = u64::from(n);
        assert!(pairwise.iter().all(|&t| t == 2 * (n - 1) * hop), "{n} ranks: pairwise {pairwise:?}, hop {hop}");
        assert!(direct.iter().all(|&t| t == n * hop), "{n} ranks: direct {direct:?}, hop {hop}");
    }
}
