use std::sync::Arc;

use kb_mem::{DType, Region, Space};

use super::validate;
use crate::op::{BinaryOp, OpKind, Pe, ReduceKind, UnaryOp, VectorOp};

const PE: Pe = Pe { device: 0, pe: 0 };

fn hbm(device: u32, dtype: DType, shape: &[usize]) -> Region {
    Region::contiguous(Space::Hbm { device }, 0, dtype, shape).unwrap()
}

fn r(dtype: DType, shape: &[usize]) -> Region {
    hbm(0, dtype, shape)
}

fn err(kind: OpKind) -> String {
    validate(&kind).expect_err("the op is malformed")
}

fn gemm(a: Region, b: Region, c: Region) -> OpKind {
    OpKind::Gemm { pe: PE, a, b, c, accumulate: false }
}

fn vector(op: VectorOp) -> OpKind {
    OpKind::Vector { pe: PE, op }
}

fn unary(op: UnaryOp, x: Region, out: Region) -> OpKind {
    vector(VectorOp::Unary { op, x, out })
}

fn binary(op: BinaryOp, a: Region, b: Region, out: Region) -> OpKind {
    vector(VectorOp::Binary { op, a, b, out })
}

fn scalar(op: BinaryOp, x: Region, scalar: f64, out: Region) -> OpKind {
    vector(VectorOp::Scalar { op, x, scalar, out })
}

fn reduce(op: ReduceKind, x: Region, axis: usize, out: Region) -> OpKind {
    vector(VectorOp::Reduce { op, x, axis, out })
}

#[test]
fn well_formed_ops_pass() {
    let f32s = |s: &[usize]| r(DType::F32, s);
    let ok = [
        OpKind::Dma {
            pe: PE,
            src: f32s(&[4, 8]),
            dst: Region::contiguous(Space::Tcm { device: 0, pe: 0 }, 0, DType::F32, &[4, 8]).unwrap(),
        },
        OpKind::LinkTransfer { src: hbm(0, DType::BF16, &[16]), dst: hbm(1, DType::BF16, &[16]) },
        gemm(f32s(&[4, 8]), f32s(&[8, 2]), f32s(&[4, 2])),
        gemm(r(DType::F16, &[4, 8]), r(DType::F16, &[8, 2]), f32s(&[4, 2])),
        gemm(r(DType::BF16, &[1, 1]), r(DType::BF16, &[1, 1]), r(DType::F16, &[1, 1])),
        unary(UnaryOp::Cast, f32s(&[3]), r(DType::I8, &[3])),
        unary(UnaryOp::Cast, r(DType::I64, &[3]), r(DType::F16, &[3])),
        unary(UnaryOp::Neg, r(DType::I32, &[3]), r(DType::I8, &[3])),
        unary(UnaryOp::Exp, r(DType::F16, &[2, 3]), f32s(&[2, 3])),
        binary(BinaryOp::Add, f32s(&[3, 1]), f32s(&[1, 4]), f32s(&[3, 4])),
        binary(BinaryOp::Mul, f32s(&[4]), f32s(&[3, 4]), r(DType::F16, &[3, 4])),
        binary(BinaryOp::Max, f32s(&[]), f32s(&[2, 3]), f32s(&[2, 3])),
        binary(BinaryOp::BitXor, r(DType::U8, &[4]), r(DType::I32, &[4]), r(DType::I32, &[4])),
        binary(BinaryOp::Pow, f32s(&[3, 1]), f32s(&[3, 1]), f32s(&[3, 4])),
        scalar(BinaryOp::Div, f32s(&[5]), 0.5, f32s(&[5])),
        scalar(BinaryOp::Add, r(DType::I32, &[5]), -3.0, r(DType::I32, &[5])),
        reduce(ReduceKind::Mean, f32s(&[3, 4]), 1, f32s(&[3])),
        reduce(ReduceKind::Sum, r(DType::I32, &[3, 4]), 0, r(DType::I64, &[1, 4])),
        reduce(ReduceKind::Max, f32s(&[4, 0]), 0, f32s(&[0])),
        OpKind::ReduceInto { pe: PE, src: r(DType::BF16, &[8]), dst: r(DType::BF16, &[8]), op: BinaryOp::Add },
        OpKind::ReduceInto { pe: PE, src: r(DType::I8, &[8]), dst: r(DType::I8, &[8]), op: BinaryOp::BitOr },
        OpKind::Fill { dst: r(DType::U8, &[7]), value: 300.0 },
        OpKind::HostWrite { dst: r(DType::F16, &[3]), data: Arc::from(vec![0u8; 6]) },
        OpKind::Join,
    ];
    for kind in ok {
        assert_eq!(validate(&kind), Ok(()), "{kind:?}");
    }
}

