//! The tensor-parallel linear layers, as Megatron-LM's `ColumnParallelLinear` and
//! `RowParallelLinear` (forward only), on this rank's tensor-parallel group of `T` ranks.
//!
//! Both hold PyTorch's layout, `y = x·Wᵀ + b` with the full weight `W` [out, in]:
//!
//! - [`ColumnParallelLinear`] splits `W` by rows (output features): rank `t` holds rows
//!   `t·out/T .. (t+1)·out/T` as its weight [out/T, in] and that part of the bias [out/T]. Its
//!   forward takes the full input, computes its part of the output (bias added, unless
//!   `skip_bias_add`), and all-gathers the parts along the last dimension when `gather_output`.
//! - [`RowParallelLinear`] splits `W` by columns (input features): rank `t` holds columns
//!   `t·in/T .. (t+1)·in/T` as its weight [out, in/T]; the bias [out] is whole on every rank. Its
//!   forward takes its part of the input (or scatters the full input when not
//!   `input_is_parallel`), computes the partial product, all-reduces it over the group, and adds
//!   the bias once, after the all-reduce (unless `skip_bias_add`).
//!
//! Inputs are contiguous tensors `[.., features]` of the layer's dtype (f16, bf16 or f32); the
//! leading dimensions are flattened into rows. The GEMMs run on kb-sched's GEMM kernel
//! ([`crate::kernels::linear`]), the bias in an epilogue ([`crate::kernels::bias_act`]); see
//! [`crate::kernels`] for where values are rounded. A row-parallel partial product is rounded to
//! the dtype before the all-reduce, which sums in the dtype (f16 and bf16 round at each step of
//! the ring), as on a device whose collectives move the layer's dtype.
//!
//! Weights come from the full (unsplit) arrays, each rank writing only its shard to its device
//! (`from_full`), or are zeros filled on the device (`new`: no host data, for timing-only runs).

use kb_mem::DType;
use kb_sched::{Device, RankCtx, Tensor};

use crate::kernels::{Activation, bias_act, linear};
use crate::mappings::{
    copy_to_tensor_model_parallel_region, gather_from_tensor_model_parallel_region,
    reduce_from_tensor_model_parallel_region, scatter_to_tensor_model_parallel_region,
};
use crate::parallel_state::{get_tensor_model_parallel_rank, get_tensor_model_parallel_world_size};
use crate::{TpError, shape_error};

/// The options of a [`ColumnParallelLinear`], Megatron's defaults by [`Default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnOptions {
    /// Whether the layer has a bias (default: yes).
    pub bias: bool,
    /// Whether the forward all-gathers the parts into the full output (default: yes); otherwise
    /// each rank returns its part [.., out/T].
    pub gather_output: bool,
    /// Whether the forward leaves the bias out of the output and returns it instead, for a later
    /// fused epilogue (default: no).
    pub skip_bias_add: bool,
}

impl Default for ColumnOptions {
    fn default() -> ColumnOptions {
        ColumnOptions { bias: true, gather_output: true, skip_bias_add: false }
    }
}

/// The options of a [`RowParallelLinear`], Megatron's defaults by [`Default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOptions {
    /// Whether the layer has a bias (default: yes).
    pub bias: bool,
    /// Whether the forward's input is already split along its last dimension, [.., in/T]
    /// (default: no: the full input is scattered first).
    pub input_is_parallel: bool,
    /// Whether the forward leaves the bias out of the output and returns it instead (default: no).
    pub skip_bias_add: bool,
}

impl Default for RowOptions {
    fn default() -> RowOptions {
        RowOptions { bias: true, input_is_parallel: false, skip_bias_add: false }
    }
}

/// A layer's forward result, as Megatron's `(output, output_bias)`: the bias is returned only
/// with `skip_bias_add`.
pub type Forward = (Tensor, Option<Tensor>);

/// The sizes, dtype and shard of one layer, shared by both kinds.
#[derive(Debug, Clone)]
struct Shard {
    ctx: RankCtx,
    input_size: usize,
    output_size: usize,
    dtype: DType,
    weight: Tensor,
    bias: Option<Tensor>,
}

