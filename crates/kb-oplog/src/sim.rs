//! [`Sim`]: the op log, the timing engine and the data executor of one machine, behind one
//! recording interface.
//!
//! Recording validates an op (shapes and dtypes, spaces and capacities, where each operand may
//! live), asks the cost model for its stages and adds it to the engine. Timing runs on demand
//! ([`Sim::run_until`]); replay runs on demand too ([`Sim::replay_until`]), in recording order —
//! a topological order of the dependencies, and the program order of every memory access — from
//! where the last replay stopped. Replay never changes timing, and timing never touches data.

use kb_mem::{MemoryStore, Region, Space};
use slotmap::SecondaryMap;

use crate::engine::Stages;
use crate::{CostModel, Engine, MachineSpec, Op, OpId, OpKind, OpLogError, OpTimes, Pe, Resource};

/// What a simulation keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Keep a memory store and replay ops onto it (real numbers). Implies `keep_ops`.
    pub data: bool,
    /// Keep every recorded op and its times (for traces, reports and snapshots). Without it, an
    /// op is forgotten as soon as it has been timed.
    pub keep_ops: bool,
}

impl Mode {
    /// Timing and data: the default for checking a program's numbers.
    pub const DATA: Mode = Mode { data: true, keep_ops: true };
    /// Timing only, keeping ops for traces and reports.
    pub const TIMING: Mode = Mode { data: false, keep_ops: true };
    /// Timing only, forgetting each op once timed: memory stays flat however long the program.
    pub const TIMING_LEAN: Mode = Mode { data: false, keep_ops: false };
}

/// A simulation of one machine. See the module documentation.
#[derive(Debug)]
pub struct Sim {
    cost: CostModel,
    engine: Engine,
    mode: Mode,
    /// Recorded ops by id (when kept).
    ops: SecondaryMap<OpId, Op>,
    /// Ids in recording order (when kept); an op's engine sequence number is its index here.
    order: Vec<OpId>,
    store: Option<MemoryStore>,
    /// Ops of `order` already replayed.
    replayed: usize,
}

impl Sim {
    /// A simulation of `machine` (validated first).
    pub fn new(machine: MachineSpec, mode: Mode) -> Result<Sim, OpLogError> {
        machine.validate()?;
        let mode = Mode { keep_ops: mode.keep_ops || mode.data, ..mode };
        let cost = CostModel::new(&machine);
        // Resource names are for traces and logs, which need the ops kept.
        let engine = Engine::new(cost.resource_table(mode.keep_ops), mode.keep_ops);
        let store = if mode.data {
            let mut store = MemoryStore::new();
            let d = &machine.device;
            for device in 0..machine.cluster.ranks {
                store.add_space(Space::Hbm { device }, d.hbm_bytes)?;
                for pe in 0..d.pes {
                    store.add_space(Space::Tcm { device, pe }, d.tcm_bytes)?;
                }
            }
            Some(store)
        } else {
            None
        };
        Ok(Sim { cost, engine, mode, ops: SecondaryMap::new(), order: Vec::new(), store, replayed: 0 })
    }

    /// The machine simulated.
    pub fn machine(&self) -> &MachineSpec {
        self.cost.spec()
    }

    /// The cost model.
    pub fn cost_model(&self) -> &CostModel {
        &self.cost
    }

    /// What this simulation keeps.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The timing engine (read-only: only [`Sim`]'s own methods advance it). Its resources are
    /// named only when ops are kept (for traces and logs); [`Sim::resource_name`] names any.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The name of resource `index` ("device 0 PE 3 dma", "link 0→1").
    pub fn resource_name(&self, index: crate::ResourceIndex) -> String {
        self.cost.resource_name(index)
    }

    /// Validates `op`, times it after `deps`, and returns its id.
    pub fn record(&mut self, op: impl Into<Op>, deps: &[OpId]) -> Result<OpId, OpLogError> {
        let op = op.into();
        let id = self.time(&op, deps, false, None)?;
        self.keep(id, || op);
        Ok(id)
    }

    /// As [`Sim::record`], from a borrowed op, which is copied only when ops are kept: the
    /// cheaper call for a caller that records many ops in timing-only lean mode.
    pub fn record_ref(&mut self, op: &Op, deps: &[OpId]) -> Result<OpId, OpLogError> {
        let id = self.time(op, deps, false, None)?;
        self.keep(id, || op.clone());
        Ok(id)
    }

