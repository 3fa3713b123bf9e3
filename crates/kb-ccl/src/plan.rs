//! What every algorithm builds on: a [`Plan`] orders one collective's ops per *slot* (a chunk of
//! a member's tensor, a scratch buffer: disjoint by construction) in O(1) per op; the runtime's own
//! hazards are used only at the edges, by one entry join and one exit join per member over its
//! tensors, so a collective of `n` members costs O(n) hazard work per member rather than O(n²).
//! Also the helpers that cut tensors into chunks, slices and regions ([`Grid`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use kb_mem::{DType, Layout, Region};
use kb_oplog::{BinaryOp, Op, OpId, OpKind, Pe, Stages, VectorOp};
use kb_sched::{Costed, Runtime, SchedError, Tensor};

use crate::collective::Call;

/// Start and length of chunk `k` of `count` elements cut in `n`.
pub(crate) fn chunk(count: usize, n: usize, k: usize) -> (usize, usize) {
    cut(count / n, count % n, k)
}

/// Start and length of chunk `k` when chunks hold `base` elements and the first `rem` one more.
fn cut(base: usize, rem: usize, k: usize) -> (usize, usize) {
    (k * base + k.min(rem), base + usize::from(k < rem))
}

/// How a collective cuts a flat buffer of `count` elements: into `n` chunks ([`chunk`]), each cut
/// into slices of at most `slice` elements (the config's `collectives.slice_bytes`), so that one
/// slice's transfer overlaps another's reduction. A *cell* is one slice of one chunk; cell
/// `(k, j)` has index `k × per_chunk + j` within its buffer's slots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    n: usize,
    slice: usize,
    per_chunk: usize,
    /// `count / n` and `count % n`, so that finding a chunk divides nothing.
    base: usize,
    rem: usize,
}

impl Grid {
    /// The grid of `count` elements of `dtype` in `n` chunks, with the slice size of `rt`'s machine.
    pub(crate) fn new(rt: &Runtime, count: usize, n: usize, dtype: DType) -> Grid {
        let bytes = rt.machine().collectives.slice_bytes;
        Grid::sliced(count, n, usize::try_from(bytes / dtype.size() as u64).unwrap_or(usize::MAX))
    }

    /// The grid of `count` elements in `n` chunks, in slices of at most `slice` elements.
    fn sliced(count: usize, n: usize, slice: usize) -> Grid {
        let slice = slice.max(1);
        let longest = chunk(count, n.max(1), 0).1;
        let n = n.max(1);
        Grid { n, slice, per_chunk: longest.div_ceil(slice).max(1), base: count / n, rem: count % n }
    }

    /// Start and length of chunk `k` (as [`chunk`] gives them).
    pub(crate) fn chunk(&self, k: usize) -> (usize, usize) {
        cut(self.base, self.rem, k)
    }

    /// The non-empty cells of chunk `k`: `(cell index, start, len)`, start counted from the
    /// buffer's first element.
    pub(crate) fn cells(&self, k: usize) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        let (grid, base) = (*self, k * self.per_chunk);
        (0..self.slices_of(self.chunk(k).1)).map(move |j| {
            let (_, start, len) = grid.cell(k, j);
            (base + j, start, len)
        })
    }

    /// How many non-empty cells a chunk of `len` elements has.
    pub(crate) fn slices_of(&self, len: usize) -> usize {
        if len <= self.slice { usize::from(len > 0) } else { len.div_ceil(self.slice) }
    }

    /// Cell `j` of chunk `k`: the chunk's first element, and the cell's first element and length
    /// (as [`Grid::cells`] gives them).
    pub(crate) fn cell(&self, k: usize, j: usize) -> (usize, usize, usize) {
        let (first, len) = self.chunk(k);
        let at = j * self.slice;
        (first, first + at, self.slice.min(len - at))
    }

    /// The cells of chunks `ks`, in order.
    pub(crate) fn cells_of(&self, ks: std::ops::Range<usize>) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        let grid = *self;
        ks.flat_map(move |k| grid.cells(k))
    }

    /// The cells of chunks `ks` merged, in order, into pieces of at most one slice: each piece is
    /// a run of consecutive elements that one op moves or reduces. A step that moves many small
    /// chunks at once (halving-doubling's halves) moves them slice by slice, as one message cut
    /// into slices, not one op per chunk.
    pub(crate) fn pieces(&self, ks: std::ops::Range<usize>) -> Vec<Piece> {
        let mut pieces: Vec<Piece> = Vec::new();
        for (cell, start, len) in self.cells_of(ks) {
            match pieces.last_mut() {
                Some(last) if last.len + len <= self.slice && last.start + last.len == start => {
                    last.cells.end = cell + 1;
                    last.len += len;
                }
                _ => pieces.push(Piece { cells: cell..cell + 1, start, len }),
            }
        }
        pieces
    }

    /// Every non-empty cell, chunk by chunk.
    pub(crate) fn all_cells(&self) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        self.cells_of(0..self.n)
    }

    /// Slots a buffer cut by this grid needs.
    pub(crate) fn slots(&self) -> usize {
        self.n * self.per_chunk
    }
}

