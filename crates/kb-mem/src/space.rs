//! Memory spaces (a device's HBM, a PE's TCM) and regions: typed, laid-out blocks inside a space.

use std::fmt;

use crate::{DType, Layout, MemError};

/// One addressable memory. An address is a byte offset within its space, starting at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// The high-bandwidth memory of a device, shared by its PEs.
    Hbm {
        /// The device index.
        device: u32,
    },
    /// The scratchpad (tightly coupled memory) of one processing element of a device.
    Tcm {
        /// The device index.
        device: u32,
        /// The PE index within the device.
        pe: u32,
    },
}

impl Space {
    /// The device this space belongs to.
    pub fn device(self) -> u32 {
        match self {
            Space::Hbm { device } | Space::Tcm { device, .. } => device,
        }
    }

    /// The PE of a TCM space, `None` for HBM.
    pub fn pe(self) -> Option<u32> {
        match self {
            Space::Hbm { .. } => None,
            Space::Tcm { pe, .. } => Some(pe),
        }
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Hbm { device } => write!(f, "device {device} HBM"),
            Space::Tcm { device, pe } => write!(f, "device {device} PE {pe} TCM"),
        }
    }
}

/// A typed block of memory: the elements of `layout`, of type `dtype`, counted from byte address
/// `addr` of `space`. Element `i` (a multi-index) lives at byte
/// `addr + (layout.offset() + Σ i_k · stride_k) · dtype.size()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region {
    /// The space the block lives in.
    pub space: Space,
    /// The base byte address the layout's element offsets count from.
    pub addr: u64,
    /// The element type.
    pub dtype: DType,
    /// Shape, strides and element offset.
    pub layout: Layout,
}

impl Region {
    /// A region from its parts.
    pub fn new(space: Space, addr: u64, dtype: DType, layout: Layout) -> Region {
        Region { space, addr, dtype, layout }
    }

    /// A row-major contiguous region of `shape` starting at `addr`.
    pub fn contiguous(space: Space, addr: u64, dtype: DType, shape: &[usize]) -> Result<Region, MemError> {
        Ok(Region::new(space, addr, dtype, Layout::contiguous(shape)?))
    }

    /// The shape of the block.
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The bytes the elements occupy when packed (numel × dtype size).
    pub fn nbytes(&self) -> usize {
        // Saturates rather than wraps: a broadcast layout (stride 0) may hold more elements than
        // its span, so the element count times the size was never checked when it was built.
        self.numel().saturating_mul(self.dtype.size())
    }

    /// The half-open byte range `[start, end)` the region touches, or `None` when it is empty.
    /// Errors if the end does not fit in a `u64`.
    pub fn byte_range(&self) -> Result<Option<(u64, u64)>, MemError> {
        if self.numel() == 0 {
            return Ok(None);
        }
        let size = self.dtype.size() as u64;
        let overflow = || MemError::Overflow { what: "byte address", shape: self.shape().to_vec() };
        let first = (self.layout.offset() as u64).checked_mul(size).and_then(|b| b.checked_add(self.addr));
        let end = (self.layout.span() as u64).checked_mul(size).and_then(|b| b.checked_add(self.addr));
        match (first, end) {
            (Some(first), Some(end)) => Ok(Some((first, end))),
            _ => Err(overflow()),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} at {:#x} of {}", self.dtype, self.shape(), self.addr, self.space)
    }
}
