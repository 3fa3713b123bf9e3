//! Tensors: creation ops, round trips in every dtype, views without copies, npy.

use half::{bf16, f16};
use kb_mem::{DType, Element};

use crate::common::{runtime, temp_path};

fn round_trip<T: Element>(values: &[T]) {
    let rt = runtime(2);
    let dev = rt.device(1).unwrap();
    let t = dev.from_slice(&[2, values.len() / 2], values).unwrap();
    assert_eq!(t.dtype(), T::DTYPE);
    assert_eq!(t.device(), 1);
    assert_eq!(t.to_vec::<T>().unwrap(), values);
    assert_eq!(t.to_ndarray::<T>().unwrap().shape(), &[2, values.len() / 2]);
}

#[test]
fn every_dtype_round_trips() {
    round_trip(&[f16::from_f32(1.5), f16::from_f32(-2.0), f16::ZERO, f16::from_f32(65504.0)]);
    round_trip(&[bf16::from_f32(1.5), bf16::from_f32(-3.0e38), bf16::ZERO, bf16::from_f32(7.0)]);
    round_trip(&[1.5f32, -2.25, 0.0, f32::MAX]);
    round_trip(&[1.5f64, -2.25, 1e300, 0.1]);
    round_trip(&[1i8, -128, 127, 0]);
    round_trip(&[1i32, i32::MIN, i32::MAX, 0]);
    round_trip(&[1i64, i64::MIN, i64::MAX, 0]);
    round_trip(&[1u8, 255, 0, 7]);
}

#[test]
fn zeros_full_and_conversions() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    assert_eq!(dev.zeros(&[3], DType::I32).unwrap().to_vec::<i32>().unwrap(), [0, 0, 0]);
    let t = dev.full(&[2, 2], 2.5, DType::F16).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap(), [2.5; 4]);
    // Reading as another type converts; f32 → f16 rounds to nearest even on the way in.
    let h = dev.from_f32(&[2], DType::F16, &[1.0 + 2f32.powi(-11), 3.0]).unwrap();
    assert_eq!(h.to_vec::<f32>().unwrap(), [1.0, 3.0]);
    assert_eq!(h.get::<i32>(&[1]).unwrap(), 3);
}

#[test]
fn views_share_storage_and_read_through_their_layout() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let vals: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let t = dev.from_slice(&[3, 4], &vals).unwrap();
    let tt = t.transpose(0, 1).unwrap();
    assert!(tt.shares_storage(&t));
    assert_eq!(tt.shape(), &[4, 3]);
    assert_eq!(tt.get::<f32>(&[3, 1]).unwrap(), 7.0);
    assert_eq!(tt.to_vec::<f32>().unwrap(), [0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]);
    let s = t.slice(1, 1, 3).unwrap();
    assert_eq!(s.to_vec::<f32>().unwrap(), [1., 2., 5., 6., 9., 10.]);
    let b = t.block(&[1, 2], &[2, 2]).unwrap();
    assert_eq!(b.to_vec::<f32>().unwrap(), [6., 7., 10., 11.]);
    assert_eq!(t.reshape(&[2, 6]).unwrap().get::<f32>(&[1, 0]).unwrap(), 6.0);
    assert!(tt.reshape(&[12]).is_err());
    let err = t.get::<f32>(&[3, 0]).unwrap_err();
    assert_eq!(err.to_string(), "index [3, 0] is out of bounds for a tensor of shape [3, 4]");
}

#[test]
fn copy_from_moves_bytes_between_devices_and_views() {
    let rt = runtime(2);
    let (d0, d1) = (rt.device(0).unwrap(), rt.device(1).unwrap());
    let src = d0.from_slice(&[2, 3], &[1i32, 2, 3, 4, 5, 6]).unwrap();
    let dst = d1.zeros(&[3, 2], DType::I32).unwrap();
    dst.transpose(0, 1).unwrap().copy_from(&src).unwrap();
    assert_eq!(dst.to_vec::<i32>().unwrap(), [1, 4, 2, 5, 3, 6]);
    let err = dst.copy_from(&src).unwrap_err();
    assert_eq!(err.to_string(), "copy_from: source is i32 [2, 3] but the target is i32 [3, 2]");
}

