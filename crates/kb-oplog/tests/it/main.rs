//! Integration tests of kb-oplog through its public API, one file per behaviour.

mod programs;
mod replay;
mod resources;
mod timing;
mod trace;

/// Helpers shared by the tests: small machines and regions.
mod common {
    use kb_mem::{DType, Region, Space};
    use kb_oplog::{MachineSpec, Topology};

    /// The default machine with `ranks` devices on a ring.
    pub(crate) fn ring(ranks: u32) -> MachineSpec {
        let mut s = MachineSpec::default();
        s.cluster.ranks = ranks;
        s.cluster.topology = Topology::Ring;
        s
    }

    pub(crate) fn hbm(device: u32, addr: u64, dtype: DType, shape: &[usize]) -> Region {
        Region::contiguous(Space::Hbm { device }, addr, dtype, shape).unwrap()
    }

    pub(crate) fn tcm(device: u32, pe: u32, addr: u64, dtype: DType, shape: &[usize]) -> Region {
        Region::contiguous(Space::Tcm { device, pe }, addr, dtype, shape).unwrap()
    }

    /// Closed forms, written out independently of the cost model's code.
    pub(crate) fn ps(ns: f64) -> u64 {
        (ns * 1000.0).round() as u64
    }

    pub(crate) fn bytes_ps(bytes: u64, gbps: f64) -> u64 {
        (bytes as f64 / gbps * 1000.0).round() as u64
    }
}
