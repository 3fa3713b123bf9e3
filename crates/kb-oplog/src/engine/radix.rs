//! A monotone radix heap: a priority queue of `u64` keys that never pops a key smaller than the
//! last one popped — exactly the shape of a discrete-event queue, where no event is scheduled in
//! the past. Push is O(1); pop is amortised O(log of the key range).

/// The radix heap. Entries with equal keys pop in no particular order.
#[derive(Debug)]
pub(crate) struct RadixHeap<T> {
    /// Bucket `i` holds keys whose highest bit differing from `last` is bit `i - 1` (bucket 0:
    /// keys equal to `last`).
    /// (An array, so a bucket index needs no bounds check: there are exactly 65.)
    buckets: [Vec<(u64, T)>; 65],
    /// Bit `i - 1` set when bucket `i` (1 to 64) is non-empty.
    occupied: u64,
    last: u64,
}

impl<T: Copy> RadixHeap<T> {
    pub(crate) fn new() -> RadixHeap<T> {
        RadixHeap { buckets: std::array::from_fn(|_| Vec::new()), occupied: 0, last: 0 }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    /// Pops an entry whose key is exactly the last key peeked, without looking further (so the
    /// heap's floor stays there and later pushes at that key remain valid).
    pub(crate) fn pop_current(&mut self) -> Option<T> {
        let (_, v) = self.buckets[0].pop()?;
        Some(v)
    }

    /// Pushes `key`, which must not be below the last key popped.
    #[inline(always)]
    pub(crate) fn push(&mut self, key: u64, value: T) {
        debug_assert!(key >= self.last, "radix heap is monotone: {key} < {}", self.last);
        self.put(key, value);
    }

    /// Files an entry in its bucket.
    #[inline(always)]
    fn put(&mut self, key: u64, value: T) {
        let diff = key ^ self.last;
        if diff == 0 {
            self.buckets[0].push((key, value));
        } else {
            let b = 64 - diff.leading_zeros() as usize;
            self.occupied |= 1 << (b - 1);
            self.buckets[b].push((key, value));
        }
    }

    /// The smallest key, moving entries so that they sit in bucket 0.
    pub(crate) fn peek_key(&mut self) -> Option<u64> {
        if self.buckets[0].is_empty() {
            if self.occupied == 0 {
                return None;
            }
            // Bucket 0 is empty: the lowest occupied bucket holds the smallest keys.
            let i = self.occupied.trailing_zeros() as usize + 1;
            self.occupied &= !(1 << (i - 1));
            let bucket = std::mem::take(&mut self.buckets[i]);
            let (min, max) = bucket.iter().fold((u64::MAX, 0), |(lo, hi), &(k, _)| (lo.min(k), hi.max(k)));
            self.last = min;
            if min == max {
                // One key (many events at one instant, as when every member of a collective
                // ends a step together): the whole bucket becomes bucket 0, which is empty.
                self.buckets[i] = std::mem::replace(&mut self.buckets[0], bucket);
                return Some(min);
            }
            // Every key lands in a bucket below `i` (they now differ from `last` in lower bits).
            for (k, v) in bucket.iter().copied() {
                self.put(k, v);
            }
            // Keep the emptied bucket's allocation.
            let mut bucket = bucket;
            bucket.clear();
            self.buckets[i] = bucket;
        }
        Some(self.last)
    }

    /// Pops an entry with the smallest key.
    #[cfg(test)]
    pub(crate) fn pop(&mut self) -> Option<(u64, T)> {
        self.peek_key()?;
        self.buckets[0].pop()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn pops_in_key_order_like_a_sorted_list(ops in proptest::collection::vec((any::<bool>(), 0u64..1000), 1..300)) {
            let mut heap = RadixHeap::new();
            let mut reference: Vec<u64> = Vec::new();
            let mut floor = 0;
            for (pop, delta) in ops {
                if pop {
                    reference.sort_unstable();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    let got = heap.pop().map(|(k, _)| k);
                    prop_assert_eq!(got, want);
                    if let Some(k) = got { floor = k; }
                } else {
                    heap.push(floor + delta, ());
                    reference.push(floor + delta);
                }
                prop_assert_eq!(heap.len(), reference.len());
            }
        }
    }
}
