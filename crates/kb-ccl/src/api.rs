//! The entry points, shaped as `torch.distributed`'s: each collective is called by every member of
//! a [`ProcessGroup`], in the same order relative to the member's other collectives on that group,
//! with tensors on the member's own device. The `_async` forms return once the group's ops are
//! recorded (the call still parks until every member has made it: that is when they are
//! recorded), with a [`Work`] that completes when this member's share is final; the plain forms
//! wait on it.

use kb_mem::DType;
use kb_oplog::CollectiveAlgo;
use kb_sched::{RankCtx, Tensor, Work};

use crate::algo::{Kind, dispatch};
use crate::collective::{Call, check_algo, launch, launch_kind};
use crate::{CclError, ProcessGroup, ReduceOp, ring};

/// Reduces `tensor` across the members of `group` with `op`, in place, and waits until this
/// member's result is final. Every member passes a tensor of the same dtype and element count;
/// afterwards every member's tensor holds the same bytes.
pub fn all_reduce(ctx: &RankCtx, group: &ProcessGroup, tensor: &Tensor, op: ReduceOp) -> Result<(), CclError> {
    all_reduce_async(ctx, group, tensor, op)?.wait()?;
    Ok(())
}

/// As [`all_reduce`], returning a [`Work`] instead of waiting.
pub fn all_reduce_async(ctx: &RankCtx, group: &ProcessGroup, tensor: &Tensor, op: ReduceOp) -> Result<Work, CclError> {
    const NAME: &str = "all_reduce";
    op.check(NAME, ctx.rank(), tensor.dtype())?;
    let call = Call {
        rank: ctx.rank(),
        tensors: vec![("", tensor.clone())],
        op: Some(op),
        root: None,
        algo: CollectiveAlgo::Ring,
    };
    launch_kind(ctx, group, NAME, call, Kind::AllReduce)
}

/// Reduces `input` across the members with `op` and leaves member `i` (in group order) the `i`-th
/// of `n` equal parts of the result in `output`: `input` holds `n × output.numel()` elements of
/// `output`'s dtype, in another storage. `input` is left as it was.
pub fn reduce_scatter_tensor(
    ctx: &RankCtx,
    group: &ProcessGroup,
    output: &Tensor,
    input: &Tensor,
    op: ReduceOp,
) -> Result<(), CclError> {
    reduce_scatter_tensor_async(ctx, group, output, input, op)?.wait()?;
    Ok(())
}

/// As [`reduce_scatter_tensor`], returning a [`Work`] instead of waiting.
pub fn reduce_scatter_tensor_async(
    ctx: &RankCtx,
    group: &ProcessGroup,
    output: &Tensor,
    input: &Tensor,
    op: ReduceOp,
) -> Result<Work, CclError> {
    const NAME: &str = "reduce_scatter_tensor";
    op.check(NAME, ctx.rank(), input.dtype())?;
    check_parts(ctx, group, NAME, output, input, "input")?;
    let tensors = vec![("output", output.clone()), ("input", input.clone())];
    let call = Call { rank: ctx.rank(), tensors, op: Some(op), root: None, algo: CollectiveAlgo::Ring };
    launch_kind(ctx, group, NAME, call, Kind::ReduceScatter)
}

/// Gathers every member's `input` into `output`, in group order: `output` holds
/// `n × input.numel()` elements of `input`'s dtype, member `i`'s at part `i`. `input` must not
/// share `output`'s storage (no in-place form yet).
pub fn all_gather_into_tensor(
    ctx: &RankCtx,
    group: &ProcessGroup,
    output: &Tensor,
    input: &Tensor,
) -> Result<(), CclError> {
    all_gather_into_tensor_async(ctx, group, output, input)?.wait()?;
    Ok(())
}

/// As [`all_gather_into_tensor`], returning a [`Work`] instead of waiting.
pub fn all_gather_into_tensor_async(
    ctx: &RankCtx,
    group: &ProcessGroup,
    output: &Tensor,
    input: &Tensor,
) -> Result<Work, CclError> {
    const NAME: &str = "all_gather_into_tensor";
    check_parts(ctx, group, NAME, input, output, "output")?;
    let tensors = vec![("output", output.clone()), ("input", input.clone())];
    let call = Call { rank: ctx.rank(), tensors, op: None, root: None, algo: CollectiveAlgo::Ring };
    launch_kind(ctx, group, NAME, call, Kind::AllGather)
}

