//! Operand values in a computation domain: regions read packed into f32, f64 or i64, and written
//! back with one rounding (to a float dtype) or a wrapping cast (to an integer dtype).
//!
//! The domain of a computation follows its first input: an integer input computes in i64 with
//! wrapping arithmetic; a float input computes in f32, or in f64 when any operand or the output is
//! f64. Every conversion into the output dtype rounds once, to nearest even: float to integer also
//! saturates (NaN becomes 0), integer to integer wraps (two's complement truncation).

use half::{bf16, f16};
use kb_mem::i64_to_f32_odd;
use kb_mem::{DType, Element, MemError, MemoryStore, Region};

/// The arithmetic a computation runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Domain {
    /// IEEE binary32.
    F32,
    /// IEEE binary64.
    F64,
    /// 64-bit two's complement, wrapping.
    I64,
}

impl Domain {
    /// The domain of a computation whose first input is `first` and whose other operands and
    /// output are `others`.
    pub(super) fn of(first: DType, others: &[DType]) -> Domain {
        if first.is_int() {
            Domain::I64
        } else if first == DType::F64 || others.contains(&DType::F64) {
            Domain::F64
        } else {
            Domain::F32
        }
    }
}

/// Packed values of one operand, in its computation's domain.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Values {
    /// f32 values.
    F32(Vec<f32>),
    /// f64 values.
    F64(Vec<f64>),
    /// i64 values.
    I64(Vec<i64>),
}

impl Values {
    /// Reads `region` packed row-major and converts it into `domain` (exactly, except an i64
    /// beyond 2^24 or 2^53 read as a float, which rounds to nearest even).
    pub(super) fn read(store: &MemoryStore, region: &Region, domain: Domain) -> Result<Values, MemError> {
        Ok(match domain {
            Domain::F32 => Values::F32(read_f32(store, region)?),
            Domain::F64 => Values::F64(read_f64(store, region)?),
            Domain::I64 => Values::I64(read_i64(store, region)?),
        })
    }

    /// Writes the values into `region` (any dtype), converting each once.
    pub(super) fn write(&self, store: &mut MemoryStore, region: &Region) -> Result<(), MemError> {
        match self {
            Values::F32(v) => store.write_region_f32(region, v),
            Values::F64(v) => write_with(store, region, v, encode_f64),
            Values::I64(v) => write_with(store, region, v, encode_i64),
        }
    }
}

/// Reads `region` packed row-major as f32 (exact but for f64, and i32 or i64 beyond 2^24, which
/// round to nearest even).
pub(super) fn read_f32(store: &MemoryStore, region: &Region) -> Result<Vec<f32>, MemError> {
    store.read_region_f32(region)
}

/// Reads `region` packed row-major as f64 (exact but for i64 beyond 2^53).
pub(super) fn read_f64(store: &MemoryStore, region: &Region) -> Result<Vec<f64>, MemError> {
    let bytes = store.read_region(region)?;
    let chunks = bytes.chunks_exact(region.dtype.size());
    Ok(match region.dtype {
        DType::F16 => chunks.map(|b| bytemuck::pod_read_unaligned::<f16>(b).to_f64()).collect(),
        DType::BF16 => chunks.map(|b| bytemuck::pod_read_unaligned::<bf16>(b).to_f64()).collect(),
        DType::F32 => chunks.map(|b| f64::from(bytemuck::pod_read_unaligned::<f32>(b))).collect(),
        DType::F64 => chunks.map(bytemuck::pod_read_unaligned::<f64>).collect(),
        DType::I8 | DType::I32 | DType::I64 | DType::U8 => chunks.map(|b| decode_int(region.dtype, b) as f64).collect(),
    })
}

/// Reads `region` packed row-major as i64: integers sign- (or, for u8, zero-) extended, floats
/// rounded to nearest even and saturated (NaN → 0).
pub(super) fn read_i64(store: &MemoryStore, region: &Region) -> Result<Vec<i64>, MemError> {
    if region.dtype.is_float() {
        return Ok(read_f64(store, region)?.into_iter().map(i64::from_f64).collect());
    }
    let bytes = store.read_region(region)?;
    Ok(bytes.chunks_exact(region.dtype.size()).map(|b| decode_int(region.dtype, b)).collect())
}

/// Decodes one little-endian integer element. Only called with integer dtypes.
fn decode_int(dtype: DType, b: &[u8]) -> i64 {
    match dtype {
        DType::I8 => i64::from(b[0] as i8),
        DType::U8 => i64::from(b[0]),
        DType::I32 => i64::from(bytemuck::pod_read_unaligned::<i32>(b)),
        DType::I64 => bytemuck::pod_read_unaligned::<i64>(b),
        // Floats never reach here; decode them through f32 rather than panic.
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 => i64::from_f32(dtype.decode_f32(b)),
    }
}

fn write_with<T: Copy>(
    store: &mut MemoryStore,
    region: &Region,
    values: &[T],
    encode: fn(DType, T, &mut [u8]),
) -> Result<(), MemError> {
    if values.len() != region.numel() {
        return Err(MemError::LengthMismatch {
            what: "write of computed values",
            expected: region.nbytes(),
            got: values.len().saturating_mul(region.dtype.size()),
        });
    }
    let es = region.dtype.size();
    let mut bytes = vec![0u8; region.nbytes()];
    for (v, out) in values.iter().zip(bytes.chunks_exact_mut(es)) {
        encode(region.dtype, *v, out);
    }
    store.write_region(region, &bytes)
}

/// Encodes `v` as one element of `dtype`: floats round to nearest even once, integers round to
/// nearest even and saturate (NaN → 0).
pub(super) fn encode_f64(dtype: DType, v: f64, out: &mut [u8]) {
    dtype.encode_f64(v, out);
}

/// Encodes `v` as one element of `dtype`: integers wrap (two's complement truncation), floats round
/// to nearest even once.
fn encode_i64(dtype: DType, v: i64, out: &mut [u8]) {
    match dtype {
        DType::F16 => out.copy_from_slice(bytemuck::bytes_of(&f16::from_f32(i64_to_f32_odd(v)))),
        DType::BF16 => out.copy_from_slice(bytemuck::bytes_of(&bf16::from_f32(i64_to_f32_odd(v)))),
        DType::F32 => out.copy_from_slice(bytemuck::bytes_of(&(v as f32))),
        DType::F64 => out.copy_from_slice(bytemuck::bytes_of(&(v as f64))),
        DType::I8 => out[0] = v as u8,
        DType::U8 => out[0] = v as u8,
        DType::I32 => out.copy_from_slice(&(v as i32).to_le_bytes()),
        DType::I64 => out.copy_from_slice(&v.to_le_bytes()),
    }
}
