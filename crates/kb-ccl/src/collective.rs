//! What every collective shares: one member's call, the checks, and the rendezvous that records
//! the algorithm once for the group and hands each member a [`Work`].
//!
//! Each member first checks what it can alone ([`check_member`]: membership, its own device,
//! contiguity). Then the members meet in one [`RankCtx::rendezvous`] named after the collective;
//! the code run there — once, for the whole group — checks that every member passed the same
//! dtypes, sizes, op and root ([`check_calls`]; the first disagreement is the error every member
//! gets, naming both ranks and values) and records the algorithm's ops on the shared runtime.
//! It returns one join per member (of the ops touching that member's tensors), which the member
//! waits on or holds as a [`Work`], and the algorithm that ran, which [`last_algo`] reports.

use std::cell::Cell;

use kb_oplog::{CollectiveAlgo, OpId};
use kb_sched::{RankCtx, Runtime, SchedError, Tensor, Work};

use crate::algo::{Kind, dispatch, resolve, unsupported};
use crate::{CclError, ProcessGroup, ReduceOp};

/// One member's call, as the group's code sees it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// The member's global rank.
    pub(crate) rank: usize,
    /// Its tensors, each with the name messages use for it ("" for a collective's only tensor).
    pub(crate) tensors: Vec<(&'static str, Tensor)>,
    /// The reduce op, for reducing collectives.
    pub(crate) op: Option<ReduceOp>,
    /// The root (a global rank), for rooted collectives.
    pub(crate) root: Option<usize>,
    /// The algorithm, as the member chose it (filled in by [`launch`]).
    pub(crate) algo: CollectiveAlgo,
}

impl Call {
    /// The member's `i`-th tensor.
    pub(crate) fn tensor(&self, i: usize) -> &Tensor {
        &self.tensors[i].1
    }
}

/// Records a collective's ops for the group; returns one join per member, in member order.
pub(crate) type Record = fn(&Runtime, &[Call]) -> Result<Vec<OpId>, SchedError>;

/// The algorithm of the last collective a rank took part in (see [`last_algo`]).
#[derive(Debug, Default)]
struct LastAlgo(Cell<Option<CollectiveAlgo>>);

/// The algorithm that recorded the last collective this rank took part in — for `auto`, the one
/// it picked for that call (never `Auto`) — or `None` before any. As NCCL's debug output names the
/// algorithm its tuner chose, this is how a sweep reports what `auto` ran at each size.
pub fn last_algo(ctx: &RankCtx) -> Option<CollectiveAlgo> {
    ctx.local(LastAlgo::default).0.get()
}

/// Checks `call` alone, meets the other members of `group` in the rendezvous `name`, and there
/// checks the calls against each other, settles the algorithm of `kind` (`auto`'s choice) and
/// records the collective with `record`.
pub(crate) fn launch(
    ctx: &RankCtx,
    group: &ProcessGroup,
    name: &'static str,
    mut call: Call,
    kind: Kind,
    record: Record,
) -> Result<Work, CclError> {
    for (_, t) in &call.tensors {
        check_member(ctx, group, t, name)?;
    }
    call.algo = chosen_algo(ctx, group);
    let rt = ctx.runtime().clone();
    let (join, algo) = ctx.rendezvous(name, group.ranks(), call, move |mut calls: Vec<Call>| {
        check_calls(&calls)?;
        let algo = resolve(&rt, &calls, kind).map_err(|e| e.to_string())?;
        for c in &mut calls {
            c.algo = algo;
        }
        let joins = record(&rt, &calls).map_err(|e| e.to_string())?;
        Ok(joins.into_iter().map(|j| (j, algo)).collect())
    })?;
    ctx.local(LastAlgo::default).0.set(Some(algo));
    Ok(Work::from_op(ctx.runtime(), join))
}

/// Checks that a member's algorithm (the group's, else the config's) can run `kind` on `group`:
/// else [`CclError::UnsupportedAlgo`], before the rendezvous, so no op is recorded.
pub(crate) fn check_algo(ctx: &RankCtx, group: &ProcessGroup, name: &'static str, kind: Kind) -> Result<(), CclError> {
    let algo = chosen_algo(ctx, group);
    if group.contains(ctx.rank())
        && let Some(reason) = unsupported(kind, algo, group.size())
    {
        return Err(CclError::UnsupportedAlgo { collective: name, rank: ctx.rank(), algo, reason });
    }
    Ok(())
}

/// [`launch`] with the recorder of `kind` for the member's algorithm, after [`check_algo`].
pub(crate) fn launch_kind(
    ctx: &RankCtx,
    group: &ProcessGroup,
    name: &'static str,
    call: Call,
    kind: Kind,
) -> Result<Work, CclError> {
    check_algo(ctx, group, name, kind)?;
    launch(ctx, group, name, call, kind, dispatch(kind))
}

/// The algorithm a member's call on `group` uses: the group's, else the machine config's.
pub(crate) fn chosen_algo(ctx: &RankCtx, group: &ProcessGroup) -> CollectiveAlgo {
    group.algo().unwrap_or_else(|| ctx.runtime().machine().collectives.algo)
}

/// Checks what one member can check alone.
fn check_member(
    ctx: &RankCtx,
    group: &ProcessGroup,
    tensor: &Tensor,
    collective: &'static str,
) -> Result<(), CclError> {
    let rank = ctx.rank();
    if !group.contains(rank) {
        return Err(CclError::NotAMember { collective, rank, members: group.ranks().to_vec() });
    }
    let own = ctx.device().index();
    if tensor.device() != own {
        return Err(CclError::WrongDevice { collective, rank, device: tensor.device(), own });
    }
    // An empty tensor moves nothing, whatever its strides.
    if tensor.numel() > 0 && !tensor.is_contiguous() {
        return Err(CclError::NotContiguous { collective, rank, shape: tensor.shape().to_vec() });
    }
    Ok(())
}

fn describe(name: &str, t: &Tensor) -> String {
    let sep = if name.is_empty() { "" } else { " " };
    format!("{name}{sep}{} {:?}", t.dtype(), t.shape())
}

/// Checks that every member passed the same dtypes, element counts, op and root as the first.
fn check_calls(calls: &[Call]) -> Result<(), String> {
    let Some(first) = calls.first() else { return Ok(()) };
    for c in &calls[1..] {
        for ((name, t), (_, f)) in c.tensors.iter().zip(&first.tensors) {
            if t.dtype() != f.dtype() || t.numel() != f.numel() {
                return Err(format!(
                    "rank {} passed {} but rank {} passed {}",
                    c.rank,
                    describe(name, t),
                    first.rank,
                    describe(name, f)
                ));
            }
        }
        if let (Some(op), Some(first_op)) = (c.op, first.op)
            && op != first_op
        {
            return Err(format!("rank {} passed op {op} but rank {} passed op {first_op}", c.rank, first.rank));
        }
        if c.algo != first.algo {
            return Err(format!(
                "rank {} chose algorithm {} but rank {} chose {}",
                c.rank, c.algo, first.rank, first.algo
            ));
        }
        if let (Some(root), Some(first_root)) = (c.root, first.root)
            && root != first_root
        {
            return Err(format!("rank {} passed root {root} but rank {} passed root {first_root}", c.rank, first.rank));
        }
    }
    Ok(())
}
