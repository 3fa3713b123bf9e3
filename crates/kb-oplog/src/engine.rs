//! The timing engine: a discrete-event simulation of ops competing for resources.
//!
//! Every resource (a PE's DMA engine, GEMM unit or vector unit; a device's HBM bandwidth or host
//! channel; a directed link) serves ops through a number of slots (1 for everything but HBM). An op
//! is a sequence of [`Stage`]s; a stage holds one or two resources for a fixed duration. An op
//! becomes *ready* when every op it depends on has ended; it then queues for the resources of its
//! first stage, acquiring them in ascending resource index (one global order, so holding one while
//! waiting for the next can never deadlock), runs for the stage's duration, releases them and moves
//! to its next stage. A resource with a free slot serves the waiting op with the lowest sequence
//! number (recording order): ties break by op id, so the simulation is deterministic.
//!
//! The engine is incremental. Ops are added at any time and become ready no earlier than the
//! engine's current time (an op recorded after the host observed time `t` cannot start before `t`).
//! [`Engine::run_until`] advances only as far as one op's completion; events at the same instant
//! are processed together, and resources are dispatched at the start of the next step, so ops
//! recorded at the current instant compete fairly with those already waiting.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use slotmap::{SecondaryMap, SlotMap};

use crate::OpId;

mod radix;

use radix::RadixHeap;

/// Index of a resource in the engine's resource table.
pub type ResourceIndex = u32;

const NONE: u32 = u32::MAX;

/// A resource as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    /// A name for traces and reports ("device 0 PE 3 dma", "link 0→1").
    pub name: String,
    /// How many stages it serves at once (at least 1).
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

    fn count(&self) -> u8 {
        if self.resources[1] == NONE { 1 } else { 2 }
    }
}

/// The stages of an op. Most ops have one, so it is stored inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stages {
    /// No stages: the op completes as soon as it is ready (a join).
    None,
    /// One stage.
    One(Stage),
    /// Several stages, run one after the other (a multi-hop transfer).
    Many(Box<[Stage]>),
}

