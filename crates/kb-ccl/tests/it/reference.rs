//! The host reference: inputs per rank, and the ring's reduction order replayed in plain loops.

use half::{bf16, f16};
use kb_ccl::ReduceOp;
use kb_mem::DType;
use kb_sched::{SchedError, Tensor};

/// The value rank `rank` holds at element `i`, before rounding to the dtype.
pub(crate) fn input(rank: usize, i: usize, op: ReduceOp, dtype: DType) -> f32 {
    let mix = (rank * 31 + i * 17 + 5) % 23;
    match (op, dtype.is_int()) {
        // Small factors, so products stay exact in i32 and in range in f16.
        (ReduceOp::Product, true) => [1.0, 2.0, -1.0][(rank + i) % 3],
        (ReduceOp::Product, false) => 1.0 + (mix as f32 - 11.0) / 37.0,
        (_, true) => mix as f32 - 11.0,
        (_, false) => (mix as f32 - 11.0) / 7.0 + 0.001 * rank as f32,
    }
}

/// `x` rounded to `dtype` (to nearest even), as f32.
pub(crate) fn round(dtype: DType, x: f32) -> f32 {
    match dtype {
        DType::F16 => f16::from_f32(x).to_f32(),
        DType::BF16 => bf16::from_f32(x).to_f32(),
        DType::F32 => x,
        DType::I32 => x,
        other => panic!("no reference for {other}"),
    }
}

/// The bit pattern of an f32 holding a value of `dtype`.
pub(crate) fn to_bits(dtype: DType, x: f32) -> u32 {
    match dtype {
        DType::F16 => u32::from(f16::from_f32(x).to_bits()),
        DType::BF16 => u32::from(bf16::from_f32(x).to_bits()),
        DType::F32 => x.to_bits(),
        DType::I32 => (x as i32) as u32,
        other => panic!("no reference for {other}"),
    }
}

/// A tensor's elements as bit patterns (read through the host-read barrier).
pub(crate) fn read_bits(t: &Tensor) -> Result<Vec<u32>, SchedError> {
    Ok(match t.dtype() {
        DType::F16 => t.to_vec::<f16>()?.iter().map(|v| u32::from(v.to_bits())).collect(),
        DType::BF16 => t.to_vec::<bf16>()?.iter().map(|v| u32::from(v.to_bits())).collect(),
        DType::F32 => t.to_vec::<f32>()?.iter().map(|v| v.to_bits()).collect(),
        DType::I32 => t.to_vec::<i32>()?.iter().map(|&v| v as u32).collect(),
        other => panic!("no reference for {other}"),
    })
}

pub(crate) fn combine(op: ReduceOp, dtype: DType, a: f32, b: f32) -> f32 {
    if dtype.is_int() {
        let (a, b) = (a as i32, b as i32);
        let r = match op {
            ReduceOp::Sum => a.wrapping_add(b),
            ReduceOp::Product => a.wrapping_mul(b),
            ReduceOp::Min => a.min(b),
            ReduceOp::Max => a.max(b),
            ReduceOp::BAnd => a & b,
            ReduceOp::BOr => a | b,
            ReduceOp::BXor => a ^ b,
            ReduceOp::Avg => panic!("avg on integers is an error"),
        };
        return r as f32;
    }
    let r = match op {
        ReduceOp::Sum | ReduceOp::Avg => a + b,
        ReduceOp::Product => a * b,
        ReduceOp::Min => a.min(b),
        ReduceOp::Max => a.max(b),
        _ => panic!("bitwise ops on floats are errors"),
    };
    round(dtype, r)
}

/// The expected all-reduce result of `count` elements over `n` members, as bit patterns: chunk `k`
/// (the first `count % n` chunks one longer) starts at member `k` and is combined, in f32 rounded
/// to the dtype at each step, with members `k + 1, k + 2, …` as `op(theirs, running)`.
/// `inputs[p][i]` is member `p`'s element `i`, already rounded to the dtype.
// Element `i` of every member's input is read in ring order: an index reads plainer than zipped
// iterators here.
#[allow(clippy::needless_range_loop)]
pub(crate) fn ring_all_reduce(inputs: &[Vec<f32>], op: ReduceOp, dtype: DType) -> Vec<u32> {
    let n = inputs.len();
    let count = inputs[0].len();
    let (base, rem) = (count / n, count % n);
    let mut out = Vec::with_capacity(count);
    let mut k = 0;
    let mut chunk_end = base + usize::from(rem > 0);
    for i in 0..count {
        while i >= chunk_end {
            k += 1;
            chunk_end += base + usize::from(k < rem);
        }
        let mut acc = inputs[k][i];
        for j in 1..n {
            acc = combine(op, dtype, inputs[(k + j) % n][i], acc);
        }
        if op == ReduceOp::Avg {
            acc = round(dtype, acc / n as f32);
        }
        out.push(to_bits(dtype, acc));
    }
    out
}

/// The expected reduce-scatter outputs, as bit patterns per member: part `k` (of `m` elements,
/// `m = inputs[0].len() / n`) starts at member `k + 1` and combines, rounding at each step, with
/// members `k + 2, …, k` as `op(running, theirs)`.
pub(crate) fn ring_reduce_scatter(inputs: &[Vec<f32>], op: ReduceOp, dtype: DType) -> Vec<Vec<u32>> {
    let n = inputs.len();
    let m = inputs[0].len() / n;
    (0..n)
        .map(|k| {
            (k * m..(k + 1) * m)
                .map(|i| {
                    let mut acc = inputs[(k + 1) % n][i];
                    for j in 2..=n {
                        acc = combine(op, dtype, acc, inputs[(k + j) % n][i]);
                    }
                    if op == ReduceOp::Avg {
                        acc = round(dtype, acc / n as f32);
                    }
                    to_bits(dtype, acc)
                })
                .collect()
        })
        .collect()
}

/// The expected reduce result at the root, as bit patterns: element `i` starts at member
/// `root + 1`, combines as `op(running, theirs)` with members `root + 2, …` (rounding at each
/// step), and lands at the root as `op(own, running)`.
pub(crate) fn chain_reduce(inputs: &[Vec<f32>], root: usize, op: ReduceOp, dtype: DType) -> Vec<u32> {
    let n = inputs.len();
    (0..inputs[0].len())
        .map(|i| {
            let mut acc = inputs[root][i];
            if n > 1 {
                let mut running = inputs[(root + 1) % n][i];
                for j in 2..n {
                    running = combine(op, dtype, running, inputs[(root + j) % n][i]);
                }
                acc = combine(op, dtype, acc, running);
                if op == ReduceOp::Avg {
                    acc = round(dtype, acc / n as f32);
                }
            }
            to_bits(dtype, acc)
        })
        .collect()
}
