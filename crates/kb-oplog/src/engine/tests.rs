use proptest::prelude::*;

use super::*;

fn engine(slots: &[u32], retain: bool) -> Engine {
    let specs = slots.iter().enumerate().map(|(i, &s)| ResourceSpec { name: format!("r{i}"), slots: s }).collect();
    Engine::new(specs, retain)
}

fn one(r: u32, d: u64) -> Stages {
    Stages::One(Stage::one(r, d))
}

#[test]
fn a_single_op_takes_its_duration() {
    let mut e = engine(&[1], true);
    let op = e.add(one(0, 250), &[]).unwrap();
    assert_eq!(e.run_until(op).unwrap(), 250);
    assert_eq!(e.times(op).unwrap(), OpTimes { ready: 0, start: 0, end: 250 });
    assert_eq!((e.busy_time(0), e.makespan(), e.ops_done()), (250, 250, 1));
}

#[test]
fn a_chain_adds_up() {
    let mut e = engine(&[1, 1], true);
    let a = e.add(one(0, 100), &[]).unwrap();
    let b = e.add(one(1, 30), &[a]).unwrap();
    let c = e.add(one(0, 7), &[b]).unwrap();
    assert_eq!(e.run_until(c).unwrap(), 137);
    assert_eq!(e.times(b).unwrap(), OpTimes { ready: 100, start: 100, end: 130 });
}

#[test]
fn contention_queues_by_id_and_starts_when_the_resource_frees() {
    let mut e = engine(&[1], true);
    let a = e.add(one(0, 100), &[]).unwrap();
    let b = e.add(one(0, 50), &[]).unwrap();
    e.run_all();
    assert_eq!(e.times(a).unwrap(), OpTimes { ready: 0, start: 0, end: 100 });
    assert_eq!(e.times(b).unwrap(), OpTimes { ready: 0, start: 100, end: 150 });
}

#[test]
fn a_ready_op_is_not_held_back_by_an_earlier_blocked_one() {
    let mut e = engine(&[1, 1], true);
    let slow = e.add(one(1, 100), &[]).unwrap();
    let blocked = e.add(one(0, 10), &[slow]).unwrap(); // lower id, but ready only at 100
    let free = e.add(one(0, 40), &[]).unwrap();
    e.run_all();
    assert_eq!(e.times(free).unwrap().start, 0);
    assert_eq!(e.times(blocked).unwrap(), OpTimes { ready: 100, start: 100, end: 110 });
}

#[test]
fn ties_at_the_same_instant_break_by_id() {
    let mut e = engine(&[1, 1, 1], true);
    let x = e.add(one(1, 10), &[]).unwrap();
    let y = e.add(one(2, 10), &[]).unwrap();
    // Both become ready at 10; the one recorded first wins, whatever order the deps end in.
    let late = e.add(one(0, 5), &[y]).unwrap();
    let early = e.add(one(0, 5), &[x]).unwrap();
    e.run_all();
    assert_eq!(e.times(late).unwrap().start, 10);
    assert_eq!(e.times(early).unwrap().start, 15);
}

#[test]
fn slots_serve_several_at_once() {
    let mut e = engine(&[2], true);
    let ops: Vec<OpId> = [100, 60, 10].iter().map(|&d| e.add(one(0, d), &[]).unwrap()).collect();
    e.run_all();
    let starts: Vec<u64> = ops.iter().map(|&o| e.times(o).unwrap().start).collect();
    assert_eq!(starts, [0, 0, 60]);
    assert_eq!(e.busy_time(0), 170);
}

#[test]
fn a_two_resource_stage_holds_both() {
    let mut e = engine(&[1, 1], true);
    let hog = e.add(one(1, 50), &[]).unwrap();
    let both = e.add(Stages::One(Stage::two(1, 0, 20)), &[]).unwrap();
    let after = e.add(one(0, 5), &[]).unwrap();
    e.run_all();
    assert_eq!(e.times(hog).unwrap().end, 50);
    // `both` takes r0 at 0, waits for r1 until 50, runs to 70; `after` (a later id) waits for r0.
    assert_eq!(e.times(both).unwrap(), OpTimes { ready: 0, start: 50, end: 70 });
    assert_eq!(e.times(after).unwrap().start, 70);
}

