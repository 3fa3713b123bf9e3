//! Tensors: typed, laid-out views of a block of a device's HBM.
//!
//! A tensor shares its storage with its views (`Rc`); the block is freed when the last of them is
//! dropped, and the ops that still touch it fence its address range (see [`crate::memory`]). Every
//! write — `zeros` and `full` included — is an op in the log, so a kernel reading a fresh tensor
//! sees exactly what the program wrote, on every run. Reading a tensor's values on the host goes
//! through the host-read barrier ([`crate::barrier`]).

use std::fmt;
use std::path::Path;
use std::rc::Rc;

use kb_mem::{DType, Element, Layout, Region};
use kb_oplog::{OpKind, Pe};

use crate::barrier::{host_read_barrier, read_storage};
use crate::memory::{StorageId, Touch};
use crate::npy::{NpyArray, read_npy, write_npy};
use crate::{Device, Runtime, SchedError};

/// Frees its storage when dropped.
#[derive(Debug)]
pub(crate) struct StorageHandle {
    pub(crate) rt: Runtime,
    pub(crate) id: StorageId,
}

impl StorageHandle {
    pub(crate) fn new(rt: Runtime, id: StorageId) -> Rc<StorageHandle> {
        Rc::new(StorageHandle { rt, id })
    }
}

impl Drop for StorageHandle {
    fn drop(&mut self) {
        // Borrows of the context are never held while a tensor or tile can be dropped; if one
        // were, the block would stay allocated rather than panic.
        if let Ok(mut inner) = self.rt.inner.try_borrow_mut() {
            inner.release(self.id);
        }
    }
}

/// A tensor in a device's HBM. Clones and views share the storage.
#[derive(Clone)]
pub struct Tensor {
    pub(crate) storage: Rc<StorageHandle>,
    device: u32,
    dtype: DType,
    layout: Layout,
}

impl Tensor {
    pub(crate) fn from_parts(storage: Rc<StorageHandle>, device: u32, dtype: DType, layout: Layout) -> Tensor {
        Tensor { storage, device, dtype, layout }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device whose HBM holds it.
    pub fn device(&self) -> u32 {
        self.device
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The layout (strides and element offset into the storage).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The runtime it belongs to.
    pub fn runtime(&self) -> &Runtime {
        &self.storage.rt
    }

    /// Whether two tensors share a storage.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Rc::ptr_eq(&self.storage, &other.storage)
    }

    pub(crate) fn storage_id(&self) -> StorageId {
        self.storage.id
    }

    /// The whole view, as an access.
    pub(crate) fn touch(&self) -> Touch {
        Touch::whole(self.storage.id, self.dtype.size(), &self.layout)
    }

    /// The region of device memory the tensor views.
    pub fn region(&self) -> Result<Region, SchedError> {
        self.storage.rt.inner.borrow().storage_region(self.storage.id, self.dtype, self.layout.clone())
    }

    fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor { storage: self.storage.clone(), device: self.device, dtype: self.dtype, layout }
    }

    /// A view of the elements `start..end` of dimension `axis` (no copy).
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Tensor, SchedError> {
        Ok(self.with_layout(self.layout.slice(axis, start, end, 1)?))
    }

    /// A view of the block at `offsets` with extent `shape` (no copy).
    pub fn block(&self, offsets: &[usize], shape: &[usize]) -> Result<Tensor, SchedError> {
        Ok(self.with_layout(self.layout.sub_block(offsets, shape)?))
    }

