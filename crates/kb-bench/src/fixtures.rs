//! Synthetic programs for the benches.

use kb_mem::{DType, Region, Space};
use kb_oplog::{Engine, MachineSpec, Mode, OpId, OpKind, OpLogError, Pe, Sim, Stage, Stages};

/// The machine of the engine benches: 8 devices of 8 PEs on a ring.
pub fn bench_machine() -> MachineSpec {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 8;
    spec.device.pes = 8;
    spec
}

/// One op of the synthetic log, as the engine sees it: its stages and the indices of the ops
/// (earlier in the list) it depends on.
#[derive(Debug, Clone)]
pub struct SyntheticOp {
    /// The op's stages.
    pub stages: Stages,
    /// Indices of earlier ops it depends on.
    pub deps: [Option<u32>; 2],
}

/// A materialised synthetic op graph of `ops` ops on [`bench_machine`]: on every device, each
/// of the 8 PEs runs a chain of load (DMA with an HBM slot) → GEMM → store steps, and every 16th
/// step of PE 0 sends its result to the next device over the ring, which the next device's chain
/// then waits for.
pub fn synthetic_graph(ops: usize) -> (Vec<kb_oplog::ResourceSpec>, Vec<SyntheticOp>) {
    let spec = bench_machine();
    let cost = kb_oplog::CostModel::new(&spec);
    let devices = spec.cluster.ranks;
    let pes = spec.device.pes;
    let mut out: Vec<SyntheticOp> = Vec::with_capacity(ops);
    let chains = (devices * pes) as usize;
    let mut last: Vec<Option<u32>> = vec![None; chains];
    let mut incoming: Vec<Option<u32>> = vec![None; devices as usize];
    let mut step = 0u64;
    'outer: loop {
        for (chain, last) in last.iter_mut().enumerate() {
            if out.len() >= ops {
                break 'outer;
            }
            let device = (chain / pes as usize) as u32;
            let pe = Pe { device, pe: (chain % pes as usize) as u32 };
            let idx = out.len() as u32;
            let (stages, extra) = match step % 3 {
                0 => (
                    Stages::One(Stage::two(
                        cost.index(kb_oplog::Resource::Dma(pe)),
                        cost.index(kb_oplog::Resource::Hbm(device)),
                        100_000 + (step % 7) * 1000,
                    )),
                    if pe.pe == 0 { incoming[device as usize].take() } else { None },
                ),
                1 => (Stages::One(Stage::one(cost.index(kb_oplog::Resource::Gemm(pe)), 150_000)), None),
                _ => (Stages::One(Stage::one(cost.index(kb_oplog::Resource::Dma(pe)), 90_000)), None),
            };
            out.push(SyntheticOp { stages, deps: [*last, extra] });
            *last = Some(idx);
            if pe.pe == 0 && step % 48 == 47 && out.len() < ops {
                // Send to the next device: one hop on the ring.
                let next = (device + 1) % devices;
                let route = spec.route(device, next).unwrap_or_default();
                let hops: Vec<Stage> =
                    route.iter().map(|&l| Stage::one(cost.index(kb_oplog::Resource::Link(l)), 500_000)).collect();
                out.push(SyntheticOp { stages: Stages::from_vec(hops), deps: [Some(idx), None] });
                incoming[next as usize] = Some(out.len() as u32 - 1);
            }
        }
        step += 1;
    }
    (cost.resource_specs(), out)
}

/// Adds the graph to `engine` in order and runs it to the end; returns the makespan.
pub fn time_graph(engine: &mut Engine, graph: &[SyntheticOp]) -> u64 {
    add_graph(engine, graph);
    engine.run_all()
}

/// Adds the graph to `engine` in order, without running it.
pub fn add_graph(engine: &mut Engine, graph: &[SyntheticOp]) {
    engine.reserve(graph.len());
    let mut ids: Vec<OpId> = Vec::with_capacity(graph.len());
    let mut deps: Vec<OpId> = Vec::with_capacity(2);
    for op in graph {
        deps.clear();
        deps.extend(op.deps.iter().flatten().map(|&i| ids[i as usize]));
        ids.push(engine.add(op.stages.clone(), &deps).expect("valid synthetic op"));
    }
}

/// Adds the graph to a non-retaining `engine` in chunks of `chunk` ops, advancing the engine
/// after each chunk until the previous chunk's last op has ended — ops are generated and retired
/// as they go, as a program recording and waiting would. Returns the makespan.
pub fn time_graph_streaming(engine: &mut Engine, graph: &[SyntheticOp], chunk: usize) -> u64 {
    // Ids of every op so far (a retired id still reads as ended).
    let mut ids: Vec<OpId> = Vec::with_capacity(graph.len());
    let mut deps: Vec<OpId> = Vec::with_capacity(2);
    let mut previous_last: Option<OpId> = None;
    for part in graph.chunks(chunk.max(1)) {
        for op in part {
            deps.clear();
            deps.extend(op.deps.iter().flatten().map(|&i| ids[i as usize]));
            ids.push(engine.add(op.stages.clone(), &deps).expect("valid synthetic op"));
        }
        if let Some(last) = previous_last {
            engine.run_until(last).expect("the synthetic graph always completes");
        }
        previous_last = ids.last().copied();
    }
    engine.run_all()
}

