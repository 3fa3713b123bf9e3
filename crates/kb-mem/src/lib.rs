//! kb-mem: the memory layer of kernbench.
//!
//! It owns what device memory *is*, with no notion of time or ops:
//!
//! - [`DType`]: element types (f16 and bf16 via `half`, f32, f64, i8, i32, i64, u8) with
//!   round-to-nearest-even conversion to and from f32, and the [`Element`] trait tying a Rust type
//!   to its `DType`;
//! - [`Layout`]: shapes and strided layouts (row-major, arbitrary strides, sub-block views) with
//!   overflow-checked element and byte counts;
//! - [`Space`]: a device's HBM or a PE's TCM; an address is a byte offset within a space, and a
//!   [`Region`] is a typed, laid-out block at an address of a space;
//! - [`Allocator`]: one per space, first-fit with power-of-two alignment, coalescing of free
//!   neighbours and a high-water mark;
//! - [`MemoryStore`]: the sparse, paged, zero-initialised memory of every space, with typed and
//!   strided reads and writes and overlap-safe copies.
//!
//! ```
//! use kb_mem::{Allocator, DType, Layout, MemoryStore, Region, Space};
//!
//! let hbm = Space::Hbm { device: 0 };
//! let mut alloc = Allocator::new(hbm, 16 << 30);
//! let mut store = MemoryStore::new();
//! store.add_space(hbm, 16 << 30)?;
//!
//! // A 2×3 f32 matrix, written row-major, read back through a transposed view.
//! let addr = alloc.allocate(6 * 4, 64)?;
//! store.write_slice(hbm, addr, &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let t = Region::new(hbm, addr, DType::F32, Layout::contiguous(&[2, 3])?.transpose(0, 1)?);
//! assert_eq!(store.read_region_as::<f32>(&t)?, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
//! # Ok::<(), kb_mem::MemError>(())
//! ```

mod alloc;
mod dtype;
mod error;
mod layout;
mod space;
mod store;

pub use alloc::Allocator;
pub use dtype::{DType, Element, f64_to_f32_odd, i64_to_f32_odd};
pub use error::MemError;
pub use layout::{Dims, Layout, MAX_RANK};
pub use space::{Region, Space};
pub use store::{MemoryStore, PAGE_SIZE};
