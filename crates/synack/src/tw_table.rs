//! The TIME-WAIT table: orphaned TIME-WAIT connections kept apart from the connection table
//! as packed records of 44 bytes (IPv4) or 68 bytes (IPv6), found by an index of 4-byte
//! serial numbers (issue 3: at most 64 bytes per TIME-WAIT entry; MUST-13 says a TIME-WAIT
//! connection must be kept for 2·MSL, not that it must be kept as a full connection).
//!
//! Every record of a family lives in one ring in the order its 2·MSL ends: 2·MSL is the
//! same for every connection and the clock only moves forward, so the stack appends each
//! new record at the tail and expiry pops from the head, with no timer heap entry at all. A
//! record that would break the order (a connection that reached TIME-WAIT long before its
//! handle was released) is refused and stays a full connection with its own timer.
//!
//! The record holds what TIME-WAIT needs ([`TimeWait`] minus what can be derived): a
//! segment for the connection unpacks it and the stack rebuilds a TCB, so every TIME-WAIT
//! rule runs the TCB's one code path; its expiry needs no TCB (the effects, shared with a
//! TCB's own expiry, are `tcb::time_wait_expired`). What the packing drops:
//! - our timestamp offset (the stack recomputes it from the 4-tuple: it is a keyed hash);
//! - the peer's window and the MSS (TIME-WAIT sends no data; views show 0 and our MSS),
//!   and the listener a passive connection came from (views show none);
//! - the low bits of our advertised window below the window scale (rounded up: the right
//!   edge never moves left, SHLD-14);
//! - Last.ACK.sent (equal to RCV.NXT once the last ACK is out; records are refused
//!   otherwise);
//! - time precision: TS.Recent's age keeps sixteenths of a second (62.5 ms, enough for
//!   LX-12's 1 s reuse delay) and the ACK rate-limit stamp 16 ms steps, both rounded so
//!   that the stamp comes out later (more conservative); the two
//!   rate-limit stamps (challenge ACK, out-of-window ACK) share the later of the two, and
//!   one more than 17 minutes old is dropped.
//!
//! Records are stored in chunks of [`CHUNK`] (no doubling `Vec` that would cost up to twice
//! the records at some counts). Removing a record (a segment thawed it) leaves a dead slot
//! until the head passes it; when dead slots outnumber live records the ring is rebuilt,
//! so memory stays within about twice the live records whatever a peer sends.

use crate::event::ConnId;
use crate::seq::SeqNum;
use crate::tcb::TimeWait;
use crate::time::{Duration, Instant, OptInstant};
use crate::tuple::{Tuple, TupleHasher};
use hashbrown::HashTable;
use std::collections::VecDeque;

/// Records per chunk.
const CHUNK: usize = 128;

/// `Body::flags` bits.
const LIVE: u8 = 1 << 7;
const OPTS_MASK: u8 = 0b111; // window scaling, timestamps, SACK, as `TimeWait::opts`
/// Bits 3..=6 of `Body::flags`: sixteenths of a second of TS.Recent's age below
/// `Body::ts_age`'s whole seconds, so that the age is kept to 62.5 ms. LX-12 compares it
/// with `Config::tw_reuse_delay` (1 s): with whole seconds, rounding toward the deadline
/// made reuse wait up to a second longer than asked.
const AGE_FRAC_SHIFT: u8 = 3;
const AGE_FRAC_MASK: u8 = 0b1111 << AGE_FRAC_SHIFT;
/// µs in one unit of the fraction.
const AGE_FRAC_US: u64 = 1_000_000 / 16;

/// Age sentinel: no stamp.
const NO_AGE: u16 = u16::MAX;
/// Unit of `Body::limit_age`, ms: rate-limit windows are a second or less (LX-15, BI-6),
/// so 16 ms steps over 17 minutes lose nothing that matters.
const LIMIT_UNIT_MS: u64 = 16;

/// The family-independent part of a record: 32 bytes, 4-byte aligned.
#[derive(Clone, Copy, Default)]
struct Body {
    index: u32,
    generation: u32,
    snd_nxt: u32,
    rcv_nxt: u32,
    ts_recent: u32,
    /// The deadline, µs after its chunk's base.
    expires: u32,
    /// RCV.ADV - RCV.NXT in units of 2^Rcv.Wind.Shift, rounded up (the window field we
    /// sent: the edge is never taken back, SHLD-14).
    rcv_wnd: u16,
    /// Whole seconds from TS.Recent's arrival to the 2·MSL deadline (sixteenths in
    /// `flags`, [`AGE_FRAC_SHIFT`]): PAWS only asks whether it is older than 24 days (RFC
    /// 7323 §5.5), LX-12 whether it is older than `Config::tw_reuse_delay`. Records whose
    /// age does not fit are refused.
    ts_age: u16,
    /// 16 ms units from the last rate-limited ACK to the deadline (NO_AGE: none, or so old
    /// that no rate limit still applies).
    limit_age: u16,
    flags: u8,
    /// Send shift in the high nibble, receive shift in the low one (each <= 14, WS-2).
    wscale: u8,
}

