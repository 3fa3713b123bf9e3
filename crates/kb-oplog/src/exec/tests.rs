//! Every expected number here comes from a plain loop (or a hand-worked value) in the test itself.

use std::sync::Arc;

use half::{bf16, f16};
use kb_mem::{DType, Element, MemoryStore, Region, Space};

use super::execute;
use crate::op::{BinaryOp, OpKind, Pe, ReduceKind, UnaryOp, VectorOp};
use crate::validate::validate;

const HBM: Space = Space::Hbm { device: 0 };
const HBM1: Space = Space::Hbm { device: 1 };
const TCM: Space = Space::Tcm { device: 0, pe: 0 };
const PE: Pe = Pe { device: 0, pe: 0 };

/// A store with a bump allocator over its spaces.
struct Mem {
    store: MemoryStore,
    next: u64,
}

impl Mem {
    fn new() -> Mem {
        let mut store = MemoryStore::new();
        store.add_space(HBM, 1 << 26).unwrap();
        store.add_space(HBM1, 1 << 26).unwrap();
        store.add_space(TCM, 1 << 26).unwrap();
        Mem { store, next: 0 }
    }

    /// A fresh contiguous region (addresses are unique across spaces, which is fine).
    fn region(&mut self, space: Space, dtype: DType, shape: &[usize]) -> Region {
        let r = Region::contiguous(space, self.next, dtype, shape).unwrap();
        self.next += (r.nbytes() as u64).div_ceil(64) * 64 + 64;
        r
    }

    fn put<T: Element>(&mut self, space: Space, shape: &[usize], data: &[T]) -> Region {
        let r = self.region(space, T::DTYPE, shape);
        self.store.write_slice(space, r.addr, data).unwrap();
        r
    }

    fn get<T: Element>(&self, r: &Region) -> Vec<T> {
        self.store.read_region_as(r).unwrap()
    }

    fn run(&mut self, kind: OpKind) {
        validate(&kind).unwrap();
        execute(&mut self.store, &kind).unwrap();
    }

    fn vector(&mut self, op: VectorOp) {
        self.run(OpKind::Vector { pe: PE, op });
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Multiples of 1/8 in [-1, 8] (exact in f16 and bf16): products are multiples of 1/64 below
/// 64, so sums of up to 4096 of them are exact in f32, while sums of a few dozen mostly positive
/// ones reach hundreds and need rounding in f16 or bf16.
fn eighths(n: usize, seed: u64) -> Vec<f32> {
    values(n, seed).into_iter().map(|v| ((v + 1.0) * 36.0 - 8.0).round() / 8.0).collect()
}

/// Reference matmul in f64 over row-major a (m×k) and b (k×n), with the bound Σ|a||b| per element.
fn matmul_f64(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut c = vec![0.0; m * n];
    let mut bound = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                let prod = f64::from(a[i * k + p]) * f64::from(b[p * n + j]);
                c[i * n + j] += prod;
                bound[i * n + j] += prod.abs();
            }
        }
    }
    (c, bound)
}

/// Distance in units in the last place between two finite f16 values.
fn f16_ulps(a: f16, b: f16) -> i32 {
    let key = |v: f16| {
        let bits = i32::from(v.to_bits());
        if bits & 0x8000 != 0 { -(bits & 0x7fff) } else { bits }
    };
    (key(a) - key(b)).abs()
}

fn bf16_ulps(a: bf16, b: bf16) -> i32 {
    let key = |v: bf16| {
        let bits = i32::from(v.to_bits());
        if bits & 0x8000 != 0 { -(bits & 0x7fff) } else { bits }
    };
    (key(a) - key(b)).abs()
}

// ---------------------------------------------------------------------------------------------
// GEMM

/// Checks an f32 GEMM against the f64 reference: f32 accumulation of k products errs by at most
/// k·ε·Σ|a||b| (ε = 2^-24 unit roundoff; we allow f32::EPSILON = 2^-23 per step).
fn check_f32_gemm(got: &[f32], want: &[f64], bound: &[f64], k: usize) {
    assert_eq!(got.len(), want.len());
    for (idx, ((&g, &w), &b)) in got.iter().zip(want).zip(bound).enumerate() {
        let tol = (k as f64 + 1.0) * f64::from(f32::EPSILON) * b;
        assert!((f64::from(g) - w).abs() <= tol, "element {idx}: got {g}, want {w} (tolerance {tol})");
    }
}

#[test]
fn gemm_f32_ragged_shapes() {
    for (seed, &(m, n, k)) in [(7, 5, 13), (1, 1, 1), (33, 65, 17), (64, 48, 100), (9, 3, 2)].iter().enumerate() {
        let mut mem = Mem::new();
        let (a, b) = (values(m * k, seed as u64), values(k * n, seed as u64 + 100));
        let ra = mem.put(TCM, &[m, k], &a);
        let rb = mem.put(HBM, &[k, n], &b);
        let rc = mem.put(TCM, &[m, n], &vec![f32::NAN; m * n]);
        mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: false });
        let (want, bound) = matmul_f64(m, n, k, &a, &b);
        check_f32_gemm(&mem.get::<f32>(&rc), &want, &bound, k);
    }
}

