//! The ring algorithms: the members in group order form a ring; member `p` sends to member
//! `p + 1`. Every byte moves as a link transfer and every combination is a reduce-into on the
//! receiving device. Chunks are cut into slices ([`Grid`]); each slice moves and is reduced on
//! its own (on PE `slice mod pes`), so a slice's reduction overlaps the next slice's transfer and
//! the links stay busy. Empty chunks record nothing.
//!
//! - **All-reduce.** The tensor (flattened) is cut into one chunk per member, the first
//!   `count % n` chunks one element longer ([`crate::plan::chunk`]). Reduce-scatter, `n − 1` steps:
//!   at step `s` member `p` sends chunk `p − s` (mod `n`) into one of two alternating scratch
//!   buffers on member `p + 1`, which reduces it into its own chunk (`dst = op(dst, incoming)`).
//!   Member `p` then holds the final chunk `p + 1` (divided by `n` for `avg`). All-gather, `n − 1`
//!   steps: at step `s` member `p` sends chunk `p + 1 − s` straight into member `p + 1`'s tensor.
//!   Every member ends with the very bytes the chunk's owner computed: the results are bitwise
//!   identical across members.
//! - **Reduce-scatter** (out of place): at step `s` member `p` sends part `p − s − 1` — from its
//!   input at step 0, else from the buffer it reduced into at the previous step — into one of two
//!   alternating scratch buffers on member `p + 1` (its output at the last step), which reduces its
//!   own input's part into it (`dst = op(incoming, own)`). Member `p` ends with part `p`.
//! - **All-gather**: member `p` copies its input into its own part of the output (a DMA) while,
//!   at step `s`, it sends part `p − s` (its input at step 0) into member `p + 1`'s output.
//! - **Broadcast**: each slice travels the chain root, root + 1, …, so the slices pipeline over
//!   the chain's links.
//! - **Reduce**: the reverse chain: each slice starts at root + 1 and is combined on the way to
//!   the root, in the members' scratch buffers, so only the root's tensor is written.
//!
//! Ordering inside a collective is tracked by a [`Plan`].

use kb_mem::DType;
use kb_oplog::{Op, OpId, OpKind};
use kb_sched::{Runtime, SchedError};

use crate::ReduceOp;
use crate::collective::Call;
use crate::plan::{Broadcast, Buf, Grid, Label, Lanes, Plan, broadcast_plan, divide_op, flat, root_of, scratch};
use crate::steps::{
    COPY, CostKey, Costs, DIVIDE, GATHER, REDUCE, Rec, SEND, Stepped, Steps, exchange_steps, record_steps,
};

/// Records a ring all-reduce of the members' tensors (checked to agree) and returns each
/// member's exit join. On a runtime that keeps no data, the steps are recorded wave by wave as
/// the timing reaches them ([`Runtime::defer`]), so only a step or two of ops is alive at a time;
/// the timing is the same as recording them all at once.
pub(crate) fn all_reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let (count, dtype, op) = calls.first().map_or((0, DType::F32, ReduceOp::Sum), |c| {
        (c.tensor(0).numel(), c.tensor(0).dtype(), c.op.unwrap_or(ReduceOp::Sum))
    });
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, n, dtype);
    let busy = n > 1 && count > 0;
    let longest = grid.chunk(0).1;
    let scr = if busy {
        [scratch(rt, calls, longest, dtype)?, scratch(rt, calls, longest, dtype)?]
    } else {
        [vec![], vec![]]
    };
    let writes = (0..n)
        .map(|p| [Some(&flats[p]), scr[0].get(p), scr[1].get(p)].into_iter().flatten().cloned().collect())
        .collect();
    let per_chunk = grid.slots() / n.max(1);
    let plan = Plan::new(rt, "all_reduce", grid.slots() + 2 * per_chunk, vec![Vec::new(); n], writes)?;
    let moving = if busy {
        let bufs = [Buf::new(&scr[0], grid.slots())?, Buf::new(&scr[1], grid.slots() + per_chunk)?];
        let labels = [
            Label::new("all_reduce ring send"),
            Label::new("all_reduce ring reduce"),
            Label::new("all_reduce ring gather"),
        ];
        Some(Moving { n, op, grid, mem: Buf::new(&flats, 0)?, bufs, labels, lanes: plan.lanes() })
    } else {
        None
    };
    let steps = AllReduceSteps { n, grid, per_chunk, moving };
    record_steps(rt, Stepped::new(rt, plan, Costs::new(n, longest, per_chunk), steps))
}

