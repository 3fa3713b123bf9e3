//! The cost model: which resources an op holds, and for how long.
//!
//! All times are integer picoseconds; each term is computed in f64 and rounded to the nearest
//! picosecond on its own, so a closed form written the same way matches the engine exactly.
//! Bandwidths are in GB/s (1 GB/s = 10⁹ bytes/s = 1 byte/ns).
//!
//! - **HBM share.** A device's HBM serves `slots = max(1, ⌊hbm_gbps / dma_gbps⌋)` transfers at
//!   once, each at `share = hbm_gbps / slots`. An op touching its device's HBM holds one slot.
//! - **DMA** (same device) = `dma_setup + bytes / min(dma_gbps, share)` when either side is HBM,
//!   `dma_setup + bytes / dma_gbps` for TCM↔TCM; it holds the PE's DMA engine (and an HBM slot).
//! - **DMA to another device**: that stage, then one stage per hop of the route, each holding its
//!   link for `link_latency + bytes / link_gbps` (store and forward).
//! - **Link transfer** (collectives): one stage per hop, `link_latency + bytes / link_gbps` each.
//! - **GEMM** = `issue + max(2mnk / (gemm_flops_per_cycle[dtype] × clock), hbm_bytes / share)`,
//!   holding the PE's GEMM unit (and an HBM slot when an operand lives in HBM; `hbm_bytes` counts
//!   the HBM operands read and written).
//! - **Vector** = `max(flops / (vector_flops_per_cycle × clock), hbm_bytes / share)`, holding the
//!   PE's vector unit (and an HBM slot). FLOPs are counted per element by the op
//!   ([`crate::UnaryOp::flops_per_element`]); a reduction counts its input elements. A reduce-into
//!   counts one FLOP per element; a TCM fill one per element on the owning PE's vector unit.
//! - **Host write / HBM fill** = `bytes / min(host_gbps, share)` on the device's host channel (and
//!   an HBM slot); a host write into TCM holds only the host channel, at `host_gbps`.
//! - **Join**: no stage; it ends when its dependencies do.

use std::sync::Arc;

use kb_mem::{Region, Space};

use crate::engine::{ResourceIndex, ResourceSpec, Stage, Stages};
use crate::{MachineSpec, OpKind, Pe};

/// Rounds nanoseconds to whole picoseconds.
pub fn ps_from_ns(ns: f64) -> u64 {
    (ns * 1000.0).round() as u64
}

/// Picoseconds to move `bytes` at `gbps` GB/s.
pub fn transfer_ps(bytes: u64, gbps: f64) -> u64 {
    (bytes as f64 * 1000.0 / gbps).round() as u64
}

/// Picoseconds to do `flops` at `flops_per_cycle` per cycle of a `clock_ghz` clock.
pub fn compute_ps(flops: u64, flops_per_cycle: f64, clock_ghz: f64) -> u64 {
    (flops as f64 * 1000.0 / (flops_per_cycle * clock_ghz)).round() as u64
}

/// What a resource is, by its place in the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A PE's DMA engine.
    Dma(Pe),
    /// A PE's GEMM unit.
    Gemm(Pe),
    /// A PE's vector unit.
    Vector(Pe),
    /// A device's HBM bandwidth.
    Hbm(u32),
    /// A device's host channel.
    Host(u32),
    /// A directed link, by its index in [`MachineSpec::links`].
    Link(usize),
}

/// The cost model of one machine: the resource table and the stages of each op.
#[derive(Debug, Clone)]
pub struct CostModel {
    spec: MachineSpec,
    /// Devices in the cluster.
    devices: u32,
    /// PE units of one kind (DMA engines, GEMM units or vector units) in the cluster.
    units: u32,
    link_base: u32,
    /// The machine's links, by index (see [`MachineSpec::links`]).
    links: Vec<crate::Link>,
    hbm_slots: u32,
    hbm_share: f64,
    /// Reused for each route looked up.
    route: std::cell::RefCell<Vec<usize>>,
    /// The stage lists of recent multi-stage transfers, by route ([`RouteKey`]), so the slices of
    /// a message share one list: a multi-hop collective on a thousand-rank ring records millions
    /// of transfers of a few hundred stages each.
    recent: std::cell::RefCell<Vec<Option<RecentRoute>>>,
}

/// What the stages of a multi-stage transfer depend on: its first stage (a DMA's own, if any),
/// its two devices and the time of each hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RouteKey {
    first: Option<Stage>,
    from: u32,
    to: u32,
    hop: u64,
}

/// A route's stages, as [`CostModel::recent`] keeps them.
type RecentRoute = (RouteKey, Arc<[Stage]>);

/// Entries of [`CostModel::recent`] (a power of two): a transfer finds its list at the entry its
/// devices and hop time hash to (the top bits of a multiplicative hash).
const RECENT_ROUTES: usize = 64;
const _: () = assert!(RECENT_ROUTES.is_power_of_two());

