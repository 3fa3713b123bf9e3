//! The Chrome trace: valid JSON, one `op` event per timed op, tracks named after resources.

use kb_mem::DType;
use kb_oplog::{Mode, OpKind, Pe, Sim};

use crate::common::{hbm, ring, tcm};

#[test]
fn one_event_per_op_with_named_tracks() {
    let mut sim = Sim::new(ring(4), Mode::TIMING).unwrap();
    let pe = Pe { device: 1, pe: 2 };
    let l = sim
        .record(OpKind::Dma { pe, src: hbm(1, 0, DType::F32, &[256]), dst: tcm(1, 2, 0, DType::F32, &[256]) }, &[])
        .unwrap();
    let x = sim
        .record(OpKind::LinkTransfer { src: hbm(1, 0, DType::F32, &[256]), dst: hbm(3, 0, DType::F32, &[256]) }, &[l])
        .unwrap();
    sim.record(OpKind::Join, &[x]).unwrap();
    sim.run_all();
    let mut buf = Vec::new();
    sim.write_trace(&mut buf).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let ops: Vec<&serde_json::Value> = events.iter().filter(|e| e["cat"] == "op").collect();
    // The join holds no resource and has no track; the other two are one event each.
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["name"], "dma");
    assert_eq!(ops[0]["pid"], 1);
    assert_eq!(ops[0]["args"]["bytes"], 1024);
    assert_eq!(ops[1]["name"], "link_transfer");
    // A two-hop transfer (1→2→3) has one more event on its second link's track.
    let hops: Vec<&serde_json::Value> = events.iter().filter(|e| e["cat"] == "hop").collect();
    assert_eq!(hops.len(), 1);
    let track_names: Vec<&str> =
        events.iter().filter(|e| e["name"] == "thread_name").map(|e| e["args"]["name"].as_str().unwrap()).collect();
    assert!(track_names.contains(&"device 1 PE 2 dma"), "{track_names:?}");
    assert!(track_names.iter().any(|n| n.starts_with("link ")), "{track_names:?}");
}