#[test]
fn multi_stage_ops_run_their_stages_in_order() {
    let mut e = engine(&[1, 1, 1], true);
    let busy = e.add(one(1, 25), &[]).unwrap();
    let hops = Stages::from_vec(vec![Stage::one(0, 10), Stage::one(1, 10), Stage::one(2, 10)]);
    let t = e.add(hops, &[]).unwrap();
    e.run_all();
    assert_eq!(e.times(busy).unwrap().end, 25);
    assert_eq!(e.stage_starts(t).unwrap(), [0, 25, 35]);
    assert_eq!(e.times(t).unwrap(), OpTimes { ready: 0, start: 0, end: 45 });
}

#[test]
fn joins_end_with_their_dependencies() {
    let mut e = engine(&[1, 1], true);
    let a = e.add(one(0, 10), &[]).unwrap();
    let b = e.add(one(1, 30), &[]).unwrap();
    let j = e.add(Stages::None, &[a, b]).unwrap();
    assert_eq!(e.run_until(j).unwrap(), 30);
    // A join with nothing pending ends at once, at the current time.
    let j2 = e.add(Stages::None, &[a]).unwrap();
    assert!(e.is_done(j2));
    assert_eq!(e.times(j2).unwrap().end, 30);
}

#[test]
fn ops_added_later_start_no_earlier_than_now() {
    let mut e = engine(&[1, 1], true);
    let a = e.add(one(0, 100), &[]).unwrap();
    e.run_until(a).unwrap();
    let b = e.add(one(1, 10), &[]).unwrap();
    e.run_all();
    assert_eq!(e.times(b).unwrap(), OpTimes { ready: 100, start: 100, end: 110 });
}

#[test]
fn run_until_stops_at_the_op_and_resumes() {
    let mut e = engine(&[1], true);
    let a = e.add(one(0, 10), &[]).unwrap();
    let b = e.add(one(0, 10), &[a]).unwrap();
    assert_eq!(e.run_until(a).unwrap(), 10);
    assert!(!e.is_done(b));
    assert_eq!(e.run_until_any(&[b, a]).unwrap(), 10);
    assert_eq!(e.run_until(b).unwrap(), 20);
}

#[test]
fn a_lean_engine_forgets_ended_ops() {
    let mut e = engine(&[1], false);
    let a = e.add(one(0, 10), &[]).unwrap();
    let b = e.add(one(0, 10), &[a]).unwrap();
    e.run_all();
    assert!(e.is_done(a) && e.is_done(b));
    assert_eq!(e.times(a), None);
    // A retired dependency counts as ended.
    let c = e.add(one(0, 5), &[a]).unwrap();
    assert_eq!(e.run_until(c).unwrap(), 25); // starts at now (20), not at its retired dependency's end
    assert_eq!(e.ops_held(), 0, "every ended op was retired");
}

#[test]
fn a_cleared_engine_times_like_a_new_one() {
    let mut e = engine(&[1], true);
    let a = e.add(one(0, 10), &[]).unwrap();
    e.add(one(0, 10), &[a]).unwrap();
    e.run_all();
    e.clear();
    assert_eq!((e.now(), e.makespan(), e.ops_added(), e.ops_held(), e.busy_time(0)), (0, 0, 0, 0, 0));
    let b = e.add(one(0, 7), &[]).unwrap();
    assert_eq!(e.run_until(b).unwrap(), 7);
    assert!(!e.is_done(a) || e.times(a).is_none(), "ids from before the clear are not this engine's ops");
    assert_eq!((e.seq(a), e.state(a)), (None, None), "the slot of `a` now holds `b`, under another version");
    assert_eq!(e.seq(b), Some(0));
}

#[test]
fn ids_from_before_a_clear_name_no_op_after_it_when_slots_were_recycled() {
    let mut e = engine(&[1], false);
    // Slot 0 holds `a`, then `b` once `a` is retired, then nothing: its version moved on twice.
    let a = e.add(one(0, 10), &[]).unwrap();
    e.run_all();
    let b = e.add(one(0, 10), &[]).unwrap();
    e.run_all();
    e.clear();
    let c = e.add(one(0, 3), &[]).unwrap();
    assert_ne!(c, a);
    assert_ne!(c, b, "the cleared engine's first op must not reuse a version minted before the clear");
    assert_eq!((e.state(a), e.state(b), e.state(c)), (None, None, Some(OpState::Active)));
    assert_eq!(e.run_until(c).unwrap(), 3);
}

