//! kb-tp: Megatron-LM's tensor parallelism on the kernbench simulator, forward only.
//!
//! - [`parallel_state`]: the tensor-, pipeline- and data-parallel groups of each rank, with
//!   Megatron's rank layout, kept per rank in its runtime context (no globals);
//! - [`mappings`]: the mapping functions between full and split activations
//!   (`copy_to_`, `reduce_from_`, `scatter_to_`, `gather_from_tensor_model_parallel_region`, and
//!   the sequence-parallel ones), and the [`CommSpan`]s of the collectives they ran;
//! - [`ColumnParallelLinear`] and [`RowParallelLinear`], whose shards load from the full weights;
//! - [`ParallelMLP`]: column-parallel → GeLU → row-parallel, one all-reduce;
//! - [`kernels`]: the launches they record — kb-sched's GEMM kernel against a transposed weight
//!   view, the bias/activation epilogue, a strided copy.
//!
//! Every rank of a [`kb_sched::spawn`] calls the same functions in the same order; the
//! collectives come from kb-ccl.
//!
//! ```
//! use kb_mem::DType;
//! use kb_tp::{ParallelMLP, initialize_model_parallel};
//!
//! // Two ranks split an MLP of 8 → 16 → 8 features; both hold the same output.
//! let outputs = kb_sched::spawn(2, |ctx| {
//!     initialize_model_parallel(&ctx, 2, 1)?;
//!     let (w1, w2) = (vec![0.25f32; 16 * 8], vec![0.5f32; 8 * 16]);
//!     let mlp = ParallelMLP::from_full(&ctx, 8, 16, DType::F32, (&w1, None), (&w2, None))?;
//!     let x = ctx.device().full(&[4, 8], 1.0, DType::F32)?;
//!     Ok::<_, kb_tp::TpError>(mlp.forward(&x)?.to_vec::<f32>()?)
//! })?;
//! assert_eq!(outputs[0], outputs[1]);
//! // h = gelu(8 · 0.25) = gelu(2); y = 16 · 0.5 · h.
//! let gelu2 = 0.5 * 2.0 * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (2.0 + 0.044715 * 8.0)).tanh());
//! assert!((f64::from(outputs[0][0]) - 8.0 * gelu2).abs() < 1e-4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod kernels;
mod layers;
pub mod mappings;
mod mlp;
pub mod parallel_state;

pub use error::TpError;
pub use layers::{ColumnOptions, ColumnParallelLinear, Forward, RowOptions, RowParallelLinear};
pub use mappings::{CommSpan, clear_comm_spans, comm_spans};
pub use mlp::ParallelMLP;
pub use parallel_state::{
    destroy_model_parallel, get_data_parallel_group, get_data_parallel_rank, get_data_parallel_world_size,
    get_pipeline_model_parallel_group, get_pipeline_model_parallel_rank, get_pipeline_model_parallel_world_size,
    get_tensor_model_parallel_group, get_tensor_model_parallel_rank, get_tensor_model_parallel_src_rank,
    get_tensor_model_parallel_world_size, initialize_model_parallel, model_parallel_is_initialized,
};

/// A [`TpError::Shape`] of the calling rank.
pub(crate) fn shape_error(ctx: &kb_sched::RankCtx, what: &'static str, reason: String) -> TpError {
    TpError::Shape { rank: ctx.rank(), what, reason }
}
