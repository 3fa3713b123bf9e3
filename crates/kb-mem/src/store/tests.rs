use half::f16;

use super::*;
use crate::Layout;

const HBM: Space = Space::Hbm { device: 0 };
const TCM: Space = Space::Tcm { device: 0, pe: 1 };

fn store() -> MemoryStore {
    let mut s = MemoryStore::new();
    s.add_space(HBM, 16 << 30).unwrap();
    s.add_space(TCM, 1 << 20).unwrap();
    s
}

#[test]
fn unwritten_bytes_read_as_zero_and_reads_do_not_allocate() {
    let s = store();
    let v: Vec<f32> = s.read_slice(HBM, 12345, 1000).unwrap();
    assert!(v.iter().all(|&x| x == 0.0));
    assert_eq!(s.resident_pages(HBM), 0);
}

#[test]
fn writing_zeros_to_a_fresh_page_allocates_nothing() {
    let mut s = store();
    s.write_bytes(HBM, 0, &vec![0u8; 3 * PAGE_SIZE]).unwrap();
    assert_eq!(s.resident_bytes(), 0);
}

#[test]
fn sparse_footprint_of_one_mib_at_15_gib() {
    let mut s = store();
    let mib = 1usize << 20;
    let data: Vec<u8> = (0..mib).map(|i| (i % 251) as u8 + 1).collect();
    s.write_bytes(HBM, 15 << 30, &data).unwrap();
    assert_eq!(s.resident_bytes(), mib as u64); // page-aligned: exactly 16 pages
    assert_eq!(s.resident_pages(HBM), mib / PAGE_SIZE);
    let mut back = vec![0u8; mib];
    s.read_bytes(HBM, 15 << 30, &mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn cross_page_reads_and_writes() {
    let mut s = store();
    let addr = PAGE_SIZE as u64 - 3;
    let data: Vec<i32> = (1..=5000).collect();
    s.write_slice(HBM, addr, &data).unwrap();
    assert_eq!(s.resident_pages(HBM), 2);
    assert_eq!(s.read_slice::<i32>(HBM, addr, 5000).unwrap(), data);
    // Bytes just before and after are untouched.
    let mut edge = [9u8; 1];
    s.read_bytes(HBM, addr - 1, &mut edge).unwrap();
    assert_eq!(edge, [0]);
}

#[test]
fn strided_block_reads_and_writes_match_plain_loops() {
    let mut s = store();
    // A 6×8 f32 matrix with values r*8+c at address 256.
    let full: Vec<f32> = (0..48).map(|i| i as f32).collect();
    s.write_slice(HBM, 256, &full).unwrap();
    let parent = Layout::contiguous(&[6, 8]).unwrap();
    let block = Region::new(HBM, 256, DType::F32, parent.sub_block(&[2, 3], &[3, 4]).unwrap());
    let got: Vec<f32> = s.read_region_as(&block).unwrap();
    let mut want = Vec::new();
    for r in 2..5 {
        for c in 3..7 {
            want.push((r * 8 + c) as f32);
        }
    }
    assert_eq!(got, want);
    // Transposed read.
    let t = Region::new(HBM, 256, DType::F32, parent.transpose(0, 1).unwrap());
    let got: Vec<f32> = s.read_region_as(&t).unwrap();
    let want: Vec<f32> = (0..8).flat_map(|c| (0..6).map(move |r| (r * 8 + c) as f32)).collect();
    assert_eq!(got, want);
    // Strided write into the block leaves its neighbours alone.
    s.write_region_from(&block, &[-1.0f32; 12]).unwrap();
    let after: Vec<f32> = s.read_slice(HBM, 256, 48).unwrap();
    for r in 0..6 {
        for c in 0..8 {
            let inside = (2..5).contains(&r) && (3..7).contains(&c);
            let want = if inside { -1.0 } else { (r * 8 + c) as f32 };
            assert_eq!(after[r * 8 + c], want, "({r},{c})");
        }
    }
}

#[test]
fn sparse_strided_regions_take_the_run_by_run_path() {
    let mut s = store();
    // Two elements 1 GiB apart: the span is far larger than the data.
    let l = Layout::strided(0, &[2], &[1 << 28]).unwrap();
    let r = Region::new(HBM, 0, DType::F32, l);
    s.write_region_from(&r, &[3.0f32, 4.0]).unwrap();
    assert_eq!(s.resident_pages(HBM), 2);
    assert_eq!(s.read_region_as::<f32>(&r).unwrap(), [3.0, 4.0]);
    assert_eq!(s.read_slice::<f32>(HBM, 1 << 30, 1).unwrap(), [4.0]);
}

#[test]
fn f32_conversion_reads_and_writes() {
    let mut s = store();
    let r = Region::contiguous(TCM, 64, DType::F16, &[2, 2]).unwrap();
    s.write_region_f32(&r, &[1.0, 2.5, -3.0, 1.0 + 2f32.powi(-11)]).unwrap();
    // The tie rounds to even (1.0).
    assert_eq!(s.read_region_f32(&r).unwrap(), [1.0, 2.5, -3.0, 1.0]);
    let halves: Vec<f16> = s.read_region_as(&r).unwrap();
    assert_eq!(halves[1], f16::from_f32(2.5));
    let err = s.read_region_as::<f32>(&r).unwrap_err();
    assert_eq!(err.to_string(), "typed read: region holds f16 but the access is typed f32");
}

#[test]
fn fill_region() {
    let mut s = store();
    let r = Region::contiguous(HBM, 0, DType::I32, &[3]).unwrap();
    s.fill_region(&r, &7i32.to_le_bytes()).unwrap();
    assert_eq!(s.read_region_as::<i32>(&r).unwrap(), [7, 7, 7]);
    assert!(s.fill_region(&r, &[1u8]).is_err());
}

#[test]
fn overlapping_copies_behave_like_memmove() {
    for (src, dst) in [(0u64, 10u64), (10, 0), (0, 0)] {
        let mut s = store();
        let data: Vec<u8> = (1..=100).collect();
        s.write_bytes(HBM, 0, &data).unwrap();
        s.copy_bytes(HBM, src, HBM, dst, 80).unwrap();
        // Reference: a plain copy through a separate buffer.
        let mut want = vec![0u8; 110];
        want[..100].copy_from_slice(&data);
        let moved: Vec<u8> = want[src as usize..src as usize + 80].to_vec();
        want[dst as usize..dst as usize + 80].copy_from_slice(&moved);
        let mut got = vec![0u8; 110];
        s.read_bytes(HBM, 0, &mut got).unwrap();
        assert_eq!(got, want, "src {src} dst {dst}");
    }
}

#[test]
fn overlapping_multi_page_copy() {
    let mut s = store();
    let n = 3 * PAGE_SIZE + 17;
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 255) as u8 + 1).collect();
    s.write_bytes(HBM, 100, &data).unwrap();
    s.copy_bytes(HBM, 100, HBM, 100 + 1000, n as u64).unwrap();
    let mut got = vec![0u8; n];
    s.read_bytes(HBM, 1100, &mut got).unwrap();
    assert_eq!(got, data);
}

