//! The error type of kb-ccl.

use kb_mem::DType;
use kb_oplog::CollectiveAlgo;
use kb_sched::SchedError;

use crate::ReduceOp;

/// Every way a collective call can fail. A failed call records no op, so no tensor's bytes change.
///
/// Calls that disagree across a group's members (sizes, dtypes, reduce ops) are caught where the
/// members meet, and every member gets the same [`SchedError::Rendezvous`] naming the ranks and
/// the values, wrapped in [`CclError::Sched`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CclError {
    /// The runtime refused something (a rendezvous, an op, an allocation), or the members' calls
    /// did not match.
    #[error(transparent)]
    Sched(#[from] SchedError),
    /// A reduce op that is not defined for the tensor's dtype (bitwise ops on floats, `avg` on
    /// integers).
    #[error("{collective}: rank {rank}: reduce op {op} is not defined for {dtype} tensors ({why})")]
    UnsupportedOp {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// The reduce op.
        op: ReduceOp,
        /// The tensor's dtype.
        dtype: DType,
        /// Which dtypes it is defined for.
        why: &'static str,
    },
    /// The calling rank is not a member of the group it called the collective on.
    #[error("{collective}: rank {rank} is not a member of group {members:?}")]
    NotAMember {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// The group's ranks.
        members: Vec<usize>,
    },
    /// A rank passed a tensor that is not on its own device.
    #[error("{collective}: rank {rank} passed a tensor on device {device}, but its own device is {own}")]
    WrongDevice {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// The tensor's device.
        device: u32,
        /// The rank's device.
        own: u32,
    },
    /// A rank passed a tensor whose elements are not dense and row-major.
    #[error(
        "{collective}: rank {rank} passed a non-contiguous tensor of shape {shape:?} (make a contiguous copy first)"
    )]
    NotContiguous {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// A rooted collective named a root outside its group.
    #[error("{collective}: rank {rank} passed root {root}, which is not a member of group {members:?}")]
    BadRoot {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// The root given.
        root: usize,
        /// The group's ranks.
        members: Vec<usize>,
    },
    /// The sizes of a gathering or scattering collective's input and output do not fit the group.
    #[error("{collective}: rank {rank}: {reason}")]
    BadParts {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// How the sizes disagree.
        reason: String,
    },
    /// The algorithm chosen cannot run this collective on this group (halving-doubling on a group
    /// whose size is not a power of two, a tree for a collective other than all-reduce, …).
    #[error("{collective}: rank {rank}: algorithm {algo} {reason}")]
    UnsupportedAlgo {
        /// The collective called.
        collective: &'static str,
        /// The calling rank.
        rank: usize,
        /// The algorithm chosen.
        algo: CollectiveAlgo,
        /// Why it cannot run, e.g. "needs a group whose size is a power of two, not 6".
        reason: String,
    },
    /// A point-to-point call named a peer it cannot exchange with: itself, or a rank outside the
    /// world.
    #[error("{op}: rank {rank}: peer {peer} {reason}")]
    BadPeer {
        /// `send` or `recv` (or their `_async` forms).
        op: &'static str,
        /// The calling rank.
        rank: usize,
        /// The peer named.
        peer: usize,
        /// Why, e.g. "is the calling rank itself".
        reason: String,
    },
    /// A recv whose tensor does not match the send it received (dtype or element count).
    #[error("recv: {reason}")]
    P2pMismatch {
        /// The receiving rank.
        rank: usize,
        /// Both ranks and values.
        reason: String,
    },
    /// `new_group` was given ranks that do not form a group of this world.
    #[error("new_group: rank {rank}: {reason}")]
    BadGroup {
        /// The calling rank.
        rank: usize,
        /// What is wrong with the ranks.
        reason: String,
    },
}
