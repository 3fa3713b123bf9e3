//! `--config` changes the machine a GEMM runs on, and so its time and utilization.

use crate::{arg, gemm_json, scratch};

#[test]
fn fewer_pes_take_longer_at_a_lower_peak() {
    let dir = scratch("machine_pes");
    let file = dir.join("two_pes.toml");
    std::fs::write(&file, "[device]\npes = 2\n").unwrap();
    // 4 × 3 programs of 16×16: 8 PEs run them in two waves, 2 PEs in six.
    let args = ["--m", "64", "--n", "48", "--k", "40", "--block-m", "16", "--block-n", "16"];
    let eight = gemm_json(&args);
    let two = gemm_json(&[&args[..], &["--config", arg(&file)]].concat());
    assert_eq!(two["check"], "pass");
    let time = |j: &serde_json::Value| j["time_us"].as_f64().unwrap();
    assert!(time(&two) > time(&eight), "2 PEs: {two}, 8 PEs: {eight}");
    // Utilization is over the device's peak: 2 · 2048 FLOP/cycle · 1.5 GHz = 6.144 TFLOP/s.
    let (tflops, utilization) = (two["tflops"].as_f64().unwrap(), two["utilization"].as_f64().unwrap());
    assert!((utilization - tflops / 6.144).abs() < 1e-12, "{two}");
    assert_ne!(two["utilization"], eight["utilization"]);
}

#[test]
fn a_faster_gemm_unit_shortens_the_launch() {
    let dir = scratch("machine_rate");
    let file = dir.join("fast.toml");
    std::fs::write(&file, "[device.gemm_flops_per_cycle]\nf32 = 2048.0\n").unwrap();
    let args = ["--m", "128", "--n", "128", "--k", "128", "--dtype", "f32", "--block-m", "32", "--block-n", "32"];
    let slow = gemm_json(&args);
    let fast = gemm_json(&[&args[..], &["--config", arg(&file)]].concat());
    assert!(fast["time_us"].as_f64().unwrap() < slow["time_us"].as_f64().unwrap(), "{fast} vs {slow}");
}
