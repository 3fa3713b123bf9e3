//! Uncontended timings equal their closed forms to the picosecond; contended ones start exactly
//! when the resource frees.

use kb_mem::DType;
use kb_oplog::{BinaryOp, MachineSpec, Mode, OpKind, Pe, Sim, Topology, UnaryOp, VectorOp};

use crate::common::{bytes_ps, hbm, ps, ring, tcm};

#[test]
fn dma_closed_forms() {
    let spec = ring(2);
    let d = spec.device;
    let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let bytes = 96 * 1024;
    let n = bytes / 4;
    // HBM → TCM: HBM slots = ⌊hbm / dma⌋, share = hbm / slots.
    let slots = (d.hbm_gbps / d.dma_gbps).floor().max(1.0);
    let bw = d.dma_gbps.min(d.hbm_gbps / slots);
    let load = sim
        .record(OpKind::Dma { pe, src: hbm(0, 0, DType::F32, &[n]), dst: tcm(0, 0, 0, DType::F32, &[n]) }, &[])
        .unwrap();
    assert_eq!(sim.run_until(load).unwrap(), ps(d.dma_setup_ns) + bytes_ps(bytes as u64, bw));
    // TCM → TCM of another PE: the DMA engine alone.
    let t0 = sim.now();
    let copy = sim
        .record(OpKind::Dma { pe, src: tcm(0, 0, 0, DType::F32, &[n]), dst: tcm(0, 1, 0, DType::F32, &[n]) }, &[])
        .unwrap();
    assert_eq!(sim.run_until(copy).unwrap() - t0, ps(d.dma_setup_ns) + bytes_ps(bytes as u64, d.dma_gbps));
}

#[test]
fn gemm_and_vector_closed_forms() {
    let spec = ring(1);
    let d = spec.device;
    let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let (m, n, k) = (64usize, 96usize, 128usize);
    let g = sim
        .record(
            OpKind::Gemm {
                pe,
                a: tcm(0, 0, 0, DType::F16, &[m, k]),
                b: tcm(0, 0, 1 << 15, DType::F16, &[k, n]),
                c: tcm(0, 0, 1 << 16, DType::F32, &[m, n]),
                accumulate: true,
            },
            &[],
        )
        .unwrap();
    let flops = 2.0 * (m * n * k) as f64;
    let gemm_ps = (flops / (d.gemm_flops_per_cycle.f16 * d.clock_ghz) * 1000.0).round() as u64 + ps(d.gemm_issue_ns);
    assert_eq!(sim.run_until(g).unwrap(), gemm_ps);
    let x = tcm(0, 0, 1 << 16, DType::F32, &[m, n]);
    let v = sim
        .record(OpKind::Vector { pe, op: VectorOp::Unary { op: UnaryOp::Exp, x: x.clone(), out: x.clone() } }, &[g])
        .unwrap();
    let exp_ps = ((4 * m * n) as f64 / (d.vector_flops_per_cycle * d.clock_ghz) * 1000.0).round() as u64;
    assert_eq!(sim.run_until(v).unwrap(), gemm_ps + exp_ps);
    let s = sim
        .record(
            OpKind::Vector { pe, op: VectorOp::Scalar { op: BinaryOp::Mul, x: x.clone(), scalar: 2.0, out: x } },
            &[v],
        )
        .unwrap();
    let mul_ps = ((m * n) as f64 / (d.vector_flops_per_cycle * d.clock_ghz) * 1000.0).round() as u64;
    assert_eq!(sim.run_until(s).unwrap(), gemm_ps + exp_ps + mul_ps);
}

#[test]
fn a_gemm_reading_hbm_is_bound_by_the_slower_of_compute_and_memory() {
    let mut spec = ring(1);
    spec.device.hbm_gbps = 50.0;
    spec.device.dma_gbps = 50.0;
    let d = spec.device;
    let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let (m, n, k) = (1024usize, 16usize, 1024usize);
    let g = sim
        .record(
            OpKind::Gemm {
                pe,
                a: hbm(0, 0, DType::F32, &[m, k]),
                b: tcm(0, 0, 0, DType::F32, &[k, n]),
                c: tcm(0, 0, 1 << 17, DType::F32, &[m, n]),
                accumulate: false,
            },
            &[],
        )
        .unwrap();
    let compute = (2.0 * (m * n * k) as f64 / (d.gemm_flops_per_cycle.f32 * d.clock_ghz) * 1000.0).round() as u64;
    let memory = bytes_ps((m * k * 4) as u64, 50.0);
    assert!(memory > compute, "the test wants a memory-bound GEMM");
    assert_eq!(sim.run_until(g).unwrap(), memory + ps(d.gemm_issue_ns));
}

