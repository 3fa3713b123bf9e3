//! Allocators and the store together, as the runtime will use them: allocate a block per tensor,
//! write it, move tiles between spaces and devices, free.

use half::bf16;
use kb_mem::{Allocator, DType, Layout, MemoryStore, Region, Space};

#[test]
fn tiles_move_between_hbm_tcm_and_devices() {
    let hbm0 = Space::Hbm { device: 0 };
    let hbm1 = Space::Hbm { device: 1 };
    let tcm = Space::Tcm { device: 0, pe: 2 };
    let mut store = MemoryStore::new();
    let mut allocs = Vec::new();
    for (space, cap) in [(hbm0, 1u64 << 34), (hbm1, 1 << 34), (tcm, 256 << 10)] {
        store.add_space(space, cap).unwrap();
        allocs.push(Allocator::new(space, cap));
    }

    // A 64×48 bf16 matrix in device 0's HBM.
    let (m, n) = (64usize, 48usize);
    let a_addr = allocs[0].allocate((m * n * 2) as u64, 256).unwrap();
    let values: Vec<f32> = (0..m * n).map(|i| (i % 97) as f32 * 0.25 - 8.0).collect();
    let a = Region::contiguous(hbm0, a_addr, DType::BF16, &[m, n]).unwrap();
    store.write_region_f32(&a, &values).unwrap();

    // Load the 16×16 tile at (32, 16) into TCM, then store it to device 1's HBM transposed.
    let tile_addr = allocs[2].allocate(16 * 16 * 2, 64).unwrap();
    let tile = Region::contiguous(tcm, tile_addr, DType::BF16, &[16, 16]).unwrap();
    let src = Region::new(hbm0, a_addr, DType::BF16, a.layout.sub_block(&[32, 16], &[16, 16]).unwrap());
    store.copy_region(&src, &tile).unwrap();
    let out_addr = allocs[1].allocate(16 * 16 * 2, 256).unwrap();
    let out_t =
        Region::new(hbm1, out_addr, DType::BF16, Layout::contiguous(&[16, 16]).unwrap().transpose(0, 1).unwrap());
    store.copy_region(&tile, &out_t).unwrap();

    // Reference: plain loops over the original values (all exactly representable in bf16).
    let got: Vec<bf16> = store.read_slice(hbm1, out_addr, 256).unwrap();
    for r in 0..16 {
        for c in 0..16 {
            assert_eq!(got[r * 16 + c].to_f32(), values[(32 + c) * n + 16 + r], "({r},{c})");
        }
    }

    // Freeing everything restores each space to one free block.
    allocs[2].free(tile_addr).unwrap();
    allocs[1].free(out_addr).unwrap();
    allocs[0].free(a_addr).unwrap();
    for a in &allocs {
        assert_eq!(a.free_blocks().collect::<Vec<_>>(), [(0, a.capacity())]);
    }
}

#[test]
fn tcm_exhaustion_is_a_clear_error() {
    let tcm = Space::Tcm { device: 3, pe: 7 };
    let mut alloc = Allocator::new(tcm, 1 << 20);
    alloc.allocate(768 << 10, 64).unwrap();
    let err = alloc.allocate(512 << 10, 64).unwrap_err();
    assert_eq!(
        err.to_string(),
        "out of memory in device 3 PE 7 TCM: requested 524288 bytes (alignment 64), largest free block is 262144 bytes, 262144 bytes free of 1048576"
    );
}
