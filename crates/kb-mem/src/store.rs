//! The memory store: the bytes of every space, sparse and paged.
//!
//! A space's bytes live in pages of [`PAGE_SIZE`] bytes that exist only once something non-zero
//! was written to them; everything else reads as zero. A 16 GiB HBM holding 1 MiB of data costs
//! about 1 MiB. Reads never allocate. Every access is checked against the space's capacity.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::{DType, Element, MemError, Region, Space};

/// Bytes per page of the store.
pub const PAGE_SIZE: usize = 64 * 1024;

/// The bytes of a set of spaces.
#[derive(Default)]
pub struct MemoryStore {
    spaces: BTreeMap<Space, SpaceMem>,
}

struct SpaceMem {
    capacity: u64,
    /// Page index → page. The map is only looked up, never iterated into a result.
    pages: HashMap<u64, Box<[u8]>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (space, mem) in &self.spaces {
            m.entry(&space.to_string(), &format_args!("{} bytes, {} pages resident", mem.capacity, mem.pages.len()));
        }
        m.finish()
    }
}

impl SpaceMem {
    fn read(&self, addr: u64, out: &mut [u8]) {
        let mut pos = 0;
        let mut a = addr;
        while pos < out.len() {
            let (page, in_page) = (a / PAGE_SIZE as u64, (a % PAGE_SIZE as u64) as usize);
            let n = (PAGE_SIZE - in_page).min(out.len() - pos);
            let dst = &mut out[pos..pos + n];
            match self.pages.get(&page) {
                Some(p) => dst.copy_from_slice(&p[in_page..in_page + n]),
                None => dst.fill(0),
            }
            pos += n;
            a += n as u64;
        }
    }

    fn write(&mut self, addr: u64, data: &[u8]) {
        let mut pos = 0;
        let mut a = addr;
        while pos < data.len() {
            let (page, in_page) = (a / PAGE_SIZE as u64, (a % PAGE_SIZE as u64) as usize);
            let n = (PAGE_SIZE - in_page).min(data.len() - pos);
            let src = &data[pos..pos + n];
            match self.pages.get_mut(&page) {
                Some(p) => p[in_page..in_page + n].copy_from_slice(src),
                // Zeros into a page that does not exist change nothing: it already reads as zero.
                None if src.iter().all(|&b| b == 0) => {}
                None => {
                    let mut p = vec![0u8; PAGE_SIZE].into_boxed_slice();
                    p[in_page..in_page + n].copy_from_slice(src);
                    self.pages.insert(page, p);
                }
            }
            pos += n;
            a += n as u64;
        }
    }
}

/// How a strided region is moved: whole span at once when it is dense enough, run by run
/// otherwise.
fn span_is_dense(span: u64, packed: usize) -> bool {
    span <= 2 * packed as u64 + PAGE_SIZE as u64
}

impl MemoryStore {
    /// An empty store with no spaces.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Adds a space of `capacity` bytes, all zero. Adding a space twice is an error.
    pub fn add_space(&mut self, space: Space, capacity: u64) -> Result<(), MemError> {
        if self.spaces.contains_key(&space) {
            return Err(MemError::SpaceExists { space });
        }
        self.spaces.insert(space, SpaceMem { capacity, pages: HashMap::new() });
        Ok(())
    }

    /// The capacity of `space`, if the store holds it.
    pub fn capacity(&self, space: Space) -> Option<u64> {
        self.spaces.get(&space).map(|m| m.capacity)
    }

    /// Pages of `space` that hold data (0 for an unknown space).
    pub fn resident_pages(&self, space: Space) -> usize {
        self.spaces.get(&space).map_or(0, |m| m.pages.len())
    }

    /// Bytes of page memory held across all spaces.
    pub fn resident_bytes(&self) -> u64 {
        self.spaces.values().map(|m| (m.pages.len() * PAGE_SIZE) as u64).sum()
    }

    fn check(&self, space: Space, addr: u64, len: u64) -> Result<&SpaceMem, MemError> {
        let mem = self.spaces.get(&space).ok_or(MemError::UnknownSpace { space })?;
        match addr.checked_add(len) {
            Some(end) if end <= mem.capacity => Ok(mem),
            _ => Err(MemError::OutOfRange { space, addr, len, capacity: mem.capacity }),
        }
    }

    fn check_mut(&mut self, space: Space, addr: u64, len: u64) -> Result<&mut SpaceMem, MemError> {
        self.check(space, addr, len)?;
        Ok(self.spaces.get_mut(&space).expect("checked above"))
    }

