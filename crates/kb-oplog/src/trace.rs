//! Chrome trace export: the timed op log as trace-event JSON, for Perfetto and chrome://tracing.
//!
//! One process per device (and one for the links), one track (thread) per resource, one complete
//! event (`"ph": "X"`, category `op`) per op on the track of the first resource it holds, with its
//! name, kind, id, bytes or FLOPs in `args`. A multi-hop transfer adds one `hop` event per later
//! hop on that link's track. Times are microseconds with picosecond precision.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use crate::{OpKind, OpLogError, Resource, ResourceIndex, Sim};

fn us(ps: u64) -> f64 {
    ps as f64 / 1e6
}

impl Sim {
    fn trace_pid(&self, r: ResourceIndex) -> u32 {
        match self.cost_model().resource(r) {
            Resource::Dma(pe) | Resource::Gemm(pe) | Resource::Vector(pe) => pe.device,
            Resource::Hbm(d) | Resource::Host(d) => d,
            Resource::Link(_) => self.machine().cluster.ranks,
        }
    }

    /// The trace events of every ended op, in recording order, followed by the process and track
    /// names of the resources they use.
    pub fn trace_events(&self) -> Result<Vec<Value>, OpLogError> {
        if !self.mode().keep_ops {
            return Err(OpLogError::OpsNotKept { what: "a trace" });
        }
        let mut events = Vec::new();
        let mut used: BTreeSet<ResourceIndex> = BTreeSet::new();
        for (id, op, times) in self.ops() {
            let (Some(times), Some(stages)) = (times, self.engine().stages(id)) else { continue };
            let seq = self.engine().seq(id).unwrap_or_default();
            let Some(first) = stages.first().and_then(|s| s.resources().next()) else { continue };
            let mut args = json!({ "id": seq, "kind": op.kind.name(), "ready_us": us(times.ready) });
            let bytes = match &op.kind {
                OpKind::Dma { src, .. } | OpKind::LinkTransfer { src, .. } => Some(src.nbytes()),
                OpKind::HostWrite { dst, .. } | OpKind::Fill { dst, .. } => Some(dst.nbytes()),
                _ => None,
            };
            if let Some(b) = bytes {
                args["bytes"] = json!(b);
            }
            match &op.kind {
                OpKind::Gemm { .. } => {
                    let (m, n, k) = op.kind.gemm_mnk().unwrap_or_default();
                    args["flops"] = json!(2 * m as u64 * n as u64 * k as u64);
                    args["mnk"] = json!([m, n, k]);
                }
                OpKind::Vector { op: v, .. } => args["flops"] = json!(v.flops()),
                OpKind::ReduceInto { dst, .. } => args["flops"] = json!(dst.numel()),
                _ => {}
            }
            used.insert(first);
            events.push(json!({
                "name": op.display_name(), "cat": "op", "ph": "X",
                "pid": self.trace_pid(first), "tid": first,
                "ts": us(times.start), "dur": us(times.end - times.start), "args": args,
            }));
            if let Some(starts) = self.engine().stage_starts(id) {
                for (k, (stage, &start)) in stages.iter().zip(starts).enumerate().skip(1) {
                    let Some(r) = stage.resources().next() else { continue };
                    used.insert(r);
                    events.push(json!({
                        "name": format!("{} hop {k}", op.display_name()), "cat": "hop", "ph": "X",
                        "pid": self.trace_pid(r), "tid": r,
                        "ts": us(start), "dur": us(stage.duration()), "args": { "id": seq },
                    }));
                }
            }
        }
        let specs: Vec<_> = self.engine().resources().collect();
        let mut pids = BTreeSet::new();
        for &r in &used {
            let pid = self.trace_pid(r);
            if pids.insert(pid) {
                let name =
                    if pid == self.machine().cluster.ranks { "links".to_string() } else { format!("device {pid}") };
                events.push(json!({ "name": "process_name", "ph": "M", "pid": pid, "args": { "name": name } }));
            }
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": pid, "tid": r,
                "args": { "name": specs[r as usize].name },
            }));
        }
        Ok(events)
    }

    /// Writes the trace as a JSON object `{"traceEvents": [...], "displayTimeUnit": "ns"}`.
    pub fn write_trace(&self, mut out: impl Write) -> Result<(), OpLogError> {
        let doc = json!({ "traceEvents": self.trace_events()?, "displayTimeUnit": "ns" });
        serde_json::to_writer(&mut out, &doc).map_err(|e| OpLogError::Io(e.to_string()))?;
        out.flush().map_err(|e| OpLogError::Io(e.to_string()))
    }
}
