//! Record-time checks of what an op says about its operands: ranks, shapes, dtypes, and which
//! dtypes each function is defined for.
//!
//! [`validate`] runs when an op is recorded, so a malformed op fails at the call that made it,
//! not as wrong bytes at replay. It looks only at the op itself; whether its regions lie in known
//! spaces and fit their capacities is checked where the op is recorded.
//!
//! The rules:
//! - dma and link transfer copy bytes: `src` and `dst` have one shape and one dtype; a link
//!   transfer joins two different devices;
//! - gemm: `a` [m, k], `b` [k, n], `c` [m, n]; `a` and `b` share one dtype among f16, bf16 and
//!   f32, and `c` is any of those three;
//! - vector ops compute either in floats or in integers: their operands and output are all float or
//!   all integer (only `cast` crosses), float-only functions (`exp`, `div`, `pow`, `mean`, …)
//!   refuse integers and bitwise ones refuse floats; binary operands broadcast to the output's shape
//!   by numpy's rules; an integer scalar op takes a whole-number scalar; a reduction's output is its
//!   input without the axis, or with the axis kept as 1;
//! - reduce_into: `src` and `dst` have one shape and one dtype, which the function supports;
//! - a host write's data is exactly `dst`'s packed byte count; fill and join take anything.

use kb_mem::{DType, Region};

use crate::op::{BinaryOp, OpKind, ReduceKind, UnaryOp, VectorOp};

/// Checks that `kind` is well formed, or says what is wrong (lowercase, naming operands and values).
pub(crate) fn validate(kind: &OpKind) -> Result<(), String> {
    match kind {
        OpKind::Dma { src, dst, .. } => copy("a dma", src, dst),
        OpKind::LinkTransfer { src, dst } => {
            copy("a link transfer", src, dst)?;
            let (from, to) = (src.space.device(), dst.space.device());
            if from == to {
                return Err(format!(
                    "src and dst are both on device {from}: a link transfer joins two different devices \
                     (within a device, use a dma)"
                ));
            }
            Ok(())
        }
        OpKind::Gemm { a, b, c, .. } => gemm(a, b, c),
        OpKind::Vector { op, .. } => vector(op),
        OpKind::Fill { .. } | OpKind::Join => Ok(()),
        OpKind::HostWrite { dst, data } => {
            if data.len() != dst.nbytes() {
                return Err(format!(
                    "data is {} bytes but dst ({} {:?}) holds {} bytes",
                    data.len(),
                    dst.dtype,
                    dst.shape(),
                    dst.nbytes()
                ));
            }
            Ok(())
        }
        OpKind::ReduceInto { src, dst, op, .. } => {
            same_shape("src", src, "dst", dst)?;
            if src.dtype != dst.dtype {
                return Err(format!(
                    "src is {} but dst is {}: reduce_into combines values of one dtype (cast first)",
                    src.dtype, dst.dtype
                ));
            }
            binary_supports(*op, "dst", dst.dtype)
        }
    }
}

/// A byte copy: one shape, one dtype.
fn copy(what: &str, src: &Region, dst: &Region) -> Result<(), String> {
    same_shape("src", src, "dst", dst)?;
    if src.dtype != dst.dtype {
        return Err(format!(
            "src is {} but dst is {}: {what} copies bytes and does not convert (cast with a vector op)",
            src.dtype, dst.dtype
        ));
    }
    Ok(())
}

fn same_shape(x_name: &str, x: &Region, out_name: &str, out: &Region) -> Result<(), String> {
    if x.shape() != out.shape() {
        return Err(format!("{x_name} is {:?} but {out_name} is {:?}: shapes differ", x.shape(), out.shape()));
    }
    Ok(())
}

fn gemm(a: &Region, b: &Region, c: &Region) -> Result<(), String> {
    for (name, r, dims) in [("a", a, "[m, k]"), ("b", b, "[k, n]"), ("c", c, "[m, n]")] {
        if r.shape().len() != 2 {
            return Err(format!("{name} must be rank 2 {dims} but is {:?}", r.shape()));
        }
    }
    let (m, k, k2, n) = (a.shape()[0], a.shape()[1], b.shape()[0], b.shape()[1]);
    if k != k2 {
        return Err(format!("a is {:?} but b is {:?}: inner dimensions {k} and {k2} differ", a.shape(), b.shape()));
    }
    if c.shape() != [m, n] {
        return Err(format!("c is {:?} but a {:?} · b {:?} is [{m}, {n}]", c.shape(), a.shape(), b.shape()));
    }
    for (name, r) in [("a", a), ("b", b), ("c", c)] {
        if !matches!(r.dtype, DType::F16 | DType::BF16 | DType::F32) {
            return Err(format!(
                "{name}: dtype {} is not supported by the GEMM unit (it takes f16, bf16 and f32)",
                r.dtype
            ));
        }
    }
    if a.dtype != b.dtype {
        return Err(format!("a is {} but b is {}: the GEMM unit takes a and b of one dtype", a.dtype, b.dtype));
    }
    Ok(())
}