#[derive(Clone, Copy, Default)]
struct Rec<A> {
    local: A,
    remote: A,
    lport: u16,
    rport: u16,
    b: Body,
}

/// An address family's tuple layout.
trait Family: Copy + Default + Eq {
    fn split(t: &Tuple) -> Option<(Self, Self, u16, u16)>;
    fn join(r: &Rec<Self>) -> Tuple;
}

impl Family for [u8; 4] {
    fn split(t: &Tuple) -> Option<(Self, Self, u16, u16)> {
        match *t {
            Tuple::V4 {
                local,
                remote,
                lport,
                rport,
            } => Some((local, remote, lport, rport)),
            Tuple::V6 { .. } => None,
        }
    }
    fn join(r: &Rec<Self>) -> Tuple {
        Tuple::V4 {
            local: r.local,
            remote: r.remote,
            lport: r.lport,
            rport: r.rport,
        }
    }
}

impl Family for [u8; 16] {
    fn split(t: &Tuple) -> Option<(Self, Self, u16, u16)> {
        match *t {
            Tuple::V6 {
                local,
                remote,
                lport,
                rport,
            } => Some((local, remote, lport, rport)),
            Tuple::V4 { .. } => None,
        }
    }
    fn join(r: &Rec<Self>) -> Tuple {
        Tuple::V6 {
            local: r.local,
            remote: r.remote,
            lport: r.lport,
            rport: r.rport,
        }
    }
}

impl<A: Family> Rec<A> {
    fn id(&self) -> ConnId {
        ConnId {
            index: self.b.index,
            generation: self.b.generation,
        }
    }

    fn live(&self) -> bool {
        self.b.flags & LIVE != 0
    }

    fn is(&self, t: &Tuple) -> bool {
        A::split(t).is_some_and(|(l, r, lp, rp)| {
            self.lport == lp && self.rport == rp && self.local == l && self.remote == r
        })
    }

    /// Pack `tw` with its deadline `off` µs after `base`; None when it cannot be packed
    /// exactly enough (see the module comment).
    fn pack(id: ConnId, tw: &TimeWait, off: u32) -> Option<Rec<A>> {
        let (local, remote, lport, rport) = A::split(&tw.tuple)?;
        if tw.last_ack_sent != tw.rcv_nxt || tw.snd_wscale > 14 || tw.rcv_wscale > 14 {
            return None;
        }
        let wnd = tw.rcv_adv.0.wrapping_sub(tw.rcv_nxt.0);
        let unit = 1u32 << tw.rcv_wscale;
        let rcv_wnd = u16::try_from(wnd.div_ceil(unit)).ok()?;
        // Ages are rounded down: a rebuilt stamp is never earlier than the real one, so a
        // rate limit or TS.Recent's validity can only last longer, never shorter.
        let ms_before = |at: Instant| tw.expires.saturating_since(at).as_millis();
        let sixteenths =
            tw.expires.saturating_since(tw.ts_recent_at).as_micros() / u128::from(AGE_FRAC_US);
        let ts_age = u16::try_from(sixteenths >> 4).ok()?;
        let age_frac = (sixteenths & 0xf) as u8;
        let limit = match (tw.last_challenge.get(), tw.last_oow_ack.get()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let limit_age = limit.map_or(NO_AGE, |at| {
            let units = ms_before(at) / u128::from(LIMIT_UNIT_MS);
            u16::try_from(units)
                .ok()
                .filter(|&u| u != NO_AGE)
                .unwrap_or(NO_AGE)
        });
        Some(Rec {
            local,
            remote,
            lport,
            rport,
            b: Body {
                index: id.index,
                generation: id.generation,
                snd_nxt: tw.snd_nxt.0,
                rcv_nxt: tw.rcv_nxt.0,
                rcv_wnd,
                ts_recent: tw.ts_recent,
                ts_age,
                limit_age,
                expires: off,
                flags: LIVE | (tw.opts & OPTS_MASK) | age_frac << AGE_FRAC_SHIFT,
                wscale: tw.snd_wscale << 4 | tw.rcv_wscale,
            },
        })
    }

    /// The record as a [`TimeWait`] (its deadline is `base + expires`); `ts_offset` and
    /// `mss` are left 0 for the stack to fill.
    fn unpack(&self, base: Instant) -> (ConnId, TimeWait) {
        let b = &self.b;
        let expires = base + Duration::from_micros(u64::from(b.expires));
        let back = |ms: u64| Instant::from_micros(expires.as_micros().saturating_sub(ms * 1000));
        let limit = if b.limit_age == NO_AGE {
            OptInstant::NONE
        } else {
            OptInstant::some(back(u64::from(b.limit_age) * LIMIT_UNIT_MS))
        };
        let rcv_nxt = SeqNum(b.rcv_nxt);
        let tw = TimeWait {
            tuple: A::join(self),
            snd_nxt: SeqNum(b.snd_nxt),
            snd_wnd: 0,
            rcv_nxt,
            rcv_adv: rcv_nxt + (u32::from(b.rcv_wnd) << (b.wscale & 0xf)),
            ts_recent: b.ts_recent,
            ts_offset: 0,
            last_ack_sent: rcv_nxt,
            listener: 0,
            ts_recent_at: {
                let frac = u64::from((b.flags & AGE_FRAC_MASK) >> AGE_FRAC_SHIFT);
                let sixteenths = u64::from(b.ts_age) * 16 + frac;
                Instant::from_micros(expires.as_micros().saturating_sub(sixteenths * AGE_FRAC_US))
            },
            expires,
            last_challenge: limit,
            last_oow_ack: limit,
            mss: 0,
            snd_wscale: b.wscale >> 4,
            rcv_wscale: b.wscale & 0xf,
            opts: b.flags & OPTS_MASK,
        };
        (
            ConnId {
                index: b.index,
                generation: b.generation,
            },
            tw,
        )
    }
}

struct Chunk<A> {
    /// Deadlines in this chunk are stored as µs after this instant.
    base: Instant,
    recs: Vec<Rec<A>>,
}

/// One family's records, in deadline order, and their index.
struct Ring<A> {
    /// Serial numbers of the live records, hashed by 4-tuple.
    index: HashTable<u32>,
    chunks: VecDeque<Chunk<A>>,
    /// Serial of `chunks[0].recs[0]`.
    first: u32,
    /// Serial of the first live record (== `tail` when none).
    head: u32,
    /// Serial the next record gets.
    tail: u32,
    live: usize,
    /// The latest deadline stored (records must not go behind it).
    last_expires: Instant,
    /// One emptied chunk kept for reuse (no allocation per chunk in a steady churn).
    spare: Option<Vec<Rec<A>>>,
}

impl<A: Family> Ring<A> {
    fn new() -> Self {
        Ring {
            index: HashTable::new(),
            chunks: VecDeque::new(),
            first: 0,
            head: 0,
            tail: 0,
            live: 0,
            last_expires: Instant::ZERO,
            spare: None,
        }
    }