#[test]
fn copies_need_one_shape_and_one_dtype() {
    let tcm = |dtype, shape: &[usize]| Region::contiguous(Space::Tcm { device: 0, pe: 1 }, 0, dtype, shape).unwrap();
    assert_eq!(
        err(OpKind::Dma { pe: PE, src: r(DType::F32, &[4, 8]), dst: tcm(DType::F32, &[8, 4]) }),
        "src is [4, 8] but dst is [8, 4]: shapes differ"
    );
    assert_eq!(
        err(OpKind::Dma { pe: PE, src: r(DType::F32, &[4]), dst: tcm(DType::F16, &[4]) }),
        "src is f32 but dst is f16: a dma copies bytes and does not convert (cast with a vector op)"
    );
    assert_eq!(
        err(OpKind::LinkTransfer { src: hbm(0, DType::F32, &[4]), dst: hbm(1, DType::F32, &[2, 2]) }),
        "src is [4] but dst is [2, 2]: shapes differ"
    );
    assert_eq!(
        err(OpKind::LinkTransfer { src: hbm(0, DType::I32, &[4]), dst: hbm(1, DType::F32, &[4]) }),
        "src is i32 but dst is f32: a link transfer copies bytes and does not convert (cast with a vector op)"
    );
}

#[test]
fn link_transfer_joins_two_devices() {
    let src = hbm(3, DType::F32, &[4]);
    let dst = Region::contiguous(Space::Tcm { device: 3, pe: 2 }, 0, DType::F32, &[4]).unwrap();
    assert_eq!(
        err(OpKind::LinkTransfer { src, dst }),
        "src and dst are both on device 3: a link transfer joins two different devices (within a device, use a dma)"
    );
}

#[test]
fn gemm_shapes() {
    let f = |s: &[usize]| r(DType::F32, s);
    assert_eq!(err(gemm(f(&[2, 3, 4]), f(&[4, 2]), f(&[2, 2]))), "a must be rank 2 [m, k] but is [2, 3, 4]");
    assert_eq!(err(gemm(f(&[4, 8]), f(&[8]), f(&[4, 2]))), "b must be rank 2 [k, n] but is [8]");
    assert_eq!(err(gemm(f(&[4, 8]), f(&[8, 2]), f(&[]))), "c must be rank 2 [m, n] but is []");
    assert_eq!(
        err(gemm(f(&[4, 8]), f(&[9, 2]), f(&[4, 2]))),
        "a is [4, 8] but b is [9, 2]: inner dimensions 8 and 9 differ"
    );
    assert_eq!(err(gemm(f(&[4, 8]), f(&[8, 2]), f(&[4, 3]))), "c is [4, 3] but a [4, 8] · b [8, 2] is [4, 2]");
    assert_eq!(err(gemm(f(&[4, 8]), f(&[8, 2]), f(&[2, 4]))), "c is [2, 4] but a [4, 8] · b [8, 2] is [4, 2]");
}

#[test]
fn gemm_dtypes() {
    let (a, b, c) = (&[4, 8][..], &[8, 2][..], &[4, 2][..]);
    assert_eq!(
        err(gemm(r(DType::I32, a), r(DType::I32, b), r(DType::F32, c))),
        "a: dtype i32 is not supported by the GEMM unit (it takes f16, bf16 and f32)"
    );
    assert_eq!(
        err(gemm(r(DType::F32, a), r(DType::F64, b), r(DType::F32, c))),
        "b: dtype f64 is not supported by the GEMM unit (it takes f16, bf16 and f32)"
    );
    assert_eq!(
        err(gemm(r(DType::F16, a), r(DType::F16, b), r(DType::I8, c))),
        "c: dtype i8 is not supported by the GEMM unit (it takes f16, bf16 and f32)"
    );
    assert_eq!(
        err(gemm(r(DType::F16, a), r(DType::BF16, b), r(DType::F32, c))),
        "a is f16 but b is bf16: the GEMM unit takes a and b of one dtype"
    );
}