/// Consecutive cells moved or reduced as one op ([`Grid::pieces`]): the cell indices (the slots
/// of chunks shorter than the longest, which have fewer cells, are in the range but never used by
/// another op) and the elements `start .. start + len`.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub(crate) cells: std::ops::Range<usize>,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

/// The slots an op accesses in one buffer: one [`Slot`], or a [`Piece`]'s run of them.
pub(crate) trait Slots {
    /// The slots, in order.
    fn slots(&self) -> &[Slot];
}

impl Slots for Slot {
    fn slots(&self) -> &[Slot] {
        std::slice::from_ref(self)
    }
}

impl Slots for Vec<Slot> {
    fn slots(&self) -> &[Slot] {
        self
    }
}

/// The slots of `a` then `b`: in `pair` when each is one slot (most ops), so recording them
/// allocates nothing.
fn both<'a>(a: &[Slot], b: &[Slot], pair: &'a mut [Slot; 2]) -> std::borrow::Cow<'a, [Slot]> {
    match (a, b) {
        (&[x], &[y]) => {
            *pair = [x, y];
            std::borrow::Cow::Borrowed(&pair[..])
        }
        _ => std::borrow::Cow::Owned([a, b].concat()),
    }
}

/// A part of one member's memory the algorithm accesses as a unit; slots never overlap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) member: usize,
    pub(crate) index: usize,
}

/// The ops of one collective and their dependencies, tracked per slot: an op reading a slot runs
/// after the slot's last write; an op writing it, after its last write and every read since.
#[derive(Debug)]
pub(crate) struct Plan {
    rt: Runtime,
    label: &'static str,
    /// Per member: its tensors the collective reads, and those it writes (scratch included).
    reads: Vec<Vec<Tensor>>,
    writes: Vec<Vec<Tensor>>,
    /// Per member: the join every op touching its memory runs after.
    entry: Vec<OpId>,
    slots: Vec<SlotState>,
    /// The readers after the first, by slot, of the slots read more than once since their last
    /// write: empty in most collectives, so most accesses look no further than that.
    more_readers: BTreeMap<usize, Vec<OpId>>,
    /// The dependencies of the op being recorded, gathered in place ([`Deps`]).
    deps: Deps,
    /// PEs per device: reductions and copies are spread over them by slice.
    pes: u32,
    /// The next of the sequence numbers reserved for the plan's ops ([`Plan::reserve_numbers`]),
    /// if it records under reserved numbers.
    numbered: Option<u64>,
}