/// Records `tiles` load → GEMM → store steps per PE of device 0 as real ops through [`Sim`]
/// (validation, cost model and engine), then times them. Returns the makespan.
pub fn record_tiles(mode: Mode, tiles: usize) -> Result<u64, OpLogError> {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 1;
    let pes = spec.device.pes;
    let mut sim = Sim::new(spec, mode)?;
    let hbm = Space::Hbm { device: 0 };
    let (t, k) = (64usize, 64usize);
    for i in 0..tiles {
        for p in 0..pes {
            let pe = Pe { device: 0, pe: p };
            let tcm = Space::Tcm { device: 0, pe: p };
            let a = Region::contiguous(hbm, ((i * 8 + p as usize) % 1024) as u64 * 8192, DType::F16, &[t, k])
                .map_err(OpLogError::from)?;
            let ta = Region::contiguous(tcm, 0, DType::F16, &[t, k]).map_err(OpLogError::from)?;
            let tb = Region::contiguous(tcm, 8192, DType::F16, &[k, t]).map_err(OpLogError::from)?;
            let tc = Region::contiguous(tcm, 16384, DType::F32, &[t, t]).map_err(OpLogError::from)?;
            let c =
                Region::contiguous(hbm, (1 << 30) + p as u64 * 16384, DType::F32, &[t, t]).map_err(OpLogError::from)?;
            let load = sim.record(OpKind::Dma { pe, src: a, dst: ta.clone() }, &[])?;
            let dot = sim.record(OpKind::Gemm { pe, a: ta, b: tb, c: tc.clone(), accumulate: true }, &[load])?;
            sim.record(OpKind::Dma { pe, src: tc, dst: c }, &[dot])?;
        }
    }
    Ok(sim.run_all())
}

/// Seeded pseudo-random values in [-1, 1) from a xorshift64 generator: the same `seed` gives the
/// same values on every machine (no `rand` dependency).
pub fn xorshift_f32(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // The top 24 bits, exactly representable in f32, scaled to [-1, 1).
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A store with a 16 GiB HBM space on device 0 holding seeded pseudo-random `a` [m, k] and `b`
/// [k, n] of dtype `ab` (values rounded into it), and the regions of `a`, `b` and an unwritten
/// `c` [m, n] of dtype `c`, for a GEMM op to replay.
pub fn gemm_store(
    m: usize,
    n: usize,
    k: usize,
    ab: DType,
    c: DType,
) -> Result<(kb_mem::MemoryStore, Region, Region, Region), kb_mem::MemError> {
    let hbm = Space::Hbm { device: 0 };
    let mut store = kb_mem::MemoryStore::new();
    store.add_space(hbm, 16 << 30)?;
    let a = Region::contiguous(hbm, 0, ab, &[m, k])?;
    let b = Region::contiguous(hbm, 1 << 30, ab, &[k, n])?;
    let c = Region::contiguous(hbm, 2 << 30, c, &[m, n])?;
    store.write_region_f32(&a, &xorshift_f32(1, m * k))?;
    store.write_region_f32(&b, &xorshift_f32(2, k * n))?;
    Ok((store, a, b, c))
}

/// Records and times a 4096×4096×4096 f16 GEMM (blocks 128×128×128) on device 0 of the default
/// machine, through the runtime (`kb_sched::gemm`), in a timing-only `mode`. Returns the number of
/// ops recorded and the simulated makespan in picoseconds.
pub fn record_gemm_4096(mode: Mode) -> Result<(u64, u64), kb_sched::SchedError> {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 1;
    let rt = kb_sched::Runtime::new(spec, mode)?;
    let dev = rt.device(0)?;
    let n = 4096;
    let a = dev.empty(&[n, n], DType::F16)?;
    let b = dev.empty(&[n, n], DType::F16)?;
    let c = dev.empty(&[n, n], DType::F16)?;
    let blocks = kb_sched::GemmBlocks { m: 128, n: 128, k: 128 };
    kb_sched::gemm(&dev, &a, &b, &c, false, blocks)?.wait()?;
    let ops = rt.with_sim(|s| s.engine().ops_added());
    Ok((ops, rt.makespan()))
}

/// The process's peak resident memory so far (`VmHWM` in `/proc/self/status`), KiB; 0 where
/// that file does not exist.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One rank yielding `trips` times: each yield is one park and one resume by the scheduler.
pub fn yield_round_trips(trips: u64) -> Result<(), kb_sched::SpawnError> {
    kb_sched::spawn(1, move |ctx| {
        for _ in 0..trips {
            ctx.yield_now()?;
        }
        Ok::<_, kb_sched::SchedError>(())
    })
    .map(|_| ())
}

/// 1024 ranks, each on its own device, launching a one-program kernel (load, scale, store of 256
/// f32) and waiting for it; returns the makespan in picoseconds.
pub fn spawn_1024_small_kernels() -> Result<u64, kb_sched::SpawnError> {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 1024;
    let rt = kb_sched::Runtime::new(spec, Mode::TIMING).map_err(|e| kb_sched::SpawnError::Setup(e.to_string()))?;
    rt.spawn(1024, |ctx| {
        let dev = ctx.device();
        let x = dev.zeros(&[256], DType::F32)?;
        let y = dev.empty(&[256], DType::F32)?;
        dev.launch("scale", 1, |p| {
            let t = p.load(&p.block_ptr(&x, &[0], &[256])?)?;
            let s = p.scalar(kb_oplog::BinaryOp::Mul, &t, 2.0)?;
            p.store(&p.block_ptr(&y, &[0], &[256])?, &s)
        })?
        .wait()
    })?;
    Ok(rt.makespan())
}

/// A timing-only ring all-reduce of `bytes` bytes of f32 on each of `ranks` ranks (one device
/// each, on the ring topology), in `mode` (a timing mode); returns the collective's simulated time
/// in picoseconds.
pub fn ring_all_reduce(ranks: usize, bytes: usize, mode: Mode) -> Result<u64, kb_sched::SpawnError> {
    timed_collective(Collective::AllReduce, ranks, bytes, kb_oplog::CollectiveAlgo::Ring, mode)
}

/// A collective for [`timed_collective`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collective {
    /// `all_reduce` of `bytes` per rank.
    AllReduce,
    /// `reduce_scatter_tensor` of `bytes` per rank's input.
    ReduceScatter,
    /// `all_gather_into_tensor` into `bytes` per rank's output.
    AllGather,
    /// `all_to_all_single` of `bytes` per rank.
    AllToAll,
}

