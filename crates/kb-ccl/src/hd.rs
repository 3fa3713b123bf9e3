//! The recursive halving-doubling algorithms, for groups whose size `n` is a power of two
//! (others get [`crate::CclError::UnsupportedAlgo`] before anything is recorded). They take
//! `log2 n` steps per phase, so they suit latency-bound sizes; each step's exchange is cut into
//! slices ([`Grid`]) like the ring's. Members are numbered by group position `p`; at a step of
//! distance `d`, member `p` pairs with `p xor d`.
//!
//! - **All-reduce** (Rabenseifner): reduce-scatter by recursive halving — at `d = n/2, n/4, …, 1`
//!   each member keeps the half of its current range of chunks that holds its own chunk, sends the
//!   other half to its partner and reduces the half it receives into its tensor
//!   (`own = op(own, incoming)`) — then all-gather by recursive doubling (`d = 1, 2, …, n/2`: each
//!   member sends the block of chunks it holds to its partner). Every chunk is reduced by one
//!   owner and copied, so every member holds the same bytes. The value of each element is
//!   `v[p] = op(v[p], v[p xor d])` applied for `d = n/2, …, 1`, rounded at each step.
//! - **Reduce-scatter**: the same recursive halving over the input's parts, out of place (the
//!   partial sums live in a scratch buffer; the last step writes the output).
//! - **All-gather**: the same recursive doubling, into the outputs.
//! - **Broadcast**: a binomial tree: at `d = 1, 2, …, n/2` every member within `d` positions after
//!   the root (that already holds the data) sends it to the member `d` further on.
//! - **Reduce**: the reverse binomial tree: at `d = 1, 2, …, n/2` the member `r` positions after
//!   the root with `r mod 2d = d` sends its partial result to the one `d` before it, which combines
//!   it into its own (`v[r − d] = op(v[r − d], v[r])`).

use std::ops::Range;

use kb_oplog::OpId;
use kb_sched::{Runtime, SchedError};

use crate::ReduceOp;
use crate::collective::Call;
use crate::plan::{Broadcast, Buf, Grid, Label, Plan, broadcast_plan, flat, root_of, scratch};

/// A [`Buf::piece`] of a buffer that holds every chunk: nothing to shift.
const NO_SHIFT: (usize, usize) = (0, 0);

/// Why a group of `n` members cannot use these algorithms, if it cannot.
pub(crate) fn unsupported(n: usize) -> Option<String> {
    (!n.is_power_of_two()).then(|| format!("needs a group whose size is a power of two, not {n}"))
}

/// The distances of the halving steps: `n/2, n/4, …, 1`.
fn halving(n: usize) -> impl Iterator<Item = usize> {
    std::iter::successors((n > 1).then_some(n / 2), |d| (*d > 1).then_some(d / 2))
}

/// The distances of the doubling steps: `1, 2, …, n/2`.
fn doubling(n: usize) -> impl Iterator<Item = usize> {
    std::iter::successors((n > 1).then_some(1), move |d| (d * 2 < n).then_some(d * 2))
}

/// The halves of `range` member `p` keeps and gives away at distance `d`.
fn split(range: &Range<usize>, p: usize, d: usize) -> (Range<usize>, Range<usize>) {
    let mid = range.start + (range.end - range.start) / 2;
    if p & d == 0 { (range.start..mid, mid..range.end) } else { (mid..range.end, range.start..mid) }
}

