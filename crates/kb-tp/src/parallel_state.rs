//! `parallel_state`: which tensor-, pipeline- and data-parallel group each rank belongs to, as
//! Megatron-LM's `megatron.core.parallel_state`, kept per rank in [`RankCtx::local`] (no globals:
//! two spawns, or two runtimes, never see each other's groups).
//!
//! # The rank layout
//!
//! With `W` ranks, tensor-parallel size `T` and pipeline-parallel size `P`, the data-parallel size
//! is `D = W / (T·P)`, and rank `(t, d, p)` — its tensor-, data- and pipeline-parallel indices —
//! is global rank `t + T·(d + D·p)` (Megatron's default order, tp-dp-pp: a tensor-parallel group
//! is `T` consecutive ranks). With `W = 16`, `T = 2`, `P = 4` (so `D = 2`), as in Megatron's
//! documentation: tensor-parallel groups `[0, 1], [2, 3], …, [14, 15]`; pipeline-parallel groups
//! `[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15]`; data-parallel groups
//! `[0, 2], [1, 3], [4, 6], [5, 7], …, [13, 15]`.
//!
//! # Creating the groups
//!
//! [`kb_ccl::new_group`] is called by every rank of the world, in the same order: so
//! [`initialize_model_parallel`] — called by every rank — creates every group of the layout in a
//! fixed order (the tensor-parallel groups by `(p, d)`, then the data-parallel groups by
//! `(p, t)`, then the pipeline-parallel groups by `(d, t)`) and keeps the three it belongs to.
//! Every rank checks the sizes itself before any group is made, so a bad size fails on every rank
//! alike and never leaves a rendezvous half joined.

use std::cell::RefCell;
use std::rc::Rc;

use kb_ccl::{ProcessGroup, new_group};
use kb_sched::RankCtx;

use crate::TpError;

/// The groups of one rank.
#[derive(Debug, Clone)]
struct Groups {
    tensor: ProcessGroup,
    pipeline: ProcessGroup,
    data: ProcessGroup,
}

/// The per-rank slot in [`RankCtx::local`]: `None` until initialised, and after destruction.
#[derive(Debug, Default)]
struct Slot(RefCell<Option<Groups>>);

fn slot(ctx: &RankCtx) -> Rc<Slot> {
    ctx.local(Slot::default)
}

/// The three sizes of the layout, checked.
#[derive(Debug, Clone, Copy)]
struct Layout {
    tensor: usize,
    data: usize,
    pipeline: usize,
}

impl Layout {
    fn global(&self, t: usize, d: usize, p: usize) -> usize {
        t + self.tensor * (d + self.data * p)
    }
}

/// Creates the tensor-, pipeline- and data-parallel groups for `tensor_model_parallel_size` (T)
/// and `pipeline_model_parallel_size` (P), with Megatron's rank layout (see the module
/// documentation), and keeps this rank's. Every rank of the world must call it, with the same
/// sizes.
///
/// # Errors
/// [`TpError::ZeroSize`] for a size of 0; [`TpError::WorldNotDivisible`] when the world size is
/// not a multiple of T·P; [`TpError::AlreadyInitialized`] when this rank already has groups; a
/// [`TpError::Ccl`] when the ranks' calls disagree.
pub fn initialize_model_parallel(
    ctx: &RankCtx,
    tensor_model_parallel_size: usize,
    pipeline_model_parallel_size: usize,
) -> Result<(), TpError> {
    let rank = ctx.rank();
    let world_size = ctx.world_size();
    for (what, size) in [
        ("tensor_model_parallel_size", tensor_model_parallel_size),
        ("pipeline_model_parallel_size", pipeline_model_parallel_size),
    ] {
        if size == 0 {
            return Err(TpError::ZeroSize { rank, what });
        }
    }
    let (tensor, pipeline) = (tensor_model_parallel_size, pipeline_model_parallel_size);
    if !world_size.is_multiple_of(tensor * pipeline) {
        return Err(TpError::WorldNotDivisible { rank, world_size, tensor, pipeline });
    }
    if model_parallel_is_initialized(ctx) {
        return Err(TpError::AlreadyInitialized { rank });
    }
    let layout = Layout { tensor, data: world_size / (tensor * pipeline), pipeline };
    let mut mine = (None, None, None);
    for p in 0..layout.pipeline {
        for d in 0..layout.data {
            let ranks: Vec<usize> = (0..layout.tensor).map(|t| layout.global(t, d, p)).collect();
            mine.0 = new_group(ctx, &ranks)?.or(mine.0);
        }
    }
    for p in 0..layout.pipeline {
        for t in 0..layout.tensor {
            let ranks: Vec<usize> = (0..layout.data).map(|d| layout.global(t, d, p)).collect();
            mine.1 = new_group(ctx, &ranks)?.or(mine.1);
        }
    }
    for d in 0..layout.data {
        for t in 0..layout.tensor {
            let ranks: Vec<usize> = (0..layout.pipeline).map(|p| layout.global(t, d, p)).collect();
            mine.2 = new_group(ctx, &ranks)?.or(mine.2);
        }
    }
    let (Some(tensor), Some(data), Some(pipeline)) = mine else {
        unreachable!("the layout covers every rank of the world once in each kind of group")
    };
    *slot(ctx).0.borrow_mut() = Some(Groups { tensor, pipeline, data });
    Ok(())
}

