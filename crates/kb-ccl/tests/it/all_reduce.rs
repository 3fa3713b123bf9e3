//! all_reduce results against the host reference, over world sizes, dtypes, ops and shapes.

use kb_ccl::{CclError, ProcessGroup, ReduceOp, all_reduce, all_reduce_async};
use kb_mem::DType;
use kb_sched::{RankCtx, Tensor, spawn};

use crate::reference::{input, read_bits, ring_all_reduce, round};

const WORLDS: [usize; 7] = [1, 2, 3, 4, 5, 7, 8];

fn ops_for(dtype: DType) -> Vec<ReduceOp> {
    let mut ops = vec![ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Product];
    if dtype.is_float() {
        ops.push(ReduceOp::Avg);
    } else {
        ops.extend([ReduceOp::BAnd, ReduceOp::BOr, ReduceOp::BXor]);
    }
    ops
}

/// Shapes: empty, fewer elements than ranks, a count not divisible by the world size, 2-D.
fn shapes(n: usize) -> Vec<Vec<usize>> {
    vec![vec![0], vec![n.saturating_sub(1).max(1)], vec![2 * n + 3], vec![3, 5], vec![1]]
}

/// Rank `rank`'s input of `numel` elements, rounded to the dtype.
fn inputs_of(rank: usize, numel: usize, op: ReduceOp, dtype: DType) -> Vec<f32> {
    (0..numel).map(|i| round(dtype, input(rank, i, op, dtype))).collect()
}

fn make(ctx: &RankCtx, shape: &[usize], op: ReduceOp, dtype: DType) -> Result<Tensor, CclError> {
    let numel = shape.iter().product();
    let values = inputs_of(ctx.rank(), numel, op, dtype);
    Ok(if dtype == DType::I32 {
        let ints: Vec<i32> = values.iter().map(|&v| v as i32).collect();
        ctx.device().from_slice(shape, &ints)?
    } else {
        ctx.device().from_f32(shape, dtype, &values)?
    })
}

/// Runs every op × shape on `n` ranks in one spawn and checks every rank against the reference.
fn check_world(n: usize, dtype: DType) {
    let per_rank = spawn(n, move |ctx| {
        let world = ProcessGroup::world(&ctx);
        let mut got = Vec::new();
        for op in ops_for(dtype) {
            for shape in shapes(n) {
                let t = make(&ctx, &shape, op, dtype)?;
                all_reduce(&ctx, &world, &t, op)?;
                got.push((op, shape, read_bits(&t)?));
            }
        }
        Ok::<_, CclError>(got)
    })
    .unwrap_or_else(|e| panic!("{n} ranks, {dtype}: {e}"));
    for (rank, got) in per_rank.iter().enumerate() {
        for (op, shape, bits) in got {
            let numel = shape.iter().product();
            let inputs: Vec<Vec<f32>> = (0..n).map(|r| inputs_of(r, numel, *op, dtype)).collect();
            let want = ring_all_reduce(&inputs, *op, dtype);
            assert_eq!(bits, &want, "{n} ranks, {dtype}, {op}, shape {shape:?}: rank {rank}");
            // Bitwise identical across ranks (implied by the above, asserted on its own too).
            let first = &per_rank[0].iter().find(|(o, s, _)| o == op && s == shape).expect("same calls").2;
            assert_eq!(bits, first, "{n} ranks, {dtype}, {op}, shape {shape:?}: rank {rank} differs from rank 0");
        }
    }
}

#[test]
fn f32_matches_the_reference_on_every_world_size() {
    for n in WORLDS {
        check_world(n, DType::F32);
    }
}

#[test]
fn f16_rounds_at_each_ring_step_like_the_reference() {
    for n in WORLDS {
        check_world(n, DType::F16);
    }
}

#[test]
fn bf16_rounds_at_each_ring_step_like_the_reference() {
    for n in WORLDS {
        check_world(n, DType::BF16);
    }
}

#[test]
fn i32_matches_the_reference_with_bitwise_ops_too() {
    for n in WORLDS {
        check_world(n, DType::I32);
    }
}

/// The f16 reference really does differ from one f32 sum rounded once: the test would catch an
/// implementation that reduced in f32 throughout.
#[test]
fn the_f16_reference_is_not_a_single_rounding() {
    let n = 8;
    let count = 64;
    let inputs: Vec<Vec<f32>> = (0..n).map(|r| inputs_of(r, count, ReduceOp::Sum, DType::F16)).collect();
    let ring = ring_all_reduce(&inputs, ReduceOp::Sum, DType::F16);
    let once: Vec<u32> =
        (0..count).map(|i| crate::reference::to_bits(DType::F16, inputs.iter().map(|v| v[i]).sum::<f32>())).collect();
    assert_ne!(ring, once);
}

#[test]
fn async_work_completes_on_wait_and_the_data_is_final() {
    let out = spawn(4, |ctx| {
        let t = ctx.device().full(&[10], ctx.rank() as f64, DType::F32)?;
        let work = all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?;
        let before = work.is_completed();
        let end = work.wait()?;
        Ok::<_, CclError>((before, work.is_completed(), end > 0, t.to_vec::<f32>()?))
    })
    .unwrap();
    for (before, after, ended, values) in out {
        assert!(!before && after && ended);
        assert_eq!(values, [6.0; 10]);
    }
}

