//! The data executor's arithmetic (Phase 2): what one op does to the bytes of a
//! [`MemoryStore`].
//!
//! [`execute`] runs one op, assuming it passed validation (as [`crate::Sim::record`] does); walking the log in dependency
//! order is the caller's business. Copies move bytes ([`MemoryStore::copy_region`], overlap-safe);
//! the GEMM unit computes in f32 ([`gemm`]); the vector unit computes floats in f32 (f64 when an
//! operand or the output is f64) and integers in wrapping i64 ([`vector`]); every result is
//! converted once into its output's dtype, rounding to nearest even ([`value`]).
//!
//! Execution never panics and never changes timing. An op `validate` would reject either fails
//! with a [`MemError`] (shapes the store cannot reconcile) or writes unspecified values.

mod gemm;

pub use gemm::sgemm;
mod value;
mod vector;

use kb_mem::{DType, MemError, MemoryStore};

use crate::op::{OpKind, VectorOp};

/// Executes one op on `store`: reads its operands, computes, writes its output. An error leaves
/// the output unwritten (the store checks every access before it writes).
pub fn execute(store: &mut MemoryStore, kind: &OpKind) -> Result<(), MemError> {
    match kind {
        OpKind::Dma { src, dst, .. } | OpKind::LinkTransfer { src, dst } => store.copy_region(src, dst),
        OpKind::Gemm { a, b, c, accumulate, .. } => gemm::gemm(store, a, b, c, *accumulate),
        OpKind::Vector { op, .. } => match op {
            VectorOp::Unary { op, x, out } => vector::unary(store, *op, x, out),
            VectorOp::Binary { op, a, b, out } => vector::binary(store, *op, a, b, out),
            VectorOp::Scalar { op, x, scalar, out } => vector::scalar(store, *op, x, *scalar, out),
            VectorOp::Reduce { op, x, axis, out } => vector::reduce(store, *op, x, *axis, out),
        },
        OpKind::Fill { dst, value } => store.fill_region(dst, &fill_element(dst.dtype, *value)),
        OpKind::HostWrite { dst, data } => store.write_region(dst, data),
        OpKind::ReduceInto { src, dst, op, .. } => vector::reduce_into(store, *op, src, dst),
        OpKind::Join => Ok(()),
    }
}

/// The bytes of one element of `dtype` holding `value`, rounded to nearest even (integers also
/// saturate; NaN becomes 0).
fn fill_element(dtype: DType, value: f64) -> Vec<u8> {
    let mut element = vec![0u8; dtype.size()];
    value::encode_f64(dtype, value, &mut element);
    element
}

#[cfg(test)]
mod tests;
