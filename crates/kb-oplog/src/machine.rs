//! The machine model: what a simulated accelerator cluster is made of, loaded from TOML.
//!
//! A [`MachineSpec`] is a [`DeviceSpec`] (PEs with their scratchpads, DMA engines, GEMM and
//! vector units; HBM; the host copy channel), identical for every device, and a [`ClusterSpec`]
//! (how many ranks, joined by links in which [`Topology`]). Rank `r` runs on device `r`.
//!
//! The embedded default (`default_machine.toml`, [`DEFAULT_MACHINE_TOML`]) documents every key
//! with its unit. A user's file needs only the keys it changes: it is merged key by key over the
//! default, so `[cluster]\nranks = 16` is a complete config. Unknown keys, values of the wrong
//! type and values out of range are [`ConfigError`]s naming the key; nothing panics on input.
//!
//! Units: bandwidths in GB/s (1 GB/s = 1e9 bytes/s), fixed costs in ns, sizes in bytes, compute
//! rates in FLOP per PE cycle. Sizes may be written as integers or as strings like `"16GiB"`
//! (units B, KiB, MiB, GiB, TiB, and KB, MB, GB, TB for powers of 1000); [`MachineSpec`]
//! writes a size as a string in the largest binary unit that divides it exactly (`"1MiB"`),
//! otherwise as an integer, so what it writes loads back identically.
//!
//! [`MachineSpec::links`] and [`MachineSpec::route`] turn the topology into numbered, directed
//! links and hop-by-hop routes; see [`Topology`] for the link order.
//!
//! ```
//! use kb_oplog::{MachineSpec, Topology};
//!
//! let spec = MachineSpec::from_toml_str("[cluster]\nranks = 16\ntopology = \"torus2d\"\ntorus_dims = [4, 4]")?;
//! assert_eq!(spec.cluster.topology, Topology::Torus2d { dims: [4, 4] });
//! assert_eq!(spec.device, MachineSpec::default().device);
//! // Rank 0 to rank 10 = (2, 2): two hops along x, then two along y.
//! assert_eq!(spec.route(0, 10)?.len(), 4);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use kb_mem::DType;

mod load;
mod size;
mod topology;

pub use topology::{Endpoint, Link, RouteError, Topology};

/// The text of the embedded default machine config, with every key documented.
pub const DEFAULT_MACHINE_TOML: &str = include_str!("default_machine.toml");

/// A whole simulated machine: one device model, replicated over the ranks of a cluster.
///
/// Fields are public; a spec changed by hand can be checked with [`MachineSpec::validate`].
/// It (de)serializes as the TOML form of `default_machine.toml` (a document with `[device]`
/// and `[cluster]` tables); deserializing merges over the default and validates, like
/// [`MachineSpec::from_toml_str`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "load::RawMachine", try_from = "load::UserTable")]
pub struct MachineSpec {
    /// The model of every device.
    pub device: DeviceSpec,
    /// How many devices there are and how they are linked.
    pub cluster: ClusterSpec,
    /// How collectives run on the cluster, when a call does not say.
    pub collectives: CollectiveSpec,
}

/// One accelerator device: its processing elements (PEs), memories and copy engines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceSpec {
    /// Processing elements per device.
    pub pes: u32,
    /// PE clock, GHz.
    pub clock_ghz: f64,
    /// Scratchpad (TCM) per PE, bytes.
    pub tcm_bytes: u64,
    /// HBM per device, bytes.
    pub hbm_bytes: u64,
    /// HBM bandwidth shared by the device's PEs, GB/s (1 GB/s = 1e9 bytes/s).
    pub hbm_gbps: f64,
    /// Bandwidth of each PE's DMA engine, GB/s.
    pub dma_gbps: f64,
    /// Fixed cost of every DMA, ns.
    pub dma_setup_ns: f64,
    /// Host↔device copy channel, one per device (host writes, fills of HBM), GB/s.
    pub host_gbps: f64,
    /// GEMM unit throughput per PE, FLOP/cycle, by dtype.
    pub gemm_flops_per_cycle: GemmRates,
    /// Fixed cost of every GEMM op, ns.
    pub gemm_issue_ns: f64,
    /// Vector unit throughput per PE, FLOP/cycle.
    pub vector_flops_per_cycle: f64,
}

