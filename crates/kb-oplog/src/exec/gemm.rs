//! The GEMM unit's arithmetic: `c = a · b` or `c += a · b` in f32 with f32 accumulation, rounded
//! once into `c`'s dtype.
//!
//! Operands of any float dtype and any strided layout (a transposed view included) are read packed
//! row-major as f32 — f16 and bf16 convert exactly — so the multiply itself, [`sgemm`], only ever
//! sees dense row-major f32 matrices.

use kb_mem::{MemError, MemoryStore, Region};
use ndarray::{ArrayView2, ArrayViewMut2};

/// `c = a · b` (or `c += a · b` when `accumulate`), `a` [m, k], `b` [k, n], `c` [m, n].
pub(super) fn gemm(
    store: &mut MemoryStore,
    a: &Region,
    b: &Region,
    c: &Region,
    accumulate: bool,
) -> Result<(), MemError> {
    let mismatch = |what, left: &Region, right: &Region| MemError::ShapeMismatch {
        what,
        left: left.shape().to_vec(),
        right: right.shape().to_vec(),
    };
    let (&[m, k], &[k2, n], &[m2, n2]) = (a.shape(), b.shape(), c.shape()) else {
        return Err(mismatch("gemm operands must be rank 2", a, b));
    };
    if k != k2 {
        return Err(mismatch("gemm inner dimensions", a, b));
    }
    if (m, n) != (m2, n2) {
        return Err(mismatch("gemm output", a, c));
    }
    let av = store.read_region_f32(a)?;
    let bv = store.read_region_f32(b)?;
    let mut cv = if accumulate { store.read_region_f32(c)? } else { vec![0.0; m * n] };
    sgemm(m, n, k, &av, &bv, &mut cv, accumulate);
    store.write_region_f32(c, &cv)
}

/// `c = a · b` (or `c += a · b`) for dense row-major f32 matrices: `a` is m×k, `b` k×n, `c` m×n.
/// The one place the multiply happens, so the kernel behind it can be swapped.
///
/// Runs on ndarray's `general_mat_mul`, which hands f32 matrices larger than 7 in any dimension
/// to `matrixmultiply::sgemm` (blocked, packed, SIMD kernels chosen at run time) and computes
/// smaller ones with plain loops.
fn sgemm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    let a = ArrayView2::from_shape((m, k), a).expect("a holds m·k values");
    let b = ArrayView2::from_shape((k, n), b).expect("b holds k·n values");
    let mut c = ArrayViewMut2::from_shape((m, n), c).expect("c holds m·n values");
    let beta = if accumulate { 1.0 } else { 0.0 };
    ndarray::linalg::general_mat_mul(1.0, &a, &b, beta, &mut c);
}