/// Checks the dtype and that `size` splits over `parts`.
fn check_sizes(
    ctx: &RankCtx,
    layer: &'static str,
    dtype: DType,
    split: (&'static str, usize),
    parts: usize,
) -> Result<(), TpError> {
    if !matches!(dtype, DType::F16 | DType::BF16 | DType::F32) {
        return Err(shape_error(ctx, layer, format!("the GEMM kernel takes f16, bf16 or f32, not {dtype}")));
    }
    if !split.1.is_multiple_of(parts) {
        return Err(TpError::NotDivisible {
            rank: ctx.rank(),
            what: format!("{layer} {}", split.0),
            size: split.1,
            parts,
        });
    }
    Ok(())
}

/// Checks that a full array holds `expected` values.
fn check_len(ctx: &RankCtx, layer: &'static str, what: &str, got: usize, expected: usize) -> Result<(), TpError> {
    if got != expected {
        return Err(shape_error(ctx, layer, format!("the full {what} holds {got} values, expected {expected}")));
    }
    Ok(())
}

/// A device tensor of `shape` holding `values` (rounded to `dtype`), or zeros filled on the device.
fn tensor(dev: &Device, shape: &[usize], dtype: DType, values: Option<&[f32]>) -> Result<Tensor, TpError> {
    Ok(match values {
        Some(v) => dev.from_f32(shape, dtype, v)?,
        None => dev.zeros(shape, dtype)?,
    })
}

impl Shard {
    /// The input as rows [rows, features], checked.
    fn rows(&self, layer: &'static str, input: &Tensor, features: usize) -> Result<Tensor, TpError> {
        let ctx = &self.ctx;
        if input.dtype() != self.dtype {
            return Err(shape_error(
                ctx,
                layer,
                format!("the input is {} but the layer is {}", input.dtype(), self.dtype),
            ));
        }
        if input.shape().last() != Some(&features) {
            return Err(shape_error(
                ctx,
                layer,
                format!("the input {:?} must end in {features} features", input.shape()),
            ));
        }
        if !input.is_contiguous() {
            return Err(shape_error(ctx, layer, format!("the input {:?} must be contiguous", input.shape())));
        }
        Ok(input.reshape(&[input.numel() / features.max(1), features])?)
    }

    /// `out = x · weightᵀ (+ bias)` with one rounding into `out`'s dtype.
    fn matmul(&self, x: &Tensor, bias: Option<&Tensor>, out: &Tensor) -> Result<(), TpError> {
        let dev = self.ctx.device();
        match bias {
            None => {
                linear(&dev, x, &self.weight, out)?;
            }
            Some(b) if out.dtype() == DType::F32 => {
                linear(&dev, x, &self.weight, out)?;
                bias_act(&dev, out, Some(b), Activation::Identity, out)?;
            }
            Some(b) => {
                let acc = dev.empty(out.shape(), DType::F32)?;
                linear(&dev, x, &self.weight, &acc)?;
                bias_act(&dev, &acc, Some(b), Activation::Identity, out)?;
            }
        }
        Ok(())
    }
}

/// `output` [rows, n] reshaped to `input`'s leading dimensions and `n`.
fn unflatten(input: &Tensor, output: &Tensor) -> Result<Tensor, TpError> {
    let mut shape = input.shape().to_vec();
    let n = output.shape()[1];
    *shape.last_mut().expect("inputs have a feature dimension") = n;
    Ok(output.reshape(&shape)?)
}

/// A linear layer whose weight is split by output features over the tensor-parallel group. See
/// the module documentation.
#[derive(Debug, Clone)]
pub struct ColumnParallelLinear {
    shard: Shard,
    options: ColumnOptions,
    parts: usize,
}

impl ColumnParallelLinear {
    const NAME: &'static str = "ColumnParallelLinear";

    /// A layer of `input_size → output_size` features in `dtype`, weight and bias zeros (filled
    /// on the device: no host data).
    ///
    /// # Errors
    /// [`TpError::NotDivisible`] when `output_size` is not a multiple of `T`;
    /// [`TpError::NotInitialized`] before `initialize_model_parallel`; a [`TpError::Shape`] for a
    /// dtype the GEMM kernel does not take.
    pub fn new(
        ctx: &RankCtx,
        input_size: usize,
        output_size: usize,
        options: ColumnOptions,
        dtype: DType,
    ) -> Result<ColumnParallelLinear, TpError> {
        ColumnParallelLinear::build(ctx, input_size, output_size, options, dtype, None, None)
    }

    /// A layer whose weight and bias come from the full arrays: `weight` \[output_size,
    /// input_size\] and `bias` \[output_size\], row-major f32, rounded to `dtype`. This rank writes
    /// only its shard: rows `t·out/T .. (t+1)·out/T`. Without `bias` (and with `options.bias`) the
    /// bias is zeros.
    ///
    /// # Errors
    /// As [`ColumnParallelLinear::new`], and a [`TpError::Shape`] when an array's length does not
    /// match, or a bias is given to a layer without one.
    pub fn from_full(
        ctx: &RankCtx,
        input_size: usize,
        output_size: usize,
        options: ColumnOptions,
        dtype: DType,
        weight: &[f32],
        bias: Option<&[f32]>,
    ) -> Result<ColumnParallelLinear, TpError> {
        ColumnParallelLinear::build(ctx, input_size, output_size, options, dtype, Some(weight), bias)
    }

    fn build(
        ctx: &RankCtx,
        input_size: usize,
        output_size: usize,
        options: ColumnOptions,
        dtype: DType,
        weight: Option<&[f32]>,
        bias: Option<&[f32]>,
    ) -> Result<ColumnParallelLinear, TpError> {
        let parts = get_tensor_model_parallel_world_size(ctx)?;
        let t = get_tensor_model_parallel_rank(ctx)?;
        check_sizes(ctx, Self::NAME, dtype, ("output_size", output_size), parts)?;
        let local = output_size / parts;
        let rows = t * local..(t + 1) * local;
        if let Some(w) = weight {
            check_len(ctx, Self::NAME, "weight", w.len(), output_size * input_size)?;
        }
        if let Some(b) = bias {
            if !options.bias {
                return Err(shape_error(
                    ctx,
                    Self::NAME,
                    "a bias was given to a layer without one (bias: false)".into(),
                ));
            }
            check_len(ctx, Self::NAME, "bias", b.len(), output_size)?;
        }
        let dev = ctx.device();
        let w_shard = weight.map(|w| &w[rows.start * input_size..rows.end * input_size]);
        let weight = tensor(&dev, &[local, input_size], dtype, w_shard)?;
        let bias =
            if options.bias { Some(tensor(&dev, &[local], dtype, bias.map(|b| &b[rows.clone()]))?) } else { None };
        let shard = Shard { ctx: ctx.clone(), input_size, output_size, dtype, weight, bias };
        Ok(ColumnParallelLinear { shard, options, parts })
    }

    /// Input features.
    pub fn input_size(&self) -> usize {
        self.shard.input_size
    }

    /// Output features of the whole layer.
    pub fn output_size(&self) -> usize {
        self.shard.output_size
    }

    /// Output features of this rank's part, `output_size / T`.
    pub fn output_size_per_partition(&self) -> usize {
        self.shard.output_size / self.parts
    }

    /// The options it was made with.
    pub fn options(&self) -> ColumnOptions {
        self.options
    }

    /// This rank's weight, [output_size / T, input_size].
    pub fn weight(&self) -> &Tensor {
        &self.shard.weight
    }

    /// This rank's bias, [output_size / T], if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.shard.bias.as_ref()
    }

    /// The forward: `input` [.., input_size] (the full input, the same on every member) gives
    /// this rank's part `input · W_tᵀ (+ b_t)` [.., output_size / T], or with `gather_output` the
    /// full output [.., output_size]; and the bias when `skip_bias_add`. The launches are
    /// recorded, not waited for, except where an all-gather needs its input final.
    pub fn forward(&self, input: &Tensor) -> Result<Forward, TpError> {
        let shard = &self.shard;
        let x = shard.rows(Self::NAME, input, shard.input_size)?;
        let x = copy_to_tensor_model_parallel_region(&shard.ctx, &x)?;
        let local = shard.ctx.device().empty(&[x.shape()[0], self.output_size_per_partition()], shard.dtype)?;
        let add = if self.options.skip_bias_add { None } else { shard.bias.as_ref() };
        shard.matmul(&x, add, &local)?;
        let output = if self.options.gather_output {
            gather_from_tensor_model_parallel_region(&shard.ctx, &local)?
        } else {
            local
        };
        let bias = if self.options.skip_bias_add { shard.bias.clone() } else { None };
        Ok((unflatten(input, &output)?, bias))
    }
}

