//! The engine's resource queues: for every resource, its busy slots and the ops waiting for one,
//! lowest sequence number first; and the set of resources to dispatch, lowest index first.
//!
//! Most resources have at most one waiter at a time (a chain of ops on a PE, a ring step on a
//! link), so a resource keeps its lowest waiter inline in a one-cache-line record (with what it
//! has served), and only spills the others into a sorted queue of its own when several wait at
//! once: a grant touches one line of the resource.

use std::collections::VecDeque;

use super::Stage;

const NONE: u32 = u32::MAX;

/// One resource's queue state, and what it has served, in half a cache line: the resources a
/// thousand-rank step touches then take half the cache.
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
struct Res {
    /// Picoseconds of stage time served (summed over its slots).
    time: u64,
    /// The lowest waiter's sequence number (valid when `len > 0`).
    min_seq: u64,
    /// The lowest waiter's slot.
    min_slot: u32,
    /// Ops waiting, the inline one included.
    len: u32,
    /// Index of its overflow queue in `Queues::spilled`, `NONE` until it first needs one.
    spill: u32,
    /// Slots in use.
    busy: u16,
    /// Slots it has (see [`MAX_SLOTS`]).
    slots: u16,
}

const _: () = assert!(std::mem::size_of::<Res>() == 32);

/// The most slots a resource has: more are served as this many (65,535 stages at once on one
/// resource is no limit a machine model reaches).
pub(crate) const MAX_SLOTS: u32 = u16::MAX as u32;

/// The queues of every resource, and the dirty set. See the module documentation.
///
/// Resources are indexed unchecked: this module is private to the engine, which passes only
/// resources of the table the queues were made for (it checks every op's stages when it adds the
/// op), and only words its sweep has just taken to [`Queues::dirty_since`].
#[derive(Debug)]
pub(crate) struct Queues {
    res: Vec<Res>,
    /// Per resource that ever had two waiters: the waiters after its inline one, as (sequence
    /// number, slot) in ascending order. Waiters mostly arrive in recording order, so keeping
    /// them sorted costs an append; a late arrival is placed by binary search.
    spilled: Vec<VecDeque<(u64, u32)>>,
    dirty: DirtySet,
}

impl Queues {
    /// Queues for resources with these slot counts (each at least 1).
    pub(crate) fn new(slots: impl Iterator<Item = u32>) -> Queues {
        let res: Vec<Res> = slots
            .map(|slots| Res {
                time: 0,
                min_seq: 0,
                min_slot: NONE,
                len: 0,
                spill: NONE,
                busy: 0,
                slots: slots.clamp(1, MAX_SLOTS) as u16,
            })
            .collect();
        let dirty = DirtySet::new(res.len());
        Queues { res, spilled: Vec::new(), dirty }
    }

    /// Empties every queue and frees every slot.
    pub(crate) fn clear(&mut self) {
        for r in &mut self.res {
            r.time = 0;
            r.len = 0;
            r.busy = 0;
            r.min_slot = NONE;
        }
        for q in &mut self.spilled {
            q.clear();
        }
        self.dirty.clear();
    }

    /// Resource `r`'s queue. Every resource the engine queues, releases or grants is one of an
    /// added op's stages, which [`super::Engine`] checks against its table when the op is added.
    #[inline(always)]
    fn res_mut(&mut self, r: u32) -> &mut Res {
        debug_assert!((r as usize) < self.res.len(), "resource {r} of {}", self.res.len());
        // SAFETY: `r` is in the table (see above).
        unsafe { self.res.get_unchecked_mut(r as usize) }
    }

    /// Queues the op in `slot` (sequence number `seq`) on resource `r`, and marks `r` dirty.
    #[inline(always)]
    pub(crate) fn wait(&mut self, r: u32, seq: u64, slot: u32) {
        let res = self.res_mut(r);
        if res.len == 0 {
            res.min_seq = seq;
            res.min_slot = slot;
            res.len = 1;
        } else {
            self.spill(r, seq, slot);
        }
        self.dirty.insert(r);
    }