    /// As [`Sim::record_ref`], held back until [`Sim::release_hold`] (see [`Engine::add_held`]).
    pub fn record_held(&mut self, op: &Op, deps: &[OpId]) -> Result<OpId, OpLogError> {
        let id = self.time(op, deps, true, None)?;
        self.keep(id, || op.clone());
        Ok(id)
    }

    /// Checks and costs `op` without recording it: the stages it would take. A caller recording
    /// many ops of one shape on the same resources in a simulation that keeps no ops (a
    /// collective's steps, timing only) costs one of them and records the others with
    /// [`Sim::record_costed`]: they are timed exactly as if each had been recorded whole.
    pub fn cost(&self, op: &Op) -> Result<Stages, OpLogError> {
        self.check(op)?;
        Ok(self.cost.stages(&op.kind))
    }

    /// Records an op by its stages alone (from [`Sim::cost`] of an op of the same shape and
    /// resources), after `deps`. Only a simulation that keeps no ops (and so no data) takes it:
    /// one that keeps them needs each op whole.
    /// With `seq`, under that number from [`Sim::reserve_seqs`].
    #[inline(always)]
    pub fn record_costed(&mut self, seq: Option<u64>, stages: &Stages, deps: &[OpId]) -> Result<OpId, OpLogError> {
        // A simulation that keeps data keeps ops too (see `Sim::new`).
        if self.mode.keep_ops {
            return Err(OpLogError::KeepsOps { what: "record_costed" });
        }
        Ok(match seq {
            Some(seq) => self.engine.add_reserved_ref(seq, stages, deps)?,
            None => self.engine.add_ref(stages, deps)?,
        })
    }

    /// As [`Sim::record_ref`], under a sequence number from [`Sim::reserve_seqs`] (see
    /// [`Engine::add_reserved`]).
    pub fn record_reserved(&mut self, seq: u64, op: &Op, deps: &[OpId]) -> Result<OpId, OpLogError> {
        let id = self.time(op, deps, false, Some(seq))?;
        self.keep(id, || op.clone());
        Ok(id)
    }

    /// Hands out `count` sequence numbers for ops recorded later (see [`Engine::reserve_seqs`]).
    pub fn reserve_seqs(&mut self, count: u64) -> u64 {
        self.engine.reserve_seqs(count)
    }

    /// Keeps the op just recorded as `id`, when ops are kept.
    fn keep(&mut self, id: OpId, op: impl FnOnce() -> Op) {
        if self.mode.keep_ops {
            self.ops.insert(id, op());
            self.order.push(id);
        }
    }

    /// Lifts the hold of an op recorded with [`Sim::record_held`], after adding `deps` to its
    /// dependencies (see [`Engine::release_hold`]).
    pub fn release_hold(&mut self, op: OpId, deps: &[OpId]) -> Result<(), OpLogError> {
        Ok(self.engine.release_hold(op, deps)?)
    }

    /// The sequence number of the next op recorded (see [`Engine::next_seq`]).
    pub fn next_seq(&self) -> u64 {
        self.engine.next_seq()
    }

    /// Sets the engine's alarm (see [`Engine::set_alarm`]).
    pub fn set_alarm(&mut self, seq: u64) {
        self.engine.set_alarm(seq);
    }

    /// Sets the engine's bound (see [`Engine::set_bound`]).
    pub fn set_bound(&mut self, bound: u64) {
        self.engine.set_bound(bound);
    }

    /// Clears the engine's alarm (see [`Engine::clear_alarm`]).
    pub fn clear_alarm(&mut self) {
        self.engine.clear_alarm();
    }

    /// Whether the engine's alarm has rung (see [`Engine::alarm_rung`]).
    pub fn alarm_rung(&self) -> Option<u64> {
        self.engine.alarm_rung()
    }

    /// Watches `ops` (see [`Engine::watch`]).
    pub fn watch(&mut self, ops: &[OpId]) {
        self.engine.watch(ops);
    }

    /// Whether a watched op has ended since the last call (see [`Engine::take_watch_rung`]).
    pub fn take_watch_rung(&mut self) -> bool {
        self.engine.take_watch_rung()
    }