/// Records a recursive halving-doubling all-reduce; returns each member's exit join.
pub(crate) fn all_reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, n, dtype);
    let g = grid.slots();
    let busy = n > 1 && count > 0;
    let recv = if busy { scratch(rt, calls, count, dtype)? } else { Vec::new() };
    let writes = (0..n).map(|p| [Some(&flats[p]), recv.get(p)].into_iter().flatten().cloned().collect()).collect();
    let mut plan = Plan::new(rt, "all_reduce", 2 * g, vec![Vec::new(); n], writes)?;
    if busy {
        let (mem, recv) = (Buf::new(&flats, 0)?, Buf::new(&recv, g)?);
        let (send, reduce, gather) =
            (Label::new("all_reduce hd send"), Label::new("all_reduce hd reduce"), Label::new("all_reduce hd gather"));
        let mut ranges = vec![0..n; n];
        for d in halving(n) {
            let splits: Vec<_> = (0..n).map(|p| split(&ranges[p], p, d)).collect();
            for (p, (_, give)) in splits.iter().enumerate() {
                for piece in grid.pieces(give.clone()) {
                    plan.transfer(mem.piece(p, &piece, NO_SHIFT)?, recv.piece(p ^ d, &piece, NO_SHIFT)?, &send)?;
                }
            }
            for (p, (keep, _)) in splits.into_iter().enumerate() {
                for piece in grid.pieces(keep.clone()) {
                    let (theirs, mine) = (recv.piece(p, &piece, NO_SHIFT)?, mem.piece(p, &piece, NO_SHIFT)?);
                    plan.reduce_into(theirs, mine, op.combine(), piece.cells.start, &reduce)?;
                }
                ranges[p] = keep;
            }
        }
        if op == ReduceOp::Avg {
            for p in 0..n {
                for piece in grid.pieces(p..p + 1) {
                    plan.divide(mem.piece(p, &piece, NO_SHIFT)?, n, piece.cells.start)?;
                }
            }
        }
        for d in doubling(n) {
            for p in 0..n {
                let block = (p / d) * d;
                for piece in grid.pieces(block..block + d) {
                    plan.transfer(mem.piece(p, &piece, NO_SHIFT)?, mem.piece(p ^ d, &piece, NO_SHIFT)?, &gather)?;
                }
            }
        }
    }
    plan.finish()
}

/// Records a recursive-halving reduce-scatter: member `p`'s output (tensor 0) gets part `p` of the
/// reduction of every member's input (tensor 1); inputs are not written.
pub(crate) fn reduce_scatter(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let grid = Grid::new(rt, n * m, n, dtype);
    let g = grid.slots();
    let per = g / n;
    let busy = n > 1 && m > 0;
    let (acc, recv) =
        if busy { (scratch(rt, calls, n * m, dtype)?, scratch(rt, calls, n * m, dtype)?) } else { (vec![], vec![]) };
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes =
        (0..n).map(|p| [Some(&outs[p]), acc.get(p), recv.get(p)].into_iter().flatten().cloned().collect()).collect();
    let mut plan = Plan::new(rt, "reduce_scatter_tensor", 3 * g + per, reads, writes)?;
    if m > 0 {
        let (input, out) = (Buf::new(&ins, 0)?, Buf::new(&outs, 3 * g)?);
        let (send, reduce, copy) = (
            Label::new("reduce_scatter hd send"),
            Label::new("reduce_scatter hd reduce"),
            Label::new("reduce_scatter copy"),
        );
        if n == 1 {
            for (cell, start, len) in grid.all_cells() {
                plan.copy(input.cell(0, cell, start, len)?, out.cell(0, cell, start, len)?, cell, &copy)?;
            }
        } else {
            let (acc, recv) = (Buf::new(&acc, g)?, Buf::new(&recv, 2 * g)?);
            let mut ranges = vec![0..n; n];
            for d in halving(n) {
                let from = if d == n / 2 { &input } else { &acc };
                let splits: Vec<_> = (0..n).map(|p| split(&ranges[p], p, d)).collect();
                for (p, (_, give)) in splits.iter().enumerate() {
                    for piece in grid.pieces(give.clone()) {
                        plan.transfer(from.piece(p, &piece, NO_SHIFT)?, recv.piece(p ^ d, &piece, NO_SHIFT)?, &send)?;
                    }
                }
                for (p, (keep, _)) in splits.into_iter().enumerate() {
                    for piece in grid.pieces(keep.clone()) {
                        let dst = if d == 1 {
                            out.piece(p, &piece, (p * per, p * m))?
                        } else {
                            acc.piece(p, &piece, NO_SHIFT)?
                        };
                        let (mine, theirs) = (from.piece(p, &piece, NO_SHIFT)?, recv.piece(p, &piece, NO_SHIFT)?);
                        plan.combine(mine, theirs, dst, op.combine(), piece.cells.start, &reduce)?;
                    }
                    ranges[p] = keep;
                }
            }
            if op == ReduceOp::Avg {
                for p in 0..n {
                    for piece in grid.pieces(p..p + 1) {
                        plan.divide(out.piece(p, &piece, (p * per, p * m))?, n, piece.cells.start)?;
                    }
                }
            }
        }
    }
    plan.finish()
}

