//! Calls that cannot work are errors naming the ranks and the values, never a hang.

use std::cell::RefCell;
use std::rc::Rc;

use kb_ccl::{CclError, CollectiveAlgo, ProcessGroup, ReduceOp, all_reduce, new_group};
use kb_mem::DType;
use kb_sched::{RankFailure, SpawnError, spawn};

pub(crate) fn failures(e: SpawnError) -> Vec<RankFailure> {
    match e {
        SpawnError::Failed(f) => f,
        other => panic!("expected rank failures, got {other}"),
    }
}

/// The ranks that failed (the member that ran the group's check first; the others may be aborted
/// before they see it) all failed with `message`.
pub(crate) fn assert_failed_with(e: SpawnError, message: &str) {
    let f = failures(e);
    assert!(!f.is_empty());
    for f in &f {
        assert_eq!(f.message, message, "rank {}", f.rank);
        assert!(!f.panicked);
    }
}

#[test]
fn a_different_dtype_names_both_ranks_and_values() {
    let e = spawn(4, |ctx| {
        let dtype = if ctx.rank() == 2 { DType::F16 } else { DType::F32 };
        let t = ctx.device().zeros(&[8], dtype)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)
    })
    .unwrap_err();
    assert_failed_with(e, "all_reduce: rank 2 passed f16 [8] but rank 0 passed f32 [8]");
}

#[test]
fn a_different_size_names_both_ranks_and_shapes() {
    let e = spawn(3, |ctx| {
        let n = if ctx.rank() == 1 { 9 } else { 8 };
        let t = ctx.device().zeros(&[n], DType::BF16)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)
    })
    .unwrap_err();
    assert_failed_with(e, "all_reduce: rank 1 passed bf16 [9] but rank 0 passed bf16 [8]");
}

#[test]
fn a_different_algorithm_names_both_ranks_and_algorithms() {
    let e = spawn(4, |ctx| {
        let algo = if ctx.rank() == 1 { CollectiveAlgo::Tree } else { CollectiveAlgo::Ring };
        let t = ctx.device().zeros(&[8], DType::F32)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx).with_algo(algo), &t, ReduceOp::Sum)
    })
    .unwrap_err();
    assert_failed_with(e, "all_reduce: rank 1 chose algorithm tree but rank 0 chose ring");
}

#[test]
fn an_algorithm_that_cannot_run_the_call_is_refused_before_anything_is_recorded() {
    let e = spawn(3, |ctx| {
        let t = ctx.device().full(&[4], 1.0, DType::F32).map_err(|e| e.to_string())?;
        let hd = ProcessGroup::world(&ctx).with_algo(CollectiveAlgo::HalvingDoubling);
        let refused = all_reduce(&ctx, &hd, &t, ReduceOp::Sum).unwrap_err().to_string();
        assert_eq!(t.to_vec::<f32>().map_err(|e| e.to_string())?, [1.0; 4], "nothing was recorded");
        Err::<(), _>(refused)
    })
    .unwrap_err();
    let f = failures(e);
    assert_eq!(f.len(), 3);
    for f in f {
        let want = format!(
            "all_reduce: rank {}: algorithm halving-doubling needs a group whose size is a power of two, not 3",
            f.rank
        );
        assert_eq!(f.message, want);
    }
}

#[test]
fn a_different_op_names_both_ranks_and_ops() {
    let e = spawn(4, |ctx| {
        let op = if ctx.rank() == 3 { ReduceOp::Max } else { ReduceOp::Sum };
        let t = ctx.device().zeros(&[8], DType::F32)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, op)
    })
    .unwrap_err();
    assert_failed_with(e, "all_reduce: rank 3 passed op max but rank 0 passed op sum");
}

