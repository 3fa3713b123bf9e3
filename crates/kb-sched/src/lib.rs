//! kb-sched: the runtime a kernbench user holds.
//!
//! - [`Runtime`]: a context over one machine (op log, timing engine, memory store, allocators),
//!   handing out [`Device`]s; no global state;
//! - [`Tensor`]: tensors in a device's HBM — created by ops (`zeros`, `full`, `from_slice`,
//!   `from_npy` …), viewed without copies, read on the host only through the host-read barriers
//!   ([`barrier`] holds the registry);
//! - the tile-kernel language ([`Program`], [`BlockPtr`], [`Tile`]) and [`Device::launch`], with
//!   [`Work`] handles to wait on;
//! - [`gemm()`]: the tiled GEMM kernel.
//!
//! ```
//! use kb_mem::DType;
//! use kb_sched::{GemmBlocks, Runtime, gemm};
//!
//! let rt = Runtime::with_default_machine()?;
//! let dev = rt.device(0)?;
//! let a = dev.from_f32(&[2, 3], DType::F32, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let b = dev.from_f32(&[3, 1], DType::F32, &[1.0, 0.0, -1.0])?;
//! let c = dev.zeros(&[2, 1], DType::F32)?;
//! let work = gemm(&dev, &a, &b, &c, false, GemmBlocks { m: 16, n: 16, k: 16 })?;
//! let end_ps = work.wait()?;
//! assert_eq!(c.to_vec::<f32>()?, [-2.0, -2.0]);
//! assert!(end_ps > 0);
//! # Ok::<(), kb_sched::SchedError>(())
//! ```

pub mod barrier;
mod coro;
mod error;
mod gemm;
mod kernel;
mod memory;
pub mod npy;
mod runtime;
mod spawn;
mod tensor;

pub use error::SchedError;
pub use gemm::{GemmBlocks, gemm};
pub use kernel::{BlockPtr, Grid, Program, Tile};
pub use runtime::{Costed, Device, Runtime, Wave, Work};
pub use spawn::{RankCtx, RankFailure, SpawnError, spawn};
pub use tensor::Tensor;
