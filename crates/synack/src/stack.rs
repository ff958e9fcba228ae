//! The stack: demultiplexes segments by exact 4-tuple (a hash map, O(1)), then to listeners
//! (MUST-42); owns every connection, listener and timer; answers segments nobody owns with
//! RST (RST-1); exposes the sans-IO contract of DESIGN.md.
//!
//! Timers live in a binary heap with lazy deletion: each TCB remembers the earliest deadline
//! it has in the heap, and a new entry is pushed only when a deadline moves earlier. An entry
//! that fires early finds nothing due and reschedules, so the heap holds about one entry per
//! connection whatever the ACK rate.

use crate::cc::CongestionControl;
use crate::config::{Config, KeepAlive, TwReuse};
use crate::counters::{Counters, DropReason};
use crate::error::Error;
use crate::event::{Cause, CloseReason, ConnId, Event, EventQueue, ListenerId};
use crate::isn::IsnGenerator;
use crate::seq::SeqNum;
use crate::state::State;
use crate::syncookie::{self, SynCookies};
use crate::tcb::ring_pool::{RingPool, DEFAULT_POOL_RINGS};
use crate::tcb::{time_wait_expired, CtlQueue, CtlSegment, Ctx, FreshTcb, Tcb, TimeWait};
use crate::time::{Duration, Instant, OptInstant};
use crate::tuple::{AddrHashBuilder, Tuple, TupleHasher};
use crate::tw_table::TwTable;
use crate::wire::{
    self, Dscp, IpOut, Packet, ParseError, TcpFlags, TcpHeader, TcpOptions, Timestamps,
};
use hashbrown::HashTable;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What STATUS reports about one connection (RFC 9293 §3.10.6, UI-6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: ConnId,
    pub state: State,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Listener this connection came from (passive open), if any.
    pub listener: Option<ListenerId>,
    /// The application has closed its handle (orphan).
    pub orphan: bool,
    pub snd_una: u32,
    pub snd_nxt: u32,
    /// Peer's window, scaled.
    pub snd_wnd: u32,
    pub rcv_nxt: u32,
    pub rcv_wnd: u32,
    /// Bytes written by the application and not yet acknowledged.
    pub send_queued: usize,
    /// Bytes received and not yet read by the application.
    pub recv_queued: usize,
    /// Effective send MSS.
    pub mss: u16,
    pub rto: Duration,
    pub srtt: Option<Duration>,
    pub cwnd: u32,
    /// Slow-start threshold (`u32::MAX` until the first loss).
    pub ssthresh: u32,
    /// In loss recovery (RFC 6675 with SACK, or NewReno fast recovery).
    pub in_recovery: bool,
    /// Why it ended, once it has.
    pub close_reason: Option<CloseReason>,
    /// The DSCP of the segments it sends (MUST-48).
    pub dscp: Dscp,
    /// The DSCP of the last segment it received (MAY-9), if any.
    pub dscp_received: Option<Dscp>,
    /// The receive buffer's size now, bytes: `Config::recv_buffer` grown by autotuning, or
    /// as pinned (LX-11; `ss -m` rb).
    pub recv_buffer: usize,
    /// The send buffer's size now, bytes: grown with the congestion window, or as pinned
    /// (LX-11; `ss -m` tb).
    pub send_buffer: usize,
    /// The application pinned the receive buffer (`Stack::set_recv_buffer`): no autotuning.
    pub recv_buffer_pinned: bool,
    /// The application pinned the send buffer (`Stack::set_send_buffer`).
    pub send_buffer_pinned: bool,
    /// The receiver's RTT estimate that paces receive autotuning (`ss -i` rcv_rtt), once
    /// it has one.
    pub rcv_rtt: Option<Duration>,
    /// Bytes of buffer storage (both rings) allocated now: 0 for an idle connection, whose
    /// buffers are released when they drain, however large autotuning made their bounds.
    pub buffers_allocated: usize,
}

/// A listener as `ss -ltn` shows it: its queues against its backlog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerInfo {
    pub id: ListenerId,
    pub local: SocketAddr,
    /// Accept-queue bound (after the `somaxconn` cap); `ss -l` shows it as Send-Q.
    pub backlog: usize,
    /// ESTABLISHED connections not yet accepted; `ss -l` shows it as Recv-Q.
    pub accept_queue: usize,
    /// Half-open (SYN-RECEIVED) entries.
    pub syn_queue: usize,
    /// The DSCP of its SYN,ACKs and accepted connections (`Stack::set_listener_dscp`).
    pub dscp: Dscp,
}

/// What a handle names (`Stack::named`).
enum Named<'a> {
    Tcb(&'a Tcb),
    Record(TimeWait),
}

/// What a TIME-WAIT incarnation hands the connection that takes its 4-tuple over (LX-12).
#[derive(Clone, Copy)]
struct Reuse {
    /// The old SND.NXT: the new ISS goes above it.
    snd_nxt: SeqNum,
    /// The old TS.Recent and when it arrived, for PAWS (RFC 7323 §5).
    ts_recent: u32,
    ts_recent_at: Instant,
}

/// What `connect` finds at a 4-tuple (`Stack::tuple_use`).
enum TupleUse {
    Free,
    /// In TIME-WAIT, and `Config::tw_reuse` lets it be taken over now (LX-12).
    Reusable(Reuse),
    Taken,
}

/// One entry of the connection table: 16 bytes (issue 3's memory budget).
struct Slot {
    tcb: Option<Box<Tcb>>,
    /// Generation (low 30 bits: handles carry it, so a stale handle is refused) and two
    /// flags: in the transmit queue, and in the free list.
    meta: u32,
    /// While free after its connection became a TIME-WAIT record: that record's serial, so
    /// that STATUS of the released handle finds it in O(1) (`TwTable::get` checks it still
    /// belongs to the handle).
    tw_serial: u32,
}

const GEN_MASK: u32 = (1 << 30) - 1;
/// `Stack::last_conn` when it names no slot.
const NO_CONN: u32 = u32::MAX;
const IN_TX: u32 = 1 << 30;
/// In `Stack::free`. The free list is lazy: a slot restored in place (`Stack::restore`)
/// stays listed and `alloc_slot` skips it while it is occupied; the flag keeps a slot from
/// being listed twice.
const LISTED: u32 = 1 << 31;

impl Slot {
    fn generation(&self) -> u32 {
        self.meta & GEN_MASK
    }
    fn set_generation(&mut self, g: u32) {
        self.meta = (self.meta & !GEN_MASK) | (g & GEN_MASK);
    }
    fn flag(&self, f: u32) -> bool {
        self.meta & f != 0
    }
    fn set_flag(&mut self, f: u32, on: bool) {
        if on {
            self.meta |= f;
        } else {
            self.meta &= !f;
        }
    }
}

/// Freed TCB boxes kept for the next connections: issue 3's churn opens and frees one per
/// side per lifecycle, and reusing the box saves its allocation and free. Bounded, so the
/// memory held for connections that no longer exist is a few KiB whatever the table size
/// (the per-idle-connection and per-TIME-WAIT budgets of tests/memory.rs stay as they were).
const SPARE_TCBS: usize = 8;

struct Listener {
    id: ListenerId,
    local: SocketAddr,
    /// Accept-queue bound. Like Linux, the queue is full when it holds more than this.
    backlog: usize,
    /// Half-open (SYN-RECEIVED) entries of this listener.
    syn_queue: usize,
    accept_queue: VecDeque<ConnId>,
    /// The DSCP of its SYN,ACKs and of the connections it accepts (MUST-48): the stack's
    /// default until `set_listener_dscp`, as IP_TOS on a Linux listening socket.
    dscp: Dscp,
}

/// Bits of a demultiplexing index entry that hold the slot number; the rest hold a tag of
/// the tuple's hash ([`index_entry`]). 2^27 slots: at ~500 bytes a connection that is 64 GiB
/// of TCBs, so `Config::max_connections` is capped there ([`Stack::max_connections`]).
const SLOT_BITS: u32 = 27;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// Most connections a stack holds, whatever `Config::max_connections` says.
const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// The index entry of slot `idx` holding a tuple hashed to `hash`: the slot number and, in
/// the 5 bits above it, bits 32..37 of the hash, which are neither the table's bucket bits
/// (the low ones) nor its 7-bit control tag (the top ones). `find_conn` compares the tag
/// before it reads the slot's TCB: a lookup of a tuple that has no connection (every SYN at
/// a server, every port a client tries) would otherwise follow each control tag that
/// matched by chance (about one lookup in eleven at 7/8 load) through the slot array into a
/// TCB, two dependent cache misses once many connections are open (perf put the index
/// lookup at 5.4% of issue 3's churn with 100k idle connections, under 1.5% without, most
/// of it on those two loads); with the tag, one in 32 of those is followed. The entry stays
/// 4 bytes: a wider tag beside it cost ~5-9 bytes per connection, too close to issue 3's
/// 512-byte budget (510 B at 20k connections).
fn index_entry(idx: u32, hash: u64) -> u32 {
    debug_assert!(idx <= SLOT_MASK);
    idx | index_tag(hash)
}

fn index_tag(hash: u64) -> u32 {
    ((hash >> 32) as u32) << SLOT_BITS
}

/// A user-space TCP stack with no I/O of its own.
pub struct Stack {
    config: Config,
    /// What every new TCB takes from `config`, worked out once (`Tcb::reinit`).
    fresh: FreshTcb,
    isn: IsnGenerator,
    addrs: Vec<IpAddr>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots holding a TCB.
    live: usize,
    /// Orphaned TIME-WAIT connections kept as packed records, not TCBs (issue 3, MUST-13).
    tw: TwTable,
    /// Demultiplexing index: slot numbers hashed by 4-tuple, each with a few bits of its
    /// hash ([`index_entry`]), compared against the TCB's own tuple (no second copy of the
    /// key: issue 3's memory budget). Every entry's slot holds a TCB.
    conns: HashTable<u32>,
    /// The slot `conns` last gave `handle_packet` ([`NO_CONN`] if none): a bulk transfer,
    /// or a request and its answer, sends a run of packets to one connection, and checking
    /// this slot's tuple costs less than hashing and probing. Forgotten whenever `conns`
    /// changes or the slot is emptied, so a hit is always what `find_conn` would answer;
    /// a connection just indexed takes it (`index_conn`), since the next packet is its own
    /// (the SYN,ACK a client waits for, the ACK that completes a server's handshake).
    last_conn: u32,
    hasher: TupleHasher,
    listeners: Vec<Option<Listener>>,
    listen_map: HashMap<SocketAddr, u32, AddrHashBuilder>,
    /// The `listen_any` listener, if one exists: it owns every destination (tun2socks).
    any_listener: Option<u32>,
    events: EventQueue,
    counters: Counters,
    ctl: CtlQueue,
    /// Rings of the first size kept for the next buffer (ring_pool.rs).
    rings: RingPool,
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// TCBs whose `scheduled` is set: each has exactly one heap entry that can fire
    /// (a TCB restored from a TIME-WAIT record counts without one, see `restore`);
    /// every other heap entry is stale.
    armed: usize,
    tx: VecDeque<u32>,
    port_counter: u32,
    /// When a SYN cookie was last sent (SyncookiesFailed counts only around then).
    last_cookie: Option<Instant>,
    /// Up to [`SPARE_TCBS`] boxes of freed TCBs (see `boxed`). Boxes, not TCBs: the point
    /// is to hand the same allocation to the slot table again.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Tcb>>,
    /// The last RFC 6056 port offset computed: (local IP, remote, offset). The offset
    /// depends on the destination only, and a client usually opens many connections to
    /// one server, so this spares a keyed hash per connect (issue 3's churn). The value is
    /// the one `IsnGenerator::port_offset` gives; only the cost changes.
    port_offset_memo: Option<(IpAddr, SocketAddr, u32)>,
}

