//! `all_to_all_single` with equal splits, as `torch.distributed`'s: every member's input and
//! output hold `n × m` elements; part `j` of member `i`'s input lands in part `i` of member `j`'s
//! output.
//!
//! Each member's own part is a local copy (a DMA on PE 0 of its device); every other part moves
//! as one link transfer. Two algorithms:
//!
//! - **Pairwise exchange** (`ring`, and `auto`): `n − 1` steps; at step `s` member `p` sends its
//!   part for member `p + s` (mod `n`) to that member. A member sends one part at a time and
//!   receives one part at a time: its send of step `s + 1` starts after its send of step `s` has
//!   ended, and likewise for its receives, so a step's transfers share no link start or end.
//! - **Direct** (`direct`): every transfer is recorded at once, in the same order, and the engine
//!   shares the links between them.
//!
//! Halving-doubling and the tree are refused ([`CclError::UnsupportedAlgo`]) by each member before
//! the members meet, so nothing is recorded.

use kb_mem::Region;
use kb_oplog::{CollectiveAlgo, OpId, OpKind};
use kb_sched::{RankCtx, Runtime, SchedError, Tensor, Work};

use crate::algo::{Kind, dispatch};
use crate::collective::{Call, check_algo, launch};
use crate::plan::{Label, Plan, Slot, flat, part, regions};
use crate::steps::{Rec, Stepped, Steps, exchange_steps, record_steps};
use crate::{CclError, ProcessGroup};

/// Sends part `j` of `input` to member `j` and receives member `i`'s part for this member into
/// part `i` of `output` (parts in group order), then waits until this member's output is final.
/// `input` and `output` hold the same number `n × m` of elements of one dtype, in different
/// storages; every member passes the same dtype and count.
pub fn all_to_all_single(ctx: &RankCtx, group: &ProcessGroup, output: &Tensor, input: &Tensor) -> Result<(), CclError> {
    all_to_all_single_async(ctx, group, output, input)?.wait()?;
    Ok(())
}

/// As [`all_to_all_single`], returning a [`Work`] instead of waiting.
pub fn all_to_all_single_async(
    ctx: &RankCtx,
    group: &ProcessGroup,
    output: &Tensor,
    input: &Tensor,
) -> Result<Work, CclError> {
    const NAME: &str = "all_to_all_single";
    let rank = ctx.rank();
    if group.contains(rank) {
        check_algo(ctx, group, NAME, Kind::AllToAll)?;
        let n = group.size();
        let bad = |reason: String| CclError::BadParts { collective: NAME, rank, reason };
        if output.dtype() != input.dtype() || output.numel() != input.numel() {
            return Err(bad(format!(
                "output is {} {:?} but input is {} {:?}: both must hold the same number of elements of one dtype",
                output.dtype(),
                output.shape(),
                input.dtype(),
                input.shape()
            )));
        }
        if !input.numel().is_multiple_of(n) {
            return Err(bad(format!(
                "input holds {} elements, which a group of {n} cannot split into {n} equal parts",
                input.numel()
            )));
        }
        if output.shares_storage(input) && output.numel() > 0 {
            return Err(bad(
                "output and input share a storage; in-place calls are not supported (pass separate tensors)".into(),
            ));
        }
    }
    let tensors = vec![("output", output.clone()), ("input", input.clone())];
    let call = Call { rank, tensors, op: None, root: None, algo: CollectiveAlgo::Ring };
    launch(ctx, group, NAME, call, Kind::AllToAll, dispatch(Kind::AllToAll))
}

/// Records an all-to-all of the members' inputs (tensor 1) into their outputs (tensor 0), by
/// pairwise exchange — step by step ([`record_steps`]), each step's sends depending on the step
/// before — or, for `direct`, all at once.
pub(crate) fn record(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let m = first.tensor(1).numel() / n;
    let pairwise = first.algo != CollectiveAlgo::Direct;
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = outs.iter().map(|t| vec![t.clone()]).collect();
    // Slots per member: input part k is k, output part k is n + k, the send lane 2n and the
    // receive lane 2n + 1 (written by each pairwise transfer, so they follow one another).
    let plan = Plan::new(rt, "all_to_all_single", 2 * n + 2, reads, writes)?;
    let send = Label::new(if pairwise { "all_to_all pairwise send" } else { "all_to_all direct send" });
    let exchange = Exchange {
        n,
        m,
        pairwise,
        outs: regions(&outs)?,
        ins: regions(&ins)?,
        labels: [Label::new("all_to_all copy"), send],
    };
    let stepped = Stepped::whole(plan, exchange);
    if pairwise { record_steps(rt, stepped) } else { stepped.record_all() }
}

/// An all-to-all's steps: at step 0 every member copies its own part, and at every step `s`
/// (from 0) member `p` sends its part for member `p + s + 1` to it. By pairwise exchange a
/// member's sends, and its receives, follow one another; directly they all compete at once.
struct Exchange {
    n: usize,
    m: usize,
    pairwise: bool,
    outs: Vec<Region>,
    ins: Vec<Region>,
    labels: [Label; 2],
}

impl Steps for Exchange {
    fn count(&self) -> usize {
        exchange_steps(self.m, self.n)
    }

    fn op_bound(&self) -> u64 {
        (self.n * self.n) as u64
    }

    fn record(&mut self, plan: &mut Plan, step: usize, _: &mut impl Rec) -> Result<(), SchedError> {
        let (n, m) = (self.n, self.m);
        let in_at = |p, k| Slot { member: p, index: k };
        let out_at = |p, k| Slot { member: p, index: n + k };
        let (send_lane, recv_lane) = (|p| Slot { member: p, index: 2 * n }, |p| Slot { member: p, index: 2 * n + 1 });
        let [copy, send] = &self.labels;
        if step == 0 {
            for (p, (mine, out)) in self.ins.iter().zip(&self.outs).enumerate() {
                let (src, dst) = (part(mine, p * m, m)?, part(out, p * m, m)?);
                plan.copy((src, in_at(p, p)), (dst, out_at(p, p)), 0, copy)?;
            }
        }
        if n == 1 {
            return Ok(());
        }
        let s = step + 1;
        for (p, mine) in self.ins.iter().enumerate() {
            let q = (p + s) % n;
            let (src, dst) = (part(mine, q * m, m)?, part(&self.outs[q], p * m, m)?);
            if self.pairwise {
                let writes = [out_at(q, p), send_lane(p), recv_lane(q)];
                plan.op(OpKind::LinkTransfer { src, dst }, send, &[in_at(p, q)], &writes)?;
            } else {
                plan.transfer((src, in_at(p, q)), (dst, out_at(q, p)), send)?;
            }
        }
        Ok(())
    }
}
