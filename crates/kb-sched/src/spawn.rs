//! Many ranks in one process: [`spawn`] runs a function once per rank, as
//! `torch.multiprocessing.spawn` runs one process per GPU, on the deterministic scheduler.
//!
//! Each rank is a coroutine ([`crate::coro`]); exactly one runs at a time, and the scheduler on
//! the calling thread alone decides which. It works in rounds: it resumes every runnable rank in
//! rank order until each parks (on a wait or a rendezvous) or ends; then, in one barrier, it
//! completes every rendezvous whose members have all arrived, and — if no rank can run yet —
//! drives the timing engine until the earliest awaited op ends, which makes its waiters runnable.
//! Only the scheduler ever drives the engine, and simulated time only moves forward between
//! rounds, so an op a rank records after its wait returned can never start before that wait's end.
//!
//! A rank that returns an error or panics is a root cause. The round it failed in is finished (a
//! rank resumed after it may fail too, and is then a root cause as well); then every other rank
//! is aborted at the park point it reached (its `Drop` code runs) and [`SpawnError`] lists the
//! root causes only. If every
//! live rank is parked and nothing can progress, that is a deadlock, reported with what each rank
//! waits on — never a hang.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;

use kb_oplog::{MachineSpec, Mode, OpId, Topology};

use crate::coro::{Aborted, Coroutines, Parker, RANK_STACK_BYTES, Resumed, panic_message};
use crate::{Device, Runtime, SchedError};

/// What a parked rank waits for.
#[derive(Debug, Clone)]
pub(crate) enum Waiting {
    /// An op to end in simulated time.
    Op(OpId),
    /// A rendezvous to be joined by every member.
    Rendezvous(RendezvousKey),
    /// A message on a mailbox channel from another rank ([`RankCtx::take`]).
    Mail(MailKey),
    /// Nothing: the rank yielded and runs again in the next round.
    Yield,
}

/// A mailbox channel: its name, the sending rank and the receiving rank.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct MailKey {
    channel: String,
    from: usize,
    to: usize,
}

/// A rendezvous: a name, the members (sorted ranks, interned: see [`Groups`]), and which call of
/// that name by that group.
#[derive(Debug, Clone)]
pub(crate) struct RendezvousKey {
    name: String,
    /// The members' index among the interned groups: keys compare and hash by it, not by the
    /// ranks (a thousand-rank group would cost a thousand-word comparison each time).
    group: u32,
    members: Rc<[usize]>,
    call: u64,
}

impl RendezvousKey {
    fn id(&self) -> (&str, u32, u64) {
        (&self.name, self.group, self.call)
    }
}

impl PartialEq for RendezvousKey {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for RendezvousKey {}

impl PartialOrd for RendezvousKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RendezvousKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(&other.id())
    }
}

impl fmt::Display for RendezvousKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rendezvous `{}` #{} of group {:?}", self.name, self.call, self.members)
    }
}

/// The member lists rendezvous have named, each stored once and numbered.
#[derive(Debug, Default)]
struct Groups {
    lists: Vec<Rc<[usize]>>,
    index: HashMap<Rc<[usize]>, u32>,
}

impl Groups {
    /// The number and the stored list of `members` (sorted, without duplicates), stored now if
    /// new. A list handed out earlier (the world's, a group's) is found by its address, without
    /// reading it: a list stored here lives as long as the scheduler, so no other list can sit at
    /// its address.
    fn intern(&mut self, members: &[usize]) -> (u32, Rc<[usize]>) {
        if let Some(i) =
            self.lists.iter().position(|l| std::ptr::eq(l.as_ptr(), members.as_ptr()) && l.len() == members.len())
        {
            return (i as u32, self.lists[i].clone());
        }
        if let Some(&i) = self.index.get(members) {
            return (i, self.lists[i as usize].clone());
        }
        let list: Rc<[usize]> = members.into();
        let i = self.lists.len() as u32;
        self.lists.push(list.clone());
        self.index.insert(list.clone(), i);
        (i, list)
    }
}