impl Plan {
    /// A plan over members reading `reads[p]` and writing `writes[p]`, with `per_member` slots
    /// each. Records each member's entry join, which takes the tensors' hazards: it waits for
    /// earlier writes of what the collective reads, and for every earlier access of what it writes.
    pub(crate) fn new(
        rt: &Runtime,
        label: &'static str,
        per_member: usize,
        reads: Vec<Vec<Tensor>>,
        writes: Vec<Vec<Tensor>>,
    ) -> Result<Plan, SchedError> {
        let entry = reads
            .iter()
            .zip(&writes)
            .map(|(r, w)| {
                let (r, w): (Vec<&Tensor>, Vec<&Tensor>) = (r.iter().collect(), w.iter().collect());
                rt.record_op(Op::labelled(OpKind::Join, label), &r, &w, &[])
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Slot i of every member, then slot i + 1 (see `Plan::at`); none accessed yet.
        let mut slots = Vec::with_capacity(per_member * entry.len());
        for _ in 0..per_member {
            slots.extend(entry.iter().map(|&last_write| SlotState { last_write, first_reader: None }));
        }
        let pes = rt.machine().device.pes;
        Ok(Plan {
            pes,
            rt: rt.clone(),
            label,
            reads,
            writes,
            entry,
            slots,
            more_readers: BTreeMap::new(),
            deps: Deps::new(),
            numbered: None,
        })
    }

    /// Reserves sequence numbers for the next `ops` ops (see [`Runtime::reserve_seqs`]) and
    /// records them under those numbers: a plan recorded wave by wave then competes with other
    /// ops as it would have had it been recorded at once.
    pub(crate) fn reserve_numbers(&mut self, ops: u64) {
        self.numbered = Some(self.rt.reserve_seqs(ops));
    }

    /// The sequence number the next op will get: a wave's alarm ([`Runtime::defer`]).
    pub(crate) fn next_number(&self) -> u64 {
        self.numbered.unwrap_or_else(|| self.rt.next_seq())
    }

    /// The runtime the plan records into.
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Makes room in the runtime for `ops` more ops, about to be recorded.
    pub(crate) fn reserve(&self, ops: usize) {
        self.rt.reserve_ops(ops);
    }

    /// Slots are stored index-major (slot `i` of every member, then slot `i + 1`): an algorithm
    /// whose step touches the same slot index on every member — the ring, with its diagonal
    /// indices — walks them in order.
    fn at(&self, slot: Slot) -> usize {
        slot.index * self.entry.len() + slot.member
    }

    /// Every member's last accesses of its slots (last writes and reads since) that `keep`
    /// keeps, in one pass.
    fn last_accesses(&self, keep: impl Fn(OpId) -> bool) -> Vec<Vec<OpId>> {
        let members = self.entry.len();
        let mut deps = vec![Vec::new(); members];
        // Slot i of every member, then slot i + 1 (see `Plan::at`). A slot never written still
        // names the entry join, which the exit waits for anyway.
        for row in self.slots.chunks(members.max(1)) {
            for ((state, &entry), deps) in row.iter().zip(&self.entry).zip(&mut deps) {
                let write = state.last_write;
                if write != entry && keep(write) {
                    deps.push(write);
                }
                if let Some(read) = state.first_reader
                    && keep(read)
                {
                    deps.push(read);
                }
            }
        }
        for (at, more) in &self.more_readers {
            deps[at % members.max(1)].extend(more.iter().copied().filter(|&op| keep(op)));
        }
        deps
    }

    /// Records `kind`, which reads `reads` and writes `writes`, after what they require.
    pub(crate) fn op(
        &mut self,
        kind: OpKind,
        label: &Label,
        reads: &[Slot],
        writes: &[Slot],
    ) -> Result<OpId, SchedError> {
        self.record(&Op { kind, label: label.for_op() }, reads, writes)
    }

    /// [`Plan::op`] for an op built by the caller (in place: the hot loops of large collectives
    /// build their ops where they stand rather than moving 400-byte ops through calls).
    pub(crate) fn record(&mut self, op: &Op, reads: &[Slot], writes: &[Slot]) -> Result<OpId, SchedError> {
        self.record_with(reads, writes, |rt, deps, seq| match seq {
            Some(seq) => rt.record_reserved(seq, op, deps),
            None => rt.record_after(op, deps),
        })
    }

    /// As [`Plan::record`], for an op given by its stages alone, recorded by `to` (see
    /// [`Runtime::costed`]).
    #[inline(always)]
    pub(crate) fn record_costed(
        &mut self,
        to: &mut Costed<'_>,
        stages: &Stages,
        reads: &[Slot],
        writes: &[Slot],
    ) -> Result<OpId, SchedError> {
        self.record_with(
            reads,
            writes,
            #[inline(always)]
            |_, deps, seq| to.record(seq, stages, deps),
        )
    }

    /// Records an op with `add`, after what its slot accesses wait for.
    #[inline(always)]
    fn record_with(
        &mut self,
        reads: &[Slot],
        writes: &[Slot],
        add: impl FnOnce(&Runtime, &[OpId], Option<u64>) -> Result<OpId, SchedError>,
    ) -> Result<OpId, SchedError> {
        self.deps.clear();
        // Each slot's index, found once (most ops touch at most four slots).
        let mut ats = [0usize; 4];
        let few = reads.len() + writes.len() <= ats.len();
        for (i, &s) in reads.iter().enumerate() {
            let at = self.wait_for(s, false);
            if few {
                ats[i] = at;
            }
        }
        for (i, &s) in writes.iter().enumerate() {
            let at = self.wait_for(s, true);
            if few {
                ats[reads.len() + i] = at;
            }
        }
        let seq = self.numbered;
        self.numbered = seq.map(|s| s + 1);
        let id = add(&self.rt, self.deps.as_slice(), seq)?;
        for (i, s) in reads.iter().enumerate() {
            let at = if few { ats[i] } else { self.at(*s) };
            self.read_by(at, id);
        }
        for (i, s) in writes.iter().enumerate() {
            let at = if few { ats[reads.len() + i] } else { self.at(*s) };
            self.written_by(at, id);
        }
        Ok(id)
    }

    /// Adds to `deps` what an access of `slot` waits for, and returns the slot's index. It waits
    /// for the slot's last write and, for a write, every read since. A slot's first access waits
    /// for the member's entry join (its last write until an op writes it); later ones wait for
    /// earlier accesses, which did. A write after reads waits for the reads alone: each of them
    /// waited for the last write, so waiting for it too would change nothing but cost the engine
    /// an edge.
    #[inline(always)]
    fn wait_for(&mut self, slot: Slot, write: bool) -> usize {
        let at = self.at(slot);
        let state = self.slots[at];
        if let (true, Some(r)) = (write, state.first_reader) {
            self.deps.need(r);
            if !self.more_readers.is_empty() {
                for &r in self.more_readers.get(&at).into_iter().flatten() {
                    self.deps.need(r);
                }
            }
            return at;
        }
        self.deps.need(state.last_write);
        at
    }

    /// Slot `at` was read by `op`.
    #[inline(always)]
    fn read_by(&mut self, at: usize, op: OpId) {
        let state = &mut self.slots[at];
        if state.first_reader.is_none() {
            state.first_reader = Some(op);
        } else {
            self.read_again(at, op);
        }
    }

    /// Slot `at`, read since its last write, was read by `op` too.
    #[cold]
    fn read_again(&mut self, at: usize, op: OpId) {
        self.more_readers.entry(at).or_default().push(op);
    }

    /// Slot `at` was written by `op`.
    #[inline(always)]
    fn written_by(&mut self, at: usize, op: OpId) {
        if !self.more_readers.is_empty() {
            self.more_readers.remove(&at);
        }
        self.slots[at] = SlotState { last_write: op, first_reader: None };
    }

    /// PE `lane` (modulo the PEs) of `device`.
    pub(crate) fn lane(&self, device: u32, lane: usize) -> Pe {
        self.lanes().of(device, lane)
    }

    /// The PEs reductions and copies are spread over, for an op built later ([`Lanes::of`]).
    pub(crate) fn lanes(&self) -> Lanes {
        Lanes { pes: self.pes }
    }

    /// A link transfer of `src` (with its slot) into `dst` (on another device).
    pub(crate) fn transfer(
        &mut self,
        (src, from): (Region, impl Slots),
        (dst, to): (Region, impl Slots),
        label: &Label,
    ) -> Result<OpId, SchedError> {
        self.op(OpKind::LinkTransfer { src, dst }, label, from.slots(), to.slots())
    }

    /// `dst = op(dst, src)` on PE `lane` (modulo the PEs) of `dst`'s device.
    pub(crate) fn reduce_into(
        &mut self,
        (src, from): (Region, impl Slots),
        (dst, to): (Region, impl Slots),
        op: BinaryOp,
        lane: usize,
        label: &Label,
    ) -> Result<OpId, SchedError> {
        let pe = self.lane(dst.space.device(), lane);
        let mut pair = [Slot { member: 0, index: 0 }; 2];
        let reads = both(from.slots(), to.slots(), &mut pair);
        self.op(OpKind::ReduceInto { pe, src, dst, op }, label, &reads, to.slots())
    }

    /// `out = op(a, b)` on PE `lane` of `out`'s device: the out-of-place form of
    /// [`Plan::reduce_into`], with the same arithmetic and rounding.
    pub(crate) fn combine(
        &mut self,
        (a, a_at): (Region, impl Slots),
        (b, b_at): (Region, impl Slots),
        (out, out_at): (Region, impl Slots),
        op: BinaryOp,
        lane: usize,
        label: &Label,
    ) -> Result<OpId, SchedError> {
        let pe = self.lane(out.space.device(), lane);
        let kind = OpKind::Vector { pe, op: VectorOp::Binary { op, a, b, out } };
        let mut pair = [Slot { member: 0, index: 0 }; 2];
        let reads = both(a_at.slots(), b_at.slots(), &mut pair);
        self.op(kind, label, &reads, out_at.slots())
    }

    /// Reduces `xs` (at least two) in their order — `((x0 op x1) op x2) …`, rounded at each step —
    /// into `out`, through `acc` when `out` is one of the `xs` or is read by others meanwhile
    /// (without `acc`, `out` accumulates directly). Every member that runs the same chain over the
    /// same values gets the same bytes.
    pub(crate) fn chain(
        &mut self,
        xs: &[(Region, Slot)],
        acc: Option<(Region, Slot)>,
        out: (Region, Slot),
        op: BinaryOp,
        lane: usize,
        label: &Label,
    ) -> Result<(), SchedError> {
        let [x0, x1, rest @ ..] = xs else { return Ok(()) };
        let Some((last, middle)) = rest.split_last() else {
            self.combine(x0.clone(), x1.clone(), out, op, lane, label)?;
            return Ok(());
        };
        let acc = acc.unwrap_or_else(|| out.clone());
        self.combine(x0.clone(), x1.clone(), acc.clone(), op, lane, label)?;
        for x in middle {
            self.reduce_into(x.clone(), acc.clone(), op, lane, label)?;
        }
        self.combine(acc, last.clone(), out, op, lane, label)?;
        Ok(())
    }

    /// A copy within one device, by PE `lane`'s DMA engine.
    pub(crate) fn copy(
        &mut self,
        (src, from): (Region, impl Slots),
        (dst, to): (Region, impl Slots),
        lane: usize,
        label: &Label,
    ) -> Result<OpId, SchedError> {
        let pe = self.lane(dst.space.device(), lane);
        self.op(OpKind::Dma { pe, src, dst }, label, from.slots(), to.slots())
    }

    /// Divides `region` (slot `at`) by `n` in place on PE `lane` of its device (`avg`'s last step).
    pub(crate) fn divide(
        &mut self,
        (region, at): (Region, impl Slots),
        n: usize,
        lane: usize,
    ) -> Result<OpId, SchedError> {
        let op = divide_op(self.lane(region.space.device(), lane), region, n);
        self.record(&op, at.slots(), at.slots())
    }

    /// Records each member's exit join, held (see [`Runtime::record_op_held`]), as an access of
    /// its tensors: for a collective recorded wave by wave, whose last accesses come later.
    /// [`Plan::release_exits`] gives them their dependencies.
    pub(crate) fn hold_exits(&self) -> Result<Vec<OpId>, SchedError> {
        let mut exits = Vec::with_capacity(self.entry.len());
        for (p, (r, w)) in self.reads.iter().zip(&self.writes).enumerate() {
            let (r, w): (Vec<&Tensor>, Vec<&Tensor>) = (r.iter().collect(), w.iter().collect());
            exits.push(self.rt.record_op_held(Op::labelled(OpKind::Join, self.label), &r, &w, &[self.entry[p]])?);
        }
        Ok(exits)
    }

    /// Releases the exit joins [`Plan::hold_exits`] recorded, each after the last accesses of
    /// its member's slots.
    pub(crate) fn release_exits(&self, exits: &[OpId]) -> Result<(), SchedError> {
        // Accesses that have ended add nothing to wait for (most have, by the last wave).
        let last = self.rt.with_sim(|sim| self.last_accesses(|op| !sim.is_done(op)));
        for (&exit, deps) in exits.iter().zip(last) {
            self.rt.release_hold(exit, &deps)?;
        }
        Ok(())
    }

    /// Records each member's exit join — after its entry and the last accesses of its slots — as
    /// an access of its tensors, so later ops and host reads wait for it; returns them.
    pub(crate) fn finish(self) -> Result<Vec<OpId>, SchedError> {
        let mut exits = Vec::with_capacity(self.entry.len());
        let last = self.last_accesses(|_| true);
        for (p, ((r, w), mut deps)) in self.reads.iter().zip(&self.writes).zip(last).enumerate() {
            deps.push(self.entry[p]);
            let (r, w): (Vec<&Tensor>, Vec<&Tensor>) = (r.iter().collect(), w.iter().collect());
            exits.push(self.rt.record_op(Op::labelled(OpKind::Join, self.label), &r, &w, &deps)?);
        }
        Ok(exits)
    }
}

/// The PEs of a device, by lane: a copy of the plan's count, for ops built only when needed (the
/// hot loops of stepped collectives build an op only for the first of its shape).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lanes {
    pes: u32,
}

impl Lanes {
    /// PE `lane` (modulo the PEs) of `device`.
    pub(crate) fn of(self, device: u32, lane: usize) -> Pe {
        let pes = self.pes as usize;
        Pe { device, pe: if lane < pes { lane } else { lane % pes } as u32 }
    }
}

/// The op [`Plan::divide`] records: `region /= n` in place on `pe`.
pub(crate) fn divide_op(pe: Pe, region: Region, n: usize) -> Op {
    let op = VectorOp::Scalar { op: BinaryOp::Div, x: region.clone(), scalar: n as f64, out: region };
    Op::labelled(OpKind::Vector { pe, op }, "avg")
}

/// The root's position among the members of a rooted collective.
pub(crate) fn root_of(calls: &[Call]) -> usize {
    let root = calls.first().and_then(|c| c.root);
    calls.iter().position(|c| Some(c.rank) == root).unwrap_or(0)
}

/// What a broadcast is moving, once its plan is made: the members' flat tensors, cut by one grid
/// of slices, and the root's position.
#[derive(Debug)]
pub(crate) struct Broadcast {
    pub(crate) mem: Buf,
    pub(crate) grid: Grid,
    pub(crate) root: usize,
    pub(crate) n: usize,
}

/// What every broadcast algorithm shares: the root's tensor is only read, the others' only
/// written, one grid of slices over the flat tensor. Returns the plan and, when there is anything
/// to move (two members or more, a non-empty tensor), what to move.
pub(crate) fn broadcast_plan(rt: &Runtime, calls: &[Call]) -> Result<(Plan, Option<Broadcast>), SchedError> {
    let n = calls.len();
    let (count, dtype) = calls.first().map_or((0, DType::F32), |c| (c.tensor(0).numel(), c.tensor(0).dtype()));
    let root = root_of(calls);
    let flats = flat(calls, 0)?;
    let grid = Grid::new(rt, count, 1, dtype);
    let reads = (0..n).map(|p| if p == root { vec![flats[p].clone()] } else { Vec::new() }).collect();
    let writes = (0..n).map(|p| if p == root { Vec::new() } else { vec![flats[p].clone()] }).collect();
    let plan = Plan::new(rt, "broadcast", grid.slots(), reads, writes)?;
    let moving = (n > 1 && count > 0).then(|| Buf::new(&flats, 0)).transpose()?;
    Ok((plan, moving.map(|mem| Broadcast { mem, grid, root, n })))
}

/// One buffer per member (a tensor or a scratch buffer), flat, with the first of its slots.
#[derive(Debug, Clone)]
pub(crate) struct Buf {
    mem: Vec<Region>,
    base: usize,
}

impl Buf {
    /// The flat tensors `tensors` (one per member), whose slots start at `base`.
    pub(crate) fn new(tensors: &[Tensor], base: usize) -> Result<Buf, SchedError> {
        Ok(Buf { mem: regions(tensors)?, base })
    }