#[test]
fn unary_rules() {
    assert_eq!(
        err(unary(UnaryOp::Relu, r(DType::F32, &[2, 3]), r(DType::F32, &[3, 2]))),
        "x is [2, 3] but out is [3, 2]: shapes differ"
    );
    assert_eq!(
        err(unary(UnaryOp::Neg, r(DType::F32, &[3]), r(DType::I32, &[3]))),
        "x is f32 but out is i32: only cast converts between float and integer dtypes"
    );
    assert_eq!(
        err(unary(UnaryOp::Exp, r(DType::I32, &[3]), r(DType::I32, &[3]))),
        "exp is defined for float dtypes only, but x is i32"
    );
    assert_eq!(
        err(unary(UnaryOp::GeluTanh, r(DType::U8, &[3]), r(DType::I8, &[3]))),
        "gelu_tanh is defined for float dtypes only, but x is u8"
    );
    for op in [UnaryOp::Cast, UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Square, UnaryOp::Relu] {
        assert_eq!(validate(&unary(op, r(DType::I8, &[3]), r(DType::I64, &[3]))), Ok(()), "{op:?}");
    }
}

#[test]
fn binary_broadcasting() {
    let f = |s: &[usize]| r(DType::F32, s);
    assert_eq!(
        err(binary(BinaryOp::Add, f(&[3, 2]), f(&[3, 4]), f(&[3, 4]))),
        "a is [3, 2] and does not broadcast to out's shape [3, 4]: its dimension 1 is 2, not 1 or 4"
    );
    assert_eq!(
        err(binary(BinaryOp::Add, f(&[3, 4]), f(&[5]), f(&[3, 4]))),
        "b is [5] and does not broadcast to out's shape [3, 4]: its dimension 0 is 5, not 1 or 4"
    );
    assert_eq!(
        err(binary(BinaryOp::Add, f(&[2, 3, 4]), f(&[3, 4]), f(&[3, 4]))),
        "a is [2, 3, 4] and does not broadcast to out's shape [3, 4]: it has 3 dimensions, out has 2"
    );
}

#[test]
fn binary_dtypes() {
    assert_eq!(
        err(binary(BinaryOp::Add, r(DType::F32, &[4]), r(DType::I32, &[4]), r(DType::F32, &[4]))),
        "a is f32, b is i32 and out is f32: a binary op takes all-float or all-integer dtypes (cast first)"
    );
    assert_eq!(
        err(binary(BinaryOp::Add, r(DType::I8, &[4]), r(DType::I8, &[4]), r(DType::F16, &[4]))),
        "a is i8, b is i8 and out is f16: a binary op takes all-float or all-integer dtypes (cast first)"
    );
    assert_eq!(
        err(binary(BinaryOp::BitAnd, r(DType::F32, &[4]), r(DType::F32, &[4]), r(DType::F32, &[4]))),
        "bit_and is defined for integer dtypes only, but a is f32"
    );
    assert_eq!(
        err(binary(BinaryOp::Div, r(DType::I32, &[4]), r(DType::I32, &[4]), r(DType::I32, &[4]))),
        "div is defined for float dtypes only, but a is i32"
    );
    assert_eq!(
        err(binary(BinaryOp::Pow, r(DType::U8, &[4]), r(DType::U8, &[4]), r(DType::U8, &[4]))),
        "pow is defined for float dtypes only, but a is u8"
    );
}

