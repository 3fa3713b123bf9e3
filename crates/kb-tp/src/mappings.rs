//! The mapping functions between the full and the tensor-parallel (or sequence-parallel) views
//! of an activation, as Megatron-LM's `tensor_parallel.mappings`, forward semantics only. Every
//! one works over this rank's tensor-parallel group ([`crate::parallel_state`]) and is the
//! identity on a group of one.
//!
//! | function | forward |
//! |---|---|
//! | [`copy_to_tensor_model_parallel_region`] | identity |
//! | [`reduce_from_tensor_model_parallel_region`] | all-reduce (sum), in place |
//! | [`scatter_to_tensor_model_parallel_region`] | keep this rank's part of the last dimension |
//! | [`gather_from_tensor_model_parallel_region`] | all-gather along the last dimension |
//! | [`scatter_to_sequence_parallel_region`] | keep this rank's part of the first dimension |
//! | [`gather_from_sequence_parallel_region`] | all-gather along the first dimension |
//! | [`reduce_scatter_to_sequence_parallel_region`] | reduce-scatter (sum) along the first dimension |
//!
//! Tensors must be contiguous. Parts are equal: the split dimension must be a multiple of the
//! group's size. Splits along the last dimension copy (a [`crate::kernels::copy`] launch into a
//! new tensor); splits along the first dimension return a view.
//!
//! # Communication spans
//!
//! A mapping that communicates first waits for every launch on this rank's device (as a
//! collective stream waits for the compute stream), so its input is final; then it runs the
//! collective and waits for it. It logs a [`CommSpan`] — the moment it entered the collective,
//! its input ready, and the moment its share ended — which [`comm_spans`] returns. Over a group,
//! the latest `end_ps` minus the latest `ready_ps` is the collective's own time, measured as
//! `kernbench all-reduce` measures it: from the moment every member's input is ready to the end
//! of the last member's share.

use std::cell::RefCell;
use std::rc::Rc;

use kb_ccl::{ProcessGroup, ReduceOp, all_gather_into_tensor_async, all_reduce_async, reduce_scatter_tensor_async};
use kb_sched::{RankCtx, Tensor, Work};

use crate::kernels::copy;
use crate::parallel_state::{get_tensor_model_parallel_group, get_tensor_model_parallel_rank};
use crate::{TpError, shape_error};

/// One collective a mapping ran on this rank, in simulated picoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommSpan {
    /// The collective: `all_reduce`, `all_gather_into_tensor` or `reduce_scatter_tensor`.
    pub collective: &'static str,
    /// The group's size.
    pub group_size: usize,
    /// Bytes of this rank's tensor that the collective works on (its input).
    pub bytes: usize,
    /// When this rank entered the collective, its device idle and its input final.
    pub ready_ps: u64,
    /// When this rank's share of the collective ended.
    pub end_ps: u64,
}

/// The per-rank log of [`CommSpan`]s.
#[derive(Debug, Default)]
struct CommLog(RefCell<Vec<CommSpan>>);

/// Every [`CommSpan`] this rank's mappings logged, oldest first.
pub fn comm_spans(ctx: &RankCtx) -> Vec<CommSpan> {
    ctx.local(CommLog::default).0.borrow().clone()
}

/// Forgets this rank's logged [`CommSpan`]s.
pub fn clear_comm_spans(ctx: &RankCtx) {
    ctx.local(CommLog::default).0.borrow_mut().clear();
}

/// Waits for this rank's device, runs `collective` and waits for it; logs the span.
fn communicate(
    ctx: &RankCtx,
    name: &'static str,
    group: &ProcessGroup,
    input: &Tensor,
    collective: impl FnOnce() -> Result<Work, kb_ccl::CclError>,
) -> Result<(), TpError> {
    ctx.device().synchronize()?;
    let ready_ps = ctx.runtime().now();
    let end_ps = collective()?.wait()?;
    let span = CommSpan {
        collective: name,
        group_size: group.size(),
        bytes: input.numel() * input.dtype().size(),
        ready_ps,
        end_ps,
    };
    let log: Rc<CommLog> = ctx.local(CommLog::default);
    log.0.borrow_mut().push(span);
    Ok(())
}

fn check_contiguous(ctx: &RankCtx, what: &'static str, input: &Tensor) -> Result<(), TpError> {
    if input.shape().is_empty() {
        return Err(shape_error(ctx, what, format!("a scalar cannot be split or gathered, got {:?}", input.shape())));
    }
    if !input.is_contiguous() {
        return Err(shape_error(ctx, what, format!("the input {:?} must be contiguous", input.shape())));
    }
    Ok(())
}

/// `dim`'s extent divided by the group's size, or the error.
fn part_of(ctx: &RankCtx, what: &'static str, input: &Tensor, dim: usize, parts: usize) -> Result<usize, TpError> {
    let extent = input.shape()[dim];
    if !extent.is_multiple_of(parts) {
        return Err(TpError::NotDivisible {
            rank: ctx.rank(),
            what: format!("{what}: dimension {dim} of {:?}", input.shape()),
            size: extent,
            parts,
        });
    }
    Ok(extent / parts)
}

/// Forward: the identity (its backward, not simulated, is an all-reduce). Returns a view of
/// `input`.
pub fn copy_to_tensor_model_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    get_tensor_model_parallel_group(ctx)?;
    Ok(input.clone())
}