#[test]
fn gemm_f32_transposed_views() {
    let (m, n, k) = (33, 17, 65);
    let mut mem = Mem::new();
    // a stored as [k, m], b stored as [n, k]; both viewed transposed.
    let (at, bt) = (values(k * m, 1), values(n * k, 2));
    let ra = mem.put(HBM, &[k, m], &at);
    let rb = mem.put(HBM, &[n, k], &bt);
    let ra = Region::new(ra.space, ra.addr, ra.dtype, ra.layout.transpose(0, 1).unwrap());
    let rb = Region::new(rb.space, rb.addr, rb.dtype, rb.layout.transpose(0, 1).unwrap());
    let rc = mem.region(HBM, DType::F32, &[m, n]);
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: false });

    // The reference indexes the stored arrays directly.
    let mut a = vec![0.0; m * k];
    let mut b = vec![0.0; k * n];
    for i in 0..m {
        for p in 0..k {
            a[i * k + p] = at[p * m + i];
        }
    }
    for p in 0..k {
        for j in 0..n {
            b[p * n + j] = bt[j * k + p];
        }
    }
    let (want, bound) = matmul_f64(m, n, k, &a, &b);
    check_f32_gemm(&mem.get::<f32>(&rc), &want, &bound, k);
}

#[test]
fn gemm_f32_accumulates_into_a_strided_c() {
    let (m, n, k) = (7, 5, 13);
    let mut mem = Mem::new();
    let (a, b) = (values(m * k, 3), values(k * n, 4));
    let ra = mem.put(HBM, &[m, k], &a);
    let rb = mem.put(HBM, &[k, n], &b);
    // c is the [m, n] block at (1, 2) of an [m + 2, n + 4] buffer.
    let big: Vec<f32> = values((m + 2) * (n + 4), 5);
    let rbig = mem.put(HBM, &[m + 2, n + 4], &big);
    let rc = Region::new(HBM, rbig.addr, DType::F32, rbig.layout.sub_block(&[1, 2], &[m, n]).unwrap());
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc, accumulate: true });

    let (prod, bound) = matmul_f64(m, n, k, &a, &b);
    let got = mem.get::<f32>(&rbig);
    for r in 0..m + 2 {
        for col in 0..n + 4 {
            let idx = r * (n + 4) + col;
            if (1..=m).contains(&r) && (2..n + 2).contains(&col) {
                let e = (r - 1) * n + (col - 2);
                let want = f64::from(big[idx]) + prod[e];
                let tol = (k as f64 + 2.0) * f64::from(f32::EPSILON) * (bound[e] + f64::from(big[idx].abs()));
                assert!((f64::from(got[idx]) - want).abs() <= tol, "({r}, {col}): got {}, want {want}", got[idx]);
            } else {
                assert_eq!(got[idx], big[idx], "({r}, {col}) lies outside c and must not change");
            }
        }
    }
}

#[test]
fn gemm_with_empty_inner_dimension() {
    let mut mem = Mem::new();
    let ra = mem.region(HBM, DType::F32, &[3, 0]);
    let rb = mem.region(HBM, DType::F32, &[0, 4]);
    let c0 = values(12, 6);
    let rc = mem.put(HBM, &[3, 4], &c0);
    mem.run(OpKind::Gemm { pe: PE, a: ra.clone(), b: rb.clone(), c: rc.clone(), accumulate: true });
    assert_eq!(mem.get::<f32>(&rc), c0);
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: false });
    assert_eq!(mem.get::<f32>(&rc), vec![0.0; 12]);
}

/// f16 GEMM with inputs whose f32 products and sums are all exact: whatever order the kernel
/// accumulates in, the f32 result is the exact sum, so the f16 output must equal the exact sum
/// rounded once to nearest even — bit for bit. Sums reach hundreds in steps of 1/64, so most
/// need rounding in f16 (11 significant bits), ties included.
#[test]
fn gemm_f16_exact_inputs_round_once() {
    let (m, n, k) = (17, 19, 65);
    let mut mem = Mem::new();
    let a: Vec<f16> = eighths(m * k, 7).into_iter().map(f16::from_f32).collect();
    let b: Vec<f16> = eighths(k * n, 8).into_iter().map(f16::from_f32).collect();
    let ra = mem.put(HBM, &[m, k], &a);
    let rb = mem.put(TCM, &[k, n], &b);
    let rc = mem.region(TCM, DType::F16, &[m, n]);
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: false });

    let a32: Vec<f32> = a.iter().map(|v| v.to_f32()).collect();
    let b32: Vec<f32> = b.iter().map(|v| v.to_f32()).collect();
    let (exact, _) = matmul_f64(m, n, k, &a32, &b32);
    // Exact in f32, so f64 → f32 is exact and f32 → f16 is the one rounding.
    let want: Vec<f16> = exact.iter().map(|&v| f16::from_f32(v as f32)).collect();
    let got = mem.get::<f16>(&rc);
    assert_eq!(got, want);
    assert!(exact.iter().any(|&v| f64::from(f16::from_f32(v as f32).to_f32()) != v), "some sums must need rounding");
}

/// f16 GEMM on general inputs: f32 math on the f16 inputs, rounded once. The reference
/// accumulates in f32 in index order; the kernel may accumulate in another order, so an output
/// may land one f16 ulp away where the f32 sum sits near a rounding boundary. Tolerance: 1 ulp,
/// and most elements exactly equal.
#[test]
fn gemm_f16_matches_f32_math_rounded_once() {
    let (m, n, k) = (33, 17, 65);
    let mut mem = Mem::new();
    let a: Vec<f16> = values(m * k, 9).into_iter().map(f16::from_f32).collect();
    let b: Vec<f16> = values(k * n, 10).into_iter().map(f16::from_f32).collect();
    let c0: Vec<f16> = values(m * n, 11).into_iter().map(f16::from_f32).collect();
    let ra = mem.put(HBM, &[m, k], &a);
    let rb = mem.put(HBM, &[k, n], &b);
    let rc = mem.put(HBM, &[m, n], &c0);
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: true });
    let got = mem.get::<f16>(&rc);

    let mut exact_matches = 0;
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += a[i * k + p].to_f32() * b[p * n + j].to_f32();
            }
            let want = f16::from_f32(c0[i * n + j].to_f32() + acc);
            let ulps = f16_ulps(got[i * n + j], want);
            assert!(ulps <= 1, "({i}, {j}): got {}, want {want}", got[i * n + j]);
            exact_matches += usize::from(ulps == 0);
        }
    }
    assert!(exact_matches * 10 >= m * n * 9, "only {exact_matches} of {} exact", m * n);
}