#[test]
fn scalar_rules() {
    assert_eq!(
        err(scalar(BinaryOp::Add, r(DType::F32, &[4]), 1.0, r(DType::F32, &[5]))),
        "x is [4] but out is [5]: shapes differ"
    );
    assert_eq!(
        err(scalar(BinaryOp::Add, r(DType::F32, &[4]), 1.0, r(DType::I32, &[4]))),
        "x is f32 but out is i32: a scalar op takes all-float or all-integer dtypes (cast first)"
    );
    assert_eq!(
        err(scalar(BinaryOp::BitOr, r(DType::BF16, &[4]), 1.0, r(DType::BF16, &[4]))),
        "bit_or is defined for integer dtypes only, but x is bf16"
    );
    assert_eq!(
        err(scalar(BinaryOp::Div, r(DType::I64, &[4]), 2.0, r(DType::I64, &[4]))),
        "div is defined for float dtypes only, but x is i64"
    );
    assert_eq!(
        err(scalar(BinaryOp::Add, r(DType::I32, &[4]), 2.5, r(DType::I32, &[4]))),
        "scalar 2.5 is not a whole number in the i64 range, but x is i32"
    );
    assert_eq!(
        err(scalar(BinaryOp::Mul, r(DType::I8, &[4]), f64::NAN, r(DType::I8, &[4]))),
        "scalar NaN is not a whole number in the i64 range, but x is i8"
    );
    assert_eq!(
        err(scalar(BinaryOp::Mul, r(DType::I64, &[4]), 2f64.powi(63), r(DType::I64, &[4]))),
        "scalar 9223372036854776000 is not a whole number in the i64 range, but x is i64"
    );
    let min = scalar(BinaryOp::Max, r(DType::I64, &[4]), -(2f64.powi(63)), r(DType::I64, &[4]));
    assert_eq!(validate(&min), Ok(()));
}

#[test]
fn reduce_rules() {
    let f = |s: &[usize]| r(DType::F32, s);
    assert_eq!(
        err(reduce(ReduceKind::Sum, f(&[3, 4]), 2, f(&[3, 4]))),
        "axis 2 is out of range for x of rank 2 ([3, 4])"
    );
    assert_eq!(err(reduce(ReduceKind::Sum, f(&[]), 0, f(&[]))), "axis 0 is out of range for x of rank 0 ([])");
    assert_eq!(
        err(reduce(ReduceKind::Max, f(&[3, 4]), 1, f(&[3, 5]))),
        "out is [3, 5] but x [3, 4] reduced along axis 1 is [3] (or [3, 1] keeping the axis)"
    );
    assert_eq!(
        err(reduce(ReduceKind::Sum, f(&[3, 4]), 0, f(&[3]))),
        "out is [3] but x [3, 4] reduced along axis 0 is [4] (or [1, 4] keeping the axis)"
    );
    assert_eq!(
        err(reduce(ReduceKind::Sum, r(DType::I32, &[3, 4]), 0, f(&[4]))),
        "x is i32 but out is f32: a reduction takes all-float or all-integer dtypes (cast first)"
    );
    assert_eq!(
        err(reduce(ReduceKind::Mean, r(DType::I32, &[3, 4]), 0, r(DType::I32, &[4]))),
        "mean is defined for float dtypes only, but x is i32"
    );
    assert_eq!(
        err(reduce(ReduceKind::Min, f(&[3, 0]), 1, f(&[3, 1]))),
        "min along axis 1 of x [3, 0] is empty: min needs at least one element"
    );
    // An empty axis is fine for sum, prod and mean (0, 1 and NaN, as numpy's).
    for op in [ReduceKind::Sum, ReduceKind::Prod, ReduceKind::Mean] {
        assert_eq!(validate(&reduce(op, f(&[3, 0]), 1, f(&[3]))), Ok(()), "{op:?}");
    }
}

#[test]
fn reduce_into_rules() {
    let into = |src, dst, op| OpKind::ReduceInto { pe: PE, src, dst, op };
    assert_eq!(
        err(into(r(DType::F32, &[4]), r(DType::F32, &[5]), BinaryOp::Add)),
        "src is [4] but dst is [5]: shapes differ"
    );
    assert_eq!(
        err(into(r(DType::F32, &[4]), r(DType::F16, &[4]), BinaryOp::Add)),
        "src is f32 but dst is f16: reduce_into combines values of one dtype (cast first)"
    );
    assert_eq!(
        err(into(r(DType::F16, &[4]), r(DType::F16, &[4]), BinaryOp::BitXor)),
        "bit_xor is defined for integer dtypes only, but dst is f16"
    );
    assert_eq!(
        err(into(r(DType::I32, &[4]), r(DType::I32, &[4]), BinaryOp::Div)),
        "div is defined for float dtypes only, but dst is i32"
    );
}

#[test]
fn host_write_length() {
    let dst = r(DType::F32, &[4]);
    assert_eq!(
        err(OpKind::HostWrite { dst, data: Arc::from(vec![0u8; 12]) }),
        "data is 12 bytes but dst (f32 [4]) holds 16 bytes"
    );
}
