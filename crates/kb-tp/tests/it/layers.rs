//! Column- and row-parallel linear layers: shard shapes, results against the plain-loop
//! reference, the bias added exactly once, and their errors.

use kb_mem::DType;
use kb_sched::spawn;
use kb_tp::*;

use crate::reference::{linear, values};

const ROWS: usize = 5;
const IN: usize = 24;
const OUT: usize = 16;

#[test]
fn shards_have_megatrons_shapes() {
    let shapes = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        let col = ColumnParallelLinear::new(&ctx, IN, OUT, ColumnOptions::default(), DType::F16)?;
        let row = RowParallelLinear::new(&ctx, IN, OUT, RowOptions::default(), DType::F16)?;
        let no_bias =
            RowParallelLinear::new(&ctx, IN, OUT, RowOptions { bias: false, ..RowOptions::default() }, DType::F16)?;
        assert!(no_bias.bias().is_none());
        assert_eq!((col.output_size_per_partition(), row.input_size_per_partition()), (OUT / 4, IN / 4));
        Ok::<_, TpError>((
            col.weight().shape().to_vec(),
            col.bias().unwrap().shape().to_vec(),
            row.weight().shape().to_vec(),
            row.bias().unwrap().shape().to_vec(),
        ))
    })
    .unwrap();
    for s in shapes {
        assert_eq!(s, (vec![OUT / 4, IN], vec![OUT / 4], vec![OUT, IN / 4], vec![OUT]));
    }
}

