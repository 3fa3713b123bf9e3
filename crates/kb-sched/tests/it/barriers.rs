//! Host reads: every registered entry waits for the tensor's writers and replays before reading;
//! the target side of a copy does not; timing-only runtimes refuse host reads.

use kb_mem::DType;
use kb_sched::{Device, Runtime, Tensor, Work};

use crate::common::{runtime, temp_path, timing_runtime};

/// A kernel (not waited for) that writes `value` into every element of `t`.
fn fill_kernel(dev: &Device, t: &Tensor, value: f64) -> Work {
    let n = t.numel();
    dev.launch("fill", 1, |p| {
        let ptr = p.block_ptr(t, &[0], &[n])?;
        let tile = p.full(&[n], value, t.dtype())?;
        p.store(&ptr, &tile)
    })
    .unwrap()
}

fn pending(rt: &Runtime, value: f64) -> (Tensor, Work) {
    let dev = rt.device(0).unwrap();
    let t = dev.zeros(&[8], DType::F32).unwrap();
    let w = fill_kernel(&dev, &t, value);
    assert!(!w.is_completed());
    assert_eq!(rt.now(), 0);
    (t, w)
}

#[test]
fn every_registered_host_read_drains_the_writer_first() {
    type Read = fn(&Tensor) -> Vec<f32>;
    let reads: [(&str, Read); 6] = [
        ("to_vec", |t| t.to_vec::<f32>().unwrap()),
        ("to_ndarray", |t| t.to_ndarray::<f32>().unwrap().iter().copied().collect()),
        ("get", |t| vec![t.get::<f32>(&[3]).unwrap(); 8]),
        ("fmt", |t| {
            let s = format!("{t}");
            assert!(s.starts_with("tensor([3.0, 3.0"), "{s}");
            vec![3.0; 8]
        }),
        ("to_npy", |t| {
            let path = temp_path("barrier.npy");
            t.to_npy(&path).unwrap();
            let back = t.runtime().device(1).unwrap().from_npy(&path, None).unwrap();
            back.to_vec::<f32>().unwrap()
        }),
        ("copy_from (source side)", |t| {
            let dst = t.runtime().device(1).unwrap().zeros(&[8], DType::F32).unwrap();
            dst.copy_from(t).unwrap();
            dst.to_vec::<f32>().unwrap()
        }),
    ];
    for (name, read) in reads {
        let rt = runtime(2);
        let (t, w) = pending(&rt, 3.0);
        let got = read(&t);
        assert!(w.is_completed(), "{name} did not wait for the writer");
        assert!(rt.now() >= w.end_time().unwrap(), "{name}");
        assert_eq!(got, vec![3.0; 8], "{name}");
    }
}

#[test]
fn the_target_side_of_a_copy_does_not_drain() {
    let rt = runtime(2);
    let (dst, w) = pending(&rt, 5.0);
    let src = rt.device(0).unwrap().from_slice(&[8], &[1f32; 8]).unwrap();
    dst.copy_from(&src).unwrap();
    // The source was ready (a host write at time 0 is final once timed); the pending kernel that
    // writes the target was not waited for.
    assert!(!w.is_completed());
    // Reading the target now drains both, in program order: the copy, recorded last, wins.
    assert_eq!(dst.to_vec::<f32>().unwrap(), vec![1.0; 8]);
}

#[test]
fn host_reads_in_timing_only_mode_are_errors() {
    let rt = timing_runtime();
    let dev = rt.device(0).unwrap();
    let t = dev.zeros(&[4], DType::F32).unwrap();
    assert_eq!(
        t.to_vec::<f32>().unwrap_err().to_string(),
        "to_vec reads tensor data, but this runtime is timing-only (it keeps no data)"
    );
    assert!(t.get::<f32>(&[0]).is_err());
    assert_eq!(format!("{t}"), "tensor(dtype=f32, device=0, <timing-only: no data>)");
    // A copy is still an op with its time.
    let u = dev.zeros(&[4], DType::F32).unwrap();
    u.copy_from(&t).unwrap();
    assert!(rt.run_all() > 0);
}