#[test]
fn a_recycled_slot_does_not_answer_for_the_op_it_held_before() {
    let mut e = engine(&[1, 1], false);
    let a = e.add(one(0, 10), &[]).unwrap();
    e.run_all();
    // `b` takes the slot `a` was retired from.
    let b = e.add(one(0, 10), &[]).unwrap();
    assert_eq!(e.ops_held(), 1);
    assert!(e.is_done(a), "a retired op reads as ended");
    assert_eq!(e.state(a), None);
    assert_eq!(e.state(b), Some(OpState::Active));
    // Depending on the retired `a` does not wait for `b`.
    let c = e.add(one(1, 1), &[a]).unwrap();
    assert_eq!(e.seq(c), Some(2));
    assert_eq!(e.run_until(c).unwrap(), 11, "c runs beside b, on another resource");
}

#[test]
fn bad_input_is_an_error() {
    let mut e = engine(&[1], true);
    let err = e.add(one(3, 1), &[]).unwrap_err();
    assert_eq!(err.to_string(), "stage names resource 3, but the engine has 1 resources");
    let mut other = engine(&[1], true);
    let foreign = other.add(one(0, 1), &[]).unwrap();
    assert!(matches!(e.add(one(0, 1), &[foreign]).unwrap_err(), EngineError::UnknownDependency { .. }));
    assert_eq!(e.ops_added(), 0, "a refused op is not recorded");
}

#[test]
fn an_engine_without_resources_times_joins_and_refuses_stages() {
    for retain in [true, false] {
        let mut e = engine(&[], retain);
        let a = e.add(Stages::None, &[]).unwrap();
        let b = e.add(Stages::None, &[a]).unwrap();
        assert_eq!((e.run_all(), e.is_done(b), e.ops_done()), (0, true, 2));
        let err = e.add(one(0, 1), &[]).unwrap_err();
        assert_eq!(err.to_string(), "stage names resource 0, but the engine has 0 resources");
    }
}

/// The queues index resources unchecked, trusting the check made when an op is added: every
/// adding path refuses a stage naming a resource outside the table, as its first or its second,
/// and adds nothing.
#[test]
fn every_adding_path_refuses_a_resource_outside_the_table_and_adds_nothing() {
    let bad = [
        (Stage::one(2, 1), 2),
        (Stage::one(u32::MAX - 1, 1), u32::MAX - 1),
        (Stage::two(0, 2, 1), 2),
        (Stage::two(1, 7, 1), 7),
        (Stage::two(5, 1, 1), 5),
    ];
    for retain in [true, false] {
        for (stage, resource) in bad {
            let mut e = engine(&[1, 1], retain);
            let seq = e.reserve_seqs(4);
            let many = Stages::from_vec(vec![Stage::one(0, 1), stage]);
            let ways: [(&str, Result<OpId, EngineError>); 6] = [
                ("add", e.add(Stages::One(stage), &[])),
                ("add_ref", e.add_ref(&Stages::One(stage), &[])),
                ("add_reserved", e.add_reserved(seq, Stages::One(stage), &[])),
                ("add_reserved_ref", e.add_reserved_ref(seq + 1, &Stages::One(stage), &[])),
                ("add_held", e.add_held(Stages::One(stage), &[])),
                ("add, several stages", e.add(many, &[])),
            ];
            for (way, got) in ways {
                let err = got.expect_err(way);
                assert_eq!(
                    err.to_string(),
                    format!("stage names resource {resource}, but the engine has 2 resources"),
                    "{way}, retain {retain}"
                );
            }
            assert_eq!((e.ops_added(), e.ops_held()), (0, 0), "retain {retain}: a refused op is not recorded");
            // The engine goes on as if nothing had been asked of it.
            let op = e.add_reserved_ref(seq + 2, &Stages::One(Stage::two(0, 1, 9)), &[]).unwrap();
            assert_eq!((e.run_all(), e.is_done(op)), (9, true));
        }
    }
}

/// A random program: each op holds resource `r` (or `r` and `r2`) for `d` after some earlier ops.
#[derive(Debug, Clone)]
struct Spec {
    r: u32,
    r2: Option<u32>,
    d: u64,
    extra_stage: Option<(u32, u64)>,
    deps: Vec<usize>,
}

