//! One allocator per memory space: first fit, power-of-two alignment, coalescing free list.
//!
//! Free and live blocks are kept in ordered maps keyed by address, so every query is
//! deterministic. A failed call never changes the allocator.

use std::collections::BTreeMap;

use crate::{MemError, Space};

/// Hands out byte ranges of one [`Space`].
#[derive(Debug, Clone)]
pub struct Allocator {
    space: Space,
    capacity: u64,
    /// Free blocks, start → length. Never two adjacent (they are coalesced), never empty.
    free: BTreeMap<u64, u64>,
    /// Live blocks, start → length.
    live: BTreeMap<u64, u64>,
    used: u64,
    high_water: u64,
}

impl Allocator {
    /// An allocator for `capacity` bytes of `space`, all free.
    pub fn new(space: Space, capacity: u64) -> Allocator {
        let mut free = BTreeMap::new();
        if capacity > 0 {
            free.insert(0, capacity);
        }
        Allocator { space, capacity, free, live: BTreeMap::new(), used: 0, high_water: 0 }
    }

    /// The space this allocator hands out.
    pub fn space(&self) -> Space {
        self.space
    }

    /// Total bytes of the space.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes in live blocks.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Bytes not in live blocks.
    pub fn free_bytes(&self) -> u64 {
        self.capacity - self.used
    }

    /// The largest number of bytes that were live at once since the allocator was made.
    pub fn high_water(&self) -> u64 {
        self.high_water
    }

    /// The length of the largest free block.
    pub fn largest_free_block(&self) -> u64 {
        self.free.values().copied().max().unwrap_or(0)
    }

    /// Live blocks as `(start, length)`, by address.
    pub fn live_blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.live.iter().map(|(&a, &l)| (a, l))
    }

    /// Free blocks as `(start, length)`, by address.
    pub fn free_blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.free.iter().map(|(&a, &l)| (a, l))
    }

    /// The length of the live block starting at `addr`, if there is one.
    pub fn size_of(&self, addr: u64) -> Option<u64> {
        self.live.get(&addr).copied()
    }

    /// Allocates `size` bytes aligned to `align` (a power of two) from the lowest free address
    /// that fits, and returns the start. A request of 0 bytes reserves 1 so every live block has
    /// a distinct address.
    pub fn allocate(&mut self, size: u64, align: u64) -> Result<u64, MemError> {
        if !align.is_power_of_two() {
            return Err(MemError::BadAlignment { space: self.space, align });
        }
        let size = size.max(1);
        let fit = self.free.iter().find_map(|(&start, &len)| {
            let aligned = start.checked_add(align - 1)? & !(align - 1);
            let end = aligned.checked_add(size)?;
            (end <= start + len).then_some((start, len, aligned))
        });
        let Some((start, len, aligned)) = fit else {
            return Err(MemError::OutOfMemory {
                space: self.space,
                requested: size,
                align,
                largest_free: self.largest_free_block(),
                free: self.free_bytes(),
                capacity: self.capacity,
            });
        };
        self.free.remove(&start);
        if aligned > start {
            self.free.insert(start, aligned - start);
        }
        let end = aligned + size;
        if end < start + len {
            self.free.insert(end, start + len - end);
        }
        self.live.insert(aligned, size);
        self.used += size;
        self.high_water = self.high_water.max(self.used);
        Ok(aligned)
    }

    /// Frees the live block starting at `addr`, merging it with free neighbours, and returns its
    /// length. Freeing an address that is free, outside the space or inside a live block is an
    /// error.
    pub fn free(&mut self, addr: u64) -> Result<u64, MemError> {
        let Some(len) = self.live.remove(&addr) else {
            return Err(self.bad_free(addr));
        };
        self.used -= len;
        let mut start = addr;
        let mut end = addr + len;
        if let Some((&prev, &plen)) = self.free.range(..addr).next_back()
            && prev + plen == addr
        {
            self.free.remove(&prev);
            start = prev;
        }
        if let Some(&nlen) = self.free.get(&end) {
            self.free.remove(&end);
            end += nlen;
        }
        self.free.insert(start, end - start);
        Ok(len)
    }

    fn bad_free(&self, addr: u64) -> MemError {
        if addr >= self.capacity {
            return MemError::ForeignAddress {
                space: self.space,
                addr,
                reason: format!("it is outside the space's capacity of {} bytes", self.capacity),
            };
        }
        if let Some((&start, &len)) = self.live.range(..addr).next_back()
            && addr < start + len
        {
            return MemError::ForeignAddress {
                space: self.space,
                addr,
                reason: format!("it lies inside the live block of {len} bytes at {start:#x}"),
            };
        }
        MemError::DoubleFree { space: self.space, addr }
    }
}

#[cfg(test)]
mod tests;