    /// Slot `index` of member `p`'s buffer.
    pub(crate) fn at(&self, p: usize, index: usize) -> Slot {
        Slot { member: p, index: self.base + index }
    }

    /// Elements `start .. start + len` of member `p`'s buffer, with its slot `index`.
    pub(crate) fn cell(&self, p: usize, index: usize, start: usize, len: usize) -> Result<(Region, Slot), SchedError> {
        Ok((part(&self.mem[p], start, len)?, self.at(p, index)))
    }

    /// Piece `piece` of member `p`'s buffer, its cells and elements shifted back by `cells` and
    /// `elems` (a buffer holding only some chunks): its region and its slots.
    pub(crate) fn piece(
        &self,
        p: usize,
        piece: &Piece,
        (cells, elems): (usize, usize),
    ) -> Result<(Region, Vec<Slot>), SchedError> {
        let slots = (piece.cells.start - cells..piece.cells.end - cells).map(|i| self.at(p, i)).collect();
        Ok((part(&self.mem[p], piece.start - elems, piece.len)?, slots))
    }

    /// The device of member `p`'s buffer.
    pub(crate) fn device(&self, p: usize) -> u32 {
        self.mem[p].space.device()
    }

    /// Elements `start .. start + len` of member `p`'s buffer.
    pub(crate) fn region(&self, p: usize, start: usize, len: usize) -> Result<Region, SchedError> {
        part(&self.mem[p], start, len)
    }
}

/// What a [`Plan`] remembers of one slot: its last write — the member's entry join until an op
/// writes it, so an access never looks further — and the reads since: the first here (most slots
/// have at most one reader at a time), the others in [`Plan::more_readers`]. Sixteen bytes: a
/// thousand-rank collective has a million slots.
#[derive(Debug, Clone, Copy)]
struct SlotState {
    last_write: OpId,
    first_reader: Option<OpId>,
}

const _: () = assert!(std::mem::size_of::<SlotState>() == 16);

/// An op's dependencies as they are gathered: unique, in the order first needed. Most ops have a
/// handful, kept inline; more (a slot read by many) go to a list reused from op to op.
#[derive(Debug)]
struct Deps {
    inline: [OpId; 4],
    len: usize,
    /// Every dependency, once there are more than fit inline (empty until then).
    spill: Vec<OpId>,
}

impl Deps {
    /// No dependencies yet.
    fn new() -> Deps {
        Deps { inline: [OpId::default(); 4], len: 0, spill: Vec::new() }
    }

