//! The GEMM kernel against plain loops, for ragged shapes in f32, f16 and bf16.

use half::{bf16, f16};
use kb_mem::DType;
use kb_sched::{GemmBlocks, gemm};

use crate::common::{runtime, values};

/// Rounds through `dtype` (the values a tensor of that dtype holds).
fn rounded(dtype: DType, v: &[f32]) -> Vec<f32> {
    match dtype {
        DType::F16 => v.iter().map(|&x| f16::from_f32(x).to_f32()).collect(),
        DType::BF16 => v.iter().map(|&x| bf16::from_f32(x).to_f32()).collect(),
        _ => v.to_vec(),
    }
}

/// Plain-loop `c0 + a · b` in f64 over the given (already rounded) inputs.
fn reference(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c0: Option<&[f32]>) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = c0.map_or(0.0, |c0| c0[i * n + j] as f64);
            for p in 0..k {
                s += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            c[i * n + j] = s;
        }
    }
    c
}

fn check(dtype: DType, out: DType, (m, n, k): (usize, usize, usize), blocks: GemmBlocks, accumulate: bool) {
    let rt = runtime(4);
    let dev = rt.device(0).unwrap();
    let av = rounded(dtype, &values(m * k, 1));
    let bv = rounded(dtype, &values(k * n, 2));
    let cv = rounded(out, &values(m * n, 3));
    let a = dev.from_f32(&[m, k], dtype, &av).unwrap();
    let b = dev.from_f32(&[k, n], dtype, &bv).unwrap();
    let c = dev.from_f32(&[m, n], out, &cv).unwrap();
    gemm(&dev, &a, &b, &c, accumulate, blocks).unwrap().wait().unwrap();
    let got = c.to_vec::<f32>().unwrap();
    let want = reference(m, n, k, &av, &bv, accumulate.then_some(&cv[..]));
    // f32 accumulation in another order than the reference: a few f32 ulps of the magnitude; then
    // one rounding into the output dtype.
    let out_eps = match out {
        DType::F16 => 2f64.powi(-10),
        DType::BF16 => 2f64.powi(-7),
        _ => 0.0,
    };
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let scale = (k as f64).sqrt().max(1.0) + w.abs();
        let tol = scale * (8.0 * f32::EPSILON as f64) + w.abs() * out_eps;
        assert!((g as f64 - w).abs() <= tol, "{dtype}->{out} {m}x{n}x{k} [{i}]: {g} vs {w}");
    }
}

#[test]
fn f32_ragged_shapes() {
    let blocks = GemmBlocks { m: 16, n: 16, k: 16 };
    for shape in [(37, 29, 45), (1, 1, 1), (16, 16, 16), (5, 70, 3), (33, 17, 64)] {
        check(DType::F32, DType::F32, shape, blocks, false);
    }
    check(DType::F32, DType::F32, (37, 29, 45), GemmBlocks { m: 32, n: 8, k: 20 }, true);
}

#[test]
fn f16_and_bf16_ragged_shapes() {
    let blocks = GemmBlocks { m: 16, n: 32, k: 16 };
    for dtype in [DType::F16, DType::BF16] {
        check(dtype, dtype, (37, 29, 45), blocks, false);
        check(dtype, DType::F32, (21, 50, 33), blocks, false);
        check(dtype, dtype, (19, 23, 17), blocks, true);
    }
}

#[test]
fn f16_gemm_is_f32_math_on_rounded_inputs_rounded_once() {
    // Small integers: every f32 partial sum is exact, so the result is exactly the rounding of the
    // true product — independent of the accumulation order.
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let (m, n, k) = (9, 7, 40);
    let av: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    let bv: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
    let a = dev.from_f32(&[m, k], DType::F16, &av).unwrap();
    let b = dev.from_f32(&[k, n], DType::F16, &bv).unwrap();
    let c = dev.zeros(&[m, n], DType::F16).unwrap();
    gemm(&dev, &a, &b, &c, false, GemmBlocks { m: 8, n: 8, k: 8 }).unwrap();
    let got: Vec<f16> = c.to_vec().unwrap();
    let want: Vec<f16> = reference(m, n, k, &av, &bv, None).iter().map(|&v| f16::from_f32(v as f32)).collect();
    assert_eq!(got, want);
}

#[test]
fn bad_gemm_arguments_are_errors() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let a = dev.zeros(&[4, 8], DType::F32).unwrap();
    let b = dev.zeros(&[9, 2], DType::F32).unwrap();
    let c = dev.zeros(&[4, 2], DType::F32).unwrap();
    let err = gemm(&dev, &a, &b, &c, false, GemmBlocks::default()).unwrap_err();
    assert_eq!(err.to_string(), "gemm: a [4, 8] · b [9, 2] does not give c [4, 2]");
    let i = dev.zeros(&[8, 2], DType::I32).unwrap();
    let err = gemm(&dev, &a, &i, &c, false, GemmBlocks::default()).unwrap_err();
    assert_eq!(err.to_string(), "gemm: a is f32 but b is i32");
    let b = dev.zeros(&[8, 2], DType::F32).unwrap();
    let err = gemm(&dev, &a, &b, &c, false, GemmBlocks { m: 512, n: 512, k: 256 }).unwrap_err();
    assert!(err.to_string().starts_with("kernel `gemm` program [0] on device 0 PE 0: out of TCM"), "{err}");
}