#[test]
fn a_mismatch_leaves_every_tensor_as_it_was() {
    // The failing collective records nothing: each rank's own tensor keeps its bytes.
    let rt = kb_sched::Runtime::with_default_machine().unwrap();
    let kept = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let k = kept.clone();
    let e = rt
        .spawn(2, move |ctx| {
            let t = ctx.device().full(&[4 + ctx.rank()], 3.0, DType::F32)?;
            k.borrow_mut().push(t.clone());
            all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)
        })
        .unwrap_err();
    assert!(e.to_string().contains("all_reduce: rank 1 passed f32 [5] but rank 0 passed f32 [4]"), "{e}");
    for t in kept.borrow().iter() {
        assert!(t.to_vec::<f32>().unwrap().iter().all(|&v| v == 3.0));
    }
}

#[test]
fn bitwise_ops_on_floats_and_avg_on_integers_are_refused() {
    let e = spawn(2, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F16)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::BXor)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_reduce: rank 0: reduce op bxor is not defined for f16 tensors (bitwise ops are defined for integer dtypes only)"
    );
    let e = spawn(2, |ctx| {
        let t = ctx.device().zeros(&[4], DType::I32)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Avg)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_reduce: rank 0: reduce op avg is not defined for i32 tensors (avg is defined for float dtypes only)"
    );
}

#[test]
fn a_rank_outside_the_group_is_an_error() {
    // Rank 0 hands its group to rank 2, a non-member, which then calls the collective on it.
    let shared: Rc<RefCell<Option<ProcessGroup>>> = Rc::default();
    let e = spawn(3, move |ctx| {
        let group = match new_group(&ctx, &[1, 0])? {
            Some(g) => {
                *shared.borrow_mut() = Some(g.clone());
                g
            }
            None => {
                // The last rank to reach new_group runs on at once: let rank 0 store the group.
                ctx.yield_now()?;
                shared.borrow().clone().expect("rank 0 ran in the round before")
            }
        };
        let t = ctx.device().zeros(&[4], DType::F32)?;
        all_reduce(&ctx, &group, &t, ReduceOp::Sum)
    })
    .unwrap_err();
    let f = failures(e);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rank, 2);
    assert_eq!(f[0].message, "all_reduce: rank 2 is not a member of group [0, 1]");
}

#[test]
fn a_tensor_on_another_device_is_an_error() {
    let e = spawn(2, |ctx| {
        let other = ctx.runtime().device(((ctx.rank() + 1) % 2) as u32)?;
        let t = other.zeros(&[4], DType::F32)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)
    })
    .unwrap_err();
    assert_eq!(failures(e)[0].message, "all_reduce: rank 0 passed a tensor on device 1, but its own device is 0");
}

#[test]
fn a_non_contiguous_tensor_is_an_error() {
    let e = spawn(2, |ctx| {
        let t = ctx.device().zeros(&[2, 3], DType::F32)?.transpose(0, 1)?;
        all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)
    })
    .unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "all_reduce: rank 0 passed a non-contiguous tensor of shape [3, 2] (make a contiguous copy first)"
    );
}

#[test]
fn a_member_that_never_joins_is_a_deadlock_naming_the_collective() {
    let e = spawn(3, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F32)?;
        if ctx.rank() != 1 {
            all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?;
        }
        Ok::<_, CclError>(())
    })
    .unwrap_err();
    let SpawnError::Deadlock { waits } = e else { panic!("expected a deadlock, got {e}") };
    let text = waits.join("\n");
    assert!(text.contains("all_reduce"), "{text}");
}

#[test]
fn the_configs_algorithm_is_checked_too_even_by_a_barrier() {
    let mut spec = kb_oplog::MachineSpec::default();
    spec.cluster.ranks = 3;
    spec.collectives.algo = CollectiveAlgo::HalvingDoubling;
    let rt = kb_sched::Runtime::new(spec, kb_oplog::Mode::TIMING).unwrap();
    let e = rt.spawn(3, |ctx| kb_ccl::barrier(&ctx, &ProcessGroup::world(&ctx))).unwrap_err();
    for f in failures(e) {
        let want = format!(
            "barrier: rank {}: algorithm halving-doubling needs a group whose size is a power of two, not 3",
            f.rank
        );
        assert_eq!(f.message, want);
    }
}
