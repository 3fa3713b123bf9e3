//! `ParallelMLP` against the unsplit plain-loop reference, for T ∈ {1, 2, 4, 8}.

use kb_mem::DType;
use kb_sched::spawn;
use kb_tp::{ParallelMLP, TpError, initialize_model_parallel};

use crate::reference::{Mlp, mlp, rounded, values};

const ROWS: usize = 4;
const HIDDEN: usize = 32;
const FFN: usize = 64;

/// The inputs, as the device holds them in `dtype`: x, (w1 [F, H], b1), (w2 [H, F], b2).
type Inputs = (Vec<f32>, (Vec<f32>, Vec<f32>), (Vec<f32>, Vec<f32>));

fn inputs(dtype: DType, b2: Option<Vec<f32>>, zero_w2: bool) -> Inputs {
    let r = |v: Vec<f32>| rounded(dtype, &v);
    let w2 = if zero_w2 { vec![0.0; HIDDEN * FFN] } else { values(14, HIDDEN * FFN, 1.0 / (FFN as f32).sqrt()) };
    (
        r(values(11, ROWS * HIDDEN, 1.0)),
        (r(values(12, FFN * HIDDEN, 1.0 / (HIDDEN as f32).sqrt())), r(values(13, FFN, 0.5))),
        (r(w2), r(b2.unwrap_or_else(|| values(15, HIDDEN, 0.5)))),
    )
}

/// Every rank's y, read back as f32.
fn run(tp: usize, dtype: DType, data: &Inputs) -> Vec<Vec<f32>> {
    let data = data.clone();
    spawn(tp, move |ctx| {
        initialize_model_parallel(&ctx, tp, 1)?;
        let (x, (w1, b1), (w2, b2)) = &data;
        let block = ParallelMLP::from_full(&ctx, HIDDEN, FFN, dtype, (w1, Some(b1)), (w2, Some(b2)))?;
        let input = ctx.device().from_f32(&[ROWS, HIDDEN], dtype, x)?;
        Ok::<_, TpError>(block.forward(&input)?.to_vec::<f32>()?)
    })
    .unwrap()
}

fn check(dtype: DType) {
    let data = inputs(dtype, None, false);
    let (x, (w1, b1), (w2, b2)) = &data;
    for tp in [1, 2, 4, 8] {
        let shape = Mlp { rows: ROWS, hidden: HIDDEN, ffn: FFN, tp, dtype };
        let (want, tol) = mlp(shape, x, (w1, b1), (w2, b2));
        let ys = run(tp, dtype, &data);
        for (rank, y) in ys.iter().enumerate() {
            assert_eq!(y, &ys[0], "{dtype} T={tp}: rank {rank} differs from rank 0 after the all-reduce");
        }
        let mut worst = 0f64;
        for (i, (&got, (&w, &t))) in ys[0].iter().zip(want.iter().zip(&tol)).enumerate() {
            let err = (f64::from(got) - w).abs();
            assert!(err <= t, "{dtype} T={tp}: y[{i}] = {got}, reference {w}, error {err:e} > bound {t:e}");
            worst = worst.max(err / t);
        }
        // A bound that a wrong result would also meet is no check: the values are O(1) and the
        // bound is far below that.
        let largest_tol = tol.iter().copied().fold(0.0, f64::max);
        let limit = if dtype == DType::F32 { 1e-4 } else { 0.1 };
        assert!(largest_tol < limit, "{dtype}: the bound {largest_tol:e} is too loose to check anything");
        assert!(worst <= 1.0);
    }
}

#[test]
fn the_mlp_equals_the_unsplit_reference_in_f32() {
    check(DType::F32);
}

#[test]
fn the_mlp_equals_the_unsplit_reference_in_f16() {
    check(DType::F16);
}

#[test]
fn the_mlp_equals_the_unsplit_reference_in_bf16() {
    check(DType::BF16);
}

#[test]
fn the_output_bias_is_added_exactly_once() {
    // With W2 = 0 every partial product is 0, so y is b2 exactly: once, not T times.
    let b2: Vec<f32> = (0..HIDDEN).map(|o| o as f32 * 0.25 - 4.0).collect();
    let data = inputs(DType::F16, Some(b2.clone()), true);
    for tp in [2, 8] {
        for y in run(tp, DType::F16, &data) {
            let want: Vec<f32> = (0..ROWS).flat_map(|_| b2.clone()).collect();
            assert_eq!(y, want, "T={tp}");
        }
    }
}

#[test]
fn the_ffn_size_must_split() {
    let err = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        ParallelMLP::new(&ctx, 8, 10, DType::F16).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("output_size: 10 is not divisible by the tensor model parallel size 4"), "{err}");
}
