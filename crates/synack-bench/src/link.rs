//! The in-memory link both stacks run on: two FIFO queues of whole IP packets (one per
//! direction), a pool of recycled packet buffers (so the steady state allocates nothing),
//! optional seeded random loss, counters, and an optional trace of the last packets.
//!
//! The link has no delay of its own: the driver ([`crate::Sim`]) moves packets in rounds,
//! and the virtual clock advances between rounds. Both stacks pay exactly the same link
//! costs (one queue push and pop per packet, no copy besides the stack's own write into the
//! buffer and read out of it).

use std::cell::RefCell;
use std::collections::VecDeque;

/// Direction A -> B (198.18.0.1 to 198.18.0.2).
pub const A_TO_B: usize = 0;
/// Direction B -> A.
pub const B_TO_A: usize = 1;

/// One packet on the wire: `buf[..len]` is the IP packet; `buf` may be longer (recycled).
pub struct Packet {
    pub buf: Vec<u8>,
    pub len: usize,
}

/// Per-direction counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirStats {
    pub packets: u64,
    pub bytes: u64,
    pub dropped: u64,
}

struct Inner {
    queues: [VecDeque<Packet>; 2],
    pool: Vec<Vec<u8>>,
    /// Drop a packet when the next random u64 is below this (0: lossless).
    loss_threshold: u64,
    rng: u64,
    stats: [DirStats; 2],
    trace: Option<VecDeque<String>>,
    /// Scripted losses: (direction, packet number counted from 1 over all packets pushed
    /// that way).
    drop_list: Vec<(usize, u64)>,
    pushed: [u64; 2],
    trace_keep: usize,
}

/// The link. Methods take `&self` (the state is in a `RefCell`) so smoltcp's device tokens
/// can share it; no borrow is held across a call into a stack.
pub struct Link {
    inner: RefCell<Inner>,
}

impl Default for Link {
    fn default() -> Self {
        Link::new()
    }
}

/// splitmix64: a small, good, seedable generator (loss decisions and test data).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const TRACE_KEEP: usize = 64;

impl Link {
    /// A lossless link.
    pub fn new() -> Link {
        Link {
            inner: RefCell::new(Inner {
                queues: [VecDeque::new(), VecDeque::new()],
                pool: Vec::new(),
                loss_threshold: 0,
                rng: 0,
                stats: [DirStats::default(); 2],
                trace: None,
                drop_list: Vec::new(),
                pushed: [0; 2],
                trace_keep: TRACE_KEEP,
            }),
        }
    }

