//! The error type of kb-mem: every failure names what was asked, where, and the limit it hit.

use crate::{DType, Space};

/// Every way a kb-mem call can fail. Nothing is changed by a call that returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemError {
    /// A dtype name that is not one of the known names or aliases.
    #[error(
        "unknown dtype {name:?} (expected one of f16, bf16, f32, f64, i8, i32, i64, u8, or an alias such as half, float, double, int)"
    )]
    UnknownDType {
        /// The name that was given.
        name: String,
    },
    /// An element, byte or address count does not fit in the integer type that holds it.
    #[error("{what} overflows: shape {shape:?}")]
    Overflow {
        /// Which count overflowed ("element count", "byte count", "layout span").
        what: &'static str,
        /// The shape whose count overflowed.
        shape: Vec<usize>,
    },
    /// A layout of more dimensions than [`crate::MAX_RANK`].
    #[error("rank {rank} is larger than the maximum rank {max}")]
    RankTooLarge {
        /// The rank that was asked for.
        rank: usize,
        /// The maximum rank.
        max: usize,
    },
    /// Two lists that must have one entry per dimension differ in length.
    #[error("{what}: expected {expected} entries (one per dimension), got {got}")]
    RankMismatch {
        /// What was being built or checked.
        what: &'static str,
        /// The rank that was expected.
        expected: usize,
        /// The number of entries given.
        got: usize,
    },
    /// An axis index at or beyond the layout's rank.
    #[error("axis {axis} is out of range for rank {rank}")]
    BadAxis {
        /// The axis given.
        axis: usize,
        /// The layout's rank.
        rank: usize,
    },
    /// A sub-block, slice or index that does not lie inside its parent's shape.
    #[error("{what}: offsets {offsets:?} + extent {extent:?} exceed shape {shape:?}")]
    OutOfBounds {
        /// What was being taken ("sub-block", "slice", "index").
        what: &'static str,
        /// The start of the block in each dimension.
        offsets: Vec<usize>,
        /// The extent of the block in each dimension.
        extent: Vec<usize>,
        /// The parent shape.
        shape: Vec<usize>,
    },
    /// Two shapes that must agree do not.
    #[error("{what}: shape {left:?} does not match shape {right:?}")]
    ShapeMismatch {
        /// What was being done.
        what: &'static str,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
    },
    /// A typed access whose Rust type does not match the region's dtype.
    #[error("{what}: region holds {region} but the access is typed {access}")]
    DTypeMismatch {
        /// What was being done.
        what: &'static str,
        /// The region's dtype.
        region: DType,
        /// The dtype of the Rust type used for the access.
        access: DType,
    },
    /// A buffer of the wrong length for the region it fills or receives.
    #[error("{what}: the region holds {expected} bytes but the buffer has {got}")]
    LengthMismatch {
        /// What was being done.
        what: &'static str,
        /// Bytes the region holds.
        expected: usize,
        /// Bytes the buffer holds.
        got: usize,
    },
    /// An alignment that is zero or not a power of two.
    #[error("alignment {align} for {space} is not a power of two")]
    BadAlignment {
        /// The space allocated from.
        space: Space,
        /// The alignment asked for.
        align: u64,
    },
    /// No free block of the space can hold the request.
    #[error(
        "out of memory in {space}: requested {requested} bytes (alignment {align}), largest free block is {largest_free} bytes, {free} bytes free of {capacity}"
    )]
    OutOfMemory {
        /// The space allocated from.
        space: Space,
        /// Bytes requested.
        requested: u64,
        /// Alignment requested.
        align: u64,
        /// The largest free block, in bytes.
        largest_free: u64,
        /// All free bytes of the space.
        free: u64,
        /// The space's capacity, in bytes.
        capacity: u64,
    },
    /// Freeing an address that is not allocated (already freed, or never allocated).
    #[error("double free in {space}: address {addr:#x} is not allocated (already freed or never allocated)")]
    DoubleFree {
        /// The space.
        space: Space,
        /// The address freed.
        addr: u64,
    },
    /// Freeing an address this allocator never handed out: outside the space, or inside a live block.
    #[error("free of foreign address {addr:#x} in {space}: {reason}")]
    ForeignAddress {
        /// The space.
        space: Space,
        /// The address freed.
        addr: u64,
        /// Why the address is foreign.
        reason: String,
    },
    /// A store access to a space the store does not hold.
    #[error("{space} is not a space of this memory store")]
    UnknownSpace {
        /// The space accessed.
        space: Space,
    },
    /// Adding a space to the store twice.
    #[error("{space} was already added to this memory store")]
    SpaceExists {
        /// The space added.
        space: Space,
    },
    /// A store access that reaches past the end of its space.
    #[error("access of {len} bytes at {addr:#x} in {space} is outside its capacity of {capacity} bytes")]
    OutOfRange {
        /// The space accessed.
        space: Space,
        /// First byte accessed.
        addr: u64,
        /// Bytes accessed.
        len: u64,
        /// The space's capacity.
        capacity: u64,
    },
}
