//! The tile-kernel language (the Triton model, in Rust) and `launch`.
//!
//! A kernel is a Rust closure over a [`Program`]: it runs once per program instance of the grid,
//! shape-only, and every tile operation it performs records an op. `program_id(axis)` and
//! `num_programs(axis)` say which instance it is; [`BlockPtr`]s name blocks of tensors (with
//! boundary checks: loads pad with zeros, stores are masked); [`Tile`]s live in the executing PE's
//! TCM and are freed when dropped; `dot` runs on the GEMM unit with f32 accumulation, elementwise
//! math, casts and reductions on the vector unit.
//!
//! Dispatch: program instances are taken in grid order (axis 0 fastest) and each goes to the PE
//! of the device that frees first, by the cost model's uncontended estimate of the programs
//! already placed (ties to the lowest PE). A PE runs one program at a time: every op of a program
//! starts after the previous program on that PE has ended, and after the previous launch on the
//! same stream. The launch returns a [`Work`] handle on a join of all its programs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use kb_mem::{DType, Layout, MemError, Region, Space};
use kb_oplog::{BinaryOp, Op, OpId, OpKind, Pe, ReduceKind, UnaryOp, VectorOp};

use crate::memory::Touch;
use crate::tensor::StorageHandle;
use crate::{Device, Runtime, SchedError, Tensor, Work};

/// The grid of a launch: program instances along up to three axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid(pub [usize; 3]);

impl Grid {
    /// The number of program instances.
    pub fn programs(&self) -> usize {
        self.0.iter().product()
    }
}

impl From<usize> for Grid {
    fn from(x: usize) -> Grid {
        Grid([x, 1, 1])
    }
}

impl From<(usize, usize)> for Grid {
    fn from((x, y): (usize, usize)) -> Grid {
        Grid([x, y, 1])
    }
}

impl From<(usize, usize, usize)> for Grid {
    fn from((x, y, z): (usize, usize, usize)) -> Grid {
        Grid([x, y, z])
    }
}

/// A block of a tensor: where it starts and its shape. Parts outside the tensor load as zeros and
/// are not stored.
#[derive(Debug, Clone)]
pub struct BlockPtr {
    tensor: Tensor,
    offsets: Vec<usize>,
    block: Vec<usize>,
}

impl BlockPtr {
    /// The block's start, per dimension.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The block's shape.
    pub fn block_shape(&self) -> &[usize] {
        &self.block
    }

    /// Moves the block by `deltas` elements per dimension (it may move past the tensor's end).
    pub fn advance(&mut self, deltas: &[isize]) -> Result<(), SchedError> {
        if deltas.len() != self.offsets.len() {
            return Err(SchedError::Invalid {
                op: "advance",
                reason: format!("{} deltas for a block of rank {}", deltas.len(), self.offsets.len()),
            });
        }
        let moved: Option<Vec<usize>> =
            self.offsets.iter().zip(deltas).map(|(&o, &d)| o.checked_add_signed(d)).collect();
        self.offsets = moved.ok_or_else(|| SchedError::Invalid {
            op: "advance",
            reason: format!("offsets {:?} moved by {deltas:?} go below zero", self.offsets),
        })?;
        Ok(())
    }

    /// The in-bounds extent of the block per dimension (0 where it lies wholly outside).
    fn extent(&self) -> Vec<usize> {
        self.offsets
            .iter()
            .zip(&self.block)
            .zip(self.tensor.shape())
            .map(|((&o, &b), &s)| s.saturating_sub(o).min(b))
            .collect()
    }
}

/// A tile: a dense row-major block in the executing PE's TCM. Freed when dropped.
#[derive(Debug)]
pub struct Tile {
    storage: Rc<StorageHandle>,
    region: Region,
}

impl Tile {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.region.shape()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.region.dtype
    }

    /// Where it lives.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The whole tile, as an access.
    fn touch(&self) -> Touch {
        Touch::whole(self.storage.id, self.region.dtype.size(), &self.region.layout)
    }
}