/// Records a recursive-doubling all-gather: member `p`'s input (tensor 1) lands in part `p` of
/// every member's output (tensor 0).
pub(crate) fn all_gather(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(1).numel(), first.tensor(1).dtype());
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let grid = Grid::new(rt, n * m, n, dtype);
    let g = grid.slots();
    let per = g / n;
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = outs.iter().map(|t| vec![t.clone()]).collect();
    let mut plan = Plan::new(rt, "all_gather_into_tensor", g + per, reads, writes)?;
    if m > 0 {
        let (out, input) = (Buf::new(&outs, 0)?, Buf::new(&ins, g)?);
        let (copy, send) = (Label::new("all_gather copy"), Label::new("all_gather hd send"));
        for p in 0..n {
            for piece in grid.pieces(p..p + 1) {
                let from = input.piece(p, &piece, (p * per, p * m))?;
                plan.copy(from, out.piece(p, &piece, NO_SHIFT)?, piece.cells.start, &copy)?;
            }
        }
        for d in doubling(n) {
            for p in 0..n {
                let block = (p / d) * d;
                for piece in grid.pieces(block..block + d) {
                    plan.transfer(out.piece(p, &piece, NO_SHIFT)?, out.piece(p ^ d, &piece, NO_SHIFT)?, &send)?;
                }
            }
        }
    }
    plan.finish()
}

/// Records a binomial-tree broadcast from the root member.
pub(crate) fn broadcast(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let (mut plan, moving) = broadcast_plan(rt, calls)?;
    if let Some(Broadcast { mem, grid, root, n }) = moving {
        let send = Label::new("broadcast hd send");
        for d in doubling(n) {
            for r in 0..d {
                let (p, q) = ((root + r) % n, (root + r + d) % n);
                for (cell, start, len) in grid.all_cells() {
                    plan.transfer(mem.cell(p, cell, start, len)?, mem.cell(q, cell, start, len)?, &send)?;
                }
            }
        }
    }
    plan.finish()
}

/// Records a binomial-tree reduce into the root member; only the root's tensor is written (the
/// others' partial results live in scratch).
pub(crate) fn reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let root = root_of(calls);
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, 1, dtype);
    let g = grid.slots();
    let busy = n > 1 && count > 0;
    let (acc, recv) =
        if busy { (scratch(rt, calls, count, dtype)?, scratch(rt, calls, count, dtype)?) } else { (vec![], vec![]) };
    let reads = (0..n).map(|p| if p == root { Vec::new() } else { vec![flats[p].clone()] }).collect();
    let writes = (0..n)
        .map(|p| {
            let own = (p == root).then(|| flats[p].clone());
            own.into_iter().chain(acc.get(p).cloned()).chain(recv.get(p).cloned()).collect()
        })
        .collect();
    let mut plan = Plan::new(rt, "reduce", 3 * g, reads, writes)?;
    if busy {
        let (mem, acc, recv) = (Buf::new(&flats, 0)?, Buf::new(&acc, g)?, Buf::new(&recv, 2 * g)?);
        let (send, combine) = (Label::new("reduce hd send"), Label::new("reduce hd reduce"));
        let member = |r: usize| (root + r) % n;
        for d in doubling(n) {
            for r in (d..n).step_by(2 * d) {
                let (p, q) = (member(r), member(r - d));
                // The sender's partial: its own tensor, or its scratch once it has received.
                let from = if d == 1 { &mem } else { &acc };
                for (cell, start, len) in grid.all_cells() {
                    plan.transfer(from.cell(p, cell, start, len)?, recv.cell(q, cell, start, len)?, &send)?;
                    let theirs = recv.cell(q, cell, start, len)?;
                    if r - d == 0 {
                        plan.reduce_into(theirs, mem.cell(q, cell, start, len)?, op.combine(), cell, &combine)?;
                    } else {
                        let mine = if d == 1 { mem.cell(q, cell, start, len)? } else { acc.cell(q, cell, start, len)? };
                        plan.combine(mine, theirs, acc.cell(q, cell, start, len)?, op.combine(), cell, &combine)?;
                    }
                }
            }
        }
        if op == ReduceOp::Avg {
            for (cell, start, len) in grid.all_cells() {
                plan.divide(mem.cell(root, cell, start, len)?, n, cell)?;
            }
        }
    }
    plan.finish()
}
