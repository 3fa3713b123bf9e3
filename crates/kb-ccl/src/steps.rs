//! Collectives recorded step by step ([`Steps`]): on a runtime that keeps no data, a step is
//! recorded when the timing reaches the step before it ([`record_steps`]), so only a step or two of
//! ops is alive at a time, and on a runtime that keeps no ops each op is recorded by the cost of
//! the first of its shape ([`Costs`]). The timing is the same as recording every op at once.

use kb_oplog::{Op, OpId, Stages};
use kb_sched::{Costed, Runtime, SchedError};

use crate::plan::{Plan, Slot};

/// What a collective records at each of its steps, so that it can be recorded wave by wave
/// ([`record_steps`]). Every op of a step after the first depends on an op of the step before
/// it, so recording a step when the first op of the one before ends times it as if every step had
/// been recorded at once.
pub(crate) trait Steps {
    /// The number of steps.
    fn count(&self) -> usize;
    /// At least as many ops as the steps record.
    fn op_bound(&self) -> u64;
    /// Records step `step` into `plan`, each op as `rec` says.
    fn record(&mut self, plan: &mut Plan, step: usize, rec: &mut impl Rec) -> Result<(), SchedError>;
}

/// The steps of a collective that exchanges parts of `m` elements among `n` members in `n − 1`
/// steps: one for a lone member (its local copy), none when the parts are empty.
pub(crate) fn exchange_steps(m: usize, n: usize) -> usize {
    match (m, n) {
        (0, _) => 0,
        (_, 1) => 1,
        (_, n) => n - 1,
    }
}

/// A collective being recorded step by step: its plan, its steps and, on a runtime that keeps no
/// ops, the costs of the ops already costed (when its ops come in few shapes).
pub(crate) struct Stepped<S> {
    plan: Plan,
    costs: Option<Costs>,
    steps: S,
}

impl<S: Steps> Stepped<S> {
    /// Recording `steps` into `plan`, by their costs (filed in `costs`) when `rt` keeps no ops.
    pub(crate) fn new(rt: &Runtime, plan: Plan, costs: Costs, steps: S) -> Stepped<S> {
        Stepped { plan, costs: (!rt.keeps_ops()).then_some(costs), steps }
    }

    /// Recording `steps` into `plan`, every op whole (for ops that each have a shape of their
    /// own: nothing to cost once for many).
    pub(crate) fn whole(plan: Plan, steps: S) -> Stepped<S> {
        Stepped { plan, costs: None, steps }
    }

    /// Records every step at once and returns each member's exit join.
    pub(crate) fn record_all(mut self) -> Result<Vec<OpId>, SchedError> {
        self.plan.reserve(usize::try_from(self.steps.op_bound()).unwrap_or(usize::MAX));
        for step in 0..self.steps.count() {
            self.record(step)?;
        }
        self.plan.finish()
    }

    /// Records step `step`: by the ops' costs, holding the runtime, when it keeps no ops.
    fn record(&mut self, step: usize) -> Result<(), SchedError> {
        let Stepped { plan, costs, steps } = self;
        match costs {
            Some(costs) => {
                let rt = plan.runtime().clone();
                rt.costed(|to| steps.record(plan, step, &mut ByCost(costs, to)))?
            }
            None => steps.record(plan, step, &mut Whole),
        }
    }
}

/// Records a collective's steps and returns each member's exit join. On a runtime that
/// keeps no data, they are recorded wave by wave as the timing reaches them ([`Runtime::defer`]),
/// so only a step or two of ops is alive at a time; the timing is the same as recording them all
/// at once.
pub(crate) fn record_steps<S: Steps + 'static>(rt: &Runtime, mut ring: Stepped<S>) -> Result<Vec<OpId>, SchedError> {
    let steps = ring.steps.count();
    if rt.keeps_data() || steps < 2 {
        return ring.record_all();
    }
    // Wave by wave: every op of step s + 1 depends on one of step s, so recording step s + 1
    // when the first op of step s ends is as if every step had been recorded at once.
    // Its ops are numbered as if recorded now, so they compete with other ops (another group's
    // collective on shared links) as they would have had every step been recorded at once.
    let exits = ring.plan.hold_exits()?;
    ring.plan.reserve_numbers(ring.steps.op_bound());
    let alarm = ring.plan.next_number();
    ring.record(0)?;
    let mut step = 0;
    let held = exits.clone();
    let wave: kb_sched::Wave = Box::new(move |_: &Runtime| {
        step += 1;
        let alarm = ring.plan.next_number();
        ring.record(step)?;
        if step + 1 == steps {
            ring.plan.release_exits(&held)?;
            return Ok(None);
        }
        Ok(Some(alarm))
    });
    // Two steps or more: the wave always has one to record.
    rt.defer(alarm, wave)?;
    Ok(exits)
}

