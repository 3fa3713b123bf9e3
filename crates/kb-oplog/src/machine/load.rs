//! Reading a machine config: the user's TOML table is merged key by key over the default's,
//! then every value is read with its type and range checked; and writing a spec back as TOML.
//!
//! The reading is done by hand on [`toml::Table`] rather than by a serde derive, so that every
//! error names its key as a dotted path and says what the value must be.

use std::sync::LazyLock;

use toml::{Table, Value};

use super::size::{SIZE_SYNTAX_REASON, SizeOut, parse_size};
use super::{
    ClusterSpec, CollectiveSpec, ConfigError, DEFAULT_MACHINE_TOML, DeviceSpec, GemmRates, MachineSpec, Topology,
};

/// Why torus dimensions are rejected.
pub(super) const DIMS_REASON: &str = "must be two positive integers [x, y]";

/// Keys a user may set that the default leaves out.
const OPTIONAL_KEYS: [&str; 1] = ["cluster.torus_dims"];

/// The embedded default config as a TOML table, parsed once.
pub(super) fn default_table() -> &'static Table {
    static TABLE: LazyLock<Table> = LazyLock::new(|| {
        DEFAULT_MACHINE_TOML
            .parse()
            .unwrap_or_else(|e| panic!("the embedded default_machine.toml is not valid TOML: {e}"))
    });
    &TABLE
}

/// A [`ConfigError::Syntax`] with the 1-based line and column of the parser's error in `text`.
pub(super) fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let position = error.span().and_then(|span| text.get(..span.start)).map(|before| {
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
        (line, column)
    });
    ConfigError::Syntax { position, message: error.message().trim_end().to_owned() }
}

/// Merges `user` over the default, reads it and validates it.
pub(super) fn spec_from_user_table(user: Table) -> Result<MachineSpec, ConfigError> {
    let mut merged = default_table().clone();
    merge(&mut merged, user, "")?;
    let spec = read_spec(&merged)?;
    spec.validate()?;
    Ok(spec)
}

/// Puts every key of `user` into `base`, recursing where both hold a table. A key the default
/// does not have (and that is not in [`OPTIONAL_KEYS`]) is an unknown key.
fn merge(base: &mut Table, user: Table, prefix: &str) -> Result<(), ConfigError> {
    for (key, value) in user {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_sub)), Value::Table(user_sub)) => merge(base_sub, user_sub, &path)?,
            (Some(slot), value) => *slot = value,
            (None, value) if OPTIONAL_KEYS.contains(&path.as_str()) => {
                base.insert(key, value);
            }
            (None, _) => return Err(ConfigError::UnknownKey { key: path }),
        }
    }
    Ok(())
}

/// One table of the config being read, with its dotted path.
struct Reader<'a> {
    table: &'a Table,
    path: String,
}

impl<'a> Reader<'a> {
    fn key(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    fn invalid(&self, key: &str, value: &Value, reason: &str) -> ConfigError {
        ConfigError::InvalidValue { key: self.key(key), value: value.to_string(), reason: reason.to_owned() }
    }

    fn get(&self, key: &str) -> Result<&'a Value, ConfigError> {
        self.table.get(key).ok_or_else(|| ConfigError::MissingKey { key: self.key(key), reason: "required".into() })
    }

    fn table(&self, key: &str) -> Result<Reader<'a>, ConfigError> {
        match self.get(key)? {
            Value::Table(table) => Ok(Reader { table, path: self.key(key) }),
            other => Err(self.invalid(key, other, "must be a table")),
        }
    }

    fn u32(&self, key: &str) -> Result<u32, ConfigError> {
        match self.get(key)? {
            &Value::Integer(int) => u32::try_from(int).map_err(|_| {
                let reason =
                    if int < 0 { "must be positive".to_owned() } else { format!("must be at most {}", u32::MAX) };
                self.invalid(key, &Value::Integer(int), &reason)
            }),
            other => Err(self.invalid(key, other, "must be an integer")),
        }
    }

    fn number(&self, key: &str) -> Result<f64, ConfigError> {
        match self.get(key)? {
            &Value::Float(float) => Ok(float),
            // `1600` means 1600.0; integers above 2^53 round to the nearest f64.
            &Value::Integer(int) => Ok(int as f64),
            other => Err(self.invalid(key, other, "must be a number")),
        }
    }

    fn size(&self, key: &str) -> Result<u64, ConfigError> {
        match self.get(key)? {
            &Value::Integer(int) => {
                u64::try_from(int).map_err(|_| self.invalid(key, &Value::Integer(int), "must be positive"))
            }
            value @ Value::String(text) => parse_size(text).map_err(|reason| self.invalid(key, value, &reason)),
            other => Err(self.invalid(key, other, SIZE_SYNTAX_REASON)),
        }
    }

    fn string(&self, key: &str) -> Result<&'a str, ConfigError> {
        match self.get(key)? {
            Value::String(text) => Ok(text),
            other => Err(self.invalid(key, other, "must be a string")),
        }
    }

    fn dims(&self, key: &str) -> Result<[u32; 2], ConfigError> {
        let value = self.get(key)?;
        let dim = |v: &Value| v.as_integer().and_then(|int| u32::try_from(int).ok());
        match value.as_array().map(Vec::as_slice) {
            Some([x, y]) => dim(x).zip(dim(y)).map(|(x, y)| [x, y]),
            _ => None,
        }
        .ok_or_else(|| self.invalid(key, value, DIMS_REASON))
    }
}

