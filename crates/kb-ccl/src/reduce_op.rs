//! Reduce ops: how a collective combines the members' values, as `torch.distributed.ReduceOp`.

use std::fmt;

use kb_mem::DType;
use kb_oplog::BinaryOp;

use crate::CclError;

/// How a reducing collective combines its members' values.
///
/// Every op is applied pairwise as the algorithm's reduction steps meet the values, on the
/// receiving device's vector unit: f16 and bf16 are combined in f32 and rounded back at each step,
/// integers wrap. `Avg` is `Sum` followed by one division by the group's size (in f32 for f16 and
/// bf16, rounded once). As in PyTorch, `Avg` is defined for float dtypes only, and the bitwise ops
/// for integer dtypes only; anything else is a [`CclError::UnsupportedOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// The sum.
    Sum,
    /// The sum divided by the number of members (float dtypes only).
    Avg,
    /// The product.
    Product,
    /// The smallest value (NaN propagates).
    Min,
    /// The largest value (NaN propagates).
    Max,
    /// Bitwise and (integer dtypes only).
    BAnd,
    /// Bitwise or (integer dtypes only).
    BOr,
    /// Bitwise exclusive or (integer dtypes only).
    BXor,
}

impl ReduceOp {
    /// The name, lowercase as in messages: "sum", "avg", "product", "min", "max", "band", "bor",
    /// "bxor".
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Avg => "avg",
            ReduceOp::Product => "product",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
            ReduceOp::BAnd => "band",
            ReduceOp::BOr => "bor",
            ReduceOp::BXor => "bxor",
        }
    }

    /// The pairwise combining step (for `Avg`, the sum before the division).
    pub fn combine(self) -> BinaryOp {
        match self {
            ReduceOp::Sum | ReduceOp::Avg => BinaryOp::Add,
            ReduceOp::Product => BinaryOp::Mul,
            ReduceOp::Min => BinaryOp::Min,
            ReduceOp::Max => BinaryOp::Max,
            ReduceOp::BAnd => BinaryOp::BitAnd,
            ReduceOp::BOr => BinaryOp::BitOr,
            ReduceOp::BXor => BinaryOp::BitXor,
        }
    }

    /// Checks that the op is defined for `dtype`, for a call of `collective` by `rank`.
    pub(crate) fn check(self, collective: &'static str, rank: usize, dtype: DType) -> Result<(), CclError> {
        let why = match self {
            ReduceOp::Avg if !dtype.is_float() => "avg is defined for float dtypes only",
            ReduceOp::BAnd | ReduceOp::BOr | ReduceOp::BXor if !dtype.is_int() => {
                "bitwise ops are defined for integer dtypes only"
            }
            _ => return Ok(()),
        };
        Err(CclError::UnsupportedOp { collective, rank, op: self, dtype, why })
    }
}

impl fmt::Display for ReduceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
