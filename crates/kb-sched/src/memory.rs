//! Device memory as the runtime manages it: one allocator per space, storages with their hazards,
//! and fences that keep a reused address from being written before its previous users are done.
//!
//! Every storage (a tensor's HBM block, a tile's TCM block) tracks the ops that touched it: the
//! last writer and the readers since. An op reading a storage depends on its last writer; an op
//! writing it depends on the last writer and every reader since (read-after-write,
//! write-after-read and write-after-write, in simulated time). When a storage is freed, those ops
//! become a *fence* on its address range; the next storage allocated over that range starts with
//! the fence as its readers, so its first writer waits for them. Replay needs none of this — it
//! runs in recording order — but timing does.

use std::collections::BTreeMap;

use kb_mem::{Allocator, Dims, Layout, MemError, Space};
use kb_oplog::{OpId, Sim};

slotmap::new_key_type! {
    /// A block of device memory held by a tensor or a tile.
    pub(crate) struct StorageId;
}

/// The part of a storage an op touches: a box of indices of one view's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Touch {
    pub(crate) storage: StorageId,
    /// Bytes per element of the view.
    pub(crate) elem_size: usize,
    /// The view the box indexes.
    pub(crate) layout: Layout,
    /// The box's first index per dimension (inline: a touch never allocates).
    pub(crate) start: Dims,
    /// The box's extent per dimension.
    pub(crate) extent: Dims,
    /// Element offsets `[first, end)` the box spans in its storage (empty when the box is).
    span: (usize, usize),
}

impl Touch {
    /// Every element of a view.
    pub(crate) fn whole(storage: StorageId, elem_size: usize, layout: &Layout) -> Touch {
        Touch {
            storage,
            elem_size,
            layout: layout.clone(),
            start: Dims::zeros(layout.rank()).expect("a layout's rank is at most MAX_RANK"),
            extent: Dims::new(layout.shape()).expect("a layout's rank is at most MAX_RANK"),
            span: Touch::span_of(layout),
        }
    }

    /// A block of a view: the box of `start` and `extent` (checked against the view).
    pub(crate) fn block(
        storage: StorageId,
        elem_size: usize,
        layout: &Layout,
        start: &[usize],
        extent: &[usize],
    ) -> Result<Touch, MemError> {
        let block = layout.sub_block(start, extent)?;
        Ok(Touch {
            storage,
            elem_size,
            layout: layout.clone(),
            start: Dims::new(start)?,
            extent: Dims::new(extent)?,
            span: Touch::span_of(&block),
        })
    }

    /// The element offsets a layout spans, `(0, 0)` when it is empty.
    fn span_of(block: &Layout) -> (usize, usize) {
        if block.numel() > 0 { (block.offset(), block.span()) } else { (0, 0) }
    }
}

/// One recorded access to a storage.
#[derive(Debug, Clone)]
struct Access {
    op: OpId,
    touch: Touch,
}

impl Access {
    /// Whether two accesses may touch a common element: exactly, when both index the same view
    /// (boxes intersect); conservatively otherwise (element spans intersect).
    fn overlaps(&self, touch: &Touch) -> bool {
        let (span, mine) = (touch.span, self.touch.span);
        if span.0 >= span.1 || mine.0 >= mine.1 || span.1 <= mine.0 || mine.1 <= span.0 {
            return false;
        }
        if touch.layout == self.touch.layout && touch.layout.rank() > 0 {
            return touch
                .start
                .iter()
                .zip(touch.extent.iter())
                .zip(self.touch.start.iter().zip(self.touch.extent.iter()))
                .all(|((&s, &e), (&os, &oe))| s < os + oe && os < s + e);
        }
        true
    }
}

/// The accesses to a storage that later accesses may have to wait for.
///
/// A read waits for the overlapping writes before it; a write waits for every overlapping access
/// before it. Reads and writes are kept apart, so a read — the common case: inputs are read by
/// every program of a kernel — scans only the writes. Ops that have ended are forgotten from time
/// to time, and a write covering the whole storage replaces everything before it (anything later
/// that overlaps an older access overlaps that write too, which already waits for it).
#[derive(Debug, Default, Clone)]
pub(crate) struct Hazards {
    writes: Vec<Access>,
    reads: Vec<Access>,
}