#[test]
fn gemm_bf16_exact_inputs_round_once_and_general_inputs_within_an_ulp() {
    let (m, n, k) = (9, 11, 40);
    let mut mem = Mem::new();
    let a: Vec<bf16> = eighths(m * k, 12).into_iter().map(bf16::from_f32).collect();
    let b: Vec<bf16> = eighths(k * n, 13).into_iter().map(bf16::from_f32).collect();
    let ra = mem.put(HBM, &[m, k], &a);
    let rb = mem.put(HBM, &[k, n], &b);
    let rc = mem.region(HBM, DType::BF16, &[m, n]);
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: false });
    let a32: Vec<f32> = a.iter().map(|v| v.to_f32()).collect();
    let b32: Vec<f32> = b.iter().map(|v| v.to_f32()).collect();
    let (exact, _) = matmul_f64(m, n, k, &a32, &b32);
    let want: Vec<bf16> = exact.iter().map(|&v| bf16::from_f32(v as f32)).collect();
    assert_eq!(mem.get::<bf16>(&rc), want);

    let a: Vec<bf16> = values(m * k, 14).into_iter().map(bf16::from_f32).collect();
    let b: Vec<bf16> = values(k * n, 15).into_iter().map(bf16::from_f32).collect();
    let ra = mem.put(HBM, &[m, k], &a);
    let rb = mem.put(HBM, &[k, n], &b);
    // An f32 output of bf16 inputs: no rounding after the f32 accumulation.
    let rc32 = mem.region(HBM, DType::F32, &[m, n]);
    mem.run(OpKind::Gemm { pe: PE, a: ra.clone(), b: rb.clone(), c: rc32.clone(), accumulate: false });
    mem.run(OpKind::Gemm { pe: PE, a: ra, b: rb, c: rc.clone(), accumulate: false });
    let a32: Vec<f32> = a.iter().map(|v| v.to_f32()).collect();
    let b32: Vec<f32> = b.iter().map(|v| v.to_f32()).collect();
    let (want, bound) = matmul_f64(m, n, k, &a32, &b32);
    check_f32_gemm(&mem.get::<f32>(&rc32), &want, &bound, k);
    for (idx, (&g, &w)) in mem.get::<bf16>(&rc).iter().zip(&want).enumerate() {
        assert!(bf16_ulps(g, bf16::from_f32(w as f32)) <= 1, "element {idx}: got {g}, want {w}");
    }
}

// ---------------------------------------------------------------------------------------------
// Vector: unary

fn unary_reference(op: UnaryOp, x: f32) -> f32 {
    match op {
        UnaryOp::Cast => x,
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => 1.0 / x.sqrt(),
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Square => x * x,
        UnaryOp::Relu => x.max(0.0),
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Silu => x * (1.0 / (1.0 + (-x).exp())),
        // Evaluated in the same order as the kernel: near x = -4, 1 + tanh(…) cancels, so a
        // different association would differ by far more than an ulp.
        UnaryOp::GeluTanh => {
            let c = (2.0 / std::f64::consts::PI).sqrt() as f32;
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
    }
}

const UNARY_OPS: [UnaryOp; 14] = [
    UnaryOp::Cast,
    UnaryOp::Neg,
    UnaryOp::Abs,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sqrt,
    UnaryOp::Rsqrt,
    UnaryOp::Recip,
    UnaryOp::Square,
    UnaryOp::Relu,
    UnaryOp::Sigmoid,
    UnaryOp::Tanh,
    UnaryOp::Silu,
    UnaryOp::GeluTanh,
];

#[test]
fn every_unary_op_matches_std_f32() {
    let mut xs: Vec<f32> = values(60, 20).into_iter().map(|v| v * 6.0).collect();
    xs.extend([0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -3.0, 20.0, -20.0, 1e-3, 30.0, -30.0]);
    for op in UNARY_OPS {
        let mut mem = Mem::new();
        let shape = [xs.len() / 4, 4];
        let rx = mem.put(TCM, &shape, &xs);
        let out = mem.region(TCM, DType::F32, &shape);
        mem.vector(VectorOp::Unary { op, x: rx, out: out.clone() });
        for (&x, got) in xs.iter().zip(mem.get::<f32>(&out)) {
            let want = unary_reference(op, x);
            // Up to 2 ulps: the reference need not evaluate each formula in the same order.
            let tol = 2.0 * f32::EPSILON * want.abs().max(f32::MIN_POSITIVE);
            let same = got == want || (got.is_nan() && want.is_nan()) || (got - want).abs() <= tol;
            assert!(same, "{op:?}({x}): got {got}, want {want}");
        }
    }
}

#[test]
fn unary_on_f16_computes_in_f32_and_rounds_once() {
    let xs: Vec<f16> = values(32, 21).into_iter().map(|v| f16::from_f32(v * 4.0)).collect();
    for op in [UnaryOp::Exp, UnaryOp::Sigmoid, UnaryOp::GeluTanh, UnaryOp::Square] {
        let mut mem = Mem::new();
        let rx = mem.put(HBM, &[32], &xs);
        let out = mem.region(HBM, DType::F16, &[32]);
        mem.vector(VectorOp::Unary { op, x: rx, out: out.clone() });
        for (&x, got) in xs.iter().zip(mem.get::<f16>(&out)) {
            let want = f16::from_f32(unary_reference(op, x.to_f32()));
            // One rounding of an f32 value that is itself within 2 f32 ulps: at most 1 f16 ulp off.
            assert!(f16_ulps(got, want) <= 1, "{op:?}({x}): got {got}, want {want}");
        }
    }
}

#[test]
fn unary_on_f64_computes_in_f64() {
    let xs = [0.1f64, -2.5, 1e-12, 7.25];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[4], &xs);
    let out = mem.region(HBM, DType::F64, &[4]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Exp, x: rx, out: out.clone() });
    let want: Vec<f64> = xs.iter().map(|x| x.exp()).collect();
    assert_eq!(mem.get::<f64>(&out), want);
}

