//! The vector unit's arithmetic: elementwise unary, binary and scalar functions, reductions along
//! an axis, and the combining step of a collective ([`reduce_into`]).
//!
//! Every function reads all its inputs whole before it writes, so an output that overlaps an input
//! sees the inputs' old values. Integer arithmetic wraps; float max and min propagate NaN (as
//! numpy's `maximum`/`minimum` and PyTorch's `maximum`/`minimum` do). For combinations
//! [`crate::validate`] rejects (a bitwise op on floats, `div` on integers, …) the values written
//! are unspecified, but nothing panics.

use std::ops::{Add, Div, Mul, Neg, Sub};

use kb_mem::{MemError, MemoryStore, Region};

use super::value::{self, Domain, Values};
use crate::op::{BinaryOp, ReduceKind, UnaryOp};

/// `out = op(x)`, computed in `x`'s domain and converted once into `out`'s dtype.
pub(super) fn unary(store: &mut MemoryStore, op: UnaryOp, x: &Region, out: &Region) -> Result<(), MemError> {
    same_shape("unary op", x, out)?;
    let values = match Values::read(store, x, Domain::of(x.dtype, &[out.dtype]))? {
        Values::F32(v) => Values::F32(v.into_iter().map(|e| unary_float(op, e)).collect()),
        Values::F64(v) => Values::F64(v.into_iter().map(|e| unary_float(op, e)).collect()),
        Values::I64(v) => Values::I64(v.into_iter().map(|e| unary_int(op, e)).collect()),
    };
    values.write(store, out)
}

/// `out = op(a, b)`, with `a` and `b` broadcast to `out`'s shape.
pub(super) fn binary(
    store: &mut MemoryStore,
    op: BinaryOp,
    a: &Region,
    b: &Region,
    out: &Region,
) -> Result<(), MemError> {
    let a = broadcast(a, out.shape())?;
    let b = broadcast(b, out.shape())?;
    let values = match Domain::of(a.dtype, &[b.dtype, out.dtype]) {
        Domain::F32 => {
            let (a, b) = (value::read_f32(store, &a)?, value::read_f32(store, &b)?);
            Values::F32(zip_map(a, &b, |x, y| binary_float(op, x, y)))
        }
        Domain::F64 => {
            let (a, b) = (value::read_f64(store, &a)?, value::read_f64(store, &b)?);
            Values::F64(zip_map(a, &b, |x, y| binary_float(op, x, y)))
        }
        Domain::I64 => {
            let (a, b) = (value::read_i64(store, &a)?, value::read_i64(store, &b)?);
            Values::I64(zip_map(a, &b, |x, y| binary_int(op, x, y)))
        }
    };
    values.write(store, out)
}

/// `out = op(x, scalar)`, the scalar converted to the computation's type (rounded to nearest even
/// for f32; for integers rounded to nearest even and saturated).
pub(super) fn scalar(
    store: &mut MemoryStore,
    op: BinaryOp,
    x: &Region,
    scalar: f64,
    out: &Region,
) -> Result<(), MemError> {
    same_shape("scalar op", x, out)?;
    let values = match Values::read(store, x, Domain::of(x.dtype, &[out.dtype]))? {
        Values::F32(v) => {
            let s = scalar as f32;
            Values::F32(v.into_iter().map(|e| binary_float(op, e, s)).collect())
        }
        Values::F64(v) => Values::F64(v.into_iter().map(|e| binary_float(op, e, scalar)).collect()),
        Values::I64(v) => {
            let s = scalar.round_ties_even() as i64;
            Values::I64(v.into_iter().map(|e| binary_int(op, e, s)).collect())
        }
    };
    values.write(store, out)
}

/// `out = reduce(x, axis)`: `out` holds `x`'s shape without `axis` (or with it kept as 1). Each
/// output element accumulates its inputs one by one in increasing index along `axis`.
pub(super) fn reduce(
    store: &mut MemoryStore,
    op: ReduceKind,
    x: &Region,
    axis: usize,
    out: &Region,
) -> Result<(), MemError> {
    let shape = x.shape();
    if axis >= shape.len() {
        return Err(MemError::BadAxis { axis, rank: shape.len() });
    }
    let len = shape[axis];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    if out.numel() != outer * inner {
        return Err(MemError::ShapeMismatch {
            what: "reduction output",
            left: shape.to_vec(),
            right: out.shape().to_vec(),
        });
    }
    let dims = Dims { outer, len, inner };
    let values = match Values::read(store, x, Domain::of(x.dtype, &[out.dtype]))? {
        Values::F32(v) => Values::F32(reduce_float(op, &v, dims)),
        Values::F64(v) => Values::F64(reduce_float(op, &v, dims)),
        Values::I64(v) => Values::I64(reduce_int(op, &v, dims)),
    };
    values.write(store, out)
}

/// `dst = op(dst, src)`: f16 and bf16 combine in f32 and round back once, f64 in f64, integers
/// exactly in wrapping i64.
pub(super) fn reduce_into(store: &mut MemoryStore, op: BinaryOp, src: &Region, dst: &Region) -> Result<(), MemError> {
    same_shape("reduce_into", src, dst)?;
    binary(store, op, dst, src, dst)
}

fn same_shape(what: &'static str, x: &Region, out: &Region) -> Result<(), MemError> {
    if x.shape() != out.shape() {
        return Err(MemError::ShapeMismatch { what, left: x.shape().to_vec(), right: out.shape().to_vec() });
    }
    Ok(())
}

/// `region` viewed with `shape` by numpy broadcasting (stride 0 along repeated dimensions).
fn broadcast(region: &Region, shape: &[usize]) -> Result<Region, MemError> {
    if region.shape() == shape {
        return Ok(region.clone());
    }
    Ok(Region::new(region.space, region.addr, region.dtype, region.layout.broadcast_to(shape)?))
}

