//! The mapping functions' forward semantics on groups of four, and the identity on a group of one.

use kb_mem::DType;
use kb_sched::{Tensor, spawn};
use kb_tp::mappings::*;
use kb_tp::{TpError, comm_spans, initialize_model_parallel};

/// Rank r's input [rows, cols]: element (i, j) = 100·r + cols·i + j (exact in f32).
fn input(ctx: &kb_sched::RankCtx, rows: usize, cols: usize) -> Result<Tensor, TpError> {
    let r = ctx.rank() as f32;
    let v: Vec<f32> = (0..rows * cols).map(|e| 100.0 * r + e as f32).collect();
    Ok(ctx.device().from_f32(&[rows, cols], DType::F32, &v)?)
}

#[test]
fn scatters_and_gathers_split_and_join_the_right_dimension() {
    let out = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        let x = input(&ctx, 2, 8)?;
        let last = scatter_to_tensor_model_parallel_region(&ctx, &x)?;
        let gathered = gather_from_tensor_model_parallel_region(&ctx, &last)?;
        let x_seq = input(&ctx, 8, 2)?;
        let first = scatter_to_sequence_parallel_region(&ctx, &x_seq)?;
        let seq_gathered = gather_from_sequence_parallel_region(&ctx, &first)?;
        Ok::<_, TpError>((
            last.shape().to_vec(),
            last.to_vec::<f32>()?,
            gathered.shape().to_vec(),
            gathered.to_vec::<f32>()?,
            first.to_vec::<f32>()?,
            seq_gathered.shape().to_vec(),
            seq_gathered.to_vec::<f32>()?,
        ))
    })
    .unwrap();
    for (r, (last_shape, last, g_shape, gathered, first, sg_shape, seq_gathered)) in out.into_iter().enumerate() {
        let base = 100.0 * r as f32;
        assert_eq!(last_shape, [2, 2]);
        // Columns 2r, 2r + 1 of each of the two rows of 8.
        let c = 2.0 * r as f32;
        assert_eq!(last, [base + c, base + c + 1.0, base + 8.0 + c, base + 9.0 + c]);
        // The gather joins rank q's columns 2q, 2q + 1 of its own input, in rank order.
        assert_eq!(g_shape, [2, 8]);
        let want: Vec<f32> =
            (0..2).flat_map(|i| (0..8).map(move |j| 100.0 * (j / 2) as f32 + (8 * i + j) as f32)).collect();
        assert_eq!(gathered, want, "rank {r}");
        // Rows 2r, 2r + 1 of the [8, 2] input.
        assert_eq!(
            first,
            [
                base + 4.0 * r as f32,
                base + 4.0 * r as f32 + 1.0,
                base + 4.0 * r as f32 + 2.0,
                base + 4.0 * r as f32 + 3.0
            ]
        );
        assert_eq!(sg_shape, [8, 2]);
        let want: Vec<f32> = (0..16).map(|e| 100.0 * (e / 4) as f32 + e as f32).collect();
        assert_eq!(seq_gathered, want, "rank {r}");
    }
}

#[test]
fn reductions_sum_over_the_group() {
    let out = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        let x = input(&ctx, 4, 3)?;
        let scattered = reduce_scatter_to_sequence_parallel_region(&ctx, &x)?;
        let same = reduce_from_tensor_model_parallel_region(&ctx, &x)?;
        assert!(same.shares_storage(&x), "the all-reduce is in place");
        let copied = copy_to_tensor_model_parallel_region(&ctx, &x)?;
        assert!(copied.shares_storage(&x), "the copy's forward is the identity");
        Ok::<_, TpError>((scattered.to_vec::<f32>()?, same.to_vec::<f32>()?, comm_spans(&ctx)))
    })
    .unwrap();
    // Σ_r (100·r + e) = 600 + 4e.
    let sum: Vec<f32> = (0..12).map(|e| 600.0 + 4.0 * e as f32).collect();
    for (r, (scattered, reduced, spans)) in out.into_iter().enumerate() {
        assert_eq!(scattered, sum[3 * r..3 * r + 3], "rank {r}");
        assert_eq!(reduced, sum, "rank {r}");
        let names: Vec<&str> = spans.iter().map(|s| s.collective).collect();
        assert_eq!(names, ["reduce_scatter_tensor", "all_reduce"]);
        assert!(spans.iter().all(|s| s.group_size == 4 && s.bytes == 48 && s.end_ps > s.ready_ps), "{spans:?}");
    }
}

#[test]
fn a_group_of_one_is_the_identity() {
    // Two ranks, T = 1: each rank's tensor-parallel group is itself.
    let out = spawn(2, |ctx| {
        initialize_model_parallel(&ctx, 1, 1)?;
        let x = input(&ctx, 2, 3)?;
        let all = [
            scatter_to_tensor_model_parallel_region(&ctx, &x)?,
            gather_from_tensor_model_parallel_region(&ctx, &x)?,
            reduce_from_tensor_model_parallel_region(&ctx, &x)?,
            scatter_to_sequence_parallel_region(&ctx, &x)?,
            gather_from_sequence_parallel_region(&ctx, &x)?,
            reduce_scatter_to_sequence_parallel_region(&ctx, &x)?,
            copy_to_tensor_model_parallel_region(&ctx, &x)?,
        ];
        assert!(all.iter().all(|t| t.shares_storage(&x) && t.shape() == x.shape()));
        Ok::<_, TpError>(comm_spans(&ctx).len())
    })
    .unwrap();
    assert_eq!(out, [0, 0], "nothing is communicated");
}

#[test]
fn uneven_splits_are_errors() {
    let err = spawn(4, |ctx| {
        initialize_model_parallel(&ctx, 4, 1)?;
        scatter_to_tensor_model_parallel_region(&ctx, &input(&ctx, 2, 6)?)
    })
    .unwrap_err();
    let kb_sched::SpawnError::Failed(f) = err else { panic!("a failure") };
    let want = "scatter_to_tensor_model_parallel_region: dimension 1 of [2, 6]: 6 is not divisible by the tensor \
                model parallel size 4";
    assert_eq!(f[0].message, format!("rank {}: {want}", f[0].rank));
}

#[test]
fn mappings_need_the_groups() {
    let err = spawn(1, |ctx| copy_to_tensor_model_parallel_region(&ctx, &input(&ctx, 1, 1)?)).unwrap_err();
    assert!(err.to_string().contains("tensor model parallel group is not initialized"), "{err}");
}
