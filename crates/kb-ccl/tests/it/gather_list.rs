//! all_gather into a list of tensors against the plain-loop reference (ring and direct), its
//! errors, and its timing on the switch topology.

use kb_ccl::{CclError, CollectiveAlgo, ProcessGroup, all_gather, all_gather_async};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode, Topology};
use kb_sched::{Runtime, Tensor, spawn};

use crate::all_to_all::{DTYPES, WORLDS, bits, make};
use crate::errors::failures;
use crate::reference::read_bits;

#[test]
fn output_i_gets_member_is_input() {
    for algo in [CollectiveAlgo::Ring, CollectiveAlgo::Direct, CollectiveAlgo::Auto] {
        for dtype in DTYPES {
            for n in WORLDS {
                let got = spawn(n, move |ctx| {
                    let group = ProcessGroup::world(&ctx).with_algo(algo);
                    let mut got = Vec::new();
                    for m in [0, 1, 5] {
                        let x = make(&ctx, ctx.rank(), &[m], dtype)?;
                        let before = read_bits(&x)?;
                        // Separate tensors, each shaped differently from the input...
                        let outs: Vec<Tensor> =
                            (0..n).map(|_| ctx.device().full(&[1, m], -7.0, dtype)).collect::<Result<_, _>>()?;
                        all_gather(&ctx, &group, &outs, &x)?;
                        assert_eq!(read_bits(&x)?, before, "the input is not written");
                        let separate = outs.iter().map(read_bits).collect::<Result<Vec<_>, _>>()?;
                        // ...and the rows of one tensor.
                        let whole = ctx.device().zeros(&[n, m], dtype)?;
                        let rows: Vec<Tensor> =
                            (0..n).map(|i| whole.slice(0, i, i + 1)?.reshape(&[m])).collect::<Result<_, _>>()?;
                        all_gather(&ctx, &group, &rows, &x)?;
                        got.push((m, separate, read_bits(&whole)?));
                    }
                    Ok::<_, CclError>(got)
                })
                .unwrap_or_else(|e| panic!("{algo}, {n} ranks, {dtype}: {e}"));
                for (rank, got) in got.iter().enumerate() {
                    for (m, separate, whole) in got {
                        let want: Vec<Vec<u32>> = (0..n).map(|i| bits(i, *m, dtype)).collect();
                        let what = format!("{algo}, {n} ranks, {dtype}, {m} per rank: rank {rank}");
                        assert_eq!(separate, &want, "{what}");
                        assert_eq!(whole, &want.concat(), "{what}, rows of one tensor");
                    }
                }
            }
        }
    }
}