fn program() -> impl Strategy<Value = Vec<Spec>> {
    proptest::collection::vec(
        (
            0u32..4,
            proptest::option::of(0u32..4),
            0u64..50,
            proptest::option::of((0u32..4, 1u64..20)),
            proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
        ),
        1..60,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (r, r2, d, extra_stage, deps))| Spec {
                r,
                r2,
                d,
                extra_stage,
                deps: if i == 0 { vec![] } else { deps.iter().map(|x| x.index(i)).collect() },
            })
            .collect()
    })
}

fn run(specs: &[Spec]) -> (Engine, Vec<OpId>) {
    let (e, ids) = run_bounded(specs, u64::MAX).expect("no bound refuses an op");
    (e, ids)
}

/// [`run`] under a bound ([`Engine::set_bound`]); `None` when it refused an op.
fn run_bounded(specs: &[Spec], bound: u64) -> Option<(Engine, Vec<OpId>)> {
    let mut e = engine(&[1, 2, 1, 1], true);
    e.set_bound(bound);
    let mut ids = Vec::new();
    for s in specs {
        let first = match s.r2 {
            Some(r2) => Stage::two(s.r, r2, s.d),
            None => Stage::one(s.r, s.d),
        };
        let mut stages = vec![first];
        if let Some((r, d)) = s.extra_stage {
            stages.push(Stage::one(r, d));
        }
        let deps: Vec<OpId> = s.deps.iter().map(|&i| ids[i]).collect();
        match e.add(Stages::from_vec(stages), &deps) {
            Ok(id) => ids.push(id),
            Err(EngineError::Bound { demand, bound: b, .. }) if b == bound && demand >= bound => return None,
            Err(other) => panic!("{other}"),
        }
    }
    e.run_all();
    Some((e, ids))
}

proptest! {
    #[test]
    fn timing_respects_dependencies_capacity_and_is_deterministic(specs in program()) {
        let (e, ids) = run(&specs);
        let (e2, ids2) = run(&specs);
        let slots = [1usize, 2, 1, 1];
        let mut intervals: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 4];
        for (i, s) in specs.iter().enumerate() {
            let t = e.times(ids[i]).expect("every op ends");
            prop_assert_eq!(Some(t), e2.times(ids2[i]));
            let dep_end = s.deps.iter().map(|&d| e.times(ids[d]).unwrap().end).max().unwrap_or(0);
            prop_assert_eq!(t.ready, dep_end);
            prop_assert!(t.start >= t.ready);
            let stages = e.stages(ids[i]).unwrap();
            let starts: Vec<u64> = match e.stage_starts(ids[i]) { Some(s) => s.to_vec(), None => vec![t.start] };
            prop_assert_eq!(starts.len(), stages.len());
            let mut prev_end = t.ready;
            for (stage, &st) in stages.iter().zip(&starts) {
                prop_assert!(st >= prev_end);
                prev_end = st + stage.duration();
                for r in stage.resources() {
                    if stage.duration() > 0 {
                        intervals[r as usize].push((st, st + stage.duration()));
                    }
                }
            }
            prop_assert_eq!(prev_end, t.end);
        }
        // No resource ever serves more stages at once than it has slots.
        for (r, iv) in intervals.iter().enumerate() {
            let mut points: Vec<(u64, i32)> = iv.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
            points.sort_by_key(|&(t, delta)| (t, delta));
            let mut live = 0;
            for (_, delta) in points {
                live += delta;
                prop_assert!(live as usize <= slots[r], "resource {} over capacity", r);
            }
        }
    }
}

