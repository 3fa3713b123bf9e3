//! Example: record a load → GEMM → store program by hand, time it, replay it, and check the
//! result against plain loops. Run with `cargo run -p kb-oplog --example record_time_replay`.

#![allow(clippy::print_stdout)] // An example reports to the person running it.

use kb_mem::{DType, Region, Space};
use kb_oplog::{MachineSpec, Mode, Op, OpKind, Pe, Sim};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sim = Sim::new(MachineSpec::default(), Mode::DATA)?;
    let (hbm, tcm) = (Space::Hbm { device: 0 }, Space::Tcm { device: 0, pe: 0 });
    let pe = Pe { device: 0, pe: 0 };
    let (m, n, k) = (8usize, 4usize, 6usize);
    let av: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5).collect();
    let bv: Vec<f32> = (0..k * n).map(|i| 1.0 - i as f32 * 0.25).collect();

    // Phase 1: record (and time) every device action as an op.
    let a = Region::contiguous(hbm, 0, DType::F32, &[m, k])?;
    let b = Region::contiguous(hbm, 4096, DType::F32, &[k, n])?;
    let c = Region::contiguous(hbm, 8192, DType::F32, &[m, n])?;
    let (ta, tb, tc) = (
        Region::contiguous(tcm, 0, DType::F32, &[m, k])?,
        Region::contiguous(tcm, 1024, DType::F32, &[k, n])?,
        Region::contiguous(tcm, 2048, DType::F32, &[m, n])?,
    );
    let wa = sim.record(OpKind::HostWrite { dst: a.clone(), data: bytemuck::cast_slice(&av).into() }, &[])?;
    let wb = sim.record(OpKind::HostWrite { dst: b.clone(), data: bytemuck::cast_slice(&bv).into() }, &[])?;
    let la = sim.record(Op::labelled(OpKind::Dma { pe, src: a, dst: ta.clone() }, "load A"), &[wa])?;
    let lb = sim.record(Op::labelled(OpKind::Dma { pe, src: b, dst: tb.clone() }, "load B"), &[wb])?;
    let g = sim.record(OpKind::Gemm { pe, a: ta, b: tb, c: tc.clone(), accumulate: false }, &[la, lb])?;
    let st = sim.record(Op::labelled(OpKind::Dma { pe, src: tc, dst: c.clone() }, "store C"), &[g])?;
    let end = sim.run_until(st)?;

    // Phase 2: replay onto the memory store, and check against plain loops.
    sim.replay_until(st)?;
    let got = sim.store()?.read_region_f32(&c)?;
    for i in 0..m {
        for j in 0..n {
            let want: f32 = (0..k).map(|p| av[i * k + p] * bv[p * n + j]).sum();
            assert!((got[i * n + j] - want).abs() <= 1e-5 * want.abs().max(1.0));
        }
    }
    print!("{}", sim.log_table());
    println!("done at {:.3} µs simulated", end as f64 / 1e6);
    Ok(())
}
