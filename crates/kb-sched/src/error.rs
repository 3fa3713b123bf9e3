//! The error type of kb-sched.

use kb_mem::{MemError, Space};
use kb_oplog::{OpLogError, Pe};

use crate::npy::NpyError;

/// Every way a runtime call can fail. A failed call leaves every tensor's bytes as they were.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedError {
    /// The op log refused an op or a config.
    #[error(transparent)]
    OpLog(#[from] OpLogError),
    /// A shape, layout or memory error.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// Reading or writing a `.npy` file failed.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// A device index beyond the machine.
    #[error("device {device} does not exist (the machine has {devices} devices)")]
    NoSuchDevice {
        /// The device asked for.
        device: u32,
        /// Devices of the machine.
        devices: u32,
    },
    /// A device's HBM cannot hold a new tensor.
    #[error(
        "out of HBM on device {device}: requested {requested} bytes, largest free block is {largest_free} bytes, {free} bytes free of {capacity}"
    )]
    HbmExhausted {
        /// The device.
        device: u32,
        /// Bytes requested.
        requested: u64,
        /// The largest free block.
        largest_free: u64,
        /// All free bytes.
        free: u64,
        /// The HBM size.
        capacity: u64,
    },
    /// A program needs more TCM than its PE has free.
    #[error(
        "kernel `{kernel}` program {program_id:?} on {pe}: out of TCM: requested {requested} bytes, {free} bytes free of {total} (largest free block {largest_free})"
    )]
    TcmExhausted {
        /// The kernel's name.
        kernel: String,
        /// The program id (one entry per grid axis).
        program_id: Vec<usize>,
        /// The PE it ran on.
        pe: Pe,
        /// Bytes requested.
        requested: u64,
        /// Free bytes of the TCM.
        free: u64,
        /// The largest free block.
        largest_free: u64,
        /// The TCM size.
        total: u64,
    },
    /// A kernel used something it may not (a tensor on another device, a bad block, a shape
    /// mismatch between tiles).
    #[error("kernel `{kernel}` program {program_id:?} on {pe}: {reason}")]
    Kernel {
        /// The kernel's name.
        kernel: String,
        /// The program id.
        program_id: Vec<usize>,
        /// The PE it ran on.
        pe: Pe,
        /// What went wrong.
        reason: String,
    },
    /// A launch that cannot be made (an empty grid axis, too many axes).
    #[error("launch of kernel `{kernel}` on device {device}: {reason}")]
    Launch {
        /// The kernel's name.
        kernel: String,
        /// The device.
        device: u32,
        /// What is wrong.
        reason: String,
    },
    /// A tensor operation with arguments that do not fit (shapes, dtypes, devices).
    #[error("{op}: {reason}")]
    Invalid {
        /// The operation ("copy_from", "from_slice", …).
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A host read in a timing-only runtime, which keeps no data.
    #[error("{what} reads tensor data, but this runtime is timing-only (it keeps no data)")]
    TimingOnly {
        /// The host read attempted.
        what: &'static str,
    },
    /// An element index outside the tensor.
    #[error("index {index:?} is out of bounds for a tensor of shape {shape:?}")]
    Index {
        /// The index given.
        index: Vec<usize>,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// The rank was aborted because a sibling rank failed (seen only by the aborted rank's code,
    /// while it unwinds).
    #[error("aborted: another rank failed")]
    Aborted,
    /// A rendezvous's group code failed (for a collective: mismatched calls).
    #[error("{name}: {reason}")]
    Rendezvous {
        /// The rendezvous's name.
        name: String,
        /// What its group code reported.
        reason: String,
    },
    /// Driving the timing engine for a wait failed.
    #[error("wait: {0}")]
    Engine(String),
    /// A space the runtime does not manage (an internal invariant; reported, never a panic).
    #[error("{space} is not managed by this runtime")]
    UnknownSpace {
        /// The space.
        space: Space,
    },
}

impl SchedError {
    /// Whether this is a run's bound refusing an op ([`crate::Runtime::set_bound`]): the run
    /// provably ends at its bound or later.
    pub fn is_bound(&self) -> bool {
        matches!(self, SchedError::OpLog(OpLogError::Engine(kb_oplog::EngineError::Bound { .. })))
    }
}
