//! The timing engine: a discrete-event simulation of ops competing for resources.
//!
//! Every resource (a PE's DMA engine, GEMM unit or vector unit; a device's HBM bandwidth or host
//! channel; a directed link) serves ops through a number of slots (1 for everything but HBM). An op
//! is a sequence of [`Stage`]s; a stage holds one or two resources for a fixed duration. An op
//! becomes *ready* when every op it depends on has ended; it then queues for the resources of its
//! first stage, acquiring them in ascending resource index (one global order, so holding one while
//! waiting for the next can never deadlock), runs for the stage's duration, releases them and moves
//! to its next stage. A resource with a free slot serves the waiting op with the lowest sequence
//! number (recording order, or a number reserved earlier with [`Engine::reserve_seqs`] for a batch
//! recorded wave by wave): every op has its own, so the simulation is deterministic.
//!
//! The engine is incremental. Ops are added at any time and become ready no earlier than the
//! engine's current time (an op recorded after the host observed time `t` cannot start before `t`).
//! [`Engine::run_until`] advances only as far as one op's completion; events at the same instant
//! are processed together, and resources are dispatched at the start of the next step, so ops
//! recorded at the current instant compete fairly with those already waiting.

use std::sync::Arc;

use slotmap::{Key, KeyData, SecondaryMap};

use crate::OpId;

mod queue;
mod radix;

use queue::Queues;
use radix::RadixHeap;

/// Index of a resource in the engine's resource table.
pub type ResourceIndex = u32;

const NONE: u32 = u32::MAX;

/// A resource as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    /// A name for traces and reports ("device 0 PE 3 dma", "link 0→1").
    pub name: String,
    /// How many stages it serves at once (the engine takes at least 1 and at most 65,535).
    pub slots: u32,
}

/// One step of an op: the resources it holds (one or two) and for how long, in picoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    resources: [u32; 2],
    duration: u64,
}

impl Stage {
    /// A stage holding one resource.
    pub fn one(resource: ResourceIndex, duration: u64) -> Stage {
        Stage { resources: [resource, NONE], duration }
    }

    /// A stage holding two resources at once (acquired in ascending index order).
    pub fn two(a: ResourceIndex, b: ResourceIndex, duration: u64) -> Stage {
        if a == b {
            return Stage::one(a, duration);
        }
        Stage { resources: [a.min(b), a.max(b)], duration }
    }

    /// The same stage with another duration.
    pub fn with_duration(self, duration: u64) -> Stage {
        Stage { duration, ..self }
    }

    /// The resources held, in acquisition order.
    pub fn resources(&self) -> impl Iterator<Item = ResourceIndex> + '_ {
        self.resources.iter().copied().filter(|&r| r != NONE)
    }

    /// How long the stage runs once it holds its resources, in picoseconds.
    pub fn duration(&self) -> u64 {
        self.duration
    }
}

/// The stages of an op. Most ops have one, so it is stored inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stages {
    /// No stages: the op completes as soon as it is ready (a join).
    None,
    /// One stage.
    One(Stage),
    /// Several stages, run one after the other (a multi-hop transfer). Shared: the many slices
    /// of a message on one route hold one list.
    Many(Arc<[Stage]>),
}

impl Stages {
    /// Builds the compact form of a list of stages.
    pub fn from_vec(mut stages: Vec<Stage>) -> Stages {
        match stages.len() {
            0 => Stages::None,
            1 => Stages::One(stages.pop().expect("one stage")),
            _ => Stages::Many(stages.into()),
        }
    }

    /// The stages as a slice.
    pub fn as_slice(&self) -> &[Stage] {
        match self {
            Stages::None => &[],
            Stages::One(s) => std::slice::from_ref(s),
            Stages::Many(s) => s,
        }
    }

    /// The sum of the stage durations: the op's time when nothing contends.
    pub fn total_duration(&self) -> u64 {
        self.as_slice().iter().map(|s| s.duration).sum()
    }
}

/// Where an op is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    /// Some dependency has not ended yet.
    Blocked,
    /// Ready, waiting for or holding resources, or running a stage.
    Active,
    /// Ended.
    Done,
}

/// The simulated times of an op, in picoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OpTimes {
    /// When its last dependency ended (or when it was recorded, if later).
    pub ready: u64,
    /// When its first stage started (it held all of that stage's resources).
    pub start: u64,
    /// When its last stage ended.
    pub end: u64,
}

