//! The check of an MLP result against a host reference, and its tolerance.
//!
//! The reference is plain f64 loops over the inputs exactly as the devices hold them (rounded to
//! the dtype on the host before they are loaded), in the math layout of the full arrays:
//! `y = gelu(x·W1 + b1)·W2 + b2` with GeLU's tanh approximation.
//!
//! # The tolerance
//!
//! Each element `y_ik` is held to its own worst-case bound for what the devices do (kb-tp's
//! documented rounding): f32 accumulation in both GEMMs; the first GEMM rounded to the dtype; the
//! bias and GeLU computed in f32 and rounded once; each rank's partial second GEMM rounded; the
//! ring all-reduce rounding at each of its `T − 1` steps; the second bias added in f32 and
//! rounded. With `u` the dtype's unit roundoff (f16 2⁻¹¹, bf16 2⁻⁸, f32 2⁻²⁴), `ua = 2⁻²⁴` and
//! `z = x·W1`, `a = z + b1`, `h = gelu(a)`, to first order:
//!
//! - `|δz_j| ≤ H·ua·Σ_k |x_k·W1_kj| + u·|z_j|` (accumulation, then rounding);
//! - `|δh_j| ≤ 1.13·|δz_j| + 4·ua·(|a_j| + 1) + u·|h_j|` (GeLU's slope is below 1.13; its f32
//!   evaluation; its rounding);
//! - `|δy_k| ≤ Σ_j |δh_j|·|W2_jk| + (F·ua + T·u)·Σ_j |h_j·W2_jk| + (u + ua)·|y_k|` (the second
//!   GEMM's accumulation; the T partials' and T − 1 ring steps' roundings; the last rounding).
//!
//! The bound is twice that sum, covering second-order terms. Typical errors are far smaller, so a
//! correct run never fails it, while a lost shard, a bias added twice or a wrong activation misses
//! by orders of magnitude.

use kb_mem::DType;

/// f32's unit roundoff.
const UA: f64 = 1.0 / (1u64 << 24) as f64;
/// An upper bound on the slope of GeLU (tanh approximation), whose largest is about 1.129.
const GELU_SLOPE: f64 = 1.13;

/// The sizes, dtype and tensor-parallel size of the MLP checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mlp {
    /// Rows of X and Y.
    pub(crate) batch: usize,
    /// H.
    pub(crate) hidden: usize,
    /// F.
    pub(crate) ffn: usize,
    /// T.
    pub(crate) tp: usize,
    /// The dtype of every tensor.
    pub(crate) dtype: DType,
}

/// The full arrays, in the math layout, as the devices hold them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrays<'a> {
    /// X \[B, H\].
    pub(crate) x: &'a [f32],
    /// W1 \[H, F\].
    pub(crate) w1: &'a [f32],
    /// b1 \[F\].
    pub(crate) b1: &'a [f32],
    /// W2 \[F, H\].
    pub(crate) w2: &'a [f32],
    /// b2 \[H\].
    pub(crate) b2: &'a [f32],
}

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    /// The largest `|Y − reference|` (infinite where Y holds a NaN).
    pub(crate) max_abs_err: f64,
    /// The largest element bound (for the report).
    pub(crate) tolerance: f64,
    /// Whether every element is within its own bound.
    pub(crate) passed: bool,
}

fn unit_roundoff(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2f64.powi(-11),
        DType::BF16 => 2f64.powi(-8),
        _ => UA,
    }
}

