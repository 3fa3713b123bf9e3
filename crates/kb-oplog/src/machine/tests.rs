use std::collections::{HashSet, VecDeque};

use kb_mem::DType;
use proptest::prelude::*;

use super::size::{SizeOut, parse_size};
use super::*;

/// The default machine, written out field by field from `default_machine.toml`.
fn expected_default() -> MachineSpec {
    MachineSpec {
        device: DeviceSpec {
            pes: 8,
            clock_ghz: 1.5,
            tcm_bytes: 1 << 20,
            hbm_bytes: 16 << 30,
            hbm_gbps: 1600.0,
            dma_gbps: 200.0,
            dma_setup_ns: 100.0,
            host_gbps: 64.0,
            gemm_flops_per_cycle: GemmRates { f16: 2048.0, bf16: 2048.0, f32: 512.0 },
            gemm_issue_ns: 20.0,
            vector_flops_per_cycle: 128.0,
        },
        cluster: ClusterSpec { ranks: 8, topology: Topology::Ring, link_gbps: 100.0, link_latency_ns: 500.0 },
        collectives: CollectiveSpec { algo: CollectiveAlgo::Ring, slice_bytes: 512 << 10 },
    }
}

fn cluster(ranks: u32, topology: Topology) -> ClusterSpec {
    ClusterSpec { ranks, topology, ..ClusterSpec::default() }
}

fn err(text: &str) -> String {
    MachineSpec::from_toml_str(text).unwrap_err().to_string()
}

#[test]
fn default_loads_and_validates() {
    let spec = MachineSpec::default();
    assert_eq!(spec, expected_default());
    spec.validate().unwrap();
    assert_eq!(MachineSpec::from_toml_str(DEFAULT_MACHINE_TOML).unwrap(), spec);
    assert_eq!(MachineSpec::from_toml_str("").unwrap(), spec);
    assert_eq!(DeviceSpec::default(), spec.device);
    assert_eq!(ClusterSpec::default(), spec.cluster);
}

#[test]
fn every_default_key_is_documented_with_a_comment() {
    // Each `key = value` line follows a comment, directly or through a table header.
    let lines: Vec<&str> = DEFAULT_MACHINE_TOML.lines().map(str::trim).collect();
    let mut keys = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" = ") && !line.starts_with('#') {
            keys += 1;
            let above = lines[..i].iter().rev().find(|l| !l.contains(" = ") && !l.starts_with('['));
            assert!(above.is_some_and(|l| l.starts_with('#')), "undocumented key: {line}");
        }
    }
    assert_eq!(keys, 19);
}

#[test]
fn default_is_written_in_the_default_file_order() {
    assert_eq!(
        MachineSpec::default().to_toml_string(),
        r#"[device]
pes = 8
clock_ghz = 1.5
tcm_bytes = "1MiB"
hbm_bytes = "16GiB"
hbm_gbps = 1600.0
dma_gbps = 200.0
dma_setup_ns = 100.0
host_gbps = 64.0
gemm_issue_ns = 20.0
vector_flops_per_cycle = 128.0

[device.gemm_flops_per_cycle]
f16 = 2048.0
bf16 = 2048.0
f32 = 512.0

[cluster]
ranks = 8
topology = "ring"
link_gbps = 100.0
link_latency_ns = 500.0

[collectives]
algo = "ring"
slice_bytes = "512KiB"
"#
    );
}

#[test]
fn round_trip_is_identical() {
    let mut specs = vec![MachineSpec::default()];
    let mut odd = MachineSpec::default();
    odd.device.pes = u32::MAX;
    odd.device.clock_ghz = 0.1 + 0.2;
    odd.device.tcm_bytes = 1536;
    odd.device.hbm_bytes = u64::MAX;
    odd.device.dma_setup_ns = 0.0;
    odd.device.gemm_flops_per_cycle.f32 = 1e-3;
    odd.device.vector_flops_per_cycle = 1e300;
    odd.cluster = ClusterSpec { ranks: 12, topology: Topology::Torus2d { dims: [3, 4] }, ..odd.cluster };
    specs.push(odd.clone());
    odd.device.hbm_bytes = 3 << 40;
    odd.device.tcm_bytes = 1;
    odd.cluster.topology = Topology::Switch;
    specs.push(odd);
    for spec in specs {
        let text = spec.to_toml_string();
        assert_eq!(MachineSpec::from_toml_str(&text).unwrap(), spec, "{text}");
        // Through serde, too.
        assert_eq!(toml::to_string(&spec).unwrap(), text);
        assert_eq!(toml::from_str::<MachineSpec>(&text).unwrap(), spec);
    }
}