    fn at(&self, serial: u32) -> (&Chunk<A>, &Rec<A>) {
        let pos = serial.wrapping_sub(self.first) as usize;
        let c = &self.chunks[pos / CHUNK];
        (c, &c.recs[pos % CHUNK])
    }

    fn at_mut(&mut self, serial: u32) -> &mut Rec<A> {
        let pos = serial.wrapping_sub(self.first) as usize;
        &mut self.chunks[pos / CHUNK].recs[pos % CHUNK]
    }

    fn find(&self, hash: u64, t: &Tuple) -> Option<u32> {
        self.index.find(hash, |&s| self.at(s).1.is(t)).copied()
    }

    /// Whether a record with deadline `expires` can go into the last chunk.
    fn fits(&self, expires: Instant) -> bool {
        self.chunks.back().is_some_and(|c| {
            c.recs.len() < CHUNK
                && expires.saturating_since(c.base).as_micros() <= u128::from(u32::MAX)
        })
    }

    /// Append the record `make` builds from its deadline offset; its serial, or None (and
    /// nothing changed) when `make` cannot build it.
    fn append(
        &mut self,
        hasher: &TupleHasher,
        hash: u64,
        expires: Instant,
        make: impl FnOnce(u32) -> Option<Rec<A>>,
    ) -> Option<u32> {
        // A new chunk when the last is full or the deadline is too far from its base
        // (more than ~71 minutes of µs: only at very low TIME-WAIT rates); a chunk left
        // early is padded with dead records so that serials map to slots by arithmetic.
        let fits = self.fits(expires);
        let base = match self.chunks.back() {
            Some(c) if fits => c.base,
            _ => expires,
        };
        let rec = make(expires.saturating_since(base).as_micros() as u32)?;
        if !fits {
            if let Some(c) = self.chunks.back_mut() {
                let pad = CHUNK - c.recs.len();
                c.recs.resize(CHUNK, Rec::default());
                self.tail = self.tail.wrapping_add(pad as u32);
            }
            let recs = self
                .spare
                .take()
                .unwrap_or_else(|| Vec::with_capacity(CHUNK));
            self.chunks.push_back(Chunk { base, recs });
        }
        self.chunks
            .back_mut()
            .expect("a chunk with room")
            .recs
            .push(rec);
        let serial = self.tail;
        self.tail = self.tail.wrapping_add(1);
        self.live += 1;
        self.last_expires = expires;
        let Ring {
            index,
            chunks,
            first,
            ..
        } = self;
        index.insert_unique(hash, serial, |&s| {
            let pos = s.wrapping_sub(*first) as usize;
            hasher.hash(&A::join(&chunks[pos / CHUNK].recs[pos % CHUNK]))
        });
        self.trim_front();
        Some(serial)
    }

