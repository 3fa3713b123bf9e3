//! The tests' host reference: plain f64 loops, inputs from a fixed generator, and the worst-case
//! error bound of the MLP for a dtype.

use kb_mem::DType;

/// `n` values in [-1, 1) from xorshift64* seeded with `seed`, scaled by `scale`.
pub(crate) fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let bits = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as u32;
            (bits as f32 / (1u32 << 23) as f32 - 1.0) * scale
        })
        .collect()
}

/// `v` rounded to `dtype` and back (what a device tensor of `dtype` holds).
pub(crate) fn rounded(dtype: DType, v: &[f32]) -> Vec<f32> {
    let mut bytes = vec![0u8; v.len() * dtype.size()];
    dtype.encode_f32_slice(v, &mut bytes);
    let mut out = vec![0f32; v.len()];
    dtype.decode_f32_slice(&bytes, &mut out);
    out
}

/// GeLU, tanh approximation, in f64.
pub(crate) fn gelu(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// `x · wᵀ + b`: `x` [rows, inp], `w` [out, inp] (PyTorch's layout), `b` [out]; f64.
pub(crate) fn linear(x: &[f32], w: &[f32], b: Option<&[f32]>, rows: usize, inp: usize, out: usize) -> Vec<f64> {
    let mut y = vec![0f64; rows * out];
    for i in 0..rows {
        for o in 0..out {
            let mut s = b.map_or(0.0, |b| f64::from(b[o]));
            for k in 0..inp {
                s += f64::from(x[i * inp + k]) * f64::from(w[o * inp + k]);
            }
            y[i * out + o] = s;
        }
    }
    y
}

/// The MLP's sizes and tensor-parallel size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mlp {
    pub(crate) rows: usize,
    pub(crate) hidden: usize,
    pub(crate) ffn: usize,
    pub(crate) tp: usize,
    pub(crate) dtype: DType,
}

/// `y = gelu(x·w1ᵀ + b1)·w2ᵀ + b2` in f64, and a worst-case bound on each element's error for the
/// device's documented rounding (f32 accumulation; the first GEMM, the GeLU, each rank's partial
/// second GEMM, every step of the all-reduce and the final bias add each round to the dtype).
///
/// With `u` the dtype's unit roundoff, `ua = 2⁻²⁴` (f32's), `γ(n) = n·ua`, per element, to first
/// order: the first GEMM's `z` is off by `γ(H)·Σ|x||w1| + u·|z|`; GeLU's slope is at most 1.13, and
/// its f32 evaluation and its rounding add `4·ua·(|a| + 1) + u·|gelu(a)|`; the second GEMM
/// carries those through `|w2|` and adds `γ(F)·Σ|h||w2|`; rounding the T partials and the T − 1
/// steps of the ring add `T·u·Σ|h||w2|`; the last rounding `u·|y|`. The bound is twice that sum,
/// covering the second-order terms.
pub(crate) fn mlp(m: Mlp, x: &[f32], (w1, b1): (&[f32], &[f32]), (w2, b2): (&[f32], &[f32])) -> (Vec<f64>, Vec<f64>) {
    let (u, ua) = (
        match m.dtype {
            DType::F16 => 2f64.powi(-11),
            DType::BF16 => 2f64.powi(-8),
            _ => 2f64.powi(-24),
        },
        2f64.powi(-24),
    );
    let (h_dim, f_dim) = (m.hidden, m.ffn);
    let mut y = vec![0f64; m.rows * h_dim];
    let mut tol = vec![0f64; m.rows * h_dim];
    for i in 0..m.rows {
        let mut h = vec![0f64; f_dim];
        let mut dh = vec![0f64; f_dim];
        for j in 0..f_dim {
            let (mut z, mut abs) = (0f64, 0f64);
            for k in 0..h_dim {
                let p = f64::from(x[i * h_dim + k]) * f64::from(w1[j * h_dim + k]);
                z += p;
                abs += p.abs();
            }
            let dz = h_dim as f64 * ua * abs + u * z.abs();
            let a = z + f64::from(b1[j]);
            h[j] = gelu(a);
            dh[j] = 1.13 * dz + 4.0 * ua * (a.abs() + 1.0) + u * h[j].abs();
        }
        for o in 0..h_dim {
            let (mut s, mut abs, mut carried) = (f64::from(b2[o]), 0f64, 0f64);
            for j in 0..f_dim {
                let w = f64::from(w2[o * f_dim + j]);
                s += h[j] * w;
                abs += (h[j] * w).abs();
                carried += dh[j] * w.abs();
            }
            y[i * h_dim + o] = s;
            let first = carried + (f_dim as f64 * ua + m.tp as f64 * u) * abs + (u + ua) * s.abs();
            tol[i * h_dim + o] = 2.0 * first;
        }
    }
    (y, tol)
}
