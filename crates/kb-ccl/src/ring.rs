//! The ring algorithms: the members in group order form a ring; member `p` sends to member
//! `p + 1`. Every byte moves as a link transfer and every combination is a reduce-into on the
//! receiving device's PE 0 vector unit. Empty chunks record nothing.
//!
//! - **All-reduce.** The tensor (flattened) is cut into one chunk per member, the first
//!   `count % n` chunks one element longer ([`chunk`]). Reduce-scatter, `n − 1` steps: at step `s`
//!   member `p` sends chunk `p − s` (mod `n`) into a scratch buffer on member `p + 1`, which
//!   reduces it into its own chunk (`dst = op(dst, incoming)`). Member `p` then holds the final
//!   chunk `p + 1` (divided by `n` for `avg`). All-gather, `n − 1` steps: at step `s` member `p`
//!   sends chunk `p + 1 − s` straight into member `p + 1`'s tensor. Every member ends with the very
//!   bytes the chunk's owner computed: the results are bitwise identical across members.
//! - **Reduce-scatter** (out of place): at step `s` member `p` sends chunk `p − s − 1` — from its
//!   input at step 0, else from the buffer it reduced into at the previous step — into one of two
//!   alternating scratch buffers on member `p + 1` (its output at the last step), which reduces its
//!   own input's chunk into it (`dst = op(incoming, own)`). Member `p` ends with chunk `p`.
//! - **All-gather**: member `p` copies its input into its own part of the output (a DMA on PE 0)
//!   while, at step `s`, it sends part `p − s` (its input at step 0) into member `p + 1`'s output.
//! - **Broadcast**: the tensor is cut into one chunk per member, and each chunk travels the chain
//!   root, root + 1, …, so the chunks pipeline over the chain's links.
//! - **Reduce**: the reverse chain: each chunk starts at root + 1 and is combined on the way to the
//!   root, in the members' scratch buffers, so only the root's tensor is written.
//!
//! Ordering inside a collective is tracked by a [`Plan`].

use kb_oplog::{Op, OpId, OpKind};
use kb_sched::{Runtime, SchedError};

use crate::ReduceOp;
use crate::collective::Call;
use crate::plan::{Label, Plan, Slot, chunk, flat, part, regions, scratch};

/// Records a ring all-reduce of the members' tensors (checked to agree) and returns each
/// member's exit join.
pub(crate) fn all_reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let flats = flat(calls, 0)?;
    let busy = n > 1 && count > 0;
    let scratch = if busy { scratch(rt, calls, chunk(count, n, 0).1, dtype)? } else { Vec::new() };
    let writes = (0..n).map(|p| [Some(&flats[p]), scratch.get(p)].into_iter().flatten().cloned().collect()).collect();
    let mut plan = Plan::new(rt, "all_reduce", n + 1, vec![Vec::new(); n], writes)?;
    if busy {
        let (mem, scr) = (regions(&flats)?, regions(&scratch)?);
        let piece = |p: usize, k: usize| {
            let (start, len) = chunk(count, n, k);
            part(&mem[p], start, len)
        };
        let (send, reduce, gather) = (
            Label::new("all_reduce ring send"),
            Label::new("all_reduce ring reduce"),
            Label::new("all_reduce ring gather"),
        );
        let combine = op.combine();
        for s in 0..n - 1 {
            for p in 0..n {
                let (q, k) = ((p + 1) % n, (p + n - s) % n);
                let len = chunk(count, n, k).1;
                if len == 0 {
                    continue;
                }
                let (src_at, dst_at) = (Slot { member: p, index: k }, Slot { member: q, index: k });
                let scr_at = Slot { member: q, index: n };
                plan.transfer(piece(p, k)?, src_at, part(&scr[q], 0, len)?, scr_at, &send)?;
                plan.reduce_into(part(&scr[q], 0, len)?, scr_at, piece(q, k)?, dst_at, combine, &reduce)?;
            }
        }
        if op == ReduceOp::Avg {
            for p in 0..n {
                let k = (p + 1) % n;
                if chunk(count, n, k).1 > 0 {
                    plan.divide(piece(p, k)?, Slot { member: p, index: k }, n)?;
                }
            }
        }
        for s in 0..n - 1 {
            for p in 0..n {
                let (q, k) = ((p + 1) % n, (p + 1 + n - s) % n);
                if chunk(count, n, k).1 == 0 {
                    continue;
                }
                let (src_at, dst_at) = (Slot { member: p, index: k }, Slot { member: q, index: k });
                plan.transfer(piece(p, k)?, src_at, piece(q, k)?, dst_at, &gather)?;
            }
        }
    }
    plan.finish()
}

