//! reduce_scatter_tensor, all_gather_into_tensor, broadcast and barrier against host references.

use kb_ccl::{
    CclError, ProcessGroup, ReduceOp, all_gather_into_tensor, barrier, broadcast, new_group, reduce,
    reduce_scatter_tensor,
};
use kb_mem::DType;
use kb_sched::{RankCtx, Tensor, spawn};

use crate::reference::{chain_reduce, input, read_bits, ring_reduce_scatter, round, to_bits};

const WORLDS: [usize; 7] = [1, 2, 3, 4, 5, 7, 8];
const DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::I32];

fn ops_for(dtype: DType) -> Vec<ReduceOp> {
    let mut ops = vec![ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Product];
    ops.push(if dtype.is_float() { ReduceOp::Avg } else { ReduceOp::BXor });
    ops
}

/// Rank `rank`'s `numel` input values, rounded to the dtype.
fn values(rank: usize, numel: usize, op: ReduceOp, dtype: DType) -> Vec<f32> {
    (0..numel).map(|i| round(dtype, input(rank, i, op, dtype))).collect()
}

fn make(ctx: &RankCtx, shape: &[usize], op: ReduceOp, dtype: DType) -> Result<Tensor, CclError> {
    let v = values(ctx.rank(), shape.iter().product(), op, dtype);
    Ok(if dtype == DType::I32 {
        ctx.device().from_slice(shape, &v.iter().map(|&x| x as i32).collect::<Vec<_>>())?
    } else {
        ctx.device().from_f32(shape, dtype, &v)?
    })
}

#[test]
fn reduce_scatter_matches_the_ring_reference_and_keeps_the_input() {
    for dtype in DTYPES {
        for n in WORLDS {
            let got = spawn(n, move |ctx| {
                let world = ProcessGroup::world(&ctx);
                let mut got = Vec::new();
                for op in ops_for(dtype) {
                    for m in [0, 1, 3] {
                        let x = make(&ctx, &[n * m], op, dtype)?;
                        let before = read_bits(&x)?;
                        let out = ctx.device().full(&[m], -7.0, dtype)?;
                        reduce_scatter_tensor(&ctx, &world, &out, &x, op)?;
                        assert_eq!(read_bits(&x)?, before, "the input is not written");
                        got.push((op, m, read_bits(&out)?));
                    }
                }
                Ok::<_, CclError>(got)
            })
            .unwrap_or_else(|e| panic!("{n} ranks, {dtype}: {e}"));
            for (rank, got) in got.iter().enumerate() {
                for (op, m, bits) in got {
                    let inputs: Vec<Vec<f32>> = (0..n).map(|r| values(r, n * m, *op, dtype)).collect();
                    let want = &ring_reduce_scatter(&inputs, *op, dtype)[rank];
                    assert_eq!(bits, want, "{n} ranks, {dtype}, {op}, {m} per rank: rank {rank}");
                }
            }
        }
    }
}

#[test]
fn all_gather_puts_each_members_input_at_its_part() {
    for dtype in DTYPES {
        for n in WORLDS {
            let got = spawn(n, move |ctx| {
                let world = ProcessGroup::world(&ctx);
                let mut got = Vec::new();
                for m in [0, 1, 5] {
                    let x = make(&ctx, &[m], ReduceOp::Sum, dtype)?;
                    let out = ctx.device().zeros(&[n, m], dtype)?;
                    all_gather_into_tensor(&ctx, &world, &out, &x)?;
                    got.push((m, read_bits(&out)?));
                }
                Ok::<_, CclError>(got)
            })
            .unwrap_or_else(|e| panic!("{n} ranks, {dtype}: {e}"));
            for (rank, got) in got.iter().enumerate() {
                for (m, bits) in got {
                    let want: Vec<u32> =
                        (0..n).flat_map(|r| values(r, *m, ReduceOp::Sum, dtype)).map(|v| to_bits(dtype, v)).collect();
                    assert_eq!(bits, &want, "{n} ranks, {dtype}, {m} per rank: rank {rank}");
                }
            }
        }
    }
}

#[test]
fn broadcast_copies_the_roots_bytes_to_every_member() {
    for dtype in DTYPES {
        for n in WORLDS {
            let roots = [0, n / 2, n - 1];
            let got = spawn(n, move |ctx| {
                let world = ProcessGroup::world(&ctx);
                let mut got = Vec::new();
                for root in roots {
                    for count in [0, 1, 2 * n + 3] {
                        let t = make(&ctx, &[count], ReduceOp::Sum, dtype)?;
                        broadcast(&ctx, &world, &t, root)?;
                        got.push((root, count, read_bits(&t)?));
                    }
                }
                Ok::<_, CclError>(got)
            })
            .unwrap_or_else(|e| panic!("{n} ranks, {dtype}: {e}"));
            for (rank, got) in got.iter().enumerate() {
                for (root, count, bits) in got {
                    let want: Vec<u32> =
                        values(*root, *count, ReduceOp::Sum, dtype).iter().map(|&v| to_bits(dtype, v)).collect();
                    assert_eq!(bits, &want, "{n} ranks, {dtype}, root {root}, {count} elements: rank {rank}");
                }
            }
        }
    }
}

