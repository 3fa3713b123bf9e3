//! Example: allocate a matrix in HBM, copy one tile into a PE's scratchpad through a strided
//! view, and check the bytes against plain indexing. Run with
//! `cargo run -p kb-mem --example strided_tiles`.

#![allow(clippy::print_stdout)] // An example reports to the person running it.

use kb_mem::{Allocator, DType, MemError, MemoryStore, Region, Space};

fn main() -> Result<(), MemError> {
    let hbm = Space::Hbm { device: 0 };
    let tcm = Space::Tcm { device: 0, pe: 0 };
    let mut store = MemoryStore::new();
    store.add_space(hbm, 16 << 30)?;
    store.add_space(tcm, 512 << 10)?;
    let mut hbm_alloc = Allocator::new(hbm, 16 << 30);
    let mut tcm_alloc = Allocator::new(tcm, 512 << 10);

    // A 128×96 f16 matrix, A[r][c] = r - c / 4.
    let (rows, cols) = (128usize, 96usize);
    let a_addr = hbm_alloc.allocate((rows * cols * DType::F16.size()) as u64, 256)?;
    let a = Region::contiguous(hbm, a_addr, DType::F16, &[rows, cols])?;
    let values: Vec<f32> = (0..rows * cols).map(|i| (i / cols) as f32 - (i % cols) as f32 / 4.0).collect();
    store.write_region_f32(&a, &values)?;

    // Copy the 32×32 tile at block (2, 1) into TCM.
    let (tr, tc) = (2 * 32, 32);
    let tile_addr = tcm_alloc.allocate(32 * 32 * 2, 64)?;
    let tile = Region::contiguous(tcm, tile_addr, DType::F16, &[32, 32])?;
    let view = Region::new(hbm, a_addr, DType::F16, a.layout.sub_block(&[tr, tc], &[32, 32])?);
    store.copy_region(&view, &tile)?;

    let got = store.read_region_f32(&tile)?;
    for r in 0..32 {
        for c in 0..32 {
            assert_eq!(got[r * 32 + c], values[(tr + r) * cols + tc + c]);
        }
    }
    tcm_alloc.free(tile_addr)?;
    hbm_alloc.free(a_addr)?;
    println!(
        "copied a 32×32 f16 tile; HBM high-water {} bytes, store holds {} bytes of pages",
        hbm_alloc.high_water(),
        store.resident_bytes()
    );
    Ok(())
}
