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
    /// Nothing is left to simulate, yet the op has not completed.
    #[error("op {op:?} cannot complete: no event is pending at {now} ps")]
    Stalled {
        /// The op waited for.
        op: OpId,
        /// The simulated time when the engine ran dry.
        now: u64,
    },
}

#[derive(Debug)]
struct Node {
    seq: u64,
    ready: u64,
    start: u64,
    end: u64,
    /// Dependencies that have not ended.
    pending: u32,
    /// Head of the successor list in the edge pool.
    succ: u32,
    /// The stage being acquired or run.
    stage: u16,
    /// Resources of the current stage acquired so far.
    held: u8,
    state: OpState,
    stages: Stages,
}

#[derive(Debug, Clone, Copy)]
struct Edge {
    to: OpId,
    next: u32,
}

#[derive(Debug)]
struct Resource {
    spec: ResourceSpec,
    busy: u32,
    dirty: bool,
    /// Ops waiting for a slot, by sequence number.
    waiting: BinaryHeap<Reverse<(u64, OpId)>>,
    busy_time: u64,
    stages_served: u64,
}

/// The discrete-event timing engine. See the module documentation.
#[derive(Debug)]
pub struct Engine {
    nodes: SlotMap<OpId, Node>,
    edges: Vec<Edge>,
    free_edge: u32,
    resources: Vec<Resource>,
    /// Stage ends: (time, sequence number, op).
    events: BinaryHeap<Reverse<(u64, u64, OpId)>>,
    dirty: BinaryHeap<Reverse<u32>>,
    /// Ops whose dependencies just ended, to be started (a worklist, so long chains of joins do
    /// not recurse).
    ready: Vec<OpId>,
    now: u64,
    next_seq: u64,
    makespan: u64,
    done: u64,
    retain: bool,
    /// Start time of every stage of each multi-stage op (kept only when ops are retained).
    stage_starts: SecondaryMap<OpId, Vec<u64>>,
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
            nodes: SlotMap::with_key(),
            edges: Vec::new(),
            free_edge: NONE,
            resources,
            events: BinaryHeap::new(),
            dirty: BinaryHeap::new(),
            ready: Vec::new(),
            now: 0,
            next_seq: 0,
            makespan: 0,
            done: 0,
            retain,
            stage_starts: SecondaryMap::new(),
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