/// Records a barrier: a ring all-reduce of the members' one-element tokens, with one join, of the
/// whole all-reduce, for every member.
pub(crate) fn barrier(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let ends = all_reduce(rt, calls)?;
    let all = rt.record_op(Op::labelled(OpKind::Join, "barrier"), &[], &[], &ends)?;
    Ok(vec![all; calls.len()])
}

/// Records a ring reduce-scatter: member `p`'s output (tensor 0) gets part `p` of the reduction of
/// every member's input (tensor 1); inputs are not written.
pub(crate) fn reduce_scatter(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    // Two alternating buffers per member: one is forwarded while the other receives.
    let buffers =
        if m > 0 && n > 2 { [scratch(rt, calls, m, dtype)?, scratch(rt, calls, m, dtype)?] } else { [vec![], vec![]] };
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = (0..n)
        .map(|p| [Some(&outs[p]), buffers[0].get(p), buffers[1].get(p)].into_iter().flatten().cloned().collect())
        .collect();
    let mut plan = Plan::new(rt, "reduce_scatter_tensor", n + 3, reads, writes)?;
    let (part_at, out_at) = (|p, k| Slot { member: p, index: k }, |p| Slot { member: p, index: n + 2 });
    let buf_at = |b: usize, p| Slot { member: p, index: n + b };
    if m > 0 {
        let (out_mem, in_mem) = (regions(&outs)?, regions(&ins)?);
        let buf_mem = [regions(&buffers[0])?, regions(&buffers[1])?];
        let input = |p: usize, k: usize| part(&in_mem[p], k * m, m);
        let (copy, send, reduce) = (
            Label::new("reduce_scatter copy"),
            Label::new("reduce_scatter ring send"),
            Label::new("reduce_scatter ring reduce"),
        );
        if n == 1 {
            plan.copy(input(0, 0)?, part_at(0, 0), out_mem[0].clone(), out_at(0), &copy)?;
        }
        for s in 0..n.saturating_sub(1) {
            for p in 0..n {
                let (q, k) = ((p + 1) % n, (p + 2 * n - s - 1) % n);
                let (src, src_at) = if s == 0 {
                    (input(p, k)?, part_at(p, k))
                } else {
                    (buf_mem[(s - 1) % 2][p].clone(), buf_at((s - 1) % 2, p))
                };
                let (dst, dst_at) = if s == n - 2 {
                    (out_mem[q].clone(), out_at(q))
                } else {
                    (buf_mem[s % 2][q].clone(), buf_at(s % 2, q))
                };
                plan.transfer(src, src_at, dst.clone(), dst_at, &send)?;
                plan.reduce_into(input(q, k)?, part_at(q, k), dst, dst_at, op.combine(), &reduce)?;
            }
        }
        if op == ReduceOp::Avg && n > 1 {
            for (p, out) in out_mem.iter().enumerate() {
                plan.divide(out.clone(), out_at(p), n)?;
            }
        }
    }
    plan.finish()
}

/// Records a ring all-gather: member `p`'s input (tensor 1) lands in part `p` of every member's
/// output (tensor 0).
pub(crate) fn all_gather(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let m = first.tensor(1).numel();
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = outs.iter().map(|t| vec![t.clone()]).collect();
    let mut plan = Plan::new(rt, "all_gather_into_tensor", n + 1, reads, writes)?;
    let (part_at, in_at) = (|p, k| Slot { member: p, index: k }, |p| Slot { member: p, index: n });
    if m > 0 {
        let (out_mem, in_mem) = (regions(&outs)?, regions(&ins)?);
        let output = |p: usize, k: usize| part(&out_mem[p], k * m, m);
        let input = |p: usize| in_mem[p].clone();
        let (copy, send) = (Label::new("all_gather copy"), Label::new("all_gather ring send"));
        for p in 0..n {
            plan.copy(input(p), in_at(p), output(p, p)?, part_at(p, p), &copy)?;
        }
        for s in 0..n - 1 {
            for p in 0..n {
                let (q, k) = ((p + 1) % n, (p + n - s) % n);
                let (src, src_at) = if s == 0 { (input(p), in_at(p)) } else { (output(p, k)?, part_at(p, k)) };
                plan.transfer(src, src_at, output(q, k)?, part_at(q, k), &send)?;
            }
        }
    }
    plan.finish()
}

