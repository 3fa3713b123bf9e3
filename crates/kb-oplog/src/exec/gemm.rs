//! The GEMM unit's arithmetic: `c = a · b` or `c += a · b` in f32 with f32 accumulation, rounded
//! once into `c`'s dtype.
//!
//! Operands of any float dtype and any strided layout (a transposed view included) are read packed
//! row-major as f32 — f16 and bf16 convert exactly — so the multiply itself, [`sgemm`], only ever
//! sees dense row-major f32 matrices.

use kb_mem::{MemError, MemoryStore, Region};
use ndarray::Array2;

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
    let shape = |rows, cols, v| Array2::from_shape_vec((rows, cols), v).expect("packed reads hold rows·cols values");
    let av = shape(m, k, store.read_region_f32(a)?);
    let bv = shape(k, n, store.read_region_f32(b)?);
    let mut cv = shape(m, n, if accumulate { store.read_region_f32(c)? } else { vec![0.0; m * n] });
    sgemm(m, n, k, as_slice(&av), as_slice(&bv), cv.as_slice_mut().expect("owned arrays are contiguous"), accumulate);
    store.write_region_f32(c, as_slice(&cv))
}

fn as_slice(a: &Array2<f32>) -> &[f32] {
    a.as_slice().expect("owned arrays built from a vector are standard layout")
}

/// `c = a · b` (or `c += a · b`) for dense row-major f32 matrices: `a` is m×k, `b` k×n, `c` m×n.
/// The one place the multiply happens, so the kernel behind it can be swapped.
///
/// Runs on the `gemm` crate, single-threaded, whose packed SIMD kernels are chosen at run time
/// (AVX-512 where the CPU has it). Measured 1.04–1.15× numpy's single-threaded OpenBLAS sgemm on
/// this project's machines (see kb-bench's `gemm` bench).
pub fn sgemm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n, "sgemm: operand lengths");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    // SAFETY: the three slices hold exactly m·k, k·n and m·n f32s (asserted above), laid out
    // row-major with the strides given (column stride 1, row stride = the row length), so every
    // element gemm reads or writes is inside its slice; `c` is borrowed mutably and does not alias
    // `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