#[test]
fn overlapping_region_copy_and_across_spaces() {
    let mut s = store();
    let vals: Vec<f32> = (0..16).map(|i| i as f32).collect();
    s.write_slice(HBM, 0, &vals).unwrap();
    // Copy the 4×4 matrix onto its own transpose, in place.
    let m = Layout::contiguous(&[4, 4]).unwrap();
    let src = Region::new(HBM, 0, DType::F32, m.clone());
    let dst = Region::new(HBM, 0, DType::F32, m.transpose(0, 1).unwrap());
    s.copy_region(&src, &dst).unwrap();
    let got: Vec<f32> = s.read_slice(HBM, 0, 16).unwrap();
    let want: Vec<f32> = (0..16).map(|i| ((i % 4) * 4 + i / 4) as f32).collect();
    assert_eq!(got, want);
    // HBM → TCM of a PE.
    let t = Region::contiguous(TCM, 0, DType::F32, &[4, 4]).unwrap();
    s.copy_region(&src, &t).unwrap();
    assert_eq!(s.read_region_as::<f32>(&t).unwrap(), want);
    // Shape and dtype mismatches.
    let bad = Region::contiguous(TCM, 0, DType::F32, &[2, 8]).unwrap();
    assert_eq!(s.copy_region(&src, &bad).unwrap_err().to_string(), "copy: shape [4, 4] does not match shape [2, 8]");
    let half = Region::contiguous(TCM, 0, DType::F16, &[4, 4]).unwrap();
    assert!(matches!(s.copy_region(&src, &half).unwrap_err(), MemError::DTypeMismatch { .. }));
}

#[test]
fn out_of_range_is_an_error_and_writes_nothing() {
    let mut s = store();
    let err = s.write_bytes(TCM, (1 << 20) - 2, &[1, 2, 3]).unwrap_err();
    assert_eq!(err, MemError::OutOfRange { space: TCM, addr: (1 << 20) - 2, len: 3, capacity: 1 << 20 });
    assert_eq!(
        err.to_string(),
        "access of 3 bytes at 0xffffe in device 0 PE 1 TCM is outside its capacity of 1048576 bytes"
    );
    assert_eq!(s.resident_pages(TCM), 0);
    let mut buf = [0u8; 4];
    assert!(s.read_bytes(TCM, u64::MAX - 1, &mut buf).is_err());
    let r = Region::contiguous(TCM, (1 << 20) - 8, DType::F32, &[4]).unwrap();
    assert!(matches!(s.read_region(&r).unwrap_err(), MemError::OutOfRange { .. }));
    assert!(s.copy_bytes(HBM, 0, TCM, 1 << 20, 1).is_err());
    let unknown = Space::Hbm { device: 9 };
    assert_eq!(
        s.read_bytes(unknown, 0, &mut buf).unwrap_err().to_string(),
        "device 9 HBM is not a space of this memory store"
    );
    assert!(s.add_space(HBM, 1).is_err());
}

#[test]
fn empty_regions_are_fine() {
    let mut s = store();
    let r = Region::contiguous(HBM, 0, DType::F32, &[0, 5]).unwrap();
    assert!(s.read_region(&r).unwrap().is_empty());
    s.write_region(&r, &[]).unwrap();
    assert!(s.write_region(&r, &[1]).is_err());
}