    /// [`Queues::wait`] on a resource that already has a waiter: the higher of the two goes to
    /// its spill queue.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, r: u32, seq: u64, slot: u32) {
        let res = &mut self.res[r as usize];
        let spilled = if seq < res.min_seq {
            let old = (res.min_seq, res.min_slot);
            res.min_seq = seq;
            res.min_slot = slot;
            old
        } else {
            (seq, slot)
        };
        if res.spill == NONE {
            res.spill = self.spilled.len() as u32;
            self.spilled.push(VecDeque::new());
        }
        let queue = &mut self.spilled[res.spill as usize];
        match queue.back() {
            Some(&last) if last > spilled => {
                let at = queue.partition_point(|&w| w < spilled);
                queue.insert(at, spilled);
            }
            _ => queue.push_back(spilled),
        }
        res.len += 1;
    }

    /// Frees one slot of resource `r` at the end of a stage of `duration` picoseconds, which it
    /// counts as served; marks it dirty if an op waits for it.
    #[inline(always)]
    pub(crate) fn release(&mut self, r: u32, duration: u64) {
        let res = self.res_mut(r);
        res.busy -= 1;
        res.time += duration;
        if res.len > 0 {
            self.dirty.insert(r);
        }
    }

    /// Frees the resources of `stage`, which has ended (see [`Queues::release`]).
    #[inline(always)]
    pub(crate) fn release_stage(&mut self, stage: &Stage) {
        let [a, b] = stage.resources;
        self.release(a, stage.duration);
        if b != NONE {
            self.release(b, stage.duration);
        }
    }

    /// Takes a slot of resource `r` for its lowest waiter, if it has both; returns the waiter, and
    /// whether `r` could grant another (a waiter and a free slot are left).
    #[inline(always)]
    pub(crate) fn grant(&mut self, r: u32) -> Option<(u32, bool)> {
        let res = self.res_mut(r);
        if res.len == 0 || res.busy >= res.slots {
            return None;
        }
        let slot = res.min_slot;
        res.len -= 1;
        res.busy += 1;
        if res.len == 0 {
            return Some((slot, false));
        }
        let more = res.busy < res.slots;
        self.unspill(r);
        Some((slot, more))
    }

    /// Moves the lowest spilled waiter of resource `r` inline, after its inline one was granted.
    #[cold]
    #[inline(never)]
    fn unspill(&mut self, r: u32) {
        let res = &mut self.res[r as usize];
        let (seq, next) = self.spilled[res.spill as usize].pop_front().expect("spilled waiters");
        res.min_seq = seq;
        res.min_slot = next;
    }

    /// Picoseconds of stage time resource `r` has served.
    pub(crate) fn served(&self, r: u32) -> Option<u64> {
        self.res.get(r as usize).map(|res| res.time)
    }

    /// Removes the lowest word of dirty resources: resources `64 w .. 64 w + 64`, as the index
    /// `w` and a bit per dirty resource. A sweep takes the resources of a word in ascending order,
    /// and after each one takes what was marked in the same word since ([`Queues::dirty_since`]).
    #[inline]
    pub(crate) fn next_dirty_word(&mut self) -> Option<(u32, u64)> {
        self.dirty.take_lowest()
    }

    /// The resources of word `w`, which [`Queues::next_dirty_word`] gave, marked dirty since it
    /// was taken (removed from the set).
    #[inline(always)]
    pub(crate) fn dirty_since(&mut self, w: u32) -> u64 {
        self.dirty.retake(w as usize)
    }
}

/// A set of resource indices, taken lowest first a word (64 resources) at a time: a bitset under
/// two levels of summary words (a bit per non-empty word below), so finding the lowest member
/// costs three word lookups wherever it is among a thousand devices' resources, and the members
/// of one word then cost a bit scan each.
#[derive(Debug)]
struct DirtySet {
    words: Vec<u64>,
    summary: Vec<u64>,
    /// A bit per non-empty summary word (one top word covers 262,144 resources).
    top: Vec<u64>,
}

impl DirtySet {
    fn new(size: usize) -> DirtySet {
        // At least a word at each level, so that an empty table has a (never marked) word to
        // look at.
        let words = size.div_ceil(64).max(1);
        let summary = words.div_ceil(64);
        DirtySet { words: vec![0; words], summary: vec![0; summary], top: vec![0; summary.div_ceil(64)] }
    }

    fn clear(&mut self) {
        self.words.fill(0);
        self.summary.fill(0);
        self.top.fill(0);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.top.iter().all(|&t| t == 0)
    }

    /// Adds `r`. A word is non-empty exactly when its summary bit is set, so only the first
    /// member of a word touches the summary (the resources a step marks sit side by side: every
    /// device's link, or vector unit, in a row).
    #[inline(always)]
    fn insert(&mut self, r: u32) {
        let (w, b) = ((r / 64) as usize, r % 64);
        debug_assert!(w < self.words.len(), "resource {r} of {}", self.words.len() * 64);
        // SAFETY: `r` is a resource of the table the set was made for (see `Queues::res_mut`), so
        // its word, and that word's summary and top words, are in the set.
        unsafe {
            let word = self.words.get_unchecked_mut(w);
            let was = *word;
            *word = was | (1 << b);
            if was == 0 {
                let s = w / 64;
                *self.summary.get_unchecked_mut(s) |= 1 << (w % 64);
                *self.top.get_unchecked_mut(s / 64) |= 1 << (s % 64);
            }
        }
    }

