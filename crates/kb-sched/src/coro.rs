//! Rank coroutines: stackful `may` coroutines that run one at a time, on the calling thread, only
//! when the caller resumes them.
//!
//! This module is the only place that touches `may` (DESIGN.md, "The scheduler on `may`, as
//! measured"); the scheduler sees [`Coroutines`], [`Parker`] and [`Resumed`], so the backend can
//! be replaced without touching the rest. The pattern, and the `may` 0.3.51 API behind each step:
//!
//! - **Start**: the first [`Coroutines::resume`] of a coroutine creates it with
//!   `may::coroutine::Builder::stack_size(words).spawn_local(..)`, which runs it at once on the
//!   calling thread until it parks or finishes (`Builder::spawn` would queue it on a worker
//!   thread instead).
//! - **Park**: [`Parker::park`] parks on the coroutine's own `may::sync::FastBlocker`, which
//!   switches back to whoever resumed it.
//! - **Resume**: later resumes call `FastBlocker::unpark`, which runs the parked coroutine right
//!   away on the calling thread (`Park::unpark_impl(true)` → `run_coroutine`) until it parks
//!   again; it is never pushed on `may`'s run queues. Nothing else ever wakes a rank: ranks never
//!   block through `may` channels, sleep, mutexes or `yield_now` (those hand the coroutine to a
//!   worker thread), and `may`'s `Coroutine::cancel` is never used.
//! - **Abort**: [`Coroutines::abort`] sets our own flag; the aborted coroutine's pending (or
//!   next) [`Parker::park`] returns [`Err(Aborted)`](Aborted), so it ends by returning an error or
//!   by [`Aborted::unwind`], both of which run its `Drop` code on its own stack, on the calling
//!   thread.
//!
//! So one coroutine runs at a time, and only the caller decides which: the same sequence of
//! calls gives the same interleaving on every run, whatever `may`'s worker count.
//!
//! # `Send`
//!
//! `spawn_local` asks for `F: Send` and `T: Send` because `may` may move a coroutine between its
//! worker threads. Ours never reach a worker: they run only inside [`Coroutines::resume`] (and
//! its `Drop`) on the thread that owns the [`Coroutines`], which is itself `!Send` (it holds
//! `Rc`s). So [`Coroutines::add`] takes non-`Send` closures and values (`Rc<RefCell<..>>` state
//! shared between ranks is the point) and hands them to `may` through `AssertSend`. If rank code
//! calls `may`'s blocking API anyway (it cannot reach `may` through kb; it would have to depend
//! on `may` itself), the coroutine leaves our control for a worker thread; `resume` detects
//! that and aborts the process, because that coroutine could then race this thread on shared
//! `Rc`s.
//!
//! # Process-global state
//!
//! `may`'s configuration and scheduler are process-global: the scheduler starts (a timer thread
//! and one I/O/worker thread per configured worker) on the first `spawn_local` in the process,
//! with the worker count configured at that moment; later `set_workers` calls do nothing.
//! [`Coroutines::new`] sets one worker, once per process under a `std::sync::Once`, before any
//! of our coroutines is created. Nothing here runs on those threads, so the count only decides
//! how many idle threads `may` keeps.
//!
//! Independent [`Coroutines`] sets on different OS threads (the test harness runs tests on
//! several) need no lock between them: a coroutine runs on the stack-switching context of the
//! thread that resumes it (the `generator` crate keeps that context in a thread-local), parking
//! and unparking touch only the coroutine's own `FastBlocker`, and the only shared `may` objects
//! reached (the scheduler's `Once`, its coroutine pool, the stack-overflow signal handler) are
//! thread-safe. The tests check this with sets driven concurrently from several threads.
//!
//! # Thread-locals
//!
//! Every rank runs on the caller's thread, so all ranks share its thread-locals: no `RefCell` or
//! thread-local borrow may be held across a park. The panic count is one of them: a coroutine
//! that unwinds must not switch away, so [`Parker::park`] refuses to park during an unwind.
//!
//! # Stacks
//!
//! Rank stacks are [`RANK_STACK_BYTES`] (1 MiB) of `mmap`ed memory with a guard page; only the
//! touched pages become resident (measured: 8 KiB per parked rank, 1024 ranks in 8 MiB). They are
//! `may`'s default stack size, so a finished rank's coroutine returns to `may`'s pool (up to
//! [`POOLED_STACKS`]) and later spawns reuse it: a thousand-rank spawn maps its stacks once per
//! process, not once per spawn (an empty all-reduce on 1024 ranks: 13 → 5.5 ms). The pages a rank
//! touched stay resident while its coroutine is pooled.
//! `Builder::stack_size` counts words, not bytes; an odd word count makes `generator` touch every
//! page and `may` print the stack usage of each finished coroutine, so [`stack_words`] rounds to
//! an even count.
//! A stack overflow ends the process. `generator` 0.8.12 catches the fault on the guard page
//! and switches out of the coroutine without unwinding it; then either `may` notices the stack's
//! bottom words were used, prints `stack overflow detected` and exits with code 1, or control
//! comes back to [`Coroutines::resume`], which prints `rank coroutine N overflowed its stack`
//! and aborts (the frames left on the freed stack were never dropped, so going on is unsound).

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Once;