impl Hazards {
    /// Dependencies of an op touching `touch`, reading or writing.
    pub(crate) fn deps(&self, touch: &Touch, write: bool, out: &mut Vec<OpId>) {
        out.extend(self.writes.iter().filter(|a| a.overlaps(touch)).map(|a| a.op));
        if write {
            out.extend(self.reads.iter().filter(|a| a.overlaps(touch)).map(|a| a.op));
        }
    }

    /// Notes that `op` touches `touch` of a storage of `storage_bytes`.
    pub(crate) fn note(&mut self, op: OpId, touch: &Touch, write: bool, storage_bytes: u64, sim: &Sim) {
        let span = touch.span;
        let covers = span.0 == 0 && (span.1 * touch.elem_size) as u64 >= storage_bytes && touch.layout.is_contiguous();
        if write && covers {
            self.writes.clear();
            self.reads.clear();
        }
        let list = if write { &mut self.writes } else { &mut self.reads };
        if list.len() >= 64 && list.len().is_power_of_two() {
            list.retain(|a| !sim.is_done(a.op));
        }
        list.push(Access { op, touch: touch.clone() });
    }

    /// Every op still touching the storage.
    pub(crate) fn all(&self) -> Vec<OpId> {
        self.writes.iter().chain(&self.reads).map(|a| a.op).collect()
    }

    /// Every op that wrote a part of the storage and may not have ended, in recording order.
    pub(crate) fn writes(&self) -> impl Iterator<Item = OpId> + '_ {
        self.writes.iter().map(|a| a.op)
    }

    /// Starts with `fence` — the ops that last used the storage's block — as reads every write
    /// to any part of the storage must wait for.
    pub(crate) fn fenced(fence: Vec<OpId>, storage: StorageId) -> Hazards {
        // A box of no view, spanning everything: it overlaps every access.
        let none = Dims::zeros(0).expect("rank 0");
        let touch =
            Touch { storage, elem_size: 1, layout: Layout::scalar(), start: none, extent: none, span: (0, usize::MAX) };
        Hazards { writes: Vec::new(), reads: fence.into_iter().map(|op| Access { op, touch: touch.clone() }).collect() }
    }
}

/// One space's allocator with the fences of freed blocks.
#[derive(Debug)]
pub(crate) struct SpaceAlloc {
    pub(crate) alloc: Allocator,
    /// Freed ranges: start → (length, ops that touched it last).
    fences: BTreeMap<u64, (u64, Vec<OpId>)>,
}

impl SpaceAlloc {
    pub(crate) fn new(space: Space, capacity: u64) -> SpaceAlloc {
        SpaceAlloc { alloc: Allocator::new(space, capacity), fences: BTreeMap::new() }
    }

    /// Allocates a block and returns its address and the fence ops of any freed block it
    /// overlaps (those that have not ended yet). A fence lying wholly inside the new block is
    /// handed over and removed: the new storage's own accesses carry it from now on (they wait for
    /// it, and so does whatever later waits for them), so fences never pile up on a reused address.
    pub(crate) fn allocate(&mut self, bytes: u64, align: u64, sim: &Sim) -> Result<(u64, Vec<OpId>), MemError> {
        let addr = self.alloc.allocate(bytes, align)?;
        let end = addr + bytes.max(1);
        let mut fence = Vec::new();
        let mut handed_over = Vec::new();
        for (&start, (len, ops)) in self.fences.range_mut(..end) {
            if start + *len <= addr {
                continue;
            }
            ops.retain(|&op| !sim.is_done(op));
            fence.extend(ops.iter().copied());
            if ops.is_empty() || (start >= addr && start + *len <= end) {
                handed_over.push(start);
            }
        }
        for start in handed_over {
            self.fences.remove(&start);
        }
        Ok((addr, fence))
    }

    /// Frees the block at `addr`, leaving `users` as a fence on its range.
    pub(crate) fn free(&mut self, addr: u64, users: Vec<OpId>) -> Result<(), MemError> {
        let len = self.alloc.free(addr)?;
        if users.is_empty() {
            return Ok(());
        }
        match self.fences.get_mut(&addr) {
            Some((l, ops)) => {
                *l = (*l).max(len);
                ops.extend(users);
            }
            None => {
                self.fences.insert(addr, (len, users));
            }
        }
        Ok(())
    }
}

/// A storage's record in the runtime.
#[derive(Debug)]
pub(crate) struct StorageRec {
    pub(crate) space: Space,
    pub(crate) addr: u64,
    /// Its size in bytes.
    pub(crate) bytes: u64,
    pub(crate) hazards: Hazards,
}
