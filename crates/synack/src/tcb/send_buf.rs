//! Send buffer / retransmission queue.
//!
//! Holds the bytes of the stream from SND.UNA onward: first the bytes sent but not yet
//! acknowledged (kept for retransmission, RTO-11), then the bytes the application wrote that
//! have not been sent yet. Offset 0 is always SND.UNA; an acknowledgment drops bytes from the
//! front. The connection keeps the sequence numbers; this type only knows byte offsets.
//!
//! Storage is a ring allocated on the first push, grown (doubling, up to `capacity`) only when
//! the bytes held need more room, and released whenever the buffer drains, so idle
//! connections cost only the struct (DESIGN.md: memory is bounded per connection) and a
//! connection that only ever holds a small request never pays for zeroing a full-size ring
//! (the churn profile spent ~44% there). Copies in and out are at most two `memcpy`s each;
//! [`SendBuf::write_with`] lets the application write into the ring itself (no copy here).
//! The methods that may allocate or free the ring take the stack's [`RingPool`], which keeps
//! rings of the first size for the next buffer (the plain forms use none).

use super::ring_pool::{RingPool, MIN_RING};

/// A bounded ring buffer of outgoing stream bytes, front = SND.UNA.
#[derive(Clone, Debug, Default)]
pub struct SendBuf {
    /// The ring: empty until the first push, then between `len` and `capacity` bytes.
    storage: Box<[u8]>,
    /// Index in `storage` of the byte at offset 0 (SND.UNA).
    head: usize,
    /// Bytes held.
    len: usize,
    /// Most bytes ever held (u32, as in `RecvBuf`: the buffer bound is far below 4 GiB, and
    /// the 4 bytes saved hold `size_hint` within the TCB's budget).
    capacity: u32,
    /// log2 of the ring size when the storage was last released, for in-place writes (see
    /// [`SendBuf::write_with`]).
    size_hint: u8,
    /// The application pinned `capacity` (SO_SNDBUF, Linux SOCK_SNDBUF_LOCK): autotuning
    /// leaves it alone (LX-11). In the struct's padding.
    locked: bool,
}

impl SendBuf {
    /// An empty buffer that will hold at most `capacity` bytes. Allocates nothing.
    pub fn new(capacity: usize) -> Self {
        SendBuf {
            storage: Box::default(),
            head: 0,
            len: 0,
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            size_hint: 0,
            locked: false,
        }
    }

    /// Most bytes the buffer holds.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Changes the bound to `capacity` bytes (autotuning, LX-11, or SO_SNDBUF), but never
    /// below the bytes held, which stay. The ring is not touched: it grows on demand up to
    /// the new bound, and is released as usual when the buffer drains. Returns the bound
    /// now in force.
    pub fn set_capacity(&mut self, capacity: usize) -> usize {
        let c = capacity.max(self.len);
        self.capacity = u32::try_from(c).unwrap_or(u32::MAX);
        self.capacity as usize
    }

    /// Whether the application pinned the size (autotuning leaves it alone).
    pub fn locked(&self) -> bool {
        self.locked
    }

    pub fn set_locked(&mut self, locked: bool) {
        self.locked = locked;
    }

    /// Bytes held: unacknowledged plus unsent.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left for the application: `capacity - len`.
    pub fn free(&self) -> usize {
        self.capacity as usize - self.len
    }

    /// Whether the ring storage is currently allocated (it is not while empty).
    pub fn is_allocated(&self) -> bool {
        !self.storage.is_empty()
    }

