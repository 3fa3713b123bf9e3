use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use super::{Aborted, Coroutines, RANK_STACK_BYTES, Resumed, panic_message, stack_words};

/// The value of a coroutine that returned, or a description of how it ended otherwise.
fn finished<T: std::fmt::Debug>(resumed: Resumed<T>) -> T {
    match resumed {
        Resumed::Finished(Ok(v)) => v,
        Resumed::Finished(Err(payload)) => panic!("panicked: {}", panic_message(&*payload)),
        other => panic!("not finished: {other:?}"),
    }
}

/// Sets a flag when dropped, to see that a coroutine's stack was unwound.
struct Guard(Rc<Cell<bool>>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn indices_count_up_and_each_resume_runs_its_own_coroutine() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let ran = Rc::new(RefCell::new(Vec::new()));
    for id in 0..3 {
        let ran = Rc::clone(&ran);
        let index = co.add(move |_| {
            ran.borrow_mut().push(id);
            id * 10
        });
        assert_eq!(index, id);
    }
    assert_eq!(co.len(), 3);
    assert!(ran.borrow().is_empty(), "add must not start a coroutine");

    // Resumed out of creation order: each result belongs to its own index.
    assert_eq!(finished(co.resume(2)), 20);
    assert_eq!(finished(co.resume(0)), 0);
    assert!(!co.is_finished(1));
    assert_eq!(finished(co.resume(1)), 10);
    assert_eq!(*ran.borrow(), [2, 0, 1]);
    assert!((0..3).all(|i| co.is_finished(i)));
}

#[test]
fn parking_three_times_takes_four_resumes() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let steps = Rc::new(Cell::new(0));
    let seen = Rc::clone(&steps);
    co.add(move |parker| {
        for _ in 0..3 {
            seen.set(seen.get() + 1);
            parker.park().expect("not aborted");
        }
        "done"
    });
    for step in 1..=3 {
        assert!(matches!(co.resume(0), Resumed::Parked));
        assert_eq!(steps.get(), step, "the coroutine runs exactly to its next park");
        assert!(!co.is_finished(0));
    }
    assert_eq!(finished(co.resume(0)), "done");
    assert!(co.is_finished(0));
}

#[test]
fn results_come_back_in_creation_order() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    for id in 0..8_u32 {
        co.add(move |parker| {
            // Different numbers of parks, so the coroutines end in different rounds.
            for _ in 0..id % 3 {
                parker.park().expect("not aborted");
            }
            id * id
        });
    }
    let mut results = vec![None; co.len()];
    while results.iter().any(Option::is_none) {
        for (i, slot) in results.iter_mut().enumerate().filter(|(_, r)| r.is_none()) {
            if let Resumed::Finished(r) = co.resume(i) {
                *slot = Some(r.expect("no panic"));
            }
        }
    }
    let expected: Vec<_> = (0..8_u32).map(|id| Some(id * id)).collect();
    assert_eq!(results, expected);
}

#[test]
fn a_panic_is_returned_with_its_message() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    co.add(|parker| -> u32 {
        parker.park().expect("not aborted");
        panic!("rank {} lost its tile", 3)
    });
    co.add(|_| -> u32 { std::panic::panic_any(42_i32) });
    assert!(matches!(co.resume(0), Resumed::Parked));
    let Resumed::Finished(Err(payload)) = co.resume(0) else { panic!("expected a panic") };
    assert_eq!(panic_message(&*payload), "rank 3 lost its tile");
    assert!(co.is_finished(0));
    let Resumed::Finished(Err(payload)) = co.resume(1) else { panic!("expected a panic") };
    assert_eq!(payload.downcast_ref::<i32>(), Some(&42));
    assert_eq!(panic_message(&*payload), "(a panic payload that is not a string)");
}

