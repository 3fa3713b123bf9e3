//! `kernbench mlp`: the documented fields, the check against an unsplit reference, .npy inputs
//! and output, the communication time against `kernbench all-reduce`, the trace, and bad input.

use kb_mem::DType;
use kb_sched::npy::{NpyArray, read_npy, write_npy};

use crate::{arg, assert_bad_input, kernbench, scratch};

/// Runs `kernbench mlp <args> --format json`, asserts it succeeded, and returns the JSON.
fn mlp_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["mlp", "--format", "json"];
    all.extend_from_slice(args);
    let run = kernbench(&all);
    assert_eq!(run.code, 0, "kernbench {all:?} failed: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

#[test]
fn a_small_block_passes_with_the_documented_json_fields() {
    let json = mlp_json(&["--tp", "2", "--batch", "4", "--hidden", "32"]);
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["batch", "check", "comm_us", "compute_us", "dtype", "ffn", "hidden", "max_abs_err", "time_us", "tp"]
    );
    assert_eq!((json["tp"].as_u64(), json["batch"].as_u64()), (Some(2), Some(4)));
    assert_eq!((json["hidden"].as_u64(), json["ffn"].as_u64()), (Some(32), Some(128)), "F defaults to 4H");
    assert_eq!(json["dtype"], "f16");
    assert_eq!(json["check"], "pass");
    let (time, compute, comm) =
        (json["time_us"].as_f64().unwrap(), json["compute_us"].as_f64().unwrap(), json["comm_us"].as_f64().unwrap());
    assert!(comm > 0.0 && compute > 0.0);
    assert!((compute + comm - time).abs() < 1e-9, "{compute} + {comm} vs {time}");
}

#[test]
fn every_dtype_and_split_passes() {
    for dtype in ["f16", "bf16", "f32"] {
        for tp in ["1", "2", "4", "8"] {
            let json = mlp_json(&["--tp", tp, "--batch", "3", "--hidden", "16", "--ffn", "64", "--dtype", dtype]);
            assert_eq!(json["check"], "pass", "{dtype} T={tp}: {json}");
            if tp == "1" {
                assert_eq!(json["comm_us"], 0.0, "one rank communicates nothing");
            }
        }
    }
}

#[test]
fn the_communication_time_is_the_all_reduces_own_for_that_size() {
    // T = 8, B = 8, H = 256, f16: the all-reduce moves 8 · 256 · 2 = 4096 bytes per rank.
    let json = mlp_json(&["--tp", "8", "--batch", "8", "--hidden", "256", "--timing-only"]);
    let run = kernbench(&[
        "all-reduce",
        "-g",
        "8",
        "-b",
        "4096",
        "-e",
        "4096",
        "-d",
        "half",
        "--timing-only",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let sweep: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sweep["rows"][0]["size"], 4096);
    assert_eq!(json["comm_us"], sweep["rows"][0]["time_us"], "{json} vs {sweep}");
}

#[test]
fn timing_only_skips_the_check_and_times_the_same() {
    let args = ["--tp", "4", "--batch", "8", "--hidden", "64", "--dtype", "bf16"];
    let timed = mlp_json(&[&args[..], &["--timing-only"]].concat());
    assert_eq!(timed["check"], "skipped");
    assert!(timed["max_abs_err"].is_null());
    let checked = mlp_json(&args);
    assert_eq!(checked["check"], "pass");
    for key in ["time_us", "compute_us", "comm_us"] {
        assert_eq!(timed[key], checked[key], "{key}");
    }
}

#[test]
fn npy_inputs_give_an_output_that_matches_the_unsplit_block() {
    let dir = scratch("mlp_npy");
    let (b, h, f) = (3usize, 8usize, 16usize);
    // Small exact values: x ∈ {-1, -0.5, 0, 0.5, 1}, weights multiples of 1/8.
    let x: Vec<f32> = (0..b * h).map(|i| ((i % 5) as f32 - 2.0) * 0.5).collect();
    let w1: Vec<f32> = (0..h * f).map(|i| ((i * 3 % 7) as f32 - 3.0) / 8.0).collect();
    let w2: Vec<f32> = (0..f * h).map(|i| ((i * 5 % 9) as f32 - 4.0) / 8.0).collect();
    let b1: Vec<f32> = (0..f).map(|j| (j % 3) as f32 * 0.25).collect();
    let b2: Vec<f32> = (0..h).map(|o| o as f32 - 4.0).collect();
    let save = |name: &str, shape: &[usize], v: &[f32]| {
        let path = dir.join(name);
        write_npy(&path, &NpyArray::from_f32(shape, DType::F32, v).unwrap()).unwrap();
        path
    };
    let (px, pw1, pw2) = (save("x.npy", &[b, h], &x), save("w1.npy", &[h, f], &w1), save("w2.npy", &[f, h], &w2));
    let (pb1, pb2) = (save("b1.npy", &[f], &b1), save("b2.npy", &[h], &b2));
    let out = dir.join("y.npy");
    let json = mlp_json(&[
        "--tp",
        "4",
        "--batch",
        "3",
        "--hidden",
        "8",
        "--ffn",
        "16",
        "--dtype",
        "f32",
        "--x",
        arg(&px),
        "--w1",
        arg(&pw1),
        "--w2",
        arg(&pw2),
        "--b1",
        arg(&pb1),
        "--b2",
        arg(&pb2),
        "--out",
        arg(&out),
    ]);
    assert_eq!(json["check"], "pass", "{json}");
    let y = read_npy(&out).unwrap();
    assert_eq!((y.shape.as_slice(), y.dtype), (&[b, h][..], DType::F32));
    // The test's own reference: y = gelu(x·W1 + b1)·W2 + b2 in f64.
    let gelu = |v: f64| 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh());
    let got = y.to_f32();
    for i in 0..b {
        let hid: Vec<f64> = (0..f)
            .map(|j| {
                gelu((0..h).map(|k| f64::from(x[i * h + k]) * f64::from(w1[k * f + j])).sum::<f64>() + f64::from(b1[j]))
            })
            .collect();
        for o in 0..h {
            let want = f64::from(b2[o]) + (0..f).map(|j| hid[j] * f64::from(w2[j * h + o])).sum::<f64>();
            assert!((f64::from(got[i * h + o]) - want).abs() < 1e-5, "y[{i}][{o}] = {} vs {want}", got[i * h + o]);
        }
    }
    // Without the bias files, the biases are zeros: a different Y, still checked.
    let json = mlp_json(&[
        "--tp",
        "2",
        "--batch",
        "3",
        "--hidden",
        "8",
        "--ffn",
        "16",
        "--x",
        arg(&px),
        "--w1",
        arg(&pw1),
        "--w2",
        arg(&pw2),
    ]);
    assert_eq!(json["check"], "pass", "{json}");
}

