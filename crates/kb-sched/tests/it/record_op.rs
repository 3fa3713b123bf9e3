//! `Runtime::record_op` and `Work::from_op`: ops recorded by upper layers take the tensors' hazards.

use kb_mem::DType;
use kb_oplog::{BinaryOp, Op, OpId, OpKind, Pe};
use kb_sched::{Runtime, Work};

use crate::common::runtime;

#[test]
fn a_recorded_transfer_waits_for_its_source_and_its_target_is_read_after_it() {
    let rt = runtime(2);
    let (d0, d1) = (rt.device(0).unwrap(), rt.device(1).unwrap());
    let src = d0.from_slice(&[4], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
    let dst = d1.full(&[4], 10.0, DType::F32).unwrap();
    let scratch = d1.empty(&[4], DType::F32).unwrap();
    let send = rt
        .record_op(
            OpKind::LinkTransfer { src: src.region().unwrap(), dst: scratch.region().unwrap() },
            &[&src],
            &[&scratch],
            &[],
        )
        .unwrap();
    let reduce = rt
        .record_op(
            OpKind::ReduceInto {
                pe: Pe { device: 1, pe: 0 },
                src: scratch.region().unwrap(),
                dst: dst.region().unwrap(),
                op: BinaryOp::Add,
            },
            &[&scratch, &dst],
            &[&dst],
            &[],
        )
        .unwrap();
    let join = rt.record_op(Op::labelled(OpKind::Join, "done"), &[], &[], &[reduce]).unwrap();
    let work = Work::from_op(&rt, join);
    assert!(!work.is_completed());
    let end = work.wait().unwrap();
    assert!(work.is_completed());
    // The host read waits for the reduce: the hazards of `dst` ordered it.
    assert_eq!(dst.to_vec::<f32>().unwrap(), [11.0, 12.0, 13.0, 14.0]);
    rt.with_sim(|sim| {
        let (s, r) = (sim.times(send).unwrap(), sim.times(reduce).unwrap());
        assert!(r.start >= s.end, "the reduce starts after the transfer it reads: {s:?} {r:?}");
        assert_eq!(r.end, end);
    });
}

#[test]
fn a_tensor_of_another_runtime_is_refused() {
    let (rt, other) = (runtime(1), Runtime::with_default_machine().unwrap());
    let t = other.device(0).unwrap().zeros(&[2], DType::F32).unwrap();
    let e = rt.record_op(OpKind::Join, &[&t], &[], &[]).unwrap_err();
    assert_eq!(e.to_string(), "record_op: a tensor on device 0 belongs to another runtime");
}

/// Records a ping-pong of `rounds` link transfers between devices 0 and 1 on `rt`, each after the
/// one before: all at once, or one wave per transfer when `waves`. Returns the held end join's
/// time.
fn ping_pong(rt: &Runtime, rounds: usize, waves: bool) -> u64 {
    let (d0, d1) = (rt.device(0).unwrap(), rt.device(1).unwrap());
    let (a, b) = (d0.empty(&[1024], DType::F32).unwrap(), d1.empty(&[1024], DType::F32).unwrap());
    let (ra, rb) = (a.region().unwrap(), b.region().unwrap());
    let end = rt.record_op_held(OpKind::Join, &[], &[&a, &b], &[]).unwrap();
    let hop = move |i: usize| {
        let (src, dst) = if i.is_multiple_of(2) { (ra.clone(), rb.clone()) } else { (rb.clone(), ra.clone()) };
        Op::labelled(OpKind::LinkTransfer { src, dst }, "hop")
    };
    let mut last = rt.record_after(&hop(0), &[]).unwrap();
    if !waves {
        for i in 1..rounds {
            last = rt.record_after(&hop(i), &[last]).unwrap();
        }
        rt.release_hold(end, &[last]).unwrap();
    } else {
        let mut i = 0;
        let alarm = rt.next_seq() - 1;
        rt.defer(
            alarm,
            Box::new(move |rt: &Runtime| {
                i += 1;
                let alarm = rt.next_seq();
                last = rt.record_after(&hop(i), &[last])?;
                if i + 1 == rounds {
                    rt.release_hold(end, &[last])?;
                    return Ok(None);
                }
                Ok(Some(alarm))
            }),
        )
        .unwrap();
    }
    Work::from_op(rt, end).wait().unwrap()
}

#[test]
fn a_batch_recorded_wave_by_wave_times_as_one_recorded_at_once() {
    let at_once = ping_pong(&runtime(2), 6, false);
    let mut spec = kb_oplog::MachineSpec::default();
    spec.cluster.ranks = 2;
    let timing = Runtime::new(spec, kb_oplog::Mode::TIMING_LEAN).unwrap();
    assert_eq!(ping_pong(&timing, 6, true), at_once);
    // Six hops of 4 KiB, one after the other.
    let one = kb_oplog::ps_from_ns(500.0) + kb_oplog::transfer_ps(4096, 100.0);
    assert_eq!(at_once, 6 * one);
    // A runtime that keeps data records everything at once: replay follows recording order.
    let e = runtime(2).defer(0, Box::new(|_: &Runtime| Ok(None))).unwrap_err();
    assert!(e.to_string().contains("records every op at once"), "{e}");
}

/// A lean runtime on two ranks, a 4 KiB hop from rank 0 to rank 1, and a join of its tensors to
/// start a chain of hops after.
fn a_hop() -> (Runtime, Op, OpId) {
    let mut spec = kb_oplog::MachineSpec::default();
    spec.cluster.ranks = 2;
    let rt = Runtime::new(spec, kb_oplog::Mode::TIMING_LEAN).unwrap();
    let (d0, d1) = (rt.device(0).unwrap(), rt.device(1).unwrap());
    let (src, dst) = (d0.empty(&[1024], DType::F32).unwrap(), d1.empty(&[1024], DType::F32).unwrap());
    let hop = Op::labelled(OpKind::LinkTransfer { src: src.region().unwrap(), dst: dst.region().unwrap() }, "hop");
    let start = rt.record_op(Op::labelled(OpKind::Join, "start"), &[&src], &[&dst], &[]).unwrap();
    (rt, hop, start)
}

/// A chain of `hops` link transfers of 4 KiB from device 0 to device 1 on a runtime that keeps no
/// ops, recorded whole or by their cost; returns the end of the last.
fn chain_of_hops(hops: usize, by_cost: bool) -> u64 {
    let (rt, hop, mut last) = a_hop();
    if by_cost {
        last = rt
            .costed(|c| {
                let stages = c.cost(&hop)?;
                (0..hops).try_fold(last, |prev, _| c.record(None, &stages, &[prev]))
            })
            .unwrap()
            .unwrap();
    } else {
        for _ in 0..hops {
            last = rt.record_after(&hop, &[last]).unwrap();
        }
    }
    Work::from_op(&rt, last).wait().unwrap()
}

#[test]
fn ops_recorded_by_their_cost_time_as_whole_ops_and_a_runtime_keeping_ops_refuses_them() {
    let spec = kb_oplog::MachineSpec::default();
    let c = &spec.cluster;
    // Each hop: the link's latency, then 4 KiB at the link's bandwidth (GB/s = bytes per ns).
    let hop_ps = (c.link_latency_ns * 1e3).round() as u64 + (4096.0 / c.link_gbps * 1e3).round() as u64;
    assert_eq!(chain_of_hops(5, false), 5 * hop_ps);
    assert_eq!(chain_of_hops(5, true), 5 * hop_ps);

    let rt = crate::common::timing_runtime();
    let err = rt.costed(|_| ()).unwrap_err();
    assert_eq!(err.to_string(), "costed records ops by their cost alone, but this simulation keeps every op");
}

#[test]
fn a_bounded_run_stops_once_it_cannot_end_before_its_bound() {
    let spec = kb_oplog::MachineSpec::default();
    let c = &spec.cluster;
    let hop_ps = (c.link_latency_ns * 1e3).round() as u64 + (4096.0 / c.link_gbps * 1e3).round() as u64;
    // Five hops over one link, recorded under `bound`; the time, or None.
    let hops_within = |bound: u64, set_first: bool| {
        let (rt, hop, mut last) = a_hop();
        if set_first {
            rt.set_bound(bound);
        }
        for _ in 0..5 {
            match rt.record_after(&hop, &[last]) {
                Ok(op) => last = op,
                Err(e) => {
                    assert!(e.is_bound(), "{e}");
                    assert!(e.to_string().contains(&format!("reaching the bound of {bound} ps")), "{e}");
                    return None;
                }
            }
        }
        rt.run_all_within(bound).unwrap()
    };
    let whole = 5 * hop_ps;
    // A bound past the end changes nothing.
    assert_eq!(hops_within(whole + 1, true), Some(whole));
    assert_eq!(hops_within(u64::MAX, true), Some(whole));
    // Set before recording, the bound refuses the hop that asks the link for the whole bound.
    assert_eq!(hops_within(whole, true), None);
    assert_eq!(hops_within(3 * hop_ps, true), None);
    // Set after, the clock stops the run at the bound.
    assert_eq!(hops_within(whole, false), None);
    assert_eq!(hops_within(hop_ps, false), None);
    assert_eq!(hops_within(whole + 1, false), Some(whole));
}