    /// Bytes of ring storage allocated now (0 while empty).
    pub fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// Appends as much of `data` as fits; returns how many bytes were taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        self.push_pooled(data, &mut RingPool::new(0))
    }

    /// [`SendBuf::push`], a new ring of the first size taken from `rings`.
    pub fn push_pooled(&mut self, data: &[u8], rings: &mut RingPool) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        if self.len + n > self.storage.len() {
            self.grow(self.len + n, rings);
        }
        let ring = self.storage.len();
        let tail = self.index(self.len);
        let first = n.min(ring - tail);
        self.storage[tail..tail + first].copy_from_slice(&data[..first]);
        self.storage[..n - first].copy_from_slice(&data[first..n]);
        self.len += n;
        n
    }

    /// In-place append: hands `f` the free slots that follow the held bytes contiguously in
    /// the ring, and takes the first `n` of them as stream bytes, where `(n, r)` is what `f`
    /// returned (`n` is clipped to the slice: taking more than offered never panics).
    /// Returns `(bytes taken, r)`.
    ///
    /// The slice is never empty while [`SendBuf::free`] is positive. It is at most the
    /// contiguous part: when the free slots wrap past the end of the ring, a second call
    /// gets the rest. The application says nothing of how much it has, so the ring grows
    /// only as it is actually filled: an unallocated one starts at `MIN_RING` (a small
    /// writer never pays for a full-size ring), and a full one grows to at least double,
    /// or at once to the size it had when the buffer last drained (capped at `capacity`).
    ///
    /// Every slot handed out is initialised (zeroed when the ring was allocated, or a byte
    /// acknowledged earlier): safe code never sees uninitialised memory. What `f` leaves in
    /// the slots it does not take is ignored.
    pub fn write_with<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> (usize, R) {
        self.write_with_pooled(f, &mut RingPool::new(0))
    }

    /// [`SendBuf::write_with`], the ring taken from and given back to `rings`.
    pub fn write_with_pooled<R>(
        &mut self,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
        rings: &mut RingPool,
    ) -> (usize, R) {
        if self.len == self.storage.len() && self.free() > 0 {
            // A fresh ring starts small; once the application has filled it, it is writing
            // in bulk, and the ring goes straight to the size it last reached instead of
            // doubling up to it again (a bulk sender drains and refills its buffer every
            // round trip: the doubling re-zeroed and re-copied twice the data each time).
            let need = if self.storage.is_empty() {
                1
            } else {
                (self.len + 1).max(1 << self.size_hint).min(self.capacity())
            };
            self.grow(need, rings);
        }
        let ring = self.storage.len();
        let tail = if ring == 0 { 0 } else { self.index(self.len) };
        // The free slots are [tail, head) when the held bytes wrap, else [tail, ring) then
        // [0, head): either way the contiguous run from `tail` is the smaller of the two.
        // A ring larger than the bound (the bound was lowered by `set_capacity`) offers no
        // more than the bound leaves.
        let room = (ring - self.len).min(ring - tail).min(self.free());
        let (n, r) = f(&mut self.storage[tail..tail + room]);
        let n = n.min(room);
        self.len += n;
        if self.len == 0 {
            // Nothing written into a ring allocated for it: an empty buffer holds no storage
            // (and the size remembered stays that of the last ring actually used).
            rings.give(core::mem::take(&mut self.storage).into_vec());
            self.head = 0;
        }
        (n, r)
    }

    /// Re-allocate the ring to hold at least `need` bytes (power-of-two growth from
    /// [`MIN_RING`], capped at `capacity`), unwrapping the held bytes to the front of the new
    /// ring. A ring of the first size comes from `rings`, and the old one goes back to it.
    fn grow(&mut self, need: usize, rings: &mut RingPool) {
        let size = need
            .next_power_of_two()
            .max(MIN_RING)
            .min(self.capacity())
            .max(need);
        let mut v = if size == MIN_RING {
            rings.take()
        } else {
            Vec::with_capacity(size)
        };
        let (a, b) = self.slices(0, self.len);
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        // Zeroed: `write_with` hands these slots to the application.
        v.resize(size, 0);
        let old = core::mem::replace(&mut self.storage, v.into_boxed_slice());
        rings.give(old.into_vec());
        self.head = 0;
    }

    /// Drops `n` bytes from the front (they were acknowledged: SND.UNA advanced by `n`).
    /// `n` should not exceed [`SendBuf::len`]; a larger `n` is clipped (it never panics, so a
    /// caller that counts a FIN's sequence number here loses nothing). When the buffer
    /// becomes empty its storage is released.
    pub fn ack(&mut self, n: usize) {
        self.ack_pooled(n, &mut RingPool::new(0));
    }

    /// [`SendBuf::ack`], the storage released to `rings`.
    pub fn ack_pooled(&mut self, n: usize, rings: &mut RingPool) {
        let n = n.min(self.len);
        self.len -= n;
        if self.len == 0 {
            self.release(rings);
        } else {
            self.head = self.index(n);
        }
    }

    /// Drops the storage of the empty buffer, remembering its size.
    fn release(&mut self, rings: &mut RingPool) {
        if !self.storage.is_empty() {
            self.size_hint = self.storage.len().ilog2() as u8;
        }
        rings.give(core::mem::take(&mut self.storage).into_vec());
        self.head = 0;
    }

    /// Copies the bytes `[offset, offset + dst.len())`, clipped to what is held, into the
    /// front of `dst`; returns how many were copied.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> usize {
        let (a, b) = self.slices(offset, dst.len());
        dst[..a.len()].copy_from_slice(a);
        dst[a.len()..a.len() + b.len()].copy_from_slice(b);
        a.len() + b.len()
    }

    /// Zero-copy view of the bytes `[offset, offset + len)`, clipped to what is held. The ring
    /// may wrap, so the range comes as two slices; the second is empty unless it wrapped.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        if offset >= self.len {
            return (&[], &[]);
        }
        let n = len.min(self.len - offset);
        let start = self.index(offset);
        let first = n.min(self.storage.len() - start);
        (
            &self.storage[start..start + first],
            &self.storage[..n - first],
        )
    }

    /// Ring index of the byte at `offset` from the front; `offset <= len <= ring size` and the
    /// storage is allocated whenever `len > 0`.
    fn index(&self, offset: usize) -> usize {
        let i = self.head + offset;
        let ring = self.storage.len();
        if i >= ring {
            i - ring
        } else {
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn contents(b: &SendBuf) -> Vec<u8> {
        let (x, y) = b.slices(0, usize::MAX);
        [x, y].concat()
    }

    #[test]
    fn lazy_allocation_and_release() {
        let mut b = SendBuf::new(8);
        assert!(!b.is_allocated());
        assert_eq!((b.capacity(), b.len(), b.free()), (8, 0, 8));
        assert!(b.is_empty());
        assert_eq!(b.push(&[]), 0);
        assert!(!b.is_allocated(), "an empty push allocates nothing");
        assert_eq!(b.push(b"hello"), 5);
        assert!(b.is_allocated());
        b.ack(2);
        assert!(b.is_allocated());
        assert_eq!(contents(&b), b"llo");
        b.ack(3);
        assert!(b.is_empty());
        assert!(!b.is_allocated(), "drained buffer releases its storage");
        // A zero-capacity buffer never allocates and never takes a byte.
        let mut z = SendBuf::new(0);
        assert_eq!(z.push(b"x"), 0);
        assert!(!z.is_allocated());
        assert_eq!(z.slices(0, 10), (&[][..], &[][..]));
    }

    #[test]
    fn push_takes_only_what_fits() {
        let mut b = SendBuf::new(5);
        assert_eq!(b.push(b"abc"), 3);
        assert_eq!(b.push(b"defg"), 2);
        assert_eq!(b.free(), 0);
        assert_eq!(b.push(b"h"), 0);
        assert_eq!(contents(&b), b"abcde");
    }

    #[test]
    fn ring_wraps_around() {
        let mut b = SendBuf::new(8);
        assert_eq!(b.push(b"012345"), 6);
        b.ack(5); // head at index 5, "5" left
        assert_eq!(b.push(b"6789abc"), 7); // indices 6,7 then wraps to 0..5
        assert_eq!(b.len(), 8);
        assert_eq!(contents(&b), b"56789abc");
        let (x, y) = b.slices(0, 8);
        assert_eq!((x, y), (&b"567"[..], &b"89abc"[..]));
        // A range wholly after the wrap point is one slice.
        assert_eq!(b.slices(4, 3), (&b"9ab"[..], &[][..]));
        // A range straddling the wrap point.
        assert_eq!(b.slices(2, 3), (&b"7"[..], &b"89"[..]));
        // read_at copies across the wrap and clips to len.
        let mut dst = [0u8; 10];
        assert_eq!(b.read_at(1, &mut dst), 7);
        assert_eq!(&dst[..7], b"6789abc");
        assert_eq!(b.read_at(8, &mut dst), 0);
        assert_eq!(b.read_at(usize::MAX, &mut dst), 0);
        assert_eq!(b.slices(7, usize::MAX), (&b"c"[..], &[][..]));
        // Ack across the wrap point.
        b.ack(4);
        assert_eq!(contents(&b), b"9abc");
        assert_eq!(b.push(b"defg"), 4);
        assert_eq!(contents(&b), b"9abcdefg");
    }

    /// In-place writes: the slice is the contiguous free run after the held bytes, the
    /// ring grows (doubling) only when full, a claim beyond the slice is clipped, a claim
    /// of 0 takes nothing, and the bytes written are the stream bytes.
    #[test]
    fn write_with_in_place() {
        let mut b = SendBuf::new(10);
        // Nothing is allocated until bytes are taken: a call that takes none leaves none.
        assert_eq!(b.write_with(|s| (0, s.len())), (0, 4));
        assert!(!b.is_allocated() && b.is_empty());
        let fill = |src: &'static [u8]| {
            move |s: &mut [u8]| {
                let n = src.len().min(s.len());
                s[..n].copy_from_slice(&src[..n]);
                (n, s.len())
            }
        };
        assert_eq!(b.write_with(fill(b"abc")), (3, 4));
        assert_eq!(b.write_with(fill(b"defg")), (1, 1)); // one slot left in the ring
        assert_eq!(contents(&b), b"abcd");
        // Full ring: it doubles (capped at the capacity, 10), the held bytes unwrapped.
        assert_eq!(b.write_with(fill(b"efghijkl")), (4, 4));
        assert_eq!(contents(&b), b"abcdefgh");
        b.ack(6); // head at 6: "gh" held at 6..8, free slots [0, 6)
        assert_eq!(b.write_with(|s| (usize::MAX, s.len())), (6, 6), "clipped");
        assert_eq!(b.len(), 8);
        assert_eq!(b.free(), 2);
        // Full ring again (8 of 10): it grows to the capacity for the last two bytes.
        assert_eq!(b.write_with(fill(b"XYZ")), (2, 2));
        assert_eq!(b.free(), 0);
        assert_eq!(
            b.write_with(fill(b"Q")),
            (0, 0),
            "nothing offered when full"
        );
        assert_eq!(b.len(), 10);
        let held = contents(&b);
        assert_eq!(&held[..2], b"gh");
        assert_eq!(&held[8..], b"XY");
        // Wrapped free space: ack 5 of a 10-slot ring whose bytes start at 0.
        b.ack(5); // head 5, 5 held at 5..10, free [0, 5)
        assert_eq!(b.write_with(fill(b"12")), (2, 5));
        b.ack(4); // head 9: 3 held at 9, 0, 1; free [2, 9)
        assert_eq!(b.write_with(|s| (0, s.len())), (0, 7));
        assert_eq!(contents(&b), [&held[9..], &b"12"[..]].concat());
        // Zero capacity: never allocates, offers nothing.
        let mut z = SendBuf::new(0);
        assert_eq!(z.write_with(|s| (5, s.len())), (0, 0));
        assert!(!z.is_allocated());
    }

    /// A bulk in-place writer whose buffer drains gets a small ring first and, once it has
    /// filled that, the size it had before at once; a write that takes nothing changes
    /// nothing of that.
    #[test]
    fn write_with_regrows_to_the_size_last_used() {
        let mut b = SendBuf::new(100);
        let all = |s: &mut [u8]| (s.len(), s.len());
        let offers: Vec<usize> = (0..6).map(|_| b.write_with(all).0).collect();
        assert_eq!(
            offers,
            [4, 4, 8, 16, 32, 36],
            "doubling from MIN_RING, capped"
        );
        b.ack(100);
        assert!(!b.is_allocated());
        assert_eq!(b.write_with(|s| (0, s.len())), (0, 4));
        assert_eq!(b.write_with(all), (4, 4), "a fresh ring is small");
        assert_eq!(
            b.write_with(all),
            (60, 60),
            "then the last size (64) at once"
        );
        assert_eq!(b.write_with(all), (36, 36));
        // A small write drains from a 4-byte ring: that is the size remembered now.
        b.ack(100);
        assert_eq!(b.write_with(|s| (1, s.len())), (1, 4));
        b.ack(1);
        assert_eq!(b.write_with(all), (4, 4));
        assert_eq!(b.write_with(all), (4, 4), "doubling from 4 again");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        /// `write_with` writing the next stream bytes and claiming this many.
        Write(usize),
        Ack(usize),
        ReadAt(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..200).prop_map(Op::Push),
            (0usize..200).prop_map(Op::Write),
            (0usize..200).prop_map(Op::Ack),
            (0usize..300, 0usize..300).prop_map(|(o, l)| Op::ReadAt(o, l)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Random pushes, acks and reads against a VecDeque model: the bytes acknowledged,
        /// followed by those still held, are exactly the stream pushed, and the buffer never
        /// holds more than its capacity.
        #[test]
        fn send_buf_matches_model(cap in 1usize..160, ops in proptest::collection::vec(op(), 1..120)) {
            let mut b = SendBuf::new(cap);
            let mut model: VecDeque<u8> = VecDeque::new();
            let mut next_byte: u64 = 0; // stream offset of the next byte to push
            let mut acked: u64 = 0;
            for op in ops {
                match op {
                    Op::Push(n) => {
                        let data: Vec<u8> = (0..n as u64).map(|i| ((next_byte + i) % 251) as u8).collect();
                        let took = b.push(&data);
                        prop_assert_eq!(took, n.min(cap - model.len()));
                        model.extend(&data[..took]);
                        next_byte += took as u64;
                    }
                    Op::Write(n) => {
                        let free_before = cap - model.len();
                        let (took, offered) = b.write_with(|s| {
                            for (i, x) in s.iter_mut().enumerate() {
                                *x = ((next_byte + i as u64) % 251) as u8;
                            }
                            (n, s.len())
                        });
                        prop_assert!(offered <= free_before);
                        prop_assert_eq!(offered == 0, free_before == 0);
                        prop_assert_eq!(took, n.min(offered));
                        model.extend((0..took as u64).map(|i| ((next_byte + i) % 251) as u8));
                        next_byte += took as u64;
                    }
                    Op::Ack(n) => {
                        let n = n.min(model.len());
                        b.ack(n);
                        model.drain(..n);
                        acked += n as u64;
                    }
                    Op::ReadAt(o, l) => {
                        let mut dst = vec![0xEEu8; l];
                        let got = b.read_at(o, &mut dst);
                        let want: Vec<u8> = model.iter().skip(o).take(l).copied().collect();
                        prop_assert_eq!(&dst[..got], &want[..]);
                        let (x, y) = b.slices(o, l);
                        prop_assert_eq!([x, y].concat(), want);
                    }
                }
                prop_assert!(b.len() <= cap);
                prop_assert_eq!(b.len(), model.len());
                prop_assert_eq!(b.free(), cap - model.len());
                prop_assert_eq!(b.is_allocated(), !model.is_empty());
                prop_assert_eq!(contents(&b), model.iter().copied().collect::<Vec<u8>>());
                prop_assert_eq!(acked + model.len() as u64, next_byte);
                // Every held byte is the stream byte at its offset.
                for (i, &byte) in model.iter().enumerate() {
                    prop_assert_eq!(byte, ((acked + i as u64) % 251) as u8);
                }
            }
        }
    }
}