/// A linear layer whose weight is split by input features over the tensor-parallel group. See
/// the module documentation.
#[derive(Debug, Clone)]
pub struct RowParallelLinear {
    shard: Shard,
    options: RowOptions,
    parts: usize,
}

impl RowParallelLinear {
    const NAME: &'static str = "RowParallelLinear";

    /// A layer of `input_size → output_size` features in `dtype`, weight and bias zeros (filled
    /// on the device: no host data).
    ///
    /// # Errors
    /// [`TpError::NotDivisible`] when `input_size` is not a multiple of `T`;
    /// [`TpError::NotInitialized`] before `initialize_model_parallel`; a [`TpError::Shape`] for a
    /// dtype the GEMM kernel does not take.
    pub fn new(
        ctx: &RankCtx,
        input_size: usize,
        output_size: usize,
        options: RowOptions,
        dtype: DType,
    ) -> Result<RowParallelLinear, TpError> {
        RowParallelLinear::build(ctx, input_size, output_size, options, dtype, None, None)
    }

    /// A layer whose weight and bias come from the full arrays: `weight` \[output_size,
    /// input_size\] and `bias` \[output_size\], row-major f32, rounded to `dtype`. This rank writes
    /// only its shard of the weight: columns `t·in/T .. (t+1)·in/T`; the bias is whole on every
    /// rank. Without `bias` (and with `options.bias`) the bias is zeros.
    ///
    /// # Errors
    /// As [`RowParallelLinear::new`], and a [`TpError::Shape`] when an array's length does not
    /// match, or a bias is given to a layer without one.
    pub fn from_full(
        ctx: &RankCtx,
        input_size: usize,
        output_size: usize,
        options: RowOptions,
        dtype: DType,
        weight: &[f32],
        bias: Option<&[f32]>,
    ) -> Result<RowParallelLinear, TpError> {
        RowParallelLinear::build(ctx, input_size, output_size, options, dtype, Some(weight), bias)
    }

