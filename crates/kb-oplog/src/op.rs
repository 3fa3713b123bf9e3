//! Ops: one kind per device action, with the operands it reads and writes.
//!
//! An op names every operand as a [`Region`] (space, address, dtype, layout), so nothing is assumed
//! about where an operand lives: a GEMM may read A from HBM and B from a TCM. Which resource serves
//! an op, and for how long, is the cost model's business ([`crate::cost`]); what it computes is the
//! data executor's ([`crate::exec`]).

use std::fmt;
use std::sync::Arc;

use kb_mem::Region;

slotmap::new_key_type! {
    /// The id of a recorded op: a `slotmap` key minted by the timing engine.
    pub struct OpId;
}

/// A processing element: PE `pe` of device `device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pe {
    /// The device index.
    pub device: u32,
    /// The PE index within the device.
    pub pe: u32,
}

impl fmt::Display for Pe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device {} PE {}", self.device, self.pe)
    }
}

/// Elementwise functions of one operand. Where input and output dtypes differ, the result is cast
/// (rounded to nearest even) on the way out; [`UnaryOp::Cast`] does only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `y = x`, converted to the output dtype.
    Cast,
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Square root.
    Sqrt,
    /// `1 / sqrt(x)`.
    Rsqrt,
    /// `1 / x`.
    Recip,
    /// `x²`.
    Square,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `x · sigmoid(x)`.
    Silu,
    /// GeLU, tanh approximation: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
    GeluTanh,
}

/// Elementwise functions of two operands (and the combining step of a reduction into a buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b` (floats only).
    Div,
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
    /// `a^b` (floats only).
    Pow,
    /// Bitwise and (integers only).
    BitAnd,
    /// Bitwise or (integers only).
    BitOr,
    /// Bitwise exclusive or (integers only).
    BitXor,
}

impl BinaryOp {
    /// Whether the op is defined only for integer dtypes.
    pub fn integer_only(self) -> bool {
        matches!(self, BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor)
    }

    /// Whether the op is defined only for float dtypes.
    pub fn float_only(self) -> bool {
        matches!(self, BinaryOp::Div | BinaryOp::Pow)
    }
}

impl UnaryOp {
    /// Whether the op is defined only for float dtypes (transcendental functions and friends).
    pub fn float_only(self) -> bool {
        !matches!(self, UnaryOp::Cast | UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Square | UnaryOp::Relu)
    }

    /// Vector-unit FLOPs per element, as the cost model counts them: 1 for arithmetic, 4 for
    /// exp/log/sqrt-class functions, 8 for composite activations.
    pub fn flops_per_element(self) -> u64 {
        match self {
            UnaryOp::Cast | UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Square | UnaryOp::Relu => 1,
            UnaryOp::Recip | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Exp | UnaryOp::Log => 4,
            UnaryOp::Sigmoid | UnaryOp::Tanh | UnaryOp::Silu => 6,
            UnaryOp::GeluTanh => 8,
        }
    }
}

/// Reductions along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    /// Sum of the elements.
    Sum,
    /// Arithmetic mean (floats only).
    Mean,
    /// Largest element.
    Max,
    /// Smallest element.
    Min,
    /// Product of the elements.
    Prod,
}

/// A computation on a PE's vector unit. Operands may live in HBM or TCM.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorOp {
    /// `out = op(x)`; `x` has `out`'s shape.
    Unary {
        /// The function.
        op: UnaryOp,
        /// The input.
        x: Region,
        /// The output.
        out: Region,
    },
    /// `out = op(a, b)`; `a` and `b` broadcast (numpy rules) to `out`'s shape.
    Binary {
        /// The function.
        op: BinaryOp,
        /// The left operand.
        a: Region,
        /// The right operand.
        b: Region,
        /// The output.
        out: Region,
    },
    /// `out = op(x, scalar)`; `x` has `out`'s shape.
    Scalar {
        /// The function.
        op: BinaryOp,
        /// The tensor operand.
        x: Region,
        /// The scalar operand, converted to the computation's type.
        scalar: f64,
        /// The output.
        out: Region,
    },
    /// `out = reduce(x, axis)`; `out` has `x`'s shape with `axis` removed or kept as extent 1.
    Reduce {
        /// The reduction.
        op: ReduceKind,
        /// The input.
        x: Region,
        /// The axis reduced.
        axis: usize,
        /// The output.
        out: Region,
    },
}