/// The estimate the dispatcher keeps of a program: when each op ends, uncontended.
#[derive(Debug, Default)]
struct Estimate {
    start: u64,
    end: u64,
    op_end: HashMap<OpId, u64>,
    /// When each unit the program used frees, by resource index: a handful, searched in order.
    unit_free: Vec<(u32, u64)>,
}

impl Estimate {
    /// When unit `r` frees, if the program used it.
    fn unit_free(&self, r: u32) -> Option<u64> {
        self.unit_free.iter().find(|u| u.0 == r).map(|u| u.1)
    }

    /// Unit `r` frees at `end`.
    fn set_unit_free(&mut self, r: u32, end: u64) {
        match self.unit_free.iter_mut().find(|u| u.0 == r) {
            Some(u) => u.1 = end,
            None => self.unit_free.push((r, end)),
        }
    }
}

/// Op labels (`kernel: what`), made once per launch: a handful, searched in order.
type Labels = RefCell<Vec<(&'static str, Arc<str>)>>;

/// One program instance of a launch, as the kernel sees it.
#[derive(Debug)]
pub struct Program<'a> {
    rt: &'a Runtime,
    kernel: &'a str,
    device: u32,
    pid: [usize; 3],
    grid: [usize; 3],
    rank: usize,
    pe: Pe,
    /// Ops every op of the program waits for: the previous program on the PE, the previous launch.
    gate: Vec<OpId>,
    ops: Vec<OpId>,
    est: Estimate,
    /// Op labels (`kernel: what`), made once per launch.
    labels: &'a Labels,
}

impl<'a> Program<'a> {
    /// This instance's index along `axis` (0, 1 or 2).
    pub fn program_id(&self, axis: usize) -> usize {
        self.pid.get(axis).copied().unwrap_or(0)
    }

    /// The grid's extent along `axis`.
    pub fn num_programs(&self, axis: usize) -> usize {
        self.grid.get(axis).copied().unwrap_or(1)
    }

    /// The PE running this instance.
    pub fn pe(&self) -> Pe {
        self.pe
    }

    fn program_id_vec(&self) -> Vec<usize> {
        self.pid[..self.rank].to_vec()
    }

    fn error(&self, reason: impl Into<String>) -> SchedError {
        SchedError::Kernel {
            kernel: self.kernel.to_string(),
            program_id: self.program_id_vec(),
            pe: self.pe,
            reason: reason.into(),
        }
    }

    /// Records an op of this program: after the gate (unless it already depends on an op of the
    /// program), the hazards of what it touches, and `extra`.
    fn record(
        &mut self,
        kind: OpKind,
        label: &'static str,
        reads: &[Touch],
        writes: &[Touch],
    ) -> Result<OpId, SchedError> {
        let label = {
            let mut labels = self.labels.borrow_mut();
            match labels.iter().find(|l| l.0 == label) {
                Some(l) => l.1.clone(),
                None => {
                    let made: Arc<str> = format!("{}: {label}", self.kernel).into();
                    labels.push((label, made.clone()));
                    made
                }
            }
        };
        let mut inner = self.rt.inner.borrow_mut();
        // Dependencies within the program imply the gate; compute the hazards first to know.
        let mut hazard_deps = Vec::new();
        inner.hazard_deps(reads, writes, &mut hazard_deps);
        let within = hazard_deps.iter().any(|d| self.est.op_end.contains_key(d));
        let extra: &[OpId] = if within { &[] } else { &self.gate };
        let id = inner.record(Op { kind, label: Some(label) }, reads, writes, extra).map_err(|e| match e {
            SchedError::OpLog(kb_oplog::OpLogError::InvalidOp { reason, .. }) => self.error(reason),
            other => other,
        })?;
        // Estimate when it ends: after its dependencies within the program and its first unit.
        let stages = inner.sim.engine().stages(id).unwrap_or(&[]);
        let dep_end =
            hazard_deps.iter().filter_map(|d| self.est.op_end.get(d)).copied().max().unwrap_or(self.est.start);
        let first = stages.first().and_then(|s| s.resources().next());
        let unit_free = first.and_then(|r| self.est.unit_free(r)).unwrap_or(self.est.start);
        let end = dep_end.max(unit_free) + stages.iter().map(|s| s.duration()).sum::<u64>();
        for s in stages {
            for r in s.resources() {
                self.est.set_unit_free(r, end);
            }
        }
        drop(inner);
        self.est.op_end.insert(id, end);
        self.est.end = self.est.end.max(end);
        self.ops.push(id);
        Ok(id)
    }