fn vector(op: &VectorOp) -> Result<(), String> {
    match op {
        VectorOp::Unary { op, x, out } => {
            same_shape("x", x, "out", out)?;
            if *op != UnaryOp::Cast && x.dtype.is_float() != out.dtype.is_float() {
                return Err(format!(
                    "x is {} but out is {}: only cast converts between float and integer dtypes",
                    x.dtype, out.dtype
                ));
            }
            if op.float_only() && x.dtype.is_int() {
                return Err(format!("{} is defined for float dtypes only, but x is {}", unary_name(*op), x.dtype));
            }
            Ok(())
        }
        VectorOp::Binary { op, a, b, out } => {
            broadcasts("a", a, out)?;
            broadcasts("b", b, out)?;
            let floats = [a, b, out].map(|r| r.dtype.is_float());
            if floats.contains(&true) && floats.contains(&false) {
                return Err(format!(
                    "a is {}, b is {} and out is {}: a binary op takes all-float or all-integer dtypes \
                     (cast first)",
                    a.dtype, b.dtype, out.dtype
                ));
            }
            binary_supports(*op, "a", a.dtype)
        }
        VectorOp::Scalar { op, x, scalar, out } => {
            same_shape("x", x, "out", out)?;
            if x.dtype.is_float() != out.dtype.is_float() {
                return Err(format!(
                    "x is {} but out is {}: a scalar op takes all-float or all-integer dtypes (cast first)",
                    x.dtype, out.dtype
                ));
            }
            binary_supports(*op, "x", x.dtype)?;
            // [-2^63, 2^63) is exactly the range of i64.
            let in_range = (-(2f64.powi(63))..2f64.powi(63)).contains(scalar);
            if x.dtype.is_int() && !(scalar.fract() == 0.0 && in_range) {
                return Err(format!("scalar {scalar} is not a whole number in the i64 range, but x is {}", x.dtype));
            }
            Ok(())
        }
        VectorOp::Reduce { op, x, axis, out } => reduce(*op, x, *axis, out),
    }
}

/// Whether `r` broadcasts to `out`'s shape by numpy's rules (dimensions matched from the right;
/// an extent of 1, or a missing leading dimension, repeats).
fn broadcasts(name: &str, r: &Region, out: &Region) -> Result<(), String> {
    let (shape, target) = (r.shape(), out.shape());
    if shape.len() > target.len() {
        return Err(format!(
            "{name} is {shape:?} and does not broadcast to out's shape {target:?}: it has {} dimensions, \
             out has {}",
            shape.len(),
            target.len()
        ));
    }
    let lead = target.len() - shape.len();
    for (i, &d) in shape.iter().enumerate() {
        let want = target[lead + i];
        if d != want && d != 1 {
            return Err(format!(
                "{name} is {shape:?} and does not broadcast to out's shape {target:?}: its dimension {i} is \
                 {d}, not 1 or {want}"
            ));
        }
    }
    Ok(())
}

/// Whether `op` is defined for `dtype` (the dtype of operand `name`).
fn binary_supports(op: BinaryOp, name: &str, dtype: DType) -> Result<(), String> {
    if op.integer_only() && dtype.is_float() {
        return Err(format!("{} is defined for integer dtypes only, but {name} is {dtype}", binary_name(op)));
    }
    if op.float_only() && dtype.is_int() {
        return Err(format!("{} is defined for float dtypes only, but {name} is {dtype}", binary_name(op)));
    }
    Ok(())
}

fn reduce(op: ReduceKind, x: &Region, axis: usize, out: &Region) -> Result<(), String> {
    let shape = x.shape();
    if axis >= shape.len() {
        return Err(format!("axis {axis} is out of range for x of rank {} ({shape:?})", shape.len()));
    }
    let mut removed = shape.to_vec();
    removed.remove(axis);
    let mut kept = shape.to_vec();
    kept[axis] = 1;
    if out.shape() != removed && out.shape() != kept {
        return Err(format!(
            "out is {:?} but x {shape:?} reduced along axis {axis} is {removed:?} (or {kept:?} keeping the axis)",
            out.shape()
        ));
    }
    if x.dtype.is_float() != out.dtype.is_float() {
        return Err(format!(
            "x is {} but out is {}: a reduction takes all-float or all-integer dtypes (cast first)",
            x.dtype, out.dtype
        ));
    }
    if op == ReduceKind::Mean && x.dtype.is_int() {
        return Err(format!("mean is defined for float dtypes only, but x is {}", x.dtype));
    }
    if matches!(op, ReduceKind::Max | ReduceKind::Min) && shape[axis] == 0 && out.numel() > 0 {
        return Err(format!(
            "{0} along axis {axis} of x {shape:?} is empty: {0} needs at least one element",
            reduce_name(op)
        ));
    }
    Ok(())
}

/// The lowercase name of a unary function, as messages use it.
pub(crate) fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Cast => "cast",
        UnaryOp::Neg => "neg",
        UnaryOp::Abs => "abs",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Rsqrt => "rsqrt",
        UnaryOp::Recip => "recip",
        UnaryOp::Square => "square",
        UnaryOp::Relu => "relu",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Silu => "silu",
        UnaryOp::GeluTanh => "gelu_tanh",
    }
}

/// The lowercase name of a binary function, as messages use it.
pub(crate) fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Max => "max",
        BinaryOp::Min => "min",
        BinaryOp::Pow => "pow",
        BinaryOp::BitAnd => "bit_and",
        BinaryOp::BitOr => "bit_or",
        BinaryOp::BitXor => "bit_xor",
    }
}

/// The lowercase name of a reduction, as messages use it.
pub(crate) fn reduce_name(op: ReduceKind) -> &'static str {
    match op {
        ReduceKind::Sum => "sum",
        ReduceKind::Mean => "mean",
        ReduceKind::Max => "max",
        ReduceKind::Min => "min",
        ReduceKind::Prod => "prod",
    }
}

#[cfg(test)]
mod tests;