    /// A view with two dimensions swapped (no copy).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor, SchedError> {
        Ok(self.with_layout(self.layout.transpose(a, b)?))
    }

    /// A view with the dimensions reordered (no copy).
    pub fn permute(&self, order: &[usize]) -> Result<Tensor, SchedError> {
        Ok(self.with_layout(self.layout.permute(order)?))
    }

    /// The same elements as `shape` (no copy; the tensor must be contiguous).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor, SchedError> {
        Ok(self.with_layout(self.layout.reshape(shape)?))
    }

    /// Whether the elements are dense and row-major.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Records a DMA on the device's PE 0 copying `src` into `dst`.
    fn record_copy(&self, src: &Tensor) -> Result<(), SchedError> {
        let (src_region, dst_region) = (src.region()?, self.region()?);
        let pe = Pe { device: src.device, pe: 0 };
        let mut inner = self.storage.rt.inner.borrow_mut();
        inner.record(
            kb_oplog::Op::labelled(OpKind::Dma { pe, src: src_region, dst: dst_region }, "copy_from"),
            &[src.touch()],
            &[self.touch()],
            &[],
        )?;
        Ok(())
    }

    /// Copies `src` into this tensor (same shape and dtype; any devices, any layouts). Like a
    /// blocking copy, the host first waits until `src`'s bytes are final (the source side takes the
    /// host-read barrier); the copy itself is a DMA op on PE 0 of `src`'s device, over the links
    /// when the devices differ. The target side takes no barrier.
    pub fn copy_from(&self, src: &Tensor) -> Result<(), SchedError> {
        if src.shape() != self.shape() || src.dtype != self.dtype {
            return Err(SchedError::Invalid {
                op: "copy_from",
                reason: format!(
                    "source is {} {:?} but the target is {} {:?}",
                    src.dtype,
                    src.shape(),
                    self.dtype,
                    self.shape()
                ),
            });
        }
        if !Rc::ptr_eq(&src.storage.rt.inner, &self.storage.rt.inner) {
            return Err(SchedError::Invalid {
                op: "copy_from",
                reason: "the tensors belong to different runtimes".into(),
            });
        }
        if self.storage.rt.keeps_data() {
            host_read_barrier(src, "copy_from")?;
        }
        self.record_copy(src)
    }

    /// Reads the values as `T`: exact when `T` is the tensor's dtype, converted otherwise (to
    /// nearest even; integers saturate).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, SchedError> {
        host_read_barrier(self, "to_vec")?;
        let bytes = read_storage(self)?;
        Ok(convert_bytes::<T>(self.dtype, &bytes))
    }

    /// Reads the values into an `ndarray` of the tensor's shape.
    pub fn to_ndarray<T: Element>(&self) -> Result<ndarray::ArrayD<T>, SchedError> {
        host_read_barrier(self, "to_ndarray")?;
        let bytes = read_storage(self)?;
        let values = convert_bytes::<T>(self.dtype, &bytes);
        ndarray::ArrayD::from_shape_vec(self.shape().to_vec(), values).map_err(kb_mem_shape_error)
    }

    /// Reads one element.
    pub fn get<T: Element>(&self, index: &[usize]) -> Result<T, SchedError> {
        let offset = self
            .layout
            .offset_of(index)
            .map_err(|_| SchedError::Index { index: index.to_vec(), shape: self.shape().to_vec() })?;
        host_read_barrier(self, "get")?;
        let one = self.with_layout(Layout::strided(offset, &[], &[])?);
        let bytes = read_storage(&one)?;
        Ok(convert_bytes::<T>(self.dtype, &bytes)[0])
    }

    /// Writes the tensor to a `.npy` file, as its own dtype (bf16 cannot be written: numpy has no
    /// bfloat16).
    pub fn to_npy(&self, path: &Path) -> Result<(), SchedError> {
        host_read_barrier(self, "to_npy")?;
        let data = read_storage(self)?;
        write_npy(path, &NpyArray { shape: self.shape().to_vec(), dtype: self.dtype, data })?;
        Ok(())
    }
}

fn kb_mem_shape_error(e: ndarray::ShapeError) -> SchedError {
    SchedError::Invalid { op: "to_ndarray", reason: e.to_string() }
}

/// Converts packed elements of `dtype` into `T`.
pub(crate) fn convert_bytes<T: Element>(dtype: DType, bytes: &[u8]) -> Vec<T> {
    if dtype == T::DTYPE {
        return bytes.chunks_exact(dtype.size()).map(bytemuck::pod_read_unaligned).collect();
    }
    bytes.chunks_exact(dtype.size()).map(|b| T::from_f64(dtype.decode_f64(b))).collect()
}

impl Device {
    fn write_host(&self, t: &Tensor, data: Vec<u8>, label: &str) -> Result<(), SchedError> {
        let region = t.region()?;
        let mut inner = self.rt.inner.borrow_mut();
        inner.record(
            kb_oplog::Op::labelled(OpKind::HostWrite { dst: region, data: data.into() }, label),
            &[],
            &[t.touch()],
            &[],
        )?;
        Ok(())
    }

    /// A tensor whose bytes are whatever its block held (no op is recorded).
    pub fn empty(&self, shape: &[usize], dtype: DType) -> Result<Tensor, SchedError> {
        self.rt.alloc_tensor(self.index, shape, dtype)
    }

    /// A tensor of `value` (converted to `dtype`), written by a fill op.
    pub fn full(&self, shape: &[usize], value: f64, dtype: DType) -> Result<Tensor, SchedError> {
        let t = self.empty(shape, dtype)?;
        let region = t.region()?;
        self.rt.inner.borrow_mut().record(
            kb_oplog::Op::labelled(OpKind::Fill { dst: region, value }, "full"),
            &[],
            &[t.touch()],
            &[],
        )?;
        Ok(t)
    }

    /// A tensor of zeros, written by a fill op.
    pub fn zeros(&self, shape: &[usize], dtype: DType) -> Result<Tensor, SchedError> {
        self.full(shape, 0.0, dtype)
    }

    /// A tensor holding `values` (row-major), written by a host-write op.
    pub fn from_slice<T: Element>(&self, shape: &[usize], values: &[T]) -> Result<Tensor, SchedError> {
        let numel = Layout::count(shape)?;
        if values.len() != numel {
            return Err(SchedError::Invalid {
                op: "from_slice",
                reason: format!("shape {shape:?} holds {numel} elements but {} values were given", values.len()),
            });
        }
        let t = self.empty(shape, T::DTYPE)?;
        self.write_host(&t, bytemuck::cast_slice(values).to_vec(), "from_slice")?;
        Ok(t)
    }