impl Stages {
    /// Builds the compact form of a list of stages.
    pub fn from_vec(mut stages: Vec<Stage>) -> Stages {
        match stages.len() {
            0 => Stages::None,
            1 => Stages::One(stages.pop().expect("one stage")),
            _ => Stages::Many(stages.into_boxed_slice()),
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
fn unpack<'a>(st: &'a Stage, many: &'a [Box<[Stage]>]) -> &'a [Stage] {
    if st.resources[0] != NONE {
        std::slice::from_ref(st)
    } else if st.resources[1] == NONE {
        &[]
    } else {
        &many[st.resources[1] as usize]
    }
}

/// An op's record: every field the event loop touches for one op, in one cache line, so an op's
/// step costs one cache miss, not one per field array.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Hot {
    seq: u64,
    ready: u64,
    /// Start and end times.
    times: [u64; 2],
    /// The stages, packed (see [`NO_STAGES`]).
    stages: Stage,
    /// Dependencies that have not ended.
    pending: u32,
    /// The most recently added successor's slot (`NONE` if none), kept inline because most ops
    /// have one successor.
    succ: u32,
    /// Head of the list of the other successors in the edge pool, most recent first.
    more: u32,
    /// The stage being acquired or run.
    stage: u16,
    /// Resources of the current stage acquired so far.
    held: u8,
    state: OpState,
}

// One record per cache line.
const _: () = assert!(std::mem::size_of::<Hot>() == 64);

#[derive(Debug, Clone, Copy)]
struct Edge {
    /// The successor's slot.
    to: u32,
    next: u32,
}

#[derive(Debug)]
struct Resource {
    spec: ResourceSpec,
    busy: u32,
    dirty: bool,
    /// Ops waiting for a slot: (sequence number, slot), lowest first.
    waiting: BinaryHeap<Reverse<(u64, u32)>>,
    busy_time: u64,
    stages_served: u64,
}

/// The discrete-event timing engine. See the module documentation.
///
/// Op records sit in dense slots, one cache-line record per op holding every field the event loop
/// touches (an op's step costs one cache miss, not one per field); the `slotmap` maps public ids to
/// slots. A non-retaining engine recycles the slot of an ended op.
#[derive(Debug)]
pub struct Engine {
    ids: SlotMap<OpId, u32>,
    /// Per slot: the id it holds.
    slot_id: Vec<OpId>,
    hot: Vec<Hot>,
    /// The stage lists of multi-stage ops, indexed from their packed stages.
    many: Vec<Box<[Stage]>>,
    /// Entries of `many` free for reuse.
    free_many: Vec<u32>,
    free_slots: Vec<u32>,
    edges: Vec<Edge>,
    free_edge: u32,
    resources: Vec<Resource>,
    /// Stage ends by time. The order of events at one instant does not matter: they are all
    /// processed before any resource is dispatched, and dispatch orders by sequence number.
    events: RadixHeap<u32>,
    /// Resources with a freed slot or a new waiter since the last dispatch, unordered.
    dirty: Vec<u32>,
    /// Scratch for dispatch, to keep its allocation.
    dirty_batch: Vec<u32>,
    /// Slots whose dependencies just ended, to be started (a worklist, so long chains of joins
    /// do not recurse).
    ready: Vec<u32>,
    now: u64,
    next_seq: u64,
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
}

impl Engine {
    /// An engine over `resources`. With `retain` false, an op's record is dropped as soon as it
    /// ends (timing-only runs of huge programs); its id then reads as completed with unknown times.
    pub fn new(resources: Vec<ResourceSpec>, retain: bool) -> Engine {
        let resources = resources
            .into_iter()
            .map(|spec| Resource {
                spec: ResourceSpec { slots: spec.slots.max(1), ..spec },
                busy: 0,
                dirty: false,
                waiting: BinaryHeap::new(),
                busy_time: 0,
                stages_served: 0,
            })
            .collect();
        Engine {
            ids: SlotMap::with_key(),
            slot_id: Vec::new(),
            hot: Vec::new(),
            many: Vec::new(),
            free_many: Vec::new(),
            free_slots: Vec::new(),
            edges: Vec::new(),
            free_edge: NONE,
            resources,
            events: RadixHeap::new(),
            dirty: Vec::new(),
            dirty_batch: Vec::new(),
            ready: Vec::new(),
            now: 0,
            next_seq: 0,
            makespan: 0,
            done: 0,
            retain,
            stage_starts: SecondaryMap::new(),
            alarm: u64::MAX,
            rung: None,
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
        self.next_seq
    }

    /// Ops ended so far.
    pub fn ops_done(&self) -> u64 {
        self.done
    }

    /// Op records held now (all ops when retaining; the ops not yet ended otherwise).
    pub fn ops_held(&self) -> usize {
        self.ids.len()
    }

    /// The resource table.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = &ResourceSpec> + '_ {
        self.resources.iter().map(|r| &r.spec)
    }

    /// Picoseconds of stage time resource `r` has served (summed over its slots).
    pub fn busy_time(&self, r: ResourceIndex) -> u64 {
        self.resources.get(r as usize).map_or(0, |r| r.busy_time)
    }

    /// Stages resource `r` has served.
    pub fn stages_served(&self, r: ResourceIndex) -> u64 {
        self.resources.get(r as usize).map_or(0, |r| r.stages_served)
    }

    /// Forgets every op and resets the clock to 0, keeping the resource table and the memory
    /// already allocated (so a long sweep of simulations does not pay for fresh pages each time).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.slot_id.clear();
        self.hot.clear();
        self.many.clear();
        self.free_many.clear();
        self.free_slots.clear();
        self.edges.clear();
        self.free_edge = NONE;
        for r in &mut self.resources {
            r.busy = 0;
            r.dirty = false;
            r.waiting.clear();
            r.busy_time = 0;
            r.stages_served = 0;
        }
        self.events = RadixHeap::new();
        self.dirty.clear();
        self.ready.clear();
        self.now = 0;
        self.next_seq = 0;
        self.makespan = 0;
        self.done = 0;
        self.stage_starts.clear();
        self.alarm = u64::MAX;
        self.rung = None;
    }

    /// Reserves room for `additional` more ops.
    pub fn reserve(&mut self, additional: usize) {
        self.ids.reserve(additional);
        self.slot_id.reserve(additional);
        self.hot.reserve(additional);
        self.edges.reserve(additional);
    }

    /// Adds an op with its stages and dependencies and returns its id. It becomes ready when every
    /// dependency has ended, and never before the current time.
    pub fn add(&mut self, stages: Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        self.add_op(stages, deps, false)
    }

    /// Adds an op as [`Engine::add`] does, held back until [`Engine::release_hold`]: for an op
    /// whose last dependencies are recorded later (the end of a collective recorded wave by
    /// wave). It cannot start before the hold is lifted.
    pub fn add_held(&mut self, stages: Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        self.add_op(stages, deps, true)
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
        for &dep in deps {
            if self.retain && !self.ids.contains_key(dep) {
                return Err(EngineError::UnknownDependency { dep });
            }
            if self.add_edge(dep, slot as u32) {
                self.hot[slot].pending += 1;
            }
        }
        self.release(slot as u32, 0);
        self.start_ready();
        Ok(())
    }

    /// Makes the op in `slot` a successor of `dep`; false when `dep` has already ended (or been
    /// retired), so it adds nothing to wait for.
    fn add_edge(&mut self, dep: OpId, slot: u32) -> bool {
        // A dependency missing from a non-retaining engine has ended and been retired.
        let Some(&d) = self.ids.get(dep) else { return false };
        let d = &mut self.hot[d as usize];
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

    fn add_op(&mut self, stages: Stages, deps: &[OpId], hold: bool) -> Result<OpId, EngineError> {
        for stage in stages.as_slice() {
            if let Some(r) = stage.resources().find(|&r| r as usize >= self.resources.len()) {
                return Err(EngineError::UnknownResource { resource: r, count: self.resources.len() });
            }
        }
        for &dep in deps {
            if self.retain && !self.ids.contains_key(dep) {
                return Err(EngineError::UnknownDependency { dep });
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let stages = match stages {
            Stages::None => NO_STAGES,
            Stages::Many(list) if list.is_empty() => NO_STAGES,
            Stages::One(stage) => stage,
            Stages::Many(list) => {
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
        };
        let hot = Hot {
            seq,
            ready: self.now,
            times: [0, 0],
            stages,
            pending: 0,
            succ: NONE,
            more: NONE,
            stage: 0,
            held: 0,
            state: OpState::Blocked,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.hot[slot as usize] = hot;
                slot
            }
            None => {
                self.hot.push(hot);
                self.slot_id.push(OpId::default());
                (self.hot.len() - 1) as u32
            }
        };
        let id = self.ids.insert(slot);
        self.slot_id[slot as usize] = id;
        let mut pending = u32::from(hold);
        for &dep in deps {
            if self.add_edge(dep, slot) {
                pending += 1;
            }
        }
        self.hot[slot as usize].pending = pending;
        if pending == 0 {
            self.ready.push(slot);
            self.start_ready();
        }
        Ok(id)
    }

    fn slot(&self, op: OpId) -> Option<usize> {
        self.ids.get(op).map(|&s| s as usize)
    }

    /// Whether `op` has ended. An id retired by a non-retaining engine reads as ended.
    pub fn is_done(&self, op: OpId) -> bool {
        self.slot(op).is_none_or(|s| self.hot[s].state == OpState::Done)
    }

    /// The state of `op`, if the engine still holds it.
    pub fn state(&self, op: OpId) -> Option<OpState> {
        self.slot(op).map(|s| self.hot[s].state)
    }

    /// The times of an op that has ended (and is still held).
    pub fn times(&self, op: OpId) -> Option<OpTimes> {
        let s = self.slot(op)?;
        let h = &self.hot[s];
        let [start, end] = h.times;
        (h.state == OpState::Done).then_some(OpTimes { ready: h.ready, start, end })
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
                Some(s) if self.hot[s].state == OpState::Done => return Ok(self.hot[s].times[1]),
                Some(_) => {}
            }
            if !self.step() {
                return Err(EngineError::Stalled { op, now: self.now });
            }
        }
    }

    /// Advances until at least one of `ops` has ended; returns the current time then. An empty
    /// list returns at once.
    pub fn run_until_any(&mut self, ops: &[OpId]) -> Result<u64, EngineError> {
        while !ops.is_empty() && !ops.iter().any(|&op| self.is_done(op)) {
            if !self.step() {
                return Err(EngineError::Stalled { op: ops[0], now: self.now });
            }
        }
        Ok(self.now)
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

    fn mark_dirty(&mut self, r: u32) {
        let res = &mut self.resources[r as usize];
        if !res.dirty {
            res.dirty = true;
            self.dirty.push(r);
        }
    }

    /// Grants free slots to waiting ops, lowest resource index first, lowest sequence number first.
    ///
    /// A grant can only add a waiter to a resource of higher index (stages acquire in ascending
    /// order), so serving each batch of dirty resources in ascending order, then the resources the
    /// batch dirtied, grants exactly what one global ascending sweep would.
    fn dispatch(&mut self) {
        while !self.dirty.is_empty() {
            let mut batch = std::mem::take(&mut self.dirty_batch);
            std::mem::swap(&mut batch, &mut self.dirty);
            batch.sort_unstable();
            for &r in &batch {
                self.resources[r as usize].dirty = false;
                loop {
                    let res = &mut self.resources[r as usize];
                    if res.busy >= res.spec.slots {
                        break;
                    }
                    let Some(Reverse((_, slot))) = res.waiting.pop() else { break };
                    res.busy += 1;
                    self.acquired(slot);
                }
            }
            batch.clear();
            self.dirty_batch = batch;
        }
    }

    fn acquired(&mut self, slot: u32) {
        let now = self.now;
        let s = slot as usize;
        let hot = &mut self.hot[s];
        hot.held += 1;
        let stage_index = hot.stage as usize;
        let stage = unpack(&hot.stages, &self.many)[stage_index];
        if hot.held < stage.count() {
            let next = stage.resources[hot.held as usize];
            let seq = hot.seq;
            self.resources[next as usize].waiting.push(Reverse((seq, slot)));
            self.mark_dirty(next);
            return;
        }
        if stage_index == 0 {
            hot.times[0] = now;
        }
        if self.retain && hot.stages.many().is_some() {
            let id = self.slot_id[s];
            match self.stage_starts.get_mut(id) {
                Some(starts) => starts.push(now),
                None => {
                    self.stage_starts.insert(id, vec![now]);
                }
            }
        }
        for r in stage.resources() {
            let res = &mut self.resources[r as usize];
            res.busy_time += stage.duration;
            res.stages_served += 1;
        }
        self.events.push(now + stage.duration, slot);
    }

    fn stage_end(&mut self, slot: u32) {
        let s = slot as usize;
        let hot = &mut self.hot[s];
        let stages = unpack(&hot.stages, &self.many);
        let stage = stages[hot.stage as usize];
        let next = stages.get(hot.stage as usize + 1).map(|st| st.resources[0]);
        hot.stage += 1;
        hot.held = 0;
        let seq = hot.seq;
        for r in stage.resources() {
            let res = &mut self.resources[r as usize];
            res.busy -= 1;
            // A freed slot matters only to waiters; a later request marks the resource itself.
            if !res.waiting.is_empty() {
                self.mark_dirty(r);
            }
        }
        match next {
            Some(r) => {
                self.resources[r as usize].waiting.push(Reverse((seq, slot)));
                self.mark_dirty(r);
            }
            None => {
                self.finish(slot);
                self.start_ready();
            }
        }
    }

    /// Ends the op in `slot` at the current time and releases its successors onto the ready
    /// worklist.
    fn finish(&mut self, slot: u32) {
        let now = self.now;
        let s = slot as usize;
        let hot = &mut self.hot[s];
        hot.state = OpState::Done;
        if hot.seq >= self.alarm {
            self.rung = Some(self.rung.map_or(hot.seq, |r| r.max(hot.seq)));
        }
        let first = std::mem::replace(&mut hot.succ, NONE);
        let mut e = std::mem::replace(&mut hot.more, NONE);
        if hot.stages == NO_STAGES {
            hot.times[0] = now;
        }
        hot.times[1] = now;
        self.makespan = self.makespan.max(now);
        self.done += 1;
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
        if !self.retain {
            self.ids.remove(self.slot_id[s]);
            if let Some(i) = self.hot[s].stages.many() {
                self.many[i] = Box::default();
                self.free_many.push(i as u32);
            }
            self.hot[s].stages = NO_STAGES;
            self.free_slots.push(slot);
        }
    }

    /// One dependency of the op in `slot` ended at `now`.
    fn release(&mut self, slot: u32, now: u64) {
        let succ = &mut self.hot[slot as usize];
        succ.pending -= 1;
        succ.ready = succ.ready.max(now);
        if succ.pending == 0 {
            self.ready.push(slot);
        }
    }

    /// Starts every op on the ready worklist: joins end at once, others queue for their first
    /// resource.
    fn start_ready(&mut self) {
        while let Some(slot) = self.ready.pop() {
            let hot = &mut self.hot[slot as usize];
            hot.state = OpState::Active;
            match unpack(&hot.stages, &self.many).first() {
                None => self.finish(slot),
                Some(stage) => {
                    let r = stage.resources[0];
                    let seq = hot.seq;
                    self.resources[r as usize].waiting.push(Reverse((seq, slot)));
                    self.mark_dirty(r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