    fn insert(
        &mut self,
        hasher: &TupleHasher,
        hash: u64,
        id: ConnId,
        tw: &TimeWait,
    ) -> Option<u32> {
        if tw.expires < self.last_expires {
            return None;
        }
        if self.find(hash, &tw.tuple).is_some() {
            return None; // the stack never holds a 4-tuple twice; refuse rather than shadow
        }
        self.append(hasher, hash, tw.expires, |off| Rec::pack(id, tw, off))
    }

    /// The record of `t`, unpacked, left in place.
    fn peek(&self, hash: u64, t: &Tuple) -> Option<TimeWait> {
        let (c, r) = self.at(self.find(hash, t)?);
        Some(r.unpack(c.base).1)
    }

    /// Remove and return the record of `t`.
    fn take(&mut self, hasher: &TupleHasher, hash: u64, t: &Tuple) -> Option<(ConnId, TimeWait)> {
        let Ring {
            index,
            chunks,
            first,
            ..
        } = self;
        let entry = index
            .find_entry(hash, |&s| {
                let pos = s.wrapping_sub(*first) as usize;
                chunks[pos / CHUNK].recs[pos % CHUNK].is(t)
            })
            .ok()?;
        let (serial, _) = entry.remove();
        Some(self.kill(hasher, serial))
    }

    /// The record at `serial` if it is live and belongs to connection `id`.
    fn get(&self, serial: u32, id: ConnId) -> Option<TimeWait> {
        let (c, r) = self.held(serial, id)?;
        Some(r.unpack(c.base).1)
    }

    /// The record at `serial`, not unpacked, if it is live and belongs to connection `id`.
    fn held(&self, serial: u32, id: ConnId) -> Option<(&Chunk<A>, &Rec<A>)> {
        if serial.wrapping_sub(self.head) >= self.tail.wrapping_sub(self.head) {
            return None;
        }
        let (c, r) = self.at(serial);
        (r.live() && r.id() == id).then_some((c, r))
    }

    /// Mark `serial` dead and unpack it (its tuple-index entry is already gone).
    fn kill(&mut self, hasher: &TupleHasher, serial: u32) -> (ConnId, TimeWait) {
        let (c, r) = self.at(serial);
        let out = r.unpack(c.base);
        self.discard(hasher, serial);
        out
    }

    /// Mark `serial` dead (its tuple-index entry is already gone); its connection.
    fn discard(&mut self, hasher: &TupleHasher, serial: u32) -> ConnId {
        let rec = self.at_mut(serial);
        rec.b.flags &= !LIVE;
        let id = rec.id();
        self.live -= 1;
        self.trim_front();
        self.maybe_rebuild(hasher);
        id
    }

    /// The earliest deadline.
    fn next_expiry(&self) -> Option<Instant> {
        (self.head != self.tail).then(|| {
            let (c, r) = self.at(self.head);
            c.base + Duration::from_micros(u64::from(r.b.expires))
        })
    }

    /// Take the head record out of the index if its deadline is at or before `now`; its
    /// serial (the record is still to be killed or discarded).
    #[cfg(test)]
    fn unindex_expired(&mut self, hasher: &TupleHasher, now: Instant) -> Option<u32> {
        if self.next_expiry()? > now {
            return None;
        }
        Some(self.unindex_head(hasher))
    }

    /// Take the head record (there is one) out of the index; its serial.
    fn unindex_head(&mut self, hasher: &TupleHasher) -> u32 {
        debug_assert!(self.head != self.tail);
        let serial = self.head;
        let hash = hasher.hash(&A::join(self.at(serial).1));
        if let Ok(e) = self.index.find_entry(hash, |&s| s == serial) {
            e.remove();
        }
        serial
    }

    /// Remove and return the head record if its deadline is at or before `now`.
    #[cfg(test)]
    fn pop_expired(&mut self, hasher: &TupleHasher, now: Instant) -> Option<(ConnId, TimeWait)> {
        let serial = self.unindex_expired(hasher, now)?;
        Some(self.kill(hasher, serial))
    }

    /// Remove the head record, whose deadline the caller found passed; its connection. The
    /// record is not unpacked: the stack's expiry needs only the handle.
    fn expire_head(&mut self, hasher: &TupleHasher) -> ConnId {
        let serial = self.unindex_head(hasher);
        self.discard(hasher, serial)
    }

