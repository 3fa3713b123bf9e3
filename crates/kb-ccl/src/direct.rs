//! The direct (one-shot) algorithms: every transfer a member needs goes straight to its
//! destination at once, over whatever route the topology gives, so a collective takes one step of
//! latency and its links carry `n − 1` transfers each way. Tensors are cut into slices ([`Grid`]);
//! each slice is reduced on its own PE lane, so reductions overlap the transfers still arriving.
//!
//! - **All-reduce** (one-shot): every member sends its whole tensor into a receive buffer on every
//!   other member; each member then reduces the `n` tensors in member order —
//!   `((x0 op x1) op x2) …`, rounded at each step — so every member computes the same bytes.
//! - **Reduce-scatter**: member `p` sends part `q` of its input to member `q`, which reduces the
//!   `n` parts in member order into its output.
//! - **All-gather**: member `p` sends its input into part `p` of every other member's output.
//! - **Broadcast**: the root sends its tensor to every other member.
//! - **Reduce**: every other member sends its tensor to the root, which reduces the `n` tensors in
//!   member order; only the root's tensor is written.

use kb_mem::Region;
use kb_oplog::OpId;
use kb_sched::{Runtime, SchedError};

use crate::ReduceOp;
use crate::collective::Call;
use crate::plan::{Broadcast, Buf, Grid, Label, Plan, Slot, broadcast_plan, flat, root_of, scratch};

/// Records a one-shot all-reduce; returns each member's exit join.
pub(crate) fn all_reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    reduce_to(rt, calls, None)
}

/// Records a direct reduce into the root; returns each member's exit join.
pub(crate) fn reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    reduce_to(rt, calls, Some(root_of(calls)))
}

/// A one-shot all-reduce (`root` none) or reduce into member `root`: the members that get the
/// result receive every other member's tensor and reduce them in member order.
fn reduce_to(rt: &Runtime, calls: &[Call], root: Option<usize>) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, 1, dtype);
    let g = grid.slots();
    let busy = n > 1 && count > 0;
    let gets = |p: usize| root.is_none_or(|r| r == p);
    // Member p's copy of member i's tensor sits at i × count in p's receive buffer.
    let recv = if busy { scratch(rt, calls, n * count, dtype)? } else { Vec::new() };
    let acc = if busy && n > 2 { scratch(rt, calls, count, dtype)? } else { Vec::new() };
    let reads = (0..n).map(|p| if gets(p) { Vec::new() } else { vec![flats[p].clone()] }).collect();
    let writes = (0..n)
        .map(|p| {
            let own = gets(p).then(|| flats[p].clone());
            own.into_iter().chain(recv.get(p).cloned()).chain(acc.get(p).cloned()).collect()
        })
        .collect();
    let label = if root.is_some() { "reduce" } else { "all_reduce" };
    let mut plan = Plan::new(rt, label, (n + 2) * g, reads, writes)?;
    if busy {
        let mem = Buf::new(&flats, 0)?;
        let (recv, acc) = (Buf::new(&recv, g)?, if n > 2 { Some(Buf::new(&acc, (n + 1) * g)?) } else { None });
        let names = if root.is_some() {
            ["reduce direct send", "reduce direct reduce"]
        } else {
            ["all_reduce direct send", "all_reduce direct reduce"]
        };
        let (send, combine) = (Label::new(names[0]), Label::new(names[1]));
        for d in 1..n {
            for p in 0..n {
                let q = (p + d) % n;
                if !gets(q) {
                    continue;
                }
                for (cell, start, len) in grid.all_cells() {
                    let to = recv.cell(q, p * g + cell, p * count + start, len)?;
                    plan.transfer(mem.cell(p, cell, start, len)?, to, &send)?;
                }
            }
        }
        for q in (0..n).filter(|&q| gets(q)) {
            for (cell, start, len) in grid.all_cells() {
                let xs = (0..n)
                    .map(|i| {
                        if i == q {
                            mem.cell(q, cell, start, len)
                        } else {
                            recv.cell(q, i * g + cell, i * count + start, len)
                        }
                    })
                    .collect::<Result<Vec<(Region, Slot)>, _>>()?;
                let acc = acc.as_ref().map(|a| a.cell(q, cell, start, len)).transpose()?;
                plan.chain(&xs, acc, mem.cell(q, cell, start, len)?, op.combine(), cell, &combine)?;
                if op == ReduceOp::Avg {
                    plan.divide(mem.cell(q, cell, start, len)?, n, cell)?;
                }
            }
        }
    }
    plan.finish()
}

