//! Example: eight ranks on a ring each hold a bf16 vector and all-reduce it (sum, then average)
//! on the ring algorithm; checks that every rank holds the same, right numbers and reports the
//! simulated time. Run with `cargo run -p kb-ccl --example all_reduce`.

#![allow(clippy::print_stdout)] // An example reports to the person running it.

use kb_ccl::{CclError, ProcessGroup, ReduceOp, all_reduce, all_reduce_async};
use kb_mem::DType;
use kb_sched::spawn;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 8;
    let count = 1 << 16;
    let results = spawn(n, move |ctx| {
        let world = ProcessGroup::world(&ctx);
        let dev = ctx.device();
        let summed = dev.full(&[count], (ctx.rank() + 1) as f64, DType::BF16)?;
        let averaged = dev.full(&[count], (ctx.rank() + 1) as f64, DType::F32)?;
        // Wait for the fills, so the time measured is the collective's alone.
        summed.get::<f32>(&[0])?;
        let start = ctx.runtime().now();
        let end = all_reduce_async(&ctx, &world, &summed, ReduceOp::Sum)?.wait()?;
        all_reduce(&ctx, &world, &averaged, ReduceOp::Avg)?;
        Ok::<_, CclError>((summed.to_vec::<f32>()?, averaged.to_vec::<f32>()?, end - start))
    })?;
    // 1 + 2 + … + 8 = 36 (exact in bf16); the average is 4.5.
    for (rank, (summed, averaged, _)) in results.iter().enumerate() {
        assert!(summed.iter().all(|&v| v == 36.0), "rank {rank}");
        assert!(averaged.iter().all(|&v| v == 4.5), "rank {rank}");
    }
    let ps = results[0].2;
    let bytes = count * 2;
    println!(
        "ring all-reduce of {bytes} bytes on {n} ranks: {:.3} us, bus bandwidth {:.1} GB/s",
        ps as f64 / 1e6,
        bytes as f64 * 2.0 * (n - 1) as f64 / n as f64 / (ps as f64 / 1e3)
    );
    Ok(())
}