#[test]
fn sizes_that_do_not_split_are_errors() {
    let err = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        ColumnParallelLinear::new(&ctx, 8, 10, ColumnOptions::default(), DType::F32).map(|_| ())
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("ColumnParallelLinear output_size: 10 is not divisible by the tensor model parallel size 4"),
        "{err}"
    );
    let err = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        RowParallelLinear::new(&ctx, 6, 8, RowOptions::default(), DType::F32).map(|_| ())
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("RowParallelLinear input_size: 6 is not divisible by the tensor model parallel size 4"),
        "{err}"
    );
    let err = spawn(1, |ctx| {
        initialize_model_parallel(&ctx, 1, 1)?;
        ColumnParallelLinear::from_full(&ctx, 2, 2, ColumnOptions::default(), DType::F32, &[0.0; 3], None).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("the full weight holds 3 values, expected 4"), "{err}");
    let err = spawn(1, |ctx| {
        initialize_model_parallel(&ctx, 1, 1)?;
        ColumnParallelLinear::new(&ctx, 2, 2, ColumnOptions::default(), DType::I32).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("the GEMM kernel takes f16, bf16 or f32, not i32"), "{err}");
}

/// Inputs and full weights (f32, so the reference is exact up to f32 accumulation).
fn data() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    (values(1, ROWS * IN, 1.0), values(2, OUT * IN, 0.25), values(3, OUT, 1.0))
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        // f32 accumulation of IN = 24 products of magnitude ≤ 0.25, plus the bias.
        assert!((f64::from(g) - w).abs() <= 1e-5, "{what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn row_parallel_equals_the_concatenated_shard_matmul() {
    for t in [1, 2, 4] {
        let (x, w, b) = data();
        let (xc, wc, bc) = (x.clone(), w.clone(), b.clone());
        let out = spawn(t, move |ctx| {
            initialize_model_parallel(&ctx, t, 1)?;
            let row = RowParallelLinear::from_full(&ctx, IN, OUT, RowOptions::default(), DType::F32, &wc, Some(&bc))?;
            let input = ctx.device().from_f32(&[ROWS, IN], DType::F32, &xc)?;
            let (y, bias) = row.forward(&input)?;
            assert!(bias.is_none());
            Ok::<_, TpError>((row.weight().to_vec::<f32>()?, y.to_vec::<f32>()?))
        })
        .unwrap();
        // The shards, side by side, are the full weight.
        let part = IN / t;
        for o in 0..OUT {
            let joined: Vec<f32> = out.iter().flat_map(|(shard, _)| shard[o * part..(o + 1) * part].to_vec()).collect();
            assert_eq!(joined, w[o * IN..(o + 1) * IN], "T={t}, row {o}");
        }
        let want = linear(&x, &w, Some(&b), ROWS, IN, OUT);
        for (r, (_, y)) in out.iter().enumerate() {
            assert_close(y, &want, &format!("T={t} rank {r}"));
            assert_eq!(y, &out[0].1, "every rank holds the same bytes");
        }
    }
}

#[test]
fn row_parallel_takes_a_split_input_and_can_skip_its_bias() {
    let (x, w, b) = data();
    let (xc, wc, bc) = (x.clone(), w.clone(), b.clone());
    let out = spawn(2, move |ctx| {
        initialize_model_parallel(&ctx, 2, 1)?;
        let options = RowOptions { input_is_parallel: true, skip_bias_add: true, ..RowOptions::default() };
        let row = RowParallelLinear::from_full(&ctx, IN, OUT, options, DType::F32, &wc, Some(&bc))?;
        let t = ctx.rank();
        let mine: Vec<f32> = xc.chunks(IN).flat_map(|r| r[t * IN / 2..(t + 1) * IN / 2].to_vec()).collect();
        let input = ctx.device().from_f32(&[ROWS, IN / 2], DType::F32, &mine)?;
        let (y, bias) = row.forward(&input)?;
        Ok::<_, TpError>((y.to_vec::<f32>()?, bias.expect("skipped, so returned").to_vec::<f32>()?))
    })
    .unwrap();
    let want = linear(&x, &w, None, ROWS, IN, OUT);
    for (y, bias) in out {
        assert_close(&y, &want, "no bias");
        assert_eq!(bias, b);
    }
}

#[test]
fn column_parallel_gathers_or_keeps_its_part() {
    let (x, w, b) = data();
    let want = linear(&x, &w, Some(&b), ROWS, IN, OUT);
    let t = 4;
    for gather_output in [true, false] {
        let (xc, wc, bc) = (x.clone(), w.clone(), b.clone());
        let out = spawn(t, move |ctx| {
            initialize_model_parallel(&ctx, t, 1)?;
            let options = ColumnOptions { gather_output, ..ColumnOptions::default() };
            let col = ColumnParallelLinear::from_full(&ctx, IN, OUT, options, DType::F32, &wc, Some(&bc))?;
            let input = ctx.device().from_f32(&[ROWS, IN], DType::F32, &xc)?;
            let (y, bias) = col.forward(&input)?;
            assert!(bias.is_none());
            Ok::<_, TpError>((col.weight().to_vec::<f32>()?, y.shape().to_vec(), y.to_vec::<f32>()?))
        })
        .unwrap();
        let part = OUT / t;
        for (r, (shard, shape, y)) in out.into_iter().enumerate() {
            assert_eq!(shard, w[r * part * IN..(r + 1) * part * IN], "rank {r} holds rows {r}·out/T..");
            if gather_output {
                assert_eq!(shape, [ROWS, OUT]);
                assert_close(&y, &want, &format!("rank {r}"));
            } else {
                assert_eq!(shape, [ROWS, part]);
                let mine: Vec<f64> = want.chunks(OUT).flat_map(|row| row[r * part..(r + 1) * part].to_vec()).collect();
                assert_close(&y, &mine, &format!("rank {r}"));
            }
        }
    }
}

#[test]
fn column_parallel_keeps_leading_dimensions_and_skips_its_bias_on_request() {
    let (x, w, b) = data();
    let (xc, wc, bc) = (x.clone(), w.clone(), b.clone());
    let out = spawn(2, move |ctx| {
        initialize_model_parallel(&ctx, 2, 1)?;
        let options = ColumnOptions { skip_bias_add: true, ..ColumnOptions::default() };
        let col = ColumnParallelLinear::from_full(&ctx, IN, OUT, options, DType::F32, &wc, Some(&bc))?;
        // [1, ROWS, IN]: the leading dimensions are rows.
        let input = ctx.device().from_f32(&[1, ROWS, IN], DType::F32, &xc)?;
        let (y, bias) = col.forward(&input)?;
        Ok::<_, TpError>((y.shape().to_vec(), y.to_vec::<f32>()?, bias.expect("returned").to_vec::<f32>()?))
    })
    .unwrap();
    let want = linear(&x, &w, None, ROWS, IN, OUT);
    for (r, (shape, y, bias)) in out.into_iter().enumerate() {
        assert_eq!(shape, [1, ROWS, OUT]);
        assert_close(&y, &want, "no bias");
        assert_eq!(bias, b[r * OUT / 2..(r + 1) * OUT / 2]);
    }
}

#[test]
fn the_row_parallel_bias_is_added_once_not_once_per_rank() {
    let b: Vec<f32> = (0..OUT).map(|o| o as f32 + 0.5).collect();
    let bc = b.clone();
    let out = spawn(4, move |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        let zeros = vec![0f32; OUT * IN];
        let row = RowParallelLinear::from_full(&ctx, IN, OUT, RowOptions::default(), DType::F16, &zeros, Some(&bc))?;
        let input = ctx.device().full(&[ROWS, IN], 1.0, DType::F16)?;
        Ok::<_, TpError>(row.forward(&input)?.0.to_vec::<f32>()?)
    })
    .unwrap();
    let want: Vec<f32> = (0..ROWS).flat_map(|_| b.clone()).collect();
    assert!(out.iter().all(|y| *y == want), "{out:?}");
}

#[test]
fn forward_checks_its_input() {
    let err = spawn(2, |ctx| {
        initialize_model_parallel(&ctx, 2, 1)?;
        let row = RowParallelLinear::new(&ctx, IN, OUT, RowOptions::default(), DType::F32)?;
        row.forward(&ctx.device().zeros(&[ROWS, IN + 1], DType::F32)?).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("RowParallelLinear: the input [5, 25] must end in 24 features"), "{err}");
    let err = spawn(1, |ctx| {
        initialize_model_parallel(&ctx, 1, 1)?;
        let col = ColumnParallelLinear::new(&ctx, IN, OUT, ColumnOptions::default(), DType::F32)?;
        col.forward(&ctx.device().zeros(&[ROWS, IN], DType::F16)?).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("the input is f16 but the layer is f32"), "{err}");
}