use may::coroutine::{Builder, JoinHandle};
use may::sync::FastBlocker;

#[cfg(test)]
mod tests;

/// Stack of one rank coroutine: 1 MiB, of which only touched pages cost memory.
pub(crate) const RANK_STACK_BYTES: usize = 1 << 20;

/// What a [`Coroutines::resume`] ended with.
#[derive(Debug)]
pub(crate) enum Resumed<T> {
    /// The coroutine parked in [`Parker::park`]; resume it again later.
    Parked,
    /// The coroutine returned (`Ok`) or panicked (`Err` with the panic payload, see
    /// [`panic_message`]).
    Finished(std::thread::Result<T>),
    /// The coroutine was [aborted](Coroutines::abort) and has ended, its `Drop` code run.
    /// Whatever it returned, or a panic after the abort, is dropped.
    Aborted,
}

/// Error of [`Parker::park`]: the coroutine was aborted (or is unwinding) and must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aborted;

impl Aborted {
    /// Unwinds the coroutine's stack to its top, running its `Drop` code; the resume that runs
    /// this reports [`Resumed::Aborted`]. Does not call the panic hook (nothing is printed).
    ///
    /// Like any panic, calling this in `Drop` code that runs during an unwind aborts the
    /// process; return the error there instead.
    pub(crate) fn unwind(self) -> ! {
        panic::resume_unwind(Box::new(AbortUnwind))
    }
}

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the coroutine was aborted")
    }
}

impl std::error::Error for Aborted {}

/// Private unwind payload of [`Aborted::unwind`], recognised at the coroutine's top.
struct AbortUnwind;

/// State a coroutine shares with its [`Parker`] (same thread only).
#[derive(Debug, Default)]
struct Control {
    /// The coroutine parks here; the resumer unparks it. `FastBlocker::default` is
    /// `FastBlocker::new` without its "called inside a coroutine" assertion: the blocker is
    /// created before its coroutine, and only parked from inside it.
    blocker: FastBlocker,
    /// Set by [`Coroutines::abort`].
    aborted: Cell<bool>,
    /// True while the coroutine is suspended in [`Parker::park`].
    parked: Cell<bool>,
}

/// How a coroutine ended, written by its top frame before it returns to `may`.
enum Outcome<T> {
    Finished(std::thread::Result<T>),
    Aborted,
}

/// Handed to each coroutine: its way to give control back to the resumer. Clones park the same
/// coroutine (and must only be used from inside it).
#[derive(Clone)]
pub(crate) struct Parker {
    control: Rc<Control>,
}