#[test]
fn unary_integer_ops_wrap() {
    let xs = [i32::MIN, -7, 0, 5, i32::MAX, 46_341];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[6], &xs);
    let out = mem.region(HBM, DType::I32, &[6]);
    let refs = [
        (UnaryOp::Neg, i32::wrapping_neg as fn(i32) -> i32),
        (UnaryOp::Abs, i32::wrapping_abs),
        (UnaryOp::Square, |x| x.wrapping_mul(x)),
        (UnaryOp::Relu, |x| x.max(0)),
    ];
    for (op, f) in refs {
        mem.vector(VectorOp::Unary { op, x: rx.clone(), out: out.clone() });
        let want: Vec<i32> = xs.iter().map(|&x| f(x)).collect();
        assert_eq!(mem.get::<i32>(&out), want, "{op:?}");
    }
}

#[test]
fn unary_in_place_reads_before_writing() {
    let xs = [-1.0f32, 2.0, -3.0, 4.0];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[2, 2], &xs);
    // out is x transposed, in the same memory.
    let out = Region::new(HBM, rx.addr, DType::F32, rx.layout.transpose(0, 1).unwrap());
    mem.vector(VectorOp::Unary { op: UnaryOp::Neg, x: rx.clone(), out });
    // out[i][j] = -x[i][j] lands at x's storage [j][i]: [[1, 3], [-2, -4]] row-major.
    assert_eq!(mem.get::<f32>(&rx), [1.0, 3.0, -2.0, -4.0]);
}

// ---------------------------------------------------------------------------------------------
// Vector: casts

#[test]
fn cast_f32_to_f16_ties_to_even() {
    let xs = [
        1.0 + 2f32.powi(-11),       // halfway between 1 and 1 + 2^-10: even is 1
        1.0 + 3.0 * 2f32.powi(-11), // halfway between 1 + 2^-10 and 1 + 2^-9: even is 1 + 2^-9
        65520.0,                    // halfway between 65504 (max) and 65536: even is 65536 = inf
        2f32.powi(-25),             // half the smallest subnormal: even is 0
        3.0 * 2f32.powi(-25),       // halfway between 1 and 2 subnormal steps: even is 2
        -2.5,                       // exact
    ];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[6], &xs);
    let out = mem.region(HBM, DType::F16, &[6]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx, out: out.clone() });
    let bits: Vec<u16> = mem.get::<f16>(&out).iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0x3c00, 0x3c02, 0x7c00, 0x0000, 0x0002, 0xc100]);
}

#[test]
fn cast_float_to_int_rounds_half_even_then_saturates() {
    let xs = [127.5f32, -128.5, -300.0, 300.0, 2.5, 3.5, -2.5, f32::NAN, f32::INFINITY, -0.4, 1.5];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[11], &xs);
    let out = mem.region(HBM, DType::I8, &[11]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx.clone(), out: out.clone() });
    assert_eq!(mem.get::<i8>(&out), [127, -128, -128, 127, 2, 4, -2, 0, 127, 0, 2]);
    let out = mem.region(HBM, DType::U8, &[11]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx, out: out.clone() });
    assert_eq!(mem.get::<u8>(&out), [128, 0, 0, 255, 2, 4, 0, 0, 255, 0, 2]);
}

#[test]
fn cast_int_to_int_wraps() {
    let xs = [(1i64 << 32) + 5, 1 << 31, -(1 << 31) - 1, -1, i64::MIN, 1 << 40];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[6], &xs);
    let out = mem.region(HBM, DType::I32, &[6]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [5, i32::MIN, i32::MAX, -1, 0, 0]);

    let bytes = [200u8, 127, 128, 0];
    let rx = mem.put(HBM, &[4], &bytes);
    let out = mem.region(HBM, DType::I8, &[4]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx, out: out.clone() });
    assert_eq!(mem.get::<i8>(&out), [-56, 127, -128, 0]);
}

/// Conversions to f16 and bf16 from f64 and i64 round once: going through f32 to nearest first
/// would round twice and land on the wrong side of a tie.
#[test]
fn casts_from_wide_types_round_once() {
    let mut mem = Mem::new();
    // 1 + 2^-11 + 2^-40 lies just above the f16 tie between 1 and 1 + 2^-10.
    let x = [1.0 + 2f64.powi(-11) + 2f64.powi(-40), -(1.0 + 2f64.powi(-11) + 2f64.powi(-40))];
    let rx = mem.put(HBM, &[2], &x);
    let out = mem.region(HBM, DType::F16, &[2]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx.clone(), out: out.clone() });
    let bits: Vec<u16> = mem.get::<f16>(&out).iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0x3c01, 0xbc01]);
    // Same for bf16: 1 + 2^-8 + 2^-40 is just above the tie between 1 and 1 + 2^-7.
    let x = [1.0 + 2f64.powi(-8) + 2f64.powi(-40)];
    let rx = mem.put(HBM, &[1], &x);
    let out = mem.region(HBM, DType::BF16, &[1]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx, out: out.clone() });
    assert_eq!(mem.get::<bf16>(&out)[0].to_bits(), 0x3f81);

    // 2^40 + 2^32 + 1 is just above the bf16 tie between 2^40 and 2^40 + 2^33.
    let x = [(1i64 << 40) + (1 << 32) + 1, 16_777_217];
    let rx = mem.put(HBM, &[2], &x);
    let out = mem.region(HBM, DType::BF16, &[2]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx.clone(), out: out.clone() });
    let got = mem.get::<bf16>(&out);
    assert_eq!(got[0].to_f64(), 2f64.powi(40) + 2f64.powi(33));
    assert_eq!(got[1].to_f64(), 16_777_216.0);
    // i64 → f32 rounds once too: 2^24 + 1 is a tie, even is 2^24.
    let out = mem.region(HBM, DType::F32, &[2]);
    mem.vector(VectorOp::Unary { op: UnaryOp::Cast, x: rx, out: out.clone() });
    assert_eq!(mem.get::<f32>(&out), [2f32.powi(40) + 2f32.powi(32), 16_777_216.0]);
}

