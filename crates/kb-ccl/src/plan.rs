//! What every algorithm builds on: a [`Plan`] orders one collective's ops per *slot* (a chunk of
//! a member's tensor, a scratch buffer: disjoint by construction) in O(1) per op; the runtime's own
//! hazards are used only at the edges, by one entry join and one exit join per member over its
//! tensors, so a collective of `n` members costs O(n) hazard work per member rather than O(n²).
//! Also the helpers that cut tensors into chunks and regions.

use std::sync::Arc;

use kb_mem::{DType, Layout, Region};
use kb_oplog::{BinaryOp, Op, OpId, OpKind, Pe, VectorOp};
use kb_sched::{Runtime, SchedError, Tensor};

use crate::collective::Call;

/// Start and length of chunk `k` of `count` elements cut in `n`.
pub(crate) fn chunk(count: usize, n: usize, k: usize) -> (usize, usize) {
    let (base, rem) = (count / n, count % n);
    (k * base + k.min(rem), base + usize::from(k < rem))
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
pub(crate) struct Plan<'a> {
    rt: &'a Runtime,
    label: &'static str,
    per_member: usize,
    /// Per member: its tensors the collective reads, and those it writes (scratch included).
    reads: Vec<Vec<Tensor>>,
    writes: Vec<Vec<Tensor>>,
    /// Per member: the join every op touching its memory runs after.
    entry: Vec<OpId>,
    last_write: Vec<Option<OpId>>,
    readers: Vec<Vec<OpId>>,
    /// Reused for each op's dependencies.
    deps: Vec<OpId>,
}

impl<'a> Plan<'a> {
    /// A plan over members reading `reads[p]` and writing `writes[p]`, with `per_member` slots
    /// each. Records each member's entry join, which takes the tensors' hazards: it waits for
    /// earlier writes of what the collective reads, and for every earlier access of what it writes.
    pub(crate) fn new(
        rt: &'a Runtime,
        label: &'static str,
        per_member: usize,
        reads: Vec<Vec<Tensor>>,
        writes: Vec<Vec<Tensor>>,
    ) -> Result<Plan<'a>, SchedError> {
        let entry = reads
            .iter()
            .zip(&writes)
            .map(|(r, w)| {
                let (r, w): (Vec<&Tensor>, Vec<&Tensor>) = (r.iter().collect(), w.iter().collect());
                rt.record_op(Op::labelled(OpKind::Join, label), &r, &w, &[])
            })
            .collect::<Result<Vec<_>, _>>()?;
        let slots = per_member * reads.len();
        Ok(Plan {
            rt,
            label,
            per_member,
            reads,
            writes,
            entry,
            last_write: vec![None; slots],
            readers: vec![Vec::new(); slots],
            deps: Vec::new(),
        })
    }

    fn at(&self, slot: Slot) -> usize {
        slot.member * self.per_member + slot.index
    }

    /// Records `kind`, which reads `reads` and writes `writes`, after what they require.
    pub(crate) fn op(
        &mut self,
        kind: OpKind,
        label: &Label,
        reads: &[Slot],
        writes: &[Slot],
    ) -> Result<OpId, SchedError> {
        let mut deps = std::mem::take(&mut self.deps);
        deps.clear();
        deps.extend(reads.iter().chain(writes).map(|s| self.entry[s.member]));
        for s in reads {
            deps.extend(self.last_write[self.at(*s)]);
        }
        for s in writes {
            let at = self.at(*s);
            deps.extend(self.last_write[at]);
            deps.extend(self.readers[at].iter().copied());
        }
        deps.sort_unstable();
        deps.dedup();
        let op = Op { kind, label: Some(label.0.clone()) };
        let id = self.rt.record_op(op, &[], &[], &deps);
        self.deps = deps;
        let id = id?;
        for s in reads {
            let at = self.at(*s);
            self.readers[at].push(id);
        }
        for s in writes {
            let at = self.at(*s);
            self.last_write[at] = Some(id);
            self.readers[at].clear();
        }
        Ok(id)
    }

    /// A link transfer of `src` (in slot `from`) into `dst` (in slot `to`, on another device).
    pub(crate) fn transfer(
        &mut self,
        src: Region,
        from: Slot,
        dst: Region,
        to: Slot,
        label: &Label,
    ) -> Result<OpId, SchedError> {
        self.op(OpKind::LinkTransfer { src, dst }, label, &[from], &[to])
    }

    /// `dst = op(dst, src)` on PE 0 of `dst`'s device.
    #[allow(clippy::too_many_arguments)] // Each region comes with its slot.
    pub(crate) fn reduce_into(
        &mut self,
        src: Region,
        from: Slot,
        dst: Region,
        to: Slot,
        op: BinaryOp,
        label: &Label,
    ) -> Result<OpId, SchedError> {
        let pe = Pe { device: dst.space.device(), pe: 0 };
        self.op(OpKind::ReduceInto { pe, src, dst, op }, label, &[from, to], &[to])
    }

    /// A copy within one device, by PE 0's DMA engine.
    pub(crate) fn copy(
        &mut self,
        src: Region,
        from: Slot,
        dst: Region,
        to: Slot,
        label: &Label,
    ) -> Result<OpId, SchedError> {
        let pe = Pe { device: dst.space.device(), pe: 0 };
        self.op(OpKind::Dma { pe, src, dst }, label, &[from], &[to])
    }

    /// Divides `region` (slot `at`) by `n` in place on PE 0 of its device (`avg`'s last step).
    pub(crate) fn divide(&mut self, region: Region, at: Slot, n: usize) -> Result<OpId, SchedError> {
        let pe = Pe { device: region.space.device(), pe: 0 };
        let op = VectorOp::Scalar { op: BinaryOp::Div, x: region.clone(), scalar: n as f64, out: region };
        self.op(OpKind::Vector { pe, op }, &Label::new("avg"), &[at], &[at])
    }

    /// Records each member's exit join — after its entry and the last accesses of its slots — as
    /// an access of its tensors, so later ops and host reads wait for it; returns them.
    pub(crate) fn finish(self) -> Result<Vec<OpId>, SchedError> {
        let mut exits = Vec::with_capacity(self.entry.len());
        for (p, (r, w)) in self.reads.iter().zip(&self.writes).enumerate() {
            let mut deps = vec![self.entry[p]];
            for at in p * self.per_member..(p + 1) * self.per_member {
                deps.extend(self.last_write[at]);
                deps.extend(self.readers[at].iter().copied());
            }
            let (r, w): (Vec<&Tensor>, Vec<&Tensor>) = (r.iter().collect(), w.iter().collect());
            exits.push(self.rt.record_op(Op::labelled(OpKind::Join, self.label), &r, &w, &deps)?);
        }
        Ok(exits)
    }
}

/// An op label, made once per collective rather than once per op.
#[derive(Debug, Clone)]
pub(crate) struct Label(Arc<str>);

impl Label {
    pub(crate) fn new(text: &str) -> Label {
        Label(text.into())
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
    let layout = Layout::contiguous(&[len])?;
    Ok(Region::new(region.space, region.addr + first as u64, region.dtype, layout))
}

/// A scratch buffer of `len` elements on each member's device.
pub(crate) fn scratch(rt: &Runtime, calls: &[Call], len: usize, dtype: DType) -> Result<Vec<Tensor>, SchedError> {
    calls.iter().map(|c| rt.device(c.tensor(0).device())?.empty(&[len], dtype)).collect()
}