/// The simulated time, in picoseconds, of one `which` of `bytes` of f32 per rank on `ranks` ranks
/// of a ring, by `algo`, on a fresh runtime in `mode`: the whole run (spawn, rendezvous, recording,
/// timing). For the reduce-scatter and the all-gather, `bytes / 4` must split into `ranks` parts.
pub fn timed_collective(
    which: Collective,
    ranks: usize,
    bytes: usize,
    algo: kb_oplog::CollectiveAlgo,
    mode: Mode,
) -> Result<u64, kb_sched::SpawnError> {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = ranks as u32;
    spec.cluster.topology = kb_oplog::Topology::Ring;
    let rt = kb_sched::Runtime::new(spec, mode).map_err(|e| kb_sched::SpawnError::Setup(e.to_string()))?;
    let ends = rt.spawn(ranks, move |ctx| {
        let group = kb_ccl::ProcessGroup::world(&ctx).with_algo(algo);
        let whole = ctx.device().empty(&[bytes / 4], DType::F32)?;
        let other = match which {
            Collective::AllReduce => None,
            Collective::ReduceScatter | Collective::AllGather => {
                Some(ctx.device().empty(&[bytes / 4 / ranks], DType::F32)?)
            }
            Collective::AllToAll => Some(ctx.device().empty(&[bytes / 4], DType::F32)?),
        };
        let start = ctx.runtime().now();
        let work = match (which, &other) {
            (Collective::ReduceScatter, Some(part)) => {
                kb_ccl::reduce_scatter_tensor_async(&ctx, &group, part, &whole, kb_ccl::ReduceOp::Sum)?
            }
            (Collective::AllGather, Some(part)) => kb_ccl::all_gather_into_tensor_async(&ctx, &group, &whole, part)?,
            (Collective::AllToAll, Some(out)) => kb_ccl::all_to_all_single_async(&ctx, &group, out, &whole)?,
            _ => kb_ccl::all_reduce_async(&ctx, &group, &whole, kb_ccl::ReduceOp::Sum)?,
        };
        Ok::<_, kb_ccl::CclError>(work.wait()? - start)
    })?;
    Ok(ends.into_iter().max().unwrap_or(0))
}

