//! Receive buffer with out-of-order reassembly.
//!
//! Positions are `u64` stream offsets: 0 is the first data byte after the peer's SYN, and
//! [`RecvBuf::next`] is the offset of RCV.NXT. The connection converts sequence numbers to
//! offsets and back; this type never sees a sequence number.
//!
//! One ring of `capacity` bytes holds both the in-order bytes waiting for the application and
//! the out-of-order bytes above RCV.NXT, each written straight to its final place (SHLD-31):
//! when a hole fills, nothing moves, RCV.NXT just jumps. Beside the ring, a short sorted list
//! of the filled ranges above RCV.NXT (at most [`RecvBuf::MAX_RANGES`]) records what is held
//! and when each range was last touched, for SACK (SK-3, SK-4).
//!
//! The ring covers exactly the stream offsets `[next - readable, next + window)`, so every
//! acceptable byte has a slot and nothing outside the window is ever stored (EP-13). Memory is
//! bounded (capacity + 32 ranges) and nothing is allocated while the buffer is empty. The
//! methods that may allocate or free the ring take the stack's [`RingPool`], which keeps
//! rings of the first size for the next buffer (the plain forms use none).

use super::ring_pool::{RingPool, MIN_RING};
use crate::wire::checksum;
use core::cmp::Reverse;

/// One filled range `[start, end)` above RCV.NXT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
    /// Value of `RecvBuf::clock` when a segment last landed in this range (SK-3 order).
    stamp: u64,
}

/// What one [`RecvBuf::insert`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insert {
    /// Bytes RCV.NXT moved forward, including previously out-of-order bytes now contiguous.
    pub advanced: usize,
    /// New bytes were stored above a hole (the connection should ACK at once with SACK,
    /// SHLD-31, SK-3).
    pub out_of_order: bool,
    /// The segment carried bytes already held (below RCV.NXT or already queued) and nothing
    /// new. A segment that lies wholly beyond the window is `truncated`, not `duplicate`.
    pub duplicate: bool,
    /// Some bytes were discarded: beyond the right window edge, or the range limit was hit.
    pub truncated: bool,
}

/// The receive side of one connection: in-order bytes for the application plus the
/// out-of-order reassembly queue.
#[derive(Debug, Default)]
pub struct RecvBuf {
    /// The ring: empty while nothing is held, then grown on demand (doubling, at most
    /// `capacity` bytes) to cover every byte held, from `next - readable` to the end of the
    /// highest range. Small exchanges never allocate or zero a full-size ring.
    ///
    /// The ring size is the Vec's *capacity*; its *length* is the prefix of ring slots ever
    /// written (initialised). Slots at or past the length have never held a byte, so they
    /// are not zeroed on allocation: a bulk receiver drains (and so releases) its ring about
    /// once per application read, and zeroing a fresh 128 KiB ring each time cost ~8% of the
    /// bulk profile. A write lands in the initialised prefix or extends it (zero-filling only
    /// slots it skips, which only an out-of-order segment can do); every byte ever read lies
    /// in the prefix, since only written bytes become readable.
    storage: Vec<u8>,
    /// Ring index of the first readable byte (stream offset `next - readable`). u32, like
    /// `capacity`: no ring exceeds the buffer bound.
    head: u32,
    /// In-order bytes the application has not read yet (at most `capacity`).
    readable: u32,
    /// Stream offset of RCV.NXT.
    next: u64,
    /// Most bytes held (u32: the buffer bound is far below 4 GiB, and 4 bytes of every
    /// connection count against issue 3's memory budget).
    capacity: u32,
    /// Filled ranges above `next`: sorted, disjoint, never adjacent, `start > next`, and
    /// `end <= next + window`. At most `MAX_RANGES`.
    ranges: crate::lazy_vec::LazyVec<Range>,
    /// Counts inserts that stored or touched a range; orders SACK blocks by recency.
    clock: u64,
    /// log2 of the ring size when the storage was last released: a busy receiver that
    /// drains its buffer every round re-allocates at that size at once instead of doubling
    /// up from the smallest ring (and copying) each time.
    size_hint: u8,
    /// Bytes at RCV.NXT written by [`RecvBuf::stage`] and not yet committed; any other
    /// change to the buffer clears it. (u16: one segment's payload, and it fits the padding.)
    staged: u16,
    /// The application pinned `capacity` (SO_RCVBUF, Linux SOCK_RCVBUF_LOCK): autotuning
    /// leaves it alone (LX-11). In the struct's last byte of padding.
    locked: bool,
}

impl Clone for RecvBuf {
    /// Not derived: a cloned Vec's capacity is its length, and the ring size is the capacity
    /// (see `storage`), so a derived clone would move every slot past the written prefix.
    fn clone(&self) -> Self {
        let mut storage = Vec::with_capacity(self.ring());
        storage.extend_from_slice(&self.storage);
        RecvBuf {
            storage,
            head: self.head,
            readable: self.readable,
            next: self.next,
            capacity: self.capacity,
            ranges: self.ranges.clone(),
            clock: self.clock,
            size_hint: self.size_hint,
            staged: self.staged,
            locked: self.locked,
        }
    }
}

impl RecvBuf {
    /// Most out-of-order ranges held at once; a segment that would open another is dropped
    /// (and reported `truncated`), so the reassembly queue's bookkeeping is bounded.
    pub const MAX_RANGES: usize = 32;

