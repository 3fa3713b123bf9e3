//! kb-oplog: the simulation core of kernbench — record, time, replay over one op log.
//!
//! - [`MachineSpec`]: the machine model (devices, PEs, HBM, TCM, DMA, GEMM and vector units, links
//!   in a topology), loaded from TOML with an embedded default;
//! - [`Op`] and [`OpKind`]: one op kind per device action, each naming its operands as
//!   [`kb_mem::Region`]s;
//! - [`CostModel`]: which resources an op holds and for how long (integer picoseconds);
//! - [`Engine`]: the discrete-event timing engine (resources, contention, deterministic ties);
//! - the data executor, which replays ops onto a [`kb_mem::MemoryStore`];
//! - [`Sim`]: all of the above behind one recording interface, with Chrome trace export.
//!
//! ```
//! use kb_mem::{DType, Region, Space};
//! use kb_oplog::{MachineSpec, Mode, OpKind, Pe, Sim};
//!
//! let mut sim = Sim::new(MachineSpec::default(), Mode::DATA)?;
//! let hbm = Space::Hbm { device: 0 };
//! let tcm = Space::Tcm { device: 0, pe: 0 };
//! let x = Region::contiguous(hbm, 0, DType::F32, &[4])?;
//! let t = Region::contiguous(tcm, 0, DType::F32, &[4])?;
//! let write = sim.record(
//!     OpKind::HostWrite { dst: x.clone(), data: bytemuck::cast_slice(&[1f32, 2.0, 3.0, 4.0]).into() },
//!     &[],
//! )?;
//! let load = sim.record(OpKind::Dma { pe: Pe { device: 0, pe: 0 }, src: x, dst: t.clone() }, &[write])?;
//! let end_ps = sim.run_until(load)?;
//! sim.replay_until(load)?;
//! assert_eq!(sim.store()?.read_region_f32(&t)?, [1.0, 2.0, 3.0, 4.0]);
//! assert!(end_ps > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cost;
mod engine;
mod error;
mod exec;
mod machine;
mod op;
mod sim;
mod trace;
mod validate;

pub use cost::{CostModel, Resource, compute_ps, ps_from_ns, transfer_ps};
pub use engine::{Engine, EngineError, OpState, OpTimes, ResourceIndex, ResourceSpec, Stage, Stages};
pub use error::OpLogError;
pub use exec::{execute, sgemm};
pub use machine::*;
pub use op::{BinaryOp, Op, OpId, OpKind, Pe, ReduceKind, UnaryOp, VectorOp};
pub use sim::{Mode, Sim};