#[test]
fn serde_deserialize_merges_and_validates() {
    let spec: MachineSpec = toml::from_str("[device]\nhbm_bytes = \"80GB\"").unwrap();
    assert_eq!(spec.device.hbm_bytes, 80_000_000_000);
    assert_eq!(spec.cluster, ClusterSpec::default());
    let e = toml::from_str::<MachineSpec>("[cluster]\nranks = 0").unwrap_err();
    assert_eq!(e.message(), "invalid machine config: cluster.ranks must be positive (got 0)");
}

#[test]
fn partial_files_take_the_default_for_the_rest() {
    let spec = MachineSpec::from_toml_str("[cluster]\nranks = 16").unwrap();
    let mut expected = expected_default();
    expected.cluster.ranks = 16;
    assert_eq!(spec, expected);

    let spec: MachineSpec = "[device.gemm_flops_per_cycle]\nf32 = 256\n[device]\nhbm_gbps = 3200".parse().unwrap();
    let mut expected = expected_default();
    expected.device.gemm_flops_per_cycle.f32 = 256.0;
    expected.device.hbm_gbps = 3200.0;
    assert_eq!(spec, expected);

    let spec = MachineSpec::from_toml_str("cluster.topology = \"torus2d\"\ncluster.torus_dims = [4, 2]").unwrap();
    assert_eq!(spec.cluster.topology, Topology::Torus2d { dims: [4, 2] });
    assert_eq!(spec.device, expected_default().device);
}

#[test]
fn unknown_keys_are_named_by_path() {
    assert_eq!(err("[device]\npe = 8"), "unknown key `device.pe` in machine config");
    assert_eq!(
        err("[device.gemm_flops_per_cycle]\nf64 = 1"),
        "unknown key `device.gemm_flops_per_cycle.f64` in machine config"
    );
    assert_eq!(err("[devices]\npes = 8"), "unknown key `devices` in machine config");
    assert_eq!(err("ranks = 8"), "unknown key `ranks` in machine config");
    assert_eq!(err("[cluster]\ntorus_dim = [2, 4]"), "unknown key `cluster.torus_dim` in machine config");
    assert!(matches!(
        MachineSpec::from_toml_str("[device]\npe = 8"),
        Err(ConfigError::UnknownKey { key }) if key == "device.pe"
    ));
}