/// GEMM throughput of one PE, FLOP per cycle, for each supported input dtype.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmRates {
    /// Rate for f16 inputs.
    pub f16: f64,
    /// Rate for bf16 inputs.
    pub bf16: f64,
    /// Rate for f32 inputs.
    pub f32: f64,
}

impl GemmRates {
    /// The rate for `dtype`, FLOP/cycle; `None` for a dtype the GEMM unit does not support
    /// (f64 and the integer types).
    pub fn get(&self, dtype: DType) -> Option<f64> {
        match dtype {
            DType::F16 => Some(self.f16),
            DType::BF16 => Some(self.bf16),
            DType::F32 => Some(self.f32),
            _ => None,
        }
    }
}

/// The cluster: how many ranks (one device each) and the links between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterSpec {
    /// Number of ranks; device `r` is rank `r`.
    pub ranks: u32,
    /// How devices are joined.
    pub topology: Topology,
    /// Bandwidth of one link in one direction, GB/s.
    pub link_gbps: f64,
    /// Latency of one link hop, ns.
    pub link_latency_ns: f64,
}

/// The collectives' defaults: the algorithm a call uses when it names none, and the size of the
/// slices a pipelined algorithm cuts its chunks into (like NCCL's `NCCL_ALGO` and its buffer
/// steps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CollectiveSpec {
    /// The algorithm of a collective whose call names none.
    pub algo: CollectiveAlgo,
    /// Largest slice a pipelined algorithm moves as one link transfer, bytes.
    pub slice_bytes: u64,
}

/// A collective algorithm, as named in configs and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectiveAlgo {
    /// The algorithm with the lowest predicted time for the call's size and group, by the cost
    /// model (like NCCL's tuner); `"auto"`.
    Auto,
    /// Ring: the members pass chunks to their successor, in pipelined slices; `"ring"`.
    Ring,
    /// Direct (one-shot): every member exchanges with every other at once; `"direct"`.
    Direct,
    /// Recursive halving-doubling, for groups whose size is a power of two;
    /// `"halving-doubling"` (or `"hd"`).
    HalvingDoubling,
    /// Double binary tree (all-reduce); `"tree"` (or `"double-binary-tree"`).
    Tree,
}

impl CollectiveAlgo {
    /// Every algorithm, in the order of the names' documentation.
    pub const ALL: [CollectiveAlgo; 5] = [
        CollectiveAlgo::Auto,
        CollectiveAlgo::Ring,
        CollectiveAlgo::Direct,
        CollectiveAlgo::HalvingDoubling,
        CollectiveAlgo::Tree,
    ];

    /// The algorithm's name, as configs and the command line write it.
    pub fn name(self) -> &'static str {
        match self {
            CollectiveAlgo::Auto => "auto",
            CollectiveAlgo::Ring => "ring",
            CollectiveAlgo::Direct => "direct",
            CollectiveAlgo::HalvingDoubling => "halving-doubling",
            CollectiveAlgo::Tree => "tree",
        }
    }
}

impl std::fmt::Display for CollectiveAlgo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CollectiveAlgo {
    type Err = String;

    /// Parses a name (`auto`, `ring`, `direct`, `halving-doubling` or `hd`, `tree` or
    /// `double-binary-tree`), ignoring ASCII case and accepting `_` for `-`.
    fn from_str(text: &str) -> Result<CollectiveAlgo, String> {
        let name = text.to_ascii_lowercase().replace('_', "-");
        Ok(match name.as_str() {
            "auto" => CollectiveAlgo::Auto,
            "ring" => CollectiveAlgo::Ring,
            "direct" | "one-shot" => CollectiveAlgo::Direct,
            "halving-doubling" | "hd" | "recursive-halving-doubling" => CollectiveAlgo::HalvingDoubling,
            "tree" | "double-binary-tree" | "dbt" => CollectiveAlgo::Tree,
            _ => {
                return Err(format!(
                    "unknown collective algorithm `{text}` (expected auto, ring, direct, halving-doubling or tree)"
                ));
            }
        })
    }
}