#[test]
fn a_held_op_waits_for_its_release_and_ends_with_its_last_dependency() {
    for retain in [true, false] {
        let mut e = engine(&[1, 1], retain);
        let a = e.add(one(0, 100), &[]).unwrap();
        let held = e.add_held(Stages::None, &[a]).unwrap();
        // A ends at 100; the held join does not, though its only dependency has ended.
        assert_eq!(e.next_event_time(), Some(100));
        assert!(e.step());
        assert!(!e.is_done(held));
        // Recorded at 100, B runs 100 → 350 on another resource; the release adds it.
        let b = e.add(one(1, 250), &[]).unwrap();
        e.release_hold(held, &[b, a]).unwrap();
        assert_eq!(e.run_until(held).unwrap(), 350);
        if retain {
            assert_eq!(e.times(held).unwrap(), OpTimes { ready: 350, start: 350, end: 350 });
            assert!(matches!(e.release_hold(held, &[]), Err(EngineError::NotHeld { .. })));
        }
    }
    // Released with nothing left to wait for, it becomes ready at once, at the current time.
    let mut e = engine(&[1], true);
    let a = e.add(one(0, 40), &[]).unwrap();
    let held = e.add_held(one(0, 10), &[]).unwrap();
    e.run_until(a).unwrap();
    e.release_hold(held, &[a]).unwrap();
    assert_eq!(e.run_until(held).unwrap(), 50);
    assert!(matches!(e.release_hold(a, &[]), Err(EngineError::NotHeld { .. })));
}

#[test]
fn an_op_under_a_reserved_number_competes_as_if_added_when_it_was_reserved() {
    let mut e = engine(&[1], true);
    let first = e.reserve_seqs(2);
    assert_eq!(first, 0);
    // Added first, but numbered after the reservation.
    let late = e.add(one(0, 10), &[]).unwrap();
    let early = e.add_reserved(first, one(0, 10), &[]).unwrap();
    e.run_all();
    assert_eq!(e.times(early).map(|t| (t.start, t.end)), Some((0, 10)), "the reserved number goes first");
    assert_eq!(e.times(late).map(|t| (t.start, t.end)), Some((10, 20)));
    assert_eq!((e.seq(early), e.seq(late)), (Some(0), Some(2)));
    assert_eq!(e.ops_added(), 2, "reserving numbers adds no op");
    assert_eq!(e.add_reserved(3, one(0, 1), &[]).unwrap_err(), EngineError::SeqNotReserved { seq: 3, next: 3 });
}

#[test]
fn a_watched_op_raises_the_flag_once_when_it_ends() {
    let mut e = engine(&[1, 1], false);
    let a = e.add(one(0, 10), &[]).unwrap();
    let b = e.add(one(1, 20), &[]).unwrap();
    e.watch(&[b]);
    assert!(!e.take_watch_rung());
    assert_eq!(e.run_until(a).unwrap(), 10);
    assert!(!e.take_watch_rung(), "a is not watched");
    assert_eq!(e.run_until_any(&[a, b]).unwrap(), 10, "a has ended: nothing to run");
    assert_eq!(e.run_until(b).unwrap(), 20);
    assert!(e.take_watch_rung(), "b is watched and has ended");
    assert!(!e.take_watch_rung(), "taking the flag clears it");
    // A recycled slot is not watched for its new op.
    let c = e.add(one(0, 5), &[]).unwrap();
    e.run_until(c).unwrap();
    assert!(!e.take_watch_rung());
}

#[test]
fn a_bound_refuses_the_op_that_asks_a_resource_for_that_much_work_and_adds_nothing() {
    let mut e = engine(&[1, 2], false);
    e.set_bound(100);
    e.add(one(0, 60), &[]).unwrap();
    // Two slots: 150 ps of work on resource 1 is 75 per slot, under the bound.
    e.add(Stages::One(Stage::two(0, 1, 30)), &[]).unwrap();
    e.add(one(1, 120), &[]).unwrap();
    let err = e.add(one(0, 10), &[]).unwrap_err();
    assert_eq!(err, EngineError::Bound { resource: 0, demand: 100, bound: 100 });
    assert_eq!(err.to_string(), "resource 0 would be asked for 100 ps of work per slot, reaching the bound of 100 ps");
    // The refused op counted nothing, and is not there: a shorter one still fits.
    assert_eq!(e.ops_added(), 3);
    e.add(one(0, 9), &[]).unwrap();
    // Resource 0 is busy 60 + 30 + 9 ps, under the bound; resource 1's long stage ends last.
    assert_eq!(e.run_all(), 120);
    assert_eq!(e.busy_time(0), 99);
    // Without a bound, nothing is refused.
    e.set_bound(u64::MAX);
    e.add(one(0, 1_000), &[]).unwrap();
}

