//! Shapes and strided layouts: which element offsets a block of memory consists of.
//!
//! A [`Layout`] maps a multi-index `i` of its shape to the element offset
//! `offset + Σ i_k · stride_k`. Strides are in elements and never negative; a stride of 0 repeats
//! an element (a broadcast). Every layout is validated when built, so its element count and span
//! fit in `usize` and later arithmetic cannot overflow.

use crate::{DType, MemError};

/// The largest rank a layout may have.
pub const MAX_RANK: usize = 8;

/// Up to [`MAX_RANK`] extents, strides or indices, stored inline so a layout — or a box of one
/// (an index and an extent per dimension) — never allocates. Reads as a slice.
#[derive(Clone, Copy)]
pub struct Dims {
    len: u8,
    v: [usize; MAX_RANK],
}

impl Dims {
    /// `values`, inline; an error past [`MAX_RANK`] entries.
    pub fn new(values: &[usize]) -> Result<Dims, MemError> {
        if values.len() > MAX_RANK {
            return Err(MemError::RankTooLarge { rank: values.len(), max: MAX_RANK });
        }
        Ok(Dims::from_slice(values))
    }

    /// `rank` zeros; an error past [`MAX_RANK`].
    pub fn zeros(rank: usize) -> Result<Dims, MemError> {
        if rank > MAX_RANK {
            return Err(MemError::RankTooLarge { rank, max: MAX_RANK });
        }
        Ok(Dims { len: rank as u8, v: [0; MAX_RANK] })
    }

    /// `values` must have at most [`MAX_RANK`] entries (checked by every constructor of `Layout`).
    fn from_slice(values: &[usize]) -> Dims {
        let mut v = [0; MAX_RANK];
        v[..values.len()].copy_from_slice(values);
        Dims { len: values.len() as u8, v }
    }
}

impl std::ops::Deref for Dims {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.v[..self.len as usize]
    }
}

impl std::ops::DerefMut for Dims {
    fn deref_mut(&mut self) -> &mut [usize] {
        &mut self.v[..self.len as usize]
    }
}

impl PartialEq for Dims {
    fn eq(&self, other: &Dims) -> bool {
        **self == **other
    }
}

impl Eq for Dims {}

impl std::hash::Hash for Dims {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl std::fmt::Debug for Dims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// Shape, strides (in elements) and element offset of a block. Small and allocation-free: the
/// dimensions are stored inline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    offset: usize,
    shape: Dims,
    strides: Dims,
    numel: usize,
    span: usize,
}