/// Records a direct reduce-scatter: member `q`'s output (tensor 0) gets part `q` of the reduction
/// of every member's input (tensor 1), reduced in member order.
pub(crate) fn reduce_scatter(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let grid = Grid::new(rt, m, 1, dtype);
    let g = grid.slots();
    let recv = if m > 0 && n > 1 { scratch(rt, calls, n * m, dtype)? } else { Vec::new() };
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = (0..n).map(|p| [Some(&outs[p]), recv.get(p)].into_iter().flatten().cloned().collect()).collect();
    let mut plan = Plan::new(rt, "reduce_scatter_tensor", (2 * n + 1) * g, reads, writes)?;
    if m > 0 {
        let (input, out) = (Buf::new(&ins, 0)?, Buf::new(&outs, n * g)?);
        let (send, combine, copy) = (
            Label::new("reduce_scatter direct send"),
            Label::new("reduce_scatter direct reduce"),
            Label::new("reduce_scatter copy"),
        );
        let recv = if n > 1 { Some(Buf::new(&recv, (n + 1) * g)?) } else { None };
        if let Some(recv) = &recv {
            for d in 1..n {
                for p in 0..n {
                    let q = (p + d) % n;
                    for (cell, start, len) in grid.all_cells() {
                        let from = input.cell(p, q * g + cell, q * m + start, len)?;
                        plan.transfer(from, recv.cell(q, p * g + cell, p * m + start, len)?, &send)?;
                    }
                }
            }
        }
        for q in 0..n {
            for (cell, start, len) in grid.all_cells() {
                let own = input.cell(q, q * g + cell, q * m + start, len)?;
                let Some(recv) = &recv else {
                    plan.copy(own, out.cell(q, cell, start, len)?, cell, &copy)?;
                    continue;
                };
                let xs = (0..n)
                    .map(|i| if i == q { Ok(own.clone()) } else { recv.cell(q, i * g + cell, i * m + start, len) })
                    .collect::<Result<Vec<(Region, Slot)>, _>>()?;
                plan.chain(&xs, None, out.cell(q, cell, start, len)?, op.combine(), cell, &combine)?;
                if op == ReduceOp::Avg {
                    plan.divide(out.cell(q, cell, start, len)?, n, cell)?;
                }
            }
        }
    }
    plan.finish()
}

/// Records a direct all-gather: member `p`'s input (tensor 1) goes into part `p` of every
/// member's output (tensor 0).
pub(crate) fn all_gather(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(1).numel(), first.tensor(1).dtype());
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let grid = Grid::new(rt, m, 1, dtype);
    let g = grid.slots();
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = outs.iter().map(|t| vec![t.clone()]).collect();
    let mut plan = Plan::new(rt, "all_gather_into_tensor", (n + 1) * g, reads, writes)?;
    if m > 0 {
        let (out, input) = (Buf::new(&outs, 0)?, Buf::new(&ins, n * g)?);
        let (copy, send) = (Label::new("all_gather copy"), Label::new("all_gather direct send"));
        for p in 0..n {
            for (cell, start, len) in grid.all_cells() {
                plan.copy(
                    input.cell(p, cell, start, len)?,
                    out.cell(p, p * g + cell, p * m + start, len)?,
                    cell,
                    &copy,
                )?;
            }
        }
        for d in 1..n {
            for p in 0..n {
                let q = (p + d) % n;
                for (cell, start, len) in grid.all_cells() {
                    let to = out.cell(q, p * g + cell, p * m + start, len)?;
                    plan.transfer(input.cell(p, cell, start, len)?, to, &send)?;
                }
            }
        }
    }
    plan.finish()
}

/// Records a direct broadcast: the root sends its tensor to every other member at once.
pub(crate) fn broadcast(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let (mut plan, moving) = broadcast_plan(rt, calls)?;
    if let Some(Broadcast { mem, grid, root, n }) = moving {
        let send = Label::new("broadcast direct send");
        for d in 1..n {
            let q = (root + d) % n;
            for (cell, start, len) in grid.all_cells() {
                plan.transfer(mem.cell(root, cell, start, len)?, mem.cell(q, cell, start, len)?, &send)?;
            }
        }
    }
    plan.finish()
}
