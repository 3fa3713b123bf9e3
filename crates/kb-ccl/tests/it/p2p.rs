//! send and recv: bytes against the sender's values, matching in program order, the errors, and
//! the time of one transfer against the cost model's closed form.

use kb_ccl::{CclError, recv, recv_async, send, send_async};
use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode, Topology};
use kb_sched::{Runtime, SpawnError, spawn};

use crate::all_to_all::{DTYPES, WORLDS, bits, make};
use crate::errors::{assert_failed_with, failures};
use crate::reference::read_bits;

/// The seed of the tensor `from` sends to `to` among `n` ranks.
fn seed(from: usize, to: usize, n: usize) -> usize {
    from * n + to
}

#[test]
fn every_pair_exchanges_in_both_directions() {
    // Each rank meets its peers in increasing order; in a pair the lower rank sends first. The
    // lowest unfinished pair can always proceed, so the exchange never deadlocks.
    for dtype in DTYPES {
        for n in WORLDS.into_iter().filter(|&n| n > 1) {
            let got = spawn(n, move |ctx| {
                let me = ctx.rank();
                let mut got = Vec::new();
                for count in [0, 1, 5] {
                    for peer in (0..n).filter(|&p| p != me) {
                        let mine = make(&ctx, seed(me, peer, n), &[count], dtype)?;
                        // The receiving tensor may have another shape with the same element count.
                        let theirs = ctx.device().full(&[1, count], -3.0, dtype)?;
                        if me < peer {
                            send(&ctx, &mine, peer)?;
                            recv(&ctx, &theirs, peer)?;
                        } else {
                            recv(&ctx, &theirs, peer)?;
                            send(&ctx, &mine, peer)?;
                        }
                        got.push((count, peer, read_bits(&theirs)?));
                    }
                }
                Ok::<_, CclError>(got)
            })
            .unwrap_or_else(|e| panic!("{n} ranks, {dtype}: {e}"));
            for (me, got) in got.iter().enumerate() {
                assert_eq!(got.len(), 3 * (n - 1));
                for (count, peer, bits_got) in got {
                    let want = bits(seed(*peer, me, n), *count, dtype);
                    assert_eq!(bits_got, &want, "{n} ranks, {dtype}, {count} elements: rank {me} from {peer}");
                }
            }
        }
    }
}

#[test]
fn sends_match_recvs_in_program_order() {
    // Rank 0 posts three sends to rank 1 before waiting on any; rank 1 receives them in order.
    let got = spawn(2, |ctx| {
        if ctx.rank() == 0 {
            let ts = (0..3).map(|k| make(&ctx, k, &[4], DType::I32)).collect::<Result<Vec<_>, _>>()?;
            let works = ts.iter().map(|t| send_async(&ctx, t, 1)).collect::<Result<Vec<_>, _>>()?;
            for w in &works {
                w.wait()?;
                assert!(w.is_completed());
            }
            Ok::<_, CclError>(Vec::new())
        } else {
            let mut got = Vec::new();
            for _ in 0..3 {
                let t = ctx.device().zeros(&[4], DType::I32)?;
                let w = recv_async(&ctx, &t, 0)?;
                w.wait()?;
                got.push(read_bits(&t)?);
            }
            Ok(got)
        }
    })
    .unwrap();
    for (k, bits_got) in got[1].iter().enumerate() {
        assert_eq!(bits_got, &bits(k, 4, DType::I32), "receive {k}");
    }
}

#[test]
fn a_write_after_send_async_waits_for_the_transfer() {
    // The send reads the tensor; a later write of it (a copy on the sender's device) is ordered
    // after that read, so the receiver gets the values from before the write.
    let got = spawn(2, |ctx| {
        let t = make(&ctx, 7, &[16], DType::F32)?;
        if ctx.rank() == 0 {
            let w = send_async(&ctx, &t, 1)?;
            let other = ctx.device().full(&[16], 99.0, DType::F32)?;
            t.copy_from(&other)?;
            w.wait()?;
            Ok::<_, CclError>(read_bits(&t)?)
        } else {
            let out = ctx.device().zeros(&[16], DType::F32)?;
            recv(&ctx, &out, 0)?;
            Ok(read_bits(&out)?)
        }
    })
    .unwrap();
    assert_eq!(got[1], bits(7, 16, DType::F32));
    assert_eq!(got[0], vec![99.0f32.to_bits(); 16]);
}

