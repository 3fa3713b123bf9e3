//! The check of a GEMM result against a host reference, and its tolerance.
//!
//! The reference is plain f64 loops over the inputs exactly as the device holds them (read back
//! from the tensors), so input rounding is no error: only what the kernel itself does is judged.
//!
//! # The tolerance
//!
//! The kernel forms each `c_ij = Σ_k a_ik·b_kj` in an f32 accumulator and rounds it once to the
//! output dtype. With `u = 2⁻²⁴` (f32's unit roundoff) and `γ_n = n·u / (1 − n·u)`:
//!
//! - **Accumulation.** An inner product of length K computed in f32, in any order and blocking,
//!   with or without fused multiply-adds, is within `γ_K · Σ_k |a_ik|·|b_kj|` of the exact value
//!   (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1). f16 and bf16 products are
//!   exact in f32; f32 products round once, which the bound already covers.
//! - **Output rounding.** Rounding to nearest in the output dtype adds at most `u_out·|ĉ|` plus,
//!   where the result is subnormal, half the subnormal spacing `η`: f16 `u_out = 2⁻¹¹`,
//!   `η = 2⁻²⁵`; bf16 `u_out = 2⁻⁸`, `η = 2⁻¹³⁴`; f32 none (the accumulator is the output).
//!
//! Together, with `|ĉ| ≤ |c| + γ_K·S`: `|fl(ĉ) − c| ≤ (1 + u_out)·γ_K·S + u_out·|c| + η`, for each
//! element. The check compares the largest error over C with that bound taken at the largest `S`
//! and `|c|` over C, which is at least every element's bound:
//!
//! `tol = (1 + u_out) · γ_K · max S + u_out · max |c| + η`.
//!
//! It is a worst-case bound — typical errors are far smaller — so a correct kernel never fails it,
//! while a wrong one (a lost K step, a misplaced tile) misses by orders of magnitude.

use kb_mem::DType;

/// f32's unit roundoff, 2⁻²⁴.
const F32_UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;

/// The shape and dtype of the GEMM checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gemm {
    /// Rows of A and C.
    pub(crate) m: usize,
    /// Columns of B and C.
    pub(crate) n: usize,
    /// The reduction length.
    pub(crate) k: usize,
    /// The output dtype.
    pub(crate) dtype: DType,
}

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    /// The largest `|C − reference|` (infinite if C holds a NaN or an infinity where the
    /// reference does not).
    pub(crate) max_abs_err: f64,
    /// The tolerance it is held to.
    pub(crate) tolerance: f64,
}

impl Outcome {
    /// Whether the error is within the tolerance.
    pub(crate) fn passed(&self) -> bool {
        self.max_abs_err <= self.tolerance
    }
}

/// `γ_n = n·u / (1 − n·u)` for f32; infinite once `n·u ≥ 1` (no bound).
fn gamma(n: usize) -> f64 {
    let nu = n as f64 * F32_UNIT_ROUNDOFF;
    if nu < 1.0 { nu / (1.0 - nu) } else { f64::INFINITY }
}

/// Unit roundoff and half the subnormal spacing of the output dtype (zero for f32, which is the
/// accumulator itself).
fn output_rounding(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F16 => (2f64.powi(-11), 2f64.powi(-25)),
        DType::BF16 => (2f64.powi(-8), 2f64.powi(-134)),
        _ => (0.0, 0.0),
    }
}

/// The tolerance for a GEMM of reduction length `k` into `dtype`, given the largest
/// `Σ_k |a_ik|·|b_kj|` and the largest `|c_ij|` of the reference. See the module documentation.
pub(crate) fn tolerance(dtype: DType, k: usize, max_abs_products: f64, max_abs_ref: f64) -> f64 {
    let (u_out, eta) = output_rounding(dtype);
    (1.0 + u_out) * gamma(k) * max_abs_products + u_out * max_abs_ref + eta
}

