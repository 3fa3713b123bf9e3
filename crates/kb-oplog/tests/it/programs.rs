//! Snapshots of the op log and timings of small hand-built programs.

use kb_mem::DType;
use kb_oplog::{Mode, Op, OpKind, Pe, Sim};

use crate::common::{hbm, ring, tcm};

#[test]
fn a_single_dma() {
    let mut sim = Sim::new(ring(2), Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let op = sim
        .record(
            OpKind::Dma { pe, src: hbm(0, 0, DType::F16, &[128, 256]), dst: tcm(0, 0, 0, DType::F16, &[128, 256]) },
            &[],
        )
        .unwrap();
    sim.run_until(op).unwrap();
    insta::assert_snapshot!(sim.log_table());
}

#[test]
fn load_gemm_store_chain() {
    let mut sim = Sim::new(ring(1), Mode::TIMING).unwrap();
    let pe = Pe { device: 0, pe: 1 };
    let (m, n, k) = (128, 128, 64);
    let a = sim
        .record(
            Op::labelled(
                OpKind::Dma { pe, src: hbm(0, 0, DType::BF16, &[m, k]), dst: tcm(0, 1, 0, DType::BF16, &[m, k]) },
                "load A",
            ),
            &[],
        )
        .unwrap();
    let b = sim
        .record(
            Op::labelled(
                OpKind::Dma {
                    pe,
                    src: hbm(0, 1 << 20, DType::BF16, &[k, n]),
                    dst: tcm(0, 1, 1 << 16, DType::BF16, &[k, n]),
                },
                "load B",
            ),
            &[],
        )
        .unwrap();
    let c_tile = tcm(0, 1, 1 << 17, DType::F32, &[m, n]);
    let g = sim
        .record(
            Op::labelled(
                OpKind::Gemm {
                    pe,
                    a: tcm(0, 1, 0, DType::BF16, &[m, k]),
                    b: tcm(0, 1, 1 << 16, DType::BF16, &[k, n]),
                    c: c_tile.clone(),
                    accumulate: false,
                },
                "dot",
            ),
            &[a, b],
        )
        .unwrap();
    let s = sim
        .record(
            Op::labelled(OpKind::Dma { pe, src: c_tile, dst: hbm(0, 2 << 20, DType::F32, &[m, n]) }, "store C"),
            &[g],
        )
        .unwrap();
    sim.run_until(s).unwrap();
    insta::assert_snapshot!(sim.log_table());
}

#[test]
fn two_pes_contending_for_hbm() {
    // HBM as fast as one DMA engine: one slot, so the second PE's load queues behind the first.
    let mut spec = ring(1);
    spec.device.hbm_gbps = spec.device.dma_gbps;
    let mut sim = Sim::new(spec, Mode::TIMING).unwrap();
    for p in 0..2 {
        let pe = Pe { device: 0, pe: p };
        let src = hbm(0, p as u64 * (1 << 20), DType::F32, &[64, 64]);
        sim.record(
            Op::labelled(OpKind::Dma { pe, src, dst: tcm(0, p, 0, DType::F32, &[64, 64]) }, format!("load on PE {p}")),
            &[],
        )
        .unwrap();
    }
    sim.run_all();
    insta::assert_snapshot!(sim.log_table());
}

#[test]
fn a_three_hop_link_transfer() {
    let mut sim = Sim::new(ring(8), Mode::TIMING).unwrap();
    let op = sim
        .record(OpKind::LinkTransfer { src: hbm(0, 0, DType::F32, &[1024]), dst: hbm(3, 0, DType::F32, &[1024]) }, &[])
        .unwrap();
    sim.run_until(op).unwrap();
    insta::assert_snapshot!(sim.log_table());
}