/// Every way loading or checking a machine config can fail. Each names the key (as a dotted
/// path such as `device.pes`) or the file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not valid TOML.
    #[error("invalid TOML in machine config{}: {message}", position_suffix(*position))]
    Syntax {
        /// 1-based line and column (in characters) of the error, when the parser gave one.
        position: Option<(usize, usize)>,
        /// The TOML parser's message.
        message: String,
    },
    /// A key that is not part of the machine config.
    #[error("unknown key `{key}` in machine config")]
    UnknownKey {
        /// The key's dotted path, e.g. `device.pe`.
        key: String,
    },
    /// A value of the wrong type or out of range.
    #[error("invalid machine config: {key} {reason} (got {value})")]
    InvalidValue {
        /// The key's dotted path.
        key: String,
        /// The value given, as written in TOML.
        value: String,
        /// What the value must be, e.g. "must be positive".
        reason: String,
    },
    /// A value that is valid alone but contradicts another key.
    #[error("invalid machine config: {key} {value} {reason}")]
    Inconsistent {
        /// The key's dotted path.
        key: String,
        /// The value given, as written in TOML.
        value: String,
        /// How it contradicts the other key, naming that key and its value.
        reason: String,
    },
    /// A key that must be given is absent.
    #[error("invalid machine config: {key} is missing ({reason})")]
    MissingKey {
        /// The key's dotted path.
        key: String,
        /// When the key is required.
        reason: String,
    },
    /// A config file could not be read.
    #[error("cannot read machine config {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A config file was read but its content is invalid.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        error: Box<ConfigError>,
    },
}

fn position_suffix(position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!(" at line {line}, column {column}"),
        None => String::new(),
    }
}

static DEFAULT_SPEC: LazyLock<MachineSpec> = LazyLock::new(|| {
    let spec = load::read_spec(load::default_table())
        .unwrap_or_else(|e| panic!("the embedded default_machine.toml is invalid: {e}"));
    spec.validate().unwrap_or_else(|e| panic!("the embedded default_machine.toml is invalid: {e}"));
    spec
});

impl Default for MachineSpec {
    /// The embedded default machine, parsed once per process.
    fn default() -> MachineSpec {
        DEFAULT_SPEC.clone()
    }
}

impl Default for DeviceSpec {
    /// The device of the embedded default machine.
    fn default() -> DeviceSpec {
        DEFAULT_SPEC.device
    }
}

impl Default for ClusterSpec {
    /// The cluster of the embedded default machine.
    fn default() -> ClusterSpec {
        DEFAULT_SPEC.cluster
    }
}

impl MachineSpec {
    /// Loads a machine config from TOML text: every key it sets replaces the default's, every
    /// key it leaves out keeps the default. The result is validated.
    pub fn from_toml_str(text: &str) -> Result<MachineSpec, ConfigError> {
        let user = text.parse::<toml::Table>().map_err(|e| load::syntax_error(text, &e))?;
        load::spec_from_user_table(user)
    }

    /// Loads a machine config file, as [`MachineSpec::from_toml_str`]. A content error is
    /// wrapped in [`ConfigError::InFile`] naming the file.
    pub fn from_file(path: &Path) -> Result<MachineSpec, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        MachineSpec::from_toml_str(&text)
            .map_err(|error| ConfigError::InFile { path: path.to_owned(), error: Box::new(error) })
    }

    /// The spec as a complete TOML document (every key, no comments) that
    /// [`MachineSpec::from_toml_str`] loads back to an equal spec.
    pub fn to_toml_string(&self) -> String {
        toml::to_string(&load::RawMachine::from(self.clone()))
            .unwrap_or_else(|e| unreachable!("a machine spec always serializes to TOML: {e}"))
    }

    /// Checks every value: counts, sizes and rates positive, fixed costs non-negative, all
    /// numbers finite, and the topology consistent with the number of ranks. Returns the first
    /// problem, in the order of the keys in `default_machine.toml`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.device.validate()?;
        self.cluster.validate()?;
        positive_int("collectives.slice_bytes", self.collectives.slice_bytes)
    }

    /// The directed links of the cluster, in the order of [`Topology`]'s documentation; a
    /// link's index in this list is its id.
    pub fn links(&self) -> Vec<Link> {
        self.cluster.links()
    }

    /// The ids (indices into [`MachineSpec::links`]) of the links a transfer from rank `from`
    /// to rank `to` crosses, in hop order; empty when `from == to`.
    pub fn route(&self, from: u32, to: u32) -> Result<Vec<usize>, RouteError> {
        self.cluster.route(from, to)
    }
}