/// Checks `c` (`[m, n]`, row-major, as f32) against the f64 reference of `a` (`[m, k]`) times `b`
/// (`[k, n]`), one row of C at a time.
pub(crate) fn check(g: Gemm, a: &[f32], b: &[f32], c: &[f32]) -> Outcome {
    assert!(a.len() == g.m * g.k && b.len() == g.k * g.n && c.len() == g.m * g.n, "check: operand lengths");
    let (mut max_err, mut max_ref, mut max_products) = (0f64, 0f64, 0f64);
    let mut row = vec![0f64; g.n];
    let mut abs_row = vec![0f64; g.n];
    for i in 0..g.m {
        row.fill(0.0);
        abs_row.fill(0.0);
        for (kk, &a_ik) in a[i * g.k..(i + 1) * g.k].iter().enumerate() {
            let a_ik = f64::from(a_ik);
            let b_row = &b[kk * g.n..(kk + 1) * g.n];
            for ((r, s), &b_kj) in row.iter_mut().zip(abs_row.iter_mut()).zip(b_row) {
                let b_kj = f64::from(b_kj);
                *r += a_ik * b_kj;
                *s += a_ik.abs() * b_kj.abs();
            }
        }
        for ((&r, &s), &c_ij) in row.iter().zip(&abs_row).zip(&c[i * g.n..(i + 1) * g.n]) {
            let err = (f64::from(c_ij) - r).abs();
            max_err = max_err.max(if err.is_nan() { f64::INFINITY } else { err });
            max_ref = max_ref.max(r.abs());
            max_products = max_products.max(s);
        }
    }
    Outcome { max_abs_err: max_err, tolerance: tolerance(g.dtype, g.k, max_products, max_ref) }
}

#[cfg(test)]
mod tests {
    use kb_mem::DType;

    use super::{Gemm, check, gamma, tolerance};

    #[test]
    fn the_reference_is_the_product() {
        // [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]].
        let g = Gemm { m: 2, n: 2, k: 2, dtype: DType::F32 };
        let outcome = check(g, &[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], &[19.0, 22.0, 43.0, 50.0]);
        assert_eq!(outcome.max_abs_err, 0.0);
        assert!(outcome.passed());
        let wrong = check(g, &[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], &[19.0, 22.0, 43.0, 51.0]);
        assert_eq!(wrong.max_abs_err, 1.0);
        assert!(!wrong.passed());
    }

    #[test]
    fn a_nan_in_c_fails() {
        let g = Gemm { m: 1, n: 1, k: 1, dtype: DType::F16 };
        let outcome = check(g, &[1.0], &[1.0], &[f32::NAN]);
        assert_eq!(outcome.max_abs_err, f64::INFINITY);
        assert!(!outcome.passed());
    }

    #[test]
    fn the_tolerance_follows_the_bound() {
        // f32: accumulation only; γ_K·S.
        let tol = tolerance(DType::F32, 1024, 256.0, 10.0);
        assert!((tol - gamma(1024) * 256.0).abs() < 1e-18);
        let nu = 2f64.powi(-14); // 1024 · 2⁻²⁴
        assert!(gamma(1024) > nu && gamma(1024) < nu * (1.0 + 2.0 * nu));
        // f16: output rounding of max|c| dominates.
        let tol = tolerance(DType::F16, 64, 16.0, 8.0);
        let expected = (1.0 + 2f64.powi(-11)) * gamma(64) * 16.0 + 8.0 * 2f64.powi(-11) + 2f64.powi(-25);
        assert_eq!(tol, expected);
        // bf16 is coarser than f16.
        assert!(tolerance(DType::BF16, 64, 16.0, 8.0) > tolerance(DType::F16, 64, 16.0, 8.0));
        assert_eq!(gamma(1 << 24), f64::INFINITY);
    }

    #[test]
    fn an_error_of_one_output_rounding_passes() {
        // 1 + 2⁻¹² is not an f16: C holds 1.0, off by half an ulp, which the f16 tolerance allows.
        let g = Gemm { m: 1, n: 1, k: 1, dtype: DType::F16 };
        let outcome = check(g, &[1.0 + 2f32.powi(-12)], &[1.0], &[1.0]);
        assert_eq!(outcome.max_abs_err, 2f64.powi(-12));
        assert!(outcome.passed(), "{outcome:?}");
        // The same error in f32 output is a failure: f32 output is the accumulator itself.
        let outcome = check(Gemm { dtype: DType::F32, ..g }, &[1.0 + 2f32.powi(-12)], &[1.0], &[1.0]);
        assert!(!outcome.passed(), "{outcome:?}");
    }
}