#[test]
fn a_send_nobody_receives_and_receives_nobody_answers_are_errors_naming_both_ranks() {
    let e = spawn(2, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F32)?;
        send(&ctx, &t, 1 - ctx.rank())
    })
    .unwrap_err();
    let f = failures(e);
    let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "rank 1 ended without taking 1 message(s) rank 0 posted to it on `p2p`",
            "rank 0 ended without taking 1 message(s) rank 1 posted to it on `p2p`",
        ]
    );
    let e = spawn(3, |ctx| {
        let t = ctx.device().zeros(&[2, 3], DType::BF16)?;
        match ctx.rank() {
            0 => recv(&ctx, &t, 2),
            2 => recv(&ctx, &t, 0),
            _ => Ok(()),
        }
    })
    .unwrap_err();
    let SpawnError::Deadlock { waits } = e else { panic!("expected a deadlock, got {e}") };
    let text = waits.join("\n");
    assert!(text.contains("rank 0 waits for a message on `p2p` from rank 2, which has not posted one"), "{text}");
    assert!(text.contains("rank 2 waits for a message on `p2p` from rank 0, which has not posted one"), "{text}");
}

#[test]
fn a_different_dtype_or_size_names_both_ranks_and_values() {
    let e = spawn(2, |ctx| {
        if ctx.rank() == 0 {
            send(&ctx, &ctx.device().zeros(&[4], DType::F32)?, 1)
        } else {
            recv(&ctx, &ctx.device().zeros(&[4], DType::F16)?, 0)
        }
    })
    .unwrap_err();
    assert_failed_with(
        e,
        "recv: rank 1 receives f16 [4] from rank 0, but rank 0 sent f32 [4]: a send and its recv need the same dtype and element count",
    );
    // The receiver's tensor keeps its bytes: nothing was recorded.
    let rt = Runtime::with_default_machine().unwrap();
    let kept = std::rc::Rc::new(std::cell::RefCell::new(None));
    let k = kept.clone();
    let e = rt
        .spawn(2, move |ctx| {
            if ctx.rank() == 1 {
                send(&ctx, &ctx.device().zeros(&[5], DType::I32)?, 0)
            } else {
                let t = ctx.device().full(&[6], 3.0, DType::I32)?;
                *k.borrow_mut() = Some(t.clone());
                recv(&ctx, &t, 1)
            }
        })
        .unwrap_err();
    assert_failed_with(
        e,
        "recv: rank 0 receives i32 [6] from rank 1, but rank 1 sent i32 [5]: a send and its recv need the same dtype and element count",
    );
    let t = kept.borrow().clone().unwrap();
    assert_eq!(t.to_vec::<i32>().unwrap(), [3; 6]);
}

#[test]
fn a_peer_that_is_the_rank_itself_or_outside_the_world_is_refused() {
    let e = spawn(2, |ctx| send(&ctx, &ctx.device().zeros(&[4], DType::F32)?, ctx.rank())).unwrap_err();
    let f = failures(e);
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[0].message,
        "send: rank 0: peer 0 is the calling rank itself (a rank cannot send to or receive from itself)"
    );
    let e = spawn(2, |ctx| recv(&ctx, &ctx.device().zeros(&[4], DType::F32)?, 1)).unwrap_err();
    assert_eq!(
        failures(e)[0].message,
        "recv: rank 1: peer 1 is the calling rank itself (a rank cannot send to or receive from itself)"
    );
    let e = spawn(2, |ctx| recv(&ctx, &ctx.device().zeros(&[4], DType::F32)?, 9)).unwrap_err();
    assert_eq!(failures(e)[0].message, "recv: rank 0: peer 9 is out of range for a world of 2 ranks");
    let e = spawn(2, |ctx| {
        let other = ctx.runtime().device(((ctx.rank() + 1) % 2) as u32)?;
        send(&ctx, &other.zeros(&[4], DType::F32)?, 1 - ctx.rank())
    })
    .unwrap_err();
    assert_eq!(failures(e)[0].message, "send: rank 0 passed a tensor on device 1, but its own device is 0");
}

