//! The GEMM kernel: a tiled `C = A · B` (or `C += A · B`) in the tile language, for f16, bf16 and
//! f32. Tensor-parallel layers use it.
//!
//! Program `(i, j)` computes the `[block_m, block_n]` block of C at `(i·block_m, j·block_n)`: it
//! keeps an f32 accumulator tile, walks K in steps of `block_k` — loading the next A and B tiles
//! before multiplying the current ones, so the DMA engine and the GEMM unit overlap (two stages of
//! buffering, Triton's `num_stages = 2`) — then casts the accumulator to C's dtype and stores it,
//! masked at C's edges. Loads past A's and B's edges pad with zeros, so ragged shapes are exact.

use kb_mem::DType;

use crate::{Device, SchedError, Tensor, Work};

/// Block sizes of the GEMM kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmBlocks {
    /// Rows of C per program.
    pub m: usize,
    /// Columns of C per program.
    pub n: usize,
    /// Depth of one step along K.
    pub k: usize,
}

impl Default for GemmBlocks {
    fn default() -> GemmBlocks {
        GemmBlocks { m: 128, n: 128, k: 64 }
    }
}

impl GemmBlocks {
    /// TCM bytes one program needs with A and B of `input` dtype and C of `output` dtype: two
    /// stages of A and B tiles, the f32 accumulator, and the cast output tile when C is not f32.
    pub fn tcm_bytes(&self, input: DType, output: DType) -> usize {
        let tiles = 2 * (self.m * self.k + self.k * self.n) * input.size() + self.m * self.n * 4;
        if output == DType::F32 { tiles } else { tiles + self.m * self.n * output.size() }
    }
}

/// Launches the GEMM kernel on `device`: `c = a · b`, or `c += a · b` with `accumulate`. `a` is
/// [M, K], `b` [K, N], `c` [M, N]; A and B share a dtype among f16, bf16 and f32; C is any of those.
pub fn gemm(
    device: &Device,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    accumulate: bool,
    blocks: GemmBlocks,
) -> Result<Work, SchedError> {
    let invalid = |reason: String| SchedError::Invalid { op: "gemm", reason };
    let (&[m, k], &[k2, n], &[m2, n2]) = (a.shape(), b.shape(), c.shape()) else {
        return Err(invalid(format!("a {:?}, b {:?} and c {:?} must all be rank 2", a.shape(), b.shape(), c.shape())));
    };
    if k != k2 || m != m2 || n != n2 {
        return Err(invalid(format!("a {:?} · b {:?} does not give c {:?}", a.shape(), b.shape(), c.shape())));
    }
    if a.dtype() != b.dtype() {
        return Err(invalid(format!("a is {} but b is {}", a.dtype(), b.dtype())));
    }
    for (name, t) in [("a", a), ("b", b), ("c", c)] {
        if !matches!(t.dtype(), DType::F16 | DType::BF16 | DType::F32) {
            return Err(invalid(format!("{name} is {}; the GEMM kernel takes f16, bf16 and f32", t.dtype())));
        }
    }
    if blocks.m == 0 || blocks.n == 0 || blocks.k == 0 {
        return Err(invalid(format!("block sizes must be positive, got {blocks:?}")));
    }
    let grid = (m.div_ceil(blocks.m).max(1), n.div_ceil(blocks.n).max(1));
    let (bm, bn, bk) = (blocks.m, blocks.n, blocks.k);
    device.launch("gemm", grid, |p| {
        let (i, j) = (p.program_id(0) * bm, p.program_id(1) * bn);
        let c_ptr = p.block_ptr(c, &[i, j], &[bm, bn])?;
        let mut acc = if accumulate {
            let c_tile = p.load(&c_ptr)?;
            if c_tile.dtype() == DType::F32 { c_tile } else { p.cast(&c_tile, DType::F32)? }
        } else {
            p.zeros(&[bm, bn], DType::F32)?
        };
        let mut a_ptr = p.block_ptr(a, &[i, 0], &[bm, bk])?;
        let mut b_ptr = p.block_ptr(b, &[0, j], &[bk, bn])?;
        let steps = k.div_ceil(bk);
        let mut next = if steps > 0 { Some((p.load(&a_ptr)?, p.load(&b_ptr)?)) } else { None };
        for step in 0..steps {
            let (a_tile, b_tile) = next.take().expect("loaded ahead");
            if step + 1 < steps {
                a_ptr.advance(&[0, bk as isize])?;
                b_ptr.advance(&[bk as isize, 0])?;
                next = Some((p.load(&a_ptr)?, p.load(&b_ptr)?));
            }
            p.dot(&a_tile, &b_tile, &mut acc)?;
        }
        let out = if c.dtype() == DType::F32 { acc } else { p.cast(&acc, c.dtype())? };
        p.store(&c_ptr, &out)
    })
}
