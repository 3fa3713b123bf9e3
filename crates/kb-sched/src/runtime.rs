//! The runtime context: the op log, the engine, the memory store and the allocators of one
//! machine, and the devices it hands out.
//!
//! A [`Runtime`] is a cheap handle (`Rc`) on one context; clones share it. There is no global
//! state: two runtimes in one process are independent. Everything a user does — creating a tensor,
//! launching a kernel, reading a result — goes through it, and every device-visible action is an
//! op in its log. Borrows of the context are short and never held across user code.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use kb_mem::{DType, Region, Space};
use kb_oplog::{MachineSpec, Mode, Op, OpId, Sim, Stages};
use slotmap::SlotMap;

use crate::memory::{Hazards, SpaceAlloc, StorageId, StorageRec, Touch};
use crate::{SchedError, Tensor};

/// HBM blocks are aligned to this many bytes.
pub(crate) const HBM_ALIGN: u64 = 256;
/// TCM blocks are aligned to this many bytes.
pub(crate) const TCM_ALIGN: u64 = 64;

/// One stream of a device: launches on it run in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stream {
    /// The end of the last launch on the stream.
    pub(crate) last: Option<OpId>,
    /// When that launch is estimated to end (cost model, uncontended), in picoseconds.
    pub(crate) est_end: u64,
}

/// A PE as the dispatcher sees it.
#[derive(Debug, Default, Clone)]
pub(crate) struct PeState {
    /// The end of the last program dispatched to it.
    pub(crate) last: Option<OpId>,
    /// When that program is estimated to end, in picoseconds.
    pub(crate) est_free: u64,
}

/// The state behind a [`Runtime`].
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) sim: Sim,
    pub(crate) hbm: Vec<SpaceAlloc>,
    pub(crate) tcm: Vec<Vec<SpaceAlloc>>,
    pub(crate) storages: SlotMap<StorageId, StorageRec>,
    pub(crate) streams: Vec<Vec<Stream>>,
    pub(crate) pes: Vec<Vec<PeState>>,
    /// The multi-rank scheduler while `spawn` runs: waits then park the rank instead of driving
    /// the engine.
    pub(crate) scheduler: Option<std::rc::Rc<crate::spawn::Scheduler>>,
    /// Batches of ops still being recorded wave by wave ([`Runtime::defer`]), each with its
    /// alarm (the first sequence number of its last wave), in registration order.
    pub(crate) waves: Vec<PendingWave>,
}

/// Records ops by their cost on a runtime that keeps no ops, while it is held
/// ([`Runtime::costed`]).
#[derive(Debug)]
pub struct Costed<'a> {
    sim: &'a mut Sim,
}

impl Costed<'_> {
    /// Checks and costs `op` without recording it (see [`kb_oplog::Sim::cost`]).
    pub fn cost(&self, op: &Op) -> Result<Stages, SchedError> {
        Ok(self.sim.cost(op)?)
    }

    /// Records an op by its stages alone (from [`Costed::cost`] of an op of the same shape and
    /// resources), after the ops `after` (see [`kb_oplog::Sim::record_costed`]). With `seq`, under
    /// that number from [`Runtime::reserve_seqs`].
    #[inline(always)]
    pub fn record(&mut self, seq: Option<u64>, stages: &Stages, after: &[OpId]) -> Result<OpId, SchedError> {
        Ok(self.sim.record_costed(seq, stages, after)?)
    }

    /// Whether `op` has ended in simulated time.
    pub fn is_done(&self, op: OpId) -> bool {
        self.sim.is_done(op)
    }
}

/// A registered [`Wave`] and its alarm.
pub(crate) struct PendingWave(u64, Wave);

impl std::fmt::Debug for PendingWave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wave with its alarm at op #{}", self.0)
    }
}

