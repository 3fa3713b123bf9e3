//! Process groups: which ranks a collective runs over, as `torch.distributed`'s groups.
//!
//! The world group holds every rank. [`new_group`] is called by every rank of the world, in the
//! same order, with the same ranks (as in PyTorch); the members get the group, the others `None`.
//! A group is its sorted ranks and, optionally, the algorithm its collectives use
//! ([`ProcessGroup::with_algo`]; without one, the machine config's `collectives.algo`). Groups with
//! the same ranks meet in the same rendezvous, whatever their algorithm: their collectives match
//! by call order, and members that chose different algorithms get an error.

use std::rc::Rc;

use kb_oplog::CollectiveAlgo;
use kb_sched::RankCtx;

use crate::CclError;

/// A set of ranks a collective runs over, sorted, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcessGroup {
    /// Shared, not copied, by clones (a thousand ranks' group is passed around by every rank).
    ranks: Rc<[usize]>,
    algo: Option<CollectiveAlgo>,
}

impl ProcessGroup {
    /// The default group: every rank of the world.
    pub fn world(ctx: &RankCtx) -> ProcessGroup {
        ProcessGroup { ranks: ctx.world_ranks(), algo: None }
    }

    /// The same group, whose collectives use `algo` (per call: `&group.with_algo(algo)`).
    pub fn with_algo(&self, algo: CollectiveAlgo) -> ProcessGroup {
        ProcessGroup { ranks: self.ranks.clone(), algo: Some(algo) }
    }

    /// The algorithm chosen with [`ProcessGroup::with_algo`], if any (else the machine config's).
    pub fn algo(&self) -> Option<CollectiveAlgo> {
        self.algo
    }

    /// The members' global ranks, sorted.
    pub fn ranks(&self) -> &[usize] {
        &self.ranks
    }

    /// The number of members.
    pub fn size(&self) -> usize {
        self.ranks.len()
    }

    /// Whether global rank `rank` is a member.
    pub fn contains(&self, rank: usize) -> bool {
        self.ranks.binary_search(&rank).is_ok()
    }

    /// The group rank (position among the members) of global rank `rank`, if it is a member.
    pub fn group_rank(&self, rank: usize) -> Option<usize> {
        self.ranks.binary_search(&rank).ok()
    }
}

/// Creates the group of `ranks` (in any order; duplicates are an error). Every rank of the world
/// must call it, in the same order and with the same ranks: the world meets once per call, and
/// ranks that passed different sets get an error naming both. Members get `Some(group)`, the other
/// ranks `None`.
pub fn new_group(ctx: &RankCtx, ranks: &[usize]) -> Result<Option<ProcessGroup>, CclError> {
    let me = ctx.rank();
    let world = ctx.world_size();
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(CclError::BadGroup { rank: me, reason: format!("rank {} is listed twice in {ranks:?}", w[0]) });
    }
    if sorted.is_empty() {
        return Err(CclError::BadGroup { rank: me, reason: "a group needs at least one rank".into() });
    }
    if let Some(&bad) = sorted.iter().find(|&&r| r >= world) {
        return Err(CclError::BadGroup {
            rank: me,
            reason: format!("rank {bad} in {ranks:?} is out of range for a world of {world} ranks"),
        });
    }
    ctx.rendezvous("new_group", &ctx.world_ranks(), sorted.clone(), move |args: Vec<Vec<usize>>| {
        if let Some((r, other)) = args.iter().enumerate().find(|(_, a)| **a != args[0]) {
            return Err(format!("rank {r} passed ranks {other:?} but rank 0 passed {:?}", args[0]));
        }
        Ok(vec![(); args.len()])
    })?;
    Ok(sorted.binary_search(&me).is_ok().then(|| ProcessGroup { ranks: sorted.into(), algo: None }))
}