/// The steps of a ring all-reduce.
struct AllReduceSteps {
    n: usize,
    grid: Grid,
    per_chunk: usize,
    /// What moves, when anything does (two members or more, a non-empty tensor).
    moving: Option<Moving>,
}

/// What a ring all-reduce moves — the members' flat tensors and two alternating scratch buffers
/// each — and how to build its ops ([`Moving::op_of`]).
struct Moving {
    n: usize,
    op: ReduceOp,
    grid: Grid,
    mem: Buf,
    bufs: [Buf; 2],
    labels: [Label; 3],
    lanes: Lanes,
}

/// The next member round the ring of `n`.
#[inline(always)]
fn next_of(n: usize, x: usize) -> usize {
    if x + 1 == n { 0 } else { x + 1 }
}

impl Steps for AllReduceSteps {
    /// n − 1 steps of reduce-scatter, n − 1 of all-gather (none if nothing moves).
    fn count(&self) -> usize {
        if self.moving.is_some() { 2 * (self.n - 1) } else { 0 }
    }

    /// Each step moves every non-empty cell once (reduce-scatter steps also reduce it), and `avg`
    /// divides each once.
    fn op_bound(&self) -> u64 {
        let cells = self.grid.all_cells().count() as u64;
        (3 * (self.n as u64).saturating_sub(1) + 1) * cells
    }

    /// Records step `step` (the last reduce-scatter step includes `avg`'s division).
    // Out of line, as the other stepped collectives' steps: inlined into the caller, its loops
    // keep fewer values in registers (256-rank ring: 2.9% more instructions).
    #[inline(never)]
    fn record(&mut self, plan: &mut Plan, step: usize, rec: &mut impl Rec) -> Result<(), SchedError> {
        let Some(moving) = &self.moving else { return Ok(()) };
        let (mem, bufs) = (&moving.mem, &moving.bufs);
        let (n, grid, per_chunk) = (self.n, self.grid, self.per_chunk);
        // Slice j of chunk k on member p is slot `((p − k) mod n, j)`: each step touches one or two
        // diagonals, the same slot index on every member, which the plan stores side by side.
        // Member p's chunk and its successor are stepped along with p, so the loops divide nothing.
        let diagonal = |d: usize, j: usize| d * per_chunk + j;
        let next = |x: usize| next_of(n, x);
        // Each op is built only when needed, from its key (see `Costs`): these loops record
        // millions of them.
        let op = |key: CostKey| moving.op_of(step, key);
        if step < n - 1 {
            let s = step;
            let buf = &bufs[s % 2];
            // At step s member p sends chunk p − s (its diagonal s) into member q = p + 1, whose
            // diagonal s + 1 it is.
            let (dp, dq) = (s, next(s));
            let mut k = (n - s) % n;
            for p in 0..n {
                let q = next(p);
                let chunk = grid.chunk(k).1;
                for j in 0..grid.slices_of(chunk) {
                    let (from, into, own) = (mem.at(p, diagonal(dp, j)), buf.at(q, j), mem.at(q, diagonal(dq, j)));
                    let key = CostKey { kind: SEND, member: p, len: chunk, slice: j };
                    rec.record(plan, key, op, &[from], &[into])?;
                    let key = CostKey { kind: REDUCE, member: q, ..key };
                    rec.record(plan, key, op, &[into, own], &[own])?;
                }
                k = next(k);
            }
            if s == n - 2 && moving.op == ReduceOp::Avg {
                // Member p holds the final chunk p + 1, its diagonal n − 1.
                for p in 0..n {
                    let k = next(p);
                    let chunk = grid.chunk(k).1;
                    for j in 0..grid.slices_of(chunk) {
                        let at = mem.at(p, diagonal(n - 1, j));
                        let key = CostKey { kind: DIVIDE, member: p, len: chunk, slice: j };
                        rec.record(plan, key, op, &[at], &[at])?;
                    }
                }
            }
        } else {
            let s = step - (n - 1);
            // At step s member p sends chunk p + 1 − s (its diagonal s − 1) into member p + 1,
            // whose diagonal s it is.
            let (dp, dq) = ((s + n - 1) % n, s);
            let mut k = (1 + n - s) % n;
            for p in 0..n {
                let q = next(p);
                let chunk = grid.chunk(k).1;
                for j in 0..grid.slices_of(chunk) {
                    let (from, to) = (mem.at(p, diagonal(dp, j)), mem.at(q, diagonal(dq, j)));
                    let key = CostKey { kind: GATHER, member: p, len: chunk, slice: j };
                    rec.record(plan, key, op, &[from], &[to])?;
                }
                k = next(k);
            }
        }
        Ok(())
    }
}