impl FromStr for MachineSpec {
    type Err = ConfigError;

    /// Same as [`MachineSpec::from_toml_str`].
    fn from_str(text: &str) -> Result<MachineSpec, ConfigError> {
        MachineSpec::from_toml_str(text)
    }
}

impl DeviceSpec {
    /// Checks the device's values, as [`MachineSpec::validate`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive_int("device.pes", self.pes.into())?;
        positive_rate("device.clock_ghz", self.clock_ghz)?;
        positive_int("device.tcm_bytes", self.tcm_bytes)?;
        positive_int("device.hbm_bytes", self.hbm_bytes)?;
        positive_rate("device.hbm_gbps", self.hbm_gbps)?;
        positive_rate("device.dma_gbps", self.dma_gbps)?;
        fixed_cost("device.dma_setup_ns", self.dma_setup_ns)?;
        positive_rate("device.host_gbps", self.host_gbps)?;
        fixed_cost("device.gemm_issue_ns", self.gemm_issue_ns)?;
        positive_rate("device.vector_flops_per_cycle", self.vector_flops_per_cycle)?;
        let gemm = &self.gemm_flops_per_cycle;
        positive_rate("device.gemm_flops_per_cycle.f16", gemm.f16)?;
        positive_rate("device.gemm_flops_per_cycle.bf16", gemm.bf16)?;
        positive_rate("device.gemm_flops_per_cycle.f32", gemm.f32)
    }
}

impl ClusterSpec {
    /// Checks the cluster's values, as [`MachineSpec::validate`]: `ranks` positive, torus
    /// dimensions positive with a product of `ranks`, link rates positive and latency
    /// non-negative.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive_int("cluster.ranks", self.ranks.into())?;
        if let Topology::Torus2d { dims } = self.topology {
            let value = load::format_dims(dims);
            if dims.contains(&0) {
                return Err(ConfigError::InvalidValue {
                    key: "cluster.torus_dims".into(),
                    value,
                    reason: load::DIMS_REASON.into(),
                });
            }
            let positions = u64::from(dims[0]) * u64::from(dims[1]);
            if positions != u64::from(self.ranks) {
                return Err(ConfigError::Inconsistent {
                    key: "cluster.torus_dims".into(),
                    value,
                    reason: format!("has {positions} positions but cluster.ranks is {}", self.ranks),
                });
            }
        }
        positive_rate("cluster.link_gbps", self.link_gbps)?;
        fixed_cost("cluster.link_latency_ns", self.link_latency_ns)
    }
}

fn invalid(key: &str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::InvalidValue { key: key.into(), value: value.to_string(), reason: reason.into() }
}

fn positive_int(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 { Err(invalid(key, value, "must be positive")) } else { Ok(()) }
}

/// A rate or clock: finite and strictly positive.
fn positive_rate(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_infinite() {
        Err(invalid(key, value, "must be finite"))
    } else if value > 0.0 {
        Ok(())
    } else {
        Err(invalid(key, value, "must be positive"))
    }
}

/// A fixed cost: finite and not negative (zero models an ideal engine).
fn fixed_cost(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_infinite() {
        Err(invalid(key, value, "must be finite"))
    } else if value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(key, value, "must not be negative"))
    }
}

#[cfg(test)]
mod tests;
