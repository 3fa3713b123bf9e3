//! Many ranks: spawn, waits that park, rendezvous, failures, deadlocks, determinism.

use std::cell::RefCell;
use std::rc::Rc;

use kb_mem::DType;
use kb_oplog::{MachineSpec, Mode};
use kb_sched::{RankCtx, Runtime, SchedError, SpawnError, Tensor, Work, spawn};

fn runtime(ranks: u32) -> Runtime {
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = ranks;
    Runtime::new(spec, Mode::DATA).unwrap()
}

/// A kernel that writes `value` into `t`, not waited for.
fn fill(ctx: &RankCtx, t: &Tensor, value: f64) -> Work {
    let n = t.numel();
    ctx.device()
        .launch("fill", 1, |p| {
            let tile = p.full(&[n], value, t.dtype())?;
            p.store(&p.block_ptr(t, &[0], &[n])?, &tile)
        })
        .unwrap()
}

#[test]
fn results_come_back_in_rank_order() {
    let out = spawn(4, |ctx| Ok::<_, SchedError>((ctx.rank(), ctx.world_size(), ctx.device().index()))).unwrap();
    assert_eq!(out, [(0, 4, 0), (1, 4, 1), (2, 4, 2), (3, 4, 3)]);
    assert_eq!(spawn(1, |ctx| Ok::<_, SchedError>(ctx.rank())).unwrap(), [0]);
}

#[test]
fn a_thousand_ranks_launch_and_wait() {
    let rt = runtime(1024);
    let ends = rt
        .spawn(1024, |ctx| {
            let t = ctx.device().zeros(&[64], DType::F32)?;
            let w = fill(&ctx, &t, ctx.rank() as f64);
            w.wait()?;
            t.get::<f32>(&[63])
        })
        .unwrap();
    assert_eq!(ends.len(), 1024);
    assert!(ends.iter().enumerate().all(|(r, &v)| v == r as f32));
}

#[test]
fn a_parked_rank_resumes_with_its_work_complete_and_waiting_twice_is_harmless() {
    let rt = runtime(4);
    let seen = rt
        .spawn(4, |ctx| {
            let t = ctx.device().zeros(&[1024], DType::F32)?;
            let w = fill(&ctx, &t, 1.0);
            let before = (w.is_completed(), ctx.runtime().now());
            let end = w.wait()?;
            let after = (w.is_completed(), ctx.runtime().now());
            let again = w.wait()?;
            Ok::<_, SchedError>((before, end, after, again))
        })
        .unwrap();
    for (rank, (before, end, after, again)) in seen.into_iter().enumerate() {
        assert_eq!(before, (false, 0), "rank {rank}: nothing ran before the wait");
        assert!(after.0 && after.1 >= end, "rank {rank}");
        assert_eq!(again, end, "rank {rank}");
    }
}

#[test]
fn only_the_scheduler_advances_time_and_waits_interleave() {
    // Rank r waits for a kernel of r+1 programs; ranks resume in the order their work ends.
    let rt = runtime(4);
    let order = Rc::new(RefCell::new(Vec::new()));
    let log = order.clone();
    rt.spawn(4, move |ctx| {
        let t = ctx.device().zeros(&[4096], DType::F32)?;
        let mut w = fill(&ctx, &t, 0.0);
        for _ in 0..(4 - ctx.rank()) {
            w = fill(&ctx, &t, 1.0);
        }
        let end = w.wait()?;
        log.borrow_mut().push((ctx.rank(), end));
        Ok::<_, SchedError>(())
    })
    .unwrap();
    let order = order.borrow();
    let ranks: Vec<usize> = order.iter().map(|&(r, _)| r).collect();
    assert_eq!(ranks, [3, 2, 1, 0]);
    assert!(order.windows(2).all(|w| w[0].1 <= w[1].1), "{order:?}");
}