/// Records a pipelined chain broadcast from the root member along the ring.
pub(crate) fn broadcast(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let count = first.tensor(0).numel();
    let root = calls.iter().position(|c| Some(c.rank) == first.root).unwrap_or(0);
    let flats = flat(calls, 0)?;
    // The root's tensor is only read; the others' only written.
    let reads = (0..n).map(|p| if p == root { vec![flats[p].clone()] } else { Vec::new() }).collect();
    let writes = (0..n).map(|p| if p == root { Vec::new() } else { vec![flats[p].clone()] }).collect();
    let mut plan = Plan::new(rt, "broadcast", n, reads, writes)?;
    if n > 1 && count > 0 {
        let mem = regions(&flats)?;
        let send = Label::new("broadcast ring send");
        for k in 0..n {
            let (start, len) = chunk(count, n, k);
            if len == 0 {
                continue;
            }
            for i in 0..n - 1 {
                let (p, q) = ((root + i) % n, (root + i + 1) % n);
                let (src_at, dst_at) = (Slot { member: p, index: k }, Slot { member: q, index: k });
                plan.transfer(part(&mem[p], start, len)?, src_at, part(&mem[q], start, len)?, dst_at, &send)?;
            }
        }
    }
    plan.finish()
}

/// Records a pipelined chain reduce into the root member: chunk `k` of the tensor starts at the
/// member after the root and travels the ring to the root; each member on the way receives it into
/// its scratch and combines its own chunk into it (`running = op(running, own)`), and the root
/// combines it into its own tensor (`own = op(own, running)`, then `/ n` for `avg`). Only the
/// root's tensor is written.
pub(crate) fn reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let root = calls.iter().position(|c| Some(c.rank) == first.root).unwrap_or(0);
    let flats = flat(calls, 0)?;
    let busy = n > 1 && count > 0;
    let recv = if busy { scratch(rt, calls, count, dtype)? } else { Vec::new() };
    let reads = (0..n).map(|p| if p == root { Vec::new() } else { vec![flats[p].clone()] }).collect();
    let writes = (0..n)
        .map(|p| {
            let own = (p == root).then(|| flats[p].clone());
            own.into_iter().chain(recv.get(p).cloned()).collect()
        })
        .collect();
    // Slots: chunk k of the tensor is k, chunk k of the scratch is n + k.
    let mut plan = Plan::new(rt, "reduce", 2 * n, reads, writes)?;
    if busy {
        let (mem, scr) = (regions(&flats)?, regions(&recv)?);
        let (send, combine) = (Label::new("reduce ring send"), Label::new("reduce ring reduce"));
        let own_at = |p, k| Slot { member: p, index: k };
        let scr_at = |p, k| Slot { member: p, index: n + k };
        for k in 0..n {
            let (start, len) = chunk(count, n, k);
            if len == 0 {
                continue;
            }
            for i in 1..n {
                let (p, q) = ((root + i) % n, (root + i + 1) % n);
                let (src, src_at) = if i == 1 {
                    (part(&mem[p], start, len)?, own_at(p, k))
                } else {
                    (part(&scr[p], start, len)?, scr_at(p, k))
                };
                plan.transfer(src, src_at, part(&scr[q], start, len)?, scr_at(q, k), &send)?;
                let (incoming, own) = (part(&scr[q], start, len)?, part(&mem[q], start, len)?);
                if q == root {
                    plan.reduce_into(incoming, scr_at(q, k), own, own_at(q, k), op.combine(), &combine)?;
                } else {
                    plan.reduce_into(own, own_at(q, k), incoming, scr_at(q, k), op.combine(), &combine)?;
                }
            }
            if op == ReduceOp::Avg {
                plan.divide(part(&mem[root], start, len)?, own_at(root, k), n)?;
            }
        }
    }
    plan.finish()
}