#[test]
fn every_rank_can_send_before_it_receives() {
    // A ring exchange posted send-first on every rank, as with torch's isend/irecv: sends never
    // wait for their receiver.
    for n in [2usize, 3, 8] {
        let got = spawn(n, move |ctx| {
            let (me, n) = (ctx.rank(), ctx.world_size());
            let out = ctx.device().full(&[4], me as f64, DType::F32)?;
            let into = ctx.device().zeros(&[4], DType::F32)?;
            let sent = send_async(&ctx, &out, (me + 1) % n)?;
            let got = recv_async(&ctx, &into, (me + n - 1) % n)?;
            sent.wait()?;
            got.wait()?;
            Ok::<_, CclError>(into.to_vec::<f32>()?)
        })
        .unwrap();
        for (me, v) in got.iter().enumerate() {
            assert_eq!(v, &[((me + n - 1) % n) as f32; 4], "{n} ranks: rank {me}");
        }
    }
}

/// Picoseconds of `x` nanoseconds, rounded.
fn ps(ns: f64) -> u64 {
    (ns * 1000.0).round() as u64
}

#[test]
fn one_send_takes_a_hop_per_link_of_its_route() {
    // Store and forward: each link of the route takes `latency + bytes / link_gbps`, one after the
    // other. On a ring of n the route is the shorter way round (forward on a tie): min(d, n − d)
    // hops for ranks d apart; through a switch always two (up, then down).
    for topology in [Topology::Ring, Topology::Switch] {
        for (n, bytes_per_elem, count) in [(8u32, 4usize, 1usize << 16), (5, 2, 1000), (2, 4, 3)] {
            for dst in 1..n as usize {
                let mut spec = MachineSpec::default();
                spec.cluster.ranks = n;
                spec.cluster.topology = topology;
                let rt = Runtime::new(spec.clone(), Mode::TIMING).unwrap();
                let dtype = if bytes_per_elem == 4 { DType::F32 } else { DType::F16 };
                let spans = rt
                    .spawn(n as usize, move |ctx| {
                        let t = ctx.device().empty(&[count], dtype)?;
                        let start = ctx.runtime().now();
                        let end = match ctx.rank() {
                            0 => send_async(&ctx, &t, dst)?.wait()?,
                            r if r == dst => recv_async(&ctx, &t, 0)?.wait()?,
                            _ => start,
                        };
                        Ok::<_, CclError>(end - start)
                    })
                    .unwrap();
                let c = &spec.cluster;
                let hops = match topology {
                    Topology::Switch => 2,
                    _ => dst.min(n as usize - dst) as u64,
                };
                let bytes = (count * bytes_per_elem) as f64;
                let want = hops * (ps(c.link_latency_ns) + ps(bytes / c.link_gbps));
                assert_eq!(spans[0], want, "{topology}, {n} ranks, 0 → {dst}");
                // The receiver then copies the staging buffer into its tensor: one DMA on PE 0,
                // HBM to HBM, at the lesser of the DMA rate and an HBM slot's share.
                let d = &spec.device;
                let share = d.hbm_gbps / (d.hbm_gbps / d.dma_gbps).floor().max(1.0);
                let copy = ps(d.dma_setup_ns) + ps(bytes / d.dma_gbps.min(share));
                assert_eq!(spans[dst], want + copy, "the receiver copies after the transfer");
            }
        }
    }
}
