//! Replay produces the program's numbers, from the op log alone.

use kb_mem::DType;
use kb_oplog::{BinaryOp, Mode, OpKind, Pe, Sim, VectorOp};

use crate::common::{hbm, ring, tcm};

fn write_f32(sim: &mut Sim, dst: kb_mem::Region, values: &[f32]) -> kb_oplog::OpId {
    sim.record(OpKind::HostWrite { dst, data: bytemuck::cast_slice(values).into() }, &[]).unwrap()
}

/// One "kernel": load `src` into the TCM scratch at address 0, scale it, store it to `dst`.
fn scale_kernel(
    sim: &mut Sim,
    src: kb_mem::Region,
    dst: kb_mem::Region,
    by: f64,
    after: &[kb_oplog::OpId],
) -> kb_oplog::OpId {
    let pe = Pe { device: 0, pe: 0 };
    let n = src.numel();
    let scratch = tcm(0, 0, 0, DType::F32, &[n]);
    let load = sim.record(OpKind::Dma { pe, src, dst: scratch.clone() }, after).unwrap();
    let op = VectorOp::Scalar { op: BinaryOp::Mul, x: scratch.clone(), scalar: by, out: scratch.clone() };
    let math = sim.record(OpKind::Vector { pe, op }, &[load]).unwrap();
    sim.record(OpKind::Dma { pe, src: scratch, dst }, &[math]).unwrap()
}

#[test]
fn a_reused_scratch_address_never_leaks_between_kernels() {
    let mut sim = Sim::new(ring(1), Mode::DATA).unwrap();
    let (x, y, z, w) = (
        hbm(0, 0, DType::F32, &[64]),
        hbm(0, 4096, DType::F32, &[64]),
        hbm(0, 8192, DType::F32, &[64]),
        hbm(0, 12288, DType::F32, &[64]),
    );
    let xs: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let zs: Vec<f32> = (0..64).map(|i| 1000.0 - i as f32).collect();
    let wx = write_f32(&mut sim, x.clone(), &xs);
    let wz = write_f32(&mut sim, z.clone(), &zs);
    // Both kernels are recorded (and timed) before anything is replayed; both use TCM address 0.
    let k1 = scale_kernel(&mut sim, x, y.clone(), 2.0, &[wx]);
    let k2 = scale_kernel(&mut sim, z, w.clone(), -1.0, &[wz]);
    sim.run_all();
    // Reading kernel 1's output replays only up to it: kernel 2's scratch bytes are not there yet.
    sim.replay_until(k1).unwrap();
    let ys = sim.store().unwrap().read_region_f32(&y).unwrap();
    assert_eq!(ys, xs.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
    sim.replay_until(k2).unwrap();
    // Kernel 2 overwrote the scratch; kernel 1's stored result is untouched, and kernel 2's holds
    // none of kernel 1's bytes.
    assert_eq!(sim.store().unwrap().read_region_f32(&y).unwrap(), ys);
    let ws = sim.store().unwrap().read_region_f32(&w).unwrap();
    assert_eq!(ws, zs.iter().map(|v| -v).collect::<Vec<_>>());
}

#[test]
fn gemm_through_tcm_matches_plain_loops() {
    let mut sim = Sim::new(ring(1), Mode::DATA).unwrap();
    let pe = Pe { device: 0, pe: 0 };
    let (m, n, k) = (5usize, 7usize, 3usize);
    let av: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
    let bv: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
    let (a, b, c) =
        (hbm(0, 0, DType::F32, &[m, k]), hbm(0, 1024, DType::F32, &[k, n]), hbm(0, 2048, DType::F32, &[m, n]));
    let wa = write_f32(&mut sim, a.clone(), &av);
    let wb = write_f32(&mut sim, b.clone(), &bv);
    let (ta, tb, tc) =
        (tcm(0, 0, 0, DType::F32, &[m, k]), tcm(0, 0, 1024, DType::F32, &[k, n]), tcm(0, 0, 2048, DType::F32, &[m, n]));
    let la = sim.record(OpKind::Dma { pe, src: a, dst: ta.clone() }, &[wa]).unwrap();
    let lb = sim.record(OpKind::Dma { pe, src: b, dst: tb.clone() }, &[wb]).unwrap();
    let g = sim.record(OpKind::Gemm { pe, a: ta, b: tb, c: tc.clone(), accumulate: false }, &[la, lb]).unwrap();
    let st = sim.record(OpKind::Dma { pe, src: tc, dst: c.clone() }, &[g]).unwrap();
    sim.run_until(st).unwrap();
    sim.replay_until(st).unwrap();
    let got = sim.store().unwrap().read_region_f32(&c).unwrap();
    for i in 0..m {
        for j in 0..n {
            let want: f32 = (0..k).map(|p| av[i * k + p] * bv[p * n + j]).sum();
            assert!(
                (got[i * n + j] - want).abs() <= 1e-6 * want.abs().max(1.0),
                "({i},{j}) {} vs {want}",
                got[i * n + j]
            );
        }
    }
}

#[test]
fn a_dma_between_devices_moves_the_bytes() {
    let mut sim = Sim::new(ring(4), Mode::DATA).unwrap();
    let src = hbm(0, 0, DType::F32, &[8]);
    let vals: Vec<f32> = (0..8).map(|i| i as f32 + 0.5).collect();
    let w = write_f32(&mut sim, src.clone(), &vals);
    let dst = hbm(2, 64, DType::F32, &[8]);
    let op = sim.record(OpKind::Dma { pe: Pe { device: 0, pe: 3 }, src, dst: dst.clone() }, &[w]).unwrap();
    sim.run_until(op).unwrap();
    sim.replay_all().unwrap();
    assert_eq!(sim.store().unwrap().read_region_f32(&dst).unwrap(), vals);
}