    /// Removes the lowest non-empty word: its index and bits.
    #[inline]
    fn take_lowest(&mut self) -> Option<(u32, u64)> {
        let t = if self.top[0] != 0 { 0 } else { self.top.iter().position(|&t| t != 0)? };
        let s = t * 64 + self.top[t].trailing_zeros() as usize;
        let w = s * 64 + self.summary[s].trailing_zeros() as usize;
        let bits = std::mem::take(&mut self.words[w]);
        self.forget(w);
        Some((w as u32, bits))
    }

    /// Removes word `w` and returns its bits (none, mostly: a sweep's grants mark resources of
    /// higher words).
    #[inline(always)]
    fn retake(&mut self, w: usize) -> u64 {
        debug_assert!(w < self.words.len(), "word {w} of {}", self.words.len());
        // SAFETY: `w` is the word `take_lowest` just took (see `Queues::dirty_since`), so it is
        // in the set.
        let word = unsafe { self.words.get_unchecked_mut(w) };
        let bits = *word;
        if bits != 0 {
            *word = 0;
            self.forget(w);
        }
        bits
    }

    /// Clears the summary bits of word `w`, which is empty now.
    #[inline(always)]
    fn forget(&mut self, w: usize) {
        let s = w / 64;
        self.summary[s] &= !(1 << (w % 64));
        if self.summary[s] == 0 {
            self.top[s / 64] &= !(1 << (s % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Takes every member of `set` as the engine's dispatch does, a word at a time, calling
    /// `take(set, i, r)` for the `i`-th member taken, `r` (which may mark members above it);
    /// returns them in the order taken.
    fn sweep(set: &mut DirtySet, mut take: impl FnMut(&mut DirtySet, usize, u32)) -> Vec<u32> {
        let mut got = Vec::new();
        while let Some((w, mut bits)) = set.take_lowest() {
            while bits != 0 {
                let r = w * 64 + bits.trailing_zeros();
                bits &= bits - 1;
                take(set, got.len(), r);
                got.push(r);
                bits |= set.retake(w as usize);
            }
        }
        got
    }

    proptest! {
        #[test]
        fn the_dirty_set_gives_its_members_in_ascending_order_without_duplicates(
            members in proptest::collection::vec(prop_oneof![0u32..300, 0u32..300_000], 0..300),
        ) {
            let mut set = DirtySet::new(300_000);
            for &m in &members {
                set.insert(m);
            }
            let mut want = members.clone();
            want.sort_unstable();
            want.dedup();
            let got = sweep(&mut set, |_, _, _| {});
            prop_assert_eq!(got, want);
            prop_assert!(set.is_empty());
        }

        #[test]
        fn a_sweep_takes_what_it_marks_above_it_in_order(
            members in proptest::collection::vec(0u32..2000, 1..100),
            marks in proptest::collection::vec(proptest::collection::vec(prop_oneof![1u32..64, 1u32..5000], 0..3), 1..20),
        ) {
            // As a dispatch sweep: each resource taken may mark resources above it (the second
            // resources of the stages it grants), in its word or beyond. The sweep must take
            // them all, in ascending order, as a sorted set popped lowest first does.
            let size = 10_000;
            let marked = |i: usize, r: u32| marks[i % marks.len()].iter().map(move |&d| r + d).filter(|&x| x < size);
            let mut reference: std::collections::BTreeSet<u32> = members.iter().copied().collect();
            let mut want = Vec::new();
            while let Some(r) = reference.pop_first() {
                reference.extend(marked(want.len(), r));
                want.push(r);
            }
            let mut set = DirtySet::new(size as usize);
            for &m in &members {
                set.insert(m);
            }
            let got = sweep(&mut set, |set, i, r| {
                for x in marked(i, r) {
                    set.insert(x);
                }
            });
            prop_assert_eq!(got, want);
            prop_assert!(set.is_empty());
        }

        #[test]
        fn a_queue_grants_its_waiters_lowest_sequence_first(
            seqs in proptest::collection::vec(0u64..1000, 1..50),
            slots in 1u32..4,
        ) {
            let mut q = Queues::new([slots].into_iter());
            let mut unique = seqs.clone();
            unique.sort_unstable();
            unique.dedup();
            let mut order = unique.clone();
            // Arrive in a scrambled order.
            order.reverse();
            let half = order.len() / 2;
            order.rotate_left(half);
            for &s in &order {
                q.wait(0, s, s as u32);
            }
            let mut got = Vec::new();
            loop {
                while let Some((slot, more)) = q.grant(0) {
                    got.push(u64::from(slot));
                    if !more {
                        break;
                    }
                }
                if got.len() == unique.len() {
                    break;
                }
                // Free every slot, as stages ending would.
                for _ in 0..slots.min(got.len() as u32) {
                    q.release(0, 1);
                }
            }
            prop_assert_eq!(got, unique);
        }
    }
}