impl Parker {
    /// Suspends the coroutine until the resumer resumes it again.
    ///
    /// Returns `Err(Aborted)` if the coroutine was aborted, before or during this park; the
    /// coroutine must then end (return the error, or [`Aborted::unwind`]): further parks return
    /// `Err(Aborted)` at once without suspending. It also returns `Err(Aborted)` at once when
    /// called while the coroutine is unwinding from a panic (from `Drop` code), because
    /// switching away mid-unwind would leave the thread's panic count set for every other
    /// coroutine and for the resumer.
    pub(crate) fn park(&self) -> Result<(), Aborted> {
        let control = &*self.control;
        if control.aborted.get() || std::thread::panicking() {
            return Err(Aborted);
        }
        control.parked.set(true);
        // Err only reports `may`'s own cancel or timeout, neither of which we use.
        let parked = control.blocker.park(None);
        control.parked.set(false);
        debug_assert!(parked.is_ok(), "FastBlocker::park failed: {parked:?}");
        if control.aborted.get() { Err(Aborted) } else { Ok(()) }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parker").field("aborted", &self.control.aborted.get()).finish()
    }
}

/// The text of a panic payload: the message of `panic!("...")`, or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic payload that is not a string)"
    }
}

/// `Builder::stack_size` counts `usize` words: `bytes` rounded down to an even word count
/// (odd counts switch on `generator`'s full stack tracking, which touches every page).
pub(crate) fn stack_words(bytes: usize) -> usize {
    (bytes / size_of::<usize>()).max(2) & !1
}

/// Sets `may`'s process-global configuration once, before the first coroutine of the process:
/// the worker count, and rank stacks as `may`'s default stack size, so that a finished rank's
/// coroutine goes back to `may`'s pool and the next spawn reuses it and its stack, instead of
/// mapping and unmapping a stack per rank (see [`pool_stacks`]). The pool starts with room for
/// one (`may` reads 0 as its default, 1000, and maps that many stacks when its scheduler starts).
fn configure_may() {
    static CONFIGURE: Once = Once::new();
    CONFIGURE.call_once(|| {
        may::config().set_workers(may_workers()).set_stack_size(stack_words(RANK_STACK_BYTES)).set_pool_capacity(1);
    });
}

/// How many finished coroutines `may` keeps for reuse: as many as the largest spawn this crate's
/// benchmarks and tests make, so a sweep of thousand-rank spawns maps its stacks once.
const POOLED_STACKS: usize = 4096;

/// Lets `may` keep finished coroutines, once its scheduler has started (it starts on the first
/// coroutine, and its pool would map `capacity` stacks up front).
fn pool_stacks() {
    static POOL: Once = Once::new();
    POOL.call_once(|| {
        may::config().set_pool_capacity(POOLED_STACKS);
    });
}

/// `may` worker threads: 1, or `KB_MAY_WORKERS` (1 to 64) when set — so the determinism tests can
/// run a whole process with 2 workers. No rank ever runs on a worker, so results never depend on it.
fn may_workers() -> usize {
    std::env::var("KB_MAY_WORKERS").ok().and_then(|v| v.parse().ok()).filter(|&n| (1..=64).contains(&n)).unwrap_or(1)
}

/// A coroutine's body, boxed until its first resume.
type Body<T> = Box<dyn FnOnce(&Parker) -> T>;

enum State<T> {
    NotStarted(Body<T>),
    Parked,
    Finished,
}

struct Entry<T> {
    control: Rc<Control>,
    outcome: Rc<Cell<Option<Outcome<T>>>>,
    state: State<T>,
    /// `may`'s handle, once started: done without an outcome means the stack overflowed.
    join: Option<JoinHandle<()>>,
}