type GroupRun = Box<dyn FnOnce(Vec<Box<dyn Any>>) -> Result<Vec<Box<dyn Any>>, String>>;
/// One member's result of a rendezvous, until it takes it.
type MemberResult = Option<Result<Box<dyn Any>, String>>;
/// Calls made so far per (rendezvous name, interned group).
type CallCounts = HashMap<(String, u32), u64>;

/// A rendezvous being joined.
struct Rendezvous {
    /// Each member's argument, by position in `members`.
    args: Vec<Option<Box<dyn Any>>>,
    /// The code to run once for the group (the first arriving member's).
    run: Option<GroupRun>,
    /// Each member's result, once run.
    results: Option<Vec<MemberResult>>,
}

/// The scheduler's state shared with the runtime while ranks run.
pub(crate) struct Scheduler {
    pub(crate) current: std::cell::Cell<Option<usize>>,
    parkers: RefCell<Vec<Option<Parker>>>,
    waiting: RefCell<Vec<Option<Waiting>>>,
    /// An error from driving the engine, handed to the rank whose wait it ended.
    wait_errors: RefCell<Vec<Option<SchedError>>>,
    rendezvous: RefCell<BTreeMap<RendezvousKey, Rendezvous>>,
    /// The member lists rendezvous have named; the world's first (the list
    /// [`RankCtx::world_ranks`] shares).
    groups: RefCell<Groups>,
    /// Per rank: calls made so far per (name, members), to number rendezvous.
    calls: RefCell<Vec<CallCounts>>,
    /// Per rank: state registered by upper crates.
    locals: RefCell<Vec<HashMap<TypeId, Rc<dyn Any>>>>,
    /// Messages posted and not yet taken, per channel, in posting order.
    mail: RefCell<BTreeMap<MailKey, VecDeque<Box<dyn Any>>>>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("current", &self.current.get())
            .field("waiting", &self.waiting.borrow())
            .finish()
    }
}

impl Scheduler {
    fn new(n: usize) -> Scheduler {
        let mut groups = Groups::default();
        groups.intern(&(0..n).collect::<Vec<_>>());
        Scheduler {
            current: std::cell::Cell::new(None),
            parkers: RefCell::new(vec![None; n]),
            waiting: RefCell::new(vec![None; n]),
            wait_errors: RefCell::new((0..n).map(|_| None).collect()),
            rendezvous: RefCell::new(BTreeMap::new()),
            groups: RefCell::new(groups),
            calls: RefCell::new(vec![HashMap::new(); n]),
            locals: RefCell::new(vec![HashMap::new(); n]),
            mail: RefCell::new(BTreeMap::new()),
        }
    }

    /// Parks the current rank on `what`; returns once the scheduler resumes it. An abort unwinds.
    pub(crate) fn park_on(&self, what: Waiting) -> Result<(), SchedError> {
        let rank = self.current.get().expect("park_on is called from inside a rank");
        self.waiting.borrow_mut()[rank] = Some(what);
        let parker = self.parkers.borrow()[rank].clone().expect("every started rank has a parker");
        if let Err(aborted) = parker.park() {
            aborted.unwind();
        }
        self.waiting.borrow_mut()[rank] = None;
        match self.wait_errors.borrow_mut()[rank].take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What a rank holds: its rank, the world size, its device and the runtime.
#[derive(Debug, Clone)]
pub struct RankCtx {
    rank: usize,
    world: usize,
    rt: Runtime,
    sched: Rc<Scheduler>,
}

impl RankCtx {
    /// This rank, 0-based.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.world
    }

    /// Every rank of the world, in order: one list shared by every rank (a group of the world
    /// built from it meets in rendezvous without its ranks being copied or compared).
    pub fn world_ranks(&self) -> Rc<[usize]> {
        self.sched.groups.borrow().lists[0].clone()
    }

    /// The runtime all ranks share.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// This rank's device: device `rank`.
    pub fn device(&self) -> Device {
        Device { rt: self.rt.clone(), index: self.rank as u32 }
    }

    /// Gives control back to the scheduler; the rank runs again in the next round, after every
    /// other runnable rank has had its turn. Simulated time does not move.
    pub fn yield_now(&self) -> Result<(), SchedError> {
        self.sched.park_on(Waiting::Yield)
    }

    /// State of type `S` private to this rank and this runtime, created by `init` on first use.
    /// Upper layers keep their per-rank state here (parallel groups, communicators) — no globals.
    pub fn local<S: 'static>(&self, init: impl FnOnce() -> S) -> Rc<S> {
        let existing = self.sched.locals.borrow()[self.rank].get(&TypeId::of::<S>()).cloned();
        let any = match existing {
            Some(any) => any,
            None => {
                let any: Rc<dyn Any> = Rc::new(init());
                self.sched.locals.borrow_mut()[self.rank].insert(TypeId::of::<S>(), any.clone());
                any
            }
        };
        any.downcast::<S>().expect("keyed by its own type")
    }