impl Moving {
    /// The op of `key` at step `step`, whole: the member and the step give its chunk, and the
    /// key's slice its elements (see [`AllReduceSteps::record`] for who sends what when).
    fn op_of(&self, step: usize, key: CostKey) -> Result<Op, SchedError> {
        let (mem, bufs) = (&self.mem, &self.bufs);
        let (n, j) = (self.n, key.slice);
        let [send, reduce, gather] = &self.labels;
        let (p, k) = match key.kind {
            // Member p sends chunk p − s; the reduction is on its successor.
            SEND => (key.member, (key.member + n - step) % n),
            REDUCE => {
                let p = (key.member + n - 1) % n;
                (p, (p + n - step) % n)
            }
            // Member p divides its final chunk, p + 1.
            DIVIDE => (key.member, next_of(n, key.member)),
            // Member p forwards chunk p + 1 − s at all-gather step s = step − (n − 1).
            _ => (key.member, (key.member + 2 * n - step) % n),
        };
        let q = next_of(n, p);
        let (first, start, len) = self.grid.cell(k, j);
        let buf = &bufs[step % 2];
        let (kind, label) = match key.kind {
            SEND => {
                let (src, dst) = (mem.region(p, start, len)?, buf.region(q, start - first, len)?);
                (OpKind::LinkTransfer { src, dst }, send)
            }
            REDUCE => {
                let (src, dst) = (buf.region(q, start - first, len)?, mem.region(q, start, len)?);
                (OpKind::ReduceInto { pe: self.lanes.of(mem.device(q), j), src, dst, op: self.op.combine() }, reduce)
            }
            DIVIDE => return Ok(divide_op(self.lanes.of(mem.device(p), j), mem.region(p, start, len)?, n)),
            _ => (OpKind::LinkTransfer { src: mem.region(p, start, len)?, dst: mem.region(q, start, len)? }, gather),
        };
        Ok(Op { kind, label: label.for_op() })
    }
}

/// Records a barrier: an all-reduce of the members' one-element tokens (with `record`, the
/// group's algorithm), with one join, of the whole all-reduce, for every member.
pub(crate) fn barrier(
    rt: &Runtime,
    calls: &[Call],
    record: crate::collective::Record,
) -> Result<Vec<OpId>, SchedError> {
    let ends = record(rt, calls)?;
    let all = rt.record_op(Op::labelled(OpKind::Join, "barrier"), &[], &[], &ends)?;
    Ok(vec![all; calls.len()])
}

/// Records a ring reduce-scatter: member `p`'s output (tensor 0) gets part `p` of the reduction of
/// every member's input (tensor 1); inputs are not written. Recorded step by step as
/// [`all_reduce`] is.
pub(crate) fn reduce_scatter(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    // The input's grid has one chunk per part; a part's cells are the same in every buffer.
    let grid = Grid::new(rt, m * n, n, dtype);
    let part_grid = Grid::new(rt, m, 1, dtype);
    let per = part_grid.slots();
    // Two alternating buffers per member: one is forwarded while the other receives.
    let buffers =
        if m > 0 && n > 2 { [scratch(rt, calls, m, dtype)?, scratch(rt, calls, m, dtype)?] } else { [vec![], vec![]] };
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = (0..n)
        .map(|p| [Some(&outs[p]), buffers[0].get(p), buffers[1].get(p)].into_iter().flatten().cloned().collect())
        .collect();
    let plan = Plan::new(rt, "reduce_scatter_tensor", grid.slots() + 3 * per, reads, writes)?;
    let bufs = if m > 0 && n > 2 {
        vec![Buf::new(&buffers[0], grid.slots() + per)?, Buf::new(&buffers[1], grid.slots() + 2 * per)?]
    } else {
        Vec::new()
    };
    let steps = ReduceScatterSteps {
        n,
        m,
        per,
        op,
        cells: part_grid.all_cells().collect(),
        input: Buf::new(&ins, 0)?,
        out: Buf::new(&outs, grid.slots())?,
        bufs,
        labels: [
            Label::new("reduce_scatter copy"),
            Label::new("reduce_scatter ring send"),
            Label::new("reduce_scatter ring reduce"),
        ],
        lanes: plan.lanes(),
    };
    record_steps(rt, Stepped::new(rt, plan, Costs::new(n, m, per), steps))
}