    fn build(
        ctx: &RankCtx,
        input_size: usize,
        output_size: usize,
        options: RowOptions,
        dtype: DType,
        weight: Option<&[f32]>,
        bias: Option<&[f32]>,
    ) -> Result<RowParallelLinear, TpError> {
        let parts = get_tensor_model_parallel_world_size(ctx)?;
        let t = get_tensor_model_parallel_rank(ctx)?;
        check_sizes(ctx, Self::NAME, dtype, ("input_size", input_size), parts)?;
        let local = input_size / parts;
        if let Some(w) = weight {
            check_len(ctx, Self::NAME, "weight", w.len(), output_size * input_size)?;
        }
        if let Some(b) = bias {
            if !options.bias {
                return Err(shape_error(
                    ctx,
                    Self::NAME,
                    "a bias was given to a layer without one (bias: false)".into(),
                ));
            }
            check_len(ctx, Self::NAME, "bias", b.len(), output_size)?;
        }
        let dev = ctx.device();
        let w_shard: Option<Vec<f32>> = weight.map(|w| {
            w.chunks_exact(input_size.max(1)).flat_map(|row| &row[t * local..(t + 1) * local]).copied().collect()
        });
        let weight = tensor(&dev, &[output_size, local], dtype, w_shard.as_deref())?;
        let bias = if options.bias { Some(tensor(&dev, &[output_size], dtype, bias)?) } else { None };
        let shard = Shard { ctx: ctx.clone(), input_size, output_size, dtype, weight, bias };
        Ok(RowParallelLinear { shard, options, parts })
    }

    /// Input features of the whole layer.
    pub fn input_size(&self) -> usize {
        self.shard.input_size
    }

    /// Input features of this rank's part, `input_size / T`.
    pub fn input_size_per_partition(&self) -> usize {
        self.shard.input_size / self.parts
    }

    /// Output features.
    pub fn output_size(&self) -> usize {
        self.shard.output_size
    }

    /// The options it was made with.
    pub fn options(&self) -> RowOptions {
        self.options
    }

    /// This rank's weight, [output_size, input_size / T].
    pub fn weight(&self) -> &Tensor {
        &self.shard.weight
    }

    /// The bias, \[output_size\] (whole on every rank), if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.shard.bias.as_ref()
    }

    /// The forward: `input` — this rank's part [.., input_size / T] with `input_is_parallel`, else
    /// the full input [.., input_size], scattered first — gives `Σ_t input_t · W_tᵀ` summed over
    /// the group by an all-reduce, plus the bias once (unless `skip_bias_add`), [.., output_size],
    /// the same bytes on every member; and the bias when `skip_bias_add`.
    pub fn forward(&self, input: &Tensor) -> Result<Forward, TpError> {
        let shard = &self.shard;
        let ctx = &shard.ctx;
        let x = if self.options.input_is_parallel {
            shard.rows(Self::NAME, input, self.input_size_per_partition())?
        } else {
            let x = shard.rows(Self::NAME, input, shard.input_size)?;
            scatter_to_tensor_model_parallel_region(ctx, &x)?
        };
        let partial = ctx.device().empty(&[x.shape()[0], shard.output_size], shard.dtype)?;
        shard.matmul(&x, None, &partial)?;
        let output = reduce_from_tensor_model_parallel_region(ctx, &partial)?;
        let bias = match (&shard.bias, self.options.skip_bias_add) {
            (Some(b), false) => {
                bias_act(&ctx.device(), &output, Some(b), Activation::Identity, &output)?;
                None
            }
            (bias, _) => bias.clone(),
        };
        Ok((unflatten(input, &output)?, bias))
    }
}