    /// Posts `message` on the mailbox channel `channel` to rank `to`, without waiting: the
    /// one-sided counterpart of a rendezvous, for eager sends. Messages on one channel between
    /// one pair of ranks are taken in posting order. A message nobody takes is an error of `spawn`
    /// naming the channel and both ranks.
    pub fn post<A: 'static>(&self, channel: &str, to: usize, message: A) -> Result<(), SchedError> {
        if to >= self.world {
            return Err(SchedError::Invalid {
                op: "post",
                reason: format!(
                    "rank {} posted on `{channel}` to rank {to}, but the world has {} ranks",
                    self.rank, self.world
                ),
            });
        }
        let key = MailKey { channel: channel.to_string(), from: self.rank, to };
        self.sched.mail.borrow_mut().entry(key).or_default().push_back(Box::new(message));
        Ok(())
    }

    /// Takes the next message rank `from` posted to this rank on `channel`, parking until there
    /// is one. Every other rank runs meanwhile; if none can post it, `spawn` reports a deadlock
    /// naming the channel.
    pub fn take<A: 'static>(&self, channel: &str, from: usize) -> Result<A, SchedError> {
        let key = MailKey { channel: channel.to_string(), from, to: self.rank };
        loop {
            let message = self.sched.mail.borrow_mut().get_mut(&key).and_then(VecDeque::pop_front);
            if let Some(message) = message {
                return message.downcast::<A>().map(|m| *m).map_err(|_| SchedError::Invalid {
                    op: "take",
                    reason: format!("a message on `{channel}` from rank {from} is not of the type taken"),
                });
            }
            self.sched.park_on(Waiting::Mail(key.clone()))?;
        }
    }

    /// Parks this rank on the rendezvous `name` of the ranks `members` (which must include it)
    /// until every member has arrived with its `arg`. Then `run` — of the first member to arrive —
    /// runs once with every member's argument (in member order) and returns one result per
    /// member; each member gets its own. A `run` error goes to every member. Calls match by order:
    /// the k-th call of `name` by a group on one rank meets the k-th on every other.
    pub fn rendezvous<A: 'static, R: 'static>(
        &self,
        name: &str,
        members: &[usize],
        arg: A,
        run: impl FnOnce(Vec<A>) -> Result<Vec<R>, String> + 'static,
    ) -> Result<R, SchedError> {
        // Members come sorted (a group's ranks); only another order is sorted here.
        let members: Cow<'_, [usize]> = if members.windows(2).all(|w| w[0] < w[1]) {
            Cow::Borrowed(members)
        } else {
            let mut m = members.to_vec();
            m.sort_unstable();
            m.dedup();
            Cow::Owned(m)
        };
        let Ok(position) = members.binary_search(&self.rank) else {
            return Err(SchedError::Invalid {
                op: "rendezvous",
                reason: format!("rank {} is not a member of group {members:?} for `{name}`", self.rank),
            });
        };
        if let Some(&bad) = members.get(members.partition_point(|&m| m < self.world)) {
            return Err(SchedError::Invalid {
                op: "rendezvous",
                reason: format!(
                    "group {members:?} for `{name}` names rank {bad}, but the world has {} ranks",
                    self.world
                ),
            });
        }
        let (group, members) = self.sched.groups.borrow_mut().intern(&members);
        let call = {
            let mut calls = self.sched.calls.borrow_mut();
            let counter = calls[self.rank].entry((name.to_string(), group)).or_insert(0);
            *counter += 1;
            *counter
        };
        let key = RendezvousKey { name: name.to_string(), group, members, call };
        let complete = {
            let mut all = self.sched.rendezvous.borrow_mut();
            let n = key.members.len();
            let r = all.entry(key.clone()).or_insert_with(|| Rendezvous {
                args: (0..n).map(|_| None).collect(),
                run: None,
                results: None,
            });
            r.args[position] = Some(Box::new(arg));
            if r.run.is_none() {
                let run: GroupRun = Box::new(move |args: Vec<Box<dyn Any>>| {
                    let args: Vec<A> =
                        args.into_iter().map(|a| *a.downcast::<A>().expect("one type per rendezvous")).collect();
                    run(args).map(|rs| rs.into_iter().map(|r| Box::new(r) as Box<dyn Any>).collect())
                });
                r.run = Some(run);
            }
            r.args.iter().all(Option::is_some)
        };
        if complete {
            // The last member to arrive runs the group's code, at once, on its own stack.
            let (run, args) = {
                let mut all = self.sched.rendezvous.borrow_mut();
                let r = all.get_mut(&key).expect("just inserted");
                let args: Vec<Box<dyn Any>> = r.args.iter_mut().map(|a| a.take().expect("complete")).collect();
                (r.run.take().expect("set by the first member"), args)
            };
            let n = key.members.len();
            let results: Vec<MemberResult> = match run(args) {
                Ok(rs) if rs.len() == n => rs.into_iter().map(|r| Some(Ok(r))).collect(),
                Ok(rs) => {
                    let msg = format!("`{name}` returned {} results for {n} members", rs.len());
                    (0..n).map(|_| Some(Err(msg.clone()))).collect()
                }
                Err(msg) => (0..n).map(|_| Some(Err(msg.clone()))).collect(),
            };
            self.sched.rendezvous.borrow_mut().get_mut(&key).expect("still there").results = Some(results);
        } else {
            self.sched.park_on(Waiting::Rendezvous(key.clone()))?;
        }
        let mine = {
            let mut all = self.sched.rendezvous.borrow_mut();
            let r = all.get_mut(&key).expect("a rendezvous stays until every member took its result");
            let mine = r.results.as_mut().and_then(|rs| rs[position].take()).expect("resumed after the group ran");
            if r.results.as_ref().is_some_and(|rs| rs.iter().all(Option::is_none)) {
                all.remove(&key);
            }
            mine
        };
        let mine = mine.map_err(|reason| SchedError::Rendezvous { name: name.to_string(), reason })?;
        Ok(*mine.downcast::<R>().expect("one result type per rendezvous"))
    }
}

