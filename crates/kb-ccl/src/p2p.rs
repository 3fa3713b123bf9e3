//! Point-to-point: [`send`] and [`recv`] (and their `_async` forms), as `torch.distributed`'s.
//!
//! A send from rank `a` to rank `b` and the matching recv on `b` from `a` meet in one
//! [`RankCtx::rendezvous`] of the two ranks, named `send/recv`. Every point-to-point call between
//! the same two ranks, in either direction, goes through that one rendezvous, so the k-th
//! point-to-point call `a` makes with `b` meets the k-th call `b` makes with `a`: calls match in
//! program order, as in MPI. The two calls must be one send and one recv of the same dtype and
//! element count (shapes may differ); a send meeting a send, a recv meeting a recv, or a different
//! dtype or count is an error both ranks get, naming both ranks and values. A peer that is the
//! caller itself or outside the world is refused before the rendezvous. A refused or mismatched
//! call records no op.
//!
//! The transfer is one link transfer from the sender's tensor into the receiver's, routed over the
//! cluster's links and recorded with [`Runtime::record_op`] with the tensors' hazards: it reads
//! the sender's tensor (after its earlier writes) and writes the receiver's (after its earlier
//! reads and writes). Both ranks get a [`Work`] on it. An empty pair records a join with the same
//! hazards and moves nothing.
//!
//! Like every `_async` call of kb-ccl, [`send_async`] and [`recv_async`] return once the peer has
//! made its matching call (that is when the transfer is recorded). Ranks that each post a send
//! before their recv therefore wait on each other in a cycle: `spawn` reports it as a deadlock
//! naming each rank's `send/recv` rendezvous (two ranks sending to each other first get the
//! send/send error instead). Order the calls so that one side of each pair receives first.

use kb_oplog::{Op, OpId, OpKind};
use kb_sched::{RankCtx, Runtime, SchedError, Tensor, Work};

use crate::CclError;

/// The rendezvous every point-to-point pair meets in (with the pair's two ranks as members).
const RENDEZVOUS: &str = "send/recv";

/// Sends `tensor` to rank `dst` and waits until the transfer has ended (the tensor may then be
/// reused). Rank `dst` must make the matching [`recv`] (or [`recv_async`]) from this rank, with a
/// tensor of the same dtype and element count, as its next point-to-point call with this rank.
pub fn send(ctx: &RankCtx, tensor: &Tensor, dst: usize) -> Result<(), CclError> {
    send_async(ctx, tensor, dst)?.wait()?;
    Ok(())
}

/// As [`send`], returning a [`Work`] instead of waiting (once rank `dst` has made its matching
/// call).
pub fn send_async(ctx: &RankCtx, tensor: &Tensor, dst: usize) -> Result<Work, CclError> {
    p2p(ctx, Side::Send, tensor, dst)
}

/// Receives into `tensor` from rank `src` and waits until the bytes have arrived. Rank `src` must
/// make the matching [`send`] (or [`send_async`]) to this rank, with a tensor of the same dtype and
/// element count, as its next point-to-point call with this rank.
pub fn recv(ctx: &RankCtx, tensor: &Tensor, src: usize) -> Result<(), CclError> {
    recv_async(ctx, tensor, src)?.wait()?;
    Ok(())
}

/// As [`recv`], returning a [`Work`] instead of waiting (once rank `src` has made its matching
/// call).
pub fn recv_async(ctx: &RankCtx, tensor: &Tensor, src: usize) -> Result<Work, CclError> {
    p2p(ctx, Side::Recv, tensor, src)
}

/// Which end of a transfer a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Send,
    Recv,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Send => "send",
            Side::Recv => "recv",
        }
    }
}

/// One rank's point-to-point call, as the pair's code sees it.
#[derive(Debug)]
struct P2pCall {
    rank: usize,
    peer: usize,
    side: Side,
    tensor: Tensor,
}

impl P2pCall {
    /// "rank 0 sends f32 [8] to rank 1", "rank 1 receives f16 [8] from rank 0".
    fn describe(&self) -> String {
        let (verb, prep) = match self.side {
            Side::Send => ("sends", "to"),
            Side::Recv => ("receives", "from"),
        };
        let t = &self.tensor;
        format!("rank {} {verb} {} {:?} {prep} rank {}", self.rank, t.dtype(), t.shape(), self.peer)
    }
}

/// Checks one call alone, meets the peer, and there checks the pair and records the transfer.
fn p2p(ctx: &RankCtx, side: Side, tensor: &Tensor, peer: usize) -> Result<Work, CclError> {
    let (op, rank, world) = (side.name(), ctx.rank(), ctx.world_size());
    let bad_peer = |reason: String| CclError::BadPeer { op, rank, peer, reason };
    if peer == rank {
        return Err(bad_peer("is the calling rank itself (a rank cannot send to or receive from itself)".into()));
    }
    if peer >= world {
        return Err(bad_peer(format!("is out of range for a world of {world} ranks")));
    }
    let own = ctx.device().index();
    if tensor.device() != own {
        return Err(CclError::WrongDevice { collective: op, rank, device: tensor.device(), own });
    }
    if tensor.numel() > 0 && !tensor.is_contiguous() {
        return Err(CclError::NotContiguous { collective: op, rank, shape: tensor.shape().to_vec() });
    }
    let call = P2pCall { rank, peer, side, tensor: tensor.clone() };
    let rt = ctx.runtime().clone();
    let id = ctx.rendezvous(RENDEZVOUS, &[rank, peer], call, move |calls: Vec<P2pCall>| {
        let [a, b] = &calls[..] else { return Err(format!("a pair has two calls, not {}", calls.len())) };
        let (send, recv) = match (a.side, b.side) {
            (Side::Send, Side::Recv) => (a, b),
            (Side::Recv, Side::Send) => (b, a),
            (side, _) => {
                let other = if side == Side::Send { "recv" } else { "send" };
                return Err(format!(
                    "{} but {}: each {} needs a matching {other} on the peer",
                    a.describe(),
                    b.describe(),
                    side.name()
                ));
            }
        };
        let (s, r) = (&send.tensor, &recv.tensor);
        if s.dtype() != r.dtype() || s.numel() != r.numel() {
            return Err(format!(
                "{} but {}: a send and its recv need the same dtype and element count",
                send.describe(),
                recv.describe()
            ));
        }
        let id = record(&rt, s, r).map_err(|e| e.to_string())?;
        Ok(vec![id; 2])
    })?;
    Ok(Work::from_op(ctx.runtime(), id))
}

/// Records the transfer of `src` (on the sender) into `dst` (on the receiver).
fn record(rt: &Runtime, src: &Tensor, dst: &Tensor) -> Result<OpId, SchedError> {
    let kind = if src.numel() == 0 {
        OpKind::Join
    } else {
        let flat = |t: &Tensor| t.reshape(&[t.numel()])?.region();
        OpKind::LinkTransfer { src: flat(src)?, dst: flat(dst)? }
    };
    rt.record_op(Op::labelled(kind, RENDEZVOUS), &[src], &[dst], &[])
}
