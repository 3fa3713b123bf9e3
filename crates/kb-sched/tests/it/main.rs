//! Integration tests of kb-sched through its public API, one file per behaviour.

mod barriers;
mod gemm;
mod kernels;
mod record_op;
mod spawn;
mod tensors;
mod trace;

#[path = "../common/sixteen.rs"]
mod sixteen;

/// Helpers shared by the tests.
mod common {
    use kb_oplog::{MachineSpec, Mode};
    use kb_sched::Runtime;

    /// A one-device runtime keeping data, with `pes` PEs.
    pub(crate) fn runtime(pes: u32) -> Runtime {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = 2;
        spec.device.pes = pes;
        Runtime::new(spec, Mode::DATA).unwrap()
    }

    /// A timing-only runtime.
    pub(crate) fn timing_runtime() -> Runtime {
        let mut spec = MachineSpec::default();
        spec.cluster.ranks = 2;
        Runtime::new(spec, Mode::TIMING).unwrap()
    }

    /// A fresh path in the temporary directory.
    pub(crate) fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kb-sched-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// Deterministic pseudo-random values in [-1, 1).
    pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }
}
