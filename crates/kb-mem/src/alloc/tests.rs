use proptest::prelude::*;

use super::*;

const HBM: Space = Space::Hbm { device: 0 };

#[test]
fn alignment_is_honoured_and_padding_stays_free() {
    let mut a = Allocator::new(HBM, 4096);
    assert_eq!(a.allocate(10, 1).unwrap(), 0);
    let b = a.allocate(100, 256).unwrap();
    assert_eq!(b, 256);
    // The padding [10, 256) is free and the next small request lands in it.
    assert_eq!(a.allocate(8, 8).unwrap(), 16);
    assert_eq!(a.used(), 118);
    let err = a.allocate(8, 3).unwrap_err();
    assert_eq!(err.to_string(), "alignment 3 for device 0 HBM is not a power of two");
    assert!(a.allocate(8, 0).is_err());
}

#[test]
fn freeing_coalesces_neighbours() {
    let mut a = Allocator::new(HBM, 300);
    let x = a.allocate(100, 1).unwrap();
    let y = a.allocate(100, 1).unwrap();
    let z = a.allocate(100, 1).unwrap();
    assert_eq!(a.free_blocks().count(), 0);
    a.free(x).unwrap();
    a.free(z).unwrap();
    assert_eq!(a.free_blocks().collect::<Vec<_>>(), [(0, 100), (200, 100)]);
    a.free(y).unwrap(); // merges with both neighbours
    assert_eq!(a.free_blocks().collect::<Vec<_>>(), [(0, 300)]);
    assert_eq!((a.used(), a.high_water()), (0, 300));
}

#[test]
fn fragmentation_is_reported_in_the_oom_message() {
    let mut a = Allocator::new(Space::Tcm { device: 1, pe: 3 }, 1000);
    let blocks: Vec<u64> = (0..10).map(|_| a.allocate(100, 1).unwrap()).collect();
    for b in blocks.iter().step_by(2) {
        a.free(*b).unwrap();
    }
    // 500 bytes free, but in five blocks of 100.
    assert_eq!((a.free_bytes(), a.largest_free_block()), (500, 100));
    let err = a.allocate(200, 1).unwrap_err();
    assert_eq!(
        err,
        MemError::OutOfMemory {
            space: Space::Tcm { device: 1, pe: 3 },
            requested: 200,
            align: 1,
            largest_free: 100,
            free: 500,
            capacity: 1000
        }
    );
    assert_eq!(
        err.to_string(),
        "out of memory in device 1 PE 3 TCM: requested 200 bytes (alignment 1), largest free block is 100 bytes, 500 bytes free of 1000"
    );
    // The failed call changed nothing; a fitting request still succeeds.
    assert_eq!(a.free_bytes(), 500);
    assert_eq!(a.allocate(100, 1).unwrap(), 0);
}

#[test]
fn alignment_can_cause_oom_with_enough_free_bytes() {
    let mut a = Allocator::new(HBM, 256);
    a.allocate(1, 1).unwrap();
    let err = a.allocate(200, 128).unwrap_err();
    assert!(matches!(err, MemError::OutOfMemory { largest_free: 255, .. }), "{err}");
}

#[test]
fn double_and_foreign_frees_are_errors() {
    let mut a = Allocator::new(HBM, 1024);
    let x = a.allocate(64, 64).unwrap();
    assert_eq!(a.free(x).unwrap(), 64);
    let err = a.free(x).unwrap_err();
    assert_eq!(err, MemError::DoubleFree { space: HBM, addr: x });
    assert_eq!(
        err.to_string(),
        "double free in device 0 HBM: address 0x0 is not allocated (already freed or never allocated)"
    );
    let y = a.allocate(64, 64).unwrap();
    assert_eq!(
        a.free(y + 8).unwrap_err().to_string(),
        "free of foreign address 0x8 in device 0 HBM: it lies inside the live block of 64 bytes at 0x0"
    );
    assert_eq!(
        a.free(4096).unwrap_err().to_string(),
        "free of foreign address 0x1000 in device 0 HBM: it is outside the space's capacity of 1024 bytes"
    );
    // Errors changed nothing.
    assert_eq!(a.size_of(y), Some(64));
    assert_eq!(a.used(), 64);
}

#[test]
fn zero_sized_requests_get_distinct_addresses() {
    let mut a = Allocator::new(HBM, 16);
    let p = a.allocate(0, 1).unwrap();
    let q = a.allocate(0, 1).unwrap();
    assert_ne!(p, q);
    let mut empty = Allocator::new(HBM, 0);
    assert!(empty.allocate(0, 1).is_err());
}

#[derive(Debug, Clone)]
enum Step {
    Alloc { size: u64, align_log2: u32 },
    Free { pick: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..300, 0u32..8).prop_map(|(size, align_log2)| Step::Alloc { size, align_log2 }),
        any::<usize>().prop_map(|pick| Step::Free { pick }),
    ]
}

proptest! {
    #[test]
    fn live_blocks_never_overlap_and_freeing_all_restores_one_block(steps in proptest::collection::vec(step(), 1..200)) {
        let capacity = 4096;
        let mut a = Allocator::new(HBM, capacity);
        let mut live: Vec<(u64, u64)> = Vec::new();
        for s in steps {
            match s {
                Step::Alloc { size, align_log2 } => {
                    let align = 1u64 << align_log2;
                    if let Ok(addr) = a.allocate(size, align) {
                        prop_assert_eq!(addr % align, 0);
                        let len = size.max(1);
                        prop_assert!(addr + len <= capacity);
                        for &(s, l) in &live {
                            prop_assert!(addr + len <= s || s + l <= addr, "overlap: {addr}+{len} with {s}+{l}");
                        }
                        live.push((addr, len));
                    }
                }
                Step::Free { pick } => {
                    if !live.is_empty() {
                        let (addr, len) = live.swap_remove(pick % live.len());
                        prop_assert_eq!(a.free(addr).unwrap(), len);
                    }
                }
            }
            let used: u64 = live.iter().map(|b| b.1).sum();
            prop_assert_eq!(a.used(), used);
            prop_assert!(a.high_water() >= used);
            // Free blocks are never adjacent (always coalesced).
            let free: Vec<(u64, u64)> = a.free_blocks().collect();
            for w in free.windows(2) {
                prop_assert!(w[0].0 + w[0].1 < w[1].0);
            }
        }
        for (addr, _) in live.drain(..) {
            a.free(addr).unwrap();
        }
        prop_assert_eq!(a.free_blocks().collect::<Vec<_>>(), vec![(0, capacity)]);
        prop_assert_eq!(a.used(), 0);
    }
}