impl VectorOp {
    /// The regions read.
    pub fn inputs(&self) -> Vec<&Region> {
        match self {
            VectorOp::Unary { x, .. } | VectorOp::Scalar { x, .. } | VectorOp::Reduce { x, .. } => vec![x],
            VectorOp::Binary { a, b, .. } => vec![a, b],
        }
    }

    /// The region written.
    pub fn output(&self) -> &Region {
        match self {
            VectorOp::Unary { out, .. }
            | VectorOp::Binary { out, .. }
            | VectorOp::Scalar { out, .. }
            | VectorOp::Reduce { out, .. } => out,
        }
    }

    /// Vector-unit FLOPs: per output element for elementwise ops, per input element for reductions.
    pub fn flops(&self) -> u64 {
        match self {
            VectorOp::Unary { op, out, .. } => op.flops_per_element() * out.numel() as u64,
            VectorOp::Binary { out, .. } | VectorOp::Scalar { out, .. } => out.numel() as u64,
            VectorOp::Reduce { x, .. } => x.numel() as u64,
        }
    }
}

/// What an op does.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// A copy by `pe`'s DMA engine between any two regions of the same dtype and shape: HBM↔TCM,
    /// TCM↔TCM, or to another device's memory over the links.
    Dma {
        /// The PE whose DMA engine moves the bytes.
        pe: Pe,
        /// Where the bytes come from.
        src: Region,
        /// Where they go.
        dst: Region,
    },
    /// `c = a · b` (or `c += a · b` with `accumulate`) on `pe`'s GEMM unit: `a` is [m, k], `b` is
    /// [k, n], `c` is [m, n]. Products accumulate in f32 and are rounded once into `c`'s dtype.
    Gemm {
        /// The PE whose GEMM unit computes.
        pe: Pe,
        /// The left operand, [m, k].
        a: Region,
        /// The right operand, [k, n].
        b: Region,
        /// The result, [m, n].
        c: Region,
        /// Add into `c` instead of overwriting it.
        accumulate: bool,
    },
    /// A computation on `pe`'s vector unit.
    Vector {
        /// The PE whose vector unit computes.
        pe: Pe,
        /// The computation.
        op: VectorOp,
    },
    /// Sets every element of `dst` to `value` (converted to its dtype). A TCM fill runs on the
    /// owning PE's vector unit, an HBM fill on the device's host channel.
    Fill {
        /// The region filled.
        dst: Region,
        /// The value.
        value: f64,
    },
    /// Host bytes written into device memory over the device's host channel. `data` is packed
    /// row-major in `dst`'s dtype.
    HostWrite {
        /// The region written.
        dst: Region,
        /// The bytes, `dst.nbytes()` long.
        data: Arc<[u8]>,
    },
    /// A transfer between two devices' memories over the links of the route between them (a
    /// collective's send), without any PE's DMA engine.
    LinkTransfer {
        /// The source region.
        src: Region,
        /// The destination region, on another device.
        dst: Region,
    },
    /// `dst = op(dst, src)` elementwise on `pe`'s vector unit: the combining step of a collective.
    /// f16 and bf16 are combined in f32 and rounded back at each step.
    ReduceInto {
        /// The PE whose vector unit combines.
        pe: Pe,
        /// The incoming values.
        src: Region,
        /// The accumulator, read and written.
        dst: Region,
        /// The combining function.
        op: BinaryOp,
    },
    /// No work: completes as soon as its dependencies have. Marks the end of a group of ops (a
    /// kernel, a collective) so it can be waited on as one.
    Join,
}

