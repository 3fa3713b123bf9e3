//! Timing: the MLP's all-reduce takes exactly the collective's own time, and the trace shows
//! every rank's GEMMs and the all-reduce.

use kb_ccl::{ProcessGroup, ReduceOp, all_reduce_async};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode, OpKind};
use kb_sched::Runtime;
use kb_tp::{CommSpan, ParallelMLP, TpError, comm_spans, initialize_model_parallel};

const T: usize = 8;
const ROWS: usize = 8;
const HIDDEN: usize = 256;

fn machine() -> MachineSpec {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = T as u32;
    spec
}

/// Every rank's comm spans for one MLP forward, timing only.
fn mlp_spans(rt: &Runtime) -> Vec<Vec<CommSpan>> {
    rt.spawn(T, |ctx| {
        initialize_model_parallel(&ctx, T, 1)?;
        let block = ParallelMLP::new(&ctx, HIDDEN, 4 * HIDDEN, DType::F16)?;
        let x = ctx.device().zeros(&[ROWS, HIDDEN], DType::F16)?;
        block.forward(&x)?;
        Ok::<_, TpError>(comm_spans(&ctx))
    })
    .unwrap()
}

/// The time of an all-reduce of `count` f16 elements over 8 ranks on a fresh runtime, from the
/// moment every input is ready to the end of the last rank's share.
fn all_reduce_alone(count: usize) -> u64 {
    let rt = Runtime::new(machine(), Mode::TIMING).unwrap();
    let tensors: Vec<_> = (0..T).map(|r| rt.device(r as u32).unwrap().zeros(&[count], DType::F16).unwrap()).collect();
    rt.run_all();
    let start = rt.now();
    let ends = rt
        .spawn(T, move |ctx| {
            Ok::<_, kb_ccl::CclError>(
                all_reduce_async(&ctx, &ProcessGroup::world(&ctx), &tensors[ctx.rank()], ReduceOp::Sum)?.wait()?,
            )
        })
        .unwrap();
    ends.into_iter().max().unwrap() - start
}

#[test]
fn the_mlp_all_reduce_takes_the_collectives_own_time() {
    let rt = Runtime::new(machine(), Mode::TIMING).unwrap();
    let spans = mlp_spans(&rt);
    assert!(spans.iter().all(|s| s.len() == 1 && s[0].collective == "all_reduce"), "{spans:?}");
    let ready = spans.iter().map(|s| s[0].ready_ps).max().unwrap();
    let end = spans.iter().map(|s| s[0].end_ps).max().unwrap();
    assert_eq!(spans[0][0].bytes, ROWS * HIDDEN * 2);
    assert!(ready > 0, "the GEMMs come first");
    assert_eq!(end - ready, all_reduce_alone(ROWS * HIDDEN));
}

#[test]
fn every_rank_records_its_gemms_and_the_all_reduce() {
    let rt = Runtime::new(machine(), Mode::TIMING).unwrap();
    mlp_spans(&rt);
    rt.run_all();
    let (gemm_devices, transfers) = rt.with_sim(|sim| {
        let mut devices = std::collections::BTreeSet::new();
        let mut transfers = 0;
        for (_, op, times) in sim.ops() {
            assert!(times.is_some(), "every op is timed");
            match &op.kind {
                OpKind::Gemm { pe, .. } => {
                    devices.insert(pe.device);
                }
                OpKind::LinkTransfer { .. } if op.display_name().starts_with("all_reduce") => transfers += 1,
                _ => {}
            }
        }
        (devices, transfers)
    });
    assert_eq!(gemm_devices.into_iter().collect::<Vec<_>>(), (0..T as u32).collect::<Vec<_>>());
    // A ring all-reduce moves 2(T − 1) chunks per rank.
    assert!(transfers >= 2 * (T - 1) * T, "{transfers}");
}
