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
fn a_send_meeting_a_send_names_both_ranks() {
    let e = spawn(2, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F32)?;
        send(&ctx, &t, 1 - ctx.rank())
    })
    .unwrap_err();
    assert_failed_with(
        e,
        "send/recv: rank 0 sends f32 [4] to rank 1 but rank 1 sends f32 [4] to rank 0: each send needs a matching recv on the peer",
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
    assert_failed_with(
        e,
        "send/recv: rank 0 receives bf16 [2, 3] from rank 2 but rank 2 receives bf16 [2, 3] from rank 0: each recv needs a matching send on the peer",
    );
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
        "send/recv: rank 0 sends f32 [4] to rank 1 but rank 1 receives f16 [4] from rank 0: a send and its recv need the same dtype and element count",
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
        "send/recv: rank 1 sends i32 [5] to rank 0 but rank 0 receives i32 [6] from rank 1: a send and its recv need the same dtype and element count",
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
fn a_cycle_of_sends_is_a_deadlock_naming_the_pairs() {
    // Each rank sends to the next before receiving: every send waits for a recv that comes later.
    let e = spawn(3, |ctx| {
        let (me, n) = (ctx.rank(), ctx.world_size());
        let t = ctx.device().zeros(&[4], DType::F32)?;
        send(&ctx, &t, (me + 1) % n)?;
        recv(&ctx, &t, (me + n - 1) % n)
    })
    .unwrap_err();
    let SpawnError::Deadlock { waits } = e else { panic!("expected a deadlock, got {e}") };
    let text = waits.join("\n");
    for pair in ["[0, 1]", "[1, 2]", "[0, 2]"] {
        assert!(text.contains(&format!("rendezvous `send/recv` #1 of group {pair}")), "{text}");
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
                let want = hops * (ps(c.link_latency_ns) + ps((count * bytes_per_elem) as f64 / c.link_gbps));
                assert_eq!(spans[0], want, "{topology}, {n} ranks, 0 → {dst}");
                assert_eq!(spans[dst], want, "the receiver ends with the sender");
            }
        }
    }
}