/// The collectives bench's Rust reference: the ring all-reduce of [`ring_all_reduce`] (one slice
/// per chunk, `bytes / ranks` bytes of f32 per chunk), timed by a minimal event loop written for
/// that ring alone — a materialised graph of link transfers (each member's outgoing link) and
/// reductions (each member's vector unit), dependency counters, a radix heap of end events and a
/// FIFO per resource — with the default machine's costs. Returns the simulated time in
/// picoseconds; it equals kb-ccl's on the same machine.
pub fn minimal_ring_loop(ranks: usize, bytes: usize) -> u64 {
    let costs = RingCosts::new(ranks, bytes);
    let (n, count) = (ranks, costs.count);
    let chunk = |k: usize| costs.chunk(k);
    let hop = |elems: usize| costs.hop(elems);
    let reduce = |elems: usize| costs.reduce(elems);
    // Ops in flat arrays: resource (r < n is member r's link, n + r its vector unit), duration,
    // pending dependencies and at most two successors, inline (no allocation per op).
    const NONE: u32 = u32::MAX;
    let ops = if n > 1 && count > 0 { 3 * (n - 1) * n } else { 0 };
    let mut res_of: Vec<u32> = Vec::with_capacity(ops);
    let mut dur: Vec<u64> = Vec::with_capacity(ops);
    let mut succ: Vec<[u32; 2]> = Vec::with_capacity(ops);
    let mut pending: Vec<u32> = Vec::with_capacity(ops);
    let mut last = vec![NONE; n * n];
    let mut add = |res: usize, d: u64, deps: [u32; 2]| {
        let id = res_of.len() as u32;
        res_of.push(res as u32);
        dur.push(d);
        succ.push([NONE; 2]);
        let mut live = 0;
        for x in deps.into_iter().filter(|&x| x != NONE) {
            let s = &mut succ[x as usize];
            let free = if s[0] == NONE { 0 } else { 1 };
            s[free] = id;
            live += 1;
        }
        pending.push(live);
        id
    };
    if ops > 0 {
        for s in 0..2 * (n - 1) {
            for (p, q, k, reduces) in ring_step(n, s) {
                if reduces {
                    let t = add(p, hop(chunk(k)), [last[p * n + k], NONE]);
                    last[q * n + k] = add(n + q, reduce(chunk(k)), [t, last[q * n + k]]);
                } else {
                    last[q * n + k] = add(p, hop(chunk(k)), [last[p * n + k], NONE]);
                }
            }
        }
    }
    // A FIFO per resource (ops become ready in an order that is already the ring's), a busy flag,
    // and a radix heap of end events.
    let mut queue: Vec<std::collections::VecDeque<u32>> = vec![std::collections::VecDeque::new(); 2 * n];
    let mut busy = vec![false; 2 * n];
    let mut events = MinimalRadix::default();
    let mut end = 0;
    for op in 0..res_of.len() as u32 {
        if pending[op as usize] == 0 {
            queue[res_of[op as usize] as usize].push_back(op);
        }
    }
    for r in 0..2 * n {
        if let Some(op) = queue[r].pop_front() {
            busy[r] = true;
            events.push(dur[op as usize], op);
        }
    }
    while let Some((now, op)) = events.pop() {
        end = now;
        let r = res_of[op as usize] as usize;
        busy[r] = false;
        for next in succ[op as usize] {
            if next != NONE {
                pending[next as usize] -= 1;
                if pending[next as usize] == 0 {
                    queue[res_of[next as usize] as usize].push_back(next);
                }
            }
        }
        for r in [r]
            .into_iter()
            .chain(succ[op as usize].into_iter().filter(|&x| x != NONE).map(|x| res_of[x as usize] as usize))
        {
            if !busy[r]
                && let Some(next) = queue[r].pop_front()
            {
                busy[r] = true;
                events.push(now + dur[next as usize], next);
            }
        }
    }
    end
}

/// Step `s` of the reference loops' ring of `n` members (`2(n − 1)` steps): for each member `p`,
/// `(p, q, k, reduces)` — it sends chunk `k = p − s` to `q = p + 1`, which reduces it into its own
/// in the first `n − 1` steps (reduce-scatter) and keeps it in the others (all-gather).
fn ring_step(n: usize, s: usize) -> impl Iterator<Item = (usize, usize, usize, bool)> {
    (0..n).map(move |p| (p, (p + 1) % n, (p + 2 * n - s) % n, s < n - 1))
}

/// The default machine's costs of [`minimal_ring_loop`]'s ring, from the spec alone: chunk
/// lengths, a hop of a chunk over one link, a reduction of a chunk on a vector unit.
struct RingCosts {
    n: usize,
    count: usize,
    latency: u64,
    link_gbps: f64,
    flops_per_ns: f64,
    share: f64,
}

impl RingCosts {
    fn new(ranks: usize, bytes: usize) -> RingCosts {
        let spec = MachineSpec::default();
        let (d, c) = (&spec.device, &spec.cluster);
        RingCosts {
            n: ranks.max(1),
            count: bytes / 4,
            latency: (c.link_latency_ns * 1e3).round() as u64,
            link_gbps: c.link_gbps,
            flops_per_ns: d.vector_flops_per_cycle * d.clock_ghz,
            share: d.hbm_gbps / (d.hbm_gbps / d.dma_gbps).floor().max(1.0),
        }
    }