    /// Reads `out.len()` bytes starting at `addr` of `space`.
    pub fn read_bytes(&self, space: Space, addr: u64, out: &mut [u8]) -> Result<(), MemError> {
        self.check(space, addr, out.len() as u64)?.read(addr, out);
        Ok(())
    }

    /// Writes `data` starting at `addr` of `space`.
    pub fn write_bytes(&mut self, space: Space, addr: u64, data: &[u8]) -> Result<(), MemError> {
        self.check_mut(space, addr, data.len() as u64)?.write(addr, data);
        Ok(())
    }

    /// Reads `n` packed elements of type `T` starting at `addr`.
    pub fn read_slice<T: Element>(&self, space: Space, addr: u64, n: usize) -> Result<Vec<T>, MemError> {
        let mut out = vec![T::zeroed(); n];
        self.read_bytes(space, addr, bytemuck::cast_slice_mut(&mut out))?;
        Ok(out)
    }

    /// Writes packed elements of type `T` starting at `addr`.
    pub fn write_slice<T: Element>(&mut self, space: Space, addr: u64, data: &[T]) -> Result<(), MemError> {
        self.write_bytes(space, addr, bytemuck::cast_slice(data))
    }

    /// Checks `region` against its space and returns its byte range, `None` when empty.
    fn check_region(&self, region: &Region) -> Result<Option<(u64, u64)>, MemError> {
        let Some((start, end)) = region.byte_range()? else {
            // Still name an unknown space.
            self.spaces.get(&region.space).ok_or(MemError::UnknownSpace { space: region.space })?;
            return Ok(None);
        };
        self.check(region.space, start, end - start)?;
        Ok(Some((start, end)))
    }

    /// Reads the elements of `region` into `out`, packed in row-major order of the region's index.
    /// `out.len()` must be the region's packed byte count.
    pub fn read_region_into(&self, region: &Region, out: &mut [u8]) -> Result<(), MemError> {
        if out.len() != region.nbytes() {
            return Err(MemError::LengthMismatch {
                what: "read of a region",
                expected: region.nbytes(),
                got: out.len(),
            });
        }
        let Some((start, end)) = self.check_region(region)? else { return Ok(()) };
        let mem = &self.spaces[&region.space];
        let es = region.dtype.size();
        if region.layout.is_contiguous() {
            mem.read(start, out);
            return Ok(());
        }
        let mut pos = 0;
        if span_is_dense(end - start, out.len()) {
            let mut span = vec![0u8; (end - start) as usize];
            mem.read(start, &mut span);
            let base = region.layout.offset();
            region.layout.for_each_run(|off, len| {
                let from = (off - base) * es;
                out[pos..pos + len * es].copy_from_slice(&span[from..from + len * es]);
                pos += len * es;
            });
        } else {
            region.layout.for_each_run(|off, len| {
                mem.read(region.addr + (off * es) as u64, &mut out[pos..pos + len * es]);
                pos += len * es;
            });
        }
        Ok(())
    }

    /// Reads the elements of `region`, packed in row-major order of the region's index.
    pub fn read_region(&self, region: &Region) -> Result<Vec<u8>, MemError> {
        let mut out = vec![0u8; region.nbytes()];
        self.read_region_into(region, &mut out)?;
        Ok(out)
    }

    /// Writes packed row-major `data` into the elements of `region`. Where a broadcast layout maps
    /// several elements to one address, the last in row-major order wins.
    pub fn write_region(&mut self, region: &Region, data: &[u8]) -> Result<(), MemError> {
        if data.len() != region.nbytes() {
            return Err(MemError::LengthMismatch {
                what: "write of a region",
                expected: region.nbytes(),
                got: data.len(),
            });
        }
        let Some((start, end)) = self.check_region(region)? else { return Ok(()) };
        let es = region.dtype.size();
        let mem = self.spaces.get_mut(&region.space).expect("checked above");
        if region.layout.is_contiguous() {
            mem.write(start, data);
            return Ok(());
        }
        let mut pos = 0;
        if span_is_dense(end - start, data.len()) {
            let mut span = vec![0u8; (end - start) as usize];
            mem.read(start, &mut span);
            let base = region.layout.offset();
            region.layout.for_each_run(|off, len| {
                let to = (off - base) * es;
                span[to..to + len * es].copy_from_slice(&data[pos..pos + len * es]);
                pos += len * es;
            });
            mem.write(start, &span);
        } else {
            region.layout.for_each_run(|off, len| {
                mem.write(region.addr + (off * es) as u64, &data[pos..pos + len * es]);
                pos += len * es;
            });
        }
        Ok(())
    }