    /// A link that drops each packet (either direction) with probability `loss`, decided
    /// by a generator seeded with `seed`.
    pub fn with_loss(loss: f64, seed: u64) -> Link {
        let link = Link::new();
        {
            let mut i = link.inner.borrow_mut();
            i.loss_threshold = (loss.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
            i.rng = seed;
        }
        link
    }

    /// Keep a one-line summary of the last 64 packets (for failure messages).
    pub fn enable_trace(&self) {
        self.inner.borrow_mut().trace = Some(VecDeque::new());
    }

    /// Keep a one-line summary of the last `keep` packets.
    pub fn enable_trace_keep(&self, keep: usize) {
        let mut i = self.inner.borrow_mut();
        i.trace = Some(VecDeque::new());
        i.trace_keep = keep;
    }

    /// Drop the `nth` packet (counted from 1) sent in direction `dir`.
    pub fn drop_nth(&self, dir: usize, nth: u64) {
        self.inner.borrow_mut().drop_list.push((dir, nth));
    }

    /// The last packets, oldest first (empty unless tracing).
    pub fn trace(&self) -> Vec<String> {
        self.inner
            .borrow()
            .trace
            .as_ref()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A buffer of at least `min_len` bytes (contents unspecified).
    pub fn take_buf(&self, min_len: usize) -> Vec<u8> {
        let mut b = self.inner.borrow_mut().pool.pop().unwrap_or_default();
        if b.len() < min_len {
            b.resize(min_len, 0);
        }
        b
    }

    /// Give a buffer back to the pool.
    pub fn recycle(&self, buf: Vec<u8>) {
        self.inner.borrow_mut().pool.push(buf);
    }

    /// Put `buf[..len]` on the wire in direction `dir` (or drop it, on a lossy link).
    pub fn push(&self, dir: usize, buf: Vec<u8>, len: usize) {
        let mut i = self.inner.borrow_mut();
        let i = &mut *i;
        i.pushed[dir] += 1;
        let scripted = !i.drop_list.is_empty() && i.drop_list.contains(&(dir, i.pushed[dir]));
        let dropped =
            scripted || i.loss_threshold != 0 && splitmix64(&mut i.rng) < i.loss_threshold;
        if let Some(t) = i.trace.as_mut() {
            if t.len() >= i.trace_keep {
                t.pop_front();
            }
            t.push_back(summarize(dir, &buf[..len], dropped));
        }
        let s = &mut i.stats[dir];
        if dropped {
            s.dropped += 1;
            i.pool.push(buf);
        } else {
            s.packets += 1;
            s.bytes += len as u64;
            i.queues[dir].push_back(Packet { buf, len });
        }
    }

    /// Next packet travelling in direction `dir`.
    pub fn pop(&self, dir: usize) -> Option<Packet> {
        let mut i = self.inner.borrow_mut();
        let q = &mut i.queues[dir];
        let p = q.pop_front();
        if q.is_empty() {
            // Back to the start of the ring: `pop_front` never moves the head back, so after
            // a burst (setting up idle connections queues thousands) every later packet
            // would land on a new line of the whole capacity, a cache miss per packet that
            // the runs measured before such a burst do not pay.
            q.clear();
        }
        p
    }

    /// Nothing in flight either way.
    pub fn is_empty(&self) -> bool {
        let i = self.inner.borrow();
        i.queues[0].is_empty() && i.queues[1].is_empty()
    }

    pub fn stats(&self) -> [DirStats; 2] {
        self.inner.borrow().stats
    }

    /// Pre-allocate `count` buffers of `len` bytes and room for `count` packets in each
    /// queue, so that while no more than `count` packets are in flight the link allocates
    /// nothing (a memory measurement then sees only the stacks' own allocations).
    pub fn reserve(&self, count: usize, len: usize) {
        let mut i = self.inner.borrow_mut();
        let have = i.pool.len();
        i.pool.reserve(2 * count);
        for _ in have..count {
            i.pool.push(vec![0; len]);
        }
        i.queues[0].reserve(count);
        i.queues[1].reserve(count);
    }
}

/// `A->B SYN,ACK seq=.. ack=.. win=.. len=.. [mss=..] [ws=..] [sackok] [ts=..,..]
/// [sack=n]` (with ` LOST` when dropped).
fn summarize(dir: usize, pkt: &[u8], dropped: bool) -> String {
    let arrow = if dir == A_TO_B { "A->B" } else { "B->A" };
    let lost = if dropped { " LOST" } else { "" };
    match synack::wire::parse(pkt) {
        Ok(p) => {
            let o = &p.tcp.options;
            let mut opts = String::new();
            if let Some(m) = o.mss {
                opts += &format!(" mss={m}");
            }
            if let Some(w) = o.window_scale {
                opts += &format!(" ws={w}");
            }
            if o.sack_permitted {
                opts += " sackok";
            }
            if let Some(t) = o.timestamps {
                opts += &format!(" ts={},{}", t.tsval, t.tsecr);
            }
            if o.sack_count > 0 {
                opts += &format!(" sack={}", o.sack_count);
            }
            format!(
                "{arrow} {} seq={} ack={} win={} len={}{opts}{lost}",
                p.tcp.flags,
                p.tcp.seq,
                p.tcp.ack,
                p.tcp.window,
                p.payload.len()
            )
        }
        Err(e) => format!("{arrow} unparsable ({e:?}) {} bytes{lost}", pkt.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the next packet pushed in direction 0 lands in the queue's ring.
    fn write_position(link: &Link) -> *const Packet {
        link.push(0, vec![0; 4], 4);
        let p: *const Packet = link.inner.borrow().queues[0].as_slices().0.as_ptr();
        let pkt = link.pop(0).expect("just pushed");
        link.recycle(pkt.buf);
        p
    }

    /// After a burst the queue is drained back to the start of its ring, so a steady
    /// one-packet-at-a-time flow keeps using the same slot (as a fresh link would) instead
    /// of walking the whole capacity the burst grew.
    #[test]
    fn a_drained_queue_reuses_the_start_of_its_ring() {
        let link = Link::new();
        for _ in 0..1000 {
            link.push(0, vec![0; 4], 4);
        }
        while let Some(p) = link.pop(0) {
            link.recycle(p.buf);
        }
        let first = write_position(&link);
        for round in 0..20 {
            assert_eq!(write_position(&link), first, "round {round}");
        }
        assert!(link.inner.borrow().queues[0].capacity() >= 1000);
    }
}