#[test]
fn a_queued_op_starts_exactly_when_the_resource_frees() {
    let spec = ring(1);
    let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let first = sim
        .record(OpKind::Dma { pe, src: hbm(0, 0, DType::F32, &[4096]), dst: tcm(0, 0, 0, DType::F32, &[4096]) }, &[])
        .unwrap();
    let second = sim
        .record(OpKind::Dma { pe, src: hbm(0, 0, DType::F32, &[16]), dst: tcm(0, 0, 1 << 16, DType::F32, &[16]) }, &[])
        .unwrap();
    sim.run_all();
    let (a, b) = (sim.times(first).unwrap(), sim.times(second).unwrap());
    assert_eq!(b.ready, 0);
    assert_eq!(b.start, a.end);
}

#[test]
fn link_transfers_are_per_hop_on_every_topology() {
    let bytes = 1u64 << 20;
    for (topology, ranks, from, to, hops) in [
        (Topology::Ring, 8, 0, 3, 3),
        (Topology::Ring, 8, 0, 5, 3),
        (Topology::Switch, 4, 1, 3, 2),
        (Topology::Torus2d { dims: [4, 4] }, 16, 0, 10, 4),
    ] {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = ranks;
        spec.cluster.topology = topology;
        let c = spec.cluster;
        let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
        let n = (bytes / 4) as usize;
        let op = sim
            .record(
                OpKind::LinkTransfer { src: hbm(from, 0, DType::F32, &[n]), dst: hbm(to, 0, DType::F32, &[n]) },
                &[],
            )
            .unwrap();
        let want = hops * (ps(c.link_latency_ns) + bytes_ps(bytes, c.link_gbps));
        assert_eq!(sim.run_until(op).unwrap(), want, "{topology:?} {from}→{to}");
    }
}

#[test]
fn transfers_sharing_a_link_queue() {
    let spec = ring(4);
    let c = spec.cluster;
    let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
    // 0→2 goes 0→1→2; 1→2 shares the link 1→2 and is recorded second.
    let a = sim
        .record(OpKind::LinkTransfer { src: hbm(0, 0, DType::F32, &[1024]), dst: hbm(2, 0, DType::F32, &[1024]) }, &[])
        .unwrap();
    let b = sim
        .record(
            OpKind::LinkTransfer { src: hbm(1, 0, DType::F32, &[1024]), dst: hbm(2, 4096, DType::F32, &[1024]) },
            &[],
        )
        .unwrap();
    sim.run_all();
    let hop = ps(c.link_latency_ns) + bytes_ps(4096, c.link_gbps);
    // b is alone on 1→2 at time 0; a's second hop then waits for it.
    assert_eq!(sim.times(b).unwrap().end, hop);
    assert_eq!(sim.times(a).unwrap().end, 2 * hop);
}

#[test]
fn the_slices_of_a_message_on_one_route_share_one_stage_list() {
    let spec = ring(8);
    let c = spec.cluster;
    let model = kb_oplog::CostModel::new(&spec);
    let transfer = |from: u32, to: u32, n: usize| OpKind::LinkTransfer {
        src: hbm(from, 0, DType::F32, &[n]),
        dst: hbm(to, 0, DType::F32, &[n]),
    };
    let list = |stages: kb_oplog::Stages| match stages {
        kb_oplog::Stages::Many(list) => list,
        other => panic!("a 4-hop transfer has several stages, not {other:?}"),
    };
    let first = list(model.stages(&transfer(0, 4, 1024)));
    // Another route and another size in between, as a collective interleaves its members.
    let back = list(model.stages(&transfer(4, 0, 1024)));
    let shorter = list(model.stages(&transfer(0, 4, 256)));
    let again = list(model.stages(&transfer(0, 4, 1024)));
    assert!(std::sync::Arc::ptr_eq(&first, &again), "two slices of one size on one route share their list");
    assert!(!std::sync::Arc::ptr_eq(&first, &back) && !std::sync::Arc::ptr_eq(&first, &shorter));
    // Each list is still its own transfer's: four hops at that size's hop time.
    for (stages, bytes) in [(&first, 4096), (&back, 4096), (&shorter, 1024)] {
        assert_eq!(stages.len(), 4);
        let hop = ps(c.link_latency_ns) + bytes_ps(bytes, c.link_gbps);
        assert!(stages.iter().all(|s| s.duration() == hop), "{bytes} bytes");
    }
    let links = |l: &[kb_oplog::Stage]| l.iter().flat_map(|s| s.resources()).collect::<Vec<_>>();
    assert_eq!(links(&first), links(&shorter));
    assert_ne!(links(&first), links(&back), "the way back takes the links of the other direction");
}