    /// Forgets the dependencies gathered, for the next op (keeping the list's memory).
    #[inline(always)]
    fn clear(&mut self) {
        self.len = 0;
        if !self.spill.is_empty() {
            self.spill.clear();
        }
    }

    /// Adds `op` unless it is already there.
    #[inline(always)]
    fn need(&mut self, op: OpId) {
        if self.len < self.inline.len() {
            if !self.inline[..self.len].contains(&op) {
                self.inline[self.len] = op;
                self.len += 1;
            }
        } else {
            self.need_more(op);
        }
    }

    #[cold]
    fn need_more(&mut self, op: OpId) {
        if self.spill.is_empty() {
            self.spill.extend_from_slice(&self.inline);
        }
        if !self.spill.contains(&op) {
            self.spill.push(op);
        }
    }

    fn as_slice(&self) -> &[OpId] {
        if self.spill.is_empty() { &self.inline[..self.len] } else { &self.spill }
    }
}

/// An op label, made once per collective rather than once per op.
#[derive(Debug, Clone)]
pub(crate) struct Label(Arc<str>);

impl Label {
    pub(crate) fn new(text: &str) -> Label {
        Label(text.into())
    }

    /// The label as an op carries it.
    pub(crate) fn for_op(&self) -> Option<Arc<str>> {
        Some(self.0.clone())
    }
}

/// Every member's tensor `i`, flattened (an empty one as it is: it is never cut).
pub(crate) fn flat(calls: &[Call], i: usize) -> Result<Vec<Tensor>, SchedError> {
    calls
        .iter()
        .map(|c| {
            let t = c.tensor(i);
            if t.numel() == 0 { Ok(t.clone()) } else { t.reshape(&[t.numel()]) }
        })
        .collect()
}

/// The regions of flat tensors.
pub(crate) fn regions(tensors: &[Tensor]) -> Result<Vec<Region>, SchedError> {
    tensors.iter().map(Tensor::region).collect()
}

/// Elements `start .. start + len` of a flat, contiguous region.
pub(crate) fn part(region: &Region, start: usize, len: usize) -> Result<Region, SchedError> {
    let first = (region.layout.offset() + start) * region.dtype.size();
    Ok(Region::new(region.space, region.addr + first as u64, region.dtype, Layout::vector(len)))
}

/// A scratch buffer of `len` elements on each member's device.
pub(crate) fn scratch(rt: &Runtime, calls: &[Call], len: usize, dtype: DType) -> Result<Vec<Tensor>, SchedError> {
    calls.iter().map(|c| rt.device(c.tensor(0).device())?.empty(&[len], dtype)).collect()
}

#[cfg(test)]
mod tests {
    use super::Grid;