    /// Elements of chunk `k`.
    fn chunk(&self, k: usize) -> usize {
        self.count / self.n + usize::from(k < self.count % self.n)
    }

    /// Picoseconds to move `elems` f32 over one link.
    fn hop(&self, elems: usize) -> u64 {
        self.latency + ((elems * 4) as f64 / self.link_gbps * 1e3).round() as u64
    }

    /// Picoseconds to reduce `elems` f32 into an accumulator in HBM (two reads and a write).
    fn reduce(&self, elems: usize) -> u64 {
        let compute = (elems as f64 / self.flops_per_ns * 1e3).round() as u64;
        compute.max(((3 * elems * 4) as f64 / self.share * 1e3).round() as u64)
    }
}

/// [`minimal_ring_loop`]'s ring, timed by a minimal event loop that generates and retires ops as
/// it goes, like the "minimal Rust event loop for that ring alone" the issue measures: step
/// `s + 1` is generated when the first op of step `s` ends, each op lives in a slab slot reused
/// once it ends (a generation per slot tells a live dependency from an ended one), with a FIFO per
/// resource and a radix heap of end events. Returns the simulated time in picoseconds; it equals
/// [`minimal_ring_loop`]'s and kb-ccl's on the same machine.
pub fn minimal_ring_streaming(ranks: usize, bytes: usize) -> u64 {
    const NONE: u32 = u32::MAX;
    let costs = RingCosts::new(ranks, bytes);
    let n = ranks;
    if n < 2 || costs.count == 0 {
        return 0;
    }
    let steps = 2 * (n - 1);
    let mut ring = Streaming {
        res: Vec::new(),
        dur: Vec::new(),
        pending: Vec::new(),
        succ: Vec::new(),
        step: Vec::new(),
        generation: Vec::new(),
        free: Vec::new(),
        queue: vec![std::collections::VecDeque::new(); 2 * n],
        busy: vec![false; 2 * n],
        events: MinimalRadix::default(),
    };
    // The live op that last wrote chunk k on member q, as (slot, generation).
    let mut last = vec![(NONE, 0u32); n * n];
    // Each chunk's hop and reduction, costed once (chunks come in two lengths).
    let hop: Vec<u64> = (0..n).map(|k| costs.hop(costs.chunk(k))).collect();
    let reduce: Vec<u64> = (0..n).map(|k| costs.reduce(costs.chunk(k))).collect();
    let generate = |ring: &mut Streaming, last: &mut Vec<(u32, u32)>, s: usize, now: u64| {
        for (p, q, k, reduces) in ring_step(n, s) {
            if reduces {
                let t = ring.add(p, hop[k], [last[p * n + k], (NONE, 0)], s, now);
                last[q * n + k] = ring.add(n + q, reduce[k], [t, last[q * n + k]], s, now);
            } else {
                last[q * n + k] = ring.add(p, hop[k], [last[p * n + k], (NONE, 0)], s, now);
            }
        }
    };
    generate(&mut ring, &mut last, 0, 0);
    let mut next_step = 1;
    let mut end = 0;
    while let Some((now, op)) = ring.events.pop() {
        end = now;
        let o = op as usize;
        let (r, succ) = (ring.res[o] as usize, ring.succ[o]);
        ring.busy[r] = false;
        ring.generation[o] += 1;
        ring.free.push(op);
        if ring.step[o] as usize + 1 == next_step && next_step < steps {
            generate(&mut ring, &mut last, next_step, now);
            next_step += 1;
        }
        for x in succ.into_iter().filter(|&x| x != NONE) {
            ring.pending[x as usize] -= 1;
            if ring.pending[x as usize] == 0 {
                let rx = ring.res[x as usize] as usize;
                ring.queue[rx].push_back(x);
                ring.start(rx, now);
            }
        }
        ring.start(r, now);
    }
    end
}

/// [`minimal_ring_streaming`]'s live ops (a slab of flat arrays), resources and events.
struct Streaming {
    res: Vec<u32>,
    dur: Vec<u64>,
    pending: Vec<u32>,
    succ: Vec<[u32; 2]>,
    step: Vec<u32>,
    generation: Vec<u32>,
    free: Vec<u32>,
    queue: Vec<std::collections::VecDeque<u32>>,
    busy: Vec<bool>,
    events: MinimalRadix,
}