#[test]
fn outputs_that_do_not_fit_are_errors() {
    let e = spawn(3, |ctx| {
        let x = ctx.device().zeros(&[4], DType::F32)?;
        let outs = vec![ctx.device().zeros(&[4], DType::F32)?, ctx.device().zeros(&[4], DType::F32)?];
        all_gather(&ctx, &ProcessGroup::world(&ctx), &outs, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_gather: rank 0: outputs holds 2 tensors but a group of 3 needs 3, one per member"
    );
    let e = spawn(2, |ctx| {
        let x = ctx.device().zeros(&[4], DType::F32)?;
        let outs = vec![ctx.device().zeros(&[4], DType::F32)?, ctx.device().zeros(&[2, 2], DType::BF16)?];
        all_gather(&ctx, &ProcessGroup::world(&ctx), &outs, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_gather: rank 0: output 1 is bf16 [2, 2] but input is f32 [4]: each output must hold as many elements of its dtype as input"
    );
}

#[test]
fn overlapping_tensors_are_refused() {
    let e = spawn(2, |ctx| {
        let whole = ctx.device().zeros(&[2, 3], DType::F32)?;
        let rows = vec![whole.slice(0, 0, 1)?.reshape(&[3])?, whole.slice(0, 1, 2)?.reshape(&[3])?];
        all_gather(&ctx, &ProcessGroup::world(&ctx), &rows, &rows[ctx.rank()])
    })
    .unwrap_err();
    let f = failures(e);
    assert_eq!(
        f[0].message,
        "all_gather: rank 0: input and output 0 overlap; in-place calls are not supported (pass separate tensors)"
    );
    let e = spawn(2, |ctx| {
        let x = ctx.device().zeros(&[3], DType::F32)?;
        let whole = ctx.device().zeros(&[4], DType::F32)?;
        let outs = vec![whole.slice(0, 0, 3)?, whole.slice(0, 1, 4)?];
        all_gather(&ctx, &ProcessGroup::world(&ctx), &outs, &x)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_gather: rank 0: output 0 and output 1 overlap; each member's part needs its own memory"
    );
}

#[test]
fn members_that_disagree_name_both_ranks_and_values() {
    let e = spawn(2, |ctx| {
        let m = 3 + ctx.rank();
        let x = ctx.device().zeros(&[m], DType::I32)?;
        let outs: Vec<Tensor> = (0..2).map(|_| ctx.device().zeros(&[m], DType::I32)).collect::<Result<_, _>>()?;
        all_gather(&ctx, &ProcessGroup::world(&ctx), &outs, &x)
    })
    .unwrap_err();
    assert!(e.to_string().contains("all_gather: rank 1 passed input i32 [4] but rank 0 passed input i32 [3]"), "{e}");
}

#[test]
fn unsupported_algorithms_are_refused_by_every_member() {
    for (algo, name) in [(CollectiveAlgo::Tree, "tree"), (CollectiveAlgo::HalvingDoubling, "halving-doubling")] {
        let e = spawn(4, move |ctx| {
            let x = ctx.device().zeros(&[2], DType::F16)?;
            let outs: Vec<Tensor> = (0..4).map(|_| ctx.device().zeros(&[2], DType::F16)).collect::<Result<_, _>>()?;
            all_gather(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &outs, &x)
        })
        .unwrap_err();
        let f = failures(e);
        assert_eq!(f.len(), 4);
        assert_eq!(
            f[3].message,
            format!(
                "all_gather: rank 3: algorithm {name} is not implemented for this collective (use auto, ring or direct)"
            )
        );
    }
}

/// Picoseconds of `x` nanoseconds, rounded.
fn ps(ns: f64) -> u64 {
    (ns * 1000.0).round() as u64
}

#[test]
fn on_a_switch_the_ring_takes_two_hops_per_step_and_direct_n_hops() {
    // Every transfer crosses the sender's up link and the receiver's down link, one hop h each.
    // Ring: a step's sends all start together (each forwards what it received in the previous
    // step), each taking 2h: 2(n − 1)h. Direct: member p's up link serves its n − 1 sends in
    // recording order, the s-th ending at s·h, when it alone asks for its receiver's down link:
    // the last ends at n·h.
    for (n, m) in [(2u32, 1usize << 15), (5, 999), (8, 1 << 14)] {
        let run = |algo: CollectiveAlgo| {
            let mut spec = MachineSpec::default();
            spec.cluster.ranks = n;
            spec.cluster.topology = Topology::Switch;
            let rt = Runtime::new(spec, Mode::TIMING).unwrap();
            rt.spawn(n as usize, move |ctx| {
                let x = ctx.device().empty(&[m], DType::F32)?;
                let outs: Vec<Tensor> =
                    (0..n).map(|_| ctx.device().empty(&[m], DType::F32)).collect::<Result<_, _>>()?;
                let start = ctx.runtime().now();
                let end = all_gather_async(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &outs, &x)?.wait()?;
                Ok::<_, CclError>(end - start)
            })
            .unwrap()
        };
        let c = MachineSpec::default().cluster;
        let hop = ps(c.link_latency_ns) + ps((4 * m) as f64 / c.link_gbps);
        let n64 = u64::from(n);
        let ring = run(CollectiveAlgo::Ring);
        assert!(ring.iter().all(|&t| t == 2 * (n64 - 1) * hop), "{n} ranks: ring {ring:?}, hop {hop}");
        let direct = run(CollectiveAlgo::Direct);
        assert!(direct.iter().all(|&t| t == n64 * hop), "{n} ranks: direct {direct:?}, hop {hop}");
    }
}