#[test]
fn a_rendezvous_shows_every_members_argument_to_code_run_once() {
    let runs = Rc::new(RefCell::new(0));
    let counter = runs.clone();
    let out = spawn(5, move |ctx| {
        let counter = counter.clone();
        let members = [1, 3, 4];
        if !members.contains(&ctx.rank()) {
            return Ok::<_, SchedError>(None);
        }
        let got = ctx.rendezvous("sum", &members, ctx.rank() * 10, move |args: Vec<usize>| {
            *counter.borrow_mut() += 1;
            let total: usize = args.iter().sum();
            Ok(args.iter().map(|a| (total, *a)).collect())
        })?;
        Ok(Some(got))
    })
    .unwrap();
    assert_eq!(out, [None, Some((80, 10)), None, Some((80, 30)), Some((80, 40))]);
    assert_eq!(*runs.borrow(), 1);
}

#[test]
fn a_failing_rank_is_the_only_cause_and_siblings_drop() {
    struct Guard(Rc<RefCell<Vec<usize>>>, usize);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let d = dropped.clone();
    let err = spawn(8, move |ctx| {
        let _guard = Guard(d.clone(), ctx.rank());
        let t = ctx.device().zeros(&[16], DType::F32)?;
        fill(&ctx, &t, 2.0).wait()?;
        if ctx.rank() == 5 {
            return Err(SchedError::Invalid { op: "test", reason: "rank 5 gives up".into() });
        }
        // The others wait on something that never comes.
        ctx.rendezvous("never", &[0, 1, 2, 3, 4, 5, 6, 7], (), |_: Vec<()>| Ok(vec![(); 8]))?;
        Ok(())
    })
    .unwrap_err();
    let SpawnError::Failed(causes) = &err else { panic!("{err}") };
    assert_eq!(causes.len(), 1);
    assert_eq!((causes[0].rank, causes[0].panicked), (5, false));
    assert_eq!(err.to_string(), "\n-- Process 5 terminated with the following error:\ntest: rank 5 gives up");
    let mut dropped = dropped.borrow().clone();
    dropped.sort_unstable();
    assert_eq!(dropped, [0, 1, 2, 3, 4, 5, 6, 7], "every rank's Drop ran");
}

#[test]
fn two_failures_a_panic_and_an_error_are_both_caught() {
    let err = spawn(4, |ctx| {
        let t = ctx.device().zeros(&[4], DType::F32)?;
        t.get::<f32>(&[0])?;
        match ctx.rank() {
            1 => panic!("rank one panics"),
            2 => Err(SchedError::Invalid { op: "test", reason: "rank two errs".into() }),
            _ => Ok(()),
        }
    })
    .unwrap_err();
    let SpawnError::Failed(causes) = err else { panic!() };
    let summary: Vec<(usize, &str, bool)> = causes.iter().map(|c| (c.rank, c.message.as_str(), c.panicked)).collect();
    assert_eq!(summary, [(1, "rank one panics", true), (2, "test: rank two errs", false)]);
}

