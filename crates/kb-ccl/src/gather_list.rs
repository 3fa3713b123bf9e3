//! `all_gather` into a list of tensors, as `torch.distributed.all_gather`: each member passes `n`
//! output tensors shaped like its input, and output `i` gets member `i`'s input.
//!
//! Each member copies its input into its own output (a DMA on PE 0 of its device). Two algorithms
//! move the rest:
//!
//! - **Ring** (`ring`, and `auto`): `n − 1` steps; at step `s` member `p` sends part `p − s`
//!   (mod `n`) — its input at step 0, else the output it received at the previous step — into
//!   member `p + 1`'s output of that index.
//! - **Direct** (`direct`): each member sends its input to every other member at once, into that
//!   member's output of its index; the engine shares the links between the transfers.
//!
//! Halving-doubling and the tree are refused ([`CclError::UnsupportedAlgo`]) by each member before
//! the members meet, so nothing is recorded.

use kb_oplog::{CollectiveAlgo, OpId};
use kb_sched::{RankCtx, Runtime, SchedError, Tensor, Work};

use crate::algo::{Kind, dispatch};
use crate::collective::{Call, check_algo, launch};
use crate::plan::{Label, Plan, Slot, regions};
use crate::{CclError, ProcessGroup};

/// Gathers every member's `input` into `outputs`, in group order: `outputs` holds one tensor per
/// member, each with as many elements of `input`'s dtype as `input`, and output `i` gets member
/// `i`'s input; then waits until this member's outputs are final. The tensors may be views of one
/// storage (the parts of one tensor, say) but must not overlap each other or `input`.
pub fn all_gather(ctx: &RankCtx, group: &ProcessGroup, outputs: &[Tensor], input: &Tensor) -> Result<(), CclError> {
    all_gather_async(ctx, group, outputs, input)?.wait()?;
    Ok(())
}

/// As [`all_gather`], returning a [`Work`] instead of waiting.
pub fn all_gather_async(
    ctx: &RankCtx,
    group: &ProcessGroup,
    outputs: &[Tensor],
    input: &Tensor,
) -> Result<Work, CclError> {
    const NAME: &str = "all_gather";
    let rank = ctx.rank();
    if group.contains(rank) {
        check_algo(ctx, group, NAME, Kind::AllGatherList)?;
        check_outputs(rank, group.size(), outputs, input)?;
    }
    let mut tensors = vec![("input", input.clone())];
    tensors.extend(outputs.iter().map(|t| ("output", t.clone())));
    let call = Call { rank, tensors, op: None, root: None, algo: CollectiveAlgo::Ring };
    launch(ctx, group, NAME, call, Kind::AllGatherList, dispatch(Kind::AllGatherList))
}

/// Checks that there is one output per member, each like `input`, none overlapping another or
/// `input`.
fn check_outputs(rank: usize, n: usize, outputs: &[Tensor], input: &Tensor) -> Result<(), CclError> {
    let bad = |reason: String| CclError::BadParts { collective: "all_gather", rank, reason };
    if outputs.len() != n {
        return Err(bad(format!(
            "outputs holds {} tensors but a group of {n} needs {n}, one per member",
            outputs.len()
        )));
    }
    if let Some((i, o)) =
        outputs.iter().enumerate().find(|(_, o)| o.dtype() != input.dtype() || o.numel() != input.numel())
    {
        return Err(bad(format!(
            "output {i} is {} {:?} but input is {} {:?}: each output must hold as many elements of its dtype as input",
            o.dtype(),
            o.shape(),
            input.dtype(),
            input.shape()
        )));
    }
    // Byte spans of the dense, non-empty tensors (the others are refused by the member checks or
    // move nothing), sorted: two overlap only if neighbours do.
    let mut spans = Vec::with_capacity(n + 1);
    for (which, t) in std::iter::once((None, input)).chain(outputs.iter().enumerate().map(|(i, o)| (Some(i), o))) {
        if t.numel() == 0 || !t.is_contiguous() {
            continue;
        }
        let region = t.region()?;
        let start = region.addr + (region.layout.offset() * region.dtype.size()) as u64;
        spans.push((t.device(), start, start + region.nbytes() as u64, which));
    }
    spans.sort_unstable();
    let name = |w: Option<usize>| w.map_or_else(|| "input".to_string(), |i| format!("output {i}"));
    if let Some(w) = spans.windows(2).find(|w| w[0].0 == w[1].0 && w[1].1 < w[0].2) {
        let (a, b) = (w[0].3.min(w[1].3), w[0].3.max(w[1].3));
        let why = if a.is_none() {
            "in-place calls are not supported (pass separate tensors)"
        } else {
            "each member's part needs its own memory"
        };
        return Err(bad(format!("{} and {} overlap; {why}", name(a), name(b))));
    }
    Ok(())
}

/// Records an all-gather of the members' inputs (tensor 0) into their outputs (tensors 1..=n),
/// around the ring or, for `direct`, all at once.
pub(crate) fn record(rt: &Runtime, calls: &[Call]) -> Result<Vec<OpId>, SchedError> {
    let n = calls.len();
    let Some(first) = calls.first() else { return Ok(Vec::new()) };
    let m = first.tensor(0).numel();
    let ring = first.algo != CollectiveAlgo::Direct;
    let flat = |t: &Tensor| if t.numel() == 0 { Ok(t.clone()) } else { t.reshape(&[t.numel()]) };
    let ins = calls.iter().map(|c| flat(c.tensor(0))).collect::<Result<Vec<_>, _>>()?;
    let outs = calls
        .iter()
        .map(|c| c.tensors[1..].iter().map(|(_, t)| flat(t)).collect::<Result<Vec<_>, _>>())
        .collect::<Result<Vec<_>, _>>()?;
    let reads = ins.iter().map(|t| vec![t.clone()]).collect();
    // Slots per member: output k is k, the input n.
    let mut plan = Plan::new(rt, "all_gather", n + 1, reads, outs.clone())?;
    if m > 0 {
        let (in_mem, out_mem) = (regions(&ins)?, outs.iter().map(|o| regions(o)).collect::<Result<Vec<_>, _>>()?);
        let (out_at, in_at) = (|p, k| Slot { member: p, index: k }, |p| Slot { member: p, index: n });
        let copy = Label::new("all_gather copy");
        for p in 0..n {
            plan.copy((in_mem[p].clone(), in_at(p)), (out_mem[p][p].clone(), out_at(p, p)), 0, &copy)?;
        }
        if ring {
            let send = Label::new("all_gather ring send");
            for s in 0..n - 1 {
                for p in 0..n {
                    let (q, k) = ((p + 1) % n, (p + n - s) % n);
                    let (src, src_at) =
                        if s == 0 { (in_mem[p].clone(), in_at(p)) } else { (out_mem[p][k].clone(), out_at(p, k)) };
                    plan.transfer((src, src_at), (out_mem[q][k].clone(), out_at(q, k)), &send)?;
                }
            }
        } else {
            let send = Label::new("all_gather direct send");
            for s in 1..n {
                for p in 0..n {
                    let q = (p + s) % n;
                    plan.transfer((in_mem[p].clone(), in_at(p)), (out_mem[q][p].clone(), out_at(q, p)), &send)?;
                }
            }
        }
    }
    plan.finish()
}
