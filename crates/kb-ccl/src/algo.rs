//! Which algorithm records a collective: the member's choice ([`CollectiveAlgo`], from its group
//! or the machine config), checked before the rendezvous, and `auto`'s choice, made once for the
//! group at the rendezvous.
//!
//! `auto` is NCCL's tuner done with the simulator itself: for each algorithm that can run the call,
//! it records the collective on a scratch timing-only runtime of the same machine — tensors of the
//! same shapes on the same devices, an idle machine — and takes the one whose collective ends
//! first (ties go to the earlier of ring, tree, halving-doubling, direct). The prediction is the
//! cost model's own, so it accounts for the topology's routes and link sharing; it ignores other
//! traffic in flight, as NCCL's tuner does. It costs one timing-only recording per candidate.

use kb_oplog::{CollectiveAlgo, Mode, OpId};
use kb_sched::{Runtime, SchedError};

use crate::collective::{Call, Record};
use crate::{all_to_all, direct, gather_list, hd, ring, tree};

/// The collectives whose algorithm can be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `all_reduce` (and `barrier`).
    AllReduce,
    /// `reduce_scatter_tensor`.
    ReduceScatter,
    /// `all_gather_into_tensor`.
    AllGather,
    /// `broadcast`.
    Broadcast,
    /// `reduce`.
    Reduce,
    /// `all_to_all_single` (ring: pairwise exchange, or direct).
    AllToAll,
    /// `all_gather` into a list (ring or direct).
    AllGatherList,
}

/// The candidates of `auto`, in tie-break order.
const CANDIDATES: [CollectiveAlgo; 4] =
    [CollectiveAlgo::Ring, CollectiveAlgo::Tree, CollectiveAlgo::HalvingDoubling, CollectiveAlgo::Direct];

/// Why `algo` cannot run `kind` on a group of `n` members, if it cannot (`auto` always can).
pub(crate) fn unsupported(kind: Kind, algo: CollectiveAlgo, n: usize) -> Option<String> {
    if matches!(kind, Kind::AllToAll | Kind::AllGatherList)
        && matches!(algo, CollectiveAlgo::HalvingDoubling | CollectiveAlgo::Tree)
    {
        return Some("is not implemented for this collective (use auto, ring or direct)".into());
    }
    match algo {
        CollectiveAlgo::Auto | CollectiveAlgo::Ring | CollectiveAlgo::Direct => None,
        CollectiveAlgo::HalvingDoubling => hd::unsupported(n),
        CollectiveAlgo::Tree => {
            (kind != Kind::AllReduce).then(|| "runs all-reduce only (use ring, direct or halving-doubling)".into())
        }
    }
}

/// The recorder of `kind` by `algo` (not `auto`).
fn recorder(kind: Kind, algo: CollectiveAlgo) -> Record {
    use CollectiveAlgo as A;
    match (kind, algo) {
        (Kind::AllReduce, A::Direct) => direct::all_reduce,
        (Kind::AllReduce, A::HalvingDoubling) => hd::all_reduce,
        (Kind::AllReduce, A::Tree) => tree::all_reduce,
        (Kind::AllReduce, _) => ring::all_reduce,
        (Kind::ReduceScatter, A::Direct) => direct::reduce_scatter,
        (Kind::ReduceScatter, A::HalvingDoubling) => hd::reduce_scatter,
        (Kind::ReduceScatter, _) => ring::reduce_scatter,
        (Kind::AllGather, A::Direct) => direct::all_gather,
        (Kind::AllGather, A::HalvingDoubling) => hd::all_gather,
        (Kind::AllGather, _) => ring::all_gather,
        (Kind::Broadcast, A::Direct) => direct::broadcast,
        (Kind::Broadcast, A::HalvingDoubling) => hd::broadcast,
        (Kind::Broadcast, _) => ring::broadcast,
        (Kind::Reduce, A::Direct) => direct::reduce,
        (Kind::Reduce, A::HalvingDoubling) => hd::reduce,
        (Kind::Reduce, _) => ring::reduce,
        (Kind::AllToAll, _) => all_to_all::record,
        (Kind::AllGatherList, _) => gather_list::record,
    }
}

