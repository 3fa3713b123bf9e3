//! Example: four ranks, one device each, each running the tiled GEMM kernel and reading one
//! element back; checks the numbers. Run with `cargo run -p kb-sched --example ranks_gemm`.

#![allow(clippy::print_stdout)] // An example reports to the person running it.

use kb_mem::DType;
use kb_sched::{GemmBlocks, SchedError, gemm, spawn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let results = spawn(4, |ctx| {
        let dev = ctx.device();
        let a = dev.full(&[64, 32], 1.0, DType::F16)?;
        let b = dev.full(&[32, 16], 0.5 * (ctx.rank() + 1) as f64, DType::F16)?;
        let c = dev.zeros(&[64, 16], DType::F32)?;
        let end = gemm(&dev, &a, &b, &c, false, GemmBlocks { m: 32, n: 16, k: 16 })?.wait()?;
        Ok::<_, SchedError>((c.get::<f32>(&[63, 15])?, end))
    })?;
    for (rank, (value, end_ps)) in results.iter().enumerate() {
        // Each output element sums 32 products of 1 · 0.5·(rank+1).
        assert_eq!(*value, 16.0 * (rank + 1) as f32);
        println!("rank {rank}: c[63, 15] = {value}, GEMM done at {:.3} µs", *end_ps as f64 / 1e6);
    }
    Ok(())
}