/// Reads a complete config table (the merged one) into a spec, checking types and ranges; the
/// remaining checks are [`MachineSpec::validate`]'s.
pub(super) fn read_spec(table: &Table) -> Result<MachineSpec, ConfigError> {
    let root = Reader { table, path: String::new() };
    let d = root.table("device")?;
    let device = DeviceSpec {
        pes: d.u32("pes")?,
        clock_ghz: d.number("clock_ghz")?,
        tcm_bytes: d.size("tcm_bytes")?,
        hbm_bytes: d.size("hbm_bytes")?,
        hbm_gbps: d.number("hbm_gbps")?,
        dma_gbps: d.number("dma_gbps")?,
        dma_setup_ns: d.number("dma_setup_ns")?,
        host_gbps: d.number("host_gbps")?,
        gemm_issue_ns: d.number("gemm_issue_ns")?,
        vector_flops_per_cycle: d.number("vector_flops_per_cycle")?,
        gemm_flops_per_cycle: {
            let g = d.table("gemm_flops_per_cycle")?;
            GemmRates { f16: g.number("f16")?, bf16: g.number("bf16")?, f32: g.number("f32")? }
        },
    };
    let c = root.table("cluster")?;
    let ranks = c.u32("ranks")?;
    let topology = match c.string("topology")? {
        "ring" => Topology::Ring,
        "switch" => Topology::Switch,
        "torus2d" => match c.table.get("torus_dims") {
            Some(_) => Topology::Torus2d { dims: c.dims("torus_dims")? },
            None => {
                return Err(ConfigError::MissingKey {
                    key: "cluster.torus_dims".into(),
                    reason: "required when cluster.topology is \"torus2d\"".into(),
                });
            }
        },
        _ => {
            let value = c.get("topology")?;
            return Err(c.invalid("topology", value, "must be one of \"ring\", \"switch\", \"torus2d\""));
        }
    };
    if let (Some(dims), Topology::Ring | Topology::Switch) = (c.table.get("torus_dims"), topology) {
        return Err(ConfigError::Inconsistent {
            key: "cluster.torus_dims".into(),
            value: dims.to_string(),
            reason: format!("is set but cluster.topology is \"{}\", not \"torus2d\"", topology.name()),
        });
    }
    let cluster = ClusterSpec {
        ranks,
        topology,
        link_gbps: c.number("link_gbps")?,
        link_latency_ns: c.number("link_latency_ns")?,
    };
    let k = root.table("collectives")?;
    let algo = k.string("algo")?;
    let collectives = CollectiveSpec {
        algo: algo.parse().map_err(|_| {
            k.invalid(
                "algo",
                &Value::String(algo.into()),
                "must be one of \"auto\", \"ring\", \"direct\", \"halving-doubling\", \"tree\"",
            )
        })?,
        slice_bytes: k.size("slice_bytes")?,
    };
    Ok(MachineSpec { device, cluster, collectives })
}

/// Torus dimensions as written in TOML and in messages: `[2, 3]`.
pub(super) fn format_dims([x, y]: [u32; 2]) -> String {
    format!("[{x}, {y}]")
}

/// What [`MachineSpec`] deserializes from: any table, merged over the default.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub(super) struct UserTable(Table);

impl TryFrom<UserTable> for MachineSpec {
    type Error = ConfigError;

    fn try_from(user: UserTable) -> Result<MachineSpec, ConfigError> {
        spec_from_user_table(user.0)
    }
}

/// What [`MachineSpec`] serializes as: every key, in the order of `default_machine.toml`.
#[derive(Debug, serde::Serialize)]
pub(super) struct RawMachine {
    device: RawDevice,
    cluster: RawCluster,
    collectives: RawCollectives,
}

#[derive(Debug, serde::Serialize)]
struct RawCollectives {
    algo: &'static str,
    slice_bytes: SizeOut,
}

#[derive(Debug, serde::Serialize)]
struct RawDevice {
    pes: u32,
    clock_ghz: f64,
    tcm_bytes: SizeOut,
    hbm_bytes: SizeOut,
    hbm_gbps: f64,
    dma_gbps: f64,
    dma_setup_ns: f64,
    host_gbps: f64,
    gemm_issue_ns: f64,
    vector_flops_per_cycle: f64,
    gemm_flops_per_cycle: RawGemm,
}

#[derive(Debug, serde::Serialize)]
struct RawGemm {
    f16: f64,
    bf16: f64,
    f32: f64,
}

#[derive(Debug, serde::Serialize)]
struct RawCluster {
    ranks: u32,
    topology: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    torus_dims: Option<[u32; 2]>,
    link_gbps: f64,
    link_latency_ns: f64,
}

impl From<MachineSpec> for RawMachine {
    fn from(spec: MachineSpec) -> RawMachine {
        let MachineSpec { device: d, cluster: c, collectives: k } = spec;
        let g = d.gemm_flops_per_cycle;
        RawMachine {
            device: RawDevice {
                pes: d.pes,
                clock_ghz: d.clock_ghz,
                tcm_bytes: SizeOut::new(d.tcm_bytes),
                hbm_bytes: SizeOut::new(d.hbm_bytes),
                hbm_gbps: d.hbm_gbps,
                dma_gbps: d.dma_gbps,
                dma_setup_ns: d.dma_setup_ns,
                host_gbps: d.host_gbps,
                gemm_issue_ns: d.gemm_issue_ns,
                vector_flops_per_cycle: d.vector_flops_per_cycle,
                gemm_flops_per_cycle: RawGemm { f16: g.f16, bf16: g.bf16, f32: g.f32 },
            },
            cluster: RawCluster {
                ranks: c.ranks,
                topology: c.topology.name(),
                torus_dims: match c.topology {
                    Topology::Torus2d { dims } => Some(dims),
                    Topology::Ring | Topology::Switch => None,
                },
                link_gbps: c.link_gbps,
                link_latency_ns: c.link_latency_ns,
            },
            collectives: RawCollectives { algo: k.algo.name(), slice_bytes: SizeOut::new(k.slice_bytes) },
        }
    }
}