#[test]
fn npy_round_trip_and_conversion_on_load() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let t = dev.from_f32(&[2, 2], DType::F32, &[0.5, 1.0 + 2f32.powi(-11), -3.0, 4.0]).unwrap();
    let path = temp_path("round_trip.npy");
    t.to_npy(&path).unwrap();
    let back = dev.from_npy(&path, None).unwrap();
    assert_eq!((back.dtype(), back.shape()), (DType::F32, &[2usize, 2][..]));
    assert_eq!(back.to_vec::<f32>().unwrap(), t.to_vec::<f32>().unwrap());
    // An f32 file loads as f16, rounding once.
    let h = dev.from_npy(&path, Some(DType::F16)).unwrap();
    assert_eq!(h.to_vec::<f32>().unwrap(), [0.5, 1.0, -3.0, 4.0]);
    let missing = dev.from_npy(&temp_path("missing.npy"), None).unwrap_err();
    assert!(missing.to_string().contains("missing.npy"), "{missing}");
}

#[test]
fn display_is_numpy_like() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let t = dev.from_slice(&[2, 3], &[1.0f32, 2.5, -3.0, 0.0, 5.0, 6.0]).unwrap();
    assert_eq!(format!("{t}"), "tensor([[1.0, 2.5, -3.0],\n        [0.0, 5.0, 6.0]], dtype=f32, device=0)");
    assert_eq!(
        format!("{:?}", dev.from_slice(&[3], &[1i32, 2, 3]).unwrap()),
        "tensor([1, 2, 3], shape=[3], dtype=i32, device=0)"
    );
    let big = dev.zeros(&[2000], DType::U8).unwrap();
    assert_eq!(format!("{big}"), "tensor([0, 0, 0, ..., 0, 0, 0], dtype=u8, device=0)");
}

#[test]
fn hbm_exhaustion_names_the_device_and_sizes() {
    let rt = runtime(2);
    let dev = rt.device(1).unwrap();
    let err = dev.empty(&[1 << 20, 1 << 20], DType::F32).unwrap_err();
    assert_eq!(
        err.to_string(),
        "out of HBM on device 1: requested 4398046511104 bytes, largest free block is 17179869184 bytes, 17179869184 bytes free of 17179869184"
    );
    assert_eq!(rt.device(5).unwrap_err().to_string(), "device 5 does not exist (the machine has 2 devices)");
}

#[test]
fn a_dropped_tensor_frees_its_block_and_the_next_one_waits_for_its_users() {
    let rt = runtime(2);
    let dev = rt.device(0).unwrap();
    let a = dev.from_f32(&[1024], DType::F32, &vec![1.0; 1024]).unwrap();
    let b = dev.zeros(&[1024], DType::F32).unwrap();
    b.copy_from(&a).unwrap();
    drop(a);
    // The new tensor reuses a's block: its fill must not start before the copy that read it.
    let c = dev.full(&[1024], 7.0, DType::F32).unwrap();
    rt.run_all();
    assert_eq!(b.to_vec::<f32>().unwrap(), vec![1.0; 1024]);
    assert_eq!(c.to_vec::<f32>().unwrap(), vec![7.0; 1024]);
    let log = rt.log_table();
    let copy_end = end_of(&log, "copy_from");
    let fill_start = start_of(&log, "\"full\"", 1);
    assert!(fill_start >= copy_end, "{log}");
}

fn field(line: &str, name: &str) -> u64 {
    let at = line.find(name).unwrap() + name.len() + 1;
    line[at..].split_whitespace().next().unwrap().parse().unwrap()
}

fn end_of(log: &str, label: &str) -> u64 {
    field(log.lines().find(|l| l.contains(label)).unwrap(), "end")
}

fn start_of(log: &str, label: &str, nth: usize) -> u64 {
    field(log.lines().filter(|l| l.contains(label)).nth(nth).unwrap(), "start")
}
