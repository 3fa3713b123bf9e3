//! A 16-rank program with kernels, waits, host reads, cross-device copies and a rendezvous, run 20
//! times; shared by the test binaries that run it with `may` set to 1 and to 2 workers. Both
//! compare with the same snapshot, so the two worker counts must agree byte for byte.

use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode};
use kb_sched::{Runtime, SchedError};

/// A 16-rank program with kernels, waits, host reads, cross-device copies and a rendezvous.
pub(crate) fn program() -> (String, Vec<Vec<f32>>, u64) {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 16;
    let rt = Runtime::new(spec, Mode::DATA).unwrap();
    let results = rt
        .spawn(16, |ctx| {
            let dev = ctx.device();
            let n = 256 + 16 * ctx.rank();
            let x =
                dev.from_f32(&[n], DType::F32, &(0..n).map(|i| (i * (ctx.rank() + 1)) as f32).collect::<Vec<_>>())?;
            let y = dev.zeros(&[n], DType::F32)?;
            let w = dev.launch("scale", n.div_ceil(64), |p| {
                let i = p.program_id(0) * 64;
                let t = p.load(&p.block_ptr(&x, &[i], &[64])?)?;
                let s = p.scalar(kb_oplog::BinaryOp::Mul, &t, 0.5)?;
                p.store(&p.block_ptr(&y, &[i], &[64])?, &s)
            })?;
            if ctx.rank() % 3 == 0 {
                w.wait()?;
            }
            let peer = (ctx.rank() + 1) % ctx.world_size();
            let total = ctx.rendezvous("n", &(0..16).collect::<Vec<_>>(), n, |ns: Vec<usize>| {
                let t: usize = ns.iter().sum();
                Ok(vec![t; 16])
            })?;
            let z = ctx.runtime().device(peer as u32)?.zeros(&[n], DType::F32)?;
            z.copy_from(&y)?;
            let mut v = z.to_vec::<f32>()?;
            v.push(total as f32);
            Ok::<_, SchedError>(v)
        })
        .unwrap();
    (rt.log_table(), results, rt.makespan())
}

/// Runs the program 20 times: op log, timings, results and makespan are identical every time and
/// equal to the committed snapshot.
pub(crate) fn check_twenty_runs() {
    let first = program();
    assert!(first.0.lines().count() > 100);
    for _ in 0..19 {
        let again = program();
        assert_eq!(again.0, first.0, "op log and timings");
        assert_eq!(again.1, first.1, "results");
        assert_eq!(again.2, first.2, "makespan");
    }
    let summary = format!(
        "makespan {} ps\nresults {:?}\n{}",
        first.2,
        first.1.iter().map(|v| v.iter().sum::<f32>()).collect::<Vec<_>>(),
        first.0
    );
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("sixteen_ranks", summary);
    });
}