#[test]
fn broadcast_on_a_sub_group_uses_a_global_root() {
    let out = spawn(5, |ctx| {
        let t = ctx.device().full(&[4], ctx.rank() as f64, DType::F32)?;
        if let Some(g) = new_group(&ctx, &[1, 2, 4])? {
            broadcast(&ctx, &g, &t, 4)?;
        }
        Ok::<_, CclError>(t.to_vec::<f32>()?[0])
    })
    .unwrap();
    assert_eq!(out, [0.0, 4.0, 4.0, 3.0, 4.0]);
}

#[test]
fn a_barrier_meets_every_member_and_takes_time() {
    let out = spawn(4, |ctx| {
        let before = ctx.runtime().now();
        barrier(&ctx, &ProcessGroup::world(&ctx))?;
        Ok::<_, CclError>((before, ctx.runtime().now()))
    })
    .unwrap();
    assert!(out.iter().all(|&(b, a)| a > b && a == out[0].1), "{out:?}");
}

#[test]
fn a_different_root_names_both_ranks() {
    let e = spawn(3, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F32)?;
        broadcast(&ctx, &ProcessGroup::world(&ctx), &t, usize::from(ctx.rank() == 2))
    })
    .unwrap_err();
    assert!(e.to_string().contains("broadcast: rank 2 passed root 1 but rank 0 passed root 0"), "{e}");
}

#[test]
fn a_root_outside_the_group_is_an_error() {
    let e = spawn(3, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F32)?;
        if let Some(g) = new_group(&ctx, &[0, 1])? {
            broadcast(&ctx, &g, &t, 2)?;
        }
        Ok::<_, CclError>(())
    })
    .unwrap_err();
    assert!(e.to_string().contains("broadcast: rank 0 passed root 2, which is not a member of group [0, 1]"), "{e}");
}

#[test]
fn parts_that_do_not_fit_the_group_are_errors() {
    let e = spawn(2, |ctx| {
        let (x, out) = (ctx.device().zeros(&[3], DType::F32)?, ctx.device().zeros(&[5], DType::F32)?);
        all_gather_into_tensor(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains(
            "all_gather_into_tensor: rank 0: output is f32 [5] but a group of 2 needs 2 × 3 = 6 elements of f32"
        ),
        "{e}"
    );
    let e = spawn(2, |ctx| {
        let (x, out) = (ctx.device().zeros(&[6], DType::F16)?, ctx.device().zeros(&[3], DType::F32)?);
        reduce_scatter_tensor(&ctx, &ProcessGroup::world(&ctx), &out, &x, ReduceOp::Sum)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains(
            "reduce_scatter_tensor: rank 0: input is f16 [6] but a group of 2 needs 2 × 3 = 6 elements of f32"
        ),
        "{e}"
    );
}

#[test]
fn mismatched_parts_across_ranks_name_both() {
    let e = spawn(2, |ctx| {
        let m = 2 + ctx.rank();
        let (x, out) = (ctx.device().zeros(&[m], DType::F32)?, ctx.device().zeros(&[2 * m], DType::F32)?);
        all_gather_into_tensor(&ctx, &ProcessGroup::world(&ctx), &out, &x)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("all_gather_into_tensor: rank 1 passed output f32 [6] but rank 0 passed output f32 [4]"),
        "{e}"
    );
}

#[test]
fn an_input_sharing_the_outputs_storage_is_refused() {
    let e = spawn(2, |ctx| {
        let out = ctx.device().zeros(&[2, 3], DType::F32)?;
        let mine = out.slice(0, ctx.rank(), ctx.rank() + 1)?.reshape(&[3])?;
        all_gather_into_tensor(&ctx, &ProcessGroup::world(&ctx), &out, &mine)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains(
            "all_gather_into_tensor: rank 0: output and input share a storage; in-place calls are not supported (pass separate tensors)"
        ),
        "{e}"
    );
}

#[test]
fn reduce_lands_at_the_root_only() {
    for dtype in DTYPES {
        for n in WORLDS {
            let roots = [0, n - 1];
            let got = spawn(n, move |ctx| {
                let world = ProcessGroup::world(&ctx);
                let mut got = Vec::new();
                for op in ops_for(dtype) {
                    for root in roots {
                        for count in [0, 1, 2 * n + 3] {
                            let t = make(&ctx, &[count], op, dtype)?;
                            reduce(&ctx, &world, &t, root, op)?;
                            got.push((op, root, count, read_bits(&t)?));
                        }
                    }
                }
                Ok::<_, CclError>(got)
            })
            .unwrap_or_else(|e| panic!("{n} ranks, {dtype}: {e}"));
            for (rank, got) in got.iter().enumerate() {
                for (op, root, count, bits) in got {
                    let inputs: Vec<Vec<f32>> = (0..n).map(|r| values(r, *count, *op, dtype)).collect();
                    let want = if rank == *root {
                        chain_reduce(&inputs, *root, *op, dtype)
                    } else {
                        inputs[rank].iter().map(|&v| to_bits(dtype, v)).collect()
                    };
                    assert_eq!(bits, &want, "{n} ranks, {dtype}, {op}, root {root}, {count} elements: rank {rank}");
                }
            }
        }
    }
}