#[test]
fn a_host_read_without_wait_still_sees_the_result() {
    let out = spawn(3, |ctx| {
        let t = ctx.device().full(&[7], 1.0 + ctx.rank() as f64, DType::F32)?;
        let _work = all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Max)?;
        Ok::<_, CclError>(t.to_vec::<f32>()?)
    })
    .unwrap();
    assert!(out.iter().all(|v| v == &[3.0; 7]));
}

#[test]
fn one_rank_is_a_no_op_that_still_returns_work() {
    let out = spawn(1, |ctx| {
        let t = ctx.device().from_f32(&[3], DType::F16, &[1.5, -2.0, 0.25])?;
        let work = all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Avg)?;
        work.wait()?;
        Ok::<_, CclError>(t.to_vec::<f32>()?)
    })
    .unwrap();
    assert_eq!(out, [vec![1.5, -2.0, 0.25]]);
}

#[test]
fn the_same_program_records_the_same_log_twice() {
    let run = || {
        let rt = kb_sched::Runtime::new(
            {
                let mut spec = kb_oplog::MachineSpec::default();
                spec.cluster.ranks = 5;
                spec
            },
            kb_oplog::Mode::DATA,
        )
        .unwrap();
        rt.spawn(5, |ctx| {
            let t = make(&ctx, &[13], ReduceOp::Sum, DType::BF16)?;
            all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?;
            Ok::<_, CclError>(read_bits(&t)?)
        })
        .unwrap();
        (rt.log_table(), rt.makespan())
    };
    assert_eq!(run(), run());
}

#[test]
fn back_to_back_async_all_reduces_on_one_tensor_run_in_order() {
    let out = spawn(3, |ctx| {
        let world = ProcessGroup::world(&ctx);
        let t = ctx.device().full(&[5], 1.0 + ctx.rank() as f64, DType::F32)?;
        let a = all_reduce_async(&ctx, &world, &t, ReduceOp::Sum)?;
        let b = all_reduce_async(&ctx, &world, &t, ReduceOp::Product)?;
        let (ea, eb) = (a.wait()?, b.wait()?);
        Ok::<_, CclError>((ea < eb, t.to_vec::<f32>()?))
    })
    .unwrap();
    // (1 + 2 + 3) = 6 everywhere, then 6 · 6 · 6.
    assert!(out.iter().all(|(ordered, v)| *ordered && v == &[216.0; 5]), "{out:?}");
}

#[test]
fn a_write_after_an_async_all_reduce_starts_after_it() {
    let mut spec = kb_oplog::MachineSpec::default();
    spec.cluster.ranks = 4;
    let rt = kb_sched::Runtime::new(spec, kb_oplog::Mode::DATA).unwrap();
    let out = rt
        .spawn(4, |ctx| {
            let t = ctx.device().full(&[6], 1.0, DType::F32)?;
            let work = all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?;
            let other = ctx.device().full(&[6], -5.0, DType::F32)?;
            t.copy_from(&other)?;
            Ok::<_, CclError>((work.wait()?, t.to_vec::<f32>()?))
        })
        .unwrap();
    let copies: Vec<(u32, u64)> = rt.with_sim(|sim| {
        sim.ops()
            .filter_map(|(_, op, times)| match (&op.kind, op.label.as_deref()) {
                (kb_oplog::OpKind::Dma { pe, .. }, Some("copy_from")) => Some((pe.device, times.unwrap().start)),
                _ => None,
            })
            .collect()
    });
    assert_eq!(copies.len(), 4);
    for (device, start) in copies {
        let (end, values) = &out[device as usize];
        assert!(start >= *end, "device {device}: the copy starts at {start} ps, the all-reduce ends at {end} ps");
        assert_eq!(values, &[-5.0; 6], "the copy wrote last");
    }
}

#[test]
fn a_view_with_an_offset_is_reduced_in_place_and_its_neighbours_are_kept() {
    let out = spawn(3, |ctx| {
        let whole = ctx.device().full(&[4, 5], 100.0 + ctx.rank() as f64, DType::F32)?;
        let rows = whole.slice(0, 1, 3)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &rows, ReduceOp::Sum)?;
        Ok::<_, CclError>(whole.to_vec::<f32>()?)
    })
    .unwrap();
    for (rank, values) in out.iter().enumerate() {
        let own = 100.0 + rank as f32;
        let want: Vec<f32> = (0..20).map(|i| if (5..15).contains(&i) { 303.0 } else { own }).collect();
        assert_eq!(values, &want, "rank {rank}");
    }
}

#[test]
fn the_ring_runs_over_switch_and_torus_topologies_too() {
    for topology in [kb_oplog::Topology::Switch, kb_oplog::Topology::Torus2d { dims: [3, 2] }] {
        let mut spec = kb_oplog::MachineSpec::default();
        spec.cluster.ranks = 6;
        spec.cluster.topology = topology;
        let rt = kb_sched::Runtime::new(spec, kb_oplog::Mode::DATA).unwrap();
        let got = rt
            .spawn(6, |ctx| {
                let t = make(&ctx, &[17], ReduceOp::Sum, DType::F16)?;
                all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?;
                Ok::<_, CclError>(read_bits(&t)?)
            })
            .unwrap();
        let inputs: Vec<Vec<f32>> = (0..6).map(|r| inputs_of(r, 17, ReduceOp::Sum, DType::F16)).collect();
        let want = ring_all_reduce(&inputs, ReduceOp::Sum, DType::F16);
        assert!(got.iter().all(|g| g == &want), "{topology}");
    }
}