    /// Processes the next instant of the timing; false when nothing was left (see
    /// [`Engine::step`]).
    pub fn step(&mut self) -> bool {
        self.engine.step()
    }

    /// Checks, costs and adds `op` to the engine (held back when `held`).
    fn time(&mut self, op: &Op, deps: &[OpId], held: bool, seq: Option<u64>) -> Result<OpId, OpLogError> {
        self.check(op)?;
        let stages = self.cost.stages(&op.kind);
        Ok(match (held, seq) {
            (true, _) => self.engine.add_held(stages, deps)?,
            (false, Some(seq)) => self.engine.add_reserved(seq, stages, deps)?,
            (false, None) => self.engine.add(stages, deps)?,
        })
    }

    /// Makes room for `additional` more ops, so recording a large batch (a collective of many
    /// ranks) does not grow the engine's tables op by op.
    pub fn reserve(&mut self, additional: usize) {
        self.engine.reserve(additional);
        if self.mode.keep_ops {
            self.order.reserve(additional);
        }
    }

    /// The current simulated time, in picoseconds.
    pub fn now(&self) -> u64 {
        self.engine.now()
    }

    /// The latest end of any op so far, in picoseconds.
    pub fn makespan(&self) -> u64 {
        self.engine.makespan()
    }

    /// Advances the timing until `op` has ended; returns its end time in picoseconds.
    pub fn run_until(&mut self, op: OpId) -> Result<u64, OpLogError> {
        Ok(self.engine.run_until(op)?)
    }

    /// Advances the timing until at least one of `ops` has ended; returns the time then.
    pub fn run_until_any(&mut self, ops: &[OpId]) -> Result<u64, OpLogError> {
        Ok(self.engine.run_until_any(ops)?)
    }

    /// Advances the timing until every recorded op has ended; returns the makespan.
    pub fn run_all(&mut self) -> u64 {
        self.engine.run_all()
    }

    /// Whether `op` has ended in simulated time.
    #[inline]
    pub fn is_done(&self, op: OpId) -> bool {
        self.engine.is_done(op)
    }

    /// The times of an op that has ended (and is kept).
    pub fn times(&self, op: OpId) -> Option<OpTimes> {
        self.engine.times(op)
    }

    /// A recorded op (when ops are kept).
    pub fn op(&self, op: OpId) -> Option<&Op> {
        self.ops.get(op)
    }

