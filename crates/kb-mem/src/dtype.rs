//! Element types: their sizes and names, parsing, and conversion to and from f32 and f64.
//!
//! Conversion from a wider type rounds to nearest, ties to even (the IEEE default, and what numpy
//! and PyTorch do for float casts). Conversion of a float to an integer type also rounds to nearest
//! even, then saturates at the type's range; NaN becomes 0.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bytemuck::Pod;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

use crate::MemError;

/// The element type of a tensor, tile or region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DType {
    /// IEEE 754 binary16.
    F16,
    /// bfloat16: f32's exponent with a 7-bit mantissa.
    BF16,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
    /// Signed 8-bit integer.
    I8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 8-bit integer.
    U8,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 8] =
        [DType::F16, DType::BF16, DType::F32, DType::F64, DType::I8, DType::I32, DType::I64, DType::U8];

    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// The canonical short name ("f16", "bf16", "f32", …), as [`FromStr`] accepts and numpy's
    /// names map to.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I8 => "i8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
        }
    }

    /// Whether this is a floating-point type.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// Whether this is an integer type.
    pub const fn is_int(self) -> bool {
        !self.is_float()
    }

    /// Decodes one element from its little-endian bytes (`bytes.len()` must be [`DType::size`]) and
    /// converts it to f32, rounding to nearest even where f32 cannot hold it exactly.
    ///
    /// # Panics
    /// If `bytes` is not exactly one element long (a caller bug, never user input).
    pub fn decode_f32(self, bytes: &[u8]) -> f32 {
        match self {
            DType::F16 => bytemuck::pod_read_unaligned::<f16>(bytes).to_f32(),
            DType::BF16 => bytemuck::pod_read_unaligned::<bf16>(bytes).to_f32(),
            DType::F32 => bytemuck::pod_read_unaligned::<f32>(bytes),
            DType::F64 => bytemuck::pod_read_unaligned::<f64>(bytes) as f32,
            DType::I8 => bytemuck::pod_read_unaligned::<i8>(bytes) as f32,
            DType::I32 => bytemuck::pod_read_unaligned::<i32>(bytes) as f32,
            DType::I64 => bytemuck::pod_read_unaligned::<i64>(bytes) as f32,
            DType::U8 => bytes[0] as f32,
        }
    }

    /// Converts `v` to this dtype (round to nearest even, integers saturate, NaN → 0) and writes
    /// its little-endian bytes into `out` (exactly [`DType::size`] bytes).
    ///
    /// # Panics
    /// If `out` is not exactly one element long (a caller bug, never user input).
    pub fn encode_f32(self, v: f32, out: &mut [u8]) {
        match self {
            DType::F16 => out.copy_from_slice(bytemuck::bytes_of(&f16::from_f32(v))),
            DType::BF16 => out.copy_from_slice(bytemuck::bytes_of(&bf16::from_f32(v))),
            DType::F32 => out.copy_from_slice(bytemuck::bytes_of(&v)),
            DType::F64 => out.copy_from_slice(bytemuck::bytes_of(&(v as f64))),
            DType::I8 => out.copy_from_slice(bytemuck::bytes_of(&i8::from_f32(v))),
            DType::I32 => out.copy_from_slice(bytemuck::bytes_of(&i32::from_f32(v))),
            DType::I64 => out.copy_from_slice(bytemuck::bytes_of(&i64::from_f32(v))),
            DType::U8 => out[0] = u8::from_f32(v),
        }
    }

    /// Decodes one element (`bytes.len()` must be [`DType::size`]) as f64: exact for every dtype
    /// but i64 beyond 2^53, which rounds to nearest even.
    ///
    /// # Panics
    /// If `bytes` is not exactly one element long (a caller bug, never user input).
    pub fn decode_f64(self, bytes: &[u8]) -> f64 {
        match self {
            DType::F64 => bytemuck::pod_read_unaligned::<f64>(bytes),
            DType::I64 => bytemuck::pod_read_unaligned::<i64>(bytes) as f64,
            DType::I32 => bytemuck::pod_read_unaligned::<i32>(bytes) as f64,
            _ => self.decode_f32(bytes) as f64,
        }
    }

    /// Converts `v` to this dtype, rounding once to nearest even (f16 and bf16 included, through
    /// [`f64_to_f32_odd`]); integers saturate, NaN → 0. Writes exactly [`DType::size`] bytes.
    ///
    /// # Panics
    /// If `out` is not exactly one element long (a caller bug, never user input).
    pub fn encode_f64(self, v: f64, out: &mut [u8]) {
        match self {
            DType::F16 => out.copy_from_slice(bytemuck::bytes_of(&<f16 as Element>::from_f64(v))),
            DType::BF16 => out.copy_from_slice(bytemuck::bytes_of(&<bf16 as Element>::from_f64(v))),
            DType::F32 => out.copy_from_slice(bytemuck::bytes_of(&(v as f32))),
            DType::F64 => out.copy_from_slice(bytemuck::bytes_of(&v)),
            DType::I8 => out.copy_from_slice(bytemuck::bytes_of(&i8::from_f64(v))),
            DType::I32 => out.copy_from_slice(bytemuck::bytes_of(&i32::from_f64(v))),
            DType::I64 => out.copy_from_slice(bytemuck::bytes_of(&i64::from_f64(v))),
            DType::U8 => out[0] = u8::from_f64(v),
        }
    }

    /// Decodes packed little-endian elements of this dtype into f32s. `bytes.len()` must be
    /// `out.len() * self.size()`.
    ///
    /// # Panics
    /// If the lengths disagree (a caller bug, never user input).
    pub fn decode_f32_slice(self, bytes: &[u8], out: &mut [f32]) {
        assert_eq!(bytes.len(), out.len() * self.size(), "decode_f32_slice: length mismatch");
        match self {
            DType::F16 => {
                decode_with::<f16>(bytes, out, HalfFloatSliceExt::convert_to_f32_slice);
            }
            DType::BF16 => {
                decode_with::<bf16>(bytes, out, HalfFloatSliceExt::convert_to_f32_slice);
            }
            DType::F32 => bytemuck::cast_slice_mut::<f32, u8>(out).copy_from_slice(bytes),
            _ => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(self.size())) {
                    *o = self.decode_f32(b);
                }
            }
        }
    }

    /// Encodes f32s into packed little-endian elements of this dtype, rounding to nearest even.
    /// `out.len()` must be `src.len() * self.size()`.
    ///
    /// # Panics
    /// If the lengths disagree (a caller bug, never user input).
    pub fn encode_f32_slice(self, src: &[f32], out: &mut [u8]) {
        assert_eq!(out.len(), src.len() * self.size(), "encode_f32_slice: length mismatch");
        match self {
            DType::F32 => out.copy_from_slice(bytemuck::cast_slice(src)),
            DType::F16 => encode_bulk::<f16>(src, out),
            DType::BF16 => encode_bulk::<bf16>(src, out),
            _ => {
                for (v, o) in src.iter().zip(out.chunks_exact_mut(self.size())) {
                    self.encode_f32(*v, o);
                }
            }
        }
    }
}