impl Layout {
    /// The element count of `shape`, checked for overflow.
    pub fn count(shape: &[usize]) -> Result<usize, MemError> {
        shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| MemError::Overflow { what: "element count", shape: shape.to_vec() })
    }

    /// The byte count of `shape` in `dtype`, checked for overflow.
    pub fn byte_count(shape: &[usize], dtype: DType) -> Result<usize, MemError> {
        Layout::count(shape)?
            .checked_mul(dtype.size())
            .ok_or_else(|| MemError::Overflow { what: "byte count", shape: shape.to_vec() })
    }

    /// The row-major strides of `shape` (last dimension fastest).
    pub fn row_major_strides(shape: &[usize]) -> Vec<usize> {
        let mut strides = vec![0; shape.len()];
        let mut acc = 1usize;
        for (s, &d) in strides.iter_mut().zip(shape).rev() {
            *s = acc;
            acc = acc.saturating_mul(d.max(1));
        }
        strides
    }

    /// A row-major contiguous layout of `shape` at offset 0.
    pub fn contiguous(shape: &[usize]) -> Result<Layout, MemError> {
        if shape.len() > MAX_RANK {
            return Err(MemError::RankTooLarge { rank: shape.len(), max: MAX_RANK });
        }
        // Row-major strides on the stack: this runs once per op a collective records.
        let mut strides = [0usize; MAX_RANK];
        let mut acc = 1usize;
        for (s, &d) in strides[..shape.len()].iter_mut().zip(shape).rev() {
            *s = acc;
            acc = acc.saturating_mul(d.max(1));
        }
        Layout::strided(0, shape, &strides[..shape.len()])
    }

    /// A contiguous vector of `len` elements at offset 0: `contiguous(&[len])`, built without
    /// checks (a single extent cannot overflow), for callers that make millions of them.
    pub fn vector(len: usize) -> Layout {
        let mut shape = [0; MAX_RANK];
        let mut strides = [0; MAX_RANK];
        shape[0] = len;
        strides[0] = 1;
        Layout {
            offset: 0,
            shape: Dims { len: 1, v: shape },
            strides: Dims { len: 1, v: strides },
            numel: len,
            span: len,
        }
    }

    /// A scalar: rank 0, one element at offset 0.
    pub fn scalar() -> Layout {
        Layout { offset: 0, shape: Dims::from_slice(&[]), strides: Dims::from_slice(&[]), numel: 1, span: 1 }
    }

    /// A layout with explicit element offset and strides. Errors if the rank exceeds
    /// [`MAX_RANK`], the strides are not one per dimension, or the element count or the span
    /// (one past the largest element offset) overflows `usize`.
    pub fn strided(offset: usize, shape: &[usize], strides: &[usize]) -> Result<Layout, MemError> {
        if shape.len() > MAX_RANK {
            return Err(MemError::RankTooLarge { rank: shape.len(), max: MAX_RANK });
        }
        if strides.len() != shape.len() {
            return Err(MemError::RankMismatch { what: "strides", expected: shape.len(), got: strides.len() });
        }
        let numel = Layout::count(shape)?;
        let span = if numel == 0 {
            offset
        } else {
            let overflow = || MemError::Overflow { what: "layout span", shape: shape.to_vec() };
            let mut last = offset;
            for (&d, &s) in shape.iter().zip(strides) {
                let reach = (d - 1).checked_mul(s).ok_or_else(overflow)?;
                last = last.checked_add(reach).ok_or_else(overflow)?;
            }
            last.checked_add(1).ok_or_else(overflow)?
        };
        Ok(Layout { offset, shape: Dims::from_slice(shape), strides: Dims::from_slice(strides), numel, span })
    }

    /// The element offset of the first element (index all zeros).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The extent of each dimension.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The stride of each dimension, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements (1 for a scalar, 0 if any dimension is 0).
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// One past the largest element offset the layout touches (its offset when empty).
    pub fn span(&self) -> usize {
        self.span
    }

    /// The bytes the elements occupy when packed, in `dtype`.
    pub fn nbytes(&self, dtype: DType) -> Result<usize, MemError> {
        Layout::byte_count(&self.shape, dtype)
    }

    /// Whether the elements are row-major and dense (dimensions of extent 1 may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1usize;
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()).rev() {
            if d != 1 && s != expect {
                return false;
            }
            expect = expect.saturating_mul(d);
        }
        true
    }

    /// The element offset of multi-index `index`, or an error if it lies outside the shape.
    pub fn offset_of(&self, index: &[usize]) -> Result<usize, MemError> {
        if index.len() != self.rank() {
            return Err(MemError::RankMismatch { what: "index", expected: self.rank(), got: index.len() });
        }
        if index.iter().zip(self.shape.iter()).any(|(&i, &d)| i >= d) {
            return Err(MemError::OutOfBounds {
                what: "index",
                offsets: index.to_vec(),
                extent: vec![1; index.len()],
                shape: self.shape.to_vec(),
            });
        }
        Ok(self.offset + index.iter().zip(self.strides.iter()).map(|(i, s)| i * s).sum::<usize>())
    }

    /// The sub-block starting at `offsets` with extent `shape`, sharing this layout's strides.
    pub fn sub_block(&self, offsets: &[usize], shape: &[usize]) -> Result<Layout, MemError> {
        for (what, got) in [("sub-block offsets", offsets.len()), ("sub-block shape", shape.len())] {
            if got != self.rank() {
                return Err(MemError::RankMismatch { what, expected: self.rank(), got });
            }
        }
        let fits = offsets
            .iter()
            .zip(shape)
            .zip(self.shape.iter())
            .all(|((&o, &e), &d)| o.checked_add(e).is_some_and(|end| end <= d));
        if !fits {
            return Err(MemError::OutOfBounds {
                what: "sub-block",
                offsets: offsets.to_vec(),
                extent: shape.to_vec(),
                shape: self.shape.to_vec(),
            });
        }
        // Inside the parent's span, so no overflow.
        let start = if Layout::count(shape)? == 0 {
            self.offset
        } else {
            self.offset + offsets.iter().zip(self.strides.iter()).map(|(o, s)| o * s).sum::<usize>()
        };
        Layout::strided(start, shape, &self.strides)
    }

    /// Elements `start, start+step, …` below `end` of dimension `axis`.
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Layout, MemError> {
        self.check_axis(axis)?;
        if start > end || end > self.shape[axis] || step == 0 {
            let mut offsets = vec![0; self.rank()];
            offsets[axis] = start;
            let mut extent = self.shape.to_vec();
            extent[axis] = end.saturating_sub(start);
            return Err(MemError::OutOfBounds { what: "slice", offsets, extent, shape: self.shape.to_vec() });
        }
        let len = (end - start).div_ceil(step);
        let mut offsets = vec![0; self.rank()];
        offsets[axis] = start;
        let mut shape = self.shape.to_vec();
        shape[axis] = len;
        let base = self.sub_block(&offsets, &shape)?;
        let mut strides = self.strides.to_vec();
        // A single element (or none) along the axis needs no real stride; otherwise
        // `stride · step` stays inside the parent's span, which did not overflow.
        if len > 1 {
            strides[axis] = strides[axis]
                .checked_mul(step)
                .ok_or_else(|| MemError::Overflow { what: "slice stride", shape: self.shape.to_vec() })?;
        }
        Layout::strided(base.offset, &shape, &strides)
    }

    /// Swaps two dimensions (a view, no data moves).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Layout, MemError> {
        self.check_axis(a)?;
        self.check_axis(b)?;
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        Ok(out)
    }

    /// Reorders the dimensions: dimension `k` of the result is dimension `order[k]` of `self`.
    pub fn permute(&self, order: &[usize]) -> Result<Layout, MemError> {
        if order.len() != self.rank() {
            return Err(MemError::RankMismatch { what: "permutation", expected: self.rank(), got: order.len() });
        }
        let mut seen = [false; MAX_RANK];
        for &o in order {
            self.check_axis(o)?;
            if std::mem::replace(&mut seen[o], true) {
                return Err(MemError::ShapeMismatch {
                    what: "permutation repeats an axis",
                    left: order.to_vec(),
                    right: (0..self.rank()).collect(),
                });
            }
        }
        let mut out = self.clone();
        for (k, &o) in order.iter().enumerate() {
            out.shape[k] = self.shape[o];
            out.strides[k] = self.strides[o];
        }
        Ok(out)
    }

    /// The same elements viewed as `shape`, which must have the same element count. Only a
    /// contiguous layout can be reshaped without a copy.
    pub fn reshape(&self, shape: &[usize]) -> Result<Layout, MemError> {
        if Layout::count(shape)? != self.numel {
            return Err(MemError::ShapeMismatch {
                what: "reshape changes the element count",
                left: self.shape.to_vec(),
                right: shape.to_vec(),
            });
        }
        if !self.is_contiguous() {
            return Err(MemError::ShapeMismatch {
                what: "reshape of a non-contiguous layout",
                left: self.shape.to_vec(),
                right: shape.to_vec(),
            });
        }
        Layout::strided(self.offset, shape, &Layout::row_major_strides(shape))
    }

    /// Broadcasts to `shape` with numpy's rules: dimensions are matched from the right, an extent of
    /// 1 (or a missing leading dimension) repeats with stride 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout, MemError> {
        let mismatch =
            || MemError::ShapeMismatch { what: "broadcast", left: self.shape.to_vec(), right: shape.to_vec() };
        if shape.len() < self.rank() {
            return Err(mismatch());
        }
        let lead = shape.len() - self.rank();
        let mut strides = vec![0; shape.len()];
        for k in 0..self.rank() {
            let (have, want) = (self.shape[k], shape[lead + k]);
            strides[lead + k] = if have == want {
                self.strides[k]
            } else if have == 1 {
                0
            } else {
                return Err(mismatch());
            };
        }
        Layout::strided(self.offset, shape, &strides)
    }

    /// Calls `f(first_offset, len)` for each maximal run of consecutive element offsets, in row-major
    /// order of the index. Dimensions that are dense with respect to the next are merged, so a
    /// contiguous layout is one run.
    pub fn for_each_run(&self, mut f: impl FnMut(usize, usize)) {
        if self.numel == 0 {
            return;
        }
        // Merge dimensions from the innermost outwards while they stay dense.
        let (dims, strides) = self.merged();
        let rank = dims.len();
        if rank == 0 {
            f(self.offset, 1);
            return;
        }
        let (run, outer_rank) = if strides[rank - 1] == 1 { (dims[rank - 1], rank - 1) } else { (1, rank) };
        let mut index = [0usize; MAX_RANK];
        let mut off = self.offset;
        loop {
            f(off, run);
            // Advance the outer index (dimensions 0..outer_rank), odometer style.
            let mut k = outer_rank;
            loop {
                if k == 0 {
                    return;
                }
                k -= 1;
                index[k] += 1;
                off += strides[k];
                if index[k] < dims[k] {
                    break;
                }
                off -= strides[k] * dims[k];
                index[k] = 0;
            }
        }
    }

    /// Every element offset, in row-major order of the index.
    pub fn offsets(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.numel);
        self.for_each_run(|start, len| out.extend(start..start + len));
        out
    }

    /// Shape and strides with extent-1 dimensions dropped and dense neighbours merged.
    fn merged(&self) -> (Vec<usize>, Vec<usize>) {
        let mut dims: Vec<usize> = Vec::with_capacity(self.rank());
        let mut strides: Vec<usize> = Vec::with_capacity(self.rank());
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()) {
            if d == 1 {
                continue;
            }
            match (dims.last_mut(), strides.last_mut()) {
                (Some(pd), Some(ps)) if *ps == s * d => {
                    *pd *= d;
                    *ps = s;
                }
                _ => {
                    dims.push(d);
                    strides.push(s);
                }
            }
        }
        (dims, strides)
    }

    fn check_axis(&self, axis: usize) -> Result<(), MemError> {
        if axis >= self.rank() {
            return Err(MemError::BadAxis { axis, rank: self.rank() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