/// `spawn` failed: some ranks failed (the root causes), or the ranks deadlocked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// One or more ranks returned an error or panicked; the others were aborted.
    #[error("{}", format_failures(.0))]
    Failed(Vec<RankFailure>),
    /// Every live rank was parked and nothing could progress.
    #[error("deadlock: every live rank is waiting and nothing can progress:\n{}", .waits.join("\n"))]
    Deadlock {
        /// One line per rank: what it waits on, or that it has ended.
        waits: Vec<String>,
    },
    /// The spawn itself could not start.
    #[error("spawn: {0}")]
    Setup(String),
}

/// A root cause: a rank that returned an error or panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankFailure {
    /// The rank.
    pub rank: usize,
    /// Its error's message, or the panic message.
    pub message: String,
    /// Whether it panicked (rather than returned an error).
    pub panicked: bool,
}

fn format_failures(failures: &[RankFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("\n-- Process {} terminated with the following error:\n{}", f.rank, f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `f` once per rank `0..nprocs` on a runtime over the default machine with `nprocs`
/// devices on a ring (data kept), and returns each rank's result in rank order.
pub fn spawn<T, E, F>(nprocs: usize, f: F) -> Result<Vec<T>, SpawnError>
where
    T: 'static,
    E: fmt::Display + 'static,
    F: Fn(RankCtx) -> Result<T, E> + 'static,
{
    let mut spec = MachineSpec::default();
    spec.cluster.ranks = nprocs.max(1) as u32;
    if matches!(spec.cluster.topology, Topology::Torus2d { .. }) {
        spec.cluster.topology = Topology::Ring;
    }
    let rt = Runtime::new(spec, Mode::DATA).map_err(|e| SpawnError::Setup(e.to_string()))?;
    rt.spawn(nprocs, f)
}

impl Runtime {
    /// Runs `f` once per rank `0..nprocs` (rank `r` on device `r`), each as a coroutine on the
    /// deterministic scheduler, and returns each rank's result in rank order.
    pub fn spawn<T, E, F>(&self, nprocs: usize, f: F) -> Result<Vec<T>, SpawnError>
    where
        T: 'static,
        E: fmt::Display + 'static,
        F: Fn(RankCtx) -> Result<T, E> + 'static,
    {
        let devices = self.machine().cluster.ranks as usize;
        if nprocs > devices {
            return Err(SpawnError::Setup(format!(
                "{nprocs} ranks need {nprocs} devices, but the machine has {devices}"
            )));
        }
        if self.inner.borrow().scheduler.is_some() {
            return Err(SpawnError::Setup("spawn cannot be called from inside a rank".into()));
        }
        let sched = Rc::new(Scheduler::new(nprocs));
        self.inner.borrow_mut().scheduler = Some(sched.clone());
        let result = self.run_ranks(nprocs, Rc::new(f), &sched);
        let mut inner = self.inner.borrow_mut();
        inner.scheduler = None;
        if result.is_err() {
            // Batches the failed ranks were recording wave by wave stop here (their waves hold the
            // runtime: keeping them would also keep it alive).
            inner.waves.clear();
        }
        drop(inner);
        result
    }

    fn run_ranks<T, E, F>(&self, n: usize, f: Rc<F>, sched: &Rc<Scheduler>) -> Result<Vec<T>, SpawnError>
    where
        T: 'static,
        E: fmt::Display + 'static,
        F: Fn(RankCtx) -> Result<T, E> + 'static,
    {
        let mut coros: Coroutines<Result<T, String>> = Coroutines::new(RANK_STACK_BYTES);
        for rank in 0..n {
            let ctx = RankCtx { rank, world: n, rt: self.clone(), sched: sched.clone() };
            let f = f.clone();
            let parkers = sched.clone();
            coros.add(move |parker: &Parker| {
                parkers.parkers.borrow_mut()[rank] = Some(parker.clone());
                f(ctx).map_err(|e| e.to_string())
            });
        }
        let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
        let mut runnable = vec![true; n];
        let mut ended = vec![false; n];
        let mut failures: Vec<RankFailure> = Vec::new();
        let mut ops: Vec<(usize, OpId)> = Vec::new();
        loop {
            for rank in 0..n {
                if !runnable[rank] || ended[rank] {
                    continue;
                }
                sched.current.set(Some(rank));
                let outcome = coros.resume(rank);
                sched.current.set(None);
                match outcome {
                    Resumed::Parked => runnable[rank] = false,
                    Resumed::Finished(Ok(Ok(v))) => {
                        results[rank] = Some(v);
                        ended[rank] = true;
                    }
                    Resumed::Finished(Ok(Err(message))) => {
                        ended[rank] = true;
                        failures.push(RankFailure { rank, message, panicked: false });
                    }
                    Resumed::Finished(Err(payload)) => {
                        ended[rank] = true;
                        failures.push(RankFailure {
                            rank,
                            message: panic_message(&*payload).to_string(),
                            panicked: true,
                        });
                    }
                    Resumed::Aborted => ended[rank] = true,
                }
            }
            // The round is complete: every rank resumed in it ran to its next park point, where
            // the siblings of a failed rank are now aborted.
            if !failures.is_empty() {
                abort_all(&mut coros, sched, &mut ended);
                return Err(SpawnError::Failed(failures));
            }
            if ended.iter().all(|&e| e) {
                let unread = unread_mail(sched);
                if !unread.is_empty() {
                    return Err(SpawnError::Failed(unread));
                }
                return Ok(results.into_iter().map(|r| r.expect("every rank ended with a value")).collect());
            }
            // The barrier: completed rendezvous, then the engine. (No allocation when nothing
            // waits on an op: a round of yields costs one resume per rank.)
            ops.clear();
            {
                let waiting = sched.waiting.borrow();
                let rendezvous = sched.rendezvous.borrow();
                let mail = sched.mail.borrow();
                let inner = self.inner.borrow();
                for (rank, w) in waiting.iter().enumerate() {
                    match w {
                        Some(Waiting::Yield) => runnable[rank] = true,
                        Some(Waiting::Rendezvous(key)) if rendezvous.get(key).is_some_and(|r| r.results.is_some()) => {
                            runnable[rank] = true;
                        }
                        Some(Waiting::Mail(key)) if mail.get(key).is_some_and(|q| !q.is_empty()) => {
                            runnable[rank] = true;
                        }
                        Some(Waiting::Op(op)) if inner.sim.is_done(*op) => runnable[rank] = true,
                        Some(Waiting::Op(op)) => ops.push((rank, *op)),
                        Some(Waiting::Rendezvous(_) | Waiting::Mail(_)) | None => {}
                    }
                }
            }
            if runnable.iter().zip(&ended).any(|(&r, &e)| r && !e) {
                continue;
            }
            if ops.is_empty() {
                let waits = describe_waits(&sched.waiting.borrow(), &ended, sched);
                abort_all(&mut coros, sched, &mut ended);
                return Err(SpawnError::Deadlock { waits });
            }
            let targets: Vec<OpId> = ops.iter().map(|&(_, op)| op).collect();
            let driven = self.drive_until_any(&targets);
            for &(rank, op) in &ops {
                match &driven {
                    Err(e) => {
                        sched.wait_errors.borrow_mut()[rank] = Some(SchedError::Engine(e.to_string()));
                        runnable[rank] = true;
                    }
                    Ok(_) if self.inner.borrow().sim.is_done(op) => runnable[rank] = true,
                    Ok(_) => {}
                }
            }
        }
    }
}

fn describe_waits(waiting: &[Option<Waiting>], ended: &[bool], sched: &Scheduler) -> Vec<String> {
    let all = sched.rendezvous.borrow();
    waiting
        .iter()
        .enumerate()
        .map(|(rank, w)| match w {
            _ if ended[rank] => format!("  rank {rank} has ended"),
            Some(Waiting::Rendezvous(key)) => {
                let missing: Vec<usize> = all
                    .get(key)
                    .map(|r| key.members.iter().zip(&r.args).filter(|(_, a)| a.is_none()).map(|(&m, _)| m).collect())
                    .unwrap_or_default();
                format!("  rank {rank} waits on {key}, which ranks {missing:?} have not joined")
            }
            Some(Waiting::Op(op)) => format!("  rank {rank} waits on op {op:?}"),
            Some(Waiting::Mail(key)) => {
                format!(
                    "  rank {rank} waits for a message on `{}` from rank {}, which has not posted one",
                    key.channel, key.from
                )
            }
            Some(Waiting::Yield) => format!("  rank {rank} yielded"),
            None => format!("  rank {rank} is parked"),
        })
        .collect()
}

/// The messages no rank took, as failures of the ranks they were posted to.
fn unread_mail(sched: &Scheduler) -> Vec<RankFailure> {
    let mail = sched.mail.borrow();
    mail.iter()
        .filter(|(_, q)| !q.is_empty())
        .map(|(key, q)| RankFailure {
            rank: key.to,
            message: format!(
                "rank {} ended without taking {} message(s) rank {} posted to it on `{}`",
                key.to,
                q.len(),
                key.from,
                key.channel
            ),
            panicked: false,
        })
        .collect()
}

/// Aborts every rank that has not ended and resumes it so its `Drop` code runs.
fn abort_all<T: 'static>(coros: &mut Coroutines<T>, sched: &Scheduler, ended: &mut [bool]) {
    for (rank, ended) in ended.iter_mut().enumerate() {
        if !*ended {
            coros.abort(rank);
            sched.current.set(Some(rank));
            let _ = coros.resume(rank);
            sched.current.set(None);
            *ended = true;
        }
    }
}

impl From<Aborted> for SchedError {
    fn from(_: Aborted) -> SchedError {
        SchedError::Aborted
    }
}

#[cfg(test)]
mod tests;