    fn alloc_tile(&mut self, shape: &[usize], dtype: DType) -> Result<Tile, SchedError> {
        let bytes = Layout::byte_count(shape, dtype)? as u64;
        let space = Space::Tcm { device: self.pe.device, pe: self.pe.pe };
        let result = self.rt.inner.borrow_mut().allocate(space, bytes)?;
        let id = match result {
            Ok(id) => id,
            Err(MemError::OutOfMemory { requested, largest_free, free, capacity, .. }) => {
                return Err(SchedError::TcmExhausted {
                    kernel: self.kernel.to_string(),
                    program_id: self.program_id_vec(),
                    pe: self.pe,
                    requested,
                    free,
                    largest_free,
                    total: capacity,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let region = self.rt.inner.borrow().storage_region(id, dtype, Layout::contiguous(shape)?)?;
        Ok(Tile { storage: StorageHandle::new(self.rt.clone(), id), region })
    }

    /// A block of `tensor` starting at `offsets` with shape `block`.
    pub fn block_ptr(&self, tensor: &Tensor, offsets: &[usize], block: &[usize]) -> Result<BlockPtr, SchedError> {
        if tensor.device() != self.device {
            return Err(self.error(format!(
                "a tensor on device {} cannot be reached from device {}",
                tensor.device(),
                self.device
            )));
        }
        if offsets.len() != tensor.shape().len() || block.len() != tensor.shape().len() {
            return Err(self.error(format!(
                "block pointer of offsets {offsets:?} and shape {block:?} for a tensor of shape {:?}",
                tensor.shape()
            )));
        }
        Ok(BlockPtr { tensor: tensor.clone(), offsets: offsets.to_vec(), block: block.to_vec() })
    }

    /// Loads a block into a new tile (DMA HBM → TCM). Parts outside the tensor read as zero.
    pub fn load(&mut self, ptr: &BlockPtr) -> Result<Tile, SchedError> {
        let tile = self.alloc_tile(&ptr.block, ptr.tensor.dtype())?;
        let extent = ptr.extent();
        let whole = extent == ptr.block;
        if !whole {
            self.record(OpKind::Fill { dst: tile.region.clone(), value: 0.0 }, "pad", &[], &[tile.touch()])?;
        }
        if extent.iter().all(|&e| e > 0) {
            let src_layout = ptr.tensor.layout().sub_block(&ptr.offsets, &extent)?;
            let base = ptr.tensor.region()?;
            let src = Region::new(base.space, base.addr, base.dtype, src_layout);
            let dst = Region::new(
                tile.region.space,
                tile.region.addr,
                tile.dtype(),
                tile.region.layout.sub_block(&vec![0; extent.len()], &extent)?,
            );
            let from = Touch::block(
                ptr.tensor.storage_id(),
                ptr.tensor.dtype().size(),
                ptr.tensor.layout(),
                &ptr.offsets,
                &extent,
            )?;
            self.record(OpKind::Dma { pe: self.pe, src, dst }, "load", &[from], &[tile.touch()])?;
        }
        Ok(tile)
    }

    /// Stores a tile into a block (DMA TCM → HBM); parts outside the tensor are not written.
    pub fn store(&mut self, ptr: &BlockPtr, tile: &Tile) -> Result<(), SchedError> {
        if tile.shape() != ptr.block.as_slice() || tile.dtype() != ptr.tensor.dtype() {
            return Err(self.error(format!(
                "store of a {} {:?} tile into a {} block {:?}",
                tile.dtype(),
                tile.shape(),
                ptr.tensor.dtype(),
                ptr.block
            )));
        }
        let extent = ptr.extent();
        if extent.contains(&0) {
            return Ok(());
        }
        let base = ptr.tensor.region()?;
        let dst = Region::new(base.space, base.addr, base.dtype, ptr.tensor.layout().sub_block(&ptr.offsets, &extent)?);
        let src = Region::new(
            tile.region.space,
            tile.region.addr,
            tile.dtype(),
            tile.region.layout.sub_block(&vec![0; extent.len()], &extent)?,
        );
        let to = Touch::block(
            ptr.tensor.storage_id(),
            ptr.tensor.dtype().size(),
            ptr.tensor.layout(),
            &ptr.offsets,
            &extent,
        )?;
        self.record(OpKind::Dma { pe: self.pe, src, dst }, "store", &[tile.touch()], &[to])?;
        Ok(())
    }

    /// A tile of `value`.
    pub fn full(&mut self, shape: &[usize], value: f64, dtype: DType) -> Result<Tile, SchedError> {
        let tile = self.alloc_tile(shape, dtype)?;
        self.record(OpKind::Fill { dst: tile.region.clone(), value }, "full", &[], &[tile.touch()])?;
        Ok(tile)
    }

    /// A tile of zeros.
    pub fn zeros(&mut self, shape: &[usize], dtype: DType) -> Result<Tile, SchedError> {
        self.full(shape, 0.0, dtype)
    }

    /// `acc += a · b` on the GEMM unit: `a` [m, k], `b` [k, n], `acc` [m, n] (f32 accumulation,
    /// rounded once into `acc`'s dtype).
    pub fn dot(&mut self, a: &Tile, b: &Tile, acc: &mut Tile) -> Result<(), SchedError> {
        let kind = OpKind::Gemm {
            pe: self.pe,
            a: a.region.clone(),
            b: b.region.clone(),
            c: acc.region.clone(),
            accumulate: true,
        };
        self.record(kind, "dot", &[a.touch(), b.touch(), acc.touch()], &[acc.touch()])?;
        Ok(())
    }

    /// `a · b` into a new f32 tile.
    pub fn dot_new(&mut self, a: &Tile, b: &Tile) -> Result<Tile, SchedError> {
        let (&[m, _], &[_, n]) = (a.shape(), b.shape()) else {
            return Err(self.error(format!("dot of tiles {:?} and {:?}: both must be rank 2", a.shape(), b.shape())));
        };
        let c = self.alloc_tile(&[m, n], DType::F32)?;
        let kind = OpKind::Gemm {
            pe: self.pe,
            a: a.region.clone(),
            b: b.region.clone(),
            c: c.region.clone(),
            accumulate: false,
        };
        self.record(kind, "dot", &[a.touch(), b.touch()], &[c.touch()])?;
        Ok(c)
    }

    /// `op(x)` into a new tile of dtype `out` (a cast when `op` is [`UnaryOp::Cast`]).
    pub fn unary(&mut self, op: UnaryOp, x: &Tile, out: DType) -> Result<Tile, SchedError> {
        let y = self.alloc_tile(x.shape(), out)?;
        let v = VectorOp::Unary { op, x: x.region.clone(), out: y.region.clone() };
        self.record(OpKind::Vector { pe: self.pe, op: v }, "unary", &[x.touch()], &[y.touch()])?;
        Ok(y)
    }

    /// `x` converted to `dtype` (round to nearest even).
    pub fn cast(&mut self, x: &Tile, dtype: DType) -> Result<Tile, SchedError> {
        self.unary(UnaryOp::Cast, x, dtype)
    }

    /// `e^x`, same dtype.
    pub fn exp(&mut self, x: &Tile) -> Result<Tile, SchedError> {
        self.unary(UnaryOp::Exp, x, x.dtype())
    }

    /// GeLU (tanh approximation), same dtype.
    pub fn gelu(&mut self, x: &Tile) -> Result<Tile, SchedError> {
        self.unary(UnaryOp::GeluTanh, x, x.dtype())
    }

    /// `op(a, b)` with numpy broadcasting into a new tile of the broadcast shape and `a`'s dtype.
    pub fn binary(&mut self, op: BinaryOp, a: &Tile, b: &Tile) -> Result<Tile, SchedError> {
        let shape = broadcast_shape(a.shape(), b.shape()).ok_or_else(|| {
            self.error(format!("tiles of shapes {:?} and {:?} do not broadcast", a.shape(), b.shape()))
        })?;
        let out = self.alloc_tile(&shape, a.dtype())?;
        let v = VectorOp::Binary { op, a: a.region.clone(), b: b.region.clone(), out: out.region.clone() };
        self.record(OpKind::Vector { pe: self.pe, op: v }, "binary", &[a.touch(), b.touch()], &[out.touch()])?;
        Ok(out)
    }

    /// `a = op(a, b)` in place (`b` broadcasts to `a`'s shape).
    pub fn binary_inplace(&mut self, op: BinaryOp, a: &mut Tile, b: &Tile) -> Result<(), SchedError> {
        let v = VectorOp::Binary { op, a: a.region.clone(), b: b.region.clone(), out: a.region.clone() };
        self.record(OpKind::Vector { pe: self.pe, op: v }, "binary", &[a.touch(), b.touch()], &[a.touch()])?;
        Ok(())
    }

    /// `a + b`.
    pub fn add(&mut self, a: &Tile, b: &Tile) -> Result<Tile, SchedError> {
        self.binary(BinaryOp::Add, a, b)
    }

    /// `a · b` elementwise.
    pub fn mul(&mut self, a: &Tile, b: &Tile) -> Result<Tile, SchedError> {
        self.binary(BinaryOp::Mul, a, b)
    }

    /// `op(x, scalar)` into a new tile.
    pub fn scalar(&mut self, op: BinaryOp, x: &Tile, scalar: f64) -> Result<Tile, SchedError> {
        let out = self.alloc_tile(x.shape(), x.dtype())?;
        let v = VectorOp::Scalar { op, x: x.region.clone(), scalar, out: out.region.clone() };
        self.record(OpKind::Vector { pe: self.pe, op: v }, "scalar", &[x.touch()], &[out.touch()])?;
        Ok(out)
    }

    /// A reduction of `x` along `axis` (the axis is removed).
    pub fn reduce(&mut self, op: ReduceKind, x: &Tile, axis: usize) -> Result<Tile, SchedError> {
        if axis >= x.shape().len() {
            return Err(self.error(format!("reduction axis {axis} of a tile of shape {:?}", x.shape())));
        }
        let mut shape = x.shape().to_vec();
        shape.remove(axis);
        let out = self.alloc_tile(&shape, x.dtype())?;
        let v = VectorOp::Reduce { op, x: x.region.clone(), axis, out: out.region.clone() };
        self.record(OpKind::Vector { pe: self.pe, op: v }, "reduce", &[x.touch()], &[out.touch()])?;
        Ok(out)
    }

    /// Sum along `axis`.
    pub fn sum(&mut self, x: &Tile, axis: usize) -> Result<Tile, SchedError> {
        self.reduce(ReduceKind::Sum, x, axis)
    }

    /// Maximum along `axis`.
    pub fn max(&mut self, x: &Tile, axis: usize) -> Result<Tile, SchedError> {
        self.reduce(ReduceKind::Max, x, axis)
    }
}

/// numpy's broadcast of two shapes, if they broadcast.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], k: usize| if k + s.len() >= rank { s[k + s.len() - rank] } else { 1 };
    (0..rank)
        .map(|k| match (dim(a, k), dim(b, k)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

impl Device {
    /// Launches `kernel` over `grid` on stream 0 of this device: runs it once per program
    /// instance, recording its ops, and returns a handle on the whole launch.
    pub fn launch<F>(&self, name: &str, grid: impl Into<Grid>, kernel: F) -> Result<Work, SchedError>
    where
        F: FnMut(&mut Program<'_>) -> Result<(), SchedError>,
    {
        self.launch_on_stream(0, name, grid, kernel)
    }

    /// Launches on stream `stream` of this device. Launches on one stream run in order; launches
    /// on different streams may run concurrently.
    pub fn launch_on_stream<F>(
        &self,
        stream: usize,
        name: &str,
        grid: impl Into<Grid>,
        mut kernel: F,
    ) -> Result<Work, SchedError>
    where
        F: FnMut(&mut Program<'_>) -> Result<(), SchedError>,
    {
        let grid = grid.into();
        let device = self.index;
        if grid.programs() == 0 {
            return Err(SchedError::Launch {
                kernel: name.into(),
                device,
                reason: format!("grid {:?} has no programs", grid.0),
            });
        }
        let rank = if grid.0[2] > 1 {
            3
        } else if grid.0[1] > 1 {
            2
        } else {
            1
        };
        let (launch_gate, launch_start) = {
            let mut inner = self.rt.inner.borrow_mut();
            let now = inner.sim.now();
            let streams = &mut inner.streams[device as usize];
            if streams.len() <= stream {
                streams.resize(stream + 1, Default::default());
            }
            let s = &streams[stream];
            (s.last, s.est_end.max(now))
        };
        let labels: Labels = RefCell::new(Vec::new());
        let mut ends = Vec::with_capacity(grid.programs());
        let mut launch_end = launch_start;
        for z in 0..grid.0[2] {
            for y in 0..grid.0[1] {
                for x in 0..grid.0[0] {
                    let (pe, pe_last, pe_free) = {
                        let inner = self.rt.inner.borrow();
                        let pes = &inner.pes[device as usize];
                        let (p, st) = pes
                            .iter()
                            .enumerate()
                            .min_by_key(|(i, s)| (s.est_free.max(launch_start), *i))
                            .expect("a device has PEs");
                        (p as u32, st.last, st.est_free)
                    };
                    let mut gate: Vec<OpId> = launch_gate.into_iter().collect();
                    gate.extend(pe_last);
                    let start = pe_free.max(launch_start);
                    let mut program = Program {
                        rt: &self.rt,
                        kernel: name,
                        device,
                        pid: [x, y, z],
                        grid: grid.0,
                        rank,
                        pe: Pe { device, pe },
                        gate: gate.clone(),
                        ops: Vec::new(),
                        est: Estimate { start, end: start, ..Default::default() },
                        labels: &labels,
                    };
                    kernel(&mut program)?;
                    let Program { ops, est, .. } = program;
                    let mut deps = ops;
                    if deps.is_empty() {
                        deps = gate;
                    }
                    let end = self
                        .rt
                        .inner
                        .borrow_mut()
                        .sim
                        .record(Op::labelled(OpKind::Join, format!("{name}: program end")), &deps)?;
                    let mut inner = self.rt.inner.borrow_mut();
                    let st = &mut inner.pes[device as usize][pe as usize];
                    st.last = Some(end);
                    st.est_free = est.end;
                    launch_end = launch_end.max(est.end);
                    ends.push(end);
                }
            }
        }
        let mut inner = self.rt.inner.borrow_mut();
        let join = inner.sim.record(Op::labelled(OpKind::Join, format!("{name}: end")), &ends)?;
        let s = &mut inner.streams[device as usize][stream];
        s.last = Some(join);
        s.est_end = launch_end;
        Ok(Work { rt: self.rt.clone(), op: join })
    }
}

#[cfg(test)]
mod tests;