fn zip_map<T: Copy>(mut a: Vec<T>, b: &[T], f: impl Fn(T, T) -> T) -> Vec<T> {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
    a
}

/// The float types the vector unit computes in.
trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const NAN: Self;
    fn from_f64(v: f64) -> Self;
    fn from_usize(v: usize) -> Self;
    fn is_nan(self) -> bool;
    fn abs(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn powf(self, e: Self) -> Self;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAN: Self = <$t>::NAN;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn from_usize(v: usize) -> Self {
                v as $t
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
        }
    };
}

real!(f32);
real!(f64);

/// √(2/π), the GeLU tanh approximation's scale.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

fn unary_float<T: Real>(op: UnaryOp, x: T) -> T {
    match op {
        UnaryOp::Cast => x,
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => T::ONE / x.sqrt(),
        UnaryOp::Recip => T::ONE / x,
        UnaryOp::Square => x * x,
        // NaN stays NaN (it is not below zero).
        UnaryOp::Relu => {
            if x < T::ZERO {
                T::ZERO
            } else {
                x
            }
        }
        UnaryOp::Sigmoid => T::ONE / (T::ONE + (-x).exp()),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Silu => x / (T::ONE + (-x).exp()),
        UnaryOp::GeluTanh => {
            let inner = T::from_f64(SQRT_2_OVER_PI) * (x + T::from_f64(0.044715) * x * x * x);
            T::from_f64(0.5) * x * (T::ONE + inner.tanh())
        }
    }
}

fn unary_int(op: UnaryOp, x: i64) -> i64 {
    match op {
        UnaryOp::Neg => x.wrapping_neg(),
        UnaryOp::Abs => x.wrapping_abs(),
        UnaryOp::Square => x.wrapping_mul(x),
        UnaryOp::Relu => x.max(0),
        // Cast, and the float-only functions validation rejects.
        _ => x,
    }
}

fn binary_float<T: Real>(op: BinaryOp, a: T, b: T) -> T {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Max => max_float(a, b),
        BinaryOp::Min => min_float(a, b),
        BinaryOp::Pow => a.powf(b),
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor => T::NAN,
    }
}

/// The larger of `a` and `b`, NaN if either is.
fn max_float<T: Real>(a: T, b: T) -> T {
    if a > b || a.is_nan() { a } else { b }
}

/// The smaller of `a` and `b`, NaN if either is.
fn min_float<T: Real>(a: T, b: T) -> T {
    if a < b || a.is_nan() { a } else { b }
}

fn binary_int(op: BinaryOp, a: i64, b: i64) -> i64 {
    match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Max => a.max(b),
        BinaryOp::Min => a.min(b),
        BinaryOp::BitAnd => a & b,
        BinaryOp::BitOr => a | b,
        BinaryOp::BitXor => a ^ b,
        // Float-only; validation rejects them on integers.
        BinaryOp::Div => a.checked_div(b).unwrap_or(0),
        BinaryOp::Pow => u32::try_from(b).map_or(0, |e| a.wrapping_pow(e)),
    }
}

/// A reduction's input viewed as [outer, len, inner], reduced along `len`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    outer: usize,
    len: usize,
    inner: usize,
}

/// Folds `x` ([outer, len, inner], packed) along `len` into [outer, inner]: each output element
/// starts from `init(first)` and takes the later inputs in index order, so the result does not
/// depend on how the loops are arranged. The inner loop runs over contiguous `inner` elements.
fn fold_axis<T: Copy>(x: &[T], d: Dims, empty: T, step: impl Fn(T, T) -> T) -> Vec<T> {
    if d.inner == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(d.outer * d.inner);
    for o in 0..d.outer {
        let block = &x[o * d.len * d.inner..(o + 1) * d.len * d.inner];
        if d.len == 0 {
            out.extend(std::iter::repeat_n(empty, d.inner));
            continue;
        }
        let start = out.len();
        out.extend_from_slice(&block[..d.inner]);
        let acc = &mut out[start..];
        for row in block.chunks_exact(d.inner).skip(1) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a = step(*a, v);
            }
        }
    }
    out
}

fn reduce_float<T: Real>(op: ReduceKind, x: &[T], d: Dims) -> Vec<T> {
    match op {
        ReduceKind::Sum => fold_axis(x, d, T::ZERO, |a, v| a + v),
        ReduceKind::Mean => {
            let n = T::from_usize(d.len);
            // An empty mean is 0/0 = NaN, as numpy's.
            let mut sums = fold_axis(x, d, T::ZERO, |a, v| a + v);
            sums.iter_mut().for_each(|s| *s = *s / n);
            sums
        }
        ReduceKind::Max => fold_axis(x, d, T::NAN, max_float),
        ReduceKind::Min => fold_axis(x, d, T::NAN, min_float),
        ReduceKind::Prod => fold_axis(x, d, T::ONE, |a, v| a * v),
    }
}

fn reduce_int(op: ReduceKind, x: &[i64], d: Dims) -> Vec<i64> {
    match op {
        ReduceKind::Sum => fold_axis(x, d, 0, i64::wrapping_add),
        ReduceKind::Max => fold_axis(x, d, 0, i64::max),
        ReduceKind::Min => fold_axis(x, d, 0, i64::min),
        ReduceKind::Prod => fold_axis(x, d, 1, i64::wrapping_mul),
        // Float-only; validation rejects it on integers.
        ReduceKind::Mean => {
            let mut sums = fold_axis(x, d, 0, i64::wrapping_add);
            let n = i64::try_from(d.len).unwrap_or(i64::MAX);
            sums.iter_mut().for_each(|s| *s = s.checked_div(n).unwrap_or(0));
            sums
        }
    }
}
