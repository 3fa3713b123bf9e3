//! The error type of kb-tp.

use kb_ccl::CclError;
use kb_sched::SchedError;

/// Every way a tensor-parallel call can fail.
///
/// Errors from below pass through unchanged: the runtime's ([`TpError::Sched`]) and the
/// collectives' ([`TpError::Ccl`]), whose messages already name the rank, device or kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TpError {
    /// The runtime refused something (an allocation, a launch, an op, a rendezvous).
    #[error(transparent)]
    Sched(#[from] SchedError),
    /// A collective failed (mismatched members, a bad group).
    #[error(transparent)]
    Ccl(#[from] CclError),
    /// A parallel size of zero.
    #[error("rank {rank}: {what} must be positive, got 0")]
    ZeroSize {
        /// The calling rank.
        rank: usize,
        /// Which size (`tensor_model_parallel_size`, `pipeline_model_parallel_size`).
        what: &'static str,
    },
    /// The world does not split into groups of `tensor × pipeline` ranks.
    #[error(
        "rank {rank}: world_size ({world_size}) is not divisible by {} \
         (tensor_model_parallel_size {tensor} × pipeline_model_parallel_size {pipeline})",
        .tensor * .pipeline
    )]
    WorldNotDivisible {
        /// The calling rank.
        rank: usize,
        /// The number of ranks.
        world_size: usize,
        /// The tensor-parallel size asked for.
        tensor: usize,
        /// The pipeline-parallel size asked for.
        pipeline: usize,
    },
    /// `initialize_model_parallel` was called on a rank that is already initialised.
    #[error("rank {rank}: model parallel groups are already initialized (call destroy_model_parallel first)")]
    AlreadyInitialized {
        /// The calling rank.
        rank: usize,
    },
    /// A getter (or a layer, which needs the groups) was called before `initialize_model_parallel`.
    #[error("rank {rank}: {what} is not initialized (call initialize_model_parallel first)")]
    NotInitialized {
        /// The calling rank.
        rank: usize,
        /// What was asked for, e.g. "tensor model parallel group".
        what: &'static str,
    },
    /// A size that must split evenly over the tensor-parallel ranks does not.
    #[error("rank {rank}: {what}: {size} is not divisible by the tensor model parallel size {parts}")]
    NotDivisible {
        /// The calling rank.
        rank: usize,
        /// What the size is, e.g. "ColumnParallelLinear output_size".
        what: String,
        /// The size.
        size: usize,
        /// The tensor-parallel size.
        parts: usize,
    },
    /// A tensor or an array whose shape, dtype or length does not fit the call.
    #[error("rank {rank}: {what}: {reason}")]
    Shape {
        /// The calling rank.
        rank: usize,
        /// The call, e.g. "RowParallelLinear forward".
        what: &'static str,
        /// What is wrong, with the shapes involved.
        reason: String,
    },
}