    /// Recorded ops in recording order, with their times once ended (empty when ops are not kept).
    pub fn ops(&self) -> impl Iterator<Item = (OpId, &Op, Option<OpTimes>)> + '_ {
        self.order.iter().map(|&id| (id, &self.ops[id], self.engine.times(id)))
    }

    /// The memory store (data mode only). Reading it directly skips replay: callers replay first.
    pub fn store(&self) -> Result<&MemoryStore, OpLogError> {
        self.store.as_ref().ok_or(OpLogError::TimingOnly { what: "reading device memory" })
    }

    /// Replays, in recording order, every op up to and including `op` that has not been replayed.
    pub fn replay_until(&mut self, op: OpId) -> Result<(), OpLogError> {
        if self.store.is_none() {
            return Err(OpLogError::TimingOnly { what: "replay" });
        }
        let seq = self.engine.seq(op).ok_or(OpLogError::UnknownOp { op })? as usize;
        self.replay_to(seq + 1)
    }

    /// Replays every recorded op not yet replayed.
    pub fn replay_all(&mut self) -> Result<(), OpLogError> {
        if self.store.is_none() {
            return Err(OpLogError::TimingOnly { what: "replay" });
        }
        self.replay_to(self.order.len())
    }

    /// Ops replayed so far.
    pub fn replayed(&self) -> usize {
        self.replayed
    }

    fn replay_to(&mut self, end: usize) -> Result<(), OpLogError> {
        let store = self.store.as_mut().ok_or(OpLogError::TimingOnly { what: "replay" })?;
        while self.replayed < end {
            let op = &self.ops[self.order[self.replayed]];
            crate::exec::execute(store, &op.kind)?;
            self.replayed += 1;
        }
        Ok(())
    }

    fn invalid(op: &Op, reason: String) -> OpLogError {
        OpLogError::InvalidOp { kind: op.kind.name(), label: op.label.as_deref().map(str::to_string), reason }
    }

    /// Checks an op against the machine: validation of shapes and dtypes, then every region inside
    /// an existing space, and compute operands where their PE can reach them.
    fn check(&self, op: &Op) -> Result<(), OpLogError> {
        crate::validate::validate(&op.kind).map_err(|reason| Sim::invalid(op, reason))?;
        let spec = self.cost.spec();
        for r in op.kind.regions() {
            self.check_region(r).map_err(|reason| Sim::invalid(op, reason))?;
        }
        let pe = match &op.kind {
            OpKind::Dma { pe, .. }
            | OpKind::Gemm { pe, .. }
            | OpKind::Vector { pe, .. }
            | OpKind::ReduceInto { pe, .. } => Some(*pe),
            _ => None,
        };
        if let Some(pe) = pe
            && (pe.device >= spec.cluster.ranks || pe.pe >= spec.device.pes)
        {
            let reason = format!(
                "{pe} does not exist (the machine has {} devices of {} PEs)",
                spec.cluster.ranks, spec.device.pes
            );
            return Err(Sim::invalid(op, reason));
        }
        match &op.kind {
            OpKind::Dma { pe, src, dst } => {
                let (from, to) = (src.space.device(), dst.space.device());
                if pe.device != from && pe.device != to {
                    let reason = format!(
                        "{pe} cannot move bytes from device {from} to device {to}: its DMA engine reaches only its own device and the links from it"
                    );
                    return Err(Sim::invalid(op, reason));
                }
            }
            OpKind::Gemm { pe, .. } | OpKind::Vector { pe, .. } | OpKind::ReduceInto { pe, .. } => {
                for r in op.kind.regions() {
                    if !Sim::reachable(*pe, r.space) {
                        let reason = format!(
                            "operand {r} is out of reach of {pe}, which computes on its own TCM and its device's HBM"
                        );
                        return Err(Sim::invalid(op, reason));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn reachable(pe: Pe, space: Space) -> bool {
        match space {
            Space::Hbm { device } => device == pe.device,
            Space::Tcm { device, pe: p } => device == pe.device && p == pe.pe,
        }
    }

    fn check_region(&self, r: &Region) -> Result<(), String> {
        let spec = self.cost.spec();
        let capacity = match r.space {
            Space::Hbm { device } if device < spec.cluster.ranks => spec.device.hbm_bytes,
            Space::Tcm { device, pe } if device < spec.cluster.ranks && pe < spec.device.pes => spec.device.tcm_bytes,
            _ => {
                return Err(format!(
                    "{} does not exist (the machine has {} devices of {} PEs)",
                    r.space, spec.cluster.ranks, spec.device.pes
                ));
            }
        };
        match r.byte_range().map_err(|e| e.to_string())? {
            Some((_, end)) if end > capacity => {
                Err(format!("region {r} ends at byte {end}, outside the space's capacity of {capacity} bytes"))
            }
            _ => Ok(()),
        }
    }

    /// The op log as a table, one line per op in recording order: id, kind, label, the resources
    /// of each stage with its duration, and ready/start/end times in picoseconds (`-` until timed).
    /// Meant for snapshots and for reading by people.
    pub fn log_table(&self) -> String {
        use std::fmt::Write;
        let names: Vec<&str> = self.engine.resources().map(|r| r.name.as_str()).collect();
        let mut out = String::new();
        for (id, op, times) in self.ops() {
            let seq = self.engine.seq(id).unwrap_or_default();
            let stages: Vec<String> = self
                .engine
                .stages(id)
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let rs: Vec<&str> = s.resources().map(|r| names[r as usize]).collect();
                    format!("{} {}ps", rs.join(" + "), s.duration())
                })
                .collect();
            let label = op.label.as_deref().map(|l| format!(" {l:?}")).unwrap_or_default();
            let t = match times {
                Some(t) => format!("ready {} start {} end {}", t.ready, t.start, t.end),
                None => "not ended".to_string(),
            };
            let _ = writeln!(out, "#{seq} {}{label} [{}] {t}", op.kind.name(), stages.join("; "));
        }
        out
    }

    /// Busy picoseconds of a resource, summed over its slots.
    pub fn busy_time(&self, r: Resource) -> u64 {
        self.engine.busy_time(self.cost.index(r))
    }
}

#[cfg(test)]
mod tests;