impl CostModel {
    /// The cost model of `spec` (which must be valid).
    pub fn new(spec: &MachineSpec) -> CostModel {
        let d = &spec.device;
        let devices = spec.cluster.ranks;
        let units = d.pes * devices;
        let hbm_slots = ((d.hbm_gbps / d.dma_gbps).floor() as u32).max(1);
        let links = spec.links();
        CostModel {
            spec: spec.clone(),
            devices,
            units,
            link_base: 3 * units + 2 * devices,
            links,
            hbm_slots,
            hbm_share: d.hbm_gbps / hbm_slots as f64,
            route: std::cell::RefCell::new(Vec::new()),
            recent: std::cell::RefCell::new(vec![None; RECENT_ROUTES]),
        }
    }

    /// The machine.
    pub fn spec(&self) -> &MachineSpec {
        &self.spec
    }

    /// Transfers a device's HBM serves at once.
    pub fn hbm_slots(&self) -> u32 {
        self.hbm_slots
    }

    /// The bandwidth of one HBM slot, GB/s.
    pub fn hbm_share(&self) -> f64 {
        self.hbm_share
    }

    /// The engine index of a resource. Resources are numbered kind by kind — every DMA engine,
    /// then every GEMM unit, every vector unit, every HBM, every host channel, every link — and
    /// a kind's PE units PE by PE across the devices: the units a thousand-rank collective keeps
    /// busy together (PE 0's of every device, every link) sit side by side in the engine's
    /// tables. Within a device, a PE unit comes before its HBM and its HBM before its host
    /// channel, the order two-resource stages acquire them in.
    pub fn index(&self, r: Resource) -> ResourceIndex {
        let unit = |kind: u32, pe: Pe| kind * self.units + pe.pe * self.devices + pe.device;
        match r {
            Resource::Dma(pe) => unit(0, pe),
            Resource::Gemm(pe) => unit(1, pe),
            Resource::Vector(pe) => unit(2, pe),
            Resource::Hbm(d) => 3 * self.units + d,
            Resource::Host(d) => 3 * self.units + self.devices + d,
            Resource::Link(l) => self.link_base + l as u32,
        }
    }

    /// The resource at an engine index.
    pub fn resource(&self, index: ResourceIndex) -> Resource {
        if index >= self.link_base {
            return Resource::Link((index - self.link_base) as usize);
        }
        if index >= 3 * self.units {
            let d = index - 3 * self.units;
            return if d < self.devices { Resource::Hbm(d) } else { Resource::Host(d - self.devices) };
        }
        let (kind, i) = (index / self.units, index % self.units);
        let pe = Pe { device: i % self.devices, pe: i / self.devices };
        match kind {
            0 => Resource::Dma(pe),
            1 => Resource::Gemm(pe),
            _ => Resource::Vector(pe),
        }
    }

    /// The engine's resource table, in index order, with each resource's name
    /// ([`CostModel::resource_name`]).
    pub fn resource_specs(&self) -> Vec<ResourceSpec> {
        self.resource_table(true)
    }

    /// The engine's resource table, named or with empty names (formatting tens of thousands of
    /// names is a measurable part of setting up a thousand-rank run that never shows them).
    pub(crate) fn resource_table(&self, named: bool) -> Vec<ResourceSpec> {
        let total = self.link_base + self.links.len() as u32;
        (0..total)
            .map(|i| {
                let slots = if matches!(self.resource(i), Resource::Hbm(_)) { self.hbm_slots } else { 1 };
                let name = if named { self.resource_name(i) } else { String::new() };
                ResourceSpec { name, slots }
            })
            .collect()
    }

    /// The name of resource `index` for traces and logs: "device 0 PE 3 dma", "link 0→1".
    pub fn resource_name(&self, index: ResourceIndex) -> String {
        match self.resource(index) {
            Resource::Dma(pe) => format!("{pe} dma"),
            Resource::Gemm(pe) => format!("{pe} gemm"),
            Resource::Vector(pe) => format!("{pe} vector"),
            Resource::Hbm(d) => format!("device {d} hbm"),
            Resource::Host(d) => format!("device {d} host"),
            Resource::Link(l) => format!("link {}→{}", self.links[l].from, self.links[l].to),
        }
    }