    /// A tensor of `dtype` holding `values` converted from f32 (rounded to nearest even).
    pub fn from_f32(&self, shape: &[usize], dtype: DType, values: &[f32]) -> Result<Tensor, SchedError> {
        let numel = Layout::count(shape)?;
        if values.len() != numel {
            return Err(SchedError::Invalid {
                op: "from_f32",
                reason: format!("shape {shape:?} holds {numel} elements but {} values were given", values.len()),
            });
        }
        let t = self.empty(shape, dtype)?;
        let mut data = vec![0u8; numel * dtype.size()];
        dtype.encode_f32_slice(values, &mut data);
        self.write_host(&t, data, "from_f32")?;
        Ok(t)
    }

    /// A tensor holding an `ndarray`'s values, in its shape.
    pub fn from_ndarray<T: Element, D: ndarray::Dimension>(
        &self,
        array: &ndarray::ArrayRef<T, D>,
    ) -> Result<Tensor, SchedError> {
        let values: Vec<T> = array.iter().copied().collect();
        self.from_slice(array.shape(), &values)
    }

    /// A tensor read from a `.npy` file. With `dtype`, values are converted to it (an f32 file
    /// loads as f16, rounding to nearest even); without, the file's own dtype is kept.
    pub fn from_npy(&self, path: &Path, dtype: Option<DType>) -> Result<Tensor, SchedError> {
        let array = read_npy(path)?;
        let dtype = dtype.unwrap_or(array.dtype);
        let t = self.empty(&array.shape, dtype)?;
        let data = if dtype == array.dtype {
            array.data
        } else {
            let values: Vec<f64> =
                array.data.chunks_exact(array.dtype.size()).map(|b| array.dtype.decode_f64(b)).collect();
            let mut data = vec![0u8; values.len() * dtype.size()];
            for (v, out) in values.iter().zip(data.chunks_exact_mut(dtype.size())) {
                dtype.encode_f64(*v, out);
            }
            data
        };
        self.write_host(&t, data, "from_npy")?;
        Ok(t)
    }
}

/// How many values per dimension a printed tensor shows before eliding with `...`.
const EDGE: usize = 3;
/// Tensors up to this many elements print whole.
const PRINT_WHOLE: usize = 1000;

fn format_values(
    f: &mut fmt::Formatter<'_>,
    shape: &[usize],
    values: &[f64],
    float: bool,
    indent: usize,
) -> fmt::Result {
    let summarize = values.len() > PRINT_WHOLE;
    fn rec(
        f: &mut fmt::Formatter<'_>,
        shape: &[usize],
        values: &[f64],
        float: bool,
        summarize: bool,
        indent: usize,
    ) -> fmt::Result {
        if shape.is_empty() {
            return if float { write!(f, "{:?}", values[0]) } else { write!(f, "{}", values[0]) };
        }
        let n = shape[0];
        let inner: usize = shape[1..].iter().product();
        f.write_str("[")?;
        let show: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
            (0..EDGE).map(Some).chain([None]).chain((n - EDGE..n).map(Some)).collect()
        } else {
            (0..n).map(Some).collect()
        };
        for (k, i) in show.iter().enumerate() {
            if k > 0 {
                if shape.len() > 1 {
                    write!(f, ",\n{}", " ".repeat(indent + 1))?;
                } else {
                    f.write_str(", ")?;
                }
            }
            match i {
                Some(i) => rec(f, &shape[1..], &values[i * inner..(i + 1) * inner], float, summarize, indent + 1)?,
                None => f.write_str("...")?,
            }
        }
        f.write_str("]")
    }
    rec(f, shape, values, float, summarize, indent)
}

impl Tensor {
    /// Writes the printed form from the bytes a host read returned (or why there are none).
    fn write_summary(
        &self,
        f: &mut fmt::Formatter<'_>,
        bytes: Result<Vec<u8>, SchedError>,
        debug: bool,
    ) -> fmt::Result {
        let head = if debug { format!("shape={:?}, ", self.shape()) } else { String::new() };
        let values = match bytes {
            Ok(bytes) => bytes.chunks_exact(self.dtype.size()).map(|b| self.dtype.decode_f64(b)).collect::<Vec<f64>>(),
            Err(SchedError::TimingOnly { .. }) => {
                return write!(f, "tensor({head}dtype={}, device={}, <timing-only: no data>)", self.dtype, self.device);
            }
            Err(e) => {
                return write!(f, "tensor({head}dtype={}, device={}, <unreadable: {e}>)", self.dtype, self.device);
            }
        };
        f.write_str("tensor(")?;
        format_values(f, self.shape(), &values, self.dtype.is_float(), 7)?;
        write!(f, ", {head}dtype={}, device={})", self.dtype, self.device)
    }
}

impl fmt::Display for Tensor {
    /// numpy-like: the values (elided with `...` past 1000 elements), dtype and device.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = host_read_barrier(self, "fmt").and_then(|()| read_storage(self));
        self.write_summary(f, bytes, false)
    }
}

impl fmt::Debug for Tensor {
    /// Like `Display`, with the shape.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = host_read_barrier(self, "fmt").and_then(|()| read_storage(self));
        self.write_summary(f, bytes, true)
    }
}

#[cfg(test)]
mod tests;
