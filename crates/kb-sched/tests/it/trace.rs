//! The op log of a small GEMM (snapshot) and its Chrome trace.

use kb_mem::DType;
use kb_sched::{GemmBlocks, gemm};

use crate::common::{runtime, temp_path};

#[test]
fn op_log_of_a_small_gemm() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let a = dev.zeros(&[24, 16], DType::F16).unwrap();
    let b = dev.zeros(&[16, 8], DType::F16).unwrap();
    let c = dev.empty(&[24, 8], DType::F16).unwrap();
    gemm(&dev, &a, &b, &c, false, GemmBlocks { m: 16, n: 8, k: 8 }).unwrap().wait().unwrap();
    insta::assert_snapshot!(rt.log_table());
}

#[test]
fn the_trace_has_one_op_event_per_timed_op() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let a = dev.zeros(&[64, 64], DType::BF16).unwrap();
    let b = dev.zeros(&[64, 64], DType::BF16).unwrap();
    let c = dev.zeros(&[64, 64], DType::F32).unwrap();
    gemm(&dev, &a, &b, &c, false, GemmBlocks { m: 32, n: 32, k: 32 }).unwrap().wait().unwrap();
    let path = temp_path("gemm_trace.json");
    rt.write_trace(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let op_events = events.iter().filter(|e| e["cat"] == "op").count();
    // Every op but the joins (which hold no resource) is one event.
    let log = rt.log_table();
    let timed_ops = log.lines().filter(|l| !l.contains(" join ")).count();
    assert_eq!(op_events, timed_ops, "{log}");
    assert!(events.iter().any(|e| e["ph"] == "X" && e["args"]["kind"] == "gemm"));
}
