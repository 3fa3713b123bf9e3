//! The inputs of a collective sweep and the host reference its results are checked against.
//!
//! Every input element is a small whole number that depends on the rank `r` and the index `i`,
//! chosen per reduce op so that every result — and every partial result an algorithm may form on
//! the way, in any order — is exact in the dtype; the check is then plain equality:
//!
//! - sum and avg: `1 + (r + i) mod 4`, so a sum over P ranks is at most `4P`; when that could
//!   exceed the dtype's run of exact integers (2¹¹ for half, 2⁸ for bfloat16, 2²⁴ for float),
//!   `1` where `(r + i) mod s = 0` and `0` elsewhere instead, with `s = ⌈P / limit⌉`;
//! - prod: `2` where `(r + i) mod 3 = 0`, else `1`: products are powers of two, exact up to the
//!   dtype's overflow, where both the device and the reference give infinity (int32 wraps, the
//!   same in any order);
//! - min, max, the bitwise ops and the collectives without an op: `(7r + i) mod 61`, distinct
//!   across ranks, so a value from the wrong rank or the wrong index is seen. The reference of an
//!   all-to-all ([`Pattern::exchanged`]) reads, for each element of a rank's output, the sending
//!   rank's input at the index it came from.
//!
//! Each value depends on `i` only through `i` modulo a period (4, `s`, 3 or 61), so the reference
//! of a reduction is computed once per residue, in plain loops over the ranks: f64 for floats
//! (exact for these values) rounded once to the dtype; for avg, the exact sum divided by P in f32
//! and rounded once to the dtype, as kb-ccl documents its `Avg`; wrapping i32 for int32.

use kb_ccl::ReduceOp;
use kb_mem::DType;

/// How the inputs are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `1 + (r + i) mod 4`.
    Dense,
    /// `1` where `(r + i) mod s = 0`, else `0`.
    Sparse(usize),
    /// `2` where `(r + i) mod 3 = 0`, else `1`.
    Powers,
    /// `(7r + i) mod 61`.
    Spread,
}

/// The inputs of a sweep and the reference of their reduction.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    kind: Kind,
    /// The reduced value of each residue of `i` modulo the period.
    reduced: Vec<f64>,
}

/// The largest whole number below which every whole number is exact in `dtype`.
fn exact_limit(dtype: DType) -> usize {
    match dtype {
        DType::F16 => 1 << 11,
        DType::BF16 => 1 << 8,
        DType::F32 => 1 << 24,
        _ => usize::MAX,
    }
}

/// `v` rounded to `dtype` (to nearest even), and back.
fn round_to(dtype: DType, v: f64) -> f64 {
    let mut bytes = [0u8; 8];
    let bytes = &mut bytes[..dtype.size()];
    dtype.encode_f64(v, bytes);
    dtype.decode_f64(bytes)
}

impl Pattern {
    /// The inputs for reduce op `op` (`None`: a collective that only moves data) on `ranks`
    /// ranks of `dtype`.
    pub(crate) fn new(op: Option<ReduceOp>, dtype: DType, ranks: usize) -> Pattern {
        let kind = match op {
            Some(ReduceOp::Sum | ReduceOp::Avg) => {
                let limit = exact_limit(dtype);
                if ranks.saturating_mul(4) <= limit { Kind::Dense } else { Kind::Sparse(ranks.div_ceil(limit)) }
            }
            Some(ReduceOp::Product) => Kind::Powers,
            _ => Kind::Spread,
        };
        let mut pattern = Pattern { kind, reduced: Vec::new() };
        if let Some(op) = op {
            pattern.reduced = (0..pattern.period()).map(|i| pattern.reference(op, dtype, ranks, i)).collect();
        }
        pattern
    }

    /// Values depend on the index only modulo this.
    fn period(&self) -> usize {
        match self.kind {
            Kind::Dense => 4,
            Kind::Sparse(s) => s,
            Kind::Powers => 3,
            Kind::Spread => 61,
        }
    }

    /// The input of rank `r` at index `i`.
    pub(crate) fn value(&self, r: usize, i: usize) -> f32 {
        let v = match self.kind {
            Kind::Dense => 1 + (r + i) % 4,
            Kind::Sparse(s) => usize::from((r + i).is_multiple_of(s)),
            Kind::Powers => 1 + usize::from((r + i).is_multiple_of(3)),
            Kind::Spread => (7 * (r % 61) + i % 61) % 61,
        };
        v as f32
    }

    /// The input of rank `r` at index `i` as the device holds it (every value is exact in every
    /// dtype the sweeps take).
    pub(crate) fn stored(&self, r: usize, i: usize) -> f64 {
        f64::from(self.value(r, i))
    }

    /// Element `i` of rank `r`'s output after an all-to-all with parts of `part` elements: part
    /// `i / part` comes from the rank of that number, whose input holds it at `r · part + i mod part`.
    pub(crate) fn exchanged(&self, r: usize, i: usize, part: usize) -> f64 {
        let part = part.max(1);
        self.stored(i / part, r * part + i % part)
    }

