use kb_mem::{DType, Region, Space};

use super::*;

fn spec() -> MachineSpec {
    let mut s = MachineSpec::default();
    s.cluster.ranks = 2;
    s.device.pes = 2;
    s.device.tcm_bytes = 1 << 16;
    s
}

fn hbm(device: u32, addr: u64, shape: &[usize]) -> Region {
    Region::contiguous(Space::Hbm { device }, addr, DType::F32, shape).unwrap()
}

fn tcm(device: u32, pe: u32, addr: u64, shape: &[usize]) -> Region {
    Region::contiguous(Space::Tcm { device, pe }, addr, DType::F32, shape).unwrap()
}

#[test]
fn regions_outside_their_space_are_refused() {
    let mut sim = Sim::new(spec(), Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let err =
        sim.record(OpKind::Dma { pe, src: hbm(0, 0, &[8]), dst: tcm(0, 0, (1 << 16) - 16, &[8]) }, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid dma op: region f32 [8] at 0xfff0 of device 0 PE 0 TCM ends at byte 65552, outside the space's capacity of 65536 bytes"
    );
    let err = sim.record(Op::labelled(OpKind::Fill { dst: hbm(5, 0, &[1]), value: 0.0 }, "zeros"), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid fill op \"zeros\": device 5 HBM does not exist (the machine has 2 devices of 2 PEs)"
    );
    assert_eq!(sim.engine().ops_added(), 0);
}

#[test]
fn compute_operands_must_be_within_reach() {
    let mut sim = Sim::new(spec(), Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let op = OpKind::Vector {
        pe,
        op: crate::VectorOp::Unary { op: crate::UnaryOp::Exp, x: tcm(0, 1, 0, &[4]), out: tcm(0, 0, 0, &[4]) },
    };
    let err = sim.record(op, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid vector.unary op: operand f32 [4] at 0x0 of device 0 PE 1 TCM is out of reach of device 0 PE 0, which computes on its own TCM and its device's HBM"
    );
    let bad_pe = Pe { device: 0, pe: 7 };
    let err = sim.record(OpKind::Dma { pe: bad_pe, src: hbm(0, 0, &[4]), dst: hbm(0, 64, &[4]) }, &[]).unwrap_err();
    assert_eq!(err.to_string(), "invalid dma op: device 0 PE 7 does not exist (the machine has 2 devices of 2 PEs)");
    let err = sim
        .record(OpKind::Dma { pe: Pe { device: 1, pe: 0 }, src: hbm(0, 0, &[4]), dst: hbm(0, 64, &[4]) }, &[])
        .unwrap_err();
    assert!(err.to_string().contains("cannot move bytes from device 0 to device 0"), "{err}");
}

#[test]
fn timing_only_has_no_data() {
    let mut sim = Sim::new(spec(), Mode::TIMING).unwrap();
    let op = sim.record(OpKind::Fill { dst: hbm(0, 0, &[4]), value: 1.0 }, &[]).unwrap();
    assert_eq!(sim.replay_until(op).unwrap_err().to_string(), "replay needs data, but this simulation is timing-only");
    assert_eq!(
        sim.store().unwrap_err().to_string(),
        "reading device memory needs data, but this simulation is timing-only"
    );
    let lean = Sim::new(spec(), Mode::TIMING_LEAN).unwrap();
    assert_eq!(
        lean.trace_events().unwrap_err().to_string(),
        "a trace needs the recorded ops, but this simulation does not keep them"
    );
}

#[test]
fn replay_is_incremental_and_in_recording_order() {
    let mut sim = Sim::new(spec(), Mode::DATA).unwrap();
    let x = hbm(0, 0, &[2]);
    let a = sim.record(OpKind::Fill { dst: x.clone(), value: 3.0 }, &[]).unwrap();
    let b = sim.record(OpKind::Fill { dst: x.clone(), value: 5.0 }, &[]).unwrap();
    sim.replay_until(a).unwrap();
    assert_eq!(sim.replayed(), 1);
    assert_eq!(sim.store().unwrap().read_region_f32(&x).unwrap(), [3.0, 3.0]);
    sim.replay_until(b).unwrap();
    sim.replay_until(a).unwrap(); // already replayed: nothing happens
    assert_eq!(sim.store().unwrap().read_region_f32(&x).unwrap(), [5.0, 5.0]);
}
