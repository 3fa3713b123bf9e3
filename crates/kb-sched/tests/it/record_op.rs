//! `Runtime::record_op` and `Work::from_op`: ops recorded by upper layers take the tensors' hazards.

use kb_mem::DType;
use kb_oplog::{BinaryOp, Op, OpKind, Pe};
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