#[test]
fn abort_unwinds_the_stack_and_reports_aborted() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let unwound = Rc::new(Cell::new(false));
    let returned = Rc::new(Cell::new(false));
    let (u, r) = (Rc::clone(&unwound), Rc::clone(&returned));
    co.add(move |parker| {
        let _guard = Guard(u);
        parker.park().unwrap_or_else(|a| a.unwind());
        r.set(true);
    });
    assert!(matches!(co.resume(0), Resumed::Parked));
    co.abort(0);
    assert!(!co.is_finished(0), "abort takes effect at the next resume");
    assert!(!unwound.get());
    assert!(matches!(co.resume(0), Resumed::Aborted));
    assert!(unwound.get(), "the guard on the coroutine's stack was dropped");
    assert!(!returned.get());
    assert!(co.is_finished(0));
}

#[test]
fn an_aborted_coroutine_that_returns_is_still_reported_aborted() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let unwound = Rc::new(Cell::new(false));
    let u = Rc::clone(&unwound);
    co.add(move |parker| -> Result<u32, Aborted> {
        let _guard = Guard(u);
        parker.park()?;
        Ok(1)
    });
    let later_parks = Rc::new(RefCell::new(Vec::new()));
    let l = Rc::clone(&later_parks);
    co.add(move |parker| {
        let first = parker.park();
        // Parks after an abort return at once instead of suspending.
        let again = parker.park();
        l.borrow_mut().extend([first, again]);
        if let Err(a) = parker.park() {
            panic!("ending with a panic: {a}");
        }
        Ok(2)
    });
    assert!(matches!(co.resume(0), Resumed::Parked));
    assert!(matches!(co.resume(1), Resumed::Parked));
    co.abort(0);
    co.abort(1);
    assert!(matches!(co.resume(0), Resumed::Aborted));
    assert!(unwound.get());
    assert!(matches!(co.resume(1), Resumed::Aborted), "a panic after the abort is dropped");
    assert_eq!(*later_parks.borrow(), [Err(Aborted), Err(Aborted)]);
}

#[test]
fn aborting_an_unstarted_coroutine_drops_its_body_without_running_it() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let dropped = Rc::new(Cell::new(false));
    let guard = Guard(Rc::clone(&dropped));
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    co.add(move |_| {
        let _guard = guard;
        r.set(true);
    });
    co.abort(0);
    assert!(matches!(co.resume(0), Resumed::Aborted));
    assert!(!ran.get());
    assert!(dropped.get());
    assert!(co.is_finished(0));
}

#[test]
fn aborting_a_finished_coroutine_changes_nothing() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    co.add(|_| 5);
    assert_eq!(finished(co.resume(0)), 5);
    co.abort(0);
    assert!(co.is_finished(0));
}

#[test]
fn a_park_during_an_unwind_returns_at_once() {
    /// Parks in `Drop`, as a rank's handle might when its rank unwinds.
    struct ParksOnDrop<'a>(&'a super::Parker, Rc<Cell<Option<Result<(), Aborted>>>>);
    impl Drop for ParksOnDrop<'_> {
        fn drop(&mut self) {
            self.1.set(Some(self.0.park()));
        }
    }
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let parked = Rc::new(Cell::new(None));
    let p = Rc::clone(&parked);
    co.add(move |parker| {
        let _parks = ParksOnDrop(parker, p);
        parker.park().expect("not aborted");
        panic!("boom")
    });
    assert!(matches!(co.resume(0), Resumed::Parked));
    let Resumed::Finished(Err(payload)) = co.resume(0) else { panic!("expected a panic") };
    assert_eq!(panic_message(&*payload), "boom");
    assert_eq!(parked.get(), Some(Err(Aborted)));
    assert!(!std::thread::panicking());
}

#[test]
fn resuming_an_ended_coroutine_is_a_caller_bug() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    co.add(|_| ());
    assert!(matches!(co.resume(0), Resumed::Finished(Ok(()))));
    let err = panic::catch_unwind(AssertUnwindSafe(|| co.resume(0))).expect_err("must panic");
    assert_eq!(panic_message(&*err), "coroutine 0 has already ended");
}