#[test]
fn out_of_range_values_name_the_key() {
    let cases = [
        ("[device]\npes = 0", "invalid machine config: device.pes must be positive (got 0)"),
        ("[device]\npes = -1", "invalid machine config: device.pes must be positive (got -1)"),
        (
            "[device]\npes = 5000000000",
            "invalid machine config: device.pes must be at most 4294967295 (got 5000000000)",
        ),
        ("[device]\nclock_ghz = 0", "invalid machine config: device.clock_ghz must be positive (got 0)"),
        ("[device]\nclock_ghz = nan", "invalid machine config: device.clock_ghz must be positive (got NaN)"),
        ("[device]\nclock_ghz = inf", "invalid machine config: device.clock_ghz must be finite (got inf)"),
        ("[device]\ntcm_bytes = 0", "invalid machine config: device.tcm_bytes must be positive (got 0)"),
        ("[device]\ntcm_bytes = \"0KiB\"", "invalid machine config: device.tcm_bytes must be positive (got 0)"),
        ("[device]\nhbm_bytes = -5", "invalid machine config: device.hbm_bytes must be positive (got -5)"),
        ("[device]\nhbm_gbps = -1", "invalid machine config: device.hbm_gbps must be positive (got -1)"),
        ("[device]\ndma_gbps = -0.5", "invalid machine config: device.dma_gbps must be positive (got -0.5)"),
        ("[device]\ndma_setup_ns = -1", "invalid machine config: device.dma_setup_ns must not be negative (got -1)"),
        (
            "[device]\ngemm_issue_ns = nan",
            "invalid machine config: device.gemm_issue_ns must not be negative (got NaN)",
        ),
        ("[device]\nhost_gbps = 0.0", "invalid machine config: device.host_gbps must be positive (got 0)"),
        (
            "[device]\nvector_flops_per_cycle = -inf",
            "invalid machine config: device.vector_flops_per_cycle must be finite (got -inf)",
        ),
        (
            "[device.gemm_flops_per_cycle]\nbf16 = 0",
            "invalid machine config: device.gemm_flops_per_cycle.bf16 must be positive (got 0)",
        ),
        ("[cluster]\nranks = 0", "invalid machine config: cluster.ranks must be positive (got 0)"),
        ("[cluster]\nlink_gbps = 0", "invalid machine config: cluster.link_gbps must be positive (got 0)"),
        (
            "[cluster]\nlink_latency_ns = -500",
            "invalid machine config: cluster.link_latency_ns must not be negative (got -500)",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(err(text), message, "{text}");
    }
    // Zero fixed costs model ideal engines and links.
    let spec =
        MachineSpec::from_toml_str("[device]\ndma_setup_ns = 0\ngemm_issue_ns = 0\n[cluster]\nlink_latency_ns = 0")
            .unwrap();
    assert_eq!((spec.device.dma_setup_ns, spec.device.gemm_issue_ns, spec.cluster.link_latency_ns), (0.0, 0.0, 0.0));
}

#[test]
fn values_of_the_wrong_type_name_the_key() {
    let cases = [
        ("[device]\npes = \"8\"", "invalid machine config: device.pes must be an integer (got \"8\")"),
        ("[device]\npes = 8.0", "invalid machine config: device.pes must be an integer (got 8.0)"),
        ("[device]\nclock_ghz = \"fast\"", "invalid machine config: device.clock_ghz must be a number (got \"fast\")"),
        ("device = 3", "invalid machine config: device must be a table (got 3)"),
        (
            "[device]\ngemm_flops_per_cycle = 2048",
            "invalid machine config: device.gemm_flops_per_cycle must be a table (got 2048)",
        ),
        ("[device.pes]\nx = 1", "invalid machine config: device.pes must be an integer (got { x = 1 })"),
        ("[cluster]\ntopology = 3", "invalid machine config: cluster.topology must be a string (got 3)"),
        (
            "[cluster]\ntopology = \"mesh\"",
            "invalid machine config: cluster.topology must be one of \"ring\", \"switch\", \"torus2d\" (got \"mesh\")",
        ),
        (
            "[device]\ntcm_bytes = true",
            "invalid machine config: device.tcm_bytes must be a byte count: an integer or a string like \"16GiB\" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB) (got true)",
        ),
        (
            "[device]\ntcm_bytes = \"1 mib\"",
            "invalid machine config: device.tcm_bytes must be a byte count: an integer or a string like \"16GiB\" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB) (got \"1 mib\")",
        ),
        (
            "[device]\ntcm_bytes = \"1.5B\"",
            "invalid machine config: device.tcm_bytes must be a whole number of bytes (got \"1.5B\")",
        ),
        (
            "[device]\nhbm_bytes = \"16777216TiB\"",
            "invalid machine config: device.hbm_bytes must be at most 18446744073709551615 bytes (got \"16777216TiB\")",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(err(text), message, "{text}");
    }
}

#[test]
fn torus_dims_are_checked_against_ranks_and_topology() {
    let torus = "[cluster]\ntopology = \"torus2d\"\n";
    let cases = [
        (
            format!("{torus}torus_dims = [2, 3]"),
            "invalid machine config: cluster.torus_dims [2, 3] has 6 positions but cluster.ranks is 8",
        ),
        (
            format!("{torus}ranks = 0\ntorus_dims = [0, 4]"),
            "invalid machine config: cluster.ranks must be positive (got 0)",
        ),
        (
            format!("{torus}torus_dims = [0, 4]"),
            "invalid machine config: cluster.torus_dims must be two positive integers [x, y] (got [0, 4])",
        ),
        (
            format!("{torus}torus_dims = [-2, -4]"),
            "invalid machine config: cluster.torus_dims must be two positive integers [x, y] (got [-2, -4])",
        ),
        (
            format!("{torus}torus_dims = [2, 2, 2]"),
            "invalid machine config: cluster.torus_dims must be two positive integers [x, y] (got [2, 2, 2])",
        ),
        (
            format!("{torus}torus_dims = \"2x4\""),
            "invalid machine config: cluster.torus_dims must be two positive integers [x, y] (got \"2x4\")",
        ),
        (
            torus.to_owned(),
            "invalid machine config: cluster.torus_dims is missing (required when cluster.topology is \"torus2d\")",
        ),
        (
            "[cluster]\ntorus_dims = [2, 4]".to_owned(),
            "invalid machine config: cluster.torus_dims [2, 4] is set but cluster.topology is \"ring\", not \"torus2d\"",
        ),
        (
            "[cluster]\ntopology = \"switch\"\ntorus_dims = [2, 4]".to_owned(),
            "invalid machine config: cluster.torus_dims [2, 4] is set but cluster.topology is \"switch\", not \"torus2d\"",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(err(&text), message, "{text}");
    }
    let spec = MachineSpec::from_toml_str(&format!("{torus}ranks = 6\ntorus_dims = [2, 3]")).unwrap();
    assert_eq!(spec.cluster.topology, Topology::Torus2d { dims: [2, 3] });
}

#[test]
fn syntax_errors_give_line_and_column() {
    assert_eq!(
        err("[device]\npes = \n"),
        "invalid TOML in machine config at line 2, column 7: string values must be quoted, expected literal string"
    );
    assert_eq!(
        err("[device]\npes = 1\npes = 2\n"),
        "invalid TOML in machine config at line 3, column 1: duplicate key"
    );
    // Columns count characters, not bytes.
    assert_eq!(
        err("x = \"\u{e9}\u{e9}\" y\n"),
        "invalid TOML in machine config at line 1, column 10: unexpected key or value, expected newline, `#`"
    );
    assert!(matches!(MachineSpec::from_toml_str("[device"), Err(ConfigError::Syntax { position: Some((1, 8)), .. })));
}

#[test]
fn hand_edited_specs_are_validated() {
    let mut spec = MachineSpec::default();
    spec.device.host_gbps = f64::NAN;
    assert_eq!(
        spec.validate().unwrap_err().to_string(),
        "invalid machine config: device.host_gbps must be positive (got NaN)"
    );
    let mut spec = MachineSpec::default();
    spec.cluster.topology = Topology::Torus2d { dims: [u32::MAX, u32::MAX] };
    assert_eq!(
        spec.validate().unwrap_err().to_string(),
        "invalid machine config: cluster.torus_dims [4294967295, 4294967295] has 18446744065119617025 positions but cluster.ranks is 8"
    );
    spec.cluster.topology = Topology::Torus2d { dims: [8, 0] };
    assert_eq!(
        spec.validate().unwrap_err().to_string(),
        "invalid machine config: cluster.torus_dims must be two positive integers [x, y] (got [8, 0])"
    );
}

#[test]
fn files_are_read_and_named_in_errors() {
    let dir = std::env::temp_dir().join(format!("kb-oplog-machine-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, "[cluster]\nranks = 4\n").unwrap();
    assert_eq!(MachineSpec::from_file(&good).unwrap().cluster.ranks, 4);

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[device]\npes = 0\n").unwrap();
    let e = MachineSpec::from_file(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: invalid machine config: device.pes must be positive (got 0)", bad.display())
    );
    assert!(matches!(&e, ConfigError::InFile { error, .. } if matches!(**error, ConfigError::InvalidValue { .. })));

    let missing = dir.join("missing.toml");
    let e = MachineSpec::from_file(&missing).unwrap_err();
    assert_eq!(e.to_string(), format!("cannot read machine config {}", missing.display()));
    let source = std::error::Error::source(&e).unwrap().downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_parse_with_binary_and_decimal_units() {
    let good: [(&str, u64); 17] = [
        ("1MiB", 1 << 20),
        ("16GiB", 16 << 30),
        ("512KiB", 512 << 10),
        ("3TiB", 3 << 40),
        ("1.5GiB", 1_610_612_736),
        ("0.5KiB", 512),
        ("1.000000000000000000000000000000000000000000MiB", 1 << 20),
        ("1 MiB", 1 << 20),
        (" 2 KiB ", 2048),
        ("500MB", 500_000_000),
        ("1.25KB", 1250),
        ("80GB", 80_000_000_000),
        ("2TB", 2_000_000_000_000),
        ("10B", 10),
        ("1024", 1024),
        ("0", 0),
        ("18446744073709551615B", u64::MAX),
    ];
    for (text, bytes) in good {
        assert_eq!(parse_size(text), Ok(bytes), "{text}");
    }
    let syntax = size::SIZE_SYNTAX_REASON;
    let whole = "must be a whole number of bytes";
    let large = "must be at most 18446744073709551615 bytes";
    let bad = [
        ("", syntax),
        ("MiB", syntax),
        ("1.", syntax),
        (".5KiB", syntax),
        ("1.2.3KiB", syntax),
        ("1e3", syntax),
        ("-1KiB", syntax),
        ("1 mib", syntax),
        ("1MiBs", syntax),
        ("1 K iB", syntax),
        ("1.5B", whole),
        ("0.3KiB", whole),
        ("1.0000001KB", whole),
        ("18446744073709551616", large),
        ("16777216TiB", large),
        ("99999999999999999999999999999999999999999TB", large),
    ];
    for (text, reason) in bad {
        assert_eq!(parse_size(text), Err(reason.to_owned()), "{text}");
    }
}

#[test]
fn sizes_are_written_in_the_largest_exact_binary_unit() {
    let written = |bytes| match SizeOut::new(bytes) {
        SizeOut::Int(int) => int.to_string(),
        SizeOut::Text(text) => format!("{text:?}"),
    };
    assert_eq!(written(1 << 20), "\"1MiB\"");
    assert_eq!(written(16 << 30), "\"16GiB\"");
    assert_eq!(written(1536 << 30), "\"1536GiB\"");
    assert_eq!(written(1 << 50), "\"1024TiB\"");
    assert_eq!(written(3072), "\"3KiB\"");
    assert_eq!(written(1536), "1536");
    assert_eq!(written(1000), "1000");
    assert_eq!(written(0), "0");
    assert_eq!(written(u64::MAX), "\"18446744073709551615B\"");
    assert_eq!(written(i64::MAX as u64), "9223372036854775807");
}

proptest! {
    #[test]
    fn written_sizes_parse_back(bytes in any::<u64>(), shift in 0u32..64) {
        for bytes in [bytes, bytes >> shift << shift] {
            let text = match SizeOut::new(bytes) {
                SizeOut::Int(int) => int.to_string(),
                SizeOut::Text(text) => text,
            };
            prop_assert_eq!(parse_size(&text), Ok(bytes));
        }
    }
}

#[test]
fn gemm_rates_cover_the_float_dtypes() {
    let rates = GemmRates { f16: 1.0, bf16: 2.0, f32: 3.0 };
    let got: Vec<_> = DType::ALL.into_iter().map(|d| rates.get(d)).collect();
    assert_eq!(got, [Some(1.0), Some(2.0), Some(3.0), None, None, None, None, None]);
}

fn device(rank: u32) -> Endpoint {
    Endpoint::Device(rank)
}

fn link(from: Endpoint, to: Endpoint) -> Link {
    Link { from, to }
}

#[test]
fn ring_links_go_forward_then_backward() {
    let ring = |n| cluster(n, Topology::Ring);
    assert_eq!(ring(1).links(), []);
    assert_eq!(ring(2).links(), [link(device(0), device(1)), link(device(1), device(0))]);
    assert_eq!(
        ring(3).links(),
        [
            link(device(0), device(1)),
            link(device(0), device(2)),
            link(device(1), device(2)),
            link(device(1), device(0)),
            link(device(2), device(0)),
            link(device(2), device(1)),
        ]
    );
    let links = ring(8).links();
    assert_eq!((links.len(), ring(8).link_count()), (16, 16));
    assert_eq!(links[14], link(device(7), device(0)));
    assert_eq!(links[1], link(device(0), device(7)));
}

#[test]
fn ring_routes_take_the_shorter_way_and_ties_go_forward() {
    let spec = MachineSpec::default();
    assert_eq!(spec.route(0, 3).unwrap(), [0, 2, 4]);
    assert_eq!(spec.route(0, 4).unwrap(), [0, 2, 4, 6]);
    assert_eq!(spec.route(0, 5).unwrap(), [1, 15, 13]);
    assert_eq!(spec.route(6, 1).unwrap(), [12, 14, 0]);
    assert_eq!(spec.route(3, 3).unwrap(), Vec::<usize>::new());
    let two = cluster(2, Topology::Ring);
    assert_eq!((two.route(0, 1).unwrap(), two.route(1, 0).unwrap()), (vec![0], vec![1]));
    assert_eq!(cluster(1, Topology::Ring).route(0, 0).unwrap(), Vec::<usize>::new());
}

#[test]
fn switch_links_go_up_then_down() {
    let switch = cluster(3, Topology::Switch);
    assert_eq!(
        switch.links(),
        [
            link(device(0), Endpoint::Switch),
            link(Endpoint::Switch, device(0)),
            link(device(1), Endpoint::Switch),
            link(Endpoint::Switch, device(1)),
            link(device(2), Endpoint::Switch),
            link(Endpoint::Switch, device(2)),
        ]
    );
    assert_eq!(switch.route(0, 2).unwrap(), [0, 5]);
    assert_eq!(switch.route(2, 1).unwrap(), [4, 3]);
    assert_eq!(switch.route(1, 1).unwrap(), Vec::<usize>::new());
}

#[test]
fn torus_links_and_dimension_ordered_routes() {
    let torus = cluster(16, Topology::Torus2d { dims: [4, 4] });
    let links = torus.links();
    assert_eq!(links.len(), 64);
    assert_eq!(
        links[..4],
        [
            link(device(0), device(1)),
            link(device(0), device(3)),
            link(device(0), device(4)),
            link(device(0), device(12))
        ]
    );
    // 10 = (2, 2): two hops forward along x, then two forward along y.
    assert_eq!(torus.route(0, 10).unwrap(), [0, 4, 10, 26]);
    // 15 = (3, 3): one hop backward along x, then one backward along y.
    assert_eq!(torus.route(0, 15).unwrap(), [1, 15]);
    assert_eq!(links[15], link(device(3), device(15)));

    // Size 2 along x: one x link per node; size 3 along y: two.
    let small = cluster(6, Topology::Torus2d { dims: [2, 3] });
    assert_eq!(
        small.links()[..3],
        [link(device(0), device(1)), link(device(0), device(2)), link(device(0), device(4))]
    );
    // 5 = (1, 2) to (0, 0): forward along x (wrapping), then forward along y (wrapping).
    assert_eq!(small.route(5, 0).unwrap(), [15, 13]);
    // Size 1 along x: a ring along y.
    let column = cluster(3, Topology::Torus2d { dims: [1, 3] });
    assert_eq!(column.links(), cluster(3, Topology::Ring).links());
}

#[test]
fn route_errors_name_the_rank_and_the_count() {
    let spec = MachineSpec::default();
    assert_eq!(
        spec.route(0, 8).unwrap_err().to_string(),
        "no route from rank 0 to rank 8: rank 8 is out of range for a cluster of 8 ranks"
    );
    assert_eq!(
        spec.route(9, 8).unwrap_err().to_string(),
        "no route from rank 9 to rank 8: rank 9 is out of range for a cluster of 8 ranks"
    );
    let bad = cluster(8, Topology::Torus2d { dims: [2, 3] });
    let e = bad.route(0, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid machine config: cluster.torus_dims [2, 3] has 6 positions but cluster.ranks is 8"
    );
    assert!(matches!(e, RouteError::Config(ConfigError::Inconsistent { .. })));
    assert_eq!((bad.links(), bad.link_count()), (vec![], 0));
}

/// Hop counts from `from` to every device, by breadth-first search over `links` alone.
fn bfs_hops(links: &[Link], ranks: u32, from: u32) -> Vec<Option<usize>> {
    let mut hops = vec![None; ranks as usize + 1]; // the last slot is the switch
    let slot = |e: Endpoint| match e {
        Endpoint::Device(r) => r as usize,
        Endpoint::Switch => ranks as usize,
    };
    hops[from as usize] = Some(0);
    let mut queue = VecDeque::from([device(from)]);
    while let Some(at) = queue.pop_front() {
        let d = hops[slot(at)].unwrap();
        for l in links.iter().filter(|l| l.from == at) {
            if hops[slot(l.to)].is_none() {
                hops[slot(l.to)] = Some(d + 1);
                queue.push_back(l.to);
            }
        }
    }
    hops.truncate(ranks as usize);
    hops
}

/// Checks the links and every listed route of `cluster` against each other and against a
/// breadth-first search.
fn check_cluster(cluster: &ClusterSpec, pairs: impl Iterator<Item = (u32, u32)>) {
    let links = cluster.links();
    assert_eq!(links.len(), cluster.link_count());
    assert!(links.iter().all(|l| l.from != l.to), "self-link in {links:?}");
    assert_eq!(links.iter().collect::<HashSet<_>>().len(), links.len(), "duplicate link in {links:?}");
    let mut hop_table = vec![None; cluster.ranks as usize];
    for (from, to) in pairs {
        let expected =
            hop_table[from as usize].get_or_insert_with(|| bfs_hops(&links, cluster.ranks, from))[to as usize];
        let route = cluster.route(from, to).unwrap();
        let path: Vec<Link> = route.iter().map(|&id| links[id]).collect();
        let mut at = device(from);
        for l in &path {
            assert_eq!(l.from, at, "{cluster:?} {from}->{to}: {path:?}");
            at = l.to;
        }
        assert_eq!(at, device(to), "{cluster:?} {from}->{to}: {path:?}");
        assert_eq!(route.iter().collect::<HashSet<_>>().len(), route.len());
        // Dimension-ordered routing is shortest on a torus; through a switch it is two hops.
        assert_eq!(Some(route.len()), expected, "{cluster:?} {from}->{to}");
    }
}

#[test]
fn every_route_of_small_clusters_is_contiguous_and_shortest() {
    let mut clusters = Vec::new();
    for n in 1..=9 {
        clusters.push(cluster(n, Topology::Ring));
        clusters.push(cluster(n, Topology::Switch));
    }
    for x in 1..=5 {
        for y in 1..=5 {
            clusters.push(cluster(x * y, Topology::Torus2d { dims: [x, y] }));
        }
    }
    for c in &clusters {
        let n = c.ranks;
        check_cluster(c, (0..n).flat_map(|a| (0..n).map(move |b| (a, b))));
    }
}

fn any_cluster() -> impl Strategy<Value = ClusterSpec> {
    prop_oneof![
        (1u32..=64).prop_map(|n| cluster(n, Topology::Ring)),
        (1u32..=64).prop_map(|n| cluster(n, Topology::Switch)),
        (1u32..=12, 1u32..=12).prop_map(|(x, y)| cluster(x * y, Topology::Torus2d { dims: [x, y] })),
    ]
}

proptest! {
    #[test]
    fn random_routes_are_contiguous_and_shortest(
        c in any_cluster(),
        pairs in proptest::collection::vec((any::<u32>(), any::<u32>()), 1..8),
    ) {
        let n = c.ranks;
        check_cluster(&c, pairs.into_iter().map(|(a, b)| (a % n, b % n)));
    }

    #[test]
    fn ring_routes_tie_forward(n in 1u32..=64, from in any::<u32>(), to in any::<u32>()) {
        let (from, to) = (from % n, to % n);
        let ring = cluster(n, Topology::Ring);
        let ahead = (to + n - from) % n;
        let route = ring.route(from, to).unwrap();
        let links = ring.links();
        prop_assert_eq!(route.len() as u32, ahead.min(n - ahead));
        if ahead != 0 && ahead <= n - ahead {
            prop_assert_eq!(links[route[0]].to, device((from + 1) % n));
        }
    }
}

#[test]
fn collectives_table_loads_names_and_rejects_unknown_algorithms() {
    let spec = MachineSpec::from_toml_str("[collectives]\nalgo = \"hd\"\nslice_bytes = \"1MiB\"").unwrap();
    assert_eq!(spec.collectives, CollectiveSpec { algo: CollectiveAlgo::HalvingDoubling, slice_bytes: 1 << 20 });
    for algo in CollectiveAlgo::ALL {
        assert_eq!(algo.name().parse::<CollectiveAlgo>(), Ok(algo));
    }
    assert_eq!(
        err("[collectives]\nalgo = \"butterfly\""),
        "invalid machine config: collectives.algo must be one of \"auto\", \"ring\", \"direct\", \"halving-doubling\", \"tree\" (got \"butterfly\")"
    );
    assert_eq!(
        err("[collectives]\nslice_bytes = 0"),
        "invalid machine config: collectives.slice_bytes must be positive (got 0)"
    );
}