    /// An empty buffer with room for `capacity` bytes. Allocates nothing.
    pub fn new(capacity: usize) -> Self {
        RecvBuf {
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            ..RecvBuf::default()
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Changes the bound to `capacity` bytes (autotuning, LX-11, or SO_RCVBUF), but never
    /// below [`RecvBuf::held_span`]: bytes held stay held. The ring is not touched; it
    /// grows on demand up to the new bound, or is re-allocated at most at the bound the next
    /// time it drains. Returns the bound now in force.
    pub fn set_capacity(&mut self, capacity: usize) -> usize {
        let c = capacity.max(self.held_span());
        self.capacity = u32::try_from(c).unwrap_or(u32::MAX);
        self.capacity as usize
    }

    /// Bytes from the first unread byte to the end of the highest byte held (in order or
    /// out of order): the least capacity that keeps every byte held.
    pub fn held_span(&self) -> usize {
        let base = self.next - u64::from(self.readable);
        let end = self.ranges.last().map_or(self.next, |r| r.end);
        (end - base) as usize
    }

    /// Whether the application pinned the size (autotuning leaves it alone).
    pub fn locked(&self) -> bool {
        self.locked
    }

    pub fn set_locked(&mut self, locked: bool) {
        self.locked = locked;
    }

    /// Stream offset of RCV.NXT.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// In-order bytes waiting for the application.
    pub fn readable(&self) -> usize {
        self.readable as usize
    }

    /// Free space from RCV.NXT: `capacity - readable` (RCV.BUFF − RCV.USER). Out-of-order
    /// bytes already sit inside this space, so they do not shrink it.
    pub fn window(&self) -> usize {
        (self.capacity as usize) - self.readable as usize
    }

    /// Whether any out-of-order data is queued above a hole.
    pub fn has_out_of_order(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// Number of out-of-order ranges held (at most [`RecvBuf::MAX_RANGES`]).
    pub fn out_of_order_ranges(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the ring storage is currently allocated.
    pub fn is_allocated(&self) -> bool {
        self.ring() > 0
    }

    /// Bytes of ring storage allocated now (0 while empty).
    pub fn allocated(&self) -> usize {
        self.ring()
    }

    /// Receiver silly-window avoidance (MUST-39, Fr = 1/2). `offered` is the window the
    /// connection currently advertises, measured from RCV.NXT (right edge − RCV.NXT). The
    /// right edge moves only once it can move by at least `min(capacity / 2, mss)`; then the
    /// whole free space is offered. Otherwise `offered` is returned unchanged (the edge holds).
    pub fn sws_window(&self, offered: usize, mss: usize) -> usize {
        let avail = self.window();
        if avail.saturating_sub(offered) >= ((self.capacity as usize) / 2).min(mss) {
            avail
        } else {
            offered
        }
    }

    /// Accepts the bytes `data` found at stream offset `offset` (EP-13, SHLD-31).
    ///
    /// Bytes below RCV.NXT are already held and ignored; bytes at or beyond the right window
    /// edge (`next + window`) are discarded (`truncated`). Of the rest, only bytes not already
    /// queued are written: where a segment overlaps data already received the old bytes stay
    /// (EP-13). Bytes at RCV.NXT advance it, together with any queued ranges they now reach;
    /// bytes above a hole are queued in place. Never panics, whatever the offset.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Insert {
        self.insert_pooled(offset, data, &mut RingPool::new(0))
    }

    /// [`RecvBuf::insert`], a new ring of the first size taken from `rings`.
    pub fn insert_pooled(&mut self, offset: u64, data: &[u8], rings: &mut RingPool) -> Insert {
        self.staged = 0;
        if offset == self.next
            && self.ranges.is_empty()
            && !data.is_empty()
            && data.len() <= self.window()
            && offset.checked_add(data.len() as u64).is_some()
        {
            // In order, nothing queued, all inside the window: every segment of a bulk
            // transfer without loss. The general path below does the same, with its range
            // bookkeeping all empty.
            let need = self.readable() + data.len(); // <= capacity
            if need > self.ring() {
                self.grow(need, rings);
            }
            self.write_stream(offset, data);
            self.clock += 1;
            self.next += data.len() as u64;
            self.readable += data.len() as u32; // readable + window = capacity, a u32
            return Insert {
                advanced: data.len(),
                ..Insert::default()
            };
        }
        let mut res = Insert::default();
        if data.is_empty() {
            return res;
        }
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let end = match offset.checked_add(len) {
            Some(end) => end,
            None => {
                res.truncated = true; // runs off the end of the offset space
                u64::MAX
            }
        };
        let win_end = self.next.saturating_add(self.window() as u64);
        if end > win_end {
            res.truncated = true;
        }
        let had_below = offset < self.next;
        let lo = offset.max(self.next);
        let hi = end.min(win_end);
        if lo >= hi {
            // Nothing inside the window.
            res.duplicate = had_below;
            return res;
        }

        // Queued ranges that overlap or abut [lo, hi): indices i0..i1.
        let i0 = self.ranges.partition_point(|r| r.end < lo);
        let i1 = self.ranges.partition_point(|r| r.start <= hi);
        let overlap: u64 = self.ranges[i0..i1]
            .iter()
            .map(|r| r.end.min(hi).saturating_sub(r.start.max(lo)))
            .sum();
        let new_bytes = (hi - lo) - overlap;

        if new_bytes == 0 {
            // Everything in the window is queued already: [lo, hi) lies inside one range
            // (queued ranges never abut). Mark it most recent so SACK reports it first (SK-3).
            res.duplicate = true;
            self.clock += 1;
            if let Some(r) = self.ranges[i0..i1]
                .iter_mut()
                .find(|r| r.start <= lo && hi <= r.end)
            {
                r.stamp = self.clock;
            }
            return res;
        }

        if lo > self.next && i0 == i1 && self.ranges.len() >= Self::MAX_RANGES {
            // A new range would exceed the bound: drop this data; it will be retransmitted.
            res.truncated = true;
            return res;
        }

        // The ring must reach `hi`; grow it (nothing held beyond the old ring moves).
        let base = self.next - self.readable as u64;
        let need = (hi - base) as usize; // hi <= next + window, so need <= capacity
        if need > self.ring() {
            self.grow(need, rings);
        }

        // Write only the gaps between queued ranges (EP-13: keep the bytes already held).
        let mut cursor = lo;
        for k in i0..i1 {
            let r = self.ranges[k];
            if r.start > cursor {
                self.write_stream(
                    cursor,
                    &data[(cursor - offset) as usize..(r.start - offset) as usize],
                );
            }
            cursor = cursor.max(r.end);
        }
        if cursor < hi {
            self.write_stream(
                cursor,
                &data[(cursor - offset) as usize..(hi - offset) as usize],
            );
        }

        self.clock += 1;
        if lo == self.next {
            // In order: RCV.NXT moves to the end of this data and of every range it reaches.
            // All queued ranges start above `next`, so the touching ones are 0..i1.
            let mut new_next = hi;
            if i1 > 0 {
                new_next = new_next.max(self.ranges[i1 - 1].end);
            }
            if i1 > 0 {
                // Only when there is something to drop: reaching the (lazily allocated)
                // range list mutably allocates it, and in-order bulk data has no ranges.
                self.ranges.drain(..i1);
            }
            let advanced = (new_next - self.next) as usize; // <= window <= capacity
            self.next = new_next;
            self.readable += advanced as u32; // readable + window = capacity, a u32
            res.advanced = advanced;
        } else {
            // Above a hole (SHLD-31): merge with every range it overlaps or abuts.
            let mut merged = Range {
                start: lo,
                end: hi,
                stamp: self.clock,
            };
            if i1 > i0 {
                merged.start = merged.start.min(self.ranges[i0].start);
                merged.end = merged.end.max(self.ranges[i1 - 1].end);
                self.ranges[i0] = merged;
                self.ranges.drain(i0 + 1..i1);
            } else {
                self.ranges.insert(i0, merged);
            }
            res.out_of_order = true;
        }
        res
    }

    /// Copies readable bytes into `dst`, consuming them; returns how many.
    pub fn read(&mut self, dst: &mut [u8]) -> usize {
        self.read_pooled(dst, &mut RingPool::new(0))
    }

    /// [`RecvBuf::read`], the storage released to `rings`.
    pub fn read_pooled(&mut self, dst: &mut [u8], rings: &mut RingPool) -> usize {
        let (a, b) = self.peek();
        let n1 = a.len().min(dst.len());
        dst[..n1].copy_from_slice(&a[..n1]);
        let n2 = b.len().min(dst.len() - n1);
        dst[n1..n1 + n2].copy_from_slice(&b[..n2]);
        self.consume_pooled(n1 + n2, rings);
        n1 + n2
    }

    /// In-place read: hands `f` the first contiguous run of readable bytes (all of them
    /// unless they wrap past the end of the ring; then a second call gets the rest), and
    /// consumes the first `n`, where `(n, r)` is what `f` returned. `n` is clipped to the
    /// slice, so claiming more than offered never panics or consumes unseen bytes. Returns
    /// `r`. With nothing readable `f` sees an empty slice.
    pub fn read_with<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        self.read_with_pooled(f, &mut RingPool::new(0))
    }

    /// [`RecvBuf::read_with`], the storage released to `rings`.
    pub fn read_with_pooled<R>(
        &mut self,
        f: impl FnOnce(&[u8]) -> (usize, R),
        rings: &mut RingPool,
    ) -> R {
        let first = self.peek().0;
        let (n, r) = f(first);
        let n = n.min(first.len());
        self.consume_pooled(n, rings);
        r
    }

    /// The readable bytes, zero-copy: two slices because the ring may wrap.
    pub fn peek(&self) -> (&[u8], &[u8]) {
        if self.readable == 0 {
            return (&[], &[]);
        }
        let (head, readable) = (self.head as usize, self.readable as usize);
        let first = readable.min(self.ring() - head);
        // Readable bytes were all written, so both pieces lie in the initialised prefix.
        (
            &self.storage[head..head + first],
            &self.storage[..readable - first],
        )
    }

    /// Marks `n` readable bytes as read (clipped to [`RecvBuf::readable`]). The window grows by
    /// `n`. When nothing is left and nothing is queued, the storage is released.
    pub fn consume(&mut self, n: usize) {
        self.consume_pooled(n, &mut RingPool::new(0));
    }

    /// [`RecvBuf::consume`], the storage released to `rings`.
    pub fn consume_pooled(&mut self, n: usize, rings: &mut RingPool) {
        let n = n.min(self.readable as usize);
        if n == 0 {
            return;
        }
        self.staged = 0;
        self.readable -= n as u32;
        if self.readable == 0 && self.ranges.is_empty() {
            self.release(rings);
        } else {
            self.head = self.wrap(self.head as usize + n) as u32;
        }
    }

    /// Drop the storage of an empty buffer, remembering its size.
    fn release(&mut self, rings: &mut RingPool) {
        self.size_hint = self.ring().max(1).ilog2() as u8;
        rings.give(core::mem::take(&mut self.storage));
        self.ranges.release();
        self.head = 0;
    }

    /// Copies `data` into the free space at RCV.NXT *without* accepting it, and returns the
    /// unfolded checksum sum of `data` (RFC 1071), computed during the copy. The receiver
    /// must verify a segment's checksum before acting on it (MUST-3); summing while copying
    /// reads the payload once instead of twice. Nothing readable changes: the bytes become
    /// part of the stream only through [`RecvBuf::commit_staged`], and any other change to
    /// the buffer forgets them.
    ///
    /// Only for the common case: nothing queued out of order (whose bytes the free space
    /// holds) and all of `data` inside the window. Otherwise returns None and does nothing.
    ///
    /// Inlined into the stack's segment path (`Tcb::check_payload`), which every data
    /// segment received takes: the call saved and restored six registers around each.
    #[inline(always)]
    pub fn stage(&mut self, data: &[u8], rings: &mut RingPool) -> Option<u64> {
        if data.is_empty()
            || !self.ranges.is_empty()
            || data.len() > self.window()
            || data.len() > usize::from(u16::MAX)
            || self.next.checked_add(data.len() as u64).is_none()
        {
            return None;
        }
        let need = self.readable() + data.len(); // <= capacity
        if need > self.ring() {
            self.grow(need, rings);
        }
        let i = self.index(self.next);
        let first = data.len().min(self.ring() - i);
        let mut sum = self.put_sum(i, &data[..first]);
        if first < data.len() {
            sum += odd_shift(first, self.put_sum(0, &data[first..]));
        }
        self.staged = data.len() as u16;
        Some(sum)
    }

    /// Accepts the first `len` bytes staged by [`RecvBuf::stage`], as [`RecvBuf::insert`]
    /// of those bytes at RCV.NXT would. None (and nothing done) if fewer than `len` bytes
    /// are staged.
    pub fn commit_staged(&mut self, len: usize) -> Option<Insert> {
        if len == 0 || len > usize::from(self.staged) {
            return None;
        }
        // `stage` checked the window and the queue, and anything that changed either since
        // would have cleared `staged`.
        debug_assert!(self.ranges.is_empty() && len <= self.window());
        self.staged = 0;
        self.clock += 1;
        self.next += len as u64;
        self.readable += len as u32; // readable + window = capacity, a u32
        Some(Insert {
            advanced: len,
            ..Insert::default()
        })
    }

    /// Forgets staged bytes that were not committed (their segment was dropped), releasing
    /// storage that `stage` allocated for them if nothing else is held.
    pub fn unstage(&mut self, rings: &mut RingPool) {
        self.staged = 0;
        if self.readable == 0 && self.ranges.is_empty() && self.is_allocated() {
            self.release(rings);
        }
    }

    /// Whether bytes are staged (see [`RecvBuf::stage`]).
    pub fn is_staged(&self) -> bool {
        self.staged > 0
    }

    /// SACK blocks (SK-3/SK-4), as stream offsets `[start, end)`: the block holding the most
    /// recently received out-of-order segment first, then the other ranges, most recently
    /// touched first. Every block lies above RCV.NXT (SK-4). Writes at most `out.len()`;
    /// returns how many.
    pub fn sack_ranges(&self, out: &mut [(u64, u64)]) -> usize {
        let n = self.ranges.len().min(Self::MAX_RANGES);
        let mut order = [0usize; Self::MAX_RANGES];
        for (i, slot) in order[..n].iter_mut().enumerate() {
            *slot = i;
        }
        order[..n].sort_unstable_by_key(|&i| (Reverse(self.ranges[i].stamp), self.ranges[i].start));
        let count = n.min(out.len());
        for (dst, &i) in out.iter_mut().zip(&order[..count]) {
            *dst = (self.ranges[i].start, self.ranges[i].end);
        }
        count
    }

    /// Re-allocate the ring to cover at least `need` bytes from `next - readable`
    /// (power-of-two growth capped at `capacity`). Every held byte lies within the old ring's
    /// span from the base, so unwrapping the old ring to the front of the new one keeps each
    /// byte at its offset from the base.
    fn grow(&mut self, need: usize, rings: &mut RingPool) {
        let hint = if self.ring() == 0 {
            1usize << self.size_hint.min(31)
        } else {
            0
        };
        let size = need
            .next_power_of_two()
            .max(MIN_RING)
            .max(hint)
            .min(self.capacity as usize)
            .max(need);
        let ring = self.ring();
        let head = self.head as usize;
        let mut v = if size == MIN_RING {
            rings.take()
        } else {
            Vec::with_capacity(size)
        };
        // Slots from `head` up to the initialised length go first (`head` never passes the
        // length: it only moves over bytes that were written).
        v.extend_from_slice(&self.storage[head..]);
        if head > 0 {
            // The slots below `head` may hold the wrapped tail of the data; they must land
            // `ring - head` slots in, so the never-written gap before them (if any) is
            // zero-filled. Growing a wrapped ring is rare (the bulk path grows from empty).
            v.resize(ring - head, 0);
            v.extend_from_slice(&self.storage[..head]);
        }
        debug_assert!(v.len() <= ring && v.capacity() >= size);
        rings.give(core::mem::replace(&mut self.storage, v));
        self.head = 0;
    }

    /// The ring size (see `storage`).
    fn ring(&self) -> usize {
        self.storage.capacity()
    }

    /// `i` reduced modulo the ring size, for `i < 2 * ring size`.
    fn wrap(&self, i: usize) -> usize {
        let ring = self.ring();
        if i >= ring {
            i - ring
        } else {
            i
        }
    }

    /// Ring index of stream offset `o`, for `next - readable <= o < next + window`.
    fn index(&self, o: u64) -> usize {
        let base = self.next - self.readable as u64;
        self.wrap(self.head as usize + (o - base) as usize)
    }

    /// Writes `bytes` at stream offset `o` (inside the window; storage allocated).
    fn write_stream(&mut self, o: u64, bytes: &[u8]) {
        let i = self.index(o);
        let first = bytes.len().min(self.ring() - i);
        self.put(i, &bytes[..first]);
        if first < bytes.len() {
            self.put(0, &bytes[first..]);
        }
    }

    /// Writes `bytes` at ring slots `i..i + bytes.len()` (within the ring, no wrap), growing
    /// the initialised prefix when they reach past it.
    fn put(&mut self, i: usize, bytes: &[u8]) {
        let end = i + bytes.len();
        // Pushing past the capacity would re-allocate and change the ring size under the
        // stored indices.
        debug_assert!(end <= self.ring());
        if i > self.storage.len() {
            // Out of order beyond every slot written so far: the skipped slots become part
            // of the prefix, as zeros (they are never read before being written).
            self.storage.resize(i, 0);
        }
        let inside = self.storage.len().min(end) - i;
        self.storage[i..i + inside].copy_from_slice(&bytes[..inside]);
        self.storage.extend_from_slice(&bytes[inside..]);
    }

    /// [`RecvBuf::put`], returning the unfolded checksum sum of `bytes` (taken from slot
    /// `i` on as if it were 16-bit aligned), computed during the copy. Inlined into
    /// `stage`, which calls it for every data segment received: the call saved and
    /// restored six registers around each.
    #[inline(always)]
    fn put_sum(&mut self, i: usize, bytes: &[u8]) -> u64 {
        let end = i + bytes.len();
        debug_assert!(end <= self.ring());
        if i > self.storage.len() {
            self.storage.resize(i, 0);
        }
        let inside = self.storage.len().min(end) - i;
        let (old, new) = bytes.split_at(inside);
        // One of the two parts is usually empty (a fresh ring is all spare capacity, a
        // reused one all initialised); it costs nothing then.
        let mut sum = if old.is_empty() {
            0
        } else {
            checksum::copy_and_sum(&mut self.storage[i..i + inside], old)
        };
        if !new.is_empty() {
            // Past the initialised prefix: written into the spare capacity directly (no
            // zeroing first, see `storage`).
            let len = self.storage.len();
            let spare = &mut self.storage.spare_capacity_mut()[..new.len()];
            sum += odd_shift(inside, checksum::copy_and_sum_uninit(spare, new));
            // SAFETY: `end <= ring`, the capacity, so the `new.len()` slots past the length
            // are within the allocation, and `copy_and_sum_uninit` has just initialised
            // every one of them.
            unsafe { self.storage.set_len(len + new.len()) };
        }
        sum
    }
}

/// The sum of a piece that follows `before` bytes, ready to add to theirs: when `before` is
/// odd the piece's bytes fall in the other halves of the 16-bit words, which is its sum
/// byte-swapped (RFC 1071 §2 (B)).
fn odd_shift(before: usize, sum: u64) -> u64 {
    if before % 2 == 1 {
        u64::from(checksum::fold(sum).swap_bytes())
    } else {
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peeked(b: &RecvBuf) -> Vec<u8> {
        let (x, y) = b.peek();
        [x, y].concat()
    }

    fn sacks(b: &RecvBuf) -> Vec<(u64, u64)> {
        let mut out = [(0, 0); RecvBuf::MAX_RANGES + 4];
        let n = b.sack_ranges(&mut out);
        out[..n].to_vec()
    }

    fn ins(advanced: usize, out_of_order: bool, duplicate: bool, truncated: bool) -> Insert {
        Insert {
            advanced,
            out_of_order,
            duplicate,
            truncated,
        }
    }

    /// Checks the internal invariants, and that every held byte equals `stream` at its offset.
    fn check(b: &RecvBuf, stream: &[u8]) {
        assert!(b.readable() <= b.capacity());
        assert!(b.ranges.len() <= RecvBuf::MAX_RANGES);
        // The initialised prefix never outgrows the ring, and the first readable byte is in it.
        assert!(b.storage.len() <= b.ring() && b.ring() <= b.capacity().max(1));
        assert!(b.head as usize <= b.storage.len());
        let win_end = b.next + b.window() as u64;
        let mut prev_end = b.next;
        for r in &b.ranges {
            assert!(
                r.start > prev_end,
                "ranges sorted, disjoint, non-adjacent, above next"
            );
            assert!(r.start < r.end && r.end <= win_end);
            prev_end = r.end;
            for o in r.start..r.end {
                assert_eq!(b.storage[b.index(o)], stream[o as usize], "queued byte {o}");
            }
        }
        let base = (b.next - b.readable() as u64) as usize;
        assert_eq!(peeked(b), &stream[base..b.next as usize]);
        assert_eq!(
            b.is_allocated(),
            b.readable > 0 || !b.ranges.is_empty(),
            "storage held exactly while data is held"
        );
    }

    #[test]
    fn lazy_allocation_and_release() {
        let mut b = RecvBuf::new(16);
        assert!(!b.is_allocated());
        assert_eq!(
            (b.capacity(), b.next(), b.readable(), b.window()),
            (16, 0, 0, 16)
        );
        assert_eq!(b.insert(0, b""), Insert::default());
        assert!(!b.is_allocated());
        b.insert(4, b"efg");
        assert!(b.is_allocated());
        b.insert(0, b"abcd");
        let mut dst = [0u8; 16];
        assert_eq!(b.read(&mut dst), 7);
        assert_eq!(&dst[..7], b"abcdefg");
        assert!(
            !b.is_allocated(),
            "fully read, nothing queued: storage released"
        );
        assert_eq!(b.window(), 16);
        // Out-of-order data alone keeps the storage.
        b.insert(10, b"x");
        b.insert(7, b"h");
        b.consume(1);
        assert!(b.is_allocated());
        // Zero capacity: window 0, everything is truncated, nothing allocated.
        let mut z = RecvBuf::new(0);
        assert_eq!(z.insert(0, b"abc"), ins(0, false, false, true));
        assert!(!z.is_allocated());
    }

    #[test]
    fn fresh_ring_is_not_zeroed_in_order() {
        // A ring re-allocated at its remembered size is written, not zeroed: in order, the
        // initialised prefix is exactly the bytes received.
        let mut b = RecvBuf::new(1024);
        b.insert(0, &[7; 600]);
        let mut dst = [0u8; 1024];
        assert_eq!(b.read(&mut dst), 600);
        assert!(!b.is_allocated());
        b.insert(600, &[9; 100]);
        assert_eq!(b.ring(), 1024, "re-allocated at the size it had");
        assert_eq!(
            b.storage.len(),
            100,
            "only the written slots are initialised"
        );
        assert_eq!(b.read(&mut dst), 100);
        assert_eq!(&dst[..100], &[9; 100]);
    }

    #[test]
    fn out_of_order_past_the_prefix_then_fill_and_wrap() {
        let stream: Vec<u8> = (0..64u8).collect();
        let mut b = RecvBuf::new(16);
        // Above a hole, past every slot written: the skipped slots are filled with zeros.
        b.insert(10, &stream[10..12]);
        check(&b, &stream);
        assert_eq!(b.storage.len(), 12);
        b.insert(0, &stream[0..10]);
        check(&b, &stream);
        let mut dst = [0u8; 6];
        assert_eq!(b.read(&mut dst), 6);
        // Wrap around the end of the ring, partly into slots never written.
        b.insert(12, &stream[12..22]);
        check(&b, &stream);
        assert_eq!(b.read(&mut dst), 6);
        b.insert(26, &stream[26..28]);
        b.insert(22, &stream[22..26]);
        check(&b, &stream);
        let mut all = [0u8; 32];
        assert_eq!(b.read(&mut all), 16);
        assert_eq!(&all[..16], &stream[12..28]);
    }

    #[test]
    fn clone_keeps_the_ring_size() {
        let stream: Vec<u8> = (0..64u8).collect();
        let mut b = RecvBuf::new(16);
        b.insert(0, &stream[..10]);
        let mut dst = [0u8; 8];
        b.read(&mut dst);
        b.insert(12, &stream[12..14]); // out of order, past the written prefix
        let mut c = b.clone();
        assert_eq!(c.ring(), b.ring());
        check(&c, &stream);
        c.insert(10, &stream[10..12]);
        c.insert(14, &stream[14..24]); // wraps
        check(&c, &stream);
        let mut all = [0u8; 32];
        assert_eq!(c.read(&mut all), 16);
        assert_eq!(&all[..16], &stream[8..24]);
    }

    #[test]
    fn in_order_read_and_peek() {
        let mut b = RecvBuf::new(8);
        assert_eq!(b.insert(0, b"hello"), ins(5, false, false, false));
        assert_eq!((b.next(), b.readable(), b.window()), (5, 5, 3));
        assert_eq!(peeked(&b), b"hello");
        let mut dst = [0u8; 2];
        assert_eq!(b.read(&mut dst), 2);
        assert_eq!(&dst, b"he");
        b.consume(100); // clipped
        assert_eq!(b.readable(), 0);
        assert_eq!(b.read(&mut dst), 0);
    }

    #[test]
    fn shld_31_out_of_order_reassembly() {
        let stream = b"0123456789abcdefghij";
        let mut b = RecvBuf::new(32);
        assert_eq!(b.insert(10, &stream[10..15]), ins(0, true, false, false));
        assert_eq!(b.insert(16, &stream[16..20]), ins(0, true, false, false));
        assert_eq!(b.insert(5, &stream[5..8]), ins(0, true, false, false));
        assert!(b.has_out_of_order());
        assert_eq!(b.out_of_order_ranges(), 3);
        check(&b, stream);
        // Filling 8..10 joins [5,8) and [10,15), no advance yet.
        assert_eq!(b.insert(8, &stream[8..10]), ins(0, true, false, false));
        assert_eq!(b.out_of_order_ranges(), 2);
        // The first hole: RCV.NXT jumps over everything contiguous.
        assert_eq!(b.insert(0, &stream[0..5]), ins(15, false, false, false));
        assert_eq!(b.next(), 15);
        check(&b, stream);
        // Last hole, 1 byte: advances through the rest.
        assert_eq!(b.insert(15, &stream[15..16]), ins(5, false, false, false));
        assert!(!b.has_out_of_order());
        assert_eq!(peeked(&b), stream);
    }

    #[test]
    fn ep_13_trims_below_next_and_beyond_window() {
        let stream: Vec<u8> = (0..40u8).collect();
        let mut b = RecvBuf::new(10);
        b.insert(0, &stream[0..4]);
        // Starts below RCV.NXT: the old part is trimmed, the new part taken.
        assert_eq!(b.insert(2, &stream[2..6]), ins(2, false, false, false));
        // Entirely below RCV.NXT: a duplicate.
        assert_eq!(b.insert(0, &stream[0..6]), ins(0, false, true, false));
        // Crosses the right edge (next 6 + window 4 = 10): the excess is discarded.
        assert_eq!(b.insert(6, &stream[6..14]), ins(4, false, false, true));
        assert_eq!((b.next(), b.window()), (10, 0));
        // Zero window: data at RCV.NXT is truncated, not a duplicate (a window probe).
        assert_eq!(b.insert(10, &stream[10..11]), ins(0, false, false, true));
        // Old bytes and beyond-window bytes together: both flags.
        assert_eq!(b.insert(8, &stream[8..12]), ins(0, false, true, true));
        check(&b, &stream);
        b.consume(5);
        // Wholly beyond the window: truncated only.
        assert_eq!(b.insert(20, &stream[20..22]), ins(0, false, false, true));
        // Out of order and crossing the right edge (15).
        assert_eq!(b.insert(12, &stream[12..18]), ins(0, true, false, true));
        assert_eq!(sacks(&b), [(12, 15)]);
        check(&b, &stream);
    }

    #[test]
    fn ep_13_overlap_keeps_old_bytes_and_merges() {
        let mut b = RecvBuf::new(32);
        b.insert(5, b"abc"); // [5,8)
        b.insert(12, b"xy"); // [12,14)
                             // Overlaps both queued ranges with different bytes: only the gaps are written.
        assert_eq!(b.insert(3, b"#########---"), ins(0, true, false, false)); // [3,15)
        assert_eq!(b.out_of_order_ranges(), 1);
        assert_eq!(sacks(&b), [(3, 15)]);
        // Entirely inside the queued range: duplicate, nothing changes.
        assert_eq!(b.insert(6, b"ZZ"), ins(0, false, true, false));
        assert_eq!(b.insert(0, b"012"), ins(15, false, false, false));
        assert_eq!(peeked(&b), b"012##abc####xy-");
        // Abutting (not overlapping) ranges merge too.
        b.insert(20, b"uv");
        b.insert(17, b"rst");
        assert_eq!(sacks(&b), [(17, 22)]);
        b.insert(16, b"q");
        assert_eq!(b.out_of_order_ranges(), 1);
        assert_eq!(sacks(&b), [(16, 22)]);
    }

    #[test]
    fn ring_wraps_around() {
        let stream: Vec<u8> = (0..100u8).collect();
        let mut b = RecvBuf::new(8);
        b.insert(0, &stream[0..6]);
        b.consume(5); // head at 5, one readable byte
                      // Queue [8,12): ring indices 0..4 after the wrap (offset 5 sits at index 5).
        assert_eq!(b.insert(8, &stream[8..12]), ins(0, true, false, false));
        check(&b, &stream);
        assert_eq!(b.insert(6, &stream[6..8]), ins(6, false, false, false));
        let (x, y) = b.peek();
        assert_eq!((x, y), (&stream[5..8], &stream[8..12]));
        check(&b, &stream);
        let mut dst = [0u8; 7];
        assert_eq!(b.read(&mut dst), 7);
        assert_eq!(&dst, &stream[5..12]);
        assert!(!b.is_allocated());
        // Many laps around a small ring.
        let mut out = Vec::new();
        let mut off = 12;
        while off < 100 {
            let end = (off + 5).min(100);
            let r = b.insert(off as u64, &stream[off..end]);
            off += r.advanced;
            let mut dst = [0u8; 3];
            let n = b.read(&mut dst);
            out.extend_from_slice(&dst[..n]);
            check(&b, &stream);
        }
        let mut rest = [0u8; 8];
        let n = b.read(&mut rest);
        out.extend_from_slice(&rest[..n]);
        assert_eq!(out, &stream[12..]);
    }

    /// In-place reads: the slice is the first contiguous run of readable bytes, a second
    /// call gets the wrapped rest, a claim of 0 consumes nothing, a claim beyond the slice
    /// is clipped to it, and the storage goes once everything is read.
    #[test]
    fn read_with_in_place() {
        let stream: Vec<u8> = (0..100u8).collect();
        let mut b = RecvBuf::new(8);
        // Nothing readable: an empty slice, nothing happens.
        assert_eq!(b.read_with(|s| (3, s.len())), 0);
        b.insert(0, &stream[0..6]);
        assert_eq!(b.read_with(|s| (0, s.to_vec())), &stream[0..6], "claim 0");
        assert_eq!(b.readable(), 6);
        assert_eq!(b.read_with(|s| (5, s.len())), 6);
        assert_eq!(b.readable(), 1);
        // [5, 12) now wraps: slots 5..8 then 0..4.
        b.insert(6, &stream[6..12]);
        assert_eq!(b.read_with(|s| (1, s.to_vec())), &stream[5..8]);
        assert_eq!(b.read_with(|s| (usize::MAX, s.to_vec())), &stream[6..8]);
        assert_eq!(b.readable(), 4, "an over-claim takes only the slice");
        assert_eq!(b.read_with(|s| (99, s.to_vec())), &stream[8..12]);
        assert_eq!(b.readable(), 0);
        assert!(!b.is_allocated(), "released when empty");
        check(&b, &stream);
    }

    #[test]
    fn sk_3_sk_4_sack_ranges_most_recent_first() {
        let stream = [7u8; 100];
        let mut b = RecvBuf::new(100);
        b.insert(10, &stream[10..12]); // A
        b.insert(20, &stream[20..22]); // B
        b.insert(30, &stream[30..32]); // C
        assert_eq!(sacks(&b), [(30, 32), (20, 22), (10, 12)]);
        // A new segment extends A: A is reported first (SK-3), then the rest by recency.
        b.insert(12, &stream[12..14]);
        assert_eq!(sacks(&b), [(10, 14), (30, 32), (20, 22)]);
        // A duplicate inside B makes B the block holding the triggering segment.
        assert_eq!(b.insert(20, &stream[20..21]), ins(0, false, true, false));
        assert_eq!(sacks(&b), [(20, 22), (10, 14), (30, 32)]);
        // Only as many as fit.
        let mut out = [(0, 0); 2];
        assert_eq!(b.sack_ranges(&mut out), 2);
        assert_eq!(out, [(20, 22), (10, 14)]);
        assert_eq!(b.sack_ranges(&mut []), 0);
        // SK-4: once RCV.NXT passes a range it is no longer reported.
        b.insert(0, &stream[0..10]);
        assert_eq!(b.next(), 14);
        assert_eq!(sacks(&b), [(20, 22), (30, 32)]);
        b.insert(14, &stream[14..40]);
        assert_eq!(sacks(&b), []);
        assert!(!b.has_out_of_order());
    }

    #[test]
    fn shld_31_range_limit_drops_new_ranges_only() {
        let stream: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut b = RecvBuf::new(1000);
        // 32 one-byte ranges at 2, 4, ..., 64.
        for k in 1..=RecvBuf::MAX_RANGES as u64 {
            let o = 2 * k;
            assert!(
                b.insert(o, &stream[o as usize..o as usize + 1])
                    .out_of_order
            );
        }
        assert_eq!(b.out_of_order_ranges(), RecvBuf::MAX_RANGES);
        // A 33rd range is refused and reported.
        assert_eq!(b.insert(100, &stream[100..101]), ins(0, false, false, true));
        assert_eq!(b.out_of_order_ranges(), RecvBuf::MAX_RANGES);
        // Extending an existing range is still fine, and so is joining two.
        assert_eq!(b.insert(65, &stream[65..70]), ins(0, true, false, false));
        assert_eq!(b.insert(3, &stream[3..4]), ins(0, true, false, false));
        assert_eq!(b.out_of_order_ranges(), RecvBuf::MAX_RANGES - 1);
        // Now there is room for one more.
        assert!(b.insert(100, &stream[100..101]).out_of_order);
        // In-order data always progresses.
        assert_eq!(b.insert(0, &stream[0..2]).advanced, 5);
        check(&b, &stream);
    }

    #[test]
    fn never_panics_on_extreme_offsets() {
        let mut b = RecvBuf::new(16);
        b.insert(0, b"abcd");
        for &o in &[u64::MAX, u64::MAX - 1, u64::MAX - 3, 1 << 63, 20, 19, 3, 0] {
            let r = b.insert(o, b"0123456789");
            assert_eq!(r.advanced, if o == 3 { 9 } else { 0 });
        }
        assert_eq!(
            b.insert(u64::MAX - 2, b"0123456789"),
            ins(0, false, false, true)
        );
        // RCV.NXT itself near the top of the offset space.
        let mut b = RecvBuf::new(16);
        b.next = u64::MAX - 5;
        assert_eq!(b.insert(u64::MAX - 3, b"cd"), ins(0, true, false, false));
        assert_eq!(b.insert(u64::MAX - 5, b"ab"), ins(4, false, false, false));
        // The offset space ends at u64::MAX: the last byte position cannot be filled.
        assert_eq!(b.insert(u64::MAX - 1, b"efg"), ins(1, false, false, true));
        assert_eq!(b.next(), u64::MAX);
        assert_eq!(b.insert(u64::MAX, b"h"), ins(0, false, false, true));
        assert_eq!(b.insert(0, b"old"), ins(0, false, true, false));
        assert_eq!(peeked(&b), b"abcde");
    }

    #[test]
    fn must_39_receiver_sws_avoidance() {
        let mut b = RecvBuf::new(1000);
        let stream = vec![0u8; 1000];
        // Offered 1000, then 900 bytes arrive: 100 left of the old offer.
        b.insert(0, &stream[..900]);
        assert_eq!(b.sws_window(100, 536), 100);
        // Reading 300 frees 300 < min(500, 536): the right edge holds.
        b.consume(300);
        assert_eq!(b.sws_window(100, 536), 100);
        // Reading 200 more: 500 freed >= min(500, 536): offer all free space.
        b.consume(200);
        assert_eq!(b.sws_window(100, 536), 600);
        // A small MSS lowers the threshold.
        let mut b = RecvBuf::new(1000);
        b.insert(0, &stream[..900]);
        b.consume(100);
        assert_eq!(b.sws_window(100, 100), 200);
    }

    /// Tiny deterministic PRNG for the property test's shuffles and read sizes.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn stage_refuses_what_it_cannot_hold() {
        let mut b = RecvBuf::new(16);
        assert_eq!(b.stage(b"", &mut RingPool::new(0)), None);
        assert_eq!(
            b.stage(&[1; 17], &mut RingPool::new(0)),
            None,
            "beyond the window"
        );
        assert!(!b.is_allocated());
        b.insert(4, b"xy"); // queued above a hole: the free space is not free
        assert_eq!(b.stage(b"abcd", &mut RingPool::new(0)), None);
        assert!(!b.is_staged());
    }

    #[test]
    fn staged_bytes_are_invisible_until_committed() {
        let mut b = RecvBuf::new(64);
        let s = b.stage(b"hello world", &mut RingPool::new(0)).unwrap();
        assert_eq!(
            checksum::fold(s),
            checksum::fold(checksum::sum(b"hello world"))
        );
        assert_eq!((b.readable(), b.next(), b.window()), (0, 0, 64));
        assert_eq!(peeked(&b), b"");
        // Dropped: the ring it allocated goes too.
        b.unstage(&mut RingPool::new(0));
        assert!(!b.is_allocated() && !b.is_staged());
        // Committed in part (the rest was beyond RCV.WND).
        b.stage(b"hello world", &mut RingPool::new(0)).unwrap();
        assert_eq!(b.commit_staged(5), Some(ins(5, false, false, false)));
        assert_eq!(peeked(&b), b"hello");
        assert_eq!(b.commit_staged(1), None, "a commit uses the staging up");
        // Any other change forgets the staging.
        b.stage(b"AAAA", &mut RingPool::new(0)).unwrap();
        b.insert(5, b" you");
        assert_eq!(b.commit_staged(4), None);
        assert_eq!(peeked(&b), b"hello you");
        b.stage(b"BBBB", &mut RingPool::new(0)).unwrap();
        b.consume(1);
        assert_eq!(b.commit_staged(4), None);
        assert_eq!(peeked(&b), b"ello you");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Segments of a stream, plus duplicates and random overlapping pieces, inserted in a
        /// random order while the application reads random amounts; then the sender
        /// "retransmits" from RCV.NXT until done. The bytes read equal the stream exactly,
        /// the capacity is never exceeded and the range count stays bounded.
        #[test]
        fn recv_buf_reassembles_any_order(
            stream in proptest::collection::vec(any::<u8>(), 1..3000),
            cap in 1usize..700,
            max_seg in 1usize..200,
            seed in any::<u64>(),
        ) {
            let mut rng = XorShift(seed | 1);
            let total = stream.len();
            let mut segs: Vec<(usize, usize)> = Vec::new();
            let mut o = 0;
            while o < total {
                let l = (1 + rng.below(max_seg)).min(total - o);
                segs.push((o, o + l));
                o += l;
            }
            let originals = segs.len();
            for _ in 0..originals / 3 {
                let s = segs[rng.below(originals)];
                segs.push(s); // duplicates
                let a = rng.below(total);
                let b = (a + 1 + rng.below(2 * max_seg)).min(total);
                segs.push((a, b)); // overlapping pieces
            }
            for i in (1..segs.len()).rev() {
                segs.swap(i, rng.below(i + 1));
            }

            let mut b = RecvBuf::new(cap);
            let mut out: Vec<u8> = Vec::new();
            let mut advanced_total = 0u64;
            let mut step = |b: &mut RecvBuf, out: &mut Vec<u8>, rng: &mut XorShift, s: usize, e: usize| {
                let before = b.next();
                let r = b.insert(s as u64, &stream[s..e]);
                advanced_total += r.advanced as u64;
                assert_eq!(advanced_total, b.next());
                if (e as u64) <= before {
                    assert_eq!(r, ins(0, false, true, false));
                }
                assert!(!(r.advanced > 0 && r.out_of_order));
                match rng.below(6) {
                    0 | 1 => {
                        let mut dst = vec![0u8; rng.below(400)];
                        let n = b.read(&mut dst);
                        out.extend_from_slice(&dst[..n]);
                    }
                    2 => {
                        // In place, claiming anything from 0 to past the slice.
                        let claim = rng.below(400);
                        let (first, readable) = (b.peek().0.len(), b.readable());
                        let seen = b.read_with(|s| {
                            out.extend_from_slice(&s[..claim.min(s.len())]);
                            (claim, s.len())
                        });
                        assert_eq!(seen, first, "the first contiguous part");
                        assert_eq!(b.readable(), readable - claim.min(first));
                    }
                    _ => {}
                }
                assert_eq!(out.len() as u64 + b.readable() as u64, b.next());
                check(b, &stream);
            };
            for &(s, e) in &segs {
                step(&mut b, &mut out, &mut rng, s, e);
            }
            // Retransmission from RCV.NXT until everything has been delivered.
            let mut guard = 0;
            while out.len() < total {
                let n = b.next() as usize;
                if n < total {
                    let e = (n + 1 + rng.below(max_seg)).min(total);
                    step(&mut b, &mut out, &mut rng, n, e);
                }
                let mut dst = vec![0u8; cap];
                let k = b.read(&mut dst);
                out.extend_from_slice(&dst[..k]);
                guard += 1;
                prop_assert!(guard < 100_000, "no progress");
            }
            prop_assert_eq!(&out, &stream);
            prop_assert!(!b.has_out_of_order());
            prop_assert!(!b.is_allocated());
        }

        /// A stream arriving in order, each segment staged and committed (perhaps only a
        /// prefix, as when trimmed to the window), or staged as a corrupted copy and then
        /// dropped and inserted intact, or inserted directly, with random reads between:
        /// the sums are the segments' sums, and the bytes read are the stream exactly.
        #[test]
        fn staging_matches_insert(
            stream in proptest::collection::vec(any::<u8>(), 1..4000),
            cap in 1usize..900,
            max_seg in 1usize..400,
            seed in any::<u64>(),
        ) {
            let mut rng = XorShift(seed | 1);
            let mut b = RecvBuf::new(cap);
            let mut out = Vec::new();
            while (b.next() as usize) < stream.len() {
                let at = b.next() as usize;
                let len = (1 + rng.below(max_seg)).min(stream.len() - at);
                let seg = &stream[at..at + len];
                match rng.below(4) {
                    0 | 1 => {
                        if let Some(s) = b.stage(seg, &mut RingPool::new(0)) {
                            prop_assert_eq!(checksum::fold(s), checksum::fold(checksum::sum(seg)));
                            let keep = if rng.below(2) == 0 { len } else { 1 + rng.below(len) };
                            prop_assert_eq!(b.commit_staged(keep), Some(ins(keep, false, false, false)));
                        } else {
                            prop_assert!(len > b.window());
                        }
                    }
                    2 => {
                        let mut bad = seg.to_vec();
                        bad[rng.below(len)] ^= 0x81;
                        let staged = b.stage(&bad, &mut RingPool::new(0)).is_some();
                        b.unstage(&mut RingPool::new(0));
                        if staged && b.readable() == 0 {
                            prop_assert!(!b.is_allocated());
                        }
                        b.insert(at as u64, seg);
                    }
                    _ => {
                        b.insert(at as u64, seg);
                    }
                }
                check(&b, &stream);
                if b.window() == 0 || rng.below(3) == 0 {
                    let mut dst = vec![0u8; 1 + rng.below(cap)];
                    let n = b.read(&mut dst);
                    out.extend_from_slice(&dst[..n]);
                    check(&b, &stream);
                }
            }
            while b.readable() > 0 {
                let mut dst = vec![0u8; cap];
                let n = b.read(&mut dst);
                out.extend_from_slice(&dst[..n]);
            }
            prop_assert_eq!(out, stream);
        }
    }
}
