//! The tile language: program ids, boundary-masked loads and stores, TCM limits, dispatch, streams.

use kb_mem::DType;
use kb_oplog::BinaryOp;

use crate::common::{runtime, values};

#[test]
fn ragged_blocks_pad_loads_and_mask_stores() {
    let rt = runtime(4);
    let dev = rt.device(0).unwrap();
    let (rows, cols) = (5usize, 7usize);
    let xs = values(rows * cols, 1);
    let x = dev.from_f32(&[rows, cols], DType::F32, &xs).unwrap();
    // The output is a view inside a bigger zero tensor: nothing outside it may be written.
    let big = dev.zeros(&[rows + 2, cols + 2], DType::F32).unwrap();
    let y = big.block(&[1, 1], &[rows, cols]).unwrap();
    let (bm, bn) = (4usize, 4usize);
    let work = dev
        .launch("double", (rows.div_ceil(bm), cols.div_ceil(bn)), |p| {
            let (i, j) = (p.program_id(0) * bm, p.program_id(1) * bn);
            let tile = p.load(&p.block_ptr(&x, &[i, j], &[bm, bn])?)?;
            let doubled = p.scalar(BinaryOp::Mul, &tile, 2.0)?;
            p.store(&p.block_ptr(&y, &[i, j], &[bm, bn])?, &doubled)
        })
        .unwrap();
    work.wait().unwrap();
    let got = big.to_vec::<f32>().unwrap();
    for r in 0..rows + 2 {
        for c in 0..cols + 2 {
            let inside = (1..=rows).contains(&r) && (1..=cols).contains(&c);
            let want = if inside { 2.0 * xs[(r - 1) * cols + c - 1] } else { 0.0 };
            assert_eq!(got[r * (cols + 2) + c], want, "({r},{c})");
        }
    }
}

#[test]
fn padding_reads_as_zero_inside_the_kernel() {
    let rt = runtime(1);
    let dev = rt.device(0).unwrap();
    let x = dev.from_slice(&[3], &[1f32, 2.0, 3.0]).unwrap();
    let out = dev.zeros(&[1], DType::F32).unwrap();
    dev.launch("sum", 1, |p| {
        let tile = p.load(&p.block_ptr(&x, &[0], &[8])?)?; // 5 padded zeros
        let s = p.sum(&tile, 0)?;
        let wide = p.zeros(&[1], DType::F32)?;
        let s1 = p.add(&wide, &s)?;
        p.store(&p.block_ptr(&out, &[0], &[1])?, &s1)
    })
    .unwrap();
    assert_eq!(out.to_vec::<f32>().unwrap(), [6.0]);
}

#[test]
fn a_fresh_zero_tensor_reads_as_zero_in_a_kernel_even_over_a_reused_block() {
    let rt = runtime(1);
    let dev = rt.device(0).unwrap();
    let junk = dev.from_slice(&[16], &[9f32; 16]).unwrap();
    junk.to_vec::<f32>().unwrap();
    drop(junk);
    let z = dev.zeros(&[16], DType::F32).unwrap(); // reuses junk's block
    let out = dev.full(&[16], -1.0, DType::F32).unwrap();
    dev.launch("copy", 1, |p| {
        let t = p.load(&p.block_ptr(&z, &[0], &[16])?)?;
        p.store(&p.block_ptr(&out, &[0], &[16])?, &t)
    })
    .unwrap();
    assert_eq!(out.to_vec::<f32>().unwrap(), vec![0.0; 16]);
}