/// A set of rank coroutines producing `T`, run one at a time on the thread that owns the set,
/// each only inside [`Coroutines::resume`]. `!Send`: the coroutines never leave that thread.
///
/// Dropping the set aborts and finishes every started coroutine (running its `Drop` code) and
/// drops the bodies never started. Dropped during an unwind, it leaks the started ones instead
/// (their stacks and captures), since resuming them mid-unwind could abort the process.
pub(crate) struct Coroutines<T> {
    stack_words: usize,
    entries: Vec<Entry<T>>,
}

impl<T: 'static> Coroutines<T> {
    /// An empty set whose coroutines get stacks of `stack_bytes` ([`RANK_STACK_BYTES`] for
    /// ranks). Configures `may` the first time in the process.
    pub(crate) fn new(stack_bytes: usize) -> Self {
        configure_may();
        Self { stack_words: stack_words(stack_bytes), entries: Vec::new() }
    }

    /// Adds a coroutine that will run `f` (not started yet); returns its index, 0, 1, 2, … in
    /// order. Neither `f` nor `T` needs to be `Send` (see the module docs).
    pub(crate) fn add(&mut self, f: impl FnOnce(&Parker) -> T + 'static) -> usize {
        self.entries.push(Entry {
            control: Rc::default(),
            outcome: Rc::new(Cell::new(None)),
            state: State::NotStarted(Box::new(f)),
            join: None,
        });
        self.entries.len() - 1
    }

    /// Number of coroutines added.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Runs coroutine `i` on the calling thread until it parks or ends. A panic in it is caught
    /// and returned as `Finished(Err(payload))`, never propagated. An aborted coroutine that was
    /// never started is not started: its body is dropped and the result is `Aborted`.
    ///
    /// # Panics
    ///
    /// If `i` is not an index from [`add`](Self::add), or coroutine `i` has already ended.
    pub(crate) fn resume(&mut self, i: usize) -> Resumed<T> {
        let stack_words = self.stack_words;
        let entry = &mut self.entries[i];
        match std::mem::replace(&mut entry.state, State::Finished) {
            State::Finished => panic!("coroutine {i} has already ended"),
            State::NotStarted(_) if entry.control.aborted.get() => return Resumed::Aborted,
            State::NotStarted(f) => match start(stack_words, entry, f) {
                Ok(join) => entry.join = Some(join),
                Err(payload) => return Resumed::Finished(Err(payload)),
            },
            State::Parked => entry.control.blocker.unpark(),
        }
        // Back on this thread: the coroutine has parked or ended.
        match entry.outcome.take() {
            Some(Outcome::Finished(result)) => {
                entry.join = None;
                Resumed::Finished(result)
            }
            Some(Outcome::Aborted) => {
                entry.join = None;
                Resumed::Aborted
            }
            None if entry.control.parked.get() => {
                entry.state = State::Parked;
                Resumed::Parked
            }
            None => lost(i, entry, stack_words),
        }
    }

    /// True once coroutine `i` has ended (returned, panicked or was aborted and resumed).
    ///
    /// # Panics
    ///
    /// If `i` is not an index from [`add`](Self::add).
    #[cfg(test)]
    pub(crate) fn is_finished(&self, i: usize) -> bool {
        matches!(self.entries[i].state, State::Finished)
    }

    /// Marks coroutine `i` aborted: when next resumed, its pending park returns `Err(Aborted)`
    /// so that it ends, running its `Drop` code; that resume reports [`Resumed::Aborted`].
    /// Does nothing to a coroutine that has ended.
    ///
    /// # Panics
    ///
    /// If `i` is not an index from [`add`](Self::add).
    pub(crate) fn abort(&mut self, i: usize) {
        self.entries[i].control.aborted.set(true);
    }
}