    fn hbm_bytes<'a>(device: u32, regions: impl IntoIterator<Item = &'a Region>) -> u64 {
        regions.into_iter().filter(|r| r.space == Space::Hbm { device }).map(|r| r.nbytes() as u64).sum()
    }

    /// A compute stage on `unit`, holding the device's HBM too when `hbm_bytes` > 0.
    fn compute_stage(&self, unit: Resource, device: u32, compute: u64, hbm_bytes: u64) -> Stage {
        let u = self.index(unit);
        if hbm_bytes == 0 {
            return Stage::one(u, compute);
        }
        let mem = transfer_ps(hbm_bytes, self.hbm_share);
        Stage::two(u, self.index(Resource::Hbm(device)), compute.max(mem))
    }

    /// The stages of a transfer of `bytes` from device `from` to `to`: `first` (a DMA's own
    /// stage), if any, then one per link of the route. A single stage costs no allocation.
    fn link_stages(&self, first: Option<Stage>, from: u32, to: u32, bytes: u64) -> Stages {
        let c = &self.spec.cluster;
        let hop = ps_from_ns(c.link_latency_ns) + transfer_ps(bytes, c.link_gbps);
        // Both devices were checked to exist, and the spec was validated: the route exists.
        let mut route = self.route.borrow_mut();
        route.clear();
        c.route_into(from, to, &mut route);
        let link = |&l: &usize| Stage::one(self.index(Resource::Link(l)), hop);
        let route = match (first, route.as_slice()) {
            (None, [only]) => return Stages::One(link(only)),
            (None, []) => return Stages::None,
            (Some(first), []) => return Stages::One(first),
            (_, route) => route,
        };
        let key = RouteKey { first, from, to, hop };
        let mut recent = self.recent.borrow_mut();
        let mix = ((u64::from(from) << 40) ^ (u64::from(to) << 20) ^ hop).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let entry = &mut recent[(mix >> (64 - RECENT_ROUTES.trailing_zeros())) as usize];
        match entry {
            Some((k, list)) if *k == key => Stages::Many(list.clone()),
            _ => {
                let list: Arc<[Stage]> = first.into_iter().chain(route.iter().map(link)).collect();
                *entry = Some((key, list.clone()));
                Stages::Many(list)
            }
        }
    }

    /// The stages of an op (assumed valid: shapes agree, devices and PEs exist).
    pub fn stages(&self, kind: &OpKind) -> Stages {
        let d = &self.spec.device;
        let one = match kind {
            OpKind::Dma { pe, src, dst } => {
                let bytes = src.nbytes() as u64;
                let local_hbm = [src, dst].iter().any(|r| r.space == Space::Hbm { device: pe.device });
                let dma = self.index(Resource::Dma(*pe));
                let setup = ps_from_ns(d.dma_setup_ns);
                let first = if local_hbm {
                    let bw = d.dma_gbps.min(self.hbm_share);
                    Stage::two(dma, self.index(Resource::Hbm(pe.device)), setup + transfer_ps(bytes, bw))
                } else {
                    Stage::one(dma, setup + transfer_ps(bytes, d.dma_gbps))
                };
                let (from, to) = (src.space.device(), dst.space.device());
                if from != to {
                    return self.link_stages(Some(first), from, to, bytes);
                }
                first
            }
            OpKind::LinkTransfer { src, dst } => {
                return self.link_stages(None, src.space.device(), dst.space.device(), src.nbytes() as u64);
            }
            OpKind::Gemm { pe, a, b, c, accumulate } => {
                let (m, n, k) = kind.gemm_mnk().unwrap_or((0, 0, 0));
                let flops = 2 * (m as u64) * (n as u64) * (k as u64);
                let rate = d.gemm_flops_per_cycle.get(a.dtype).unwrap_or(1.0);
                let compute = compute_ps(flops, rate, d.clock_ghz);
                let reads: &[&Region] = if *accumulate { &[a, b, c] } else { &[a, b] };
                let hbm = Self::hbm_bytes(pe.device, reads.iter().copied()) + Self::hbm_bytes(pe.device, [c]);
                let stage = self.compute_stage(Resource::Gemm(*pe), pe.device, compute, hbm);
                stage.with_duration(stage.duration() + ps_from_ns(d.gemm_issue_ns))
            }
            OpKind::Vector { pe, op } => {
                let compute = compute_ps(op.flops(), d.vector_flops_per_cycle, d.clock_ghz);
                let hbm = Self::hbm_bytes(pe.device, kind.regions());
                self.compute_stage(Resource::Vector(*pe), pe.device, compute, hbm)
            }
            OpKind::ReduceInto { pe, src, dst, .. } => {
                let compute = compute_ps(dst.numel() as u64, d.vector_flops_per_cycle, d.clock_ghz);
                let hbm = Self::hbm_bytes(pe.device, [src, dst, dst]);
                self.compute_stage(Resource::Vector(*pe), pe.device, compute, hbm)
            }
            OpKind::Fill { dst, .. } => match dst.space {
                Space::Tcm { device, pe } => {
                    let compute = compute_ps(dst.numel() as u64, d.vector_flops_per_cycle, d.clock_ghz);
                    Stage::one(self.index(Resource::Vector(Pe { device, pe })), compute)
                }
                Space::Hbm { device } => self.host_stage(device, dst.nbytes() as u64, true),
            },
            OpKind::HostWrite { dst, .. } => {
                let hbm = matches!(dst.space, Space::Hbm { .. });
                self.host_stage(dst.space.device(), dst.nbytes() as u64, hbm)
            }
            OpKind::Join => return Stages::None,
        };
        Stages::One(one)
    }

    fn host_stage(&self, device: u32, bytes: u64, hbm: bool) -> Stage {
        let host = self.index(Resource::Host(device));
        if hbm {
            let bw = self.spec.device.host_gbps.min(self.hbm_share);
            Stage::two(host, self.index(Resource::Hbm(device)), transfer_ps(bytes, bw))
        } else {
            Stage::one(host, transfer_ps(bytes, self.spec.device.host_gbps))
        }
    }
}