/// GeLU, tanh approximation.
fn gelu(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// Checks `y` ([B, H], row-major, as f32) against the reference of `arrays`, one row at a time.
pub(crate) fn check(m: Mlp, arrays: Arrays<'_>, y: &[f32]) -> Outcome {
    let (b, h, f) = (m.batch, m.hidden, m.ffn);
    assert!(arrays.x.len() == b * h && arrays.w1.len() == h * f && arrays.w2.len() == f * h, "check: sizes");
    assert!(arrays.b1.len() == f && arrays.b2.len() == h && y.len() == b * h, "check: sizes");
    let u = unit_roundoff(m.dtype);
    let mut outcome = Outcome { max_abs_err: 0.0, tolerance: 0.0, passed: true };
    let (mut z, mut z_abs) = (vec![0f64; f], vec![0f64; f]);
    let (mut act, mut act_err) = (vec![0f64; f], vec![0f64; f]);
    let (mut out, mut out_abs, mut carried) = (vec![0f64; h], vec![0f64; h], vec![0f64; h]);
    for i in 0..b {
        z.fill(0.0);
        z_abs.fill(0.0);
        for (k, &x) in arrays.x[i * h..(i + 1) * h].iter().enumerate() {
            let x = f64::from(x);
            for ((zj, sj), &w) in z.iter_mut().zip(z_abs.iter_mut()).zip(&arrays.w1[k * f..(k + 1) * f]) {
                let p = x * f64::from(w);
                *zj += p;
                *sj += p.abs();
            }
        }
        for j in 0..f {
            let dz = h as f64 * UA * z_abs[j] + u * z[j].abs();
            let a = z[j] + f64::from(arrays.b1[j]);
            act[j] = gelu(a);
            act_err[j] = GELU_SLOPE * dz + 4.0 * UA * (a.abs() + 1.0) + u * act[j].abs();
        }
        out.iter_mut().zip(arrays.b2).for_each(|(o, &b2)| *o = f64::from(b2));
        out_abs.fill(0.0);
        carried.fill(0.0);
        for j in 0..f {
            let w2_row = &arrays.w2[j * h..(j + 1) * h];
            for (((o, s), c), &w) in out.iter_mut().zip(out_abs.iter_mut()).zip(carried.iter_mut()).zip(w2_row) {
                let w = f64::from(w);
                *o += act[j] * w;
                *s += (act[j] * w).abs();
                *c += act_err[j] * w.abs();
            }
        }
        for o in 0..h {
            let bound = 2.0 * (carried[o] + (f as f64 * UA + m.tp as f64 * u) * out_abs[o] + (u + UA) * out[o].abs());
            let err = (f64::from(y[i * h + o]) - out[o]).abs();
            let err = if err.is_nan() { f64::INFINITY } else { err };
            outcome.max_abs_err = outcome.max_abs_err.max(err);
            outcome.tolerance = outcome.tolerance.max(bound);
            outcome.passed &= err <= bound;
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use kb_mem::DType;

    use super::{Arrays, Mlp, check, gelu};

    #[test]
    fn the_reference_is_the_block() {
        // B = 1, H = 2, F = 2: z = [1, 2]·[[1, 0], [0, 1]] = [1, 2]; h = gelu(z + [0, -2]) = [gelu(1), 0];
        // y = h·[[2, 0], [0, 3]] + [0.5, 0] = [2·gelu(1) + 0.5, 0].
        let m = Mlp { batch: 1, hidden: 2, ffn: 2, tp: 2, dtype: DType::F32 };
        let (x, w1, b1, w2, b2) = ([1.0, 2.0], [1.0, 0.0, 0.0, 1.0], [0.0, -2.0], [2.0, 0.0, 0.0, 3.0], [0.5, 0.0]);
        let arrays = Arrays { x: &x, w1: &w1, b1: &b1, w2: &w2, b2: &b2 };
        let right = (2.0 * gelu(1.0) + 0.5) as f32;
        let outcome = check(m, arrays, &[right, 0.0]);
        assert!(outcome.passed, "{outcome:?}");
        assert!(outcome.max_abs_err < 1e-7);
        // The bias added twice misses by 0.5, far beyond the f32 bound.
        let twice = check(m, arrays, &[right + 0.5, 0.0]);
        assert!(!twice.passed && (twice.max_abs_err - 0.5).abs() < 1e-6, "{twice:?}");
        assert!(!check(m, arrays, &[f32::NAN, 0.0]).passed);
    }

    #[test]
    fn coarser_dtypes_and_more_ranks_get_looser_bounds() {
        let (x, w1, b1, w2, b2) = ([1.0, 2.0], [1.0, 0.5, 0.25, 1.0], [0.0, 0.0], [2.0, 1.0, 1.0, 3.0], [0.5, 0.0]);
        let arrays = Arrays { x: &x, w1: &w1, b1: &b1, w2: &w2, b2: &b2 };
        let tol = |tp, dtype| check(Mlp { batch: 1, hidden: 2, ffn: 2, tp, dtype }, arrays, &[0.0, 0.0]).tolerance;
        assert!(tol(1, DType::F32) < tol(1, DType::F16));
        assert!(tol(1, DType::F16) < tol(1, DType::BF16));
        assert!(tol(1, DType::F16) < tol(8, DType::F16));
    }
}