#[test]
fn tcm_overflow_names_kernel_program_pe_and_sizes() {
    let rt = runtime(2);
    let dev = rt.device(1).unwrap();
    let x = dev.zeros(&[1024, 1024], DType::F32).unwrap();
    let err = dev
        .launch("too_big", (1, 2), |p| {
            let j = p.program_id(1) * 512;
            let _a = p.load(&p.block_ptr(&x, &[0, j], &[256, 512])?)?; // 512 KiB
            let _b = p.load(&p.block_ptr(&x, &[256, j], &[256, 512])?)?; // another 512 KiB: full
            let _c = p.zeros(&[16], DType::F32)?;
            Ok(())
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel `too_big` program [0, 0] on device 1 PE 0: out of TCM: requested 64 bytes, 0 bytes free of 1048576 (largest free block 0)"
    );
}

#[test]
fn kernel_errors_name_the_program() {
    let rt = runtime(2);
    let (d0, d1) = (rt.device(0).unwrap(), rt.device(1).unwrap());
    let far = d1.zeros(&[4], DType::F32).unwrap();
    let err = d0.launch("reach", 3, |p| p.block_ptr(&far, &[0], &[4]).map(|_| ())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel `reach` program [0] on device 0 PE 0: a tensor on device 1 cannot be reached from device 0"
    );
    let err = d0.launch("empty", (0, 3), |_| Ok(())).unwrap_err();
    assert_eq!(err.to_string(), "launch of kernel `empty` on device 0: grid [0, 3, 1] has no programs");
    let x = d0.zeros(&[4, 4], DType::F32).unwrap();
    let err = d0
        .launch("shapes", 1, |p| {
            let a = p.load(&p.block_ptr(&x, &[0, 0], &[4, 4])?)?;
            let b = p.zeros(&[3, 2], DType::F32)?;
            p.dot_new(&a, &b).map(|_| ())
        })
        .unwrap_err();
    assert!(err.to_string().starts_with("kernel `shapes` program [0] on device 0 PE 0: "), "{err}");
    assert!(err.to_string().contains("[4, 4]") && err.to_string().contains("[3, 2]"), "{err}");
}

#[test]
fn programs_spread_over_pes_and_one_pe_runs_one_program_at_a_time() {
    let rt = runtime(4);
    let dev = rt.device(0).unwrap();
    let x = dev.zeros(&[64, 64], DType::F32).unwrap();
    let y = dev.zeros(&[64, 64], DType::F32).unwrap();
    x.get::<f32>(&[0, 0]).unwrap();
    y.get::<f32>(&[0, 0]).unwrap();
    let t0 = rt.now();
    let mut pes = Vec::new();
    let w = dev
        .launch("spread", 8, |p| {
            pes.push(p.pe().pe);
            let i = p.program_id(0) * 8;
            let t = p.load(&p.block_ptr(&x, &[i, 0], &[8, 64])?)?;
            p.store(&p.block_ptr(&y, &[i, 0], &[8, 64])?, &t)
        })
        .unwrap();
    let end = w.wait().unwrap();
    // Equal programs fill the PEs in order, then come back round.
    assert_eq!(pes, [0, 1, 2, 3, 0, 1, 2, 3]);
    // Two rounds of (load, store) per PE: at least twice one program's time.
    let log = rt.log_table();
    let one = log.lines().find(|l| l.contains("spread: program end")).unwrap();
    let first_end: u64 = one.rsplit("end ").next().unwrap().trim().parse().unwrap();
    assert!(end - t0 >= 2 * (first_end - t0) - 1, "{log}");
}

#[test]
fn launches_on_one_stream_run_in_order_and_two_streams_overlap() {
    let rt = runtime(8);
    let dev = rt.device(0).unwrap();
    let x = dev.zeros(&[256, 256], DType::F32).unwrap();
    x.get::<f32>(&[0, 0]).unwrap(); // the host waits for the fill
    let t0 = rt.now();
    let run = |stream: usize| {
        dev.launch_on_stream(stream, "k", 1, |p| {
            let t = p.load(&p.block_ptr(&x, &[0, 0], &[128, 128])?)?;
            p.exp(&t).map(|_| ())
        })
        .unwrap()
    };
    let (a, b) = (run(0), run(0));
    let (ta, tb) = (a.wait().unwrap() - t0, b.wait().unwrap() - t0);
    assert!(tb >= 2 * ta - 1, "same stream: {ta} then {tb}");
    let t0 = rt.now();
    let (c, d) = (run(1), run(2));
    let (tc, td) = (c.wait().unwrap(), d.wait().unwrap());
    assert!(td - t0 < 2 * (tc - t0), "two streams overlap: {} and {}", tc - t0, td - t0);
}
