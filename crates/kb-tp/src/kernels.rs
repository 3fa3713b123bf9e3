//! The kernels the layers launch: [`linear`] (kb-sched's tiled GEMM kernel against a transposed
//! view of a `[out, in]` weight), [`bias_act`] (the epilogue: bias, activation, rounding) and
//! [`copy`] (a strided 2-D view into a dense tensor); and [`written`], a handle on the end of the
//! writes of some tensors (no launch).
//!
//! # Where values are rounded
//!
//! The GEMM accumulates in f32 and rounds once into its output's dtype. The epilogue reads its
//! input (an f32 accumulator or a tensor of the layer's dtype), widens it to f32 exactly, adds the
//! bias in f32, applies the activation in f32 and rounds once into its output's dtype. So a layer
//! that adds its bias computes `fl(act(Σ x·w + b))` with one rounding, by running the GEMM into an
//! f32 scratch tensor and the epilogue from there; with f32 tensors the GEMM writes the output
//! directly and the epilogue works in place.

use kb_mem::DType;
use kb_oplog::{Op, OpKind, UnaryOp};
use kb_sched::{Device, GemmBlocks, Runtime, SchedError, Tensor, Work, gemm};

/// Rows of an epilogue or copy program.
const ELEMENTWISE_ROWS: usize = 32;
/// Columns of an epilogue or copy program.
const ELEMENTWISE_COLS: usize = 256;

/// The elementwise function of an epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// None: `y = x`.
    Identity,
    /// GeLU, tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    GeluTanh,
}

/// GEMM blocks for a product with `rows` rows: the default 128×128×64, with the row block cut
/// down to the rows there are, so a small batch pays neither for padded rows on the GEMM unit nor
/// for the fills that pad its tiles.
pub fn gemm_blocks(rows: usize) -> GemmBlocks {
    let default = GemmBlocks::default();
    GemmBlocks { m: rows.clamp(1, default.m), ..default }
}

fn invalid(op: &'static str, reason: String) -> SchedError {
    SchedError::Invalid { op, reason }
}

/// Launches `out = x · weightᵀ` on `device`: `x` [rows, in], `weight` [out, in] (PyTorch's
/// layout), `out` [rows, out]. The GEMM kernel reads the weight through a transposed view, so
/// nothing is copied; it accumulates in f32 and rounds once into `out`'s dtype.
pub fn linear(device: &Device, x: &Tensor, weight: &Tensor, out: &Tensor) -> Result<Work, SchedError> {
    if weight.shape().len() != 2 {
        return Err(invalid("linear", format!("the weight {:?} must be [out, in]", weight.shape())));
    }
    let rows = x.shape().first().copied().unwrap_or(0);
    gemm(device, x, &weight.transpose(0, 1)?, out, false, gemm_blocks(rows))
}

/// Launches the epilogue `out = act(x + bias)` on `device`, computed in f32 and rounded once into
/// `out`'s dtype: `x` and `out` \[rows, n\] (any float dtypes; `out` may be `x` itself), `bias` \[n\],
/// broadcast over the rows.
pub fn bias_act(
    device: &Device,
    x: &Tensor,
    bias: Option<&Tensor>,
    act: Activation,
    out: &Tensor,
) -> Result<Work, SchedError> {
    let (&[rows, n], &[rows2, n2]) = (x.shape(), out.shape()) else {
        return Err(invalid("bias_act", format!("x {:?} and out {:?} must be rank 2", x.shape(), out.shape())));
    };
    if (rows, n) != (rows2, n2) {
        return Err(invalid("bias_act", format!("x {:?} and out {:?} differ", x.shape(), out.shape())));
    }
    if let Some(b) = bias
        && b.shape() != [n]
    {
        return Err(invalid("bias_act", format!("the bias {:?} must be [{n}] for x {:?}", b.shape(), x.shape())));
    }
    let (bm, bn) = (ELEMENTWISE_ROWS, ELEMENTWISE_COLS);
    let grid = (rows.div_ceil(bm).max(1), n.div_ceil(bn).max(1));
    let name = match (bias.is_some(), act) {
        (true, Activation::GeluTanh) => "bias_gelu",
        (false, Activation::GeluTanh) => "gelu",
        (true, Activation::Identity) => "bias_add",
        (false, Activation::Identity) => "cast",
    };
    device.launch(name, grid, |p| {
        let (i, j) = (p.program_id(0) * bm, p.program_id(1) * bn);
        let tile = p.load(&p.block_ptr(x, &[i, j], &[bm, bn])?)?;
        let mut wide = if tile.dtype() == DType::F32 { tile } else { p.cast(&tile, DType::F32)? };
        if let Some(b) = bias {
            let b_tile = p.load(&p.block_ptr(b, &[j], &[bn])?)?;
            wide = p.add(&wide, &b_tile)?;
        }
        let result = match act {
            Activation::GeluTanh => p.unary(UnaryOp::GeluTanh, &wide, out.dtype())?,
            Activation::Identity if out.dtype() == DType::F32 => wide,
            Activation::Identity => p.cast(&wide, out.dtype())?,
        };
        p.store(&p.block_ptr(out, &[i, j], &[bm, bn])?, &result)
    })
}