/// The steps of a ring reduce-scatter of parts of `m` elements, each cut in `per` slices: at step
/// `s` member `p` sends part `p − s − 1` — from its input at step 0, else from the buffer it
/// reduced into at the step before — into one of two alternating scratch buffers on member `p + 1`
/// (its output at the last step), which reduces its own input's part into it. A lone member copies
/// its input to its output.
struct ReduceScatterSteps {
    n: usize,
    m: usize,
    per: usize,
    op: ReduceOp,
    /// The cells of a part: `(slice, start, len)`.
    cells: Vec<(usize, usize, usize)>,
    input: Buf,
    out: Buf,
    bufs: Vec<Buf>,
    labels: [Label; 3],
    lanes: Lanes,
}

impl Steps for ReduceScatterSteps {
    fn count(&self) -> usize {
        exchange_steps(self.m, self.n)
    }

    fn op_bound(&self) -> u64 {
        let (n, cells) = (self.n as u64, self.cells.len() as u64);
        (2 * n.saturating_sub(1) * n + n + 1) * cells
    }

    #[inline(never)]
    fn record(&mut self, plan: &mut Plan, step: usize, rec: &mut impl Rec) -> Result<(), SchedError> {
        let (n, m, per) = (self.n, self.m, self.per);
        let (input, out) = (&self.input, &self.out);
        // Each op is built only when needed, from its key (see `Costs`).
        let op = |key: CostKey| self.op_of(step, key);
        if n == 1 {
            for &(j, _, _) in &self.cells {
                let key = CostKey { kind: COPY, member: 0, len: m, slice: j };
                rec.record(plan, key, op, &[input.at(0, j)], &[out.at(0, j)])?;
            }
            return Ok(());
        }
        let s = step;
        // The part sent comes from the input at step 0, else from the buffer reduced into at the
        // step before; it goes into the output at the last step, else into a buffer.
        let from_buf = s.checked_sub(1).map(|t| &self.bufs[t % 2]);
        let into = if s == n - 2 { out } else { &self.bufs[s % 2] };
        let mut k = (2 * n - s - 1) % n;
        for p in 0..n {
            let q = next_of(n, p);
            for &(j, _, _) in &self.cells {
                let own = input.at(q, k * per + j);
                let from = match from_buf {
                    Some(buf) => buf.at(p, j),
                    None => input.at(p, k * per + j),
                };
                let to = into.at(q, j);
                let key = CostKey { kind: SEND, member: p, len: m, slice: j };
                rec.record(plan, key, op, &[from], &[to])?;
                let key = CostKey { kind: REDUCE, member: q, ..key };
                rec.record(plan, key, op, &[own, to], &[to])?;
            }
            k = next_of(n, k);
        }
        if s == n - 2 && self.op == ReduceOp::Avg {
            for p in 0..n {
                for &(j, _, _) in &self.cells {
                    let at = out.at(p, j);
                    let key = CostKey { kind: DIVIDE, member: p, len: m, slice: j };
                    rec.record(plan, key, op, &[at], &[at])?;
                }
            }
        }
        Ok(())
    }
}