impl Streaming {
    /// Adds an op of step `step` on resource `res` after the live ones of `deps`; returns it as
    /// (slot, generation).
    fn add(&mut self, res: usize, dur: u64, deps: [(u32, u32); 2], step: usize, now: u64) -> (u32, u32) {
        const NONE: u32 = u32::MAX;
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.res.push(0);
                self.dur.push(0);
                self.pending.push(0);
                self.succ.push([NONE; 2]);
                self.step.push(0);
                self.generation.push(0);
                (self.res.len() - 1) as u32
            }
        };
        let s = slot as usize;
        (self.res[s], self.dur[s], self.succ[s], self.step[s]) = (res as u32, dur, [NONE; 2], step as u32);
        let mut live = 0;
        for (d, g) in deps {
            if d != NONE && self.generation[d as usize] == g {
                let succ = &mut self.succ[d as usize];
                succ[usize::from(succ[0] != NONE)] = slot;
                live += 1;
            }
        }
        self.pending[s] = live;
        if live == 0 {
            self.queue[res].push_back(slot);
            self.start(res, now);
        }
        (slot, self.generation[s])
    }

    /// Starts the next op waiting for resource `r` at `now`, if `r` is idle.
    fn start(&mut self, r: usize, now: u64) {
        if !self.busy[r]
            && let Some(op) = self.queue[r].pop_front()
        {
            self.busy[r] = true;
            self.events.push(now + self.dur[op as usize], op);
        }
    }
}

/// The engine bench's Rust reference: the synthetic log timed by a minimal event loop written
/// for it alone, over a graph materialised in flat arrays (stages, successor lists, dependency
/// counters), with a FIFO per resource slot pool, a radix heap of stage ends and no per-instant
/// batching: a ready op takes a free resource at once. It arbitrates first come, first served
/// rather than by recording order, so its makespan can differ slightly from the engine's under
/// contention. Returns the makespan in picoseconds.
pub fn minimal_synthetic_loop(resources: &[kb_oplog::ResourceSpec], graph: &[SyntheticOp]) -> u64 {
    MinimalLoop::new(resources, graph).run()
}

/// [`minimal_synthetic_loop`]'s graph, materialised and not yet timed (so a bench can time the
/// event loop alone).
#[derive(Debug)]
pub struct MinimalRun(MinimalLoop);

impl MinimalRun {
    /// Materialises the graph.
    pub fn new(resources: &[kb_oplog::ResourceSpec], graph: &[SyntheticOp]) -> MinimalRun {
        MinimalRun(MinimalLoop::new(resources, graph))
    }

    /// Times it (once) and returns the makespan in picoseconds.
    pub fn run(&mut self) -> u64 {
        self.0.run()
    }
}

/// The state of [`minimal_synthetic_loop`].
#[derive(Debug)]
struct MinimalLoop {
    /// Per op: its first stage in `stages` and how many it has.
    first: Vec<u32>,
    count: Vec<u8>,
    /// Every op's stages: (resources, the second `u32::MAX` if one, duration).
    stages: Vec<([u32; 2], u64)>,
    /// Successors, as lists in `succ` from `succ_at[op]` to `succ_at[op + 1]`.
    succ_at: Vec<u32>,
    succ: Vec<u32>,
    pending: Vec<u32>,
    /// Per op: the stage it is in and the resources of it held.
    stage: Vec<u8>,
    held: Vec<u8>,
    slots: Vec<u32>,
    busy: Vec<u32>,
    fifo: Vec<std::collections::VecDeque<u32>>,
    events: MinimalRadix,
    now: u64,
}

impl MinimalLoop {
    fn new(resources: &[kb_oplog::ResourceSpec], graph: &[SyntheticOp]) -> MinimalLoop {
        let n = graph.len();
        let (mut first, mut count, mut stages) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut succ_at = vec![0u32; n + 1];
        for op in graph {
            first.push(stages.len() as u32);
            count.push(op.stages.as_slice().len() as u8);
            for st in op.stages.as_slice() {
                let mut rs = st.resources();
                let a = rs.next().unwrap_or(u32::MAX);
                stages.push(([a, rs.next().unwrap_or(u32::MAX)], st.duration()));
            }
            for &d in op.deps.iter().flatten() {
                succ_at[d as usize + 1] += 1;
            }
        }
        for i in 0..n {
            succ_at[i + 1] += succ_at[i];
        }
        let mut fill = succ_at.clone();
        let mut succ = vec![0u32; succ_at[n] as usize];
        let mut pending = vec![0u32; n];
        for (i, op) in graph.iter().enumerate() {
            for &d in op.deps.iter().flatten() {
                succ[fill[d as usize] as usize] = i as u32;
                fill[d as usize] += 1;
                pending[i] += 1;
            }
        }
        MinimalLoop {
            first,
            count,
            stages,
            succ_at,
            succ,
            pending,
            stage: vec![0; n],
            held: vec![0; n],
            slots: resources.iter().map(|r| r.slots.max(1)).collect(),
            busy: vec![0; resources.len()],
            fifo: vec![std::collections::VecDeque::new(); resources.len()],
            events: MinimalRadix::default(),
            now: 0,
        }
    }