/// The engine could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A dependency that this engine never minted (or that was retired while still unknown).
    #[error("dependency {dep:?} is not an op of this engine")]
    UnknownDependency {
        /// The dependency given.
        dep: OpId,
    },
    /// A stage names a resource index beyond the resource table.
    #[error("stage names resource {resource}, but the engine has {count} resources")]
    UnknownResource {
        /// The index given.
        resource: ResourceIndex,
        /// The number of resources.
        count: usize,
    },
    /// [`Engine::release_hold`] on an op that is not held (never held, or already released).
    #[error("op {op:?} is not held")]
    NotHeld {
        /// The op given.
        op: OpId,
    },
    /// [`Engine::add_reserved`] with a sequence number that [`Engine::reserve_seqs`] never handed
    /// out.
    #[error("sequence number {seq} was not reserved (the next free one is {next})")]
    SeqNotReserved {
        /// The sequence number given.
        seq: u64,
        /// The next sequence number not yet handed out.
        next: u64,
    },
    /// Adding the op would ask a resource for at least the engine's bound of work per slot
    /// ([`Engine::set_bound`]): the ops could not all end before the bound, whatever the order.
    #[error("resource {resource} would be asked for {demand} ps of work per slot, reaching the bound of {bound} ps")]
    Bound {
        /// The resource.
        resource: ResourceIndex,
        /// The stage time per slot it would be asked for, in picoseconds.
        demand: u64,
        /// The bound, in picoseconds.
        bound: u64,
    },
    /// Nothing is left to simulate, yet the op has not completed.
    #[error("op {op:?} cannot complete: no event is pending at {now} ps")]
    Stalled {
        /// The op waited for.
        op: OpId,
        /// The simulated time when the engine ran dry.
        now: u64,
    },
}

/// An op's stages, packed into one [`Stage`]: a single stage as itself; no stage as
/// `[NONE, NONE]`; several as `[NONE, i]`, `i` indexing the engine's table of multi-stage lists.
/// (A real stage's first resource is never `NONE`: resource indices are checked against the table.)
const NO_STAGES: Stage = Stage { resources: [NONE, NONE], duration: 0 };

impl Stage {
    /// The list index of packed multi-stage stages.
    fn many(&self) -> Option<usize> {
        (self.resources[0] == NONE && self.resources[1] != NONE).then_some(self.resources[1] as usize)
    }
}

/// The stages of packed `st`, given the engine's table of multi-stage lists.
fn unpack<'a>(st: &'a Stage, many: &'a [Arc<[Stage]>]) -> &'a [Stage] {
    if st.resources[0] != NONE {
        std::slice::from_ref(st)
    } else if st.resources[1] == NONE {
        &[]
    } else {
        &many[st.resources[1] as usize]
    }
}

/// Stage `i` of packed `st` (see [`unpack`]), if it has one: read in place when the op has one
/// stage, as most do.
#[inline(always)]
fn stage_at(st: &Stage, many: &[Arc<[Stage]>], i: usize) -> Option<Stage> {
    if st.resources[0] != NONE { (i == 0).then_some(*st) } else { unpack(st, many).get(i).copied() }
}

/// An op's record: every field the event loop touches for one op, in one cache line, so an op's
/// step costs one cache miss, not one per field array.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Hot {
    seq: u64,
    ready: u64,
    /// When its first stage started.
    start: u64,
    /// The stages, packed (see [`NO_STAGES`]).
    stages: Stage,
    /// Dependencies that have not ended.
    pending: u32,
    /// The most recently added successor's slot (`NONE` if none), kept inline because most ops
    /// have one successor.
    succ: u32,
    /// Head of the list of the other successors in the edge pool, most recent first.
    more: u32,
    /// The version of the id held in this slot (odd); a retired slot's is bumped, so ids of ops
    /// that were retired from it no longer match.
    version: u32,
    /// The stage being acquired or run.
    stage: u16,
    /// Resources of the current stage acquired so far.
    held: u8,
    state: OpState,
    /// Whether ending raises the watch flag ([`Engine::watch`]).
    watched: bool,
}

// One record per cache line.
const _: () = assert!(std::mem::size_of::<Hot>() == 64);

#[derive(Debug, Clone, Copy)]
struct Edge {
    /// The successor's slot.
    to: u32,
    next: u32,
}

/// The discrete-event timing engine. See the module documentation.
///
/// Op records sit in dense slots, one cache-line record per op holding every field the event loop
/// touches (an op's step costs one cache miss, not one per field). An op's id is the `slotmap` key
/// made of its slot and the slot's version, so looking an id up is one comparison. A
/// non-retaining engine recycles the slot of an ended op and bumps its version.
#[derive(Debug)]
pub struct Engine {
    hot: Vec<Hot>,
    /// End times, per slot (kept only when ops are retained).
    ends: Vec<u64>,
    /// The version a never-used slot starts at; moved on by [`Engine::clear`], so ids minted
    /// before a clear do not name the ops recorded after it.
    first_version: u32,
    /// The stage lists of multi-stage ops, indexed from their packed stages.
    many: Vec<Arc<[Stage]>>,
    /// Entries of `many` free for reuse.
    free_many: Vec<u32>,
    /// The first slot free for reuse (`NONE` if none): a free slot's `succ` names the next, so
    /// freeing and reusing a slot touch only its own record.
    free_slot: u32,
    /// Slots free for reuse.
    free_count: usize,
    edges: Vec<Edge>,
    free_edge: u32,
    resources: Vec<ResourceSpec>,
    /// Each resource's busy slots, waiting ops and service, and the resources to dispatch.
    queues: Queues,
    /// Stage ends by time. The order of events at one instant does not matter: they are all
    /// processed before any resource is dispatched, and dispatch orders by sequence number.
    events: RadixHeap<u32>,
    /// Joins whose dependencies just ended, to be ended in turn (a worklist, so long chains of
    /// joins do not recurse).
    joins: Vec<u32>,
    now: u64,
    next_seq: u64,
    /// Ops added so far.
    added: u64,
    makespan: u64,
    done: u64,
    retain: bool,
    /// Start time of every stage of each multi-stage op (kept only when ops are retained).
    stage_starts: SecondaryMap<OpId, Vec<u64>>,
    /// Ops with a sequence number at least this one ring the alarm when they end
    /// ([`Engine::set_alarm`]); `u64::MAX` when none is set.
    alarm: u64,
    /// The largest sequence number, at least `alarm`, of an op that has ended since the alarm was
    /// set.
    rung: Option<u64>,
    /// Whether a watched op has ended since the flag was last taken ([`Engine::watch`]).
    watch_rung: bool,
    /// The bound set by [`Engine::set_bound`] (`u64::MAX`: none).
    bound: u64,
    /// Per resource, the stage time the ops added so far ask of it (kept while a bound is set).
    demand: Vec<u128>,
}