/// Launches a copy of `src` (a rank-2 view, any strides) into `dst` (same shape and dtype) on
/// `device`: DMA loads into TCM and stores out, block by block.
pub fn copy(device: &Device, src: &Tensor, dst: &Tensor) -> Result<Work, SchedError> {
    let &[rows, cols] = src.shape() else {
        return Err(invalid("copy", format!("the source {:?} must be rank 2", src.shape())));
    };
    if src.shape() != dst.shape() || src.dtype() != dst.dtype() {
        return Err(invalid(
            "copy",
            format!("source {} {:?} and target {} {:?} differ", src.dtype(), src.shape(), dst.dtype(), dst.shape()),
        ));
    }
    let (bm, bn) = (ELEMENTWISE_ROWS, ELEMENTWISE_COLS);
    device.launch("copy", (rows.div_ceil(bm).max(1), cols.div_ceil(bn).max(1)), |p| {
        let (i, j) = (p.program_id(0) * bm, p.program_id(1) * bn);
        let tile = p.load(&p.block_ptr(src, &[i, j], &[bm, bn])?)?;
        p.store(&p.block_ptr(dst, &[i, j], &[bm, bn])?, &tile)
    })
}

/// A handle that completes when every op so far that wrote one of `tensors` has ended: a join
/// recorded on `rt` that reads them, so it takes no resource and no time of its own. Waiting on
/// it (inside a rank, the rank parks) is how a program starts its clock once its inputs — host
/// writes, fills — are in place, in timing-only runs too.
pub fn written(rt: &Runtime, tensors: &[&Tensor]) -> Result<Work, SchedError> {
    let op = rt.record_op(Op::labelled(OpKind::Join, "inputs written"), tensors, &[], &[])?;
    Ok(Work::from_op(rt, op))
}

#[cfg(test)]
mod tests {
    use kb_mem::DType;
    use kb_sched::Runtime;

    use super::{Activation, bias_act, copy, gemm_blocks, linear, written};

    #[test]
    fn small_batches_get_small_row_blocks() {
        assert_eq!(gemm_blocks(0).m, 1);
        assert_eq!(gemm_blocks(8).m, 8);
        assert_eq!(gemm_blocks(17).m, 17);
        assert_eq!(gemm_blocks(4096).m, 128);
        assert_eq!((gemm_blocks(8).n, gemm_blocks(8).k), (128, 64));
    }

    #[test]
    fn linear_multiplies_by_the_transposed_weight() {
        let rt = Runtime::with_default_machine().unwrap();
        let dev = rt.device(0).unwrap();
        // x [2, 3], w [out 2, in 3]: y[i][o] = Σ_k x[i][k]·w[o][k].
        let x = dev.from_f32(&[2, 3], DType::F32, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let w = dev.from_f32(&[2, 3], DType::F32, &[1.0, 0.0, -1.0, 0.5, 0.5, 0.5]).unwrap();
        let y = dev.empty(&[2, 2], DType::F32).unwrap();
        linear(&dev, &x, &w, &y).unwrap().wait().unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), [-2.0, 3.0, -2.0, 7.5]);
    }

    #[test]
    fn the_epilogue_adds_the_bias_to_every_row_then_applies_gelu() {
        let rt = Runtime::with_default_machine().unwrap();
        let dev = rt.device(0).unwrap();
        let x = dev.from_f32(&[2, 2], DType::F32, &[0.0, 1.0, -1.0, 2.0]).unwrap();
        let b = dev.from_f32(&[2], DType::F32, &[1.0, -1.0]).unwrap();
        let y = dev.empty(&[2, 2], DType::F16).unwrap();
        bias_act(&dev, &x, Some(&b), Activation::Identity, &y).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), [1.0, 0.0, 0.0, 1.0]);
        bias_act(&dev, &x, None, Activation::GeluTanh, &x).unwrap();
        let gelu = |v: f64| 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh());
        for (got, v) in x.to_vec::<f32>().unwrap().iter().zip([0.0, 1.0, -1.0, 2.0]) {
            assert!((f64::from(*got) - gelu(v)).abs() < 1e-6, "{got} vs {}", gelu(v));
        }
    }

    #[test]
    fn written_ends_with_the_last_write() {
        let rt = Runtime::new(kb_oplog::MachineSpec::default(), kb_oplog::Mode::TIMING).unwrap();
        let dev = rt.device(0).unwrap();
        let small = dev.zeros(&[16], DType::F32).unwrap();
        let big = dev.zeros(&[1 << 20], DType::F32).unwrap();
        let both = written(&rt, &[&small, &big]).unwrap().wait().unwrap();
        assert_eq!(both, rt.makespan(), "the fill of the larger tensor ends last");
        assert!(both > 0);
    }

    #[test]
    fn copy_makes_a_strided_view_dense() {
        let rt = Runtime::with_default_machine().unwrap();
        let dev = rt.device(0).unwrap();
        let x = dev.from_f32(&[2, 4], DType::F32, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
        let dst = dev.empty(&[2, 2], DType::F32).unwrap();
        copy(&dev, &x.slice(1, 1, 3).unwrap(), &dst).unwrap();
        assert_eq!(dst.to_vec::<f32>().unwrap(), [1.0, 2.0, 5.0, 6.0]);
        assert!(copy(&dev, &x, &dst).unwrap_err().to_string().contains("differ"));
    }
}