/// Creates coroutine `entry` and runs it until it first parks or ends. `Err` if `may` could not
/// create it (no memory for its stack).
fn start<T: 'static>(stack_words: usize, entry: &Entry<T>, f: Body<T>) -> Result<JoinHandle<()>, Box<dyn Any + Send>> {
    let control = Rc::clone(&entry.control);
    let outcome = Rc::clone(&entry.outcome);
    let body = AssertSend(move || {
        let parker = Parker { control };
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(&parker)));
        let ended = if parker.control.aborted.get() {
            // Dropped here, on the coroutine's stack: whatever it returned, an
            // `AbortUnwind`, or a panic raised while ending.
            drop(result);
            Outcome::Aborted
        } else {
            Outcome::Finished(result)
        };
        outcome.set(Some(ended));
    });
    let builder = Builder::new().stack_size(stack_words);
    // SAFETY: `spawn_local` is unsafe for `may`'s cancel (never used here) and for coroutines
    // that move between threads; this one runs only on the calling thread, inside `resume`.
    let spawned = panic::catch_unwind(AssertUnwindSafe(|| unsafe { builder.spawn_local(move || body.into_inner()()) }));
    pool_stacks();
    match spawned {
        Ok(Ok(join)) => Ok(join),
        Ok(Err(e)) => Err(Box::new(format!("cannot create a coroutine: {e}"))),
        Err(payload) => Err(payload),
    }
}

/// Coroutine `i` came back neither parked in [`Parker::park`] nor ended through its top frame.
/// Either its stack overflowed (`generator`'s guard-page handler switched out of it without
/// unwinding, and `may` freed the stack under frames never dropped), or it blocked through
/// `may`'s own API and now belongs to `may`'s worker threads, where it could race this thread
/// on the `Rc`s it holds. Neither can go on soundly: like Rust on a thread's stack overflow, this
/// aborts the process.
#[cold]
#[expect(clippy::print_stderr, reason = "last words before aborting the process")]
fn lost<T>(i: usize, entry: &Entry<T>, stack_words: usize) -> ! {
    if entry.join.as_ref().is_some_and(JoinHandle::is_done) {
        let bytes = stack_words * size_of::<usize>();
        eprintln!("kb-sched: rank coroutine {i} overflowed its stack of {bytes} bytes; aborting");
    } else {
        eprintln!(
            "kb-sched: rank coroutine {i} blocked through `may` instead of the scheduler; aborting \
             (it would run on another thread)"
        );
    }
    std::process::abort()
}

impl<T> Drop for Coroutines<T> {
    fn drop(&mut self) {
        let stack_words = self.stack_words;
        for (i, entry) in self.entries.iter_mut().enumerate() {
            if !matches!(entry.state, State::Parked) {
                continue;
            }
            if std::thread::panicking() {
                // Leak the parked coroutine: see the type's docs.
                continue;
            }
            entry.control.aborted.set(true);
            entry.state = State::Finished;
            entry.control.blocker.unpark();
            // Its parks now return at once, so it has ended (or is lost, see `lost`).
            if entry.outcome.take().is_none() {
                lost(i, entry, stack_words);
            }
            entry.join = None;
        }
    }
}

impl<T> fmt::Debug for Coroutines<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let states = self.entries.iter().map(|e| match e.state {
            State::NotStarted(_) => "not started",
            State::Parked => "parked",
            State::Finished => "finished",
        });
        f.debug_struct("Coroutines")
            .field("stack_words", &self.stack_words)
            .field("states", &states.collect::<Vec<_>>())
            .finish()
    }
}

/// Hands a non-`Send` value to `may`, which requires `Send`; see the module docs for why that is
/// sound here.
struct AssertSend<F>(F);

// SAFETY: the wrapped coroutine body only ever runs, and is dropped, on the thread that owns the
// `Coroutines` set (which is `!Send`); see the module docs.
unsafe impl<F> Send for AssertSend<F> {}

impl<F> AssertSend<F> {
    /// Takes the value out; a method, so that closures capture the whole wrapper, not its field.
    fn into_inner(self) -> F {
        self.0
    }
}