#[test]
fn the_trace_shows_every_ranks_gemms_and_the_all_reduce() {
    let dir = scratch("mlp_trace");
    let path = dir.join("trace.json");
    mlp_json(&["--tp", "4", "--batch", "4", "--hidden", "32", "--timing-only", "--trace", arg(&path)]);
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = trace.get("traceEvents").or(Some(&trace)).and_then(|e| e.as_array()).expect("a list of events");
    for device in 0..4u64 {
        let gemms = events.iter().filter(|e| e["args"]["kind"] == "gemm" && e["pid"].as_u64() == Some(device)).count();
        // Each rank runs both layers' GEMMs.
        assert!(gemms >= 2, "device {device}: {gemms} GEMM events");
    }
    let all_reduce = events.iter().filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with("all_reduce"))).count();
    assert!(all_reduce > 0, "no all_reduce event");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let base = ["mlp", "--tp", "4", "--batch", "2", "--hidden", "8"];
    let with = |extra: &[&str]| kernbench(&[&base[..], extra].concat());
    assert_bad_input(&with(&["--ffn", "10"]), "--ffn 10 is not divisible by --tp 4");
    assert_bad_input(&with(&["--ffn", "0"]), "--ffn must be positive, got 0");
    assert_bad_input(&with(&["--out", "y.npy", "--timing-only"]), "--out needs the values of Y");
    assert_bad_input(&with(&["--x", "x.npy"]), "--x, --w1 and --w2 go together");
    assert_bad_input(&with(&["--b1", "b1.npy"]), "--b1 and --b2 need --x, --w1 and --w2");
    // A value clap refuses is a usage error: exit 2 too, with clap's own message.
    let run = with(&["--dtype", "i32"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the GEMM kernel takes f16, bf16 or f32, not i32"), "{run:?}");
    assert_bad_input(&kernbench(&["mlp", "--tp", "0", "--batch", "2", "--hidden", "8"]), "--tp must be positive");
    let dir = scratch("mlp_bad");
    let wrong = dir.join("x.npy");
    write_npy(&wrong, &NpyArray::from_f32(&[3, 8], DType::F32, &[0.0; 24]).unwrap()).unwrap();
    let missing = dir.join("missing.npy");
    let run = with(&["--x", arg(&wrong), "--w1", arg(&missing), "--w2", arg(&missing)]);
    assert_bad_input(&run, "--x has shape [3, 8] but must be [B, H] = [2, 8]");
    let run = kernbench(&[
        "mlp",
        "--tp",
        "1",
        "--batch",
        "3",
        "--hidden",
        "8",
        "--x",
        arg(&wrong),
        "--w1",
        arg(&missing),
        "--w2",
        arg(&missing),
    ]);
    assert_bad_input(&run, "missing.npy");
    let huge = kernbench(&["mlp", "--tp", "1", "--batch", "1M", "--hidden", "64K", "--timing-only"]);
    assert_bad_input(&huge, "bytes of HBM");
}
