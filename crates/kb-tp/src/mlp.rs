//! [`ParallelMLP`]: Megatron-LM's transformer MLP block on the tensor-parallel group,
//! `y = gelu(x·W1ᵀ + b1)·W2ᵀ + b2` — a [`ColumnParallelLinear`] (hidden → ffn, its output left
//! split, its bias skipped), a fused bias-GeLU epilogue on each rank's part, and a
//! [`RowParallelLinear`] (ffn → hidden, input already split) whose all-reduce is the block's one
//! collective and whose bias is added once, after it.
//!
//! Rounding (see [`crate::kernels`]): the first GEMM's f32 accumulator is rounded to the dtype;
//! the epilogue computes `gelu(h + b1)` in f32 (tanh approximation) and rounds once; each rank's
//! partial second GEMM is rounded to the dtype; the all-reduce sums in the dtype; the epilogue
//! adds `b2` in f32 and rounds once.

use kb_mem::DType;
use kb_sched::{RankCtx, Tensor};

use crate::TpError;
use crate::kernels::{Activation, bias_act};
use crate::layers::{ColumnOptions, ColumnParallelLinear, RowOptions, RowParallelLinear};

/// The column-parallel layer's options: output split, bias for the fused epilogue.
const FC1: ColumnOptions = ColumnOptions { bias: true, gather_output: false, skip_bias_add: true };
/// The row-parallel layer's options: input already split, bias added after the all-reduce.
const FC2: RowOptions = RowOptions { bias: true, input_is_parallel: true, skip_bias_add: false };

/// The MLP block. See the module documentation.
#[derive(Debug, Clone)]
pub struct ParallelMLP {
    ctx: RankCtx,
    dense_h_to_4h: ColumnParallelLinear,
    dense_4h_to_h: RowParallelLinear,
}

impl ParallelMLP {
    /// A block of `hidden → ffn → hidden` features in `dtype`, weights and biases zeros (filled on
    /// the device: no host data).
    ///
    /// # Errors
    /// [`TpError::NotDivisible`] when `ffn` is not a multiple of `T`; as
    /// [`ColumnParallelLinear::new`] otherwise.
    pub fn new(ctx: &RankCtx, hidden: usize, ffn: usize, dtype: DType) -> Result<ParallelMLP, TpError> {
        Ok(ParallelMLP {
            ctx: ctx.clone(),
            dense_h_to_4h: ColumnParallelLinear::new(ctx, hidden, ffn, FC1, dtype)?,
            dense_4h_to_h: RowParallelLinear::new(ctx, ffn, hidden, FC2, dtype)?,
        })
    }

    /// A block from the full arrays, in PyTorch's layout: `w1` \[ffn, hidden\], `b1` \[ffn\], `w2`
    /// \[hidden, ffn\], `b2` \[hidden\] (row-major f32, rounded to `dtype`; a missing bias is zeros).
    /// This rank writes only its shards.
    ///
    /// # Errors
    /// As [`ParallelMLP::new`], and a [`TpError::Shape`] when an array's length does not match.
    pub fn from_full(
        ctx: &RankCtx,
        hidden: usize,
        ffn: usize,
        dtype: DType,
        (w1, b1): (&[f32], Option<&[f32]>),
        (w2, b2): (&[f32], Option<&[f32]>),
    ) -> Result<ParallelMLP, TpError> {
        Ok(ParallelMLP {
            ctx: ctx.clone(),
            dense_h_to_4h: ColumnParallelLinear::from_full(ctx, hidden, ffn, FC1, dtype, w1, b1)?,
            dense_4h_to_h: RowParallelLinear::from_full(ctx, ffn, hidden, FC2, dtype, w2, b2)?,
        })
    }

    /// The column-parallel layer, hidden → ffn.
    pub fn dense_h_to_4h(&self) -> &ColumnParallelLinear {
        &self.dense_h_to_4h
    }

    /// The row-parallel layer, ffn → hidden.
    pub fn dense_4h_to_h(&self) -> &RowParallelLinear {
        &self.dense_4h_to_h
    }

    /// This rank's weights and biases (its shards): the column-parallel weight and bias, then the
    /// row-parallel weight and bias.
    pub fn parameters(&self) -> Vec<&Tensor> {
        let (fc1, fc2) = (&self.dense_h_to_4h, &self.dense_4h_to_h);
        [Some(fc1.weight()), fc1.bias(), Some(fc2.weight()), fc2.bias()].into_iter().flatten().collect()
    }

    /// The forward: `input` [.., hidden] (the same on every member) gives `y` [.., hidden], the
    /// same bytes on every member of the group.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor, TpError> {
        let (h, b1) = self.dense_h_to_4h.forward(input)?;
        let rows = h.numel() / h.shape().last().copied().unwrap_or(1).max(1);
        let h2 = h.reshape(&[rows, self.dense_h_to_4h.output_size_per_partition()])?;
        bias_act(&self.ctx.device(), &h2, b1.as_ref(), Activation::GeluTanh, &h2)?;
        let (y, _) = self.dense_4h_to_h.forward(&h)?;
        Ok(y)
    }
}