/// Decodes through an aligned typed buffer so the bulk conversion in `half` can run.
fn decode_with<T: Pod>(bytes: &[u8], out: &mut [f32], convert: impl Fn(&[T], &mut [f32])) {
    match bytemuck::try_cast_slice::<u8, T>(bytes) {
        Ok(typed) => convert(typed, out),
        Err(_) => {
            let typed: Vec<T> = bytes.chunks_exact(size_of::<T>()).map(bytemuck::pod_read_unaligned).collect();
            convert(&typed, out);
        }
    }
}

/// Encodes through an aligned typed buffer so the bulk conversion in `half` (F16C where the CPU
/// has it, rounding to nearest even like the scalar path) can run.
fn encode_bulk<T: Pod>(src: &[f32], out: &mut [u8])
where
    [T]: HalfFloatSliceExt,
{
    match bytemuck::try_cast_slice_mut::<u8, T>(out) {
        Ok(typed) => typed.convert_from_f32_slice(src),
        Err(_) => {
            let mut typed = vec![T::zeroed(); src.len()];
            typed.convert_from_f32_slice(src);
            out.copy_from_slice(bytemuck::cast_slice(&typed));
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = MemError;

    /// Parses a canonical name or a common alias, case-insensitively: `f16`/`float16`/`half`/`fp16`,
    /// `bf16`/`bfloat16`, `f32`/`float32`/`float`/`fp32`, `f64`/`float64`/`double`/`fp64`,
    /// `i8`/`int8`, `i32`/`int32`/`int`, `i64`/`int64`/`long`, `u8`/`uint8`/`byte`.
    fn from_str(s: &str) -> Result<DType, MemError> {
        let lower = s.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix("torch.").unwrap_or(&lower);
        Ok(match lower {
            "f16" | "float16" | "half" | "fp16" => DType::F16,
            "bf16" | "bfloat16" => DType::BF16,
            "f32" | "float32" | "float" | "fp32" => DType::F32,
            "f64" | "float64" | "double" | "fp64" => DType::F64,
            "i8" | "int8" => DType::I8,
            "i32" | "int32" | "int" => DType::I32,
            "i64" | "int64" | "long" => DType::I64,
            "u8" | "uint8" | "byte" => DType::U8,
            _ => return Err(MemError::UnknownDType { name: s.to_string() }),
        })
    }
}

/// `v` rounded to f32 *to odd*: exact values stay, inexact ones become the neighbour whose last
/// mantissa bit is 1. Rounding that result to nearest even in a format of at most 22 mantissa bits
/// (f16, bf16) gives the correctly rounded value of `v` itself, with no double rounding — which
/// rounding `v` to f32 to nearest first would not (`half`'s own f64 conversions go through f32 or
/// drop low bits, so [`Element::from_f64`] uses this instead).
pub fn f64_to_f32_odd(v: f64) -> f32 {
    let r = v as f32;
    to_odd(r, f64::from(r).partial_cmp(&v))
}

/// [`f64_to_f32_odd`] for an integer.
pub fn i64_to_f32_odd(v: i64) -> f32 {
    let r = v as f32;
    // |r| ≤ 2^63, which i128 holds exactly; r is integral wherever v is not exactly representable.
    to_odd(r, Some((r as i128).cmp(&i128::from(v))))
}

/// Given `r`, the nearest-even rounding of some exact value, and how `r` compares with it, returns
/// the odd neighbour of the exact value.
fn to_odd(r: f32, cmp: Option<Ordering>) -> f32 {
    let Some(cmp) = cmp else { return r }; // NaN
    if cmp == Ordering::Equal || !r.is_finite() || r.to_bits() & 1 == 1 {
        return r;
    }
    // r is even and inexact: the odd neighbour is one step from r towards the exact value. Float
    // bits are sign and magnitude, so a step away from zero is +1 on the bits.
    let away = (cmp == Ordering::Less) != r.is_sign_negative();
    f32::from_bits(if away { r.to_bits() + 1 } else { r.to_bits() - 1 })
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is the in-memory form of one [`DType`]. Sealed: implemented for
/// `half::f16`, `half::bf16`, `f32`, `f64`, `i8`, `i32`, `i64` and `u8`.
pub trait Element: Pod + fmt::Debug + PartialEq + Send + Sync + sealed::Sealed {
    /// The dtype this type stores.
    const DTYPE: DType;
    /// Converts to f32, rounding to nearest even where f32 cannot hold the value exactly.
    fn to_f32(self) -> f32;
    /// Converts from f32: round to nearest even; integers saturate at their range, NaN → 0.
    fn from_f32(v: f32) -> Self;
    /// Converts to f64 (exact for every type but i64 beyond 2^53).
    fn to_f64(self) -> f64;
    /// Converts from f64: round to nearest even; integers saturate at their range, NaN → 0.
    fn from_f64(v: f64) -> Self;
}

macro_rules! float_element {
    ($t:ty, $d:expr, $to32:expr, $from32:expr, $to64:expr, $from64:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = $d;
            fn to_f32(self) -> f32 {
                ($to32)(self)
            }
            fn from_f32(v: f32) -> Self {
                ($from32)(v)
            }
            fn to_f64(self) -> f64 {
                ($to64)(self)
            }
            fn from_f64(v: f64) -> Self {
                ($from64)(v)
            }
        }
    };
}

float_element!(f16, DType::F16, f16::to_f32, f16::from_f32, f16::to_f64, |v| f16::from_f32(f64_to_f32_odd(v)));
float_element!(bf16, DType::BF16, bf16::to_f32, bf16::from_f32, bf16::to_f64, |v| bf16::from_f32(f64_to_f32_odd(v)));
float_element!(f32, DType::F32, |v| v, |v| v, |v: f32| v as f64, |v: f64| v as f32);
float_element!(f64, DType::F64, |v: f64| v as f32, |v: f32| v as f64, |v| v, |v| v);

macro_rules! int_element {
    ($t:ty, $d:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = $d;
            fn to_f32(self) -> f32 {
                self as f32
            }
            fn from_f32(v: f32) -> Self {
                // `as` saturates and maps NaN to 0; round ties to even first.
                v.round_ties_even() as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v.round_ties_even() as $t
            }
        }
    };
}

int_element!(i8, DType::I8);
int_element!(i32, DType::I32);
int_element!(i64, DType::I64);
int_element!(u8, DType::U8);

#[cfg(test)]
mod tests;