impl OpKind {
    /// A short name of the kind ("dma", "gemm", …), used in traces and messages.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Dma { .. } => "dma",
            OpKind::Gemm { .. } => "gemm",
            OpKind::Vector { op, .. } => match op {
                VectorOp::Unary { .. } => "vector.unary",
                VectorOp::Binary { .. } => "vector.binary",
                VectorOp::Scalar { .. } => "vector.scalar",
                VectorOp::Reduce { .. } => "vector.reduce",
            },
            OpKind::Fill { .. } => "fill",
            OpKind::HostWrite { .. } => "host_write",
            OpKind::LinkTransfer { .. } => "link_transfer",
            OpKind::ReduceInto { .. } => "reduce_into",
            OpKind::Join => "join",
        }
    }

    /// Every region the op reads.
    pub fn reads(&self) -> Vec<&Region> {
        match self {
            OpKind::Dma { src, .. } | OpKind::LinkTransfer { src, .. } => vec![src],
            OpKind::Gemm { a, b, c, accumulate, .. } => {
                if *accumulate {
                    vec![a, b, c]
                } else {
                    vec![a, b]
                }
            }
            OpKind::Vector { op, .. } => op.inputs(),
            OpKind::ReduceInto { src, dst, .. } => vec![src, dst],
            OpKind::Fill { .. } | OpKind::HostWrite { .. } | OpKind::Join => vec![],
        }
    }

    /// Every region the op reads, then the one it writes, without allocating (a region both read
    /// and written appears twice).
    pub fn regions(&self) -> impl Iterator<Item = &Region> + '_ {
        let reads: [Option<&Region>; 3] = match self {
            OpKind::Dma { src, .. } | OpKind::LinkTransfer { src, .. } => [Some(src), None, None],
            OpKind::Gemm { a, b, c, accumulate, .. } => [Some(a), Some(b), accumulate.then_some(c)],
            OpKind::Vector { op, .. } => match op {
                VectorOp::Unary { x, .. } | VectorOp::Scalar { x, .. } | VectorOp::Reduce { x, .. } => {
                    [Some(x), None, None]
                }
                VectorOp::Binary { a, b, .. } => [Some(a), Some(b), None],
            },
            OpKind::ReduceInto { src, dst, .. } => [Some(src), Some(dst), None],
            OpKind::Fill { .. } | OpKind::HostWrite { .. } | OpKind::Join => [None, None, None],
        };
        reads.into_iter().chain([self.writes()]).flatten()
    }

    /// The region the op writes, if any.
    pub fn writes(&self) -> Option<&Region> {
        match self {
            OpKind::Dma { dst, .. }
            | OpKind::LinkTransfer { dst, .. }
            | OpKind::Fill { dst, .. }
            | OpKind::HostWrite { dst, .. }
            | OpKind::ReduceInto { dst, .. } => Some(dst),
            OpKind::Gemm { c, .. } => Some(c),
            OpKind::Vector { op, .. } => Some(op.output()),
            OpKind::Join => None,
        }
    }

    /// The GEMM dimensions (m, n, k), for a GEMM.
    pub fn gemm_mnk(&self) -> Option<(usize, usize, usize)> {
        match self {
            OpKind::Gemm { a, b, .. } if a.shape().len() == 2 && b.shape().len() == 2 => {
                Some((a.shape()[0], b.shape()[1], a.shape()[1]))
            }
            _ => None,
        }
    }
}

/// A recorded op: what it does, and an optional label for traces ("load A", a kernel's name).
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    /// What the op does.
    pub kind: OpKind,
    /// A label shown in traces and reports; the kind's name when absent.
    pub label: Option<Arc<str>>,
}

impl Op {
    /// An op without a label.
    pub fn new(kind: OpKind) -> Op {
        Op { kind, label: None }
    }

    /// The same op with a label.
    pub fn labelled(kind: OpKind, label: impl Into<Arc<str>>) -> Op {
        Op { kind, label: Some(label.into()) }
    }

    /// The label, or the kind's name.
    pub fn display_name(&self) -> &str {
        self.label.as_deref().unwrap_or(self.kind.name())
    }
}

impl From<OpKind> for Op {
    fn from(kind: OpKind) -> Op {
        Op::new(kind)
    }
}