    #[test]
    fn pieces_cover_their_chunks_in_order_in_runs_of_at_most_a_slice() {
        for count in [0, 1, 5, 12, 13, 40, 97] {
            for n in 1..=8 {
                for slice in 1..=14 {
                    let grid = Grid::sliced(count, n, slice);
                    for lo in 0..n {
                        for hi in lo..=n {
                            let pieces = grid.pieces(lo..hi);
                            let cells: Vec<_> = grid.cells_of(lo..hi).collect();
                            let case = format!("{count} elements, {n} chunks, slices of {slice}, chunks {lo}..{hi}");
                            // The pieces tile the chunks' elements in order, no piece empty.
                            let mut at = grid.chunk(lo).0;
                            for piece in &pieces {
                                assert_eq!(piece.start, at, "{case}: {pieces:?}");
                                assert!(piece.len > 0 && piece.len <= slice, "{case}: {pieces:?}");
                                at += piece.len;
                            }
                            let end = if hi > lo { grid.chunk(hi - 1).0 + grid.chunk(hi - 1).1 } else { at };
                            assert_eq!(at, end, "{case}: {pieces:?}");
                            // Each piece is a run of whole cells, and consecutive pieces could not
                            // have been one (together they exceed a slice).
                            let mut next = cells.iter();
                            for piece in &pieces {
                                let mut len = 0;
                                while len < piece.len {
                                    let &(cell, start, cell_len) = next.next().expect("a cell for every element");
                                    assert!(piece.cells.contains(&cell), "{case}: cell {cell} in {piece:?}");
                                    assert_eq!(start, piece.start + len, "{case}");
                                    len += cell_len;
                                }
                                assert_eq!(len, piece.len, "{case}: {piece:?} ends on a cell boundary");
                            }
                            for pair in pieces.windows(2) {
                                assert!(pair[0].len + pair[1].len > slice, "{case}: {pair:?} fit in one slice");
                            }
                        }
                    }
                }
            }
        }
    }
}