    /// Advance the head past dead records, releasing emptied chunks.
    fn trim_front(&mut self) {
        while self.head != self.tail && !self.at(self.head).1.live() {
            self.head = self.head.wrapping_add(1);
            if self.head.wrapping_sub(self.first) as usize == CHUNK {
                self.pop_chunk();
            }
        }
        if self.live == 0 {
            // Empty: drop every chunk (one is kept as the spare) so that a drained table
            // holds no records, and start the order afresh.
            while !self.chunks.is_empty() {
                self.pop_chunk();
            }
            self.first = self.tail;
            self.head = self.tail;
            self.last_expires = Instant::ZERO;
        }
    }

    fn pop_chunk(&mut self) {
        if let Some(mut c) = self.chunks.pop_front() {
            self.first = self.first.wrapping_add(CHUNK as u32);
            c.recs.clear();
            if self.spare.is_none() {
                self.spare = Some(c.recs);
            }
        }
    }

    /// When dead slots outnumber live records (many thaws: a peer keeps sending to
    /// TIME-WAIT connections), copy the live ones into fresh chunks and re-index them.
    fn maybe_rebuild(&mut self, hasher: &TupleHasher) {
        let held = self.tail.wrapping_sub(self.head) as usize;
        let dead = held - self.live;
        if dead <= 1024 || dead <= self.live {
            return;
        }
        let live: Vec<(Instant, Rec<A>)> = self
            .chunks
            .iter()
            .flat_map(|c| c.recs.iter().map(move |r| (c.base, *r)))
            .filter(|(_, r)| r.live())
            .collect();
        let last = self.last_expires;
        self.chunks.clear();
        self.index.clear();
        self.live = 0;
        self.first = self.tail;
        self.head = self.tail;
        for (base, r) in live {
            let expires = base + Duration::from_micros(u64::from(r.b.expires));
            let hash = hasher.hash(&A::join(&r));
            self.append(hasher, hash, expires, |off| {
                Some(Rec {
                    b: Body {
                        expires: off,
                        ..r.b
                    },
                    ..r
                })
            });
        }
        self.last_expires = last;
    }

    fn iter(&self) -> impl Iterator<Item = (ConnId, TimeWait)> + '_ {
        self.chunks
            .iter()
            .flat_map(|c| c.recs.iter().map(move |r| (c, r)))
            .filter(|(_, r)| r.live())
            .map(|(c, r)| r.unpack(c.base))
    }
}

/// Both families' rings.
pub(crate) struct TwTable {
    v4: Ring<[u8; 4]>,
    v6: Ring<[u8; 16]>,
    /// `next_expiry`, kept up to date by every change: the stack asks on every
    /// `poll_timeout` (eight times per lifecycle in issue 3's churn), and each answer
    /// otherwise walked to the head record of each ring (~28 instructions).
    next: Option<Instant>,
}

impl TwTable {
    pub fn new() -> Self {
        TwTable {
            v4: Ring::new(),
            v6: Ring::new(),
            next: None,
        }
    }

    /// Recompute `next` after a change.
    fn refresh(&mut self) {
        self.next = self.earliest();
    }