// ---------------------------------------------------------------------------------------------
// Vector: binary and scalar

#[test]
fn binary_broadcasts_column_with_row() {
    let (a, b) = ([1.0f32, 2.0, 3.0], [10.0f32, 20.0, 30.0, 40.0]);
    let mut mem = Mem::new();
    let ra = mem.put(HBM, &[3, 1], &a);
    let rb = mem.put(TCM, &[1, 4], &b);
    let out = mem.region(TCM, DType::F32, &[3, 4]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Sub, a: ra, b: rb, out: out.clone() });
    let mut want = vec![0.0; 12];
    for i in 0..3 {
        for j in 0..4 {
            want[i * 4 + j] = a[i] - b[j];
        }
    }
    assert_eq!(mem.get::<f32>(&out), want);
}

#[test]
fn binary_broadcasts_missing_leading_dimension() {
    let a = values(4, 30);
    let b = values(12, 31);
    let mut mem = Mem::new();
    let ra = mem.put(HBM, &[4], &a);
    let rb = mem.put(HBM, &[3, 4], &b);
    for (op, f) in [
        (BinaryOp::Mul, (|x, y| x * y) as fn(f32, f32) -> f32),
        (BinaryOp::Div, |x, y| x / y),
        (BinaryOp::Max, f32::max),
        (BinaryOp::Min, f32::min),
        (BinaryOp::Add, |x, y| x + y),
    ] {
        let out = mem.region(HBM, DType::F32, &[3, 4]);
        mem.vector(VectorOp::Binary { op, a: ra.clone(), b: rb.clone(), out: out.clone() });
        let mut want = vec![0.0; 12];
        for i in 0..3 {
            for j in 0..4 {
                want[i * 4 + j] = f(a[j], b[i * 4 + j]);
            }
        }
        assert_eq!(mem.get::<f32>(&out), want, "{op:?}");
    }
}

#[test]
fn binary_pow_and_nan_propagation() {
    let a = [2.0f32, 9.0, f32::NAN, 1.0, -0.5];
    let b = [10.0f32, 0.5, 1.0, f32::NAN, 2.0];
    let mut mem = Mem::new();
    let ra = mem.put(HBM, &[5], &a);
    let rb = mem.put(HBM, &[5], &b);
    let out = mem.region(HBM, DType::F32, &[5]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Pow, a: ra.clone(), b: rb.clone(), out: out.clone() });
    let got = mem.get::<f32>(&out);
    for i in 0..5 {
        let want = a[i].powf(b[i]);
        assert!(got[i] == want || (got[i].is_nan() && want.is_nan()), "pow {i}: {} vs {want}", got[i]);
    }
    // max and min propagate NaN from either side (numpy's maximum/minimum).
    for op in [BinaryOp::Max, BinaryOp::Min] {
        mem.vector(VectorOp::Binary { op, a: ra.clone(), b: rb.clone(), out: out.clone() });
        let got = mem.get::<f32>(&out);
        assert!(got[2].is_nan() && got[3].is_nan(), "{op:?}: {got:?}");
    }
}

#[test]
fn binary_f16_inputs_round_once_into_f16() {
    // 1 + 2^-11 is no f16; as f16 + f32 → f16 it is computed in f32 and rounded once.
    let mut mem = Mem::new();
    let ra = mem.put(HBM, &[2], &[f16::from_f32(1.0), f16::from_f32(1.0)]);
    let rb = mem.put(HBM, &[2], &[2f32.powi(-11), 2f32.powi(-11) + 2f32.powi(-20)]);
    let out = mem.region(HBM, DType::F16, &[2]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Add, a: ra, b: rb, out: out.clone() });
    let bits: Vec<u16> = mem.get::<f16>(&out).iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0x3c00, 0x3c01]);
}

#[test]
fn integer_add_wraps() {
    let a = [i32::MAX, -5, i32::MIN, 7];
    let b = [1, 3, -1, -7];
    let mut mem = Mem::new();
    let ra = mem.put(HBM, &[4], &a);
    let rb = mem.put(HBM, &[4], &b);
    let out = mem.region(HBM, DType::I32, &[4]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Add, a: ra.clone(), b: rb.clone(), out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [i32::MIN, -2, i32::MAX, 0]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Mul, a: ra, b: rb, out: out.clone() });
    let want: Vec<i32> = a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect();
    assert_eq!(mem.get::<i32>(&out), want);

    let (x, y) = ([200u8, 100, 255], [100u8, 3, 255]);
    let rx = mem.put(HBM, &[3], &x);
    let ry = mem.put(HBM, &[3], &y);
    let out = mem.region(HBM, DType::U8, &[3]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Add, a: rx.clone(), b: ry.clone(), out: out.clone() });
    assert_eq!(mem.get::<u8>(&out), [44, 103, 254]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Sub, a: ry, b: rx, out: out.clone() });
    assert_eq!(mem.get::<u8>(&out), [156, 159, 0]);
}