/// The id of the op in `slot` at `version`.
fn mint(slot: u32, version: u32) -> OpId {
    KeyData::from_ffi((u64::from(version) << 32) | u64::from(slot)).into()
}

/// The slot of `op` among `hot`, if it still holds the op: the one place an id is looked up.
#[inline(always)]
fn slot_of(hot: &[Hot], op: OpId) -> Option<usize> {
    let (slot, version) = decode(op);
    hot.get(slot).filter(|h| h.version == version).map(|_| slot)
}

/// The record of `op` among `hot`, if it still holds the op ([`slot_of`]).
#[inline(always)]
fn record_mut(hot: &mut [Hot], op: OpId) -> Option<&mut Hot> {
    slot_of(hot, op).map(|s| at_mut(hot, s))
}

/// The record in slot `i`, which the engine holds: every slot it keeps (in its queues, events,
/// successor lists and free list) indexes a record, since records are only removed by
/// [`Engine::clear`], which empties all of those too.
#[inline(always)]
fn at_mut(hot: &mut [Hot], i: usize) -> &mut Hot {
    debug_assert!(i < hot.len(), "slot {i} of {}", hot.len());
    // SAFETY: `i` is a slot the engine holds (see above).
    unsafe { hot.get_unchecked_mut(i) }
}

/// As [`at_mut`], shared.
#[inline(always)]
fn at(hot: &[Hot], i: usize) -> &Hot {
    debug_assert!(i < hot.len(), "slot {i} of {}", hot.len());
    // SAFETY: as `at_mut`.
    unsafe { hot.get_unchecked(i) }
}

/// The slot and version an id names.
fn decode(op: OpId) -> (usize, u32) {
    let v = op.data().as_ffi();
    ((v & 0xffff_ffff) as usize, (v >> 32) as u32)
}

impl Engine {
    /// An engine over `resources`. With `retain` false, an op's record is dropped as soon as it
    /// ends (timing-only runs of huge programs); its id then reads as completed with unknown times.
    pub fn new(resources: Vec<ResourceSpec>, retain: bool) -> Engine {
        let resources: Vec<ResourceSpec> = resources
            .into_iter()
            .map(|spec| ResourceSpec { slots: spec.slots.clamp(1, queue::MAX_SLOTS), ..spec })
            .collect();
        let queues = Queues::new(resources.iter().map(|r| r.slots));
        Engine {
            hot: Vec::new(),
            ends: Vec::new(),
            first_version: 1,
            many: Vec::new(),
            free_many: Vec::new(),
            free_slot: NONE,
            free_count: 0,
            edges: Vec::new(),
            free_edge: NONE,
            resources,
            queues,
            events: RadixHeap::new(),
            joins: Vec::new(),
            now: 0,
            next_seq: 0,
            added: 0,
            makespan: 0,
            done: 0,
            retain,
            stage_starts: SecondaryMap::new(),
            alarm: u64::MAX,
            rung: None,
            watch_rung: false,
            bound: u64::MAX,
            demand: Vec::new(),
        }
    }

    /// The current simulated time, in picoseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The latest end of any op so far.
    pub fn makespan(&self) -> u64 {
        self.makespan
    }

    /// Ops added so far.
    pub fn ops_added(&self) -> u64 {
        self.added
    }

    /// Ops ended so far.
    pub fn ops_done(&self) -> u64 {
        self.done
    }

    /// Op records held now (all ops when retaining; the ops not yet ended otherwise).
    pub fn ops_held(&self) -> usize {
        self.hot.len() - self.free_count
    }

