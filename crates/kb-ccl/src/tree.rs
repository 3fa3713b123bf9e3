//! The double binary tree all-reduce (as NCCL's): the tensor is cut in two halves, each reduced up
//! one binary tree to its root and broadcast back down it, slice by slice ([`Grid`]), so the
//! levels of a tree pipeline and the two trees run at once.
//!
//! Tree 0 is the in-order balanced binary tree over the group positions `0 .. n` (the root of
//! positions `lo .. hi` is `lo + (hi − lo) / 2`, its left subtree `lo .. root`, its right
//! `root + 1 .. hi`); tree 1 is the same tree over the positions shifted by one (position `i`
//! holds member `(i + 1) mod n`), so most members that are inner nodes of one tree are leaves of
//! the other and the two trees' traffic spreads over different links. Half `t` of the tensor
//! (chunk `t` of two, [`crate::plan::chunk`]) goes over tree `t`.
//!
//! Reduce: each node receives its left then its right child's partial result into scratch and
//! combines them into its own tensor (`own = op(op(own, left), right)`, rounded at each step), then
//! sends it to its parent. The root divides by `n` for `avg`, then the result travels back down the
//! tree into every member's tensor: every member holds the root's bytes.

use kb_oplog::OpId;
use kb_sched::{Runtime, SchedError};

use crate::ReduceOp;
use crate::collective::Call;
use crate::plan::{Buf, Grid, Label, Plan, flat, scratch};

/// A binary tree over the members: each member's children (left first), the root, and the
/// members in post-order (children before parents).
#[derive(Debug)]
struct Tree {
    children: Vec<Vec<usize>>,
    post_order: Vec<usize>,
}

impl Tree {
    /// Tree `t` (0 or 1) over `n` members.
    fn new(n: usize, t: usize) -> Tree {
        let member = |i: usize| (i + t) % n;
        let mut tree = Tree { children: vec![Vec::new(); n], post_order: Vec::with_capacity(n) };
        tree.build(0..n, &member);
        tree
    }

    /// Builds the subtree over positions `range`; returns its root member.
    fn build(&mut self, range: std::ops::Range<usize>, member: &impl Fn(usize) -> usize) -> Option<usize> {
        if range.is_empty() {
            return None;
        }
        let mid = range.start + (range.end - range.start) / 2;
        let left = self.build(range.start..mid, member);
        let right = self.build(mid + 1..range.end, member);
        let v = member(mid);
        self.children[v].extend(left.into_iter().chain(right));
        self.post_order.push(v);
        Some(v)
    }

    /// The root member.
    fn root(&self) -> usize {
        self.post_order.last().copied().unwrap_or(0)
    }
}

/// Records a double-binary-tree all-reduce; returns each member's exit join.
pub(crate) fn all_reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, 2, dtype);
    let g = grid.slots();
    let busy = n > 1 && count > 0;
    let (left, right) =
        if busy { (scratch(rt, calls, count, dtype)?, scratch(rt, calls, count, dtype)?) } else { (vec![], vec![]) };
    let writes =
        (0..n).map(|p| [Some(&flats[p]), left.get(p), right.get(p)].into_iter().flatten().cloned().collect()).collect();
    let mut plan = Plan::new(rt, "all_reduce", 3 * g, vec![Vec::new(); n], writes)?;
    if busy {
        let mem = Buf::new(&flats, 0)?;
        let recv = [Buf::new(&left, g)?, Buf::new(&right, 2 * g)?];
        let (up, reduce, down) = (
            Label::new("all_reduce tree send up"),
            Label::new("all_reduce tree reduce"),
            Label::new("all_reduce tree send down"),
        );
        let trees = [Tree::new(n, 0), Tree::new(n, 1)];
        let cells: [Vec<_>; 2] = [grid.cells(0).collect(), grid.cells(1).collect()];
        for j in 0..cells[0].len().max(cells[1].len()) {
            for (tree, cells) in trees.iter().zip(&cells) {
                let Some(&(cell, start, len)) = cells.get(j) else { continue };
                for &v in &tree.post_order {
                    for (side, &c) in tree.children[v].iter().enumerate() {
                        let incoming = recv[side].cell(v, cell, start, len)?;
                        plan.transfer(mem.cell(c, cell, start, len)?, incoming.clone(), &up)?;
                        plan.reduce_into(incoming, mem.cell(v, cell, start, len)?, op.combine(), cell, &reduce)?;
                    }
                }
                if op == ReduceOp::Avg {
                    plan.divide(mem.cell(tree.root(), cell, start, len)?, n, cell)?;
                }
                for &v in tree.post_order.iter().rev() {
                    for &c in &tree.children[v] {
                        plan.transfer(mem.cell(v, cell, start, len)?, mem.cell(c, cell, start, len)?, &down)?;
                    }
                }
            }
        }
    }
    plan.finish()
}
