//! Point-to-point: [`send`] and [`recv`] (and their `_async` forms), as `torch.distributed`'s.
//!
//! Sends are eager, as NCCL's and MPI's small sends are: [`send_async`] records, at once, a link
//! transfer of the tensor into a staging buffer on the receiver's device (routed over the
//! cluster's links, after the tensor's earlier writes), posts it to the receiver with
//! [`RankCtx::post`] and returns a [`Work`] on the transfer — it never waits for the receiver, so
//! every rank can post its sends before its receives (a ring exchange, a pipeline's forward and
//! backward). [`recv_async`] takes the next send the peer posted to it ([`RankCtx::take`], which
//! parks until there is one) and records a copy from the staging buffer into its tensor (a DMA on
//! PE 0 of its device, after the transfer and the tensor's earlier accesses), and returns a
//! [`Work`] on the copy. Sends from `a` to `b` are received in posting order.
//!
//! A recv whose dtype or element count differs from the send's (shapes may differ) is an error of
//! the receiver naming both ranks and values, and its tensor is not written. A send nobody
//! receives is an error of `spawn` naming both ranks; receives that no send can answer are a
//! deadlock naming what each rank waits for. A peer that is the caller itself or outside the world
//! is refused before anything is recorded.

use kb_oplog::{Op, OpKind, Pe};
use kb_sched::{RankCtx, SchedError, Tensor, Work};

use crate::CclError;

/// The mailbox channel sends are posted on.
const CHANNEL: &str = "p2p";

/// Sends `tensor` to rank `dst` and waits until the transfer has ended (the tensor may then be
/// reused). Rank `dst` receives it with [`recv`] (or [`recv_async`]) from this rank.
pub fn send(ctx: &RankCtx, tensor: &Tensor, dst: usize) -> Result<(), CclError> {
    send_async(ctx, tensor, dst)?.wait()?;
    Ok(())
}

/// As [`send`], returning a [`Work`] on the transfer instead of waiting; it never waits for the
/// receiver.
pub fn send_async(ctx: &RankCtx, tensor: &Tensor, dst: usize) -> Result<Work, CclError> {
    post_send(ctx, tensor, dst)
}

/// Receives into `tensor` from rank `src` and waits until the bytes have arrived: the next send
/// rank `src` posts to this rank, of the same dtype and element count.
pub fn recv(ctx: &RankCtx, tensor: &Tensor, src: usize) -> Result<(), CclError> {
    recv_async(ctx, tensor, src)?.wait()?;
    Ok(())
}

/// As [`recv`], returning a [`Work`] on the copy into `tensor` instead of waiting (once rank
/// `src` has posted its send: until then the rank parks).
pub fn recv_async(ctx: &RankCtx, tensor: &Tensor, src: usize) -> Result<Work, CclError> {
    take_send(ctx, tensor, src)
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

/// A send as its receiver finds it: the sender, its tensor's dtype and shape, and the staging
/// buffer on the receiver's device the transfer writes.
#[derive(Debug)]
struct Posted {
    rank: usize,
    shape: Vec<usize>,
    staging: Tensor,
}

/// Checks what a point-to-point call can check alone.
fn check(ctx: &RankCtx, side: Side, tensor: &Tensor, peer: usize) -> Result<(), CclError> {
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
    Ok(())
}

/// The send side: stage, transfer, post.
fn post_send(ctx: &RankCtx, tensor: &Tensor, dst: usize) -> Result<Work, CclError> {
    check(ctx, Side::Send, tensor, dst)?;
    let rt = ctx.runtime();
    let staging = rt.device(dst as u32)?.empty(&[tensor.numel()], tensor.dtype())?;
    let kind = if tensor.numel() == 0 {
        OpKind::Join
    } else {
        OpKind::LinkTransfer { src: flat(tensor)?, dst: staging.region()? }
    };
    let transfer = rt.record_op(Op::labelled(kind, "send"), &[tensor], &[&staging], &[])?;
    ctx.post(CHANNEL, dst, Posted { rank: ctx.rank(), shape: tensor.shape().to_vec(), staging })?;
    Ok(Work::from_op(rt, transfer))
}

/// The receive side: take the peer's next send, check it, copy it in.
fn take_send(ctx: &RankCtx, tensor: &Tensor, src: usize) -> Result<Work, CclError> {
    check(ctx, Side::Recv, tensor, src)?;
    let posted: Posted = ctx.take(CHANNEL, src)?;
    let sent = &posted.staging;
    if sent.dtype() != tensor.dtype() || sent.numel() != tensor.numel() {
        return Err(CclError::P2pMismatch {
            rank: ctx.rank(),
            reason: format!(
                "rank {} receives {} {:?} from rank {src}, but rank {} sent {} {:?}: a send and its recv need the same dtype and element count",
                ctx.rank(),
                tensor.dtype(),
                tensor.shape(),
                posted.rank,
                sent.dtype(),
                posted.shape
            ),
        });
    }
    let rt = ctx.runtime();
    let kind = if tensor.numel() == 0 {
        OpKind::Join
    } else {
        let pe = Pe { device: ctx.device().index(), pe: 0 };
        OpKind::Dma { pe, src: sent.region()?, dst: flat(tensor)? }
    };
    let copy = rt.record_op(Op::labelled(kind, "recv"), &[sent], &[tensor], &[])?;
    Ok(Work::from_op(rt, copy))
}

/// The region of a contiguous tensor, flattened.
fn flat(t: &Tensor) -> Result<kb_mem::Region, SchedError> {
    t.reshape(&[t.numel()])?.region()
}