/// The rest of a batch of ops recorded wave by wave ([`Runtime::defer`]): called when its alarm
/// rings, it records the next wave and returns that wave's alarm, or `None` once the batch is
/// complete.
pub type Wave = Box<dyn FnMut(&Runtime) -> Result<Option<u64>, SchedError>>;

impl Inner {
    pub(crate) fn space_alloc(&mut self, space: Space) -> Result<&mut SpaceAlloc, SchedError> {
        let found = match space {
            Space::Hbm { device } => self.hbm.get_mut(device as usize),
            Space::Tcm { device, pe } => self.tcm.get_mut(device as usize).and_then(|d| d.get_mut(pe as usize)),
        };
        found.ok_or(SchedError::UnknownSpace { space })
    }

    /// Allocates a storage of `bytes` in `space`. An exhausted space is a `MemError`
    /// (`OutOfMemory`), which callers turn into the error naming their context.
    pub(crate) fn allocate(
        &mut self,
        space: Space,
        bytes: u64,
    ) -> Result<Result<StorageId, kb_mem::MemError>, SchedError> {
        let align = if matches!(space, Space::Hbm { .. }) { HBM_ALIGN } else { TCM_ALIGN };
        let Inner { sim, hbm, tcm, storages, .. } = self;
        let alloc = match space {
            Space::Hbm { device } => hbm.get_mut(device as usize),
            Space::Tcm { device, pe } => tcm.get_mut(device as usize).and_then(|d| d.get_mut(pe as usize)),
        }
        .ok_or(SchedError::UnknownSpace { space })?;
        let (addr, fence) = match alloc.allocate(bytes, align, sim) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(storages.insert_with_key(|id| StorageRec { space, addr, bytes, hazards: Hazards::fenced(fence, id) })))
    }

    /// Frees a storage; the ops that touched it become a fence on its range.
    pub(crate) fn release(&mut self, id: StorageId) {
        let Some(rec) = self.storages.remove(id) else { return };
        let users = rec.hazards.all();
        if let Ok(alloc) = self.space_alloc(rec.space) {
            // The block was allocated by this allocator and freed once, so this cannot fail.
            let _ = alloc.free(rec.addr, users);
        }
    }

    /// The dependencies an op touching `reads` and `writes` has through their hazards.
    pub(crate) fn hazard_deps(&self, reads: &[Touch], writes: &[Touch], out: &mut Vec<OpId>) {
        for (touches, write) in [(reads, false), (writes, true)] {
            for t in touches {
                if let Some(s) = self.storages.get(t.storage) {
                    s.hazards.deps(t, write, out);
                }
            }
        }
    }

    /// Records `op` after `extra` and the hazards of what it reads and writes, then notes those
    /// accesses.
    pub(crate) fn record(
        &mut self,
        op: impl Into<Op>,
        reads: &[Touch],
        writes: &[Touch],
        extra: &[OpId],
    ) -> Result<OpId, SchedError> {
        self.record_maybe_held(op.into(), reads, writes, extra, false)
    }

    /// Sets the engine's alarm at the earliest alarm of the pending waves (clears it if none).
    fn rearm_alarm(&mut self) {
        match self.waves.iter().map(|w| w.0).min() {
            Some(alarm) => self.sim.set_alarm(alarm),
            None => self.sim.clear_alarm(),
        }
    }

    /// [`Inner::record`], the op held back until [`Runtime::release_hold`] when `held`.
    pub(crate) fn record_maybe_held(
        &mut self,
        op: Op,
        reads: &[Touch],
        writes: &[Touch],
        extra: &[OpId],
        held: bool,
    ) -> Result<OpId, SchedError> {
        let mut deps: Vec<OpId> = extra.to_vec();
        self.hazard_deps(reads, writes, &mut deps);
        deps.sort_unstable();
        deps.dedup();
        let id = if held { self.sim.record_held(&op, &deps)? } else { self.sim.record(op, &deps)? };
        let Inner { sim, storages, .. } = self;
        for (touches, write) in [(reads, false), (writes, true)] {
            for t in touches {
                if let Some(s) = storages.get_mut(t.storage) {
                    s.hazards.note(id, t, write, s.bytes, sim);
                }
            }
        }
        Ok(id)
    }

    pub(crate) fn storage_region(
        &self,
        id: StorageId,
        dtype: DType,
        layout: kb_mem::Layout,
    ) -> Result<Region, SchedError> {
        let rec =
            self.storages.get(id).ok_or(SchedError::Invalid { op: "storage", reason: "storage was freed".into() })?;
        Ok(Region::new(rec.space, rec.addr, dtype, layout))
    }
}