#[test]
fn dropping_the_set_ends_parked_coroutines_and_drops_unstarted_bodies() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    let flags: Vec<_> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
    for flag in &flags {
        let guard = Guard(Rc::clone(flag));
        co.add(move |parker| {
            let _guard = guard;
            loop {
                if parker.park().is_err() {
                    return;
                }
            }
        });
    }
    assert!(matches!(co.resume(0), Resumed::Parked));
    assert!(matches!(co.resume(1), Resumed::Parked));
    co.abort(1);
    drop(co);
    assert!(flags.iter().all(|f| f.get()));
    assert!(flags.iter().all(|f| Rc::strong_count(f) == 1), "no coroutine leaked");
}

/// 16 coroutines over `ROUNDS` rounds, resumed in index order, each logging (id, step) to a shared
/// list and releasing the borrow before it parks.
fn interleaving() -> Vec<(usize, usize)> {
    const RANKS: usize = 16;
    const ROUNDS: usize = 5;
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    for id in 0..RANKS {
        let log = Rc::clone(&log);
        co.add(move |parker| {
            // Ranks take different numbers of steps, so later rounds skip finished ones.
            for step in 0..ROUNDS - id % 3 {
                log.borrow_mut().push((id, step));
                parker.park().expect("not aborted");
            }
            log.borrow_mut().push((id, usize::MAX));
        });
    }
    while (0..co.len()).any(|i| !co.is_finished(i)) {
        for i in 0..co.len() {
            if !co.is_finished(i) {
                let _ = co.resume(i);
            }
        }
    }
    Rc::try_unwrap(log).expect("every coroutine has ended").into_inner()
}

/// What `interleaving` must log, from plain loops.
fn expected_interleaving() -> Vec<(usize, usize)> {
    let mut expected = Vec::new();
    for round in 0..=5 {
        for id in 0..16 {
            let steps = 5 - id % 3;
            if round < steps {
                expected.push((id, round));
            } else if round == steps {
                expected.push((id, usize::MAX));
            }
        }
    }
    expected
}

#[test]
fn the_interleaving_is_the_same_on_every_run() {
    let expected = expected_interleaving();
    for _ in 0..20 {
        assert_eq!(interleaving(), expected);
    }
}

#[test]
fn sets_on_several_threads_run_independently() {
    let expected = expected_interleaving();
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4).map(|_| s.spawn(|| (0..20).map(|_| interleaving()).collect::<Vec<_>>())).collect();
        for thread in threads {
            for run in thread.join().expect("no panic") {
                assert_eq!(run, expected);
            }
        }
    });
}

#[test]
fn a_thousand_and_twenty_four_coroutines_park_and_finish() {
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    for id in 0..1024_usize {
        co.add(move |parker| {
            parker.park().expect("not aborted");
            id
        });
    }
    for i in 0..1024 {
        assert!(matches!(co.resume(i), Resumed::Parked));
    }
    for i in 0..1024 {
        assert_eq!(finished(co.resume(i)), i);
    }
}

#[test]
fn stacks_hold_half_a_mebibyte_of_frames() {
    /// Uses about 4 KiB of stack per level.
    fn deep(levels: usize) -> u64 {
        let frame = black_box([levels as u8; 4096]);
        let below = if levels == 0 { 0 } else { deep(levels - 1) };
        below + u64::from(frame[levels % 4096])
    }
    let mut co = Coroutines::new(RANK_STACK_BYTES);
    co.add(|_| deep(128));
    let expected: u64 = (0..=128_u64).sum();
    assert_eq!(finished(co.resume(0)), expected);
}

#[test]
fn stack_sizes_are_converted_to_even_word_counts() {
    let word = size_of::<usize>();
    assert_eq!(stack_words(RANK_STACK_BYTES), RANK_STACK_BYTES / word);
    assert_eq!(stack_words(1 << 20), (1 << 20) / word);
    assert_eq!(stack_words(3 * word), 2);
    assert_eq!(stack_words(0), 2);
}