#[test]
fn bitwise_ops_on_i32_and_u8() {
    let a = [0x0f0f_0f0f_i32, -1, i32::MIN, 0x1234_5678];
    let b = [0x00ff_00ff_i32, 0x5555_5555, -1, 0];
    let (x, y) = ([0b1100_1010u8, 0xff, 0x00, 0x81], [0b1010_0110u8, 0x0f, 0xff, 0x18]);
    let mut mem = Mem::new();
    let (ra, rb) = (mem.put(HBM, &[4], &a), mem.put(HBM, &[4], &b));
    let (rx, ry) = (mem.put(TCM, &[4], &x), mem.put(TCM, &[4], &y));
    let out32 = mem.region(HBM, DType::I32, &[4]);
    let out8 = mem.region(TCM, DType::U8, &[4]);
    type Ref<T> = fn(T, T) -> T;
    let ops: [(BinaryOp, Ref<i32>, Ref<u8>); 3] = [
        (BinaryOp::BitAnd, |p, q| p & q, |p, q| p & q),
        (BinaryOp::BitOr, |p, q| p | q, |p, q| p | q),
        (BinaryOp::BitXor, |p, q| p ^ q, |p, q| p ^ q),
    ];
    for (op, f32bit, f8bit) in ops {
        mem.vector(VectorOp::Binary { op, a: ra.clone(), b: rb.clone(), out: out32.clone() });
        let want: Vec<i32> = a.iter().zip(&b).map(|(p, q)| f32bit(*p, *q)).collect();
        assert_eq!(mem.get::<i32>(&out32), want, "{op:?} i32");
        mem.vector(VectorOp::Binary { op, a: rx.clone(), b: ry.clone(), out: out8.clone() });
        let want: Vec<u8> = x.iter().zip(&y).map(|(p, q)| f8bit(*p, *q)).collect();
        assert_eq!(mem.get::<u8>(&out8), want, "{op:?} u8");
    }
}