    /// The earliest deadline of the two rings, looked up.
    fn earliest(&self) -> Option<Instant> {
        match (self.v4.next_expiry(), self.v6.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.live + self.v6.live
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep `tw` (connection `id`) as a record; its serial, or None when it cannot be (the
    /// caller keeps the TCB): its deadline is earlier than the last stored one, or a field
    /// does not pack.
    #[cfg(test)]
    pub fn insert(&mut self, hasher: &TupleHasher, id: ConnId, tw: &TimeWait) -> Option<u32> {
        self.insert_hashed(hasher, hasher.hash(&tw.tuple), id, tw)
    }

    /// [`TwTable::insert`] with the tuple's hash already known (the stack hashes it once
    /// for this and for its own index).
    pub fn insert_hashed(
        &mut self,
        hasher: &TupleHasher,
        hash: u64,
        id: ConnId,
        tw: &TimeWait,
    ) -> Option<u32> {
        debug_assert_eq!(hash, hasher.hash(&tw.tuple));
        let serial = match tw.tuple {
            Tuple::V4 { .. } => self.v4.insert(hasher, hash, id, tw),
            Tuple::V6 { .. } => self.v6.insert(hasher, hash, id, tw),
        };
        self.refresh();
        serial
    }

    /// Whether `t` (hashed to `hash`) is held.
    pub fn contains(&self, hash: u64, t: &Tuple) -> bool {
        match t {
            Tuple::V4 { .. } => self.v4.find(hash, t).is_some(),
            Tuple::V6 { .. } => self.v6.find(hash, t).is_some(),
        }
    }

    /// The record of `t` (hashed to `hash`), left in the table: what `connect` asks before
    /// it takes a TIME-WAIT tuple over (LX-12). `ts_offset` and `mss` are 0.
    pub fn peek(&self, hash: u64, t: &Tuple) -> Option<TimeWait> {
        match t {
            Tuple::V4 { .. } => self.v4.peek(hash, t),
            Tuple::V6 { .. } => self.v6.peek(hash, t),
        }
    }

    /// Remove the record of `t` (hashed to `hash`) and return it.
    pub fn take(
        &mut self,
        hasher: &TupleHasher,
        hash: u64,
        t: &Tuple,
    ) -> Option<(ConnId, TimeWait)> {
        let r = match t {
            Tuple::V4 { .. } => self.v4.take(hasher, hash, t),
            Tuple::V6 { .. } => self.v6.take(hasher, hash, t),
        };
        self.refresh();
        r
    }

    /// The earliest 2·MSL deadline held.
    #[inline]
    pub fn next_expiry(&self) -> Option<Instant> {
        debug_assert_eq!(self.next, self.earliest());
        self.next
    }

    /// Remove and return a record whose deadline is at or before `now`, earliest first.
    #[cfg(test)]
    pub fn pop_expired(
        &mut self,
        hasher: &TupleHasher,
        now: Instant,
    ) -> Option<(ConnId, TimeWait)> {
        if self.next? > now {
            return None;
        }
        let r = if self.v4_first() {
            self.v4.pop_expired(hasher, now)
        } else {
            self.v6.pop_expired(hasher, now)
        };
        self.refresh();
        r
    }

    /// [`TwTable::pop_expired`] for the 2·MSL expiry (MUST-13): the connection whose record
    /// ended, without unpacking the record (the expiry needs only the handle; issue 3's
    /// churn expires one record a lifecycle).
    pub fn expire(&mut self, hasher: &TupleHasher, now: Instant) -> Option<ConnId> {
        if self.next? > now {
            return None;
        }
        // `next` is the earlier ring's head deadline, so that head is due.
        let id = if self.v4_first() {
            debug_assert!(self.v4.next_expiry().is_some_and(|t| t <= now));
            self.v4.expire_head(hasher)
        } else {
            debug_assert!(self.v6.next_expiry().is_some_and(|t| t <= now));
            self.v6.expire_head(hasher)
        };
        self.refresh();
        Some(id)
    }

    /// Whether the earliest deadline is an IPv4 record's (with one ring empty, its
    /// deadline need not be looked up).
    fn v4_first(&self) -> bool {
        if self.v6.head == self.v6.tail {
            return self.v4.head != self.v4.tail;
        }
        match (self.v4.next_expiry(), self.v6.next_expiry()) {
            (Some(a), Some(b)) => a <= b,
            (a, _) => a.is_some(),
        }
    }

    /// Every record, IPv4 first, each in deadline order (views; `ts_offset` and `mss` 0).
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, TimeWait)> + '_ {
        self.v4.iter().chain(self.v6.iter())
    }

    /// The record `insert` numbered `serial`, if it still holds connection `id` (views of a
    /// released handle: the stack keeps the serial in the handle's slot).
    pub fn get(&self, serial: u32, id: ConnId) -> Option<TimeWait> {
        self.v4.get(serial, id).or_else(|| self.v6.get(serial, id))
    }

    /// Whether `get` would find the record, without unpacking it (`Stack::state` of a
    /// released handle: issue 3's churn asks once a lifecycle, and only the state, which
    /// is TIME-WAIT).
    pub fn holds(&self, serial: u32, id: ConnId) -> bool {
        self.v4.held(serial, id).is_some() || self.v6.held(serial, id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn hasher() -> TupleHasher {
        TupleHasher::new([7; 16])
    }

    fn tw(port: u16, v6: bool, expires_us: u64) -> TimeWait {
        let (l, r): (SocketAddr, SocketAddr) = if v6 {
            (
                "[2001:db8::1]:80".parse().unwrap(),
                format!("[2001:db8::2]:{port}").parse().unwrap(),
            )
        } else {
            (
                "198.18.0.1:80".parse().unwrap(),
                format!("198.18.0.2:{port}").parse().unwrap(),
            )
        };
        let expires = Instant::from_micros(expires_us);
        TimeWait {
            tuple: Tuple::new(l, r),
            snd_nxt: SeqNum(1000 + u32::from(port)),
            snd_wnd: 0,
            rcv_nxt: SeqNum(5000),
            rcv_adv: SeqNum(5000 + 65535 * 4),
            ts_recent: 77,
            ts_offset: 0,
            last_ack_sent: SeqNum(5000),
            listener: 3,
            ts_recent_at: Instant::from_micros(expires_us.saturating_sub(60_000_000)),
            expires,
            last_challenge: OptInstant::NONE,
            last_oow_ack: OptInstant::some(Instant::from_micros(
                expires_us.saturating_sub(59_500_000),
            )),
            mss: 0,
            snd_wscale: 7,
            rcv_wscale: 2,
            opts: 0b101,
        }
    }

    impl TwTable {
        fn insert_ok(&mut self, h: &TupleHasher, id: ConnId, tw: &TimeWait) -> bool {
            self.insert(h, id, tw).is_some()
        }
    }

    fn id(i: u32) -> ConnId {
        ConnId {
            index: i,
            generation: i * 3,
        }
    }

    /// `expire` ends the same records, in the same order, as `pop_expired`, and leaves
    /// the table the same.
    #[test]
    fn expire_is_pop_expired_without_the_record() {
        let h = hasher();
        let (mut a, mut b) = (TwTable::new(), TwTable::new());
        for p in 1..300u16 {
            let rec = tw(p, p % 3 == 0, 1_000 + 10 * u64::from(p));
            assert!(a.insert_ok(&h, id(u32::from(p)), &rec));
            assert!(b.insert_ok(&h, id(u32::from(p)), &rec));
        }
        for step in [500, 1_500, 2_000, 4_000] {
            let now = Instant::from_micros(step);
            loop {
                let x = a.pop_expired(&h, now).map(|(c, _)| c);
                assert_eq!(x, b.expire(&h, now));
                if x.is_none() {
                    break;
                }
            }
            assert_eq!((a.len(), a.next_expiry()), (b.len(), b.next_expiry()));
        }
        assert!(b.is_empty());
    }

    /// A tuple already held is refused (never shadowed), whatever its deadline, and the
    /// refusal changes nothing; the table then takes new tuples as before.
    #[test]
    fn a_held_tuple_is_refused_not_shadowed() {
        let h = hasher();
        let mut t = TwTable::new();
        for p in 1..=200u16 {
            assert!(t.insert_ok(&h, id(u32::from(p)), &tw(p, p % 2 == 0, 1_000)));
        }
        for p in [1u16, 2, 77, 200] {
            let again = tw(p, p % 2 == 0, 5_000);
            assert!(!t.insert_ok(&h, id(9_000), &again), "port {p}");
            let (c, rec) = t.take(&h, h.hash(&again.tuple), &again.tuple).unwrap();
            assert_eq!(
                (c, rec.expires),
                (id(u32::from(p)), Instant::from_micros(1_000))
            );
            assert!(t.insert_ok(&h, c, &again), "port {p}, once taken");
        }
        assert_eq!(t.len(), 200);
        assert!(t.insert_ok(&h, id(201), &tw(201, false, 6_000)));
    }

    #[test]
    fn issue_3_record_is_44_bytes_for_ipv4() {
        assert_eq!(core::mem::size_of::<Rec<[u8; 4]>>(), 44);
        assert_eq!(core::mem::size_of::<Rec<[u8; 16]>>(), 68);
    }

    #[test]
    fn must_13_round_trip_keeps_what_time_wait_needs() {
        let h = hasher();
        let mut t = TwTable::new();
        for v6 in [false, true] {
            let a = tw(4000, v6, 61_234_567);
            assert!(t.insert_ok(&h, id(9), &a));
            let hash = h.hash(&a.tuple);
            assert!(t.contains(hash, &a.tuple));
            let (c, b) = t.take(&h, hash, &a.tuple).expect("held");
            assert_eq!(c, id(9));
            assert_eq!(
                (b.tuple, b.snd_nxt, b.rcv_nxt, b.rcv_adv),
                (a.tuple, a.snd_nxt, a.rcv_nxt, a.rcv_adv)
            );
            assert_eq!(
                (b.expires, b.ts_recent, b.listener, b.opts),
                (a.expires, a.ts_recent, 0, a.opts)
            );
            assert_eq!((b.snd_wscale, b.rcv_wscale), (7, 2));
            assert_eq!(
                b.ts_recent_at, a.ts_recent_at,
                "whole seconds survive exactly"
            );
            // The merged rate-limit stamp is the later of the two, in 16 ms steps rounded
            // toward the deadline.
            let stamp = b.last_oow_ack.get().unwrap();
            let real = a.last_oow_ack.get().unwrap();
            assert!(stamp >= real && stamp.saturating_since(real).as_millis() < 16);
            assert_eq!(b.last_challenge, b.last_oow_ack);
            assert!(!t.contains(hash, &a.tuple));
            assert!(t.is_empty());
        }
    }

    /// LX-12 compares TS.Recent's age with a delay of a second: the record keeps it to
    /// 62.5 ms, rounded so that the rebuilt stamp is never earlier than the real one.
    #[test]
    fn lx_12_record_keeps_ts_recent_age_to_a_sixteenth_of_a_second() {
        let h = hasher();
        let mut t = TwTable::new();
        for (i, age_us) in [0u64, 1, 62_499, 62_500, 1_000_000, 1_062_501, 59_999_999]
            .into_iter()
            .enumerate()
        {
            let mut a = tw(100 + i as u16, i % 2 == 1, 70_000_000);
            a.ts_recent_at = Instant::from_micros(70_000_000 - age_us);
            assert!(t.insert_ok(&h, id(i as u32), &a));
            let hash = h.hash(&a.tuple);
            let b = t.peek(hash, &a.tuple).expect("held");
            assert!(t.contains(hash, &a.tuple), "peek leaves the record");
            let kept = 70_000_000 - b.ts_recent_at.as_micros();
            assert!(
                kept <= age_us && age_us - kept < 62_500,
                "{age_us} -> {kept}"
            );
            assert_eq!(kept % 62_500, 0);
            let (_, c) = t.take(&h, hash, &a.tuple).unwrap();
            assert_eq!(
                (c.ts_recent_at, c.snd_nxt, c.opts),
                (b.ts_recent_at, a.snd_nxt, a.opts)
            );
        }
    }

    #[test]
    fn must_13_records_expire_in_deadline_order_across_chunks() {
        let h = hasher();
        let mut t = TwTable::new();
        let n = 3 * CHUNK as u16 + 5;
        for p in 0..n {
            assert!(t.insert_ok(
                &h,
                id(u32::from(p)),
                &tw(1000 + p, p % 3 == 0, 1_000 + u64::from(p) * 10)
            ));
        }
        assert_eq!(t.len(), usize::from(n));
        assert_eq!(t.next_expiry(), Some(Instant::from_micros(1_000)));
        // An earlier deadline than the last is refused (the caller keeps the TCB).
        assert!(!t.insert_ok(&h, id(99_999), &tw(60_000, false, 500)));
        let mut got = Vec::new();
        while let Some((c, tw)) = t.pop_expired(&h, Instant::from_micros(1_000 + 200 * 10)) {
            got.push((c.index, tw.expires.as_micros()));
        }
        assert_eq!(got.len(), 201);
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(t.len(), usize::from(n) - 201);
        while t.pop_expired(&h, Instant::from_secs(1)).is_some() {}
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }

    #[test]
    fn thawing_many_records_keeps_memory_bounded() {
        // A peer that keeps poking TIME-WAIT connections makes each one thaw and refreeze
        // with a later deadline: dead slots must not pile up without bound.
        let h = hasher();
        let mut t = TwTable::new();
        for p in 0..100u16 {
            assert!(t.insert_ok(&h, id(u32::from(p)), &tw(p + 1, false, 1_000)));
        }
        let mut now = 1_000;
        for round in 0..200u64 {
            for p in 0..100u16 {
                now += 1;
                let key = tw(p + 1, false, 0).tuple;
                let (c, mut rec) = t.take(&h, h.hash(&key), &key).expect("held");
                rec.expires = Instant::from_micros(now);
                assert!(t.insert_ok(&h, c, &rec), "round {round}");
            }
            let held = t.v4.tail.wrapping_sub(t.v4.head) as usize;
            assert!(held <= 100 + 1024 + 1, "{held} slots for 100 records");
            assert_eq!(t.len(), 100);
        }
        // Every record is still found.
        for p in 0..100u16 {
            let key = tw(p + 1, false, 0).tuple;
            assert!(t.contains(h.hash(&key), &key));
        }
    }

    #[test]
    fn a_serial_finds_its_own_record_only() {
        let h = hasher();
        let mut t = TwTable::new();
        let a = tw(1, false, 1_000);
        let b = tw(2, false, 2_000);
        let sa = t.insert(&h, id(1), &a).unwrap();
        let sb = t.insert(&h, id(2), &b).unwrap();
        assert_eq!(t.get(sa, id(1)).map(|r| r.tuple), Some(a.tuple));
        assert_eq!(t.get(sb, id(2)).map(|r| r.tuple), Some(b.tuple));
        assert!(t.get(sa, id(2)).is_none(), "another handle's serial");
        assert!(t.holds(sa, id(1)) && !t.holds(sa, id(2)) && !t.holds(sa + 1000, id(1)));
        assert!(t.get(sa + 1000, id(1)).is_none(), "out of range");
        t.take(&h, h.hash(&a.tuple), &a.tuple).unwrap();
        assert!(t.get(sa, id(1)).is_none(), "taken");
        assert!(!t.holds(sa, id(1)), "taken");
        assert!(t.get(sb, id(2)).is_some() && t.holds(sb, id(2)));
    }

    #[test]
    fn a_far_deadline_starts_a_new_chunk() {
        let h = hasher();
        let mut t = TwTable::new();
        assert!(t.insert_ok(&h, id(1), &tw(1, false, 1_000)));
        // Beyond u32 µs of the chunk base: padded, new chunk, still exact.
        let far = 1_000 + u64::from(u32::MAX) + 5;
        assert!(t.insert_ok(&h, id(2), &tw(2, false, far)));
        let (_, a) = t.pop_expired(&h, Instant::from_micros(far)).unwrap();
        let (_, b) = t.pop_expired(&h, Instant::from_micros(far)).unwrap();
        assert_eq!((a.expires.as_micros(), b.expires.as_micros()), (1_000, far));
        assert!(t.is_empty());
    }
}