    fn current(&self, op: u32) -> ([u32; 2], u64) {
        self.stages[(self.first[op as usize] + u32::from(self.stage[op as usize])) as usize]
    }

    /// The op asks for the next resource of its stage.
    fn request(&mut self, op: u32) {
        let r = self.current(op).0[self.held[op as usize] as usize] as usize;
        if self.busy[r] < self.slots[r] && self.fifo[r].is_empty() {
            self.busy[r] += 1;
            self.acquired(op);
        } else {
            self.fifo[r].push_back(op);
        }
    }

    fn acquired(&mut self, op: u32) {
        let (res, duration) = self.current(op);
        self.held[op as usize] += 1;
        if self.held[op as usize] == 1 && res[1] != u32::MAX {
            self.request(op);
        } else {
            self.events.push(self.now + duration, op);
        }
    }

    fn ready(&mut self, op: u32) {
        if self.count[op as usize] == 0 {
            self.finish(op);
        } else {
            self.request(op);
        }
    }

    fn finish(&mut self, op: u32) {
        for i in self.succ_at[op as usize]..self.succ_at[op as usize + 1] {
            let next = self.succ[i as usize];
            self.pending[next as usize] -= 1;
            if self.pending[next as usize] == 0 {
                self.ready(next);
            }
        }
    }

    fn run(&mut self) -> u64 {
        for op in 0..self.first.len() as u32 {
            if self.pending[op as usize] == 0 {
                self.ready(op);
            }
        }
        while let Some((t, op)) = self.events.pop() {
            self.now = t;
            let (res, _) = self.current(op);
            for r in res.into_iter().filter(|&r| r != u32::MAX) {
                let r = r as usize;
                self.busy[r] -= 1;
                if let Some(next) = self.fifo[r].pop_front() {
                    self.busy[r] += 1;
                    self.acquired(next);
                }
            }
            self.stage[op as usize] += 1;
            self.held[op as usize] = 0;
            if self.stage[op as usize] < self.count[op as usize] {
                self.request(op);
            } else {
                self.finish(op);
            }
        }
        self.now
    }
}

/// The minimal loop's event queue: a monotone radix heap of (time, op), written here so the
/// reference shares no code with the engine it is compared to.
#[derive(Debug)]
struct MinimalRadix {
    buckets: [Vec<(u64, u32)>; 65],
    last: u64,
}

impl Default for MinimalRadix {
    fn default() -> MinimalRadix {
        MinimalRadix { buckets: std::array::from_fn(|_| Vec::new()), last: 0 }
    }
}

impl MinimalRadix {
    fn bucket(&self, key: u64) -> usize {
        (64 - (key ^ self.last).leading_zeros()) as usize
    }

    fn push(&mut self, key: u64, op: u32) {
        let b = self.bucket(key);
        self.buckets[b].push((key, op));
    }

    fn pop(&mut self) -> Option<(u64, u32)> {
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let moved = std::mem::take(&mut self.buckets[i]);
            self.last = moved.iter().map(|e| e.0).min().unwrap_or(self.last);
            for &(k, v) in &moved {
                self.push(k, v);
            }
        }
        self.buckets[0].pop()
    }
}