/// Copies the root `src`'s (a global rank, a member) `tensor` into every other member's `tensor`,
/// along the ring from the root, in pipelined chunks.
pub fn broadcast(ctx: &RankCtx, group: &ProcessGroup, tensor: &Tensor, src: usize) -> Result<(), CclError> {
    broadcast_async(ctx, group, tensor, src)?.wait()?;
    Ok(())
}

/// As [`broadcast`], returning a [`Work`] instead of waiting.
pub fn broadcast_async(ctx: &RankCtx, group: &ProcessGroup, tensor: &Tensor, src: usize) -> Result<Work, CclError> {
    const NAME: &str = "broadcast";
    if group.contains(ctx.rank()) && !group.contains(src) {
        return Err(CclError::BadRoot {
            collective: NAME,
            rank: ctx.rank(),
            root: src,
            members: group.ranks().to_vec(),
        });
    }
    let call = Call {
        rank: ctx.rank(),
        tensors: vec![("", tensor.clone())],
        op: None,
        root: Some(src),
        algo: CollectiveAlgo::Ring,
    };
    launch_kind(ctx, group, NAME, call, Kind::Broadcast)
}

/// Reduces `tensor` across the members with `op` into the root `dst`'s (a global rank, a member)
/// `tensor`; the other members' tensors are left as they were.
pub fn reduce(ctx: &RankCtx, group: &ProcessGroup, tensor: &Tensor, dst: usize, op: ReduceOp) -> Result<(), CclError> {
    reduce_async(ctx, group, tensor, dst, op)?.wait()?;
    Ok(())
}

/// As [`reduce`], returning a [`Work`] instead of waiting.
pub fn reduce_async(
    ctx: &RankCtx,
    group: &ProcessGroup,
    tensor: &Tensor,
    dst: usize,
    op: ReduceOp,
) -> Result<Work, CclError> {
    const NAME: &str = "reduce";
    op.check(NAME, ctx.rank(), tensor.dtype())?;
    if group.contains(ctx.rank()) && !group.contains(dst) {
        return Err(CclError::BadRoot {
            collective: NAME,
            rank: ctx.rank(),
            root: dst,
            members: group.ranks().to_vec(),
        });
    }
    let call = Call {
        rank: ctx.rank(),
        tensors: vec![("", tensor.clone())],
        op: Some(op),
        root: Some(dst),
        algo: CollectiveAlgo::Ring,
    };
    launch_kind(ctx, group, NAME, call, Kind::Reduce)
}

/// Waits until every member of `group` has called it. Like PyTorch's NCCL barrier, it is an
/// all-reduce of one element (an i32 on each member's device), so it takes simulated time too;
/// every member leaves when the whole all-reduce has ended.
pub fn barrier(ctx: &RankCtx, group: &ProcessGroup) -> Result<(), CclError> {
    let token = ctx.device().empty(&[1], DType::I32)?;
    let call = Call {
        rank: ctx.rank(),
        tensors: vec![("", token)],
        op: Some(ReduceOp::Sum),
        root: None,
        algo: CollectiveAlgo::Ring,
    };
    check_algo(ctx, group, "barrier", Kind::AllReduce)?;
    launch(ctx, group, "barrier", call, Kind::AllReduce, |rt, calls| {
        ring::barrier(rt, calls, dispatch(Kind::AllReduce))
    })?
    .wait()?;
    Ok(())
}

/// Checks that `whole` holds `n × part.numel()` elements of `part`'s dtype, in another storage.
fn check_parts(
    ctx: &RankCtx,
    group: &ProcessGroup,
    collective: &'static str,
    part: &Tensor,
    whole: &Tensor,
    whole_name: &'static str,
) -> Result<(), CclError> {
    let n = group.size();
    if whole.dtype() != part.dtype() || whole.numel() != n * part.numel() {
        return Err(CclError::BadParts {
            collective,
            rank: ctx.rank(),
            reason: format!(
                "{whole_name} is {} {:?} but a group of {n} needs {n} × {} = {} elements of {}",
                whole.dtype(),
                whole.shape(),
                part.numel(),
                n * part.numel(),
                part.dtype()
            ),
        });
    }
    if whole.shares_storage(part) && whole.numel() > 0 {
        return Err(CclError::BadParts {
            collective,
            rank: ctx.rank(),
            reason: "output and input share a storage; in-place calls are not supported (pass separate tensors)".into(),
        });
    }
    Ok(())
}
