//! A per-stack cache of the smallest buffer rings.
//!
//! Send and receive buffers allocate their ring when the first byte arrives and free it when
//! they drain, so that an idle connection costs only its TCB (issue 3: <= 512 bytes). A
//! request/response connection therefore allocates and frees four small rings in its life
//! (a send and a receive ring on each side), and in issue 3's churn benchmark the allocator
//! calls, the growth from nothing and the frees were ~1,500 of ~25,000 instructions a
//! lifecycle (callgrind). Rings of the first size, [`MIN_RING`], go back to this pool
//! instead, and the next buffer to start takes one from it: a slab cache, as the kernel
//! keeps for its socket buffers. Bounded: at most `max` rings (32 KiB at the default 64) are
//! kept, whatever the number of connections, and larger rings are always freed.
//!
//! A ring is handed out as an empty `Vec` whose capacity is exactly [`MIN_RING`]: its old
//! bytes are not part of the `Vec`, so nothing of another connection's stream can be seen
//! through it (the send buffer zeroes the slots it offers for in-place writes, the receive
//! buffer only reads slots it wrote).

/// Smallest ring a buffer starts with: small enough that a 64-byte request costs little,
/// large enough that a bulk sender doubles only a handful of times. Tiny under test, so that
/// the buffers' model-based property tests exercise every growth step.
pub const MIN_RING: usize = if cfg!(test) { 4 } else { 512 };

/// Rings a stack keeps by default: enough for the buffers that start and drain between two
/// calls of a busy request/response server, 32 KiB at most.
pub const DEFAULT_POOL_RINGS: usize = 64;

/// Free rings of [`MIN_RING`] bytes, for the buffers of one stack.
#[derive(Debug, Default)]
pub struct RingPool {
    free: Vec<Vec<u8>>,
    max: usize,
}

impl RingPool {
    /// A pool that keeps at most `max` rings (0: a pool that keeps nothing, every ring is
    /// allocated and freed).
    pub const fn new(max: usize) -> Self {
        RingPool {
            free: Vec::new(),
            max,
        }
    }

    /// An empty ring with a capacity of exactly [`MIN_RING`] bytes: a kept one if there is
    /// one, else a new allocation.
    #[inline(always)]
    pub fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MIN_RING))
    }

    /// Takes back the storage of a drained buffer: kept if it is a [`MIN_RING`] ring and the
    /// pool has room, else freed.
    /// Inlined: most calls hand over the empty storage a first ring replaces, which only
    /// needs its capacity tested (a call cost as much as the pool saved, callgrind).
    #[inline(always)]
    pub fn give(&mut self, ring: Vec<u8>) {
        if ring.capacity() == MIN_RING && self.free.len() < self.max {
            self.keep(ring);
        }
    }

    fn keep(&mut self, mut ring: Vec<u8>) {
        if self.free.capacity() == 0 {
            // The list itself, once, at its bound: no regrowth while in use.
            self.free.reserve_exact(self.max);
        }
        ring.clear();
        self.free.push(ring);
    }

    /// Rings kept now.
    pub fn len(&self) -> usize {
        self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    /// Heap bytes the pool holds (its rings and its list).
    pub fn allocated(&self) -> usize {
        self.free.len() * MIN_RING + self.free.capacity() * core::mem::size_of::<Vec<u8>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_come_back_bounded_and_empty() {
        let mut p = RingPool::new(2);
        let mut a = p.take();
        assert_eq!((a.len(), a.capacity()), (0, MIN_RING));
        a.extend_from_slice(&[7; MIN_RING]);
        let ptr = a.as_ptr();
        p.give(a);
        assert_eq!(p.len(), 1);
        // The same allocation comes back, without the old bytes.
        let b = p.take();
        assert_eq!((b.len(), b.capacity(), b.as_ptr()), (0, MIN_RING, ptr));
        assert!(p.is_empty());
        // Bounded, and only rings of the first size are kept.
        for _ in 0..3 {
            p.give(Vec::with_capacity(MIN_RING));
        }
        assert_eq!(p.len(), 2);
        p.give(b);
        assert_eq!(p.len(), 2, "over the bound: freed");
        let mut q = RingPool::new(4);
        q.give(Vec::with_capacity(MIN_RING * 2));
        q.give(Vec::new());
        assert!(q.is_empty(), "other sizes are freed");
        let mut none = RingPool::new(0);
        none.give(Vec::with_capacity(MIN_RING));
        assert!(none.is_empty() && none.allocated() == 0);
    }
}
