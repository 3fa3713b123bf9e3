//! `--trace FILE` writes a Chrome trace of the run.

use crate::{arg, gemm_json, scratch};

#[test]
fn the_trace_is_json_with_the_gemm_ops() {
    let dir = scratch("trace");
    for mode in [&[][..], &["--timing-only"]] {
        let path = dir.join("trace.json");
        let _ = std::fs::remove_file(&path);
        let args = [&["--m", "64", "--n", "48", "--k", "40", "--trace", arg(&path)][..], mode].concat();
        gemm_json(&args);
        let text = std::fs::read_to_string(&path).expect("the trace was written");
        let trace: serde_json::Value = serde_json::from_str(&text).expect("the trace is JSON");
        let events = trace.get("traceEvents").or(Some(&trace)).and_then(|e| e.as_array()).expect("a list of events");
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["args"]["kind"].as_str()).collect();
        assert!(kinds.contains(&"gemm"), "{mode:?}: {kinds:?}");
        assert!(kinds.contains(&"dma"), "{mode:?}: {kinds:?}");
    }
}

#[test]
fn an_unwritable_trace_path_is_bad_input() {
    let dir = scratch("trace_bad");
    let path = dir.join("missing/trace.json");
    let run = crate::kernbench(&["gemm", "--m", "8", "--n", "8", "--k", "8", "--trace", arg(&path)]);
    crate::assert_bad_input(&run, "trace.json");
}