#[test]
fn integer_max_min_and_mixed_widths() {
    // i8 and u8 operands into an i32 output: -1 (i8) is -1, 255 (u8) is 255.
    let mut mem = Mem::new();
    let ra = mem.put(HBM, &[3], &[-1i8, 100, -128]);
    let rb = mem.put(HBM, &[3], &[255u8, 3, 0]);
    let out = mem.region(HBM, DType::I32, &[3]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Max, a: ra.clone(), b: rb.clone(), out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [255, 100, 0]);
    mem.vector(VectorOp::Binary { op: BinaryOp::Min, a: ra, b: rb, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [-1, 3, -128]);
}

#[test]
fn scalar_ops() {
    let xs = values(8, 40);
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[2, 4], &xs);
    let out = mem.region(HBM, DType::F32, &[2, 4]);
    for (op, s, f) in [
        (BinaryOp::Mul, 0.5, (|x, s| x * s) as fn(f32, f32) -> f32),
        (BinaryOp::Sub, 0.25, |x, s| x - s),
        (BinaryOp::Div, 3.0, |x, s| x / s),
        (BinaryOp::Pow, 2.0, f32::powf),
        (BinaryOp::Max, 0.0, f32::max),
        // 0.1 is rounded to f32 once, then used.
        (BinaryOp::Add, 0.1, |x, s| x + s),
    ] {
        mem.vector(VectorOp::Scalar { op, x: rx.clone(), scalar: s, out: out.clone() });
        let want: Vec<f32> = xs.iter().map(|&x| f(x, s as f32)).collect();
        assert_eq!(mem.get::<f32>(&out), want, "{op:?}");
    }

    let ints = [i32::MAX, 0, -4];
    let rx = mem.put(HBM, &[3], &ints);
    let out = mem.region(HBM, DType::I32, &[3]);
    mem.vector(VectorOp::Scalar { op: BinaryOp::Add, x: rx.clone(), scalar: 1.0, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [i32::MIN, 1, -3]);
    mem.vector(VectorOp::Scalar { op: BinaryOp::BitAnd, x: rx, scalar: 6.0, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [6, 0, 4]);
}

// ---------------------------------------------------------------------------------------------
// Vector: reductions

/// Plain-loop reference over a row-major [rows, cols] matrix, accumulating in index order.
fn reduce_reference(op: ReduceKind, x: &[f32], rows: usize, cols: usize, axis: usize) -> Vec<f32> {
    let (outer, len) = if axis == 0 { (cols, rows) } else { (rows, cols) };
    let at = |o: usize, j: usize| if axis == 0 { x[j * cols + o] } else { x[o * cols + j] };
    (0..outer)
        .map(|o| {
            let mut acc = at(o, 0);
            for j in 1..len {
                let v = at(o, j);
                acc = match op {
                    ReduceKind::Sum | ReduceKind::Mean => acc + v,
                    ReduceKind::Max => acc.max(v),
                    ReduceKind::Min => acc.min(v),
                    ReduceKind::Prod => acc * v,
                };
            }
            if op == ReduceKind::Mean { acc / len as f32 } else { acc }
        })
        .collect()
}

#[test]
fn reductions_along_each_axis_keepdim_or_not() {
    let (rows, cols) = (5, 7);
    let xs: Vec<f32> = values(rows * cols, 50).into_iter().map(|v| v * 3.0).collect();
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[rows, cols], &xs);
    for op in [ReduceKind::Sum, ReduceKind::Max, ReduceKind::Min, ReduceKind::Mean, ReduceKind::Prod] {
        for axis in [0, 1] {
            let want = reduce_reference(op, &xs, rows, cols, axis);
            let (removed, kept) = if axis == 0 { (vec![cols], vec![1, cols]) } else { (vec![rows], vec![rows, 1]) };
            for shape in [removed, kept] {
                let out = mem.region(TCM, DType::F32, &shape);
                mem.vector(VectorOp::Reduce { op, x: rx.clone(), axis, out: out.clone() });
                assert_eq!(mem.get::<f32>(&out), want, "{op:?} axis {axis} into {shape:?}");
            }
        }
    }
}

#[test]
fn reduction_of_a_3d_strided_view_along_the_middle_axis() {
    // x is a [2, 3, 4] array viewed as [2, 4, 3] (last two axes swapped); reduce axis 1 (len 4).
    let data = values(24, 51);
    let mut mem = Mem::new();
    let stored = mem.put(HBM, &[2, 3, 4], &data);
    let rx = Region::new(HBM, stored.addr, DType::F32, stored.layout.transpose(1, 2).unwrap());
    let out = mem.region(HBM, DType::F32, &[2, 3]);
    mem.vector(VectorOp::Reduce { op: ReduceKind::Sum, x: rx, axis: 1, out: out.clone() });
    let mut want = vec![0.0f32; 6];
    for i in 0..2 {
        for k in 0..3 {
            let mut acc = data[i * 12 + k * 4];
            for j in 1..4 {
                acc += data[i * 12 + k * 4 + j];
            }
            want[i * 3 + k] = acc;
        }
    }
    assert_eq!(mem.get::<f32>(&out), want);
}

#[test]
fn integer_reductions_wrap() {
    let xs = [i32::MAX, 1, 3, -2, 5, 7];
    let mut mem = Mem::new();
    let rx = mem.put(HBM, &[3, 2], &xs);
    let out = mem.region(HBM, DType::I32, &[2]);
    mem.vector(VectorOp::Reduce { op: ReduceKind::Sum, x: rx.clone(), axis: 0, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [i32::MAX.wrapping_add(3).wrapping_add(5), 1 - 2 + 7]);
    mem.vector(VectorOp::Reduce { op: ReduceKind::Prod, x: rx.clone(), axis: 0, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [i32::MAX.wrapping_mul(3).wrapping_mul(5), -14]);
    let out = mem.region(HBM, DType::I32, &[3, 1]);
    mem.vector(VectorOp::Reduce { op: ReduceKind::Max, x: rx.clone(), axis: 1, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [i32::MAX, 3, 7]);
    mem.vector(VectorOp::Reduce { op: ReduceKind::Min, x: rx, axis: 1, out: out.clone() });
    assert_eq!(mem.get::<i32>(&out), [1, -2, 5]);
}

#[test]
fn empty_axis_reductions() {
    let mut mem = Mem::new();
    let rx = mem.region(HBM, DType::F32, &[2, 0]);
    for (op, want) in [(ReduceKind::Sum, 0.0f32), (ReduceKind::Prod, 1.0)] {
        let out = mem.region(HBM, DType::F32, &[2]);
        mem.vector(VectorOp::Reduce { op, x: rx.clone(), axis: 1, out: out.clone() });
        assert_eq!(mem.get::<f32>(&out), [want, want], "{op:?}");
    }
    let out = mem.region(HBM, DType::F32, &[2]);
    mem.vector(VectorOp::Reduce { op: ReduceKind::Mean, x: rx, axis: 1, out: out.clone() });
    assert!(mem.get::<f32>(&out).iter().all(|v| v.is_nan()));
}

// ---------------------------------------------------------------------------------------------
// ReduceInto, Fill, HostWrite, copies

/// f16 accumulates round at every step: 1 + 2^-11 + 2^-11 is 1 + 2^-10 in one f32 sum, but each
/// single step 1 + 2^-11 is a tie that rounds back to 1.
#[test]
fn reduce_into_f16_rounds_at_each_step() {
    let mut mem = Mem::new();
    let dst = mem.put(HBM, &[2], &[f16::from_f32(1.0), f16::from_f32(-3.0)]);
    let src = mem.put(TCM, &[2], &[f16::from_f32(2f32.powi(-11)), f16::from_f32(0.5)]);
    for _ in 0..2 {
        mem.run(OpKind::ReduceInto { pe: PE, src: src.clone(), dst: dst.clone(), op: BinaryOp::Add });
    }
    let got = mem.get::<f16>(&dst);
    assert_eq!(got, [f16::from_f32(1.0), f16::from_f32(-2.0)]);
    let one_sum = f16::from_f32(1.0 + 2f32.powi(-11) + 2f32.powi(-11));
    assert_eq!(one_sum.to_f32(), 1.0 + 2f32.powi(-10));
    assert_ne!(got[0], one_sum);
}

#[test]
fn reduce_into_bf16_f32_and_integers() {
    let mut mem = Mem::new();
    // bf16: ulp at 1 is 2^-7; 2^-8 is a tie that rounds back to 1 each step.
    let dst = mem.put(HBM, &[1], &[bf16::from_f32(1.0)]);
    let src = mem.put(HBM, &[1], &[bf16::from_f32(2f32.powi(-8))]);
    for _ in 0..3 {
        mem.run(OpKind::ReduceInto { pe: PE, src: src.clone(), dst: dst.clone(), op: BinaryOp::Add });
    }
    assert_eq!(mem.get::<bf16>(&dst), [bf16::from_f32(1.0)]);

    // dst = op(dst, src): the order matters for sub.
    let dst = mem.put(HBM, &[3], &[10.0f32, 1.0, -2.0]);
    let src = mem.put(HBM, &[3], &[4.0f32, 8.0, -2.5]);
    mem.run(OpKind::ReduceInto { pe: PE, src: src.clone(), dst: dst.clone(), op: BinaryOp::Sub });
    assert_eq!(mem.get::<f32>(&dst), [6.0, -7.0, 0.5]);
    mem.run(OpKind::ReduceInto { pe: PE, src, dst: dst.clone(), op: BinaryOp::Max });
    assert_eq!(mem.get::<f32>(&dst), [6.0, 8.0, 0.5]);

    let dst = mem.put(HBM, &[2], &[i32::MAX, -9]);
    let src = mem.put(HBM, &[2], &[1i32, 3]);
    mem.run(OpKind::ReduceInto { pe: PE, src, dst: dst.clone(), op: BinaryOp::Add });
    assert_eq!(mem.get::<i32>(&dst), [i32::MIN, -6]);
}

#[test]
fn fill_converts_the_value_once() {
    let mut mem = Mem::new();
    let h = mem.region(HBM, DType::F16, &[3]);
    mem.run(OpKind::Fill { dst: h.clone(), value: 0.1 });
    assert!(mem.get::<f16>(&h).iter().all(|v| v.to_bits() == 0x2e66), "0.1 in f16 is 0x2e66");
    let i = mem.region(HBM, DType::I8, &[2]);
    mem.run(OpKind::Fill { dst: i.clone(), value: 300.0 });
    assert_eq!(mem.get::<i8>(&i), [127, 127]);
    mem.run(OpKind::Fill { dst: i.clone(), value: -2.5 });
    assert_eq!(mem.get::<i8>(&i), [-2, -2]);
    let d = mem.region(TCM, DType::F64, &[2]);
    mem.run(OpKind::Fill { dst: d.clone(), value: 0.1 });
    assert_eq!(mem.get::<f64>(&d), [0.1, 0.1]);

    // A strided fill touches only its elements: column 1 of a [3, 3] zero matrix.
    let m = mem.region(HBM, DType::F32, &[3, 3]);
    let col = Region::new(HBM, m.addr, DType::F32, m.layout.slice(1, 1, 2, 1).unwrap());
    mem.run(OpKind::Fill { dst: col, value: 2.5 });
    assert_eq!(mem.get::<f32>(&m), [0.0, 2.5, 0.0, 0.0, 2.5, 0.0, 0.0, 2.5, 0.0]);
}

#[test]
fn host_write_stores_the_bytes() {
    let mut mem = Mem::new();
    let data = [1.5f32, -2.0, 3.25, 4.0];
    let dst = mem.region(HBM, DType::F32, &[2, 2]);
    mem.run(OpKind::HostWrite { dst: dst.clone(), data: Arc::from(bytemuck::cast_slice::<f32, u8>(&data)) });
    assert_eq!(mem.get::<f32>(&dst), data);
    // Into a transposed view: packed row-major in the view's index order.
    let t = Region::new(HBM, dst.addr, DType::F32, dst.layout.transpose(0, 1).unwrap());
    mem.run(OpKind::HostWrite { dst: t, data: Arc::from(bytemuck::cast_slice::<f32, u8>(&data)) });
    assert_eq!(mem.get::<f32>(&dst), [1.5, 3.25, -2.0, 4.0]);
}

#[test]
fn dma_between_hbm_and_tcm_with_strided_source() {
    let (rows, cols) = (4, 6);
    let data: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
    let mut mem = Mem::new();
    let src = mem.put(HBM, &[rows, cols], &data);
    // Rows 1..4, every other column from 1: a [3, 3] view with strides [6, 2].
    let view = src.layout.sub_block(&[1, 0], &[3, cols]).unwrap().slice(1, 1, cols, 2).unwrap();
    let src_view = Region::new(HBM, src.addr, DType::F32, view);
    let tile = mem.region(TCM, DType::F32, &[3, 3]);
    mem.run(OpKind::Dma { pe: PE, src: src_view, dst: tile.clone() });
    let mut want = Vec::new();
    for r in 1..4 {
        for c in (1..cols).step_by(2) {
            want.push(data[r * cols + c]);
        }
    }
    assert_eq!(mem.get::<f32>(&tile), want);

    // And back, into a transposed view of a fresh HBM block.
    let back = mem.region(HBM, DType::F32, &[3, 3]);
    let back_t = Region::new(HBM, back.addr, DType::F32, back.layout.transpose(0, 1).unwrap());
    mem.run(OpKind::Dma { pe: PE, src: tile, dst: back_t });
    let got = mem.get::<f32>(&back);
    for i in 0..3 {
        for j in 0..3 {
            assert_eq!(got[j * 3 + i], want[i * 3 + j], "({i}, {j})");
        }
    }
}

#[test]
fn link_transfer_moves_bytes_between_devices_and_join_does_nothing() {
    let data: Vec<bf16> = values(10, 60).into_iter().map(bf16::from_f32).collect();
    let mut mem = Mem::new();
    let src = mem.put(HBM, &[10], &data);
    let dst = mem.region(HBM1, DType::BF16, &[10]);
    mem.run(OpKind::LinkTransfer { src, dst: dst.clone() });
    assert_eq!(mem.get::<bf16>(&dst), data);
    mem.run(OpKind::Join);
    assert_eq!(mem.get::<bf16>(&dst), data);
}

#[test]
fn unvalidated_shape_mismatches_are_errors_not_panics() {
    let mut mem = Mem::new();
    let a = mem.region(HBM, DType::F32, &[2, 3]);
    let b = mem.region(HBM, DType::F32, &[4, 2]);
    let c = mem.region(HBM, DType::F32, &[2, 2]);
    let gemm = OpKind::Gemm { pe: PE, a: a.clone(), b, c: c.clone(), accumulate: false };
    assert!(execute(&mut mem.store, &gemm).is_err());
    let bad =
        OpKind::Vector { pe: PE, op: VectorOp::Reduce { op: ReduceKind::Sum, x: a.clone(), axis: 5, out: c.clone() } };
    assert!(execute(&mut mem.store, &bad).is_err());
    let bad = OpKind::Vector { pe: PE, op: VectorOp::Binary { op: BinaryOp::Add, a: a.clone(), b: c.clone(), out: a } };
    assert!(execute(&mut mem.store, &bad).is_err());
}