/// A handle on a runtime context. See the module documentation.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) inner: Rc<RefCell<Inner>>,
}

impl Runtime {
    /// A runtime over `machine`, keeping data (real numbers) or not, as `mode` says.
    pub fn new(machine: MachineSpec, mode: Mode) -> Result<Runtime, SchedError> {
        let sim = Sim::new(machine, mode)?;
        let spec = sim.machine().clone();
        let (devices, pes) = (spec.cluster.ranks, spec.device.pes);
        let hbm = (0..devices).map(|device| SpaceAlloc::new(Space::Hbm { device }, spec.device.hbm_bytes)).collect();
        let tcm = (0..devices)
            .map(|device| {
                (0..pes).map(|pe| SpaceAlloc::new(Space::Tcm { device, pe }, spec.device.tcm_bytes)).collect()
            })
            .collect();
        let inner = Inner {
            sim,
            hbm,
            tcm,
            storages: SlotMap::with_key(),
            streams: vec![vec![Stream::default()]; devices as usize],
            pes: vec![vec![PeState::default(); pes as usize]; devices as usize],
            scheduler: None,
            waves: Vec::new(),
        };
        Ok(Runtime { inner: Rc::new(RefCell::new(inner)) })
    }

    /// A runtime over the embedded default machine, keeping data.
    pub fn with_default_machine() -> Result<Runtime, SchedError> {
        Runtime::new(MachineSpec::default(), Mode::DATA)
    }

    /// The machine simulated.
    pub fn machine(&self) -> MachineSpec {
        self.inner.borrow().sim.machine().clone()
    }

    /// Whether this runtime keeps data (false: timing only).
    pub fn keeps_data(&self) -> bool {
        self.inner.borrow().sim.mode().data
    }

    /// Whether this runtime keeps every op (for a trace or a replay); if not, ops may be recorded
    /// by their cost alone ([`Runtime::costed`]).
    pub fn keeps_ops(&self) -> bool {
        self.inner.borrow().sim.mode().keep_ops
    }

    /// Device `index`.
    pub fn device(&self, index: u32) -> Result<Device, SchedError> {
        let devices = self.inner.borrow().sim.machine().cluster.ranks;
        if index >= devices {
            return Err(SchedError::NoSuchDevice { device: index, devices });
        }
        Ok(Device { rt: self.clone(), index })
    }

    /// The current simulated time (how far the host has waited), in picoseconds.
    pub fn now(&self) -> u64 {
        self.inner.borrow().sim.now()
    }

    /// The latest end of any op timed so far, in picoseconds.
    pub fn makespan(&self) -> u64 {
        self.inner.borrow().sim.makespan()
    }

    /// Waits until `op` has ended in simulated time and returns when it ended (the current time
    /// for an op the engine no longer holds). Outside `spawn`, the host drives the engine itself;
    /// inside a rank, the rank parks and the scheduler — the only one that drives the engine
    /// then — resumes it once the op has ended.
    pub(crate) fn wait_op(&self, op: OpId) -> Result<u64, SchedError> {
        let scheduler = {
            let inner = self.inner.borrow();
            if inner.sim.is_done(op) {
                return Ok(inner.sim.times(op).map_or(inner.sim.now(), |t| t.end));
            }
            inner.scheduler.clone()
        };
        match scheduler {
            None => self.drive_to(op),
            Some(s) if s.current.get().is_some() => {
                s.park_on(crate::spawn::Waiting::Op(op))?;
                let inner = self.inner.borrow();
                Ok(inner.sim.times(op).map_or(inner.sim.now(), |t| t.end))
            }
            // Called from the scheduler's own thread outside any rank (not reachable by users).
            Some(_) => self.drive_to(op),
        }
    }