proptest! {
    #[test]
    fn a_bound_refuses_only_runs_that_end_at_or_after_it_and_changes_no_timing(
        specs in program(),
        fraction in 0.0f64..1.5,
    ) {
        let (free, ids) = run(&specs);
        let makespan = free.makespan();
        let bound = ((makespan as f64 * fraction) as u64).max(1);
        match run_bounded(&specs, bound) {
            // Refused: the ops could not all have ended before the bound.
            None => prop_assert!(makespan >= bound, "refused under {} ps, yet it ends at {} ps", bound, makespan),
            Some((bounded, bounded_ids)) => {
                for (a, b) in ids.iter().zip(&bounded_ids) {
                    prop_assert_eq!(free.times(*a), bounded.times(*b));
                }
            }
        }
    }
}

#[test]
fn ops_added_with_borrowed_stages_time_as_owned_ones() {
    let hops = Stages::from_vec(vec![Stage::one(0, 10), Stage::one(1, 20), Stage::one(2, 5)]);
    let run = |borrowed: bool| {
        let mut e = engine(&[1, 1, 1], true);
        let first = e.reserve_seqs(2);
        let add = |e: &mut Engine, seq: u64, stages: &Stages, deps: &[OpId]| {
            if borrowed { e.add_reserved_ref(seq, stages, deps) } else { e.add_reserved(seq, stages.clone(), deps) }
        };
        let a = add(&mut e, first + 1, &hops, &[]).unwrap();
        let b = add(&mut e, first, &hops, &[]).unwrap();
        let c = if borrowed { e.add_ref(&one(1, 7), &[a]) } else { e.add(one(1, 7), &[a]) }.unwrap();
        // `c` took the next number, first + 2: first + 3 was never handed out.
        assert_eq!(
            add(&mut e, first + 3, &hops, &[]).unwrap_err(),
            EngineError::SeqNotReserved { seq: first + 3, next: first + 3 }
        );
        e.run_all();
        [a, b, c].map(|op| (e.times(op).unwrap(), e.stages(op).unwrap().to_vec()))
    };
    let owned = run(false);
    assert_eq!(run(true), owned);
    // The op with the lower reserved number goes first on every hop.
    assert_eq!((owned[1].0.start, owned[0].0.start), (0, 10));
    assert_eq!(hops.as_slice().len(), 3);
}

/// An independent reference for the engine's timing: its rules written as plainly as possible,
/// for a program whose ops are all added at time 0 in order (op `i` has sequence number `i`).
/// An op is ready when its dependencies have ended; it then queues for its first stage's
/// resources, one at a time in ascending index, holding those it has. At each instant the
/// resources are swept in ascending index, each granting its free slots to its waiting ops with
/// the lowest numbers; then every stage due at the next instant ends, and its op queues for its
/// next stage or ends. An op without stages ends as soon as it is ready.
struct Reference<'a> {
    ops: &'a [Vec<Stage>],
    now: u64,
    ready: Vec<u64>,
    start: Vec<Option<u64>>,
    end: Vec<Option<u64>>,
    /// When each stage of each op started.
    starts: Vec<Vec<u64>>,
    stage: Vec<usize>,
    held: Vec<usize>,
    pending: Vec<usize>,
    succs: Vec<Vec<usize>>,
    /// Per resource, the ops waiting for it.
    waiting: Vec<Vec<usize>>,
}