    /// The resource table.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = &ResourceSpec> + '_ {
        self.resources.iter()
    }

    /// Picoseconds of stage time resource `r` has served (summed over its slots).
    pub fn busy_time(&self, r: ResourceIndex) -> u64 {
        self.queues.served(r).unwrap_or(0)
    }

    /// Forgets every op and resets the clock to 0, keeping the resource table and the memory
    /// already allocated (so a long sweep of simulations does not pay for fresh pages each time).
    /// Ids minted before the clear name no op after it.
    pub fn clear(&mut self) {
        // A slot's version only grows until a clear: the highest now is the highest ever.
        let top = self.hot.iter().map(|h| h.version).fold(self.first_version, u32::max);
        self.first_version = top.wrapping_add(2) | 1;
        self.hot.clear();
        self.ends.clear();
        self.many.clear();
        self.free_many.clear();
        self.free_slot = NONE;
        self.free_count = 0;
        self.edges.clear();
        self.free_edge = NONE;
        self.queues.clear();
        self.events = RadixHeap::new();
        self.joins.clear();
        self.now = 0;
        self.next_seq = 0;
        self.added = 0;
        self.makespan = 0;
        self.done = 0;
        self.stage_starts.clear();
        self.alarm = u64::MAX;
        self.rung = None;
        self.watch_rung = false;
        self.bound = u64::MAX;
        self.demand.clear();
    }

    /// Reserves room for `additional` more ops.
    pub fn reserve(&mut self, additional: usize) {
        self.hot.reserve(additional);
        if self.retain {
            self.ends.reserve(additional);
        }
        self.edges.reserve(additional);
    }

    /// Adds an op with its stages and dependencies and returns its id. It becomes ready when every
    /// dependency has ended, and never before the current time.
    pub fn add(&mut self, stages: Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        self.add_op(&stages, deps, false, None)
    }

    /// Hands out `count` consecutive sequence numbers, for ops added later with
    /// [`Engine::add_reserved`], and returns the first. Ops added in between get later numbers:
    /// a batch recorded wave by wave keeps, against other ops, the priority it would have had if
    /// every op of it had been added now.
    pub fn reserve_seqs(&mut self, count: u64) -> u64 {
        let first = self.next_seq;
        self.next_seq += count;
        first
    }

    /// Adds an op as [`Engine::add`] does, under a sequence number handed out by
    /// [`Engine::reserve_seqs`] (each to be used once): it competes for resources as an op added
    /// when the number was reserved would.
    pub fn add_reserved(&mut self, seq: u64, stages: Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        if seq >= self.next_seq {
            return Err(EngineError::SeqNotReserved { seq, next: self.next_seq });
        }
        self.add_op(&stages, deps, false, Some(seq))
    }

    /// Adds an op as [`Engine::add`] does, held back until [`Engine::release_hold`]: for an op
    /// whose last dependencies are recorded later (the end of a collective recorded wave by
    /// wave). It cannot start before the hold is lifted.
    pub fn add_held(&mut self, stages: Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        self.add_op(&stages, deps, true, None)
    }

    /// Lifts the hold of an op added with [`Engine::add_held`], after adding `deps` to its
    /// dependencies. Its ready time is the latest end of its dependencies — not the time of this
    /// call — so the op is exact as long as one of its dependencies has not ended yet (else it
    /// becomes ready now).
    pub fn release_hold(&mut self, op: OpId, deps: &[OpId]) -> Result<(), EngineError> {
        let Some(slot) = self.slot(op) else { return Err(EngineError::UnknownDependency { dep: op }) };
        if self.hot[slot].state != OpState::Blocked || self.hot[slot].pending == 0 {
            return Err(EngineError::NotHeld { op });
        }
        self.check_deps(deps)?;
        for &dep in deps {
            if self.add_edge(dep, slot as u32) {
                self.hot[slot].pending += 1;
            }
        }
        // The hold itself ended no dependency: the ready time stays its dependencies' latest end.
        self.hot[slot].pending -= 1;
        if self.hot[slot].pending == 0 {
            self.activate(slot as u32);
        }
        self.end_joins();
        Ok(())
    }

    /// In a retaining engine, every dependency must be an op it holds.
    fn check_deps(&self, deps: &[OpId]) -> Result<(), EngineError> {
        if self.retain
            && let Some(&dep) = deps.iter().find(|&&d| self.slot(d).is_none())
        {
            return Err(EngineError::UnknownDependency { dep });
        }
        Ok(())
    }

    /// Makes the op in `slot` a successor of `dep`; false when `dep` has already ended (or been
    /// retired), so it adds nothing to wait for.
    #[inline]
    fn add_edge(&mut self, dep: OpId, slot: u32) -> bool {
        // A dependency missing from a non-retaining engine has ended and been retired.
        let Some(d) = record_mut(&mut self.hot, dep) else { return false };
        if d.state == OpState::Done {
            return false;
        }
        if d.succ == NONE {
            d.succ = slot;
            return true;
        }
        // The inline successor moves to the head of the list: the list stays most recent first.
        let edge = Edge { to: std::mem::replace(&mut d.succ, slot), next: d.more };
        d.more = if self.free_edge != NONE {
            let e = self.free_edge;
            self.free_edge = self.edges[e as usize].next;
            self.edges[e as usize] = edge;
            e
        } else {
            self.edges.push(edge);
            (self.edges.len() - 1) as u32
        };
        true
    }

    /// The time of the next event (after granting what can be granted now), if any: how far the
    /// next [`Engine::step`] would advance the clock.
    pub fn next_event_time(&mut self) -> Option<u64> {
        self.dispatch();
        self.events.peek_key()
    }

    /// The sequence number the next op added will get (ops are numbered in the order they are
    /// added, from 0).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Sets the alarm: from now on, an op whose sequence number is at least `seq` rings it when it
    /// ends ([`Engine::alarm_rung`]). A caller recording a batch wave by wave sets it at its last
    /// wave's first op, and records the next wave as soon as it rings — before the instant that
    /// rang it dispatches anything, so the new ops compete as if they had been recorded earlier.
    pub fn set_alarm(&mut self, seq: u64) {
        self.alarm = seq;
        self.rung = None;
    }

    /// Clears the alarm: no op rings it until it is set again.
    pub fn clear_alarm(&mut self) {
        self.alarm = u64::MAX;
        self.rung = None;
    }

    /// Whether the alarm has rung since it was set: the largest sequence number (at least the
    /// alarm's) of an op that has ended since.
    pub fn alarm_rung(&self) -> Option<u64> {
        self.rung
    }

    /// Adds an op as [`Engine::add_reserved`] does, its stages borrowed: a caller that records
    /// many ops of one shape passes the same stages each time, and a single stage is copied in
    /// place (a multi-stage list is shared, not copied).
    #[inline(always)]
    pub fn add_reserved_ref(&mut self, seq: u64, stages: &Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        // The common case in a few compares, inline where ops are recorded by the million: one
        // stage of known resources, under a reserved number, in an engine that checks neither
        // dependencies (a retaining one) nor a bound. Everything else takes the general path.
        if let Stages::One(stage) = stages
            && seq < self.next_seq
            && !self.retain
            && self.bound == u64::MAX
            && self.known(stage).is_ok()
        {
            return Ok(self.add_packed(*stage, deps, false, Some(seq)));
        }
        self.add_reserved_checked(seq, stages, deps)
    }

    /// [`Engine::add_reserved_ref`], checking everything.
    #[inline(never)]
    fn add_reserved_checked(&mut self, seq: u64, stages: &Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        if seq >= self.next_seq {
            return Err(EngineError::SeqNotReserved { seq, next: self.next_seq });
        }
        self.add_op(stages, deps, false, Some(seq))
    }

    /// Adds an op as [`Engine::add`] does, its stages borrowed (see [`Engine::add_reserved_ref`]).
    pub fn add_ref(&mut self, stages: &Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        self.add_op(stages, deps, false, None)
    }

    /// Every adding path: checks the op, packs its stages and adds it.
    #[inline(always)]
    fn add_op(&mut self, stages: &Stages, deps: &[OpId], hold: bool, seq: Option<u64>) -> Result<OpId, EngineError> {
        self.admit(stages, deps)?;
        let packed = match stages {
            Stages::One(stage) => *stage,
            Stages::None => NO_STAGES,
            Stages::Many(list) => self.pack_many(list.clone()),
        };
        Ok(self.add_packed(packed, deps, hold, seq))
    }

    /// Checks an op before it is added: its resources are in the table, its dependencies are
    /// known (to a retaining engine), and it stays within the bound, if one is set.
    #[inline(always)]
    fn admit(&mut self, stages: &Stages, deps: &[OpId]) -> Result<(), EngineError> {
        match stages {
            Stages::One(stage) => self.known(stage)?,
            Stages::None => {}
            Stages::Many(list) => list.iter().try_for_each(|st| self.known(st))?,
        }
        self.check_deps(deps)?;
        if self.bound != u64::MAX {
            self.charge(stages.as_slice())?;
        }
        Ok(())
    }

    /// Adds an admitted op with its packed stages (see [`NO_STAGES`]).
    #[inline(always)]
    fn add_packed(&mut self, stages: Stage, deps: &[OpId], hold: bool, seq: Option<u64>) -> OpId {
        self.added += 1;
        let seq = match seq {
            Some(seq) => seq,
            None => {
                self.next_seq += 1;
                self.next_seq - 1
            }
        };
        let now = self.now;
        let (slot, version) = match self.free_slot {
            NONE => self.new_slot(),
            slot => {
                // A recycled slot keeps its version; its other fields are written below.
                let h = at_mut(&mut self.hot, slot as usize);
                self.free_slot = h.succ;
                self.free_count -= 1;
                (slot, h.version)
            }
        };
        let mut pending = u32::from(hold);
        for &dep in deps {
            pending += u32::from(self.add_edge(dep, slot));
        }
        // Written in place, field by field, once the dependencies are counted.
        let h = at_mut(&mut self.hot, slot as usize);
        h.seq = seq;
        h.ready = now;
        h.start = 0;
        h.stages = stages;
        h.pending = pending;
        h.succ = NONE;
        h.more = NONE;
        h.stage = 0;
        h.held = 0;
        h.state = OpState::Blocked;
        h.watched = false;
        if pending == 0 {
            ready(h, slot, &self.many, &mut self.queues, &mut self.joins);
            if !self.joins.is_empty() {
                self.end_joins();
            }
        }
        mint(slot, version)
    }

    /// A fresh slot and its version; the caller writes its record. Out of line, so the adding
    /// path keeps no 64-byte record on its stack (an engine that retains no ops mostly recycles
    /// slots).
    #[inline(never)]
    fn new_slot(&mut self) -> (u32, u32) {
        let version = self.first_version;
        self.hot.push(Hot {
            seq: 0,
            ready: 0,
            start: 0,
            stages: NO_STAGES,
            pending: 0,
            succ: NONE,
            more: NONE,
            version,
            stage: 0,
            held: 0,
            state: OpState::Blocked,
            watched: false,
        });
        if self.retain {
            self.ends.push(0);
        }
        ((self.hot.len() - 1) as u32, version)
    }

    /// Sets a bound, in picoseconds, for a run that only matters if it ends before it (an
    /// algorithm's dry run, once another has ended at the bound): from now on, adding an op that
    /// would ask some resource for `bound` or more picoseconds of stage time per slot — counting
    /// every op added since the bound was set — fails with [`EngineError::Bound`] and adds
    /// nothing. From an idle start, such ops could not all end before the bound.
    pub fn set_bound(&mut self, bound: u64) {
        self.bound = bound;
        self.demand.clear();
        if bound != u64::MAX {
            self.demand.resize(self.resources.len(), 0);
        }
    }

    /// Counts `stages` against the bound; refuses them, counting nothing, if a resource's work
    /// per slot would reach it.
    #[inline(never)]
    fn charge(&mut self, stages: &[Stage]) -> Result<(), EngineError> {
        let each = |stages: &[Stage], demand: &mut [u128], add: bool| {
            for stage in stages {
                for r in stage.resources() {
                    let d = &mut demand[r as usize];
                    *d = if add { *d + u128::from(stage.duration) } else { *d - u128::from(stage.duration) };
                }
            }
        };
        each(stages, &mut self.demand, true);
        let per_slot = |r: ResourceIndex| self.demand[r as usize] / u128::from(self.resources[r as usize].slots);
        let over = stages.iter().flat_map(Stage::resources).find(|&r| per_slot(r) >= u128::from(self.bound));
        if let Some(resource) = over {
            let demand = u64::try_from(per_slot(resource)).unwrap_or(u64::MAX);
            each(stages, &mut self.demand, false);
            return Err(EngineError::Bound { resource, demand, bound: self.bound });
        }
        Ok(())
    }

    /// Checks that `stage`'s resources are in the table.
    #[inline(always)]
    fn known(&self, stage: &Stage) -> Result<(), EngineError> {
        let count = self.resources.len();
        let [a, b] = stage.resources;
        // `b` is `NONE` or below `count` exactly when `b + 1`, wrapping, is at most `count`.
        if (a as usize) < count && (b.wrapping_add(1) as usize) <= count {
            return Ok(());
        }
        let resource = if (a as usize) >= count { a } else { b };
        Err(EngineError::UnknownResource { resource, count })
    }

    /// Files the stages of a multi-stage op; returns them packed (see [`NO_STAGES`]).
    #[cold]
    fn pack_many(&mut self, list: Arc<[Stage]>) -> Stage {
        if list.is_empty() {
            return NO_STAGES;
        }
        let i = match self.free_many.pop() {
            Some(i) => {
                self.many[i as usize] = list;
                i
            }
            None => {
                self.many.push(list);
                (self.many.len() - 1) as u32
            }
        };
        Stage { resources: [NONE, i], duration: 0 }
    }

    /// The slot of `op`, if the engine holds it.
    #[inline]
    fn slot(&self, op: OpId) -> Option<usize> {
        slot_of(&self.hot, op)
    }

    /// Whether `op` has ended. An id retired by a non-retaining engine reads as ended.
    #[inline]
    pub fn is_done(&self, op: OpId) -> bool {
        self.slot(op).is_none_or(|s| at(&self.hot, s).state == OpState::Done)
    }

    /// The state of `op`, if the engine still holds it.
    pub fn state(&self, op: OpId) -> Option<OpState> {
        self.slot(op).map(|s| self.hot[s].state)
    }

    /// The times of an op that has ended (and is still held).
    pub fn times(&self, op: OpId) -> Option<OpTimes> {
        let s = self.slot(op)?;
        let h = &self.hot[s];
        (h.state == OpState::Done).then(|| OpTimes { ready: h.ready, start: h.start, end: self.ends[s] })
    }

    /// The stages of an op still held.
    pub fn stages(&self, op: OpId) -> Option<&[Stage]> {
        self.slot(op).map(|s| unpack(&self.hot[s].stages, &self.many))
    }

    /// When each stage of an ended multi-stage op started (`None` for single-stage ops, or when ops
    /// are not retained).
    pub fn stage_starts(&self, op: OpId) -> Option<&[u64]> {
        self.stage_starts.get(op).map(Vec::as_slice)
    }

    /// The recording sequence number of an op still held.
    pub fn seq(&self, op: OpId) -> Option<u64> {
        self.slot(op).map(|s| self.hot[s].seq)
    }

    /// Advances until `op` has ended and returns its end time (the current time for a retired op).
    pub fn run_until(&mut self, op: OpId) -> Result<u64, EngineError> {
        loop {
            match self.slot(op) {
                None if !self.retain => return Ok(self.now),
                None => return Err(EngineError::UnknownDependency { dep: op }),
                Some(s) if self.hot[s].state == OpState::Done => return Ok(self.ends[s]),
                Some(_) => {}
            }
            if !self.step() {
                return Err(EngineError::Stalled { op, now: self.now });
            }
        }
    }

    /// Advances until at least one of `ops` has ended; returns the current time then. An empty
    /// list returns at once. The ops are watched ([`Engine::watch`]), so each step checks one flag,
    /// not every op: a thousand ranks waiting cost nothing per step.
    pub fn run_until_any(&mut self, ops: &[OpId]) -> Result<u64, EngineError> {
        if ops.is_empty() || ops.iter().any(|&op| self.is_done(op)) {
            return Ok(self.now);
        }
        self.watch(ops);
        loop {
            if !self.step() {
                return Err(EngineError::Stalled { op: ops[0], now: self.now });
            }
            if self.take_watch_rung() && ops.iter().any(|&op| self.is_done(op)) {
                return Ok(self.now);
            }
        }
    }

    /// Watches `ops`: when one that has not ended yet ends, it raises a flag that
    /// [`Engine::take_watch_rung`] reads, so a caller waiting on many ops looks at them only after
    /// one of them may have ended. An op stays watched until it ends.
    pub fn watch(&mut self, ops: &[OpId]) {
        for &op in ops {
            if let Some(h) = record_mut(&mut self.hot, op) {
                h.watched = true;
            }
        }
    }

    /// Whether a watched op has ended since the last call; clears the flag.
    pub fn take_watch_rung(&mut self) -> bool {
        std::mem::take(&mut self.watch_rung)
    }

    /// Advances until nothing is left to do and returns the makespan.
    pub fn run_all(&mut self) -> u64 {
        while self.step() {}
        self.makespan
    }

    /// Dispatches waiting ops, then processes every event of the next instant. Returns false when
    /// there was nothing left to process.
    pub fn step(&mut self) -> bool {
        self.dispatch();
        let Some(t) = self.events.peek_key() else { return false };
        self.now = t;
        // Events at `t` sit in the heap's current bucket; ending them may add more at `t` (a
        // zero-length stage), which land there too.
        while let Some(slot) = self.events.pop_current() {
            self.stage_end(slot);
        }
        true
    }

    /// Grants free slots to waiting ops, lowest resource index first, lowest sequence number first.
    ///
    /// A grant can only add a waiter to a resource of higher index (stages acquire in ascending
    /// order), so taking the lowest dirty resource until none is left is one ascending sweep. It
    /// goes a word of 64 resources at a time, each taken by a bit scan.
    fn dispatch(&mut self) {
        while let Some((w, mut bits)) = self.queues.next_dirty_word() {
            while bits != 0 {
                let r = w * 64 + bits.trailing_zeros();
                bits &= bits - 1;
                // A grant can add a waiter only to a resource of higher index, never to `r`.
                while let Some((slot, more)) = self.queues.grant(r) {
                    self.acquired(slot);
                    if !more {
                        break;
                    }
                }
                // Resources of this word the grants marked (all above `r`).
                bits |= self.queues.dirty_since(w);
            }
        }
    }

    /// The op in `slot` got one more resource of its current stage: it queues for the next one, or
    /// starts the stage.
    #[inline]
    fn acquired(&mut self, slot: u32) {
        let hot = at_mut(&mut self.hot, slot as usize);
        if hot.stages.resources[0] != NONE {
            // A single stage (packed in place): with the first of two resources it queues for
            // the second; with all it needs, it starts. (A path of its own: folding it into the
            // general one costs the 1024-rank ring 1% more instructions.)
            let stage = hot.stages;
            if stage.resources[1] != NONE && hot.held == 0 {
                hot.held = 1;
                let seq = hot.seq;
                self.queues.wait(stage.resources[1], seq, slot);
                return;
            }
            let now = self.now;
            hot.start = now;
            let succ = hot.succ;
            if succ != NONE {
                prefetch(at(&self.hot, succ as usize));
            }
            self.events.push(now + stage.duration, slot);
            return;
        }
        hot.held += 1;
        let stage =
            stage_at(&hot.stages, &self.many, hot.stage as usize).expect("an op acquires for one of its stages");
        // A stage holds one or two resources; with the first, it queues for the second.
        if hot.held == 1 && stage.resources[1] != NONE {
            let seq = hot.seq;
            self.queues.wait(stage.resources[1], seq, slot);
            return;
        }
        let now = self.now;
        if hot.stage == 0 {
            hot.start = now;
        }
        let succ = hot.succ;
        if self.retain && hot.stages.many().is_some() {
            self.stage_started(slot);
        }
        if succ != NONE {
            prefetch(at(&self.hot, succ as usize));
        }
        self.events.push(now + stage.duration, slot);
    }

    /// Notes when a stage of the multi-stage op in `slot` started (a retaining engine's).
    #[cold]
    fn stage_started(&mut self, slot: u32) {
        let id = mint(slot, self.hot[slot as usize].version);
        match self.stage_starts.get_mut(id) {
            Some(starts) => starts.push(self.now),
            None => {
                self.stage_starts.insert(id, vec![self.now]);
            }
        }
    }

    /// A stage of the op in `slot` ended: it frees its resources and queues for its next stage, or
    /// the op ends.
    #[inline]
    fn stage_end(&mut self, slot: u32) {
        let hot = at_mut(&mut self.hot, slot as usize);
        if hot.stages.resources[0] != NONE {
            // A single stage (packed in place, as most ops have): the op ends. (A path of its
            // own: folding it into the general one costs the 1024-rank ring 0.75% more
            // instructions.)
            let stage = hot.stages;
            self.queues.release_stage(&stage);
            self.end(slot);
            return;
        }
        let i = hot.stage as usize;
        let stage = unpack(&hot.stages, &self.many)[i];
        let next = stage_at(&hot.stages, &self.many, i + 1).map(|st| st.resources[0]);
        hot.stage += 1;
        hot.held = 0;
        let seq = hot.seq;
        self.queues.release_stage(&stage);
        match next {
            Some(r) => self.queues.wait(r, seq, slot),
            None => self.end(slot),
        }
    }

    /// The op in `slot` ends now, and so do the joins that were waiting only for it.
    #[inline(always)]
    fn end(&mut self, slot: u32) {
        self.finish(slot);
        if !self.joins.is_empty() {
            self.end_joins();
        }
    }

    /// Ends the op in `slot` at the current time and releases its successors.
    #[inline(always)]
    fn finish(&mut self, slot: u32) {
        let now = self.now;
        let s = slot as usize;
        let hot = at_mut(&mut self.hot, s);
        hot.state = OpState::Done;
        self.watch_rung |= hot.watched;
        if hot.seq >= self.alarm {
            self.rung = Some(self.rung.map_or(hot.seq, |r| r.max(hot.seq)));
        }
        let first = std::mem::replace(&mut hot.succ, NONE);
        let mut e = std::mem::replace(&mut hot.more, NONE);
        // The clock never goes back: the op ending now ends last.
        self.makespan = now;
        self.done += 1;
        if self.retain {
            self.ends[s] = now;
        } else {
            hot.version = hot.version.wrapping_add(2);
            if let Some(i) = hot.stages.many() {
                self.many[i] = Arc::default();
                self.free_many.push(i as u32);
            }
            hot.succ = self.free_slot;
            self.free_slot = slot;
            self.free_count += 1;
        }
        if first != NONE {
            self.release(first, now);
        }
        while e != NONE {
            let Edge { to, next } = self.edges[e as usize];
            self.edges[e as usize].next = self.free_edge;
            self.free_edge = e;
            e = next;
            self.release(to, now);
        }
    }

    /// One dependency of the op in `slot` ended at `now`.
    #[inline(always)]
    fn release(&mut self, slot: u32, now: u64) {
        let succ = at_mut(&mut self.hot, slot as usize);
        succ.pending -= 1;
        // Its ready time so far is an earlier dependency's end, or when it was added: no later.
        succ.ready = now;
        if succ.pending == 0 {
            ready(succ, slot, &self.many, &mut self.queues, &mut self.joins);
        }
    }

    /// The op in `slot` is ready: it queues for its first resource, or, a join, goes on the
    /// worklist of joins to end.
    #[inline(always)]
    fn activate(&mut self, slot: u32) {
        ready(at_mut(&mut self.hot, slot as usize), slot, &self.many, &mut self.queues, &mut self.joins);
    }

    /// Ends every join on the worklist (which may add more).
    fn end_joins(&mut self) {
        while let Some(slot) = self.joins.pop() {
            // A join starts when it ends.
            at_mut(&mut self.hot, slot as usize).start = self.now;
            self.finish(slot);
        }
    }
}

/// The op `hot` (in `slot`) is ready ([`Engine::activate`]), given the engine's multi-stage lists,
/// queues and join worklist: a caller holding the op's record goes on without looking it up again.
#[inline(always)]
fn ready(hot: &mut Hot, slot: u32, many: &[Arc<[Stage]>], queues: &mut Queues, joins: &mut Vec<u32>) {
    hot.state = OpState::Active;
    match stage_at(&hot.stages, many, 0) {
        Some(st) => queues.wait(st.resources[0], hot.seq, slot),
        None => joins.push(slot),
    }
}

/// Asks the CPU to bring `hot` into cache: an op's successor is read when the op ends, which is
/// long after its record was last touched in a large log.
#[inline(always)]
fn prefetch(hot: &Hot) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, and the pointer comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(std::ptr::from_ref(hot).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = hot;
}

#[cfg(test)]
mod tests;
