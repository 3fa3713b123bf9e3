//! `kernbench gemm` on pseudo-random inputs: exit codes, the reported fields and their relations.

use crate::{gemm_json, kernbench};

/// The default device's GEMM peak for f16 and bf16: 8 PEs · 2048 FLOP/cycle · 1.5 GHz, TFLOP/s.
const PEAK_F16_TFLOPS: f64 = 8.0 * 2048.0 * 1.5 / 1e3;

#[test]
fn a_small_gemm_passes_with_the_documented_json_fields() {
    let json = gemm_json(&["--m", "64", "--n", "48", "--k", "40"]);
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["check", "dtype", "k", "m", "max_abs_err", "n", "tflops", "time_us", "utilization"]);
    assert_eq!((json["m"].as_u64(), json["n"].as_u64(), json["k"].as_u64()), (Some(64), Some(48), Some(40)));
    assert_eq!(json["dtype"], "f16");
    assert_eq!(json["check"], "pass");
    let err = json["max_abs_err"].as_f64().unwrap();
    assert!((0.0..0.01).contains(&err), "{err}");
    let (time_us, tflops, utilization) =
        (json["time_us"].as_f64().unwrap(), json["tflops"].as_f64().unwrap(), json["utilization"].as_f64().unwrap());
    assert!(time_us > 0.0);
    // TFLOP/s = 2·M·N·K / time; utilization = TFLOP/s over the peak.
    let expected_tflops = 2.0 * 64.0 * 48.0 * 40.0 / (time_us * 1e-6) / 1e12;
    assert!((tflops / expected_tflops - 1.0).abs() < 1e-9, "{tflops} vs {expected_tflops}");
    assert!((utilization - tflops / PEAK_F16_TFLOPS).abs() < 1e-12);
    assert!(utilization > 0.0 && utilization <= 1.0);
}

#[test]
fn every_dtype_passes_on_ragged_sizes() {
    for dtype in ["f16", "bf16", "f32"] {
        for blocks in [["16", "16", "16"], ["32", "8", "24"]] {
            let json = gemm_json(&[
                "--m",
                "37",
                "--n",
                "29",
                "--k",
                "53",
                "--dtype",
                dtype,
                "--block-m",
                blocks[0],
                "--block-n",
                blocks[1],
                "--block-k",
                blocks[2],
            ]);
            assert_eq!(json["dtype"], dtype);
            assert_eq!(json["check"], "pass", "{dtype} {blocks:?}: {json}");
        }
    }
}

#[test]
fn inputs_read_by_many_programs_are_checked_against_their_real_values() {
    // 8 × 8 programs of 8×8, 8 steps each: A and B are read 512 times after their writes ended,
    // which once made the runtime forget those writes and read A and B back unreplayed (zeros).
    let json =
        gemm_json(&["--m", "64", "--n", "64", "--k", "64", "--block-m", "8", "--block-n", "8", "--block-k", "8"]);
    assert_eq!(json["check"], "pass", "{json}");
    assert!(json["max_abs_err"].as_f64().unwrap() > 0.0, "f16 output rounds: {json}");
}

#[test]
fn timing_only_skips_the_check_and_times_the_same() {
    let args = ["--m", "64", "--n", "48", "--k", "40", "--dtype", "bf16", "--block-m", "16", "--block-n", "16"];
    let timed = gemm_json(&[&args[..], &["--timing-only"]].concat());
    assert_eq!(timed["check"], "skipped");
    assert!(timed["max_abs_err"].is_null());
    let checked = gemm_json(&args);
    assert_eq!(checked["check"], "pass");
    // The launch is timed from the moment its inputs are ready, in both modes.
    assert_eq!(timed["time_us"], checked["time_us"]);
    assert_eq!(timed["tflops"], checked["tflops"]);
}

#[test]
fn runs_are_reproducible() {
    let args = ["gemm", "--m", "40", "--n", "24", "--k", "72", "--dtype", "f16", "--format", "json"];
    let (first, second) = (kernbench(&args), kernbench(&args));
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn sizes_take_suffixes() {
    let json =
        gemm_json(&["--m", "2", "--n", "3", "--k", "1K", "--block-k", "1k", "--block-m", "16", "--block-n", "16"]);
    assert_eq!(json["k"], 1024);
    assert_eq!(json["check"], "pass");
}

#[test]
fn table_and_csv_show_the_same_run() {
    let args = ["gemm", "--m", "32", "--n", "32", "--k", "32", "--dtype", "f32"];
    let table = kernbench(&args);
    assert_eq!(table.code, 0, "{table:?}");
    let keys: Vec<&str> = table.stdout.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(keys, ["m", "n", "k", "dtype", "blocks", "time_us", "tflops", "utilization", "check", "max_abs_err"]);
    assert!(table.stdout.contains("check        pass\n"), "{}", table.stdout);
    assert!(table.stdout.contains("blocks       128x128x64\n"), "{}", table.stdout);

    let csv = kernbench(&[&args[..], &["--format", "csv"]].concat());
    assert_eq!(csv.code, 0, "{csv:?}");
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], "m,n,k,dtype,time_us,tflops,utilization,check,max_abs_err");
    assert!(lines[1].starts_with("32,32,32,f32,"), "{}", lines[1]);
    assert!(lines[1].contains(",pass,"), "{}", lines[1]);
}
