//! The error type of kb-oplog.

use kb_mem::MemError;

use crate::{ConfigError, EngineError};

/// Every way recording, timing or replaying can fail. A failed call records nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpLogError {
    /// The machine config is malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An op is malformed (shapes, dtypes, a PE or operand where it cannot be).
    #[error("invalid {kind} op{}: {reason}", label.as_deref().map(|l| format!(" {l:?}")).unwrap_or_default())]
    InvalidOp {
        /// The op's kind ("gemm", "dma", …).
        kind: &'static str,
        /// The op's label, if it has one.
        label: Option<String>,
        /// What is wrong, naming operands and values.
        reason: String,
    },
    /// The timing engine refused.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The memory store refused during replay.
    #[error("replay: {0}")]
    Mem(#[from] MemError),
    /// Something that needs data (replay, reading memory) in a timing-only simulation.
    #[error("{what} needs data, but this simulation is timing-only")]
    TimingOnly {
        /// What was asked.
        what: &'static str,
    },
    /// Something that needs the recorded ops (a trace, a report) when they were not kept.
    #[error("{what} needs the recorded ops, but this simulation does not keep them")]
    OpsNotKept {
        /// What was asked.
        what: &'static str,
    },
    /// An op recorded from its stages alone (see [`crate::Sim::record_costed`]) in a simulation
    /// that keeps every op for a trace or a replay.
    #[error("{what} records ops by their cost alone, but this simulation keeps every op")]
    KeepsOps {
        /// What was asked.
        what: &'static str,
    },
    /// Writing an output (a trace) failed.
    #[error("writing the trace failed: {0}")]
    Io(String),
    /// An op id this simulation never recorded.
    #[error("op {op:?} is not an op of this simulation")]
    UnknownOp {
        /// The id given.
        op: crate::OpId,
    },
}
