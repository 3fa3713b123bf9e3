//! Example: four ranks split a transformer MLP block (hidden 64 → ffn 256 → hidden 64, bf16) with
//! Megatron-style tensor parallelism; checks that every rank holds the same output and that it
//! matches the unsplit block computed on the host, and reports the simulated time of the forward
//! and of its one all-reduce. Run with `cargo run -p kb-tp --example tensor_parallel_mlp`.

#![allow(clippy::print_stdout)] // An example reports to the person running it.

use kb_mem::DType;
use kb_sched::spawn;
use kb_tp::{ParallelMLP, TpError, comm_spans, get_tensor_model_parallel_rank, initialize_model_parallel};

const T: usize = 4;
const ROWS: usize = 8;
const HIDDEN: usize = 64;
const FFN: usize = 256;

/// A smooth, deterministic pattern in [-scale, scale], exact in bf16 to 8 bits.
fn pattern(n: usize, seed: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|i| ((((i * 7 + seed * 13) % 17) as f32 - 8.0) / 8.0) * scale).collect()
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x = pattern(ROWS * HIDDEN, 1, 1.0);
    let (w1, b1) = (pattern(FFN * HIDDEN, 2, 0.125), pattern(FFN, 3, 0.5));
    let (w2, b2) = (pattern(HIDDEN * FFN, 4, 0.0625), pattern(HIDDEN, 5, 0.5));
    let inputs = (x.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone());
    let results = spawn(T, move |ctx| {
        initialize_model_parallel(&ctx, T, 1)?;
        let (x, w1, b1, w2, b2) = &inputs;
        let block = ParallelMLP::from_full(&ctx, HIDDEN, FFN, DType::BF16, (w1, Some(b1)), (w2, Some(b2)))?;
        let input = ctx.device().from_f32(&[ROWS, HIDDEN], DType::BF16, x)?;
        let y = block.forward(&input)?;
        let values = y.to_vec::<f32>()?;
        let span = comm_spans(&ctx).pop().expect("the block all-reduces once");
        Ok::<_, TpError>((get_tensor_model_parallel_rank(&ctx)?, values, span, ctx.runtime().now()))
    })?;

    // The unsplit block on the host, in f64.
    let mut want = vec![0f64; ROWS * HIDDEN];
    for i in 0..ROWS {
        let h: Vec<f64> = (0..FFN)
            .map(|j| {
                let z: f64 = (0..HIDDEN).map(|k| f64::from(x[i * HIDDEN + k]) * f64::from(w1[j * HIDDEN + k])).sum();
                gelu(z + f64::from(b1[j]))
            })
            .collect();
        for o in 0..HIDDEN {
            want[i * HIDDEN + o] = f64::from(b2[o]) + (0..FFN).map(|j| h[j] * f64::from(w2[o * FFN + j])).sum::<f64>();
        }
    }
    let y0 = &results[0].1;
    let max_err = y0.iter().zip(&want).map(|(&g, &w)| (f64::from(g) - w).abs()).fold(0.0, f64::max);
    let scale = want.iter().map(|w| w.abs()).fold(0.0, f64::max);
    for (rank, (t, y, _, _)) in results.iter().enumerate() {
        assert_eq!(*t, rank, "rank r is tensor-parallel rank r");
        assert_eq!(y, y0, "rank {rank} holds the same output as rank 0");
    }
    // bf16 keeps 8 bits: a few roundings of values of this size stay within 2 % of the largest.
    assert!(max_err <= 0.02 * scale, "max |error| {max_err} against values up to {scale}");
    let span = &results[0].2;
    let end = results.iter().map(|r| r.3).max().unwrap_or(0);
    println!(
        "ParallelMLP T={T}: {ROWS}×{HIDDEN} → {FFN} → {HIDDEN} bf16: forward ends at {:.3} µs, all-reduce of {} B \
         takes {:.3} µs; max |error| {max_err:.3e} (values up to {scale:.3})",
        end as f64 / 1e6,
        span.bytes,
        (span.end_ps - span.ready_ps) as f64 / 1e6
    );
    Ok(())
}