    /// Adds an op with its stages and dependencies and returns its id. It becomes ready when every
    /// dependency has ended, and never before the current time.
    pub fn add(&mut self, stages: Stages, deps: &[OpId]) -> Result<OpId, EngineError> {
        for stage in stages.as_slice() {
            if let Some(r) = stage.resources().find(|&r| r as usize >= self.resources.len()) {
                return Err(EngineError::UnknownResource { resource: r, count: self.resources.len() });
            }
        }
        for &dep in deps {
            if self.retain && !self.nodes.contains_key(dep) {
                return Err(EngineError::UnknownDependency { dep });
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = self.nodes.insert(Node {
            seq,
            ready: self.now,
            start: 0,
            end: 0,
            pending: 0,
            succ: NONE,
            stage: 0,
            held: 0,
            state: OpState::Blocked,
            stages,
        });
        let mut pending = 0;
        for &dep in deps {
            // A dependency missing from a non-retaining engine has ended and been retired.
            let Some(d) = self.nodes.get_mut(dep) else { continue };
            if d.state == OpState::Done {
                continue;
            }
            pending += 1;
            let edge = Edge { to: id, next: d.succ };
            d.succ = if self.free_edge != NONE {
                let e = self.free_edge;
                self.free_edge = self.edges[e as usize].next;
                self.edges[e as usize] = edge;
                e
            } else {
                self.edges.push(edge);
                (self.edges.len() - 1) as u32
            };
        }
        self.nodes[id].pending = pending;
        if pending == 0 {
            self.ready.push(id);
            self.start_ready();
        }
        Ok(id)
    }

    /// Whether `op` has ended. An id retired by a non-retaining engine reads as ended.
    pub fn is_done(&self, op: OpId) -> bool {
        self.nodes.get(op).is_none_or(|n| n.state == OpState::Done)
    }

    /// The state of `op`, if the engine still holds it.
    pub fn state(&self, op: OpId) -> Option<OpState> {
        self.nodes.get(op).map(|n| n.state)
    }

    /// The times of an op that has ended (and is still held).
    pub fn times(&self, op: OpId) -> Option<OpTimes> {
        let n = self.nodes.get(op)?;
        (n.state == OpState::Done).then_some(OpTimes { ready: n.ready, start: n.start, end: n.end })
    }

    /// The stages of an op still held.
    pub fn stages(&self, op: OpId) -> Option<&[Stage]> {
        self.nodes.get(op).map(|n| n.stages.as_slice())
    }

    /// When each stage of an ended multi-stage op started (`None` for single-stage ops, or when ops
    /// are not retained).
    pub fn stage_starts(&self, op: OpId) -> Option<&[u64]> {
        self.stage_starts.get(op).map(Vec::as_slice)
    }

    /// The recording sequence number of an op still held.
    pub fn seq(&self, op: OpId) -> Option<u64> {
        self.nodes.get(op).map(|n| n.seq)
    }

    /// Advances until `op` has ended and returns its end time (the current time for a retired op).
    pub fn run_until(&mut self, op: OpId) -> Result<u64, EngineError> {
        loop {
            match self.nodes.get(op) {
                None if !self.retain => return Ok(self.now),
                None => return Err(EngineError::UnknownDependency { dep: op }),
                Some(n) if n.state == OpState::Done => return Ok(n.end),
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
        let Some(&Reverse((t, _, _))) = self.events.peek() else { return false };
        self.now = t;
        while let Some(&Reverse((t2, _, op))) = self.events.peek() {
            if t2 != t {
                break;
            }
            self.events.pop();
            self.stage_end(op);
        }
        true
    }

    fn mark_dirty(&mut self, r: u32) {
        let res = &mut self.resources[r as usize];
        if !res.dirty {
            res.dirty = true;
            self.dirty.push(Reverse(r));
        }
    }

    fn request(&mut self, op: OpId, r: u32) {
        let seq = self.nodes[op].seq;
        self.resources[r as usize].waiting.push(Reverse((seq, op)));
        self.mark_dirty(r);
    }

    /// Grants free slots to waiting ops, lowest resource index first, lowest sequence number first.
    fn dispatch(&mut self) {
        while let Some(Reverse(r)) = self.dirty.pop() {
            self.resources[r as usize].dirty = false;
            loop {
                let res = &mut self.resources[r as usize];
                if res.busy >= res.spec.slots {
                    break;
                }
                let Some(Reverse((_, op))) = res.waiting.pop() else { break };
                res.busy += 1;
                self.acquired(op);
            }
        }
    }

    fn acquired(&mut self, op: OpId) {
        let now = self.now;
        let node = &mut self.nodes[op];
        node.held += 1;
        let stage = node.stages.as_slice()[node.stage as usize];
        if node.held < stage.count() {
            let next = stage.resources[node.held as usize];
            self.request(op, next);
            return;
        }
        if node.stage == 0 {
            node.start = now;
        }
        let seq = node.seq;
        if self.retain && matches!(node.stages, Stages::Many(_)) {
            match self.stage_starts.get_mut(op) {
                Some(starts) => starts.push(now),
                None => {
                    self.stage_starts.insert(op, vec![now]);
                }
            }
        }
        for r in stage.resources() {
            let res = &mut self.resources[r as usize];
            res.busy_time += stage.duration;
            res.stages_served += 1;
        }
        self.events.push(Reverse((now + stage.duration, seq, op)));
    }

    fn stage_end(&mut self, op: OpId) {
        let node = &mut self.nodes[op];
        let stage = node.stages.as_slice()[node.stage as usize];
        node.stage += 1;
        node.held = 0;
        let more = (node.stage as usize) < node.stages.as_slice().len();
        for r in stage.resources() {
            self.resources[r as usize].busy -= 1;
            self.mark_dirty(r);
        }
        if more {
            let next = self.nodes[op].stages.as_slice()[self.nodes[op].stage as usize].resources[0];
            self.request(op, next);
        } else {
            self.finish(op);
            self.start_ready();
        }
    }

    /// Ends `op` at the current time and releases its successors onto the ready worklist.
    fn finish(&mut self, op: OpId) {
        let now = self.now;
        let node = &mut self.nodes[op];
        node.state = OpState::Done;
        node.end = now;
        if node.stages.as_slice().is_empty() {
            node.start = now;
        }
        let mut e = std::mem::replace(&mut node.succ, NONE);
        self.makespan = self.makespan.max(now);
        self.done += 1;
        while e != NONE {
            let Edge { to, next } = self.edges[e as usize];
            self.edges[e as usize].next = self.free_edge;
            self.free_edge = e;
            e = next;
            let succ = &mut self.nodes[to];
            succ.pending -= 1;
            succ.ready = succ.ready.max(now);
            if succ.pending == 0 {
                self.ready.push(to);
            }
        }
        if !self.retain {
            self.nodes.remove(op);
        }
    }

    /// Starts every op on the ready worklist: joins end at once, others queue for their first
    /// resource.
    fn start_ready(&mut self) {
        while let Some(op) = self.ready.pop() {
            let node = &mut self.nodes[op];
            node.state = OpState::Active;
            match node.stages.as_slice().first() {
                None => self.finish(op),
                Some(stage) => {
                    let r = stage.resources[0];
                    self.request(op, r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
