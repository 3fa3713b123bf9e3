//! `kernbench config`: the effective machine config as TOML or JSON.

use kb_oplog::MachineSpec;

use crate::{arg, assert_bad_input, kernbench, scratch};

#[test]
fn the_toml_loads_back_to_the_default_machine() {
    let run = kernbench(&["config"]);
    assert_eq!(run.code, 0, "{run:?}");
    let table: toml::Table = run.stdout.parse().expect("the output is TOML");
    assert_eq!(table["device"]["pes"].as_integer(), Some(8));
    assert_eq!(table["device"]["tcm_bytes"].as_str(), Some("1MiB"));
    assert_eq!(MachineSpec::from_toml_str(&run.stdout).unwrap(), MachineSpec::default());
}

#[test]
fn json_has_the_keys_and_values_of_the_toml() {
    let toml_run = kernbench(&["config"]);
    let json_run = kernbench(&["config", "--format", "json"]);
    assert_eq!(json_run.code, 0, "{json_run:?}");
    let json: serde_json::Value = serde_json::from_str(&json_run.stdout).expect("the output is JSON");
    let table: toml::Table = toml_run.stdout.parse().unwrap();
    // The TOML document, seen as JSON: the same keys, nested the same way, with the same values.
    assert_eq!(json, serde_json::to_value(&table).unwrap());
    let device: Vec<&str> = json["device"].as_object().unwrap().keys().map(String::as_str).collect();
    for key in ["pes", "clock_ghz", "tcm_bytes", "hbm_bytes", "hbm_gbps", "dma_gbps", "gemm_flops_per_cycle"] {
        assert!(device.contains(&key), "device.{key} missing from {device:?}");
    }
    assert_eq!(json["device"]["gemm_flops_per_cycle"]["f16"], 2048.0);
    assert_eq!(json["cluster"]["topology"], "ring");
}

#[test]
fn a_config_file_is_merged_over_the_default() {
    let dir = scratch("config_merge");
    let file = dir.join("machine.toml");
    std::fs::write(&file, "[device]\npes = 2\ntcm_bytes = \"512KiB\"\n").unwrap();
    let run = kernbench(&["config", "--config", arg(&file)]);
    assert_eq!(run.code, 0, "{run:?}");
    let spec = MachineSpec::from_toml_str(&run.stdout).unwrap();
    let mut expected = MachineSpec::default();
    expected.device.pes = 2;
    expected.device.tcm_bytes = 512 << 10;
    assert_eq!(spec, expected);
    // The global flag may come before the subcommand too.
    assert_eq!(kernbench(&["--config", arg(&file), "config"]).stdout, run.stdout);
}

#[test]
fn csv_and_trace_are_refused() {
    assert_bad_input(&kernbench(&["config", "--format", "csv"]), "--format csv");
    let dir = scratch("config_trace");
    assert_bad_input(&kernbench(&["config", "--trace", arg(&dir.join("t.json"))]), "--trace");
}