impl Reference<'_> {
    /// Each op's times and the start of each of its stages.
    fn run(slots: &[u32], ops: &[Vec<Stage>], deps: &[Vec<usize>]) -> Vec<(OpTimes, Vec<u64>)> {
        let n = ops.len();
        let mut m = Reference {
            ops,
            now: 0,
            ready: vec![0; n],
            start: vec![None; n],
            end: vec![None; n],
            starts: vec![Vec::new(); n],
            stage: vec![0; n],
            held: vec![0; n],
            pending: vec![0; n],
            succs: vec![Vec::new(); n],
            waiting: vec![Vec::new(); slots.len()],
        };
        for (i, deps) in deps.iter().enumerate() {
            for &d in deps {
                if m.end[d].is_none() {
                    m.pending[i] += 1;
                    m.succs[d].push(i);
                }
            }
            if m.pending[i] == 0 {
                m.ready_now(i);
            }
        }
        let mut busy = vec![0u32; slots.len()];
        let mut events: Vec<(u64, usize)> = Vec::new();
        loop {
            for r in 0..slots.len() {
                while busy[r] < slots[r] && !m.waiting[r].is_empty() {
                    let (at, &i) = m.waiting[r].iter().enumerate().min_by_key(|&(_, &i)| i).unwrap();
                    m.waiting[r].remove(at);
                    busy[r] += 1;
                    m.held[i] += 1;
                    let st = ops[i][m.stage[i]];
                    let rs: Vec<u32> = st.resources().collect();
                    if m.held[i] < rs.len() {
                        m.waiting[rs[m.held[i]] as usize].push(i);
                        continue;
                    }
                    if m.stage[i] == 0 {
                        m.start[i] = Some(m.now);
                    }
                    m.starts[i].push(m.now);
                    events.push((m.now + st.duration(), i));
                }
            }
            let Some(t) = events.iter().map(|&(t, _)| t).min() else { break };
            m.now = t;
            let due: Vec<usize> = events.iter().filter(|&&(t, _)| t == m.now).map(|&(_, i)| i).collect();
            events.retain(|&(t, _)| t != m.now);
            for i in due {
                for r in ops[i][m.stage[i]].resources() {
                    busy[r as usize] -= 1;
                }
                m.stage[i] += 1;
                m.held[i] = 0;
                match ops[i].get(m.stage[i]) {
                    Some(next) => m.waiting[next.resources().next().unwrap() as usize].push(i),
                    None => m.finish(i),
                }
            }
        }
        (0..n)
            .map(|i| {
                let times = OpTimes { ready: m.ready[i], start: m.start[i].unwrap(), end: m.end[i].unwrap() };
                (times, std::mem::take(&mut m.starts[i]))
            })
            .collect()
    }

    /// Op `i` is ready: it queues for its first resource, or, without stages, ends now.
    fn ready_now(&mut self, i: usize) {
        match self.ops[i].first() {
            Some(first) => self.waiting[first.resources().next().unwrap() as usize].push(i),
            None => self.finish(i),
        }
    }

    /// Op `i` ends now; its successors that have no dependency left become ready.
    fn finish(&mut self, i: usize) {
        self.end[i] = Some(self.now);
        if self.ops[i].is_empty() {
            self.start[i] = Some(self.now);
        }
        for s in std::mem::take(&mut self.succs[i]) {
            self.pending[s] -= 1;
            self.ready[s] = self.ready[s].max(self.now);
            if self.pending[s] == 0 {
                self.ready_now(s);
            }
        }
    }
}

proptest! {
    #[test]
    fn the_engine_times_every_op_as_the_plain_reference_does(
        specs in program(),
        joins in proptest::collection::vec(proptest::bool::weighted(0.15), 60),
        slots in proptest::collection::vec(1u32..4, 4),
    ) {
        let ops: Vec<Vec<Stage>> = specs
            .iter()
            .zip(&joins)
            .map(|(s, &join)| {
                if join {
                    return Vec::new();
                }
                let first = match s.r2 {
                    Some(r2) => Stage::two(s.r, r2, s.d),
                    None => Stage::one(s.r, s.d),
                };
                std::iter::once(first).chain(s.extra_stage.map(|(r, d)| Stage::one(r, d))).collect()
            })
            .collect();
        let deps: Vec<Vec<usize>> = specs.iter().map(|s| s.deps.clone()).collect();
        let want = Reference::run(&slots, &ops, &deps);
        for retain in [true, false] {
            let mut e = engine(&slots, retain);
            let mut ids = Vec::new();
            for (stages, deps) in ops.iter().zip(&deps) {
                let deps: Vec<OpId> = deps.iter().map(|&d| ids[d]).collect();
                ids.push(e.add(Stages::from_vec(stages.clone()), &deps).unwrap());
            }
            let makespan = e.run_all();
            prop_assert_eq!(makespan, want.iter().map(|(t, _)| t.end).max().unwrap_or(0));
            if retain {
                for (i, (times, starts)) in want.iter().enumerate() {
                    prop_assert_eq!(e.times(ids[i]), Some(*times), "op {}", i);
                    let got = e.stage_starts(ids[i]).map(<[u64]>::to_vec).unwrap_or_else(|| vec![times.start]);
                    let want_starts = if ops[i].is_empty() { vec![times.start] } else { starts.clone() };
                    prop_assert_eq!(got, want_starts, "op {}", i);
                }
            }
        }
    }
}