/// The timer-heap entry `tcb` needs, if any: its next deadline when earlier than the one it
/// already has there (lazy deletion, see the module header), recorded as scheduled. The
/// flag says whether it had none that could fire (it becomes `Stack::armed`).
/// Inlined: it runs after every segment sent and received, and a call cost about as much
/// as its work.
#[inline(always)]
fn due_entry(tcb: &mut Tcb) -> Option<(Instant, bool)> {
    let d = tcb.next_deadline()?;
    let had = tcb.scheduled.get();
    if had.is_some_and(|s| d >= s) {
        return None;
    }
    tcb.scheduled = OptInstant::some(d);
    Some((d, had.is_none()))
}

/// Stale timer-heap entries tolerated before any sweep (see `Stack::prune_timers`).
const PRUNE_SLACK: usize = 64;

/// LX-12: the ISS of a connection that takes over a TIME-WAIT whose SND.NXT was `snd_nxt`:
/// a window's worth (65535) + 2 above it, mod 2^32, and never 0 (Linux tcp_twsk_unique).
fn reuse_iss(snd_nxt: SeqNum) -> SeqNum {
    match snd_nxt + 65535 + 2 {
        SeqNum(0) => SeqNum(1),
        iss => iss,
    }
}

fn valid_remote(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

impl Stack {
    pub fn new(config: Config) -> Stack {
        let hasher = TupleHasher::new(config.secret);
        Stack {
            isn: IsnGenerator::new(config.secret),
            events: EventQueue::new(config.event_queue_limit),
            fresh: FreshTcb::new(&config),
            config,
            addrs: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            tw: TwTable::new(),
            conns: HashTable::new(),
            last_conn: NO_CONN,
            listen_map: HashMap::with_hasher(hasher.addr_hasher()),
            hasher,
            listeners: Vec::new(),
            any_listener: None,
            counters: Counters::default(),
            ctl: CtlQueue::default(),
            rings: RingPool::new(DEFAULT_POOL_RINGS),
            timers: BinaryHeap::new(),
            armed: 0,
            tx: VecDeque::new(),
            port_counter: 0,
            last_cookie: None,
            spare: Vec::new(),
            port_offset_memo: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Own a local address: segments to it are ours, and connects may send from it.
    pub fn add_address(&mut self, addr: IpAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// Our addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addrs
    }

    fn is_ours(&self, ip: IpAddr) -> bool {
        self.addrs.contains(&ip)
    }

    // ----- listeners ---------------------------------------------------------------------

    /// Passive OPEN: listen on `local` (an unspecified IP accepts any of our addresses,
    /// MUST-43) with an accept queue of `backlog` (capped by `Config::somaxconn`).
    /// A second listener on the same address fails and leaves the first alone (MUST-41).
    pub fn listen(&mut self, local: SocketAddr, backlog: usize) -> Result<ListenerId, Error> {
        if !local.ip().is_unspecified() && !self.is_ours(local.ip()) {
            return Err(Error::InvalidAddress);
        }
        if local.port() == 0 {
            return Err(Error::InvalidAddress);
        }
        if self.listen_map.contains_key(&local) {
            return Err(Error::AddrInUse);
        }
        let id = self.add_listener(local, backlog);
        self.listen_map.insert(local, id.0);
        Ok(id)
    }

    /// A new listener in the first free listener slot.
    fn add_listener(&mut self, local: SocketAddr, backlog: usize) -> ListenerId {
        let idx = match self.listeners.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.listeners.push(None);
                self.listeners.len() - 1
            }
        };
        let id = ListenerId(idx as u32);
        self.listeners[idx] = Some(Listener {
            id,
            local,
            backlog: backlog.min(self.config.somaxconn),
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            dscp: self.config.dscp,
        });
        id
    }

    /// Passive OPEN for every destination (tun2socks-style proxies): while this listener
    /// exists every packet is ours whatever its destination address, and a SYN that no
    /// specific listener takes (MUST-42: exact address first, then the wildcard) opens a
    /// connection whose local address is the SYN's destination. At most one exists.
    pub fn listen_any(&mut self, backlog: usize) -> Result<ListenerId, Error> {
        if self.any_listener.is_some() {
            return Err(Error::AddrInUse);
        }
        // Port 0 never enters `listen_map` (listen refuses it), so this local address is a
        // marker that close_listener's map removal cannot confuse with a real listener.
        let marker = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
        let id = self.add_listener(marker, backlog);
        self.any_listener = Some(id.0);
        Ok(id)
    }

    /// Stop listening. Half-open and unaccepted connections are reset.
    pub fn close_listener(&mut self, now: Instant, l: ListenerId) -> Result<(), Error> {
        let listener = self
            .listeners
            .get_mut(l.0 as usize)
            .and_then(Option::take)
            .ok_or(Error::InvalidHandle)?;
        if self.any_listener == Some(l.0) {
            self.any_listener = None;
        } else {
            self.listen_map.remove(&listener.local);
        }
        let orphans: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let t = s.tcb.as_ref()?;
                (t.listener == Some(l) && !t.accepted).then_some(i as u32)
            })
            .collect();
        for idx in orphans {
            self.with_tcb(idx, now, |t, ctx| {
                let _ = t.abort(ctx);
            });
        }
        Ok(())
    }

    /// Take the next ESTABLISHED connection from the accept queue.
    pub fn accept(&mut self, l: ListenerId) -> Option<ConnId> {
        loop {
            let id = self
                .listeners
                .get_mut(l.0 as usize)?
                .as_mut()?
                .accept_queue
                .pop_front()?;
            let Some(tcb) = self.tcb_mut(id) else {
                continue;
            };
            tcb.accepted = true;
            let id = tcb.id;
            let readable = tcb.recv_buf.readable() > 0 || tcb.fin_received;
            if readable {
                tcb.flags.set_readable_told(true);
                self.events.push(Event::Readable { conn: id });
            }
            return Some(id);
        }
    }

    /// Number of connections waiting in a listener's accept queue.
    pub fn accept_queue_len(&self, l: ListenerId) -> usize {
        self.listener(l).map_or(0, |l| l.accept_queue.len())
    }

    /// Number of half-open (SYN-RECEIVED) entries of a listener.
    pub fn syn_queue_len(&self, l: ListenerId) -> usize {
        self.listener(l).map_or(0, |l| l.syn_queue)
    }

    /// Every open listener, in the order they were created (slots are reused, so a new
    /// listener may take a closed one's place), for an `ss -l`-like table. Read-only.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.listeners
            .iter()
            .flatten()
            .map(|l| ListenerInfo {
                id: l.id,
                local: l.local,
                backlog: l.backlog,
                accept_queue: l.accept_queue.len(),
                syn_queue: l.syn_queue,
                dscp: l.dscp,
            })
            .collect()
    }

    fn listener(&self, l: ListenerId) -> Option<&Listener> {
        self.listeners.get(l.0 as usize)?.as_ref()
    }

    fn find_listener(&self, local: SocketAddr) -> Option<u32> {
        self.listen_map
            .get(&local)
            .or_else(|| {
                self.listen_map
                    .get(&SocketAddr::new(unspecified_like(local.ip()), local.port()))
            })
            .copied()
            .or(self.any_listener)
    }

    // ----- active open and user calls ----------------------------------------------------

    /// Active OPEN to `remote`, from `local` (or, MUST-44, an address of ours of the same
    /// family and an ephemeral port chosen per RFC 6056, ISN-2).
    pub fn connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
    ) -> Result<ConnId, Error> {
        // MUST-46: no broadcast, multicast or unspecified remote.
        if !valid_remote(remote.ip()) || remote.port() == 0 {
            return Err(Error::InvalidAddress);
        }
        let local_ip = match local {
            Some(l) if !l.ip().is_unspecified() => {
                if !self.is_ours(l.ip()) {
                    return Err(Error::InvalidAddress);
                }
                l.ip()
            }
            _ => *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(Error::NoRoute)?,
        };
        if local_ip.is_ipv4() != remote.is_ipv4() {
            return Err(Error::InvalidAddress);
        }
        // An ephemeral port comes already checked to be free with this remote (or in a
        // TIME-WAIT that may be taken over, LX-12), and with its tuple's hash.
        let (port, hash, reuse) = match local.map(|l| l.port()).filter(|&p| p != 0) {
            Some(p) => {
                let tuple = Tuple::new(SocketAddr::new(local_ip, p), remote);
                let hash = self.hasher.hash(&tuple);
                match self.tuple_use(now, hash, &tuple) {
                    TupleUse::Free => (p, hash, None),
                    TupleUse::Reusable(r) => (p, hash, Some(r)),
                    TupleUse::Taken => return Err(Error::AddrInUse),
                }
            }
            None => self.ephemeral_port(now, local_ip, remote)?,
        };
        let local = SocketAddr::new(local_ip, port);
        // A TIME-WAIT taken over makes room for its successor; checked before it goes, so
        // that a refused connect leaves it in place.
        if self.held() >= self.max_connections() + usize::from(reuse.is_some()) {
            return Err(Error::TooManyConnections);
        }
        let iss = reuse.map(|r| self.take_over(now, hash, &Tuple::new(local, remote), r));
        let idx = self.insert_tcb(now, local, remote, hash, None, iss.map(|(iss, _)| iss));
        let id = self.with_tcb(idx, now, |t, ctx| {
            if let Some((_, r)) = iss {
                // RFC 7323 §5, RFC 6191: TS.Recent and its age carry over, so that PAWS
                // knows the old incarnation's last timestamp (Linux tcp_twsk_unique).
                t.ts_recent = r.ts_recent;
                t.ts_recent_at = r.ts_recent_at;
            }
            t.set_state(ctx, State::SynSent, Cause::Connect);
            t.id
        });
        id.ok_or(Error::InvalidHandle)
    }

    /// LX-12: what `connect` finds at `tuple` (hashed to `hash`): free, taken, or in a
    /// TIME-WAIT it may take over now. Linux's tcp_twsk_unique: `Config::tw_reuse` allows
    /// the addresses, the old connection used timestamps, and its last timestamp arrived
    /// more than `Config::tw_reuse_delay` ago (the peer's timestamp clock, at 1 Hz or
    /// faster, RFC 7323 §5.4, has ticked since, so its next TSval is above every one of the
    /// old incarnation and PAWS keeps those out). Without timestamps nothing tells old
    /// segments from new ones, and the tuple stays taken for 2·MSL (MUST-13). The delay
    /// counts from TS.Recent's arrival, strictly, as Linux 6.13's tcp_tw_reuse_delay does
    /// in ms (older kernels: a fixed second in whole seconds; a later one counts from the
    /// entry into TIME-WAIT, for an active closer normally the same moment: the peer's FIN).
    ///
    /// Linux lets a socket bound to an explicit port take over a TIME-WAIT with timestamps
    /// whatever tcp_tw_reuse and the delay say (a known way around the delay); here an
    /// explicit port follows the same rule as an ephemeral one.
    fn tuple_use(&self, now: Instant, hash: u64, tuple: &Tuple) -> TupleUse {
        if let Some(idx) = self.find_conn(hash, tuple) {
            return match self.slots[idx as usize].tcb.as_deref() {
                Some(t) if t.state == State::TimeWait && self.reuse_allowed_for(tuple) => {
                    self.reusable(now, t.ts_ok, t.snd_nxt, t.ts_recent, t.ts_recent_at)
                }
                _ => TupleUse::Taken,
            };
        }
        if self.tw.is_empty() {
            return TupleUse::Free;
        }
        // Where reuse cannot apply (every non-loopback tuple by default, issue 3's churn
        // among them), the record is only looked for, not unpacked.
        if !self.reuse_allowed_for(tuple) {
            return if self.tw.contains(hash, tuple) {
                TupleUse::Taken
            } else {
                TupleUse::Free
            };
        }
        match self.tw.peek(hash, tuple) {
            Some(r) => self.reusable(now, r.opts & 2 != 0, r.snd_nxt, r.ts_recent, r.ts_recent_at),
            None => TupleUse::Free,
        }
    }

    /// `tuple_use` for a TIME-WAIT incarnation with these fields whose addresses
    /// `Config::tw_reuse` allows.
    fn reusable(
        &self,
        now: Instant,
        ts_ok: bool,
        snd_nxt: SeqNum,
        ts_recent: u32,
        ts_recent_at: Instant,
    ) -> TupleUse {
        if ts_ok && now.saturating_since(ts_recent_at) > self.config.tw_reuse_delay {
            TupleUse::Reusable(Reuse {
                snd_nxt,
                ts_recent,
                ts_recent_at,
            })
        } else {
            TupleUse::Taken
        }
    }

    /// Whether `Config::tw_reuse` allows taking over `tuple`'s TIME-WAIT at all (LX-12).
    /// Loopback, as Linux reads it from the addresses (tcp_tw_reuse = 2): either end a
    /// loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104); and, for a stack with no
    /// `lo` device, a connection from an address to itself.
    fn reuse_allowed_for(&self, tuple: &Tuple) -> bool {
        fn loopback(ip: IpAddr) -> bool {
            match ip {
                IpAddr::V4(a) => a.is_loopback(),
                IpAddr::V6(a) => {
                    a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                }
            }
        }
        match self.config.tw_reuse {
            TwReuse::Off => false,
            TwReuse::On => true,
            TwReuse::Loopback => {
                let (l, r) = (tuple.local().ip(), tuple.remote().ip());
                loopback(l) || loopback(r) || l == r
            }
        }
    }

    /// LX-12: end the TIME-WAIT incarnation of `tuple` (hashed to `hash`), record or TCB,
    /// for a new connection that takes the tuple over, and count it (TcpExt TWRecycled).
    /// Returns the new connection's ISS, SND.NXT + 2^16 + 1 of the old one (never 0, as in
    /// Linux), above every sequence number the old incarnation used: RFC 6191 §2's
    /// condition for a new incarnation, so that any old duplicate that still reaches the
    /// peer is a retransmission below its window, not new data. And `r` again.
    fn take_over(&mut self, now: Instant, hash: u64, tuple: &Tuple, r: Reuse) -> (SeqNum, Reuse) {
        if let Some(idx) = self.find_conn(hash, tuple) {
            // A TCB in TIME-WAIT (its handle held, or it could not be packed): CLOSED now.
            // A held handle sees the end, as at 2·MSL, with its own cause.
            self.with_tcb(idx, now, |t, ctx| {
                t.terminate(ctx, CloseReason::Normal, Cause::Reused);
            });
        } else if let Some((id, _)) = self.tw.take(&self.hasher, hash, tuple) {
            self.counters.curr_time_wait = self.counters.curr_time_wait.saturating_sub(1);
            self.events.push(Event::StateChanged {
                conn: id,
                from: State::TimeWait,
                to: State::Closed,
                cause: Cause::Reused,
            });
            self.events.push(Event::Closed {
                conn: id,
                reason: CloseReason::Normal,
            });
            self.counters.events_dropped = self.events.dropped;
        }
        self.counters.time_wait_reused += 1;
        (reuse_iss(r.snd_nxt), r)
    }

    /// RFC 6056 algorithm 3: a keyed hash picks where to start, a counter moves on. A port
    /// that would connect to itself is skipped (S-10). As in Linux (__inet_hash_connect),
    /// each candidate is tried in turn and the first whose tuple is free or in a TIME-WAIT
    /// that may be taken over (LX-12) is taken. The port, its tuple's hash, and what a
    /// TIME-WAIT taken over hands on.
    fn ephemeral_port(
        &mut self,
        now: Instant,
        local_ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<(u16, u64, Option<Reuse>), Error> {
        let (lo, hi) = self.config.ephemeral_ports;
        let (lo, hi) = (lo.min(hi) as u32, lo.max(hi) as u32);
        let n = hi - lo + 1;
        let offset = self.port_offset(local_ip, remote);
        for i in 0..n {
            let port = (lo + offset.wrapping_add(self.port_counter).wrapping_add(i) % n) as u16;
            let local = SocketAddr::new(local_ip, port);
            if local == remote {
                continue;
            }
            let tuple = Tuple::new(local, remote);
            let hash = self.hasher.hash(&tuple);
            let reuse = match self.tuple_use(now, hash, &tuple) {
                TupleUse::Free => None,
                TupleUse::Reusable(r) => Some(r),
                TupleUse::Taken => continue,
            };
            self.port_counter = self.port_counter.wrapping_add(i + 1);
            return Ok((port, hash, reuse));
        }
        Err(Error::NoPortsAvailable)
    }

    /// `IsnGenerator::port_offset`, remembered for the last destination.
    fn port_offset(&mut self, local_ip: IpAddr, remote: SocketAddr) -> u32 {
        match self.port_offset_memo {
            Some((l, r, offset)) if l == local_ip && r == remote => offset,
            _ => {
                let offset = self.isn.port_offset(local_ip, remote);
                self.port_offset_memo = Some((local_ip, remote, offset));
                offset
            }
        }
    }

    /// SEND: queue bytes; returns how many fit in the send buffer.
    pub fn send(&mut self, now: Instant, c: ConnId, data: &[u8]) -> Result<usize, Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| t.send(data, ctx.rings))
            .ok_or(Error::InvalidHandle)?
    }

    /// SEND in place (zero-copy): `f` writes the application's bytes straight into the
    /// connection's send buffer and returns `(n, r)`: it wrote the first `n` bytes of the
    /// slice it was given, and `r` is handed back as `Ok(r)`.
    ///
    /// The slice is the free space that follows the queued bytes contiguously in the ring
    /// buffer: never empty, but possibly shorter than the room left when that space wraps
    /// around the ring's end (a second call gets the rest), or when the on-demand buffer
    /// has not grown yet (it grows, up to the configured `send_buffer`, as calls fill it).
    /// Its contents are unspecified (zeroes or old bytes), never uninitialised memory. An
    /// `n` larger than the slice counts as the whole slice.
    ///
    /// Otherwise exactly [`Stack::send`]: Err(Closed)/Err(Closing) when sending is over,
    /// Err(WouldBlock) without calling `f` when the buffer is full (an
    /// [`Event::Writable`] follows when room returns, as it does
    /// after a `send` that filled the buffer), and the bytes go out under the same rules
    /// (Nagle, PSH, windows) as sent ones. Segments are built when the stack transmits
    /// ([`Stack::poll_transmit`]), so several calls in a row (the second writing what
    /// wrapped) put the same segments on the wire as one `send` of the same bytes.
    pub fn send_with<R>(
        &mut self,
        now: Instant,
        c: ConnId,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
    ) -> Result<R, Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| t.send_with(f, ctx.rings))
            .ok_or(Error::InvalidHandle)?
    }

    /// RECEIVE: Ok(n > 0) bytes, Ok(0) end of stream (peer's FIN), Err(WouldBlock) nothing yet.
    pub fn recv(&mut self, now: Instant, c: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| {
            let r = t.recv(buf, ctx.rings);
            t.after_read_tune(ctx.now, ctx.config); // LX-11 receive autotuning
            r
        })
        .ok_or(Error::InvalidHandle)?
    }

    /// RECEIVE in place (zero-copy): `f` reads the received bytes where they lie in the
    /// connection's receive buffer and returns `(n, r)`: it consumed the first `n` bytes of
    /// the slice, and `r` is handed back as `Ok(Some(r))`.
    ///
    /// The slice is never empty: it is every readable byte, unless they wrap around the
    /// ring's end, when it is the part up to the end and a second call gets the rest. An
    /// `n` larger than the slice counts as the whole slice; `n = 0` leaves everything
    /// unread.
    ///
    /// `Ok(None)` (without calling `f`) is the end of the stream: every byte has been read
    /// and the peer's FIN has arrived ([`Stack::recv`]'s `Ok(0)`). Err(WouldBlock) when
    /// nothing is readable yet, errors as for `recv`. After the read the connection does
    /// what it does after `recv`: a window update goes out at once if the read opened the
    /// window enough (receiver SWS avoidance, RFC 9293 3.8.6.2.2), and the buffer is
    /// released when it empties. That ACK is built when the stack transmits, so a second
    /// call for the wrapped rest before [`Stack::poll_transmit`] still sends one window
    /// update, as one `recv` of both parts would.
    pub fn recv_with<R>(
        &mut self,
        now: Instant,
        c: ConnId,
        f: impl FnOnce(&[u8]) -> (usize, R),
    ) -> Result<Option<R>, Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| {
            let r = t.recv_with(f, ctx.rings);
            t.after_read_tune(ctx.now, ctx.config); // LX-11 receive autotuning
            r
        })
        .ok_or(Error::InvalidHandle)?
    }

    /// Half-close: no more sends; FIN after the queued data. Receiving continues.
    pub fn shutdown(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| t.shutdown(ctx))
            .ok_or(Error::InvalidHandle)?
    }

    /// CLOSE and release the handle: FIN after queued data (or RST if received data is
    /// unread, SHLD-3); the connection finishes on its own as an orphan.
    pub fn close(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| t.close(ctx))
            .ok_or(Error::InvalidHandle)?
    }

    /// ABORT: RST where the state calls for one (UI-5), release everything.
    pub fn abort(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| t.abort(ctx))
            .ok_or(Error::InvalidHandle)?
    }

    /// The DSCP of this connection's segments from now on, retransmissions included
    /// (MUST-48, SHLD-21, SHLD-22; IP_TOS / IPV6_TCLASS). RFC 9293 §3.9.2 (SHLD-23) asks
    /// applications to leave it alone once the connection is going; the stack does not
    /// refuse a change.
    pub fn set_dscp(&mut self, c: ConnId, dscp: Dscp) -> Result<(), Error> {
        let t = self.tcb_mut(c).ok_or(Error::InvalidHandle)?;
        t.marks.set_ours(dscp);
        Ok(())
    }

    /// The DSCP of a listener's SYN,ACKs (cookie ones too) and of the connections it
    /// accepts from now on (MUST-48), as IP_TOS on a Linux listening socket.
    pub fn set_listener_dscp(&mut self, l: ListenerId, dscp: Dscp) -> Result<(), Error> {
        let lst = self
            .listeners
            .get_mut(l.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(Error::InvalidHandle)?;
        lst.dscp = dscp;
        Ok(())
    }

    /// How many of the unread bytes are urgent data (MUST-33); 0 when none.
    pub fn urgent_pending(&self, c: ConnId) -> usize {
        self.tcb(c).map_or(0, Tcb::urgent_pending)
    }

    /// Per-connection user timeout (MUST-21, TCP_USER_TIMEOUT): abort when sent data stays
    /// unacknowledged this long; `None` leaves it to the retry counts ("infinite" R2 time).
    pub fn set_user_timeout(
        &mut self,
        now: Instant,
        c: ConnId,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let idx = self.index_of(c)?;
        // The deadline is unacked_since + user_timeout: settle() reschedules it.
        self.with_tcb(idx, now, |t, _| t.user_timeout = timeout.into());
        Ok(())
    }

    /// Keep-alive on (with its timing) or off for one connection (MUST-24, MUST-27;
    /// SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT).
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        c: ConnId,
        keepalive: Option<KeepAlive>,
    ) -> Result<(), Error> {
        let idx = self.index_of(c)?;
        self.with_tcb(idx, now, |t, ctx| t.set_keepalive(ctx, keepalive));
        Ok(())
    }

    /// The keep-alive timing in force on a connection, if keep-alive is on.
    pub fn keepalive(&self, c: ConnId) -> Option<KeepAlive> {
        self.tcb(c)?.ka.get()
    }

    /// Switch Nagle off (true) or on (MUST-17).
    pub fn set_nodelay(&mut self, c: ConnId, nodelay: bool) -> Result<(), Error> {
        self.tcb_mut(c)
            .ok_or(Error::InvalidHandle)?
            .flags
            .set_nodelay(nodelay);
        Ok(())
    }

    /// SO_RCVBUF: pin this connection's receive buffer at `bytes` (payload bytes, not
    /// doubled as Linux does) and switch receive autotuning off for it (Linux
    /// SOCK_RCVBUF_LOCK, LX-11). Called before the SYN goes out (right after `connect`,
    /// before `poll_transmit`), it also sets the window scale we offer from `bytes`; later,
    /// the window can say at most 65535 << the shift already offered. The right edge
    /// already advertised is honoured (SHLD-14): a buffer holding or promising more keeps
    /// that much and shrinks as the application reads. Returns the size in force now.
    ///
    /// Err(InvalidArgument) for 0 or more than 2^30 bytes (RFC 7323 §2.3's largest
    /// window), Err(InvalidHandle) for a connection that does not exist.
    pub fn set_recv_buffer(&mut self, c: ConnId, bytes: usize) -> Result<usize, Error> {
        check_buffer_size(bytes)?;
        Ok(self
            .tcb_mut(c)
            .ok_or(Error::InvalidHandle)?
            .set_recv_buffer(bytes))
    }

    /// SO_SNDBUF: pin this connection's send buffer at `bytes` and stop it growing with
    /// the congestion window (Linux SOCK_SNDBUF_LOCK, LX-11). Bytes already queued stay
    /// queued; the buffer shrinks to `bytes` as they are acknowledged. Returns the size in
    /// force now. Errors as [`Stack::set_recv_buffer`].
    pub fn set_send_buffer(&mut self, c: ConnId, bytes: usize) -> Result<usize, Error> {
        check_buffer_size(bytes)?;
        let t = self.tcb_mut(c).ok_or(Error::InvalidHandle)?;
        let size = t.set_send_buffer(bytes);
        if t.flags.want_writable() && t.send_buf.free() > 0 && t.state != State::Closed {
            // A refused send waits for room: a larger buffer is room.
            t.flags.set_want_writable(false);
            self.events.push(Event::Writable { conn: c });
        }
        Ok(size)
    }

    /// STATUS (UI-6).
    ///
    /// A released handle (`close`) whose connection lives on as a TIME-WAIT record shows the
    /// record until its slot is reused by another connection (then only `connections()`
    /// lists it).
    pub fn status(&self, c: ConnId) -> Option<ConnInfo> {
        match self.named(c)? {
            Named::Tcb(t) => Some(info(t)),
            Named::Record(tw) => Some(info(&self.unpack(&tw, c, tw.ts_recent_at))),
        }
    }

    /// What handle `c` names: its TCB, or, once released, its TIME-WAIT record (found
    /// through the serial its freed slot keeps, until the slot is reused).
    fn named(&self, c: ConnId) -> Option<Named<'_>> {
        let s = self.slots.get(c.index as usize)?;
        if s.generation() == c.generation {
            return s.tcb.as_deref().map(Named::Tcb);
        }
        if s.tcb.is_some() || self.tw.is_empty() {
            return None;
        }
        self.tw.get(s.tw_serial, c).map(Named::Record)
    }

    /// Current state of a connection. `named`, without unpacking a record to say that it
    /// is in TIME-WAIT.
    pub fn state(&self, c: ConnId) -> Option<State> {
        let s = self.slots.get(c.index as usize)?;
        if s.generation() == c.generation {
            return s.tcb.as_deref().map(|t| t.state);
        }
        if s.tcb.is_some() || self.tw.is_empty() {
            return None;
        }
        let held = self.tw.holds(s.tw_serial, c);
        debug_assert_eq!(held, matches!(self.named(c), Some(Named::Record(_))));
        held.then_some(State::TimeWait)
    }

    /// Every connection, for an `ss`-like table.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let tcbs = self.slots.iter().filter_map(|s| s.tcb.as_deref()).map(info);
        let records = self
            .tw
            .iter()
            .map(|(id, tw)| info(&self.unpack(&tw, id, tw.ts_recent_at)));
        tcbs.chain(records).collect()
    }

    /// Number of connections held (half-open and TIME-WAIT records included).
    pub fn connection_count(&self) -> usize {
        self.held()
    }

    fn held(&self) -> usize {
        self.live + self.tw.len()
    }

    /// `Config::max_connections`, capped at what the index can number ([`MAX_SLOTS`]).
    fn max_connections(&self) -> usize {
        self.config.max_connections.min(MAX_SLOTS)
    }

    /// How many TIME-WAIT connections are held as compact records rather than full TCBs
    /// (orphaned ones with nothing left to send); they count in `connection_count` too.
    pub fn time_wait_records(&self) -> usize {
        self.tw.len()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Next event for the application. Inlined: applications drain the queue in a loop,
    /// about 26 calls a connection in issue 3's churn.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    // ----- packets in --------------------------------------------------------------------

    /// An IP packet arrived.
    #[inline]
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.receive(now, packet, false)
    }

    /// An IP packet arrived whose TCP checksum the device vouches for, as Linux takes
    /// CHECKSUM_UNNECESSARY and CHECKSUM_PARTIAL packets: hardware that verified it (receive
    /// checksum offload), or a TUN device with offload handing over a packet the local
    /// kernel made and never summed (`virtio_net_hdr` NEEDS_CSUM: the field holds only the
    /// pseudo-header sum). MUST-3 is then the device's: the TCP checksum is not looked at,
    /// and the payload is copied into the receive ring without the pass that sums it. The
    /// IPv4 header checksum is still checked. Given a packet no device vouched for, this
    /// would accept corrupted data: use [`Stack::handle_packet`].
    #[inline]
    pub fn handle_packet_trusted(&mut self, now: Instant, packet: &[u8]) {
        self.receive(now, packet, true)
    }

    /// [`Stack::handle_packet`] and [`Stack::handle_packet_trusted`]: one body (the packet
    /// path's code once in the instruction cache), the trust a flag.
    fn receive(&mut self, now: Instant, packet: &[u8], trust: bool) {
        // Used where it was parsed, by reference: moving the packet (some 140 bytes) out of
        // the `Result` was a memcpy call per packet (callgrind, bulk).
        let mut parsed = wire::parse_deferred(packet, trust);
        let pkt = match &mut parsed {
            Ok(p) => p,
            Err(e) => {
                let e = *e;
                if e == ParseError::NotTcp && self.handle_icmp(now, packet) {
                    return;
                }
                self.counters.count_parse_drop(e);
                return;
            }
        };
        // MUST-3 is completed here, before anything acts on the packet: the payload of a
        // data segment may still be unsummed, to be summed while it is copied into its
        // connection's receive ring (Tcb::check_payload).
        // The socket addresses themselves are built only where they are used, after the
        // connection path: kept alive across it, they were spilled and reloaded for every
        // segment received.
        let tuple = Tuple::new(
            SocketAddr::new(pkt.dst, pkt.tcp.dst_port),
            SocketAddr::new(pkt.src, pkt.tcp.src_port),
        );
        // The connection table is probed once per packet: nothing below changes it before
        // `lookup` would (the checksum stage touches only the TCB's receive ring), so the
        // checksum stage, the ours test and the demultiplexing share this answer.
        let lookup = self.find_conn_cached(&tuple);
        let found = lookup.ok();
        if pkt.checksum_pending() {
            let tcb = found.and_then(|i| self.slots[i as usize].tcb.as_deref_mut());
            if !Tcb::check_payload(tcb, pkt, &mut self.rings) {
                self.counters.count_parse_drop(ParseError::TcpChecksum);
                return;
            }
        }
        // MUST-57: broadcast/multicast destinations are never ours. With an any-listener
        // every other destination is ours; a connection it accepted stays reachable after
        // the listener closes.
        // (A connection of ours first: the answer for every segment of a transfer, known
        // without searching the address list.)
        let ours = found.is_some()
            || self.is_ours(pkt.dst)
            || self.any_listener.is_some()
            || self.tw.contains(self.hasher.hash(&tuple), &tuple);
        if !ours || !valid_remote(pkt.dst) {
            self.counters.count_drop(DropReason::NotOurs);
            return;
        }
        // MUST-63: a SYN (or anything) from an invalid source is ignored. A connection's
        // own segments come from its remote address, which was checked when it was made
        // (`connect`, MUST-46, or here for the segment that opened it passively), so the
        // address test is skipped for them (every segment of a transfer). The ports are
        // still tested: a configured ephemeral range may include port 0.
        if (found.is_none() && !valid_remote(pkt.src))
            || pkt.tcp.src_port == 0
            || pkt.tcp.dst_port == 0
        {
            self.counters.count_drop(DropReason::BadSource);
            return;
        }
        self.counters.in_segs += 1;
        // A miss hashed the tuple already (`find_conn_cached`): the TIME-WAIT lookup and a
        // listener's new connection use that hash.
        let idx = match lookup {
            Ok(i) => Some(i),
            Err(hash) => self.lookup_record(now, hash, &tuple),
        };
        if let Some(idx) = idx {
            // `tw_reopen` acts in TIME-WAIT only and `accept_overflow` in SYN-RECEIVED only:
            // any other connection (every segment of a transfer) goes straight to its TCB,
            // and the two stay out of line with their rare work.
            let special = self.slots[idx as usize]
                .tcb
                .as_deref()
                .is_some_and(|t| matches!(t.state, State::TimeWait | State::SynReceived));
            if special && self.tw_reopen(now, idx, pkt) {
                // Fall through to the listener with the TIME-WAIT entry gone (TW-3).
            } else if special && self.accept_overflow(now, idx, pkt) {
                return;
            } else {
                // `with_tcb`, spelled out so that it is inlined here alone (the segment
                // path) and not into the rare cases above.
                self.with_tcb_raw(
                    idx,
                    now,
                    #[inline(always)]
                    |t, ctx| t.on_segment(ctx, pkt),
                );
                self.settle(idx);
                return;
            }
        }
        let local = SocketAddr::new(pkt.dst, pkt.tcp.dst_port);
        let remote = SocketAddr::new(pkt.src, pkt.tcp.src_port);
        if let Some(l) = self.find_listener(local) {
            // Hashed already unless a TIME-WAIT TCB was found and ended (TW-3).
            let hash = lookup.err().unwrap_or_else(|| self.hasher.hash(&tuple));
            self.listen_input(now, l, pkt, local, remote, hash);
            return;
        }
        // RST-1: no TCB and no listener.
        self.counters.count_drop(DropReason::NoSocket);
        self.ctl
            .reset_for(&mut self.counters, local, remote, &pkt.tcp, pkt.seg_len());
    }

    /// MUST-54: an ICMP or ICMPv6 error about one of our segments goes to the connection
    /// whose segment it quotes, which checks the quoted sequence number (RFC 5927) before
    /// acting. Returns false when the packet is not such a message.
    fn handle_icmp(&mut self, now: Instant, packet: &[u8]) -> bool {
        let m = match wire::icmp::parse(packet) {
            Ok(Some(m)) => m,
            Ok(None) => return false,
            Err(_) => {
                self.counters.icmp_bad += 1;
                return true;
            }
        };
        // The quoted segment names the connection; with `listen_any` its local address need
        // not be one of ours, so the 4-tuple, not the address list, decides.
        self.counters.icmp_in_errors += 1;
        let tuple = Tuple::new(m.local, m.remote);
        match self.lookup(now, self.hasher.hash(&tuple), &tuple) {
            Some(idx) => {
                self.with_tcb(idx, now, |t, ctx| t.on_icmp(ctx, &m));
            }
            // Nothing to act on; a cookie-mode SYN,ACK left no state to find (Linux, too,
            // cannot match those).
            None => self.counters.icmp_no_socket += 1,
        }
        true
    }

    /// TW-3 / MAY-2 (RFC 6191): a new SYN may reopen a 4-tuple in TIME-WAIT when it is
    /// provably newer: a larger timestamp when both incarnations use timestamps, otherwise a
    /// sequence number beyond the old RCV.NXT. The TIME-WAIT entry is then ended.
    fn tw_reopen(&mut self, now: Instant, idx: u32, pkt: &Packet) -> bool {
        let h = &pkt.tcp;
        if !h.flags.syn() || h.flags.ack() || h.flags.rst() {
            return false;
        }
        let Some(t) = self.slots[idx as usize].tcb.as_deref() else {
            return false;
        };
        if t.state != State::TimeWait
            || self
                .find_listener(SocketAddr::new(pkt.dst, h.dst_port))
                .is_none()
        {
            return false; // without a listener the SYN is answered from TIME-WAIT (BI-4)
        }
        let newer = match (t.ts_ok, h.options.timestamps) {
            (true, Some(ts)) => (ts.tsval.wrapping_sub(t.ts_recent) as i32) > 0,
            _ => h.seq.gt(t.rcv_nxt),
        };
        if !newer {
            return false;
        }
        self.with_tcb(idx, now, |t, ctx| {
            t.orphan = true;
            t.terminate(ctx, CloseReason::Normal, Cause::RecvSyn);
        });
        true
    }

    /// LX-8: when the accept queue is full, the third ACK is dropped and the entry stays
    /// half-open (its SYN,ACK is retransmitted and the client's ACK will come again).
    fn accept_overflow(&mut self, now: Instant, idx: u32, pkt: &Packet) -> bool {
        let Some(t) = self.slots[idx as usize].tcb.as_deref() else {
            return false;
        };
        let h = &pkt.tcp;
        if t.state != State::SynReceived || !h.flags.ack() || h.flags.rst() || h.flags.syn() {
            return false;
        }
        let full = t
            .listener
            .and_then(|l| self.listener(l))
            .is_some_and(|l| l.accept_queue.len() > l.backlog);
        if !full {
            return false;
        }
        let (local, remote) = (t.local(), t.remote());
        self.count_listen_overflow();
        if self.config.abort_on_overflow {
            // LX-8 tcp_abort_on_overflow = 1: refuse with RST and forget the entry.
            self.ctl
                .reset_for(&mut self.counters, local, remote, h, pkt.seg_len());
            self.with_tcb(idx, now, |t, ctx| t.back_to_listen(ctx, Cause::RecvAck));
        }
        true
    }

    /// A segment dropped because the accept queue is full (Linux ListenOverflows).
    fn count_listen_overflow(&mut self) {
        self.counters.listen_overflows += 1;
        self.counters.listen_drops += 1;
        self.counters.count_drop(DropReason::AcceptQueueFull);
    }

    /// LISTEN (ST-3): RST ignored; an ACK is either a valid SYN cookie (SF-4) or answered
    /// with RST; a SYN makes a half-open entry, or a stateless cookie SYN,ACK when the
    /// half-open queue is full (LX-9).
    fn listen_input(
        &mut self,
        now: Instant,
        l: u32,
        pkt: &Packet,
        local: SocketAddr,
        remote: SocketAddr,
        hash: u64,
    ) {
        let h = &pkt.tcp;
        if h.flags.rst() {
            self.counters.count_drop(DropReason::Ignored);
            return;
        }
        let Some(listener) = self.listeners[l as usize].as_ref() else {
            return;
        };
        let lid = listener.id;
        let dscp = listener.dscp;
        let accept_full = listener.accept_queue.len() > listener.backlog;
        let syn_queue = listener.syn_queue;
        let syn_full = syn_queue >= self.config.max_syn_backlog;
        if h.flags.ack() {
            if !h.flags.syn() && self.cookie_ack(now, lid, pkt, local, remote, accept_full) {
                return;
            }
            self.counters.count_drop(DropReason::BadAck);
            self.ctl
                .reset_for(&mut self.counters, local, remote, h, pkt.seg_len());
            return;
        }
        if !h.flags.syn() || h.flags.fin() {
            // Linux discards SYN+FIN at a listener.
            self.counters.count_drop(DropReason::Ignored);
            return;
        }
        if accept_full {
            // Linux drops SYNs while the accept queue is full (ListenOverflows).
            self.count_listen_overflow();
            return;
        }
        let cookies = match self.config.syncookies {
            SynCookies::Never => false,
            SynCookies::WhenFull => syn_full,
            SynCookies::Always => true,
        };
        if cookies {
            self.send_cookie(now, pkt, local, remote, dscp);
            return;
        }
        // LX-8: with cookies switched off, Linux keeps the last quarter of the half-open
        // queue for peers it holds TCP metrics for (tcp_conn_request, tcp_peer_is_proven).
        // synack keeps no per-destination metrics, so every peer counts as unproven and a
        // flood stops at 3/4 of the queue.
        let max = self.config.max_syn_backlog;
        let unproven_full =
            self.config.syncookies == SynCookies::Never && max - syn_queue.min(max) < max / 4;
        if syn_full || unproven_full {
            self.counters.listen_drops += 1;
            self.counters.count_drop(DropReason::SynQueueFull);
            return;
        }
        if self.held() >= self.max_connections() {
            self.counters.count_drop(DropReason::TableFull);
            return;
        }
        if let Some(lst) = self.listeners[l as usize].as_mut() {
            lst.syn_queue += 1;
        }
        let idx = self.insert_tcb(now, local, remote, hash, Some(lid), None);
        self.with_tcb(idx, now, |t, ctx| {
            t.marks.set_ours(dscp); // before its SYN,ACK is built
            t.marks.set_received(pkt.traffic_class); // MAY-9
            t.on_syn_in_listen(ctx, pkt)
        });
    }

    /// Answer a SYN with a stateless SYN,ACK whose ISN is a cookie (SF-4, SF-5). Without
    /// timestamps the window scale and SACK cannot be carried, so they are not offered (SF-7).
    fn send_cookie(
        &mut self,
        now: Instant,
        pkt: &Packet,
        local: SocketAddr,
        remote: SocketAddr,
        dscp: Dscp,
    ) {
        let h = &pkt.tcp;
        let default_mss = if remote.is_ipv4() { 536 } else { 1220 };
        let mss_idx = syncookie::mss_index(h.options.mss.unwrap_or(default_mss));
        let iss = syncookie::make(&mut self.isn, now, local, remote, h.seq, mss_idx);
        let ts = h.options.timestamps.filter(|_| self.config.timestamps);
        let ws = ts
            .and(h.options.window_scale)
            .filter(|_| self.config.window_scaling);
        let sack = ts.is_some() && h.options.sack_permitted && self.config.sack;
        // RFC 3168 §6.1.1 for an ECN-setup SYN, carried in the timestamp like the options
        // (SF-6); without timestamps the cookie connection goes without ECN.
        let ecn = ts.is_some()
            && self.config.ecn != crate::config::Ecn::Off
            && h.flags.ece()
            && h.flags.cwr();
        let our_ts = (now.as_millis() as u32).wrapping_add(self.isn.ts_offset(local, remote));
        let options = TcpOptions {
            mss: Some(crate::tcb::our_mss(&self.config, local)),
            window_scale: ws.map(|_| crate::tcb::our_wscale(&self.config)),
            sack_permitted: sack,
            timestamps: ts.map(|t| Timestamps {
                tsval: syncookie::encode_ts(our_ts, ws, sack, ecn),
                tsecr: t.tsval,
            }),
            ..TcpOptions::default()
        };
        self.counters.syncookies_sent += 1;
        self.counters.out_segs += 1;
        self.last_cookie = Some(now);
        self.ctl.push(CtlSegment {
            local,
            remote,
            seq: iss,
            ack: h.seq + 1,
            flags: if ecn {
                TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE
            } else {
                TcpFlags::SYN | TcpFlags::ACK
            },
            window: crate::tcb::syn_window(
                self.config.recv_buffer.min(u32::MAX as usize) as u32,
                crate::tcb::our_mss(&self.config, local),
                ts.is_some(),
            ),
            options,
            dscp: Some(dscp),
        });
    }

    /// An ACK to a listener: if it carries a valid cookie, build the connection from it and
    /// process the ACK (its data is kept). True if it was taken.
    fn cookie_ack(
        &mut self,
        now: Instant,
        lid: ListenerId,
        pkt: &Packet,
        local: SocketAddr,
        remote: SocketAddr,
        accept_full: bool,
    ) -> bool {
        let h = &pkt.tcp;
        if self.config.syncookies == SynCookies::Never {
            return false;
        }
        let Some(mss_idx) =
            syncookie::check(&mut self.isn, now, local, remote, h.seq - 1, h.ack - 1)
        else {
            // Count only while cookies are in recent use, like Linux's SyncookiesFailed.
            if self
                .last_cookie
                .is_some_and(|t| now.saturating_since(t) < Duration::from_secs(120))
            {
                self.counters.syncookies_failed += 1;
            }
            return false;
        };
        if accept_full {
            self.count_listen_overflow();
            return true; // dropped; the client will send again
        }
        if self.held() >= self.max_connections() {
            self.counters.count_drop(DropReason::TableFull);
            return true;
        }
        self.counters.syncookies_recv += 1;
        let ts = h.options.timestamps.filter(|_| self.config.timestamps);
        let (ws, sack, ecn) = ts.map_or((None, false, false), |t| syncookie::decode_ts(t.tsecr));
        let syn_opts = TcpOptions {
            mss: Some(syncookie::MSS_TABLE[mss_idx]),
            window_scale: ws.filter(|_| self.config.window_scaling),
            sack_permitted: sack && self.config.sack,
            timestamps: ts.map(|t| Timestamps {
                tsval: t.tsval,
                tsecr: 0,
            }),
            ..TcpOptions::default()
        };
        // Counted into the half-open queue for a moment: settle() moves it to the accept
        // queue as it reaches ESTABLISHED.
        if let Some(lst) = self.listeners[lid.0 as usize].as_mut() {
            lst.syn_queue += 1;
        }
        let dscp = self.listeners[lid.0 as usize]
            .as_ref()
            .map_or(self.config.dscp, |l| l.dscp);
        // Rare (cookies are sent under a SYN flood only): hashed here, not passed down.
        let hash = self.hasher.hash(&Tuple::new(local, remote));
        let idx = self.insert_tcb(now, local, remote, hash, Some(lid), None);
        let iss = h.ack - 1;
        self.with_tcb(idx, now, |t, ctx| {
            t.marks.set_ours(dscp);
            t.marks.set_received(pkt.traffic_class); // MAY-9
            t.on_cookie_ack(ctx, pkt, iss, &syn_opts, ecn)
        });
        true
    }

    // ----- packets out -------------------------------------------------------------------

    /// Write the next IP packet to send into `buf` (at least MTU bytes); its length.
    ///
    /// A driver calls this until it says None, so about every other call finds both queues
    /// empty (issue 3's churn: 8 of 15 a connection): that answer is inlined into the
    /// caller, without the frame the sending path needs.
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.ctl.queue.is_empty() && self.tx.is_empty() {
            return None;
        }
        self.transmit(now, buf)
    }

    /// `poll_transmit` with something queued.
    #[inline(never)]
    fn transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        while let Some(c) = self.ctl.queue.pop_front() {
            let hdr = TcpHeader {
                src_port: c.local.port(),
                dst_port: c.remote.port(),
                seq: c.seq,
                ack: c.ack,
                flags: c.flags,
                window: c.window,
                urgent: 0,
                options: c.options,
            };
            let ip = IpOut {
                hop_limit: self.config.hop_limit,
                traffic_class: c.dscp.unwrap_or(self.config.dscp).traffic_class(),
            };
            let n = wire::emit_parts(c.local.ip(), c.remote.ip(), ip, &hdr, (&[], &[]), buf);
            if n.is_some() {
                return n;
            }
        }
        let hop_limit = self.config.hop_limit;
        while let Some(&idx) = self.tx.front() {
            // The segment is written while the TCB is at hand: the payload goes straight
            // from the send ring into the packet, and the header is not moved out and back.
            let out = self.with_tcb_raw(idx, now, |t, ctx| {
                // Used in place, not moved out of the Option: the move was a wide copy of
                // the header poll_segment had just written field by field, which stalled
                // on store forwarding (perf: the hottest instructions of this loop).
                let polled = t.poll_segment(ctx);
                let o = polled.as_ref()?;
                let payload = if o.data_len > 0 {
                    t.send_buf.slices(o.data_offset, o.data_len)
                } else {
                    (&[][..], &[][..])
                };
                let (src, dst) = (t.local().ip(), t.remote().ip());
                // SHLD-22: every segment, retransmissions included, with the DSCP the
                // application last set.
                // ECT(0) on the connection's new data (RFC 3168 §6.1.2).
                let ip = IpOut {
                    hop_limit,
                    traffic_class: t.marks.ours().traffic_class() | (u8::from(o.ect) << 1),
                };
                let written = o.write(src, dst, ip, payload, buf);
                // Most visits send one segment: asking `may_send_now` here spares the
                // poll that would only say "nothing more" (issue 3's churn: one in two).
                let more = t.may_send_now();
                #[cfg(debug_assertions)]
                if !more {
                    let next = t.poll_segment(ctx).map(|o| o.hdr.to_header());
                    assert_eq!(next, None, "may_send_now said no, poll_segment had more");
                }
                Some((written, more))
            });
            match out.flatten() {
                Some((written, more)) => {
                    if more {
                        self.schedule(idx);
                    } else {
                        self.leave_tx(idx);
                    }
                    if let Some(n) = written {
                        return Some(n);
                    }
                    // A buffer smaller than the MTU: the segment is lost and will be
                    // retransmitted; nothing else can be done here.
                }
                None => self.leave_tx(idx),
            }
        }
        None
    }

    /// The TCB at the head of the transmit queue has nothing more to send: it leaves the
    /// queue, and becomes a TIME-WAIT record if it can (its last ACK is out), else has its
    /// timers scheduled.
    fn leave_tx(&mut self, idx: u32) {
        self.tx.pop_front();
        if let Some(s) = self.slots.get_mut(idx as usize) {
            s.set_flag(IN_TX, false);
        }
        if !self.freeze(idx) {
            self.schedule(idx);
        }
    }

    // ----- time --------------------------------------------------------------------------

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let heap = self.timers.peek().map(|Reverse((t, _, _))| *t);
        match (heap, self.tw.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the timers due at `now`, earliest first (TIME-WAIT records' 2·MSL deadlines
    /// included).
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            let heap = self.timers.peek().map(|&Reverse(e)| e);
            let record = self.tw.next_expiry().filter(|&t| t <= now);
            if let Some(at) = record {
                if heap.is_none_or(|(h, _, _)| at <= h) {
                    // MUST-13: 2·MSL is over. The record goes without a TCB being rebuilt
                    // for it (issue 3: churn keeps ~24,000 of them expiring); its events and
                    // counters come from the code a TCB's TIME-WAIT timer runs too.
                    if let Some(id) = self.tw.expire(&self.hasher, now) {
                        self.record_expired(now, id);
                    }
                    continue;
                }
            }
            let Some((at, idx, generation)) = heap else {
                break;
            };
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slots.get_mut(idx as usize) else {
                continue;
            };
            if slot.generation() != generation {
                continue;
            }
            let Some(tcb) = slot.tcb.as_deref_mut() else {
                continue;
            };
            if tcb.scheduled != OptInstant::some(at) {
                continue; // superseded by an earlier entry
            }
            tcb.scheduled = OptInstant::NONE;
            self.armed -= 1;
            self.with_tcb(idx, now, |t, ctx| t.on_timeout(ctx));
        }
    }

    /// The 2·MSL end of TIME-WAIT record `id` (already out of the table): the application
    /// and the counters see what a TCB's expiry shows them (`time_wait_expired`). Its slot
    /// was released when it became a record, so nothing else is left to free.
    fn record_expired(&mut self, now: Instant, id: ConnId) {
        let mut ctx = Ctx {
            now,
            config: &self.config,
            events: &mut self.events,
            counters: &mut self.counters,
            ctl: &mut self.ctl,
            rings: &mut self.rings,
        };
        time_wait_expired(&mut ctx, id);
        self.counters.events_dropped = self.events.dropped;
    }

    // ----- connection table --------------------------------------------------------------

    /// The slot of the connection `tuple` (hashed to `hash`), rebuilding it from its TIME-WAIT record if that is
    /// how it is held.
    fn lookup(&mut self, now: Instant, hash: u64, tuple: &Tuple) -> Option<u32> {
        if let Some(idx) = self.find_conn(hash, tuple) {
            return Some(idx);
        }
        self.lookup_record(now, hash, tuple)
    }

    /// `lookup` for a tuple known to have no TCB: rebuild it from its TIME-WAIT record, if
    /// there is one.
    fn lookup_record(&mut self, now: Instant, hash: u64, tuple: &Tuple) -> Option<u32> {
        if self.tw.is_empty() {
            return None;
        }
        let (id, tw) = self.tw.take(&self.hasher, hash, tuple)?;
        Some(self.restore(id, &tw, now, hash))
    }

    /// `find_conn` for `tuple`, trying the slot of the last answer first (`last_conn`).
    /// A miss gives the tuple's hash (`Err`), so that the paths that follow one (TIME-WAIT
    /// lookup, a listener's new connection) do not hash it again: two hashes of every SYN
    /// a server takes (issue 3's churn).
    fn find_conn_cached(&mut self, tuple: &Tuple) -> Result<u32, u64> {
        let last = self.last_conn;
        let hit = self
            .slots
            .get(last as usize)
            .and_then(|s| s.tcb.as_deref())
            .is_some_and(|t| t.tuple == *tuple);
        if hit {
            debug_assert_eq!(self.find_conn(self.hasher.hash(tuple), tuple), Some(last));
            return Ok(last);
        }
        let hash = self.hasher.hash(tuple);
        match self.find_conn(hash, tuple) {
            Some(i) => {
                self.last_conn = i;
                Ok(i)
            }
            None => Err(hash),
        }
    }

    fn find_conn(&self, hash: u64, tuple: &Tuple) -> Option<u32> {
        let (slots, tag) = (&self.slots, index_tag(hash));
        self.conns
            .find(hash, |&e| {
                e & !SLOT_MASK == tag
                    && slots[(e & SLOT_MASK) as usize]
                        .tcb
                        .as_deref()
                        .is_some_and(|t| t.tuple == *tuple)
            })
            .map(|&e| e & SLOT_MASK)
    }

    /// Index slot `idx` (whose TCB is in place) under its tuple, which no indexed
    /// connection holds: connect checked it is free (`tuple_use`; a TIME-WAIT it takes over is gone first), a SYN or cookie ACK
    /// came to a listener because the lookup found no connection, and a TIME-WAIT record
    /// being restored was in the TIME-WAIT table, not here. So the entry is inserted
    /// without a search first (debug builds check). `hash` is the tuple's hash, which
    /// every caller has already computed to find the tuple free (debug builds check).
    fn index_conn(&mut self, idx: u32, hash: u64) {
        self.last_conn = NO_CONN;
        let Stack {
            conns,
            slots,
            hasher,
            ..
        } = self;
        let Some(t) = slots[idx as usize].tcb.as_deref() else {
            return;
        };
        debug_assert_eq!(hash, hasher.hash(&t.tuple));
        debug_assert!(conns
            .find(hash, |&e| slots[(e & SLOT_MASK) as usize]
                .tcb
                .as_deref()
                .is_some_and(|o| o.tuple == t.tuple))
            .is_none());
        conns.insert_unique(hash, index_entry(idx, hash), |&e| {
            slots[(e & SLOT_MASK) as usize]
                .tcb
                .as_deref()
                .map_or(0, |t| hasher.hash(&t.tuple))
        });
        // Indexed under its own tuple, which no other entry holds: a hit on this slot is
        // what `find_conn` answers. The next segment is usually this connection's (issue
        // 3's churn: the SYN,ACK at the client, the third ACK at the server), found
        // without a hash and a probe.
        self.last_conn = idx;
    }

    /// Drop `idx` from the index if it is what its tuple (hashed to `hash`) maps to.
    fn unindex_conn(&mut self, idx: u32, hash: u64) {
        self.last_conn = NO_CONN;
        if let Ok(e) = self.conns.find_entry(hash, |&e| e & SLOT_MASK == idx) {
            e.remove();
        }
    }

    /// A free slot (its generation already moved past every handle it gave out).
    fn alloc_slot(&mut self) -> u32 {
        while let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.set_flag(LISTED, false);
            if slot.tcb.is_none() {
                return i;
            }
        }
        self.slots.push(Slot {
            tcb: None,
            meta: 0,
            tw_serial: 0,
        });
        (self.slots.len() - 1) as u32
    }

    /// Empty slot `idx` and list it as free; handles to it are stale from now on.
    fn release_slot(&mut self, idx: u32) -> Option<Box<Tcb>> {
        self.last_conn = NO_CONN;
        let slot = &mut self.slots[idx as usize];
        let tcb = slot.tcb.take()?;
        self.armed -= usize::from(tcb.scheduled.get().is_some());
        slot.set_generation(slot.generation().wrapping_add(1));
        if !slot.flag(LISTED) {
            slot.set_flag(LISTED, true);
            self.free.push(idx);
        }
        self.live -= 1;
        Some(tcb)
    }

    /// A new connection `local` <-> `remote` (whose tuple hashes to `hash`) in CLOSED, in a
    /// slot of its own and indexed; its ISS is `iss` if given (LX-12), else RFC 6528's.
    fn insert_tcb(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        hash: u64,
        listener: Option<ListenerId>,
        iss: Option<SeqNum>,
    ) -> u32 {
        let idx = self.alloc_slot();
        let generation = self.slots[idx as usize].generation();
        let id = ConnId {
            index: idx,
            generation,
        };
        let (isn, ts_offset) = self.isn.isn_and_ts_offset(now, local, remote);
        let iss = iss.unwrap_or(isn);
        let (config, fresh) = (&self.config, &self.fresh);
        // A spare box is overwritten where it lies (`Tcb::reinit`): the value built on the
        // stack and moved in by `boxed` cost a 440-byte copy per connection.
        let tcb = match self.spare.pop() {
            Some(mut b) => {
                b.reinit(
                    id, config, fresh, local, remote, iss, ts_offset, listener, now,
                );
                b
            }
            None => Box::new(Tcb::new(
                id, config, local, remote, iss, ts_offset, listener, now,
            )),
        };
        self.slots[idx as usize].tcb = Some(tcb);
        self.index_conn(idx, hash);
        self.live += 1;
        idx
    }

    /// `tcb` in a box, a spare one if there is one. The spare's whole content is replaced by
    /// `tcb` (its old fields dropped), so nothing of the connection it held carries over.
    fn boxed(&mut self, tcb: Tcb) -> Box<Tcb> {
        match self.spare.pop() {
            Some(mut b) => {
                *b = tcb;
                b
            }
            None => Box::new(tcb),
        }
    }

    /// Keep a freed TCB's box for `boxed`, up to [`SPARE_TCBS`].
    fn recycle(&mut self, b: Box<Tcb>) {
        if self.spare.len() < SPARE_TCBS {
            self.spare.push(b);
        }
    }

    fn index_of(&self, c: ConnId) -> Result<u32, Error> {
        self.tcb(c).map(|_| c.index).ok_or(Error::InvalidHandle)
    }

    /// A TCB equivalent (for TIME-WAIT) to the one record `tw` was packed from, with the
    /// parts the record leaves out put back: our timestamp offset (a keyed hash of the
    /// tuple) and MSS.
    fn unpack(&self, tw: &TimeWait, id: ConnId, now: Instant) -> Tcb {
        let (local, remote) = (tw.tuple.local(), tw.tuple.remote());
        let tw = TimeWait {
            ts_offset: self.isn.ts_offset(local, remote),
            mss: crate::tcb::our_mss(&self.config, local),
            ..tw.clone()
        };
        Tcb::from_time_wait(&tw, id, &self.config, now)
    }

    /// Put a TIME-WAIT record back into the connection table as a TCB (a segment came for
    /// it; its 2·MSL expiry needs none, see `record_expired`). The TCB keeps its handle `id` and goes back into its own
    /// slot when no other connection has taken it since (so `id` works as before);
    /// otherwise into another slot, where its events and `connections()` still show it.
    fn restore(&mut self, id: ConnId, tw: &TimeWait, now: Instant, hash: u64) -> u32 {
        let tcb = self.unpack(tw, id, now);
        let own = self.slots.get(id.index as usize).is_some_and(|s| {
            s.tcb.is_none() && s.generation() == id.generation.wrapping_add(1) & GEN_MASK
        });
        let idx = if own {
            // No handle was given out since the record's own: take that generation back.
            // The slot stays in the free list, which skips it while it is occupied.
            self.slots[id.index as usize].set_generation(id.generation);
            id.index
        } else {
            self.alloc_slot()
        };
        self.armed += usize::from(tcb.scheduled.get().is_some());
        self.slots[idx as usize].tcb = Some(self.boxed(tcb));
        self.index_conn(idx, hash);
        self.live += 1;
        idx
    }

    /// Keep an orphaned TIME-WAIT connection that has nothing left to send as a packed
    /// record and free its slot (its final ACK has gone out: this runs once its
    /// transmissions are done). False when it stays a TCB.
    fn freeze(&mut self, idx: u32) -> bool {
        let Some(t) = self.slots.get(idx as usize).and_then(|s| s.tcb.as_deref()) else {
            return false;
        };
        // A record keeps no DSCP: one restored to answer a segment gets the stack's
        // default, so a connection with its own stays a TCB (SHLD-22).
        if !t.can_compact() || t.marks.ours() != self.config.dscp {
            return false;
        }
        self.compact(idx)
    }

    /// `freeze` for a TCB that can become a record. Out of line: every TCB leaving the
    /// transmit queue asks `freeze`, one in seven in issue 3's churn gets this far.
    #[inline(never)]
    fn compact(&mut self, idx: u32) -> bool {
        let Some(t) = self.slots.get(idx as usize).and_then(|s| s.tcb.as_deref()) else {
            return false;
        };
        // Hashed once, from the TCB itself: the tuple of a copy just stored (the record
        // being built, or a local) was read back across its stores, a store-forwarding stall
        // that made this the costliest line of the churn's profile by cycles.
        let hash = self.hasher.hash(&t.tuple);
        let Some(serial) = self
            .tw
            .insert_hashed(&self.hasher, hash, t.id, &t.to_time_wait())
        else {
            return false;
        };
        self.unindex_conn(idx, hash);
        if let Some(b) = self.release_slot(idx) {
            self.recycle(b);
        }
        self.slots[idx as usize].tw_serial = serial;
        true
    }

    fn tcb(&self, c: ConnId) -> Option<&Tcb> {
        let s = self.slots.get(c.index as usize)?;
        (s.generation() == c.generation).then_some(())?;
        s.tcb.as_deref()
    }

    fn tcb_mut(&mut self, c: ConnId) -> Option<&mut Tcb> {
        let s = self.slots.get_mut(c.index as usize)?;
        (s.generation() == c.generation).then_some(())?;
        s.tcb.as_deref_mut()
    }

    /// Run `f` on a TCB with its context, without the bookkeeping that follows. Inlined:
    /// each caller has its own closure, so its own copy anyway, and the frame of its own
    /// cost every segment sent or received a call.
    #[inline(always)]
    fn with_tcb_raw<R>(
        &mut self,
        idx: u32,
        now: Instant,
        f: impl FnOnce(&mut Tcb, &mut Ctx) -> R,
    ) -> Option<R> {
        let tcb = self.slots.get_mut(idx as usize)?.tcb.as_deref_mut()?;
        let mut ctx = Ctx {
            now,
            config: &self.config,
            events: &mut self.events,
            counters: &mut self.counters,
            ctl: &mut self.ctl,
            rings: &mut self.rings,
        };
        let r = f(tcb, &mut ctx);
        self.counters.events_dropped = self.events.dropped;
        Some(r)
    }

    /// Run `f` on a TCB, then settle what it changed: timers, transmission, the listener's
    /// queues, and the TCB's own end.
    fn with_tcb<R>(
        &mut self,
        idx: u32,
        now: Instant,
        f: impl FnOnce(&mut Tcb, &mut Ctx) -> R,
    ) -> Option<R> {
        let r = self.with_tcb_raw(idx, now, f)?;
        self.settle(idx);
        Some(r)
    }

    /// Push the TCB's earliest deadline into the heap if it moved earlier.
    ///
    /// Not for an orphan in TIME-WAIT waiting in the transmit queue: leaving the queue it
    /// either becomes a record (whose deadline the TIME-WAIT table keeps) or is scheduled
    /// then. A heap entry pushed now would linger for 2·MSL after the record took over, 16
    /// bytes per TIME-WAIT entry.
    fn schedule(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let generation = slot.generation();
        let in_tx = slot.flag(IN_TX);
        let Some(tcb) = slot.tcb.as_deref_mut() else {
            return;
        };
        if in_tx && tcb.orphan && tcb.state == State::TimeWait {
            return;
        }
        if let Some((d, fresh)) = due_entry(tcb) {
            self.push_timer(d, idx, generation, fresh);
        }
    }

    /// The heap push behind `schedule`, kept out of line: `schedule` runs after every segment
    /// in and out (~30 times a connection lifetime in issue 3's churn) and pushes about one
    /// time in eight, and with the heap's sift-up inlined every call paid for saving and
    /// restoring the registers it needs.
    /// `fresh`: the TCB had no entry that could fire (it is now `armed`).
    #[inline(never)]
    fn push_timer(&mut self, at: Instant, idx: u32, generation: u32, fresh: bool) {
        self.armed += usize::from(fresh);
        self.timers.push(Reverse((at, idx, generation)));
        self.prune_timers();
    }

    /// Drop heap entries that can no longer fire (their connection is gone, became a
    /// TIME-WAIT record, or has an earlier entry) once they outnumber the entries that can:
    /// with lazy deletion alone, a burst of closes leaves one stale entry per connection
    /// for up to an RTO, and the heap keeps that size. Amortized O(1) per push (a sweep
    /// leaves at most `armed` entries, and the next comes `armed + PRUNE_SLACK` pushes
    /// later). The bound is the armed connections, not all of them: idle connections arm
    /// no timer, and with 100k of them a bound of 2 x connections let churn's stale entries
    /// (one a connection for about a second) keep the heap hundreds deep instead of tens,
    /// every push and pop paying for it (issue 3: churn with idle connections).
    fn prune_timers(&mut self) {
        if self.timers.len() <= 2 * self.armed + PRUNE_SLACK {
            return;
        }
        let slots = &self.slots;
        self.timers.retain(|&Reverse((at, idx, generation))| {
            slots.get(idx as usize).is_some_and(|s| {
                s.generation() == generation
                    && s.tcb
                        .as_deref()
                        .is_some_and(|t| t.scheduled == OptInstant::some(at))
            })
        });
        self.timers.shrink_to(2 * self.armed + PRUNE_SLACK + 1);
    }

    /// One pass over the slot (issue 3's churn settles ~17 times a connection): the
    /// transmit queue, the timer heap (what `schedule` does), the listener's queues.
    /// Inlined (into `with_tcb` and the segment path of `handle_packet`): it runs after
    /// every segment received, and its own frame was a good part of its cost.
    #[inline(always)]
    fn settle(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let generation = slot.generation();
        let in_tx = slot.flag(IN_TX);
        let Some(tcb) = slot.tcb.as_deref_mut() else {
            return;
        };
        if matches!(tcb.state, State::Closed | State::Listen) {
            self.settle_ended(idx);
            return;
        }
        // `schedule`, with the TCB at hand; it is in the transmit queue from here on, so an
        // orphan in TIME-WAIT is left to leave_tx (see `schedule`).
        let due = if tcb.orphan && tcb.state == State::TimeWait {
            None
        } else {
            due_entry(tcb)
        };
        // A passive connection that reached ESTABLISHED moves to the accept queue.
        let mut accepted = None;
        if let Some(l) = tcb.listener {
            if !tcb.queued && !tcb.accepted && tcb.state.is_synchronized() {
                tcb.queued = true;
                accepted = Some((l, tcb.id));
            }
        }
        if !in_tx {
            slot.set_flag(IN_TX, true);
            self.tx.push_back(idx);
        }
        if let Some((d, fresh)) = due {
            self.push_timer(d, idx, generation, fresh);
        }
        if let Some((l, id)) = accepted {
            if let Some(lst) = self
                .listeners
                .get_mut(l.0 as usize)
                .and_then(Option::as_mut)
            {
                lst.syn_queue = lst.syn_queue.saturating_sub(1);
                lst.accept_queue.push_back(id);
                self.events.push(Event::AcceptReady { listener: l });
            }
        }
    }

    /// `settle` for a TCB in CLOSED or LISTEN: over, it sends nothing (poll_segment), so it
    /// skips the transmit queue; it leaves the index, and the table once nobody holds it.
    /// Its timers were cleared on the way here (terminate, back_to_listen, the 2·MSL
    /// expiry), so only one the application still holds is looked at. Out of line: once a
    /// connection, against ~15 settles of a live one, whose frame it made larger.
    #[inline(never)]
    fn settle_ended(&mut self, idx: u32) {
        let Some(tcb) = self.slots[idx as usize].tcb.as_deref() else {
            return;
        };
        let hash = self.hasher.hash(&tcb.tuple); // in place, see `freeze`
        let dead = tcb.is_dead();
        self.unindex_conn(idx, hash);
        if dead {
            self.remove(idx);
        } else {
            self.schedule(idx);
        }
    }

    fn remove(&mut self, idx: u32) {
        let Some(tcb) = self.release_slot(idx) else {
            return;
        };
        if let Some(lst) = tcb
            .listener
            .and_then(|l| self.listeners.get_mut(l.0 as usize))
            .and_then(Option::as_mut)
        {
            if !tcb.queued {
                lst.syn_queue = lst.syn_queue.saturating_sub(1);
            } else if !tcb.accepted {
                lst.accept_queue.retain(|c| *c != tcb.id);
            }
        }
        self.recycle(tcb);
    }
}