/// The costs of a stepped collective's ops, on a runtime that keeps no ops: an op's stages depend
/// only on its kind, its member, on whether its chunk is one of the longer ones and on its slice —
/// a slice of the same size on the same route or PE — so each is costed once, from the whole op,
/// and the others are recorded by their cost ([`Runtime::costed`]), which the engine times the
/// same.
pub(crate) struct Costs {
    /// Members.
    n: usize,
    /// The length of the longest chunk.
    longest: usize,
    per_chunk: usize,
    /// Per kind ([`SEND`], [`REDUCE`], [`GATHER`], [`DIVIDE`], [`COPY`]), chunk class, member
    /// and slice.
    stages: [Vec<Option<Stages>>; 5],
}

/// The kinds of a stepped collective's ops, as [`Costs`] files them.
pub(crate) const SEND: usize = 0;
pub(crate) const REDUCE: usize = 1;
pub(crate) const GATHER: usize = 2;
pub(crate) const DIVIDE: usize = 3;
pub(crate) const COPY: usize = 4;

/// Which cost an op of a stepped collective has: its kind, member, chunk length and slice.
#[derive(Clone, Copy)]
pub(crate) struct CostKey {
    pub(crate) kind: usize,
    pub(crate) member: usize,
    pub(crate) len: usize,
    pub(crate) slice: usize,
}

impl Costs {
    /// Costs of the ops of `n` members, chunks of at most `longest` elements in `per_chunk`
    /// slices.
    pub(crate) fn new(n: usize, longest: usize, per_chunk: usize) -> Costs {
        let each = || vec![None; 2 * n * per_chunk];
        Costs { n, longest, per_chunk, stages: [each(), each(), each(), each(), each()] }
    }

    /// The stages of the op of `key`; `op` builds it whole the first time, and `to` costs it.
    #[inline(always)]
    fn get(
        &mut self,
        key: CostKey,
        op: impl FnOnce(CostKey) -> Result<Op, SchedError>,
        to: &Costed<'_>,
    ) -> Result<&Stages, SchedError> {
        let CostKey { kind, member, len, slice } = key;
        let at = (usize::from(len == self.longest) * self.n + member) * self.per_chunk + slice;
        let cached = &mut self.stages[kind][at];
        if cached.is_none() {
            fill(cached, op(key)?, to)?;
        }
        Ok(cached.as_ref().expect("costed just now"))
    }
}

/// Costs `op` into `cached` (the first op of its shape).
#[cold]
#[inline(never)]
fn fill(cached: &mut Option<Stages>, op: Op, to: &Costed<'_>) -> Result<(), SchedError> {
    *cached = Some(to.cost(&op)?);
    Ok(())
}

/// How a step's ops are recorded: whole ([`Whole`]), or by their cost ([`ByCost`]). Chosen once
/// per step: the steps' loops are compiled for each, and decide nothing per op.
pub(crate) trait Rec {
    /// Records the op of `key`, reading `reads` and writing `writes`: `op` builds it from its key
    /// when it is needed whole (the first of its shape, or every op when recording whole), so a
    /// closure that captures nothing per op costs the hot loops nothing.
    fn record(
        &mut self,
        plan: &mut Plan,
        key: CostKey,
        op: impl FnOnce(CostKey) -> Result<Op, SchedError>,
        reads: &[Slot],
        writes: &[Slot],
    ) -> Result<OpId, SchedError>;
}

/// Every op recorded whole.
pub(crate) struct Whole;

impl Rec for Whole {
    #[inline(always)]
    fn record(
        &mut self,
        plan: &mut Plan,
        key: CostKey,
        op: impl FnOnce(CostKey) -> Result<Op, SchedError>,
        reads: &[Slot],
        writes: &[Slot],
    ) -> Result<OpId, SchedError> {
        plan.record(&op(key)?, reads, writes)
    }
}

/// Every op recorded by its cost, filed in the costs and recorded by the runtime's [`Costed`].
pub(crate) struct ByCost<'r, 'a>(&'r mut Costs, &'r mut Costed<'a>);

impl Rec for ByCost<'_, '_> {
    #[inline(always)]
    fn record(
        &mut self,
        plan: &mut Plan,
        key: CostKey,
        op: impl FnOnce(CostKey) -> Result<Op, SchedError>,
        reads: &[Slot],
        writes: &[Slot],
    ) -> Result<OpId, SchedError> {
        let ByCost(costs, to) = self;
        let stages = costs.get(key, op, to)?;
        plan.record_costed(to, stages, reads, writes)
    }
}