/// One forward of kb-tp's `ParallelMLP` (hidden → 4·hidden → hidden, f16, zero weights filled on
/// the devices) on `tp` ranks of the default machine, timing only: each rank initialises its
/// groups, builds its shards and a [`batch`, `hidden`] input, waits for their fills, and runs the
/// forward, on a runtime of `mode` (timing only: `kernbench mlp --timing-only` keeps no ops unless
/// it traces). Returns the simulated time of the forward in picoseconds (from the moment every
/// rank's inputs are in place to the end of its last op).
pub fn mlp_forward_timing(tp: usize, batch: usize, hidden: usize, mode: Mode) -> Result<u64, kb_sched::SpawnError> {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = tp as u32;
    let rt = kb_sched::Runtime::new(spec, mode).map_err(|e| kb_sched::SpawnError::Setup(e.to_string()))?;
    let ready = rt.spawn(tp, move |ctx| {
        kb_tp::initialize_model_parallel(&ctx, tp, 1)?;
        let block = kb_tp::ParallelMLP::new(&ctx, hidden, 4 * hidden, DType::F16)?;
        let x = ctx.device().zeros(&[batch, hidden], DType::F16)?;
        let mut inputs = block.parameters();
        inputs.push(&x);
        let ready = kb_tp::kernels::written(ctx.runtime(), &inputs)?.wait()?;
        block.forward(&x)?;
        Ok::<_, kb_tp::TpError>(ready)
    })?;
    let start = ready.into_iter().max().unwrap_or(0);
    Ok(rt.run_all() - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimal_ring_loop_agrees_with_kb_ccl_to_the_picosecond() {
        for (ranks, bytes) in [(2, 4096), (5, 5000), (8, 1 << 16), (64, 1 << 20)] {
            let ours = ring_all_reduce(ranks, bytes, Mode::TIMING_LEAN).unwrap();
            assert_eq!(minimal_ring_loop(ranks, bytes), ours, "{ranks} ranks, {bytes} B");
            assert_eq!(minimal_ring_streaming(ranks, bytes), ours, "{ranks} ranks, {bytes} B, streaming");
        }
    }

    #[test]
    fn the_all_reduce_fixture_times_the_same_whether_ops_are_kept_or_not() {
        let kept = ring_all_reduce(8, 1 << 20, Mode::TIMING).unwrap();
        let lean = ring_all_reduce(8, 1 << 20, Mode::TIMING_LEAN).unwrap();
        assert_eq!(kept, lean);
        // 2·7 steps of a 128 KiB chunk over a 100 GB/s link bound it from below.
        assert!(kept > 14 * (128 << 10) * 10, "{kept} ps");
    }

    #[test]
    fn the_collective_fixture_times_each_collective_as_kb_ccl_does_in_every_mode() {
        use kb_oplog::CollectiveAlgo as A;
        for which in [Collective::AllReduce, Collective::ReduceScatter, Collective::AllGather, Collective::AllToAll] {
            for algo in [A::Ring, A::Direct, A::Auto] {
                let times: Vec<u64> = [Mode::DATA, Mode::TIMING, Mode::TIMING_LEAN]
                    .into_iter()
                    .map(|mode| timed_collective(which, 8, 1 << 16, algo, mode).unwrap())
                    .collect();
                assert!(times[0] > 0, "{which:?} by {algo}");
                assert!(times.iter().all(|&t| t == times[0]), "{which:?} by {algo}: {times:?}");
            }
        }
        // Auto takes the time of the fastest algorithm by name.
        let by = |algo| timed_collective(Collective::AllReduce, 8, 1 << 16, algo, Mode::TIMING_LEAN).unwrap();
        let fastest = [A::Ring, A::Direct, A::HalvingDoubling, A::Tree].map(by).into_iter().min();
        assert_eq!(Some(by(A::Auto)), fastest);
    }

    #[test]
    fn the_mlp_fixture_runs_a_forward_with_its_all_reduce() {
        // The bench's program at a small size: T = 8, B = 8, H = 256.
        let t8 = mlp_forward_timing(8, 8, 256, Mode::TIMING_LEAN).unwrap();
        let t1 = mlp_forward_timing(1, 8, 256, Mode::TIMING_LEAN).unwrap();
        assert!(t8 > 0 && t1 > 0);
        assert_ne!(t8, t1, "eight ranks split the GEMMs and add an all-reduce");
        // Keeping the ops or not changes nothing in the timing.
        assert_eq!(mlp_forward_timing(8, 8, 256, Mode::TIMING).unwrap(), t8);
    }

    #[test]
    fn the_minimal_synthetic_loop_times_the_log_about_as_the_engine_does() {
        let (resources, graph) = synthetic_graph(20_000);
        let mut engine = Engine::new(resources.clone(), false);
        let ours = time_graph(&mut engine, &graph);
        let minimal = minimal_synthetic_loop(&resources, &graph);
        // Only arbitration differs (first come, first served against recording order).
        let ratio = minimal as f64 / ours as f64;
        assert!((0.97..=1.03).contains(&ratio), "minimal {minimal} ps against the engine's {ours} ps");
    }

    #[test]
    fn the_synthetic_graph_has_the_asked_size_and_runs() {
        let (resources, graph) = synthetic_graph(10_000);
        assert_eq!(graph.len(), 10_000);
        assert!(graph.iter().any(|op| matches!(op.stages, Stages::One(_)) && op.deps[1].is_some()));
        let mut engine = Engine::new(resources.clone(), false);
        let makespan = time_graph(&mut engine, &graph);
        assert_eq!(engine.ops_done(), 10_000);
        // A chain of 10 000 / 64 steps of at least 90 ns each bounds the makespan from below.
        assert!(makespan >= (10_000 / 64) as u64 * 90_000, "{makespan}");
        // Streaming the same graph through a non-retaining engine gives the same timing: the
        // engine never lets a later-recorded op start before `now`, and every op recorded in a
        // chunk is ready no earlier than the time the previous chunk was waited to.
        let mut lean = Engine::new(resources.clone(), false);
        let streamed = time_graph_streaming(&mut lean, &graph, 10_000);
        assert_eq!(streamed, makespan);
        assert_eq!(lean.ops_held(), 0);
    }
}