/// Records `kind` for the members' `calls` (checked to agree) with their algorithm, choosing one
/// first when it is `auto`.
pub(crate) fn record(rt: &Runtime, calls: &[Call], kind: Kind) -> Result<Vec<OpId>, SchedError> {
    recorder(kind, resolve(rt, calls, kind)?)(rt, calls)
}

/// The algorithm that records `kind` for the members' `calls`: theirs, or `auto`'s choice (the
/// pairwise ring for all-to-all and `all_gather` into a list, which do not choose).
pub(crate) fn resolve(rt: &Runtime, calls: &[Call], kind: Kind) -> Result<CollectiveAlgo, SchedError> {
    match calls.first().map_or(CollectiveAlgo::Ring, |c| c.algo) {
        CollectiveAlgo::Auto if matches!(kind, Kind::AllToAll | Kind::AllGatherList) => Ok(CollectiveAlgo::Ring),
        CollectiveAlgo::Auto => choose(rt, calls, kind),
        algo => Ok(algo),
    }
}

/// The recorder of `kind` that dispatches on the members' algorithm ([`record`]).
pub(crate) fn dispatch(kind: Kind) -> Record {
    match kind {
        Kind::AllReduce => |rt, calls| record(rt, calls, Kind::AllReduce),
        Kind::ReduceScatter => |rt, calls| record(rt, calls, Kind::ReduceScatter),
        Kind::AllGather => |rt, calls| record(rt, calls, Kind::AllGather),
        Kind::Broadcast => |rt, calls| record(rt, calls, Kind::Broadcast),
        Kind::Reduce => |rt, calls| record(rt, calls, Kind::Reduce),
        // These choose between their ring and direct forms themselves (`auto` runs the ring).
        Kind::AllToAll => all_to_all::record,
        Kind::AllGatherList => gather_list::record,
    }
}

/// The algorithm `auto` picks for `calls`: the candidate whose dry run ends first (the earlier
/// candidate on a tie). A candidate whose dry run fails (its scratch buffers do not fit in HBM:
/// the one-shot all-reduce receives every member's tensor) is not a candidate; if every one fails,
/// the first failure is the error. Each dry run after the first is bounded by the best time so
/// far ([`Runtime::set_bound`]): it stops as soon as it provably cannot end sooner — the work
/// asked of some link or unit already reaches that time, or its clock does — so a candidate
/// that loses by far (one-shot on a thousand ranks of a ring) costs little to rule out.
pub(crate) fn choose(rt: &Runtime, calls: &[Call], kind: Kind) -> Result<CollectiveAlgo, SchedError> {
    let mut best: Option<(u64, CollectiveAlgo)> = None;
    let mut first_error = None;
    for algo in CANDIDATES {
        if unsupported(kind, algo, calls.len()).is_some() {
            continue;
        }
        match dry_run(rt, calls, recorder(kind, algo), best.map_or(u64::MAX, |(t, _)| t)) {
            Ok(Some(time)) if best.is_none_or(|(t, _)| time < t) => best = Some((time, algo)),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (best, first_error) {
        (Some((_, algo)), _) => Ok(algo),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(CollectiveAlgo::Ring),
    }
}

/// The simulated time `record` takes for `calls` on an idle, timing-only copy of `rt`'s machine
/// that keeps no ops; `None` when it provably takes `bound` or longer.
fn dry_run(rt: &Runtime, calls: &[Call], record: Record, bound: u64) -> Result<Option<u64>, SchedError> {
    let scratch = Runtime::new(rt.machine(), Mode::TIMING_LEAN)?;
    let shadow = calls
        .iter()
        .map(|c| {
            let tensors = c
                .tensors
                .iter()
                .map(|(name, t)| Ok((*name, scratch.device(t.device())?.empty(t.shape(), t.dtype())?)))
                .collect::<Result<Vec<_>, SchedError>>()?;
            Ok(Call { tensors, ..c.clone() })
        })
        .collect::<Result<Vec<_>, SchedError>>()?;
    scratch.set_bound(bound);
    match record(&scratch, &shadow) {
        Err(e) if e.is_bound() => return Ok(None),
        done => done?,
    };
    scratch.run_all_within(bound)
}
