//! kb-ccl: collectives over groups of ranks, as `torch.distributed`, recorded as ops.
//!
//! Inside ranks started by [`kb_sched::spawn`], a collective is called by every member of a
//! [`ProcessGroup`] (the world by default, or one made by [`new_group`]). The members meet in a
//! rendezvous; the algorithm then records its link transfers and reductions on the shared
//! runtime — routed over the cluster's links and timed by the engine like every other op — and
//! each member waits on its own share ([`all_reduce`]) or keeps a [`kb_sched::Work`] handle
//! ([`all_reduce_async`]). Members that disagree (dtype, size, op) all get an error naming the
//! ranks and the values.
//!
//! [`all_reduce`], [`reduce_scatter_tensor`], [`all_gather_into_tensor`], [`broadcast`], [`reduce`]
//! and [`barrier`] (each but `barrier` also `_async`), with every [`ReduceOp`], run by one of four
//! algorithms ([`CollectiveAlgo`]): the ring (the default; chunks cut into pipelined slices of at
//! most `collectives.slice_bytes`), direct (one-shot), recursive halving-doubling (groups of a
//! power-of-two size) and the double binary tree (all-reduce). A group picks one with
//! [`ProcessGroup::with_algo`]; otherwise the machine config's `collectives.algo` applies. `auto`
//! records the call on a scratch timing-only copy of the machine with each algorithm that can run
//! it and keeps the fastest, as NCCL's tuner would; [`last_algo`] names the algorithm a rank's
//! last collective ran. Also [`all_gather`] into a list (ring or direct),
//! [`all_to_all_single`] with equal splits (pairwise exchange or direct), and point-to-point
//! [`send`] and [`recv`] (each also `_async`).
//!
//! ```
//! use kb_ccl::{ProcessGroup, ReduceOp, all_reduce};
//! use kb_mem::DType;
//!
//! let out = kb_sched::spawn(4, |ctx| {
//!     let t = ctx.device().full(&[5], ctx.rank() as f64 + 1.0, DType::F32)?;
//!     all_reduce(&ctx, &ProcessGroup::world(&ctx), &t, ReduceOp::Sum)?;
//!     Ok::<_, kb_ccl::CclError>(t.to_vec::<f32>()?)
//! })?;
//! assert!(out.iter().all(|v| v == &[10.0; 5]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod algo;
mod all_to_all;
mod api;
mod collective;
mod direct;
mod error;
mod gather_list;
mod group;
mod hd;
mod p2p;
mod plan;
mod reduce_op;
mod ring;
mod steps;
mod tree;

pub use all_to_all::{all_to_all_single, all_to_all_single_async};
pub use api::{
    all_gather_into_tensor, all_gather_into_tensor_async, all_reduce, all_reduce_async, barrier, broadcast,
    broadcast_async, reduce, reduce_async, reduce_scatter_tensor, reduce_scatter_tensor_async,
};
pub use collective::last_algo;
pub use error::CclError;
pub use gather_list::{all_gather, all_gather_async};
pub use group::{ProcessGroup, new_group};
pub use kb_oplog::CollectiveAlgo;
pub use p2p::{recv, recv_async, send, send_async};
pub use reduce_op::ReduceOp;