/// Whether this rank's model-parallel groups are initialised.
pub fn model_parallel_is_initialized(ctx: &RankCtx) -> bool {
    slot(ctx).0.borrow().is_some()
}

/// Forgets this rank's model-parallel groups (a no-op when there are none); they can then be
/// initialised again, with other sizes.
pub fn destroy_model_parallel(ctx: &RankCtx) {
    *slot(ctx).0.borrow_mut() = None;
}

/// One of this rank's groups, or the error naming `what` when not initialised.
fn group(ctx: &RankCtx, what: &'static str, pick: fn(&Groups) -> &ProcessGroup) -> Result<ProcessGroup, TpError> {
    slot(ctx).0.borrow().as_ref().map(|g| pick(g).clone()).ok_or(TpError::NotInitialized { rank: ctx.rank(), what })
}

/// This rank's position in `group`.
fn rank_in(ctx: &RankCtx, group: &ProcessGroup) -> usize {
    group.group_rank(ctx.rank()).expect("a rank's own groups contain it")
}

const TENSOR: &str = "tensor model parallel group";
const PIPELINE: &str = "pipeline model parallel group";
const DATA: &str = "data parallel group";

/// This rank's tensor-parallel group: `T` consecutive ranks.
pub fn get_tensor_model_parallel_group(ctx: &RankCtx) -> Result<ProcessGroup, TpError> {
    group(ctx, TENSOR, |g| &g.tensor)
}

/// The tensor-parallel size `T`.
pub fn get_tensor_model_parallel_world_size(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(get_tensor_model_parallel_group(ctx)?.size())
}

/// This rank's index `t` within its tensor-parallel group.
pub fn get_tensor_model_parallel_rank(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(rank_in(ctx, &get_tensor_model_parallel_group(ctx)?))
}

/// The global rank of the first member (`t = 0`) of this rank's tensor-parallel group, as
/// Megatron's `get_tensor_model_parallel_src_rank` (the source of broadcasts within the group).
pub fn get_tensor_model_parallel_src_rank(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(get_tensor_model_parallel_group(ctx)?.ranks()[0])
}

/// This rank's pipeline-parallel group: the ranks with its `t` and `d`, one per stage.
pub fn get_pipeline_model_parallel_group(ctx: &RankCtx) -> Result<ProcessGroup, TpError> {
    group(ctx, PIPELINE, |g| &g.pipeline)
}

/// The pipeline-parallel size `P`.
pub fn get_pipeline_model_parallel_world_size(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(get_pipeline_model_parallel_group(ctx)?.size())
}

/// This rank's pipeline stage `p`.
pub fn get_pipeline_model_parallel_rank(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(rank_in(ctx, &get_pipeline_model_parallel_group(ctx)?))
}

/// This rank's data-parallel group: the ranks with its `t` and `p`.
pub fn get_data_parallel_group(ctx: &RankCtx) -> Result<ProcessGroup, TpError> {
    group(ctx, DATA, |g| &g.data)
}

/// The data-parallel size `D = W / (T·P)`.
pub fn get_data_parallel_world_size(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(get_data_parallel_group(ctx)?.size())
}

/// This rank's index `d` within its data-parallel group.
pub fn get_data_parallel_rank(ctx: &RankCtx) -> Result<usize, TpError> {
    Ok(rank_in(ctx, &get_data_parallel_group(ctx)?))
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn the_layout_is_tp_then_dp_then_pp() {
        let l = Layout { tensor: 2, data: 2, pipeline: 4 };
        assert_eq!(l.global(0, 0, 0), 0);
        assert_eq!(l.global(1, 0, 0), 1);
        assert_eq!(l.global(0, 1, 0), 2);
        assert_eq!(l.global(0, 0, 1), 4);
        assert_eq!(l.global(1, 1, 3), 15);
    }
}