/// Forward: sums `input` over the tensor-parallel group, in place, and returns it; every member
/// then holds the same bytes.
pub fn reduce_from_tensor_model_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    const WHAT: &str = "reduce_from_tensor_model_parallel_region";
    let group = get_tensor_model_parallel_group(ctx)?;
    if group.size() == 1 {
        return Ok(input.clone());
    }
    check_contiguous(ctx, WHAT, input)?;
    communicate(ctx, "all_reduce", &group, input, || all_reduce_async(ctx, &group, input, ReduceOp::Sum))?;
    Ok(input.clone())
}

/// Forward: this rank's part (the `t`-th of `T`) of `input`'s last dimension, as a new contiguous
/// tensor.
pub fn scatter_to_tensor_model_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    const WHAT: &str = "scatter_to_tensor_model_parallel_region";
    let group = get_tensor_model_parallel_group(ctx)?;
    if group.size() == 1 {
        return Ok(input.clone());
    }
    check_contiguous(ctx, WHAT, input)?;
    let last = input.shape().len() - 1;
    let part = part_of(ctx, WHAT, input, last, group.size())?;
    let t = get_tensor_model_parallel_rank(ctx)?;
    let cols = input.shape()[last];
    let rows = input.numel() / cols.max(1);
    let mut shape = input.shape().to_vec();
    shape[last] = part;
    let out = ctx.device().empty(&shape, input.dtype())?;
    if out.numel() > 0 {
        let src = input.reshape(&[rows, cols])?.slice(1, t * part, (t + 1) * part)?;
        copy(&ctx.device(), &src, &out.reshape(&[rows, part])?)?;
    }
    Ok(out)
}

/// Forward: the members' `input`s concatenated along the last dimension, in group order, as a
/// new tensor (an all-gather, then one copy per member into place).
pub fn gather_from_tensor_model_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    const WHAT: &str = "gather_from_tensor_model_parallel_region";
    let group = get_tensor_model_parallel_group(ctx)?;
    if group.size() == 1 {
        return Ok(input.clone());
    }
    check_contiguous(ctx, WHAT, input)?;
    let n = group.size();
    let last = input.shape().len() - 1;
    let part = input.shape()[last];
    let rows = input.numel() / part.max(1);
    let dev = ctx.device();
    let gathered = dev.empty(&[n, input.numel()], input.dtype())?;
    communicate(ctx, "all_gather_into_tensor", &group, input, || {
        all_gather_into_tensor_async(ctx, &group, &gathered, input)
    })?;
    let mut shape = input.shape().to_vec();
    shape[last] = part * n;
    let out = dev.empty(&shape, input.dtype())?;
    if out.numel() > 0 {
        let out2 = out.reshape(&[rows, part * n])?;
        for r in 0..n {
            let src = gathered.slice(0, r, r + 1)?.reshape(&[rows, part])?;
            copy(&dev, &src, &out2.slice(1, r * part, (r + 1) * part)?)?;
        }
    }
    Ok(out)
}

/// Forward: this rank's part (the `t`-th of `T`) of `input`'s first dimension, as a view.
pub fn scatter_to_sequence_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    const WHAT: &str = "scatter_to_sequence_parallel_region";
    let group = get_tensor_model_parallel_group(ctx)?;
    if group.size() == 1 {
        return Ok(input.clone());
    }
    check_contiguous(ctx, WHAT, input)?;
    let part = part_of(ctx, WHAT, input, 0, group.size())?;
    let t = get_tensor_model_parallel_rank(ctx)?;
    Ok(input.slice(0, t * part, (t + 1) * part)?)
}

/// Forward: the members' `input`s concatenated along the first dimension, in group order, as a
/// new tensor (one all-gather).
pub fn gather_from_sequence_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    const WHAT: &str = "gather_from_sequence_parallel_region";
    let group = get_tensor_model_parallel_group(ctx)?;
    if group.size() == 1 {
        return Ok(input.clone());
    }
    check_contiguous(ctx, WHAT, input)?;
    let mut shape = input.shape().to_vec();
    shape[0] *= group.size();
    let out = ctx.device().empty(&shape, input.dtype())?;
    communicate(ctx, "all_gather_into_tensor", &group, input, || {
        all_gather_into_tensor_async(ctx, &group, &out, input)
    })?;
    Ok(out)
}

/// Forward: `input` summed over the members, and this rank's part (the `t`-th of `T`) of the
/// sum's first dimension, as a new tensor (one reduce-scatter; `input` is left as it was).
pub fn reduce_scatter_to_sequence_parallel_region(ctx: &RankCtx, input: &Tensor) -> Result<Tensor, TpError> {
    const WHAT: &str = "reduce_scatter_to_sequence_parallel_region";
    let group = get_tensor_model_parallel_group(ctx)?;
    if group.size() == 1 {
        return Ok(input.clone());
    }
    check_contiguous(ctx, WHAT, input)?;
    let part = part_of(ctx, WHAT, input, 0, group.size())?;
    let mut shape = input.shape().to_vec();
    shape[0] = part;
    let out = ctx.device().empty(&shape, input.dtype())?;
    communicate(ctx, "reduce_scatter_tensor", &group, input, || {
        reduce_scatter_tensor_async(ctx, &group, &out, input, ReduceOp::Sum)
    })?;
    Ok(out)
}