    /// The reduction over every rank of the inputs at index `i`.
    pub(crate) fn reduced(&self, i: usize) -> f64 {
        self.reduced[i % self.reduced.len()]
    }

    /// The reduction over `ranks` ranks of the inputs at index `i`, in plain loops.
    fn reference(&self, op: ReduceOp, dtype: DType, ranks: usize, i: usize) -> f64 {
        if dtype.is_int() {
            let values = (0..ranks).map(|r| self.value(r, i) as i32);
            let folded = match op {
                ReduceOp::Sum | ReduceOp::Avg => values.fold(0i32, i32::wrapping_add),
                ReduceOp::Product => values.fold(1i32, i32::wrapping_mul),
                ReduceOp::Min => values.fold(i32::MAX, i32::min),
                ReduceOp::Max => values.fold(i32::MIN, i32::max),
                ReduceOp::BAnd => values.fold(-1i32, |a, b| a & b),
                ReduceOp::BOr => values.fold(0i32, |a, b| a | b),
                ReduceOp::BXor => values.fold(0i32, |a, b| a ^ b),
            };
            return f64::from(folded);
        }
        let values = (0..ranks).map(|r| f64::from(self.value(r, i)));
        let exact = match op {
            ReduceOp::Product => values.product::<f64>(),
            ReduceOp::Min => values.fold(f64::INFINITY, f64::min),
            ReduceOp::Max => values.fold(f64::NEG_INFINITY, f64::max),
            _ => values.sum::<f64>(),
        };
        if op == ReduceOp::Avg {
            // The sum is exact in f32 (at most 2²⁴); one f32 division, rounded once to the dtype.
            return round_to(dtype, f64::from(exact as f32 / ranks as f32));
        }
        round_to(dtype, exact)
    }
}

#[cfg(test)]
mod tests {
    use kb_ccl::ReduceOp;
    use kb_mem::DType;

    use super::{Kind, Pattern};

    #[test]
    fn sums_follow_the_pattern() {
        // Ranks 0..3 at index 0: 1, 2, 3 → 6; at index 1: 2, 3, 4 → 9.
        let p = Pattern::new(Some(ReduceOp::Sum), DType::F16, 3);
        assert_eq!((p.value(0, 0), p.value(2, 1)), (1.0, 4.0));
        assert_eq!((p.reduced(0), p.reduced(1), p.reduced(4)), (6.0, 9.0, 6.0));
        // avg of 1, 2, 3, 4 (index 0 on 4 ranks) is 2.5.
        assert_eq!(Pattern::new(Some(ReduceOp::Avg), DType::BF16, 4).reduced(0), 2.5);
    }

    #[test]
    fn large_groups_keep_sums_exact() {
        let p = Pattern::new(Some(ReduceOp::Sum), DType::BF16, 1000);
        assert_eq!(p.kind, Kind::Sparse(4));
        assert_eq!(p.reduced(0), 250.0);
        assert_eq!(Pattern::new(Some(ReduceOp::Sum), DType::BF16, 64).kind, Kind::Dense);
    }

    #[test]
    fn products_overflow_to_infinity_in_half_and_wrap_in_int32() {
        // 96 ranks: 32 twos at every index → 2³², beyond half's range, 0 in wrapped int32.
        assert_eq!(Pattern::new(Some(ReduceOp::Product), DType::F16, 96).reduced(0), f64::INFINITY);
        assert_eq!(Pattern::new(Some(ReduceOp::Product), DType::I32, 96).reduced(0), 0.0);
        assert_eq!(Pattern::new(Some(ReduceOp::Product), DType::F32, 96).reduced(0), 2f64.powi(32));
    }

    #[test]
    fn min_max_and_bitwise_use_spread_values() {
        // Index 5 on 3 ranks: 5, 12, 19.
        assert_eq!(Pattern::new(Some(ReduceOp::Min), DType::F32, 3).reduced(5), 5.0);
        assert_eq!(Pattern::new(Some(ReduceOp::Max), DType::F32, 3).reduced(5), 19.0);
        assert_eq!(Pattern::new(Some(ReduceOp::BXor), DType::I32, 3).reduced(5), f64::from(5 ^ 12 ^ 19));
        assert_eq!(Pattern::new(None, DType::F32, 3).stored(2, 5), 19.0);
    }

    #[test]
    fn all_to_all_takes_each_part_from_its_rank() {
        // Parts of 2 on 3 ranks: rank 1's output index 4 is part 2, element 0, from rank 2's
        // input at 1·2 + 0 = 2: (7·2 + 2) mod 61 = 16.
        let p = Pattern::new(None, DType::I32, 3);
        assert_eq!(p.exchanged(1, 4, 2), 16.0);
        assert_eq!(p.exchanged(0, 1, 2), 1.0);
    }
}