    /// Waits for every launch recorded so far on every device.
    pub fn synchronize_all(&self) -> Result<(), SchedError> {
        let devices = self.inner.borrow().streams.len() as u32;
        for d in 0..devices {
            self.device(d)?.synchronize()?;
        }
        Ok(())
    }

    /// Runs the timing of every recorded op to its end — recording the waves of batches still
    /// being recorded ([`Runtime::defer`]) on the way — and returns the makespan in picoseconds.
    /// A wave that fails to record ends the run early (its error is lost: callers that need it
    /// wait on the batch's ops instead).
    pub fn run_all(&self) -> u64 {
        while self.drive_until_any(&[]).is_ok_and(|waves_left| waves_left) {}
        self.inner.borrow_mut().sim.run_all()
    }

    /// Runs the timing of every recorded op to its end, as [`Runtime::run_all`] does, for a run
    /// that only matters if it ends before `bound` picoseconds (an algorithm's dry run, once
    /// another has ended at the bound): it stops as soon as the clock reaches the bound, or a
    /// wave recorded on the way reaches the bound set by [`Runtime::set_bound`] (set it before
    /// recording, so that a long recording stops early too). Returns the makespan, or `None` when
    /// the run provably ends at the bound or later. Any other error of a wave is returned.
    pub fn run_all_within(&self, bound: u64) -> Result<Option<u64>, SchedError> {
        let past = |inner: &Inner| inner.sim.now() >= bound;
        loop {
            match self.drive_until_any(&[]) {
                Ok(true) if past(&self.inner.borrow()) => return Ok(None),
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if e.is_bound() => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let mut inner = self.inner.borrow_mut();
        while inner.sim.step() {
            if past(&inner) {
                return Ok(None);
            }
        }
        let makespan = inner.sim.makespan();
        Ok((makespan < bound).then_some(makespan))
    }

    /// Sets the bound of a run that only matters if it ends before `bound` picoseconds: from now
    /// on, recording an op that would ask some resource for `bound` or more of stage time per
    /// slot — counting every op recorded since — fails with an error for which
    /// [`SchedError::is_bound`] holds (see [`kb_oplog::Engine::set_bound`]).
    pub fn set_bound(&self, bound: u64) {
        self.inner.borrow_mut().sim.set_bound(bound);
    }

    /// Drives the timing until `op` has ended; returns its end (the current time for a retired op).
    fn drive_to(&self, op: OpId) -> Result<u64, SchedError> {
        self.drive_until_any(&[op])?;
        let inner = self.inner.borrow();
        Ok(inner.sim.times(op).map_or(inner.sim.now(), |t| t.end))
    }

    /// Drives the timing until one of `ops` has ended (with no ops: until a wave has been
    /// recorded, or nothing is left to drive), recording the next wave of each batch still being
    /// recorded ([`Runtime::defer`]) as soon as its alarm rings. Returns whether waves remain.
    pub(crate) fn drive_until_any(&self, ops: &[OpId]) -> Result<bool, SchedError> {
        // The ops are looked at only when a watched one may have ended (see `Sim::watch`): a
        // thousand ranks waiting cost one flag per step.
        self.inner.borrow_mut().sim.watch(ops);
        let mut look = true;
        loop {
            let due = {
                let mut inner = self.inner.borrow_mut();
                look |= inner.sim.take_watch_rung();
                if look && ops.iter().any(|&op| inner.sim.is_done(op)) {
                    return Ok(!inner.waves.is_empty());
                }
                look = false;
                if inner.waves.is_empty() {
                    if ops.is_empty() {
                        return Ok(false);
                    }
                    inner.sim.run_until_any(ops)?;
                    return Ok(false);
                }
                if let Some(rung) = inner.sim.alarm_rung() {
                    let (due, rest): (Vec<PendingWave>, Vec<PendingWave>) =
                        std::mem::take(&mut inner.waves).into_iter().partition(|w| w.0 <= rung);
                    inner.waves = rest;
                    due
                } else if inner.sim.step() {
                    continue;
                } else {
                    // Nothing is left to time: the waves record the rest.
                    std::mem::take(&mut inner.waves)
                }
            };
            for PendingWave(_, mut wave) in due {
                if let Some(alarm) = wave(self)? {
                    self.inner.borrow_mut().waves.push(PendingWave(alarm, wave));
                }
            }
            let mut inner = self.inner.borrow_mut();
            inner.rearm_alarm();
            if ops.is_empty() {
                return Ok(!inner.waves.is_empty());
            }
        }
    }

    /// Registers the rest of a batch of ops recorded wave by wave: `wave` records the next wave
    /// as soon as an op recorded at or after sequence number `alarm` ([`Runtime::next_seq`] before
    /// the last wave) ends — before anything else happens at that instant — and returns the alarm
    /// for its own wave, until the batch is complete (`None`). Timing is then the same as
    /// recording the whole batch at once, provided every op of a wave depends on an op of the
    /// wave before (so none is ready before it is recorded), and the batch's ops are recorded
    /// under sequence numbers reserved up front ([`Runtime::reserve_seqs`]), so ops recorded
    /// meanwhile (another group's collective) do not jump ahead of its later waves in the queue
    /// of a shared resource; the alarm is then the reserved number of the wave's first op. Only
    /// for runtimes that keep no data:
    /// replay follows recording order, which a later wave would break.
    pub fn defer(&self, alarm: u64, wave: Wave) -> Result<(), SchedError> {
        let mut inner = self.inner.borrow_mut();
        if inner.sim.mode().data {
            return Err(SchedError::Invalid {
                op: "defer",
                reason: "a runtime that keeps data records every op at once (replay follows recording order)".into(),
            });
        }
        inner.waves.push(PendingWave(alarm, wave));
        inner.rearm_alarm();
        Ok(())
    }

    /// The sequence number the next op recorded gets (ops are numbered in recording order): the
    /// alarm of a wave about to be recorded ([`Runtime::defer`]).
    pub fn next_seq(&self) -> u64 {
        self.inner.borrow().sim.next_seq()
    }

    /// Records `op` as [`Runtime::record_op`] does, held back: it cannot start until
    /// [`Runtime::release_hold`] adds its last dependencies (the end of a batch recorded wave by
    /// wave, which later accesses of its tensors wait for).
    pub fn record_op_held(
        &self,
        op: impl Into<Op>,
        reads: &[&Tensor],
        writes: &[&Tensor],
        after: &[OpId],
    ) -> Result<OpId, SchedError> {
        self.record_touching(op.into(), reads, writes, after, true)
    }

    /// Lifts the hold of an op recorded with [`Runtime::record_op_held`], after adding `deps` to
    /// its dependencies. Exact as long as one of `deps` has not ended yet.
    pub fn release_hold(&self, op: OpId, deps: &[OpId]) -> Result<(), SchedError> {
        Ok(self.inner.borrow_mut().sim.release_hold(op, deps)?)
    }

    /// Writes a Chrome trace (Perfetto, chrome://tracing) of every op timed so far.
    pub fn write_trace(&self, path: &Path) -> Result<(), SchedError> {
        let file = std::fs::File::create(path)
            .map_err(|e| SchedError::Invalid { op: "write_trace", reason: format!("{}: {e}", path.display()) })?;
        self.inner.borrow().sim.write_trace(std::io::BufWriter::new(file))?;
        Ok(())
    }

    /// The op log as a table (see [`Sim::log_table`]).
    pub fn log_table(&self) -> String {
        self.inner.borrow().sim.log_table()
    }

    /// Runs `f` with read access to the simulation (op log, engine, machine). The simulation's
    /// memory store is reached only through tensor host reads.
    pub fn with_sim<R>(&self, f: impl FnOnce(&Sim) -> R) -> R {
        f(&self.inner.borrow().sim)
    }

    /// Records `op` for an upper layer (a collective's link transfers and reductions): it runs
    /// after `after` and after every earlier op whose access conflicts with this one's — a read of
    /// each tensor in `reads` (the whole view) waits for earlier writes to it; a write of each
    /// tensor in `writes` waits for earlier reads and writes. Later ops then see these accesses.
    ///
    /// The op's own regions are the caller's to name (normally the `region()` of those tensors);
    /// only the tensors given here take part in hazard tracking. Recording never reads or writes
    /// data: the bytes change when Phase 2 replays the op, and the host sees them only through the
    /// host-read barriers. Every tensor must belong to this runtime.
    pub fn record_op(
        &self,
        op: impl Into<Op>,
        reads: &[&Tensor],
        writes: &[&Tensor],
        after: &[OpId],
    ) -> Result<OpId, SchedError> {
        self.record_touching(op.into(), reads, writes, after, false)
    }

    /// [`Runtime::record_op`], held back when `held`.
    fn record_touching(
        &self,
        op: Op,
        reads: &[&Tensor],
        writes: &[&Tensor],
        after: &[OpId],
        held: bool,
    ) -> Result<OpId, SchedError> {
        if let Some(foreign) = reads.iter().chain(writes).find(|t| !Rc::ptr_eq(&t.runtime().inner, &self.inner)) {
            return Err(SchedError::Invalid {
                op: "record_op",
                reason: format!("a tensor on device {} belongs to another runtime", foreign.device()),
            });
        }
        let reads: Vec<Touch> = reads.iter().map(|t| t.touch()).collect();
        let writes: Vec<Touch> = writes.iter().map(|t| t.touch()).collect();
        self.inner.borrow_mut().record_maybe_held(op, &reads, &writes, after, held)
    }

    /// Records `op` after the ops `after` only, taking part in no tensor's hazard tracking: for a
    /// layer that orders its own ops (a collective's algorithm, between joins it records with
    /// [`Runtime::record_op`]). The op is copied only if the runtime keeps ops.
    pub fn record_after(&self, op: &Op, after: &[OpId]) -> Result<OpId, SchedError> {
        Ok(self.inner.borrow_mut().sim.record_ref(op, after)?)
    }

    /// Runs `f` with a [`Costed`] recorder: for a layer that records millions of ops of a few
    /// shapes (a collective on a thousand ranks), costs one op of each shape and records the
    /// others by their stages alone, taking part in no hazard tracking. The runtime is held for
    /// the whole of `f`, so recording an op costs no borrow of it; `f` must not use the runtime
    /// itself (a call on it inside `f` panics). Only a runtime that keeps no ops takes it (one
    /// that keeps them needs each op whole): it is an error otherwise.
    pub fn costed<R>(&self, f: impl FnOnce(&mut Costed<'_>) -> R) -> Result<R, SchedError> {
        let mut inner = self.inner.borrow_mut();
        if inner.sim.mode().keep_ops {
            return Err(kb_oplog::OpLogError::KeepsOps { what: "costed" }.into());
        }
        Ok(f(&mut Costed { sim: &mut inner.sim }))
    }

    /// As [`Runtime::record_after`], under a sequence number from [`Runtime::reserve_seqs`].
    pub fn record_reserved(&self, seq: u64, op: &Op, after: &[OpId]) -> Result<OpId, SchedError> {
        Ok(self.inner.borrow_mut().sim.record_reserved(seq, op, after)?)
    }

    /// Hands out `count` sequence numbers for ops recorded later (see
    /// [`kb_oplog::Engine::reserve_seqs`]): a batch recorded wave by wave ([`Runtime::defer`])
    /// reserves its numbers first, so that its ops compete with others as they would had it been
    /// recorded at once.
    pub fn reserve_seqs(&self, count: u64) -> u64 {
        self.inner.borrow_mut().sim.reserve_seqs(count)
    }

    /// Makes room for `additional` more ops (see [`kb_oplog::Sim::reserve`]): a caller about to
    /// record a large batch with [`Runtime::record_op`] says so first.
    pub fn reserve_ops(&self, additional: usize) {
        self.inner.borrow_mut().sim.reserve(additional);
    }

    /// Creates a tensor storage of `shape` × `dtype` in `device`'s HBM, with a row-major layout.
    pub(crate) fn alloc_tensor(&self, device: u32, shape: &[usize], dtype: DType) -> Result<Tensor, SchedError> {
        let bytes = kb_mem::Layout::byte_count(shape, dtype)? as u64;
        let layout = kb_mem::Layout::contiguous(shape)?;
        let id = {
            let mut inner = self.inner.borrow_mut();
            match inner.allocate(Space::Hbm { device }, bytes)? {
                Ok(id) => id,
                Err(kb_mem::MemError::OutOfMemory { requested, largest_free, free, capacity, .. }) => {
                    return Err(SchedError::HbmExhausted { device, requested, largest_free, free, capacity });
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Tensor::from_parts(crate::tensor::StorageHandle::new(self.clone(), id), device, dtype, layout))
    }
}

/// One device of a runtime: creates tensors in its HBM and launches kernels on its PEs.
#[derive(Debug, Clone)]
pub struct Device {
    pub(crate) rt: Runtime,
    pub(crate) index: u32,
}

impl Device {
    /// The device index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The runtime it belongs to.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Waits until every launch recorded so far on this device's streams has ended.
    pub fn synchronize(&self) -> Result<(), SchedError> {
        let lasts: Vec<OpId> =
            self.rt.inner.borrow().streams[self.index as usize].iter().filter_map(|s| s.last).collect();
        for op in lasts {
            self.rt.wait_op(op)?;
        }
        Ok(())
    }
}

/// A handle on recorded work (a launch): wait for it, or ask whether it has completed.
#[derive(Debug, Clone)]
pub struct Work {
    pub(crate) rt: Runtime,
    pub(crate) op: OpId,
}

impl Work {
    /// A handle on work ending with `op`, an op recorded on `rt` (usually a [`kb_oplog::OpKind::Join`]
    /// of the ops an upper layer recorded with [`Runtime::record_op`]).
    pub fn from_op(rt: &Runtime, op: OpId) -> Work {
        Work { rt: rt.clone(), op }
    }

    /// Waits (advances simulated time) until the work has completed; returns the time it ended,
    /// in picoseconds. Returns at once when it already has.
    pub fn wait(&self) -> Result<u64, SchedError> {
        if let Some(t) = self.rt.inner.borrow().sim.times(self.op) {
            return Ok(t.end);
        }
        self.rt.wait_op(self.op)
    }

    /// Whether the work has completed in simulated time (without advancing it).
    pub fn is_completed(&self) -> bool {
        self.rt.inner.borrow().sim.is_done(self.op)
    }

    /// The op marking the work's end, for users of the op log.
    pub fn op(&self) -> OpId {
        self.op
    }

    /// When the work ended, in picoseconds (`None` until it has completed).
    pub fn end_time(&self) -> Option<u64> {
        self.rt.inner.borrow().sim.times(self.op).map(|t| t.end)
    }
}