impl ReduceScatterSteps {
    /// The op of `key` at step `step`, whole (see [`ReduceScatterSteps::record`] for who sends
    /// what when).
    fn op_of(&self, step: usize, key: CostKey) -> Result<Op, SchedError> {
        let (n, m, s) = (self.n, self.m, step);
        let (input, out) = (&self.input, &self.out);
        let [copy, send, reduce] = &self.labels;
        let (_, start, len) = self.cells[key.slice];
        let pe = |buf: &Buf, p: usize| self.lanes.of(buf.device(p), key.slice);
        // The part member p sends at step s, and the buffer it goes into.
        let into = || if s + 2 == n { out } else { &self.bufs[s % 2] };
        let part = |p: usize| (p + 2 * n - s - 1) % n;
        let (kind, label) = match key.kind {
            COPY => {
                let (src, dst) = (input.region(0, start, len)?, out.region(0, start, len)?);
                (OpKind::Dma { pe: pe(out, 0), src, dst }, copy)
            }
            SEND => {
                let p = key.member;
                let src = match s.checked_sub(1) {
                    Some(t) => self.bufs[t % 2].region(p, start, len)?,
                    None => input.region(p, part(p) * m + start, len)?,
                };
                (OpKind::LinkTransfer { src, dst: into().region(next_of(n, p), start, len)? }, send)
            }
            REDUCE => {
                let (q, p) = (key.member, (key.member + n - 1) % n);
                let (src, dst) = (input.region(q, part(p) * m + start, len)?, into().region(q, start, len)?);
                (OpKind::ReduceInto { pe: pe(into(), q), src, dst, op: self.op.combine() }, reduce)
            }
            _ => return Ok(divide_op(pe(out, key.member), out.region(key.member, start, len)?, n)),
        };
        Ok(Op { kind, label: label.for_op() })
    }
}

/// Records a ring all-gather: member `p`'s input (tensor 1) lands in part `p` of every member's
/// output (tensor 0). Recorded step by step as [`all_reduce`] is.
pub(crate) fn all_gather(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (m, dtype) = (first.tensor(1).numel(), first.tensor(1).dtype());
    let (outs, ins) = (flat(calls, 0)?, flat(calls, 1)?);
    let grid = Grid::new(rt, m * n, n, dtype);
    let part_grid = Grid::new(rt, m, 1, dtype);
    let per = part_grid.slots();
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    let writes = outs.iter().map(|t| vec![t.clone()]).collect();
    let plan = Plan::new(rt, "all_gather_into_tensor", grid.slots() + per, reads, writes)?;
    let steps = AllGatherSteps {
        n,
        m,
        per,
        cells: part_grid.all_cells().collect(),
        out: Buf::new(&outs, 0)?,
        input: Buf::new(&ins, grid.slots())?,
        labels: [Label::new("all_gather copy"), Label::new("all_gather ring send")],
        lanes: plan.lanes(),
    };
    record_steps(rt, Stepped::new(rt, plan, Costs::new(n, m, per), steps))
}

/// The steps of a ring all-gather of parts of `m` elements, each cut in `per` slices: member `p`
/// copies its input into its own part of the output (a DMA, at step 0) while, at step `s`, it
/// sends part `p − s` (its input at step 0) into member `p + 1`'s output.
struct AllGatherSteps {
    n: usize,
    m: usize,
    per: usize,
    /// The cells of a part: `(slice, start, len)`.
    cells: Vec<(usize, usize, usize)>,
    out: Buf,
    input: Buf,
    labels: [Label; 2],
    lanes: Lanes,
}

impl Steps for AllGatherSteps {
    fn count(&self) -> usize {
        exchange_steps(self.m, self.n)
    }

    fn op_bound(&self) -> u64 {
        let (n, cells) = (self.n as u64, self.cells.len() as u64);
        n * n * cells
    }

    #[inline(never)]
    fn record(&mut self, plan: &mut Plan, step: usize, rec: &mut impl Rec) -> Result<(), SchedError> {
        let (n, per) = (self.n, self.per);
        let (input, out) = (&self.input, &self.out);
        // Each op is built only when needed, from its key (see `Costs`).
        let op = |key: CostKey| self.op_of(step, key);
        if step == 0 {
            for p in 0..n {
                for &(j, _, _) in &self.cells {
                    let key = CostKey { kind: COPY, member: p, len: self.m, slice: j };
                    rec.record(plan, key, op, &[input.at(p, j)], &[out.at(p, p * per + j)])?;
                }
            }
        }
        if n == 1 {
            return Ok(());
        }
        let s = step;
        let mut k = (n - s) % n;
        for p in 0..n {
            let q = next_of(n, p);
            for &(j, _, _) in &self.cells {
                let from = if s == 0 { input.at(p, j) } else { out.at(p, k * per + j) };
                let to = out.at(q, k * per + j);
                let key = CostKey { kind: SEND, member: p, len: self.m, slice: j };
                rec.record(plan, key, op, &[from], &[to])?;
            }
            k = next_of(n, k);
        }
        Ok(())
    }
}