/// The sizes `set_recv_buffer` / `set_send_buffer` accept.
fn check_buffer_size(bytes: usize) -> Result<(), Error> {
    if bytes == 0 || bytes > crate::tcb::autotune::MAX_BUFFER {
        Err(Error::InvalidArgument)
    } else {
        Ok(())
    }
}

fn info(t: &Tcb) -> ConnInfo {
    ConnInfo {
        id: t.id,
        state: t.state,
        local: t.local(),
        remote: t.remote(),
        listener: t.listener,
        orphan: t.orphan,
        snd_una: t.snd_una.0,
        snd_nxt: t.snd_nxt.0,
        snd_wnd: t.snd_wnd,
        rcv_nxt: t.rcv_nxt.0,
        rcv_wnd: t.rcv_wnd(),
        send_queued: t.send_buf.len(),
        recv_queued: t.recv_buf.readable(),
        mss: t.mss.min(u16::MAX as u32) as u16,
        rto: t.rto(),
        srtt: t.rtt.srtt(),
        cwnd: t.cwnd(),
        ssthresh: t.cc.ssthresh(),
        in_recovery: t.in_recovery || t.dupacks >= 3,
        close_reason: t.close_reason,
        dscp: t.marks.ours(),
        dscp_received: t.dscp_received(),
        recv_buffer: t.recv_buf.capacity(),
        send_buffer: t.send_buf.capacity(),
        recv_buffer_pinned: t.recv_buf.locked(),
        send_buffer_pinned: t.send_buf.locked(),
        rcv_rtt: t.rcv_rtt(),
        buffers_allocated: t.recv_buf.allocated() + t.send_buf.allocated(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn stack() -> Stack {
        let mut st = Stack::new(Config::default());
        st.add_address(sa("10.0.0.1:0").ip());
        st
    }

    #[test]
    fn a_spare_tcb_box_carries_nothing_of_its_previous_connection() {
        let now = Instant::from_secs(1);
        let (local, remote) = (sa("10.0.0.1:40000"), sa("10.0.0.2:80"));
        let mut st = stack();
        // A first life with state of its own: data queued, options changed, then ABORT.
        let old = st.connect(now, Some(sa("10.0.0.1:40001")), remote).unwrap();
        st.set_nodelay(old, true).unwrap();
        st.set_user_timeout(now, old, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(st.send(now, old, b"left over").is_ok());
        st.abort(now, old).unwrap();
        assert_eq!(st.spare.len(), 1, "the freed box is kept");
        // The next connection takes that box and must look exactly like one in a fresh box.
        let c = st.connect(now, Some(local), remote).unwrap();
        assert!(st.spare.is_empty(), "the spare box was reused");
        let mut fresh = stack();
        let f = fresh.connect(now, Some(local), remote).unwrap();
        let (a, b) = (st.tcb(c).unwrap(), fresh.tcb(f).unwrap());
        assert_eq!(info(a), ConnInfo { id: c, ..info(b) });
        assert_eq!(a.flags.nodelay(), b.flags.nodelay());
        assert!(a.user_timeout == b.user_timeout && a.user_timeout.get().is_none());
        assert_eq!(
            (a.send_buf.len(), a.close_reason, a.orphan),
            (0, None, false)
        );
    }

    use crate::seq::SeqNum;

    /// A segment from `remote` to `local` with these fields and no options.
    fn segment(
        remote: SocketAddr,
        local: SocketAddr,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
    ) -> Vec<u8> {
        let tcp = TcpHeader {
            src_port: remote.port(),
            dst_port: local.port(),
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 1000,
            ..TcpHeader::default()
        };
        let mut buf = [0u8; 100];
        let n = wire::emit(remote.ip(), local.ip(), 64, &tcp, &[], &mut buf).unwrap();
        buf[..n].to_vec()
    }

    /// `last_conn` never answers for a connection that has left the index: a TCB that
    /// reached CLOSED while its handle is still held keeps its slot and its tuple, but
    /// segments for that tuple find no connection (RST-1).
    #[test]
    fn the_last_connection_cache_forgets_unindexed_connections() {
        let now = Instant::from_secs(1);
        let (local, remote) = (sa("10.0.0.1:40000"), sa("10.0.0.2:80"));
        let mut st = stack();
        let c = st.connect(now, Some(local), remote).unwrap();
        let mut buf = [0u8; 200];
        while st.poll_transmit(now, &mut buf).is_some() {}
        let iss = st.status(c).unwrap().snd_nxt; // ISS + 1, once the SYN is out
                                                 // RST-4: the peer refuses; the connection is CLOSED but its handle is still held.
        let rst = segment(remote, local, 0, iss, TcpFlags::RST | TcpFlags::ACK);
        st.handle_packet(now, &rst);
        assert_eq!(st.state(c), Some(State::Closed));
        assert!(st.tcb(c).is_some(), "the TCB keeps its slot");
        let before = st.counters().dropped(DropReason::NoSocket);
        let ack = segment(remote, local, 1, iss, TcpFlags::ACK);
        st.handle_packet(now, &ack);
        assert_eq!(st.counters().dropped(DropReason::NoSocket), before + 1);
        // And a new connection on the same tuple is found, not the old TCB.
        st.abort(now, c).unwrap();
        let d = st.connect(now, Some(local), remote).unwrap();
        while st.poll_transmit(now, &mut buf).is_some() {}
        let iss = st.status(d).unwrap().snd_nxt;
        let synack = segment(remote, local, 5000, iss, TcpFlags::SYN | TcpFlags::ACK);
        st.handle_packet(now, &synack);
        assert_eq!(st.state(d), Some(State::Established));
    }

    /// A connection just indexed is what `last_conn` names: the client's SYN,ACK and the
    /// server's third ACK are found without a probe, and the answer is the index's.
    #[test]
    fn a_new_connection_is_the_last_connection_cache() {
        let now = Instant::from_secs(1);
        let (mut a, mut b) = (stack(), Stack::new(Config::default()));
        b.add_address(sa("10.0.0.2:0").ip());
        let l = b.listen(sa("10.0.0.2:80"), 16).unwrap();
        let c = a.connect(now, None, sa("10.0.0.2:80")).unwrap();
        assert_eq!(a.last_conn, c.index);
        let mut buf = [0u8; 200];
        let n = a.poll_transmit(now, &mut buf).expect("SYN");
        b.handle_packet(now, &buf[..n]);
        let half_open = b.last_conn;
        assert_ne!(half_open, NO_CONN, "the SYN's new connection");
        exchange(now, &mut a, &mut b);
        let s = b.accept(l).expect("accepted");
        assert_eq!(s.index, half_open);
        assert_eq!(a.state(c), Some(State::Established));
        for st in [&mut a, &mut b] {
            let t = st.slots[st.last_conn as usize].tcb.as_deref().unwrap();
            let hash = st.hasher.hash(&t.tuple);
            assert_eq!(st.find_conn(hash, &t.tuple), Some(st.last_conn));
        }
    }

    #[test]
    fn remembered_port_offset_is_the_keyed_hash_of_each_destination() {
        let mut st = stack();
        let isn = IsnGenerator::new(Config::default().secret);
        let ips = [sa("10.0.0.1:0").ip(), sa("10.0.0.9:0").ip()];
        let remotes = [sa("10.0.0.2:80"), sa("10.0.0.2:81"), sa("10.0.0.3:80")];
        // Repeats and every change of one part (local IP, remote IP, remote port).
        for (i, r) in [0, 0, 1, 1, 0, 2, 2, 0].into_iter().enumerate() {
            let ip = ips[i % 3 / 2];
            assert_eq!(
                st.port_offset(ip, remotes[r]),
                isn.port_offset(ip, remotes[r])
            );
        }
    }

    #[test]
    fn lx_12_tw_reuse_iss_is_old_snd_nxt_plus_65537_mod_2_32_never_0() {
        assert_eq!(reuse_iss(SeqNum(1000)), SeqNum(66_537));
        assert_eq!(reuse_iss(SeqNum(u32::MAX)), SeqNum(65_536));
        assert_eq!(
            reuse_iss(SeqNum(u32::MAX - 65_536)),
            SeqNum(1),
            "0 is skipped"
        );
        assert_eq!(reuse_iss(SeqNum(u32::MAX - 65_535)), SeqNum(1));
    }

    #[test]
    fn spare_tcb_boxes_are_bounded() {
        let now = Instant::from_secs(1);
        let mut st = stack();
        let conns: Vec<_> = (0..3 * SPARE_TCBS as u16)
            .map(|i| {
                let local = SocketAddr::new(sa("10.0.0.1:0").ip(), 40000 + i);
                st.connect(now, Some(local), sa("10.0.0.2:80")).unwrap()
            })
            .collect();
        for c in conns {
            st.abort(now, c).unwrap();
        }
        assert_eq!(st.spare.len(), SPARE_TCBS);
    }

    /// Every segment either stack wants to send goes to the other, until both are quiet.
    fn exchange(now: Instant, a: &mut Stack, b: &mut Stack) {
        let mut buf = [0u8; 1600];
        loop {
            let mut moved = false;
            while let Some(n) = a.poll_transmit(now, &mut buf) {
                b.handle_packet(now, &buf[..n]);
                moved = true;
            }
            while let Some(n) = b.poll_transmit(now, &mut buf) {
                a.handle_packet(now, &buf[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// The index entry keeps the slot number whole and its tag out of the slot bits, and a
    /// configured limit beyond what 27 bits can number is capped.
    #[test]
    fn index_entries_pack_slot_and_tag_and_the_limit_is_capped() {
        for (idx, hash) in [
            (0, u64::MAX),
            (SLOT_MASK, 0),
            (SLOT_MASK, u64::MAX),
            (12_345, 1 << 40),
        ] {
            let e = index_entry(idx, hash);
            assert_eq!(e & SLOT_MASK, idx);
            assert_eq!(e & !SLOT_MASK, index_tag(hash));
        }
        // The tag is five bits of the hash above its low 32 (the table's bucket bits).
        assert_eq!(index_tag(0x1F_0000_0000), !SLOT_MASK);
        assert_eq!(index_tag(0xFFFF_FFE0_FFFF_FFFF), 0);
        let s = Stack::new(Config {
            max_connections: usize::MAX,
            ..Config::default()
        });
        assert_eq!(s.max_connections(), MAX_SLOTS);
        let s = Stack::new(Config {
            max_connections: 7,
            ..Config::default()
        });
        assert_eq!(s.max_connections(), 7);
    }

    /// Issue 3 (churn with idle connections): the stale entries churn leaves in the timer heap
    /// are swept against the heap's own live entries, not the connection count. 1,000 idle
    /// ESTABLISHED connections arm no timer; with the old bound (2 x connections + 64) their
    /// presence let the heap grow to ~2,000 stale entries, and every push and pop paid for it.
    #[test]
    fn idle_connections_do_not_let_stale_timer_entries_pile_up() {
        let mut now = Instant::from_secs(1);
        let (mut a, mut b) = (stack(), Stack::new(Config::default()));
        b.add_address(sa("10.0.0.2:0").ip());
        let l = b.listen(sa("10.0.0.2:80"), 4096).unwrap();
        let server = sa("10.0.0.2:80");
        for i in 0..1000u16 {
            let local = SocketAddr::new(sa("10.0.0.1:0").ip(), 20000 + i);
            a.connect(now, Some(local), server).unwrap();
            if i % 100 == 99 {
                exchange(now, &mut a, &mut b);
            }
        }
        let mut idle = Vec::new();
        while let Some(c) = b.accept(l) {
            idle.push(c);
        }
        assert_eq!(idle.len(), 1000);
        // Churn: connect, handshake, close from both ends; the clients stay in TIME-WAIT.
        // The set-up's SYN timers went stale when the handshakes completed; the first sweep
        // comes within the set-up's own heap size of pushes. Measure after that.
        let mut most = 0;
        for cycle in 0..2000 {
            now += Duration::from_millis(3);
            for st in [&mut a, &mut b] {
                if st.poll_timeout().is_some_and(|t| t <= now) {
                    st.handle_timeout(now);
                }
            }
            let c = a.connect(now, None, server).unwrap();
            exchange(now, &mut a, &mut b);
            let s = b.accept(l).expect("accepted");
            a.close(now, c).unwrap();
            exchange(now, &mut a, &mut b);
            b.close(now, s).unwrap();
            exchange(now, &mut a, &mut b);
            assert_eq!(a.state(c), Some(State::TimeWait));
            if cycle >= 1000 {
                most = most.max(a.timers.len()).max(b.timers.len());
            }
            assert!(a.armed <= a.live && b.armed <= b.live);
        }
        assert!(
            most < 200,
            "timer heap reached {most} entries with 1,000 idle connections"
        );
        assert!(idle.iter().all(|&c| b.state(c) == Some(State::Established)));
    }
}