#[test]
fn a_deadlock_names_each_rank_and_what_it_waits_on() {
    let err = spawn(3, |ctx| {
        if ctx.rank() == 2 {
            return Ok::<_, SchedError>(()); // never joins
        }
        ctx.rendezvous("barrier", &[0, 1, 2], (), |_: Vec<()>| Ok(vec![(); 3]))
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "deadlock: every live rank is waiting and nothing can progress:\n  \
         rank 0 waits on rendezvous `barrier` #1 of group [0, 1, 2], which ranks [2] have not joined\n  \
         rank 1 waits on rendezvous `barrier` #1 of group [0, 1, 2], which ranks [2] have not joined\n  \
         rank 2 has ended"
    );
}

#[test]
fn more_ranks_than_devices_is_an_error() {
    let rt = runtime(2);
    let err = rt.spawn(3, |_| Ok::<_, SchedError>(())).unwrap_err();
    assert_eq!(err.to_string(), "spawn: 3 ranks need 3 devices, but the machine has 2");
}

#[test]
fn per_rank_state_is_private_to_the_rank() {
    let out = spawn(3, |ctx| {
        let counter = ctx.local(|| RefCell::new(ctx.rank() * 100));
        *counter.borrow_mut() += 1;
        let again = ctx.local(|| RefCell::new(0usize));
        Ok::<_, SchedError>(*again.borrow())
    })
    .unwrap();
    assert_eq!(out, [1, 101, 201]);
}

#[test]
fn a_sixteen_rank_program_is_identical_on_every_run() {
    crate::sixteen::check_twenty_runs();
}

#[test]
fn yielding_ranks_take_turns_in_rank_order() {
    let events = Rc::new(RefCell::new(Vec::new()));
    let log = events.clone();
    spawn(3, move |ctx| {
        for step in 0..3 {
            log.borrow_mut().push((step, ctx.rank()));
            ctx.yield_now()?;
        }
        Ok::<_, SchedError>(())
    })
    .unwrap();
    let want: Vec<(usize, usize)> = (0..3).flat_map(|s| (0..3).map(move |r| (s, r))).collect();
    assert_eq!(*events.borrow(), want);
}

#[test]
fn a_failing_host_read_after_a_wait_is_each_ranks_root_cause() {
    // Each rank parks in a wait, resumes, then its host read fails (a timing-only runtime keeps no
    // data): the error propagates out of the rank and is that rank's root cause. (The engine itself
    // cannot fail a wait: every recorded op ends.)
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = 2;
    let rt = Runtime::new(spec, Mode::TIMING).unwrap();
    let err = rt
        .spawn(2, |ctx| {
            let t = ctx.device().zeros(&[8], DType::F32)?;
            fill(&ctx, &t, 1.0).wait()?;
            t.to_vec::<f32>()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "\n-- Process 0 terminated with the following error:\nto_vec reads tensor data, but this runtime is timing-only (it keeps no data)\n\n-- Process 1 terminated with the following error:\nto_vec reads tensor data, but this runtime is timing-only (it keeps no data)"
    );
}

#[test]
fn posted_messages_are_taken_in_order_and_a_taker_parks_until_one_comes() {
    let got = spawn(3, |ctx| {
        let (me, n) = (ctx.rank(), ctx.world_size());
        // Every rank posts to the next before anyone takes: posting never waits.
        ctx.post("ring", (me + 1) % n, me * 10)?;
        ctx.post("ring", (me + 1) % n, me * 10 + 1)?;
        let first: usize = ctx.take("ring", (me + n - 1) % n)?;
        let second: usize = ctx.take("ring", (me + n - 1) % n)?;
        // Rank 0 takes on another channel before rank 2 posts on it: it parks meanwhile.
        if me == 2 {
            ctx.yield_now()?;
            ctx.post("late", 0, "hello")?;
        }
        let late = if me == 0 { Some(ctx.take::<&str>("late", 2)?) } else { None };
        Ok::<_, SchedError>((first, second, late))
    })
    .unwrap();
    assert_eq!(got, [(20, 21, Some("hello")), (0, 1, None), (10, 11, None)]);
}

#[test]
fn a_message_nobody_takes_and_a_take_nobody_answers_are_errors() {
    let err = spawn(2, |ctx| {
        if ctx.rank() == 0 {
            ctx.post("p2p", 1, 7u8)?;
        }
        Ok::<_, SchedError>(())
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "\n-- Process 1 terminated with the following error:\nrank 1 ended without taking 1 message(s) rank 0 posted to it on `p2p`"
    );
    let err = spawn(2, |ctx| {
        let from = 1 - ctx.rank();
        ctx.take::<u8>("p2p", from)?;
        Ok::<_, SchedError>(())
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("rank 0 waits for a message on `p2p` from rank 1, which has not posted one"), "{text}");
    assert!(text.contains("rank 1 waits for a message on `p2p` from rank 0, which has not posted one"), "{text}");
}