impl AllGatherSteps {
    /// The op of `key` at step `step`, whole (see [`AllGatherSteps::record`] for who sends what
    /// when).
    fn op_of(&self, step: usize, key: CostKey) -> Result<Op, SchedError> {
        let (n, m, p) = (self.n, self.m, key.member);
        let (input, out) = (&self.input, &self.out);
        let [copy, send] = &self.labels;
        let (_, start, len) = self.cells[key.slice];
        if key.kind == COPY {
            let (src, dst) = (input.region(p, start, len)?, out.region(p, p * m + start, len)?);
            let pe = self.lanes.of(out.device(p), key.slice);
            return Ok(Op { kind: OpKind::Dma { pe, src, dst }, label: copy.for_op() });
        }
        // At step s member p sends part p − s: its input at step 0.
        let part_start = (p + n - step) % n * m + start;
        let src = if step == 0 { input.region(p, start, len)? } else { out.region(p, part_start, len)? };
        let dst = out.region(next_of(n, p), part_start, len)?;
        Ok(Op { kind: OpKind::LinkTransfer { src, dst }, label: send.for_op() })
    }
}

/// Records a pipelined chain broadcast from the root member along the ring.
pub(crate) fn broadcast(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let (mut plan, moving) = broadcast_plan(rt, calls)?;
    if let Some(Broadcast { mem, grid, root, n }) = moving {
        let send = Label::new("broadcast ring send");
        for (cell, start, len) in grid.all_cells() {
            for i in 0..n - 1 {
                let (p, q) = ((root + i) % n, (root + i + 1) % n);
                plan.transfer(mem.cell(p, cell, start, len)?, mem.cell(q, cell, start, len)?, &send)?;
            }
        }
    }
    plan.finish()
}

/// Records a pipelined chain reduce into the root member: each slice of the tensor starts at the
/// member after the root and travels the ring to the root; each member on the way receives it into
/// its scratch and combines its own slice into it (`running = op(running, own)`), and the root
/// combines it into its own tensor (`own = op(own, running)`, then `/ n` for `avg`). Only the
/// root's tensor is written.
pub(crate) fn reduce(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let (count, dtype) = (first.tensor(0).numel(), first.tensor(0).dtype());
    let op = first.op.unwrap_or(ReduceOp::Sum);
    let root = root_of(calls);
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, 1, dtype);
    let busy = n > 1 && count > 0;
    let recv = if busy { scratch(rt, calls, count, dtype)? } else { Vec::new() };
    let reads = (0..n).map(|p| if p == root { Vec::new() } else { vec![flats[p].clone()] }).collect();
    let writes = (0..n)
        .map(|p| {
            let own = (p == root).then(|| flats[p].clone());
            own.into_iter().chain(recv.get(p).cloned()).collect()
        })
        .collect();
    let mut plan = Plan::new(rt, "reduce", 2 * grid.slots(), reads, writes)?;
    if busy {
        let (mem, scr) = (Buf::new(&flats, 0)?, Buf::new(&recv, grid.slots())?);
        let (send, combine) = (Label::new("reduce ring send"), Label::new("reduce ring reduce"));
        for (cell, start, len) in grid.all_cells() {
            for i in 1..n {
                let (p, q) = ((root + i) % n, (root + i + 1) % n);
                let src = if i == 1 { mem.cell(p, cell, start, len)? } else { scr.cell(p, cell, start, len)? };
                plan.transfer(src, scr.cell(q, cell, start, len)?, &send)?;
                let (incoming, own) = (scr.cell(q, cell, start, len)?, mem.cell(q, cell, start, len)?);
                if q == root {
                    plan.reduce_into(incoming, own, op.combine(), cell, &combine)?;
                } else {
                    plan.reduce_into(own, incoming, op.combine(), cell, &combine)?;
                }
            }
            if op == ReduceOp::Avg {
                plan.divide(mem.cell(root, cell, start, len)?, n, cell)?;
            }
        }
    }
    plan.finish()
}