    fn check_dtype<T: Element>(what: &'static str, region: &Region) -> Result<(), MemError> {
        if region.dtype != T::DTYPE {
            return Err(MemError::DTypeMismatch { what, region: region.dtype, access: T::DTYPE });
        }
        Ok(())
    }

    /// Reads `region` as elements of `T`, which must be the region's dtype.
    pub fn read_region_as<T: Element>(&self, region: &Region) -> Result<Vec<T>, MemError> {
        MemoryStore::check_dtype::<T>("typed read", region)?;
        let mut out = vec![T::zeroed(); region.numel()];
        self.read_region_into(region, bytemuck::cast_slice_mut(&mut out))?;
        Ok(out)
    }

    /// Writes elements of `T`, which must be the region's dtype, into `region`.
    pub fn write_region_from<T: Element>(&mut self, region: &Region, data: &[T]) -> Result<(), MemError> {
        MemoryStore::check_dtype::<T>("typed write", region)?;
        self.write_region(region, bytemuck::cast_slice(data))
    }

    /// Reads `region` (any dtype) converted to f32.
    pub fn read_region_f32(&self, region: &Region) -> Result<Vec<f32>, MemError> {
        if region.dtype == DType::F32 {
            return self.read_region_as::<f32>(region);
        }
        let bytes = self.read_region(region)?;
        let mut out = vec![0f32; region.numel()];
        region.dtype.decode_f32_slice(&bytes, &mut out);
        Ok(out)
    }

    /// Writes f32 values into `region` (any dtype), rounding to nearest even.
    pub fn write_region_f32(&mut self, region: &Region, data: &[f32]) -> Result<(), MemError> {
        if data.len() != region.numel() {
            return Err(MemError::LengthMismatch {
                what: "f32 write of a region",
                expected: region.nbytes(),
                got: data.len().saturating_mul(region.dtype.size()),
            });
        }
        let mut bytes = vec![0u8; region.nbytes()];
        region.dtype.encode_f32_slice(data, &mut bytes);
        self.write_region(region, &bytes)
    }

    /// Sets every element of `region` to `element`, the bytes of one element of its dtype.
    pub fn fill_region(&mut self, region: &Region, element: &[u8]) -> Result<(), MemError> {
        if element.len() != region.dtype.size() {
            return Err(MemError::LengthMismatch {
                what: "fill element",
                expected: region.dtype.size(),
                got: element.len(),
            });
        }
        let data = element.repeat(region.numel());
        self.write_region(region, &data)
    }

    /// Copies the elements of `src` into `dst` (same shape and dtype; any spaces, devices and
    /// layouts). Correct when the two overlap: the source is read whole before anything is written.
    pub fn copy_region(&mut self, src: &Region, dst: &Region) -> Result<(), MemError> {
        if src.shape() != dst.shape() {
            return Err(MemError::ShapeMismatch {
                what: "copy",
                left: src.shape().to_vec(),
                right: dst.shape().to_vec(),
            });
        }
        if src.dtype != dst.dtype {
            return Err(MemError::DTypeMismatch {
                what: "copy (a cast is not a copy)",
                region: dst.dtype,
                access: src.dtype,
            });
        }
        self.check_region(dst)?;
        let bytes = self.read_region(src)?;
        self.write_region(dst, &bytes)
    }

    /// Copies `len` bytes from `src_addr` of `src_space` to `dst_addr` of `dst_space`, correct
    /// when the ranges overlap.
    pub fn copy_bytes(
        &mut self,
        src_space: Space,
        src_addr: u64,
        dst_space: Space,
        dst_addr: u64,
        len: u64,
    ) -> Result<(), MemError> {
        self.check(dst_space, dst_addr, len)?;
        self.check(src_space, src_addr, len)?;
        // Copy a page-sized chunk at a time, in the direction that never reads a byte after it
        // was overwritten (as memmove does).
        let forward = src_space != dst_space || dst_addr <= src_addr;
        let chunk = PAGE_SIZE as u64;
        let mut buf = vec![0u8; chunk.min(len) as usize];
        let mut done = 0u64;
        while done < len {
            let n = chunk.min(len - done);
            let at = if forward { done } else { len - done - n };
            let b = &mut buf[..n as usize];
            self.spaces[&src_space].read(src_addr + at, b);
            self.spaces.get_mut(&dst_space).expect("checked above").write(dst_addr + at, b);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
