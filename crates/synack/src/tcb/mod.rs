//! One connection's state machine: the TCB of RFC 9293 §3.3.1 and the rules that move it.
//!
//! The parts live in their own files: `input.rs` is "segment arrives" in the RFC's order,
//! `output.rs` decides what to send next, `timers.rs` runs the timers, `user.rs` the user
//! calls (SEND, RECEIVE, CLOSE, ABORT). The TCB never touches other connections or the
//! listener queues: what it needs from the stack goes through [`Ctx`].

pub(crate) mod autotune;
mod icmp;
mod input;
mod keepalive;
mod output;
mod rack;
pub mod recv_buf;
pub mod ring_pool;
pub mod rtt;
pub mod sack;
pub mod send_buf;
mod timers;
mod tlp;
mod undo;
mod user;

pub(crate) use timers::time_wait_expired;

use crate::cc::{CongestionControl, Controller};
use crate::config::Config;
use crate::counters::Counters;
use crate::event::{Cause, CloseReason, ConnId, Event, EventQueue, ListenerId, TimerKind};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::{Duration, Instant, OptInstant, OptMillis, OptStamp};
use crate::tuple::Tuple;
use crate::wire::{Dscp, TcpFlags, TcpHeader};
use recv_buf::RecvBuf;
use ring_pool::RingPool;
use rtt::RttEstimator;
use send_buf::SendBuf;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// What the TCB needs from its surroundings while it runs.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub config: &'a Config,
    pub events: &'a mut EventQueue,
    pub counters: &'a mut Counters,
    pub ctl: &'a mut CtlQueue,
    /// The stack's rings of the first size, for the buffers (ring_pool.rs).
    pub rings: &'a mut RingPool,
}

/// A segment that belongs to no TCB's sequence space (RSTs in the RST-1 form, replies for
/// dead connections). Sent by the stack from a bounded queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CtlSegment {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// The window field (0 for RSTs).
    pub window: u16,
    /// Options: timestamps on RSTs of connections that use them (TS-3), the full SYN set on
    /// a stateless SYN-cookie SYN,ACK.
    pub options: crate::wire::TcpOptions,
    /// The DSCP it goes out with: its connection's (or listener's, for a cookie SYN,ACK);
    /// None, the stack's default (`Config::dscp`), for a RST that answers no connection.
    pub dscp: Option<crate::wire::Dscp>,
}

/// Bounded queue of control segments; overflow is counted, never grows memory.
#[derive(Debug, Default)]
pub(crate) struct CtlQueue {
    pub queue: VecDeque<CtlSegment>,
    pub dropped: u64,
}

impl CtlQueue {
    const LIMIT: usize = 4096;
    pub fn push(&mut self, s: CtlSegment) {
        if self.queue.len() >= Self::LIMIT {
            self.dropped += 1;
        } else {
            self.queue.push_back(s);
        }
    }

    /// The RST that answers `hdr` when no connection can take it (RST-1, RST-2):
    /// `<SEQ=SEG.ACK><CTL=RST>` if ACK was set, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
    /// Never a RST for a RST (RST-6).
    pub fn reset_for(
        &mut self,
        counters: &mut Counters,
        local: SocketAddr,
        remote: SocketAddr,
        hdr: &TcpHeader,
        seg_len: u32,
    ) {
        if hdr.flags.rst() {
            return;
        }
        let (seq, ack, flags) = if hdr.flags.ack() {
            (hdr.ack, SeqNum(0), TcpFlags::RST)
        } else {
            (SeqNum(0), hdr.seq + seg_len, TcpFlags::RST | TcpFlags::ACK)
        };
        counters.out_rsts += 1;
        self.push(CtlSegment {
            local,
            remote,
            seq,
            ack,
            flags,
            window: 0,
            options: Default::default(),
            dscp: None,
        });
    }
}

/// Every timer kind, in the order `on_timeout` runs them.
const TIMER_KINDS: [TimerKind; 7] = [
    TimerKind::Retransmit,
    TimerKind::Persist,
    TimerKind::DelayedAck,
    TimerKind::TimeWait,
    TimerKind::FinWait2,
    TimerKind::UserTimeout,
    TimerKind::KeepAlive,
];

/// Deadline slots a TCB stores: fewer than timer kinds, because three kinds need no slot of
/// their own (issue 3's memory budget, 8 bytes a slot on every connection):
/// - TIME-WAIT's 2·MSL (MUST-13) and the orphan FIN-WAIT-2 timeout (LX-6) share
///   [`CLOSE_SLOT`]: each is armed only in its own state, the slot reads as that kind only in
///   that state, and it is emptied whenever either state is left;
/// - the user timeout (UI-8, MUST-21) is not stored at all: it is `unacked_since +
///   user_timeout`, both of which the TCB keeps anyway;
/// - the keep-alive timer lives with the keep-alive state, which exists only while
///   keep-alive is on (keepalive.rs).
const SLOTS: usize = 4;
const CLOSE_SLOT: usize = 3;

/// The slot of a stored timer kind (`None` for the derived user timeout and keep-alive).
const fn slot(k: TimerKind) -> Option<usize> {
    match k {
        TimerKind::Retransmit => Some(0),
        TimerKind::Persist => Some(1),
        TimerKind::DelayedAck => Some(2),
        TimerKind::TimeWait | TimerKind::FinWait2 => Some(CLOSE_SLOT),
        TimerKind::KeepAlive | TimerKind::UserTimeout => None,
    }
}

/// The MSS we advertise: MTU - 40 (IPv4) or MTU - 60 (IPv6), never less options (MUST-67).
pub(crate) fn our_mss(config: &Config, local: SocketAddr) -> u16 {
    match local {
        SocketAddr::V4(_) => config.mtu.saturating_sub(40),
        SocketAddr::V6(_) => config.mtu.saturating_sub(60),
    }
    .max(88)
}

/// The window field of our SYN or SYN,ACK (never scaled, WS-4). A receive space the field
/// cannot hold is offered as Linux offers it (LX-19, `tcp_select_initial_window`): 65535
/// rounded down to a multiple of the segment size we expect, which on a SYN,ACK with
/// timestamps is the MSS less their 12 bytes (`tcp_openreq_init_rwin`). A Linux SYN on
/// Ethernet says 64240 (44 x 1460; 64800 over IPv6), its SYN,ACK with timestamps 65160
/// (45 x 1448), and so do ours with the default buffers: captures of both read alike. A
/// smaller space is offered whole (Linux would round it down too; the exact figure keeps
/// small-buffer windows what the application asked for).
pub(crate) fn syn_window(space: u32, mss: u16, synack_with_timestamps: bool) -> u16 {
    if space < 65535 {
        return space as u16;
    }
    let unit = u32::from(mss).saturating_sub(if synack_with_timestamps { 12 } else { 0 });
    if unit == 0 {
        return 65535;
    }
    (65535 - 65535 % unit) as u16
}

/// Our window-scale shift: the smallest whose window covers the largest receive buffer
/// (WS-3, LX-19): `Config::recv_buffer_max` with autotuning (6 MiB by default: 7, as Linux
/// chooses from tcp_rmem[2]), else `Config::recv_buffer`.
pub(crate) fn our_wscale(config: &Config) -> u8 {
    autotune::wscale_for(config.recv_buffer_limit())
}

/// A TIME-WAIT connection reduced to what TIME-WAIT needs (MUST-13, issue 3): the
/// addresses, both sequence numbers, the timestamp state (TS.Recent, its age and our
/// offset, to re-ACK a retransmitted FIN with timestamps and to keep PAWS), the 2·MSL
/// deadline and the rate-limit stamps. About a fifth of a TCB. The stack keeps this instead
/// of the TCB once an orphaned connection in TIME-WAIT has nothing left to send, and
/// rebuilds an equivalent TCB ([`Tcb::from_time_wait`]) for the rare segment, so every
/// TIME-WAIT rule (EP-22 FIN re-ACK and 2·MSL restart, RFC 1337 RST policy, RFC 5961
/// challenge ACKs, RFC 6191 reopening, LX-15 rate limits) runs the one code path. The
/// 2·MSL expiry needs no TCB: both ways end in [`time_wait_expired`].
#[derive(Clone, Debug)]
pub(crate) struct TimeWait {
    pub tuple: Tuple,
    /// SND.NXT (= SND.UNA: our FIN is acknowledged).
    pub snd_nxt: SeqNum,
    pub snd_wnd: u32,
    pub rcv_nxt: SeqNum,
    pub rcv_adv: SeqNum,
    pub ts_recent: u32,
    pub ts_offset: u32,
    pub last_ack_sent: SeqNum,
    /// Listener index + 1 of a passive connection, 0 for an active one.
    pub listener: u32,
    pub ts_recent_at: Instant,
    /// The 2·MSL deadline.
    pub expires: Instant,
    pub last_challenge: OptInstant,
    pub last_oow_ack: OptInstant,
    pub mss: u16,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    /// Bit 0: window scaling, 1: timestamps, 2: SACK.
    pub opts: u8,
}

/// Which rate-limit stamp of [`RateStamps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// The last challenge ACK (BI-6).
    Challenge,
    /// The last answer to an out-of-window segment (LX-15).
    OutOfWindow,
}

/// Two rate-limit stamps in 12 bytes instead of 16 (issue 3's memory budget): the later one
/// in full, the earlier as microseconds before it. An earlier stamp more than 2^31 µs
/// (35.8 minutes) before the later one is dropped, which changes no answer as long as
/// `Config::invalid_ratelimit`, the only interval they are compared with, is shorter than
/// that (it is 500 ms by default, as in Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateStamps {
    /// The later of the two stamps.
    latest: OptInstant,
    /// Bit 31: `latest` is the challenge-ACK stamp. Bits 0..=30: how long before `latest`
    /// the other stamp is, in µs; all ones = there is none.
    other: u32,
}

impl RateStamps {
    const LATEST_IS_CHALLENGE: u32 = 1 << 31;
    const NO_OTHER: u32 = Self::LATEST_IS_CHALLENGE - 1;
    pub const NONE: RateStamps = RateStamps {
        latest: OptInstant::NONE,
        other: Self::NO_OTHER,
    };

    fn latest_kind(&self) -> Stamp {
        if self.other & Self::LATEST_IS_CHALLENGE != 0 {
            Stamp::Challenge
        } else {
            Stamp::OutOfWindow
        }
    }

    pub fn get(&self, k: Stamp) -> Option<Instant> {
        let latest = self.latest.get()?;
        if k == self.latest_kind() {
            return Some(latest);
        }
        let before = self.other & Self::NO_OTHER;
        (before != Self::NO_OTHER)
            .then(|| Instant::from_micros(latest.as_micros().saturating_sub(before.into())))
    }

    /// Record stamp `k` at `now` (no earlier than either stamp: time runs forward).
    pub fn set(&mut self, k: Stamp, now: Instant) {
        let other_kind = match k {
            Stamp::Challenge => Stamp::OutOfWindow,
            Stamp::OutOfWindow => Stamp::Challenge,
        };
        let before = self.get(other_kind).map_or(Self::NO_OTHER, |t| {
            let us = now.saturating_since(t).as_micros();
            us.min(u128::from(Self::NO_OTHER)) as u32
        });
        let which = if k == Stamp::Challenge {
            Self::LATEST_IS_CHALLENGE
        } else {
            0
        };
        self.latest = OptInstant::some(now);
        self.other = before | which;
    }

    /// The stamps of a TIME-WAIT record.
    pub fn from_pair(challenge: Option<Instant>, oow: Option<Instant>) -> RateStamps {
        let mut s = RateStamps::NONE;
        let mut pairs = [(Stamp::Challenge, challenge), (Stamp::OutOfWindow, oow)];
        pairs.sort_by_key(|&(_, t)| t);
        for (k, t) in pairs {
            if let Some(t) = t {
                s.set(k, t);
            }
        }
        s
    }
}

/// Defines the bits of [`Flags`] with a getter and a setter each.
macro_rules! flags {
    ($($(#[$doc:meta])* $bit:literal $get:ident $set:ident;)*) => {
        impl Flags {
            $(
                $(#[$doc])*
                pub fn $get(self) -> bool {
                    self.0 & (1 << $bit) != 0
                }
                pub fn $set(&mut self, on: bool) {
                    if on {
                        self.0 |= 1 << $bit;
                    } else {
                        self.0 &= !(1 << $bit);
                    }
                }
            )*
        }
    };
}

/// One-bit TCB state: a `bool` field costs a byte of every connection, these cost a bit
/// (issue 3's memory budget).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

impl Flags {
    /// The flags of a fresh TCB: window scaling offered as configured, nothing else set.
    fn new(config: &Config) -> Flags {
        let mut f = Flags::default();
        f.set_ws_ok(config.window_scaling);
        f.set_nodelay(!config.nagle);
        f
    }
}

flags! {
    /// The retransmission timer's slot holds a tail loss probe's PTO, not an RTO (tlp.rs).
    0 tlp_armed set_tlp_armed;
    /// Send the tail loss probe at the next poll.
    1 tlp_send set_tlp_send;
    /// A tail loss probe is outstanding up to `Tcb::tlp_end` (RFC 8985 TLP.end_seq).
    2 tlp_outstanding set_tlp_outstanding;
    /// The outstanding probe was a retransmission (RFC 8985 TLP.is_retrans).
    3 tlp_retrans set_tlp_retrans;
    /// Send a keep-alive probe at the next poll (keepalive.rs).
    4 ka_probe set_ka_probe;
    /// `Tcb::rtx_tsval` holds a value.
    5 rtx_tsval_set set_rtx_tsval_set;
    /// Our SYN or SYN,ACK was retransmitted (RTO-12, Karn).
    6 syn_retransmitted set_syn_retransmitted;
    /// The sender-SWS override timer fired: send what the window allows (MUST-38 (4)).
    7 sws_override set_sws_override;
    /// Send a zero-window probe now.
    8 probe_now set_probe_now;
    /// Retransmit the segment at SND.UNA now (fast retransmit).
    9 fast_rtx set_fast_rtx;
    /// `send` came up short; say `Writable` when room appears.
    10 want_writable set_want_writable;
    /// Whether we offer / use window scaling.
    11 ws_ok set_ws_ok;
    /// `Tcb::ooo_fin` holds a FIN's sequence number.
    12 ooo_fin_set set_ooo_fin_set;
    /// `Tcb::rcv_up` holds the urgent pointer.
    13 rcv_up_set set_rcv_up_set;
    /// Nagle's algorithm is off (SHLD-7, TCP_NODELAY).
    14 nodelay set_nodelay;
    /// A `Readable` event is queued and the application has not called recv since: more
    /// data adds none (see `Event::Readable`).
    15 readable_told set_readable_told;
}

/// A connection's IP-header marks in two bytes (the TCB's size is an idle connection's
/// memory, issue 3): our DSCP in bits 0..6, the last DSCP received in bits 6..12 (MAY-9;
/// 0 until something is received: `Tcb::dscp_received` says when it is meaningful), and
/// four ECN bits (RFC 3168), one per [`EcnBit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpMarks(u16);

/// The ECN state of a connection (RFC 3168 §6.1), bits 12..16 of [`IpMarks`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EcnBit {
    /// Negotiated: our new data goes out ECT(0), CE marks are echoed, ECEs answered.
    Ok = 12,
    /// Receiver: a CE-marked segment arrived; every ACK carries ECE until a CWR arrives
    /// (§6.1.3).
    EchoCe = 13,
    /// Sender: cwnd was reduced for an ECE; the next new data segment carries CWR (§6.1.2).
    SendCwr = 14,
    /// Sender: that reduction's window (up to `Tcb::recover`) is not over; ECEs and a loss
    /// in it reduce no further (§6.1.2: once per window of data).
    Reduced = 15,
}

impl IpMarks {
    pub fn new(ours: Dscp) -> IpMarks {
        IpMarks(u16::from(ours.value()))
    }
    /// Our DSCP (MUST-48).
    pub fn ours(self) -> Dscp {
        Dscp::new((self.0 & 0x3F) as u8).expect("six bits")
    }
    pub fn set_ours(&mut self, d: Dscp) {
        self.0 = (self.0 & !0x3F) | u16::from(d.value());
    }
    /// The last DSCP received (MAY-9), 0 before any.
    pub fn received(self) -> Dscp {
        Dscp::new(((self.0 >> 6) & 0x3F) as u8).expect("six bits")
    }
    /// Note a received segment's TOS / Traffic Class byte (its DSCP; ECN is the caller's).
    #[inline(always)]
    pub fn set_received(&mut self, traffic_class: u8) {
        self.0 = (self.0 & !(0x3F << 6)) | (u16::from(traffic_class >> 2) << 6);
    }
    #[inline(always)]
    pub fn ecn(self, b: EcnBit) -> bool {
        self.0 & (1 << b as u16) != 0
    }
    #[inline(always)]
    pub fn set_ecn(&mut self, b: EcnBit, on: bool) {
        if on {
            self.0 |= 1 << b as u16;
        } else {
            self.0 &= !(1 << b as u16);
        }
    }
}

/// The transmission control block of one connection.
pub(crate) struct Tcb {
    pub id: ConnId,
    pub state: State,
    /// Addresses and ports, compact (read them with `local()` / `remote()`).
    pub tuple: Tuple,
    /// Set for a passive open: the listener it came from (MUST-11).
    pub listener: Option<ListenerId>,
    /// Passive connection handed to the application by `accept` (or active: always true).
    pub accepted: bool,
    /// Passive connection placed in its listener's accept queue.
    pub queued: bool,
    /// The application released its handle (`close`); the connection finishes alone.
    pub orphan: bool,
    /// The DSCP of every segment this connection sends, retransmissions included, as the
    /// application last set it (MUST-48, SHLD-21, SHLD-22), of the last segment received
    /// (MAY-9), and the ECN state (RFC 3168): see [`IpMarks`].
    pub marks: IpMarks,
    /// Why the connection ended, once it has.
    pub close_reason: Option<CloseReason>,

    // Send sequence space (RFC 9293 §3.3.1).
    pub iss: SeqNum,
    pub snd_una: SeqNum,
    /// Next sequence number to send (rewound to SND.UNA on retransmission timeout).
    pub snd_nxt: SeqNum,
    /// Highest sequence number ever sent + 1.
    pub snd_max: SeqNum,
    /// Peer's window, scaled (REC-1: u32).
    pub snd_wnd: u32,
    pub max_snd_wnd: u32,
    pub snd_wl1: SeqNum,
    pub snd_wl2: SeqNum,
    /// Sequence number of the first byte in `send_buf`.
    pub snd_buf_seq: SeqNum,
    /// The application is done sending: FIN goes after the queued data.
    pub fin_queued: bool,

    // Receive sequence space (IRS is not stored: see `Tcb::irs`).
    pub rcv_nxt: SeqNum,
    /// Right edge we advertised (never moves left: SHLD-14).
    pub rcv_adv: SeqNum,
    /// Peer's FIN has been received and processed.
    pub fin_received: bool,
    /// RCV.UP as a stream offset: the byte after the last urgent byte announced (EP-20),
    /// valid while `flags.rcv_up_set()`; read and write it with `rcv_up` / `set_rcv_up`.
    /// Only the low 32 bits are kept (issue 3: 4 bytes, not 8): while urgent data is unread
    /// the pointer lies within a buffer or a window of the receive point (far inside 2^31),
    /// and once all of it has been read `recv` forgets the pointer.
    rcv_up: u32,
    /// Sequence number of a FIN that arrived above a hole, valid while
    /// `flags.ooo_fin_set()` (read it with `ooo_fin`). A sequence number rather than a
    /// stream offset (4 bytes, issue 3): the FIN lies within the window, so it is reached
    /// exactly when RCV.NXT equals it.
    ooo_fin: SeqNum,

    // Negotiated options.
    /// Shift applied to the peer's window field (Snd.Wind.Shift, WS-2).
    pub snd_wscale: u8,
    /// Shift applied to our window field (Rcv.Wind.Shift).
    pub rcv_wscale: u8,
    /// Whether we offer / use window scaling: `flags.ws_ok()`.
    pub ts_ok: bool,
    pub sack_ok: bool,
    pub ts_recent: u32,
    pub ts_recent_at: Instant,
    pub ts_offset: u32,
    pub last_ack_sent: SeqNum,
    /// Effective send MSS: payload bytes per full segment (MUST-16).
    pub mss: u32,
    /// MSS we advertise (MUST-67).
    pub our_mss: u16,
    /// Largest segment seen from the peer (receiver's estimate of its MSS).
    /// At most `our_mss`, so 16 bits hold it (issue 3).
    pub rcv_mss: u16,

    pub send_buf: SendBuf,
    pub recv_buf: RecvBuf,

    // Timers and retransmission.
    /// Deadlines, by [`slot`]; read and write them with `timer` / `set_timer`.
    timers: [OptInstant; SLOTS],
    /// The earliest deadline the stack has scheduled for us (lazy timer heap).
    pub scheduled: OptInstant,
    pub rtt: RttEstimator,
    /// Consecutive expiries of the retransmission timer without progress. A byte, as in
    /// Linux (icsk_retransmits, issue 3): a retry limit is compared as at most 255.
    pub retries: u8,
    /// Segment being timed for an RTT sample without timestamps: (end seq, sent at); the
    /// time is none when nothing is timed.
    pub rtt_timing: (SeqNum, OptStamp),
    /// Since when data has been waiting for an acknowledgment (user timeout).
    pub unacked_since: OptInstant,
    /// Abort when data stays unacknowledged this long (UI-8, MUST-21); none = no limit.
    /// The user-timeout deadline is `unacked_since + user_timeout`.
    /// Kept in milliseconds, rounded up (4 bytes, issue 3), as Linux keeps TCP_USER_TIMEOUT.
    pub user_timeout: OptMillis,
    /// Time the last segment was sent (slow start after idle; in SYN-RECEIVED, the last
    /// SYN,ACK: see [`Tcb::last_synack`]).
    pub last_send: Instant,

    /// Congestion control (CUBIC or NewReno, `cc/`); recovery is driven from here.
    pub cc: Controller,
    /// Duplicate ACKs in a row, saturating: a byte (issue 3), since only counts up to
    /// DupThresh matter.
    pub dupacks: u8,
    /// Bytes sent by limited transmit in this run of duplicate ACKs: not part of the
    /// FlightSize that sets ssthresh (RFC 5681 §3.2).
    pub limited_sent: u32,
    /// Highest sequence number sent when the last recovery began (NewReno `recover`, CC-10;
    /// RFC 6675 RecoveryPoint, SK-9).
    pub recover: SeqNum,
    /// SACKed ranges the peer reported (SK-5..SK-8).
    pub sb: sack::Scoreboard,
    /// In RFC 6675 SACK-based loss recovery.
    pub in_recovery: bool,
    /// RFC 6675 HighRxt: retransmitted up to here in this recovery.
    pub high_rxt: SeqNum,

    // ACK generation.
    pub ack_now: bool,
    /// Duplicate ACKs still owed for out-of-order segments of the last batch: one each, so
    /// a sender without SACK can count three (RFC 5681 §4.2, ACK-1); bounded.
    pub dup_acks_owed: u8,
    /// ACKs still to send at once rather than delayed (quick-ACK mode). A byte (issue 3):
    /// `Config::quick_acks` above 255 acts as 255 (Linux's own limit is 16).
    pub quick_acks: u8,
    /// Bytes received since we last sent an ACK.
    pub rcv_unacked: u32,

    // Nagle off (TCP_NODELAY) is `flags.nodelay()`.
    /// Unanswered zero-window probes in a row (a byte like `retries` and Linux's
    /// icsk_probes_out, issue 3).
    pub probes: u8,
    /// Exponent of the persist-timer backoff (SHLD-30); only its first 16 steps matter
    /// (`persist_interval`), so a byte holds it.
    pub persist_backoff: u8,
    /// The last challenge ACK (BI-6 rate limit) and the last ACK sent in answer to an
    /// out-of-window pure ACK (LX-15 rate limit); read them with `last_challenge` /
    /// `last_oow_ack`.
    stamps: RateStamps,
    /// Our TSval when data was last retransmitted: an ACK echoing anything older measures
    /// a stale transmission, not the path, and gives no RTT sample. Valid while
    /// `flags.rtx_tsval_set()`; read and write it with `rtx_tsval` / `set_rtx_tsval`.
    rtx_tsval: u32,
    /// The last soft ICMP error (Linux sk_err_soft): a connect that then times out reports
    /// "unreachable" rather than "timed out".
    pub soft_error: Option<crate::wire::icmp::IcmpError>,
    /// A duplicate segment to report in the next ACK as a D-SACK block: (start, length);
    /// length 0 = none (SK-12, RFC 2883).
    pub dsack_start: SeqNum,
    pub dsack_len: u16,
    /// Tail loss probe (tlp.rs, RK-3, RK-4): TLP.end_seq; the rest is in `flags`.
    pub tlp_end: SeqNum,
    /// RACK's lasting state (rack.rs, RK-1, RK-2): minimum RTT, reordering window, timer.
    pub rack: rack::RackState,
    /// Single-bit state packed into two bytes (issue 3's memory budget).
    pub flags: Flags,
    /// Keep-alive (keepalive.rs): its timing, probes sent without an answer and its timer,
    /// boxed, present only while keep-alive is on; the probe to send now is a flag.
    pub ka: keepalive::KaState,
    /// Buffer autotuning (LX-11, autotune.rs): boxed, present only once the connection has
    /// received more than an initial window with autotuning on, or has a pinned size still
    /// to reach.
    pub tune: Option<Box<autotune::Tune>>,
}

/// What a fresh TCB takes from the configuration that has to be worked out (our MSS, our
/// window shift, the initial RTO, ...), worked out once per stack: a stack's configuration
/// never changes, and `Tcb::reinit` runs for every connection opened (issue 3's churn:
/// twice a lifecycle, where these conversions were ~50 instructions each time).
#[derive(Clone, Debug)]
pub(crate) struct FreshTcb {
    our_mss_v4: u16,
    our_mss_v6: u16,
    /// Our window shift, 0 without window scaling.
    rcv_wscale: u8,
    rtt: RttEstimator,
    user_timeout: OptMillis,
    quick_acks: u8,
    flags: Flags,
}

impl FreshTcb {
    pub fn new(config: &Config) -> FreshTcb {
        let any = |ip: std::net::IpAddr| SocketAddr::new(ip, 0);
        FreshTcb {
            our_mss_v4: our_mss(config, any(std::net::Ipv4Addr::UNSPECIFIED.into())),
            our_mss_v6: our_mss(config, any(std::net::Ipv6Addr::UNSPECIFIED.into())),
            rcv_wscale: if config.window_scaling {
                our_wscale(config)
            } else {
                0
            },
            rtt: RttEstimator::new(config.rto_initial, config.rto_max),
            user_timeout: config.user_timeout.into(),
            quick_acks: config.quick_acks.min(u32::from(u8::MAX)) as u8,
            flags: Flags::new(config),
        }
    }

    /// The MSS we advertise from `local` ([`our_mss`]).
    fn our_mss(&self, local: SocketAddr) -> u16 {
        match local {
            SocketAddr::V4(_) => self.our_mss_v4,
            SocketAddr::V6(_) => self.our_mss_v6,
        }
    }
}

/// The fields of a fresh TCB in CLOSED with both sequence spaces unset, written once for
/// the two ways of making one: `Tcb::new` builds a value ([`fresh_value`]), `Tcb::reinit`
/// overwrites a spare TCB where it lies ([`fresh_in_place`]). `$emit` gets every
/// `field: value` pair, in declaration order.
macro_rules! fresh_tcb {
    (
        $emit:ident!($($target:tt)*),
        $id:ident, $config:ident, $fresh:ident, $local:ident, $remote:ident,
        $iss:ident, $ts_offset:ident, $listener:ident, $now:ident
    ) => {{
        $emit!(($($target)*)
            id: $id,
            state: State::Closed,
            tuple: Tuple::new($local, $remote),
            listener: $listener,
            accepted: $listener.is_none(),
            queued: false,
            orphan: false,
            marks: IpMarks::new($config.dscp),
            close_reason: None,
            iss: $iss,
            snd_una: $iss,
            snd_nxt: $iss,
            snd_max: $iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: $iss,
            snd_buf_seq: $iss + 1,
            fin_queued: false,
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            fin_received: false,
            rcv_up: 0,
            ooo_fin: SeqNum(0),
            snd_wscale: 0,
            rcv_wscale: $fresh.rcv_wscale,
            ts_ok: $config.timestamps,
            sack_ok: $config.sack,
            ts_recent: 0,
            ts_recent_at: $now,
            ts_offset: $ts_offset,
            last_ack_sent: SeqNum(0),
            // MUST-15: 536 / 1220 until the peer says otherwise.
            mss: match $remote {
                SocketAddr::V4(_) => 536,
                SocketAddr::V6(_) => 1220,
            },
            our_mss: $fresh.our_mss($local),
            rcv_mss: 536,
            send_buf: SendBuf::new($config.send_buffer),
            recv_buf: RecvBuf::new($config.recv_buffer),
            timers: [OptInstant::NONE; SLOTS],
            scheduled: OptInstant::NONE,
            rtt: $fresh.rtt.clone(),
            retries: 0,
            rtt_timing: (SeqNum(0), OptStamp::NONE),
            unacked_since: OptInstant::NONE,
            user_timeout: $fresh.user_timeout,
            last_send: $now,
            cc: Controller::new($config.congestion_control, 536, 536),
            dupacks: 0,
            limited_sent: 0,
            recover: $iss,
            sb: sack::Scoreboard::default(),
            in_recovery: false,
            high_rxt: $iss,
            ack_now: false,
            dup_acks_owed: 0,
            quick_acks: $fresh.quick_acks,
            rcv_unacked: 0,
            probes: 0,
            persist_backoff: 0,
            stamps: RateStamps::NONE,
            rtx_tsval: 0,
            soft_error: None,
            dsack_start: SeqNum(0),
            dsack_len: 0,
            tlp_end: SeqNum(0),
            rack: rack::RackState::new(),
            flags: $fresh.flags,
            ka: keepalive::KaState::new($config.keepalive),
            tune: None,
        )
    }};
}

/// [`fresh_tcb`] as a new value.
macro_rules! fresh_value {
    (() $($field:ident: $value:expr,)*) => {
        Tcb { $($field: $value,)* }
    };
}

/// [`fresh_tcb`] stored field by field into the TCB `$tcb` (a `&mut Tcb`), each old value
/// dropped as its field is overwritten. The pattern without `..` fails to compile if a
/// field is left out, so nothing of the previous connection can survive.
macro_rules! fresh_in_place {
    (($tcb:expr) $($field:ident: $value:expr,)*) => {{
        let t: &mut Tcb = $tcb;
        let Tcb { $($field: _,)* } = &*t;
        $(t.$field = $value;)*
    }};
}

impl Tcb {
    /// A fresh TCB in CLOSED with both sequence spaces unset.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn new(
        id: ConnId,
        config: &Config,
        local: SocketAddr,
        remote: SocketAddr,
        iss: SeqNum,
        ts_offset: u32,
        listener: Option<ListenerId>,
        now: Instant,
    ) -> Tcb {
        let fresh = &FreshTcb::new(config);
        fresh_tcb!(
            fresh_value!(),
            id,
            config,
            fresh,
            local,
            remote,
            iss,
            ts_offset,
            listener,
            now
        )
    }

    /// Make this (spare) TCB exactly what `Tcb::new` with these arguments returns, in
    /// place: the stack reuses freed TCBs' boxes (issue 3's churn), and a new value built
    /// on the stack then moved into the box was the costliest part of opening a connection
    /// after its ISN hash (callgrind: the struct's ~70 stores, then a 440-byte memcpy).
    /// `fresh` is `FreshTcb::new(config)`, kept by the stack.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn reinit(
        &mut self,
        id: ConnId,
        config: &Config,
        fresh: &FreshTcb,
        local: SocketAddr,
        remote: SocketAddr,
        iss: SeqNum,
        ts_offset: u32,
        listener: Option<ListenerId>,
        now: Instant,
    ) {
        fresh_tcb!(
            fresh_in_place!(self),
            id,
            config,
            fresh,
            local,
            remote,
            iss,
            ts_offset,
            listener,
            now
        )
    }

    /// Our address and port.
    pub fn local(&self) -> SocketAddr {
        self.tuple.local()
    }
    /// The peer's address and port.
    pub fn remote(&self) -> SocketAddr {
        self.tuple.remote()
    }

    /// The DSCP of the last segment received (MAY-9): none before the handshake's answer
    /// (SYN-SENT); a passive connection was made by the SYN it received.
    pub fn dscp_received(&self) -> Option<Dscp> {
        (self.state != State::SynSent).then(|| self.marks.received())
    }

    /// Whether this TCB may be kept as a [`TimeWait`] record: an orphan in TIME-WAIT with
    /// nothing to send and no timer but 2·MSL, whose listener bookkeeping is finished.
    ///
    /// Asked each time a TCB leaves the transmit queue (once a segment or so): the first
    /// two tests, inlined, settle it for every TCB not in TIME-WAIT.
    #[inline]
    pub fn can_compact(&self) -> bool {
        self.state == State::TimeWait && self.orphan && self.compactable()
    }

    /// The rest of [`Tcb::can_compact`], for an orphan in TIME-WAIT.
    fn compactable(&self) -> bool {
        self.accepted
            && (self.listener.is_none() || self.queued)
            && !self.ack_now
            && self.dup_acks_owed == 0
            && !self.flags.probe_now()
            && !self.flags.fast_rtx()
            && self.send_buf.is_empty()
            && self.recv_buf.readable() == 0
            && !self.recv_buf.has_out_of_order()
            && self.snd_una == self.snd_max
            && self.snd_nxt == self.snd_max
            && self.fin_acked()
            && self.fin_received
            && self.rcv_up().is_none()
            && self.close_reason.is_none()
            && self.only_time_wait_timer()
    }

    /// No timer armed but 2·MSL, which is. In TIME-WAIT the FIN-WAIT-2 kind reads as none
    /// (the shared slot is TIME-WAIT's), so the stored slots before it, the user timeout
    /// and keep-alive are all there is to look at: asked of every TCB that can become a
    /// record (issue 3's churn: once a lifecycle), the loop over every kind through
    /// `timer()` cost ~100 instructions.
    fn only_time_wait_timer(&self) -> bool {
        debug_assert_eq!(self.state, State::TimeWait);
        let only = self.timers[..CLOSE_SLOT].iter().all(|t| t.get().is_none())
            && self.timer(TimerKind::UserTimeout).is_none()
            && self.timer(TimerKind::KeepAlive).is_none()
            && self.timer(TimerKind::TimeWait).is_some();
        debug_assert_eq!(
            only,
            TIMER_KINDS
                .iter()
                .all(|&k| k == TimerKind::TimeWait || self.timer(k).is_none())
                && self.timer(TimerKind::TimeWait).is_some()
        );
        only
    }

    /// The compact record of a TCB for which [`Tcb::can_compact`] holds.
    pub fn to_time_wait(&self) -> TimeWait {
        TimeWait {
            tuple: self.tuple,
            snd_nxt: self.snd_nxt,
            snd_wnd: self.snd_wnd,
            rcv_nxt: self.rcv_nxt,
            rcv_adv: self.rcv_adv,
            ts_recent: self.ts_recent,
            ts_offset: self.ts_offset,
            last_ack_sent: self.last_ack_sent,
            listener: self.listener.map_or(0, |l| l.0.wrapping_add(1)),
            ts_recent_at: self.ts_recent_at,
            expires: self.timer(TimerKind::TimeWait).unwrap_or(Instant::ZERO),
            last_challenge: self.last_challenge().into(),
            last_oow_ack: self.last_oow_ack().into(),
            mss: self.mss.min(u16::MAX as u32) as u16,
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            opts: u8::from(self.flags.ws_ok())
                | u8::from(self.ts_ok) << 1
                | u8::from(self.sack_ok) << 2,
        }
    }

    /// A TCB equivalent, for everything TIME-WAIT does, to the one `tw` was made from.
    /// What TIME-WAIT never uses (RTT estimate, congestion state) starts fresh.
    pub fn from_time_wait(tw: &TimeWait, id: ConnId, config: &Config, now: Instant) -> Tcb {
        let listener = tw.listener.checked_sub(1).map(ListenerId);
        let s = tw.snd_nxt;
        let mut t = Tcb::new(
            id,
            config,
            tw.tuple.local(),
            tw.tuple.remote(),
            s,
            tw.ts_offset,
            listener,
            now,
        );
        t.state = State::TimeWait;
        t.accepted = true;
        t.queued = listener.is_some();
        t.orphan = true;
        // Our FIN is sent and acknowledged: it occupies S - 1, the send buffer is empty.
        t.iss = s - 2;
        t.snd_buf_seq = s - 1;
        t.fin_queued = true;
        t.snd_wnd = tw.snd_wnd;
        t.max_snd_wnd = tw.snd_wnd;
        t.snd_wl1 = tw.rcv_nxt;
        t.rcv_nxt = tw.rcv_nxt;
        t.rcv_adv = tw.rcv_adv;
        t.fin_received = true;
        t.snd_wscale = tw.snd_wscale;
        t.rcv_wscale = tw.rcv_wscale;
        t.flags.set_ws_ok(tw.opts & 1 != 0);
        t.ts_ok = tw.opts & 2 != 0;
        t.sack_ok = tw.opts & 4 != 0;
        t.ts_recent = tw.ts_recent;
        t.ts_recent_at = tw.ts_recent_at;
        t.last_ack_sent = tw.last_ack_sent;
        t.mss = u32::from(tw.mss);
        t.stamps = RateStamps::from_pair(tw.last_challenge.get(), tw.last_oow_ack.get());
        t.set_timer(TimerKind::TimeWait, tw.expires);
        t.scheduled = OptInstant::some(tw.expires);
        t
    }

    /// Set the initial send sequence number (a SYN-cookie connection takes the cookie's).
    pub fn set_iss(&mut self, iss: SeqNum) {
        self.iss = iss;
        self.snd_una = iss;
        self.snd_nxt = iss;
        self.snd_max = iss;
        self.snd_wl2 = iss;
        self.snd_buf_seq = iss + 1;
        self.recover = iss;
    }

    /// Move to `to`, reporting the transition and keeping the counters (Tcp MIB) true.
    pub fn set_state(&mut self, ctx: &mut Ctx, to: State, cause: Cause) {
        let from = self.state;
        if from == to {
            return;
        }
        let estab = |s: State| matches!(s, State::Established | State::CloseWait);
        if estab(from) && !estab(to) {
            ctx.counters.curr_estab = ctx.counters.curr_estab.saturating_sub(1);
        }
        if !estab(from) && estab(to) {
            ctx.counters.curr_estab += 1;
        }
        if from == State::TimeWait {
            ctx.counters.curr_time_wait = ctx.counters.curr_time_wait.saturating_sub(1);
        }
        if to == State::TimeWait {
            ctx.counters.curr_time_wait += 1;
        }
        match (from, to) {
            (State::Closed, State::SynSent) => ctx.counters.active_opens += 1,
            (State::Listen, State::SynReceived) => ctx.counters.passive_opens += 1,
            (State::SynSent | State::SynReceived, State::Closed | State::Listen) => {
                ctx.counters.attempt_fails += 1
            }
            (State::Established | State::CloseWait, State::Closed) if cause == Cause::RecvRst => {
                ctx.counters.estab_resets += 1
            }
            _ => {}
        }
        self.state = to;
        if matches!(from, State::TimeWait | State::FinWait2) {
            // The shared slot belonged to the state being left (see `SLOTS`).
            self.timers[CLOSE_SLOT] = OptInstant::NONE;
        }
        ctx.events.push(Event::StateChanged {
            conn: self.id,
            from,
            to,
            cause,
        });
        match to {
            State::TimeWait => {
                // MUST-13: 2*MSL; every other timer stops (EP-22).
                self.clear_timers();
                self.set_timer(TimerKind::TimeWait, ctx.now + ctx.config.time_wait);
                if ctx.counters.curr_time_wait > ctx.config.max_time_wait as u64 {
                    self.time_wait_overflow(ctx);
                }
            }
            State::FinWait2 => self.arm_fin_wait_2(ctx),
            State::Established => self.keepalive_start(ctx),
            _ => {}
        }
    }

    /// The TIME-WAIT table is full: like Linux, this connection skips TIME-WAIT. The ACK of
    /// the peer's FIN still goes out first (Linux sends it before tcp_time_wait); only a
    /// retransmission of that FIN would miss us. Out of line and cold: `set_state` runs on
    /// every transition, and this branch's calls made all of them save more registers.
    #[cold]
    #[inline(never)]
    fn time_wait_overflow(&mut self, ctx: &mut Ctx) {
        ctx.counters.time_wait_overflow += 1;
        if self.ack_now {
            let h = self.header(ctx, self.snd_max, TcpFlags::ACK);
            ctx.counters.out_segs += 1;
            ctx.ctl.push(CtlSegment {
                local: self.local(),
                remote: self.remote(),
                seq: h.seq,
                ack: h.ack,
                flags: h.flags,
                window: h.window,
                options: h.options,
                dscp: Some(self.marks.ours()),
            });
        }
        self.terminate(ctx, CloseReason::Normal, Cause::TimeWaitFull);
    }

    /// Enter CLOSED for good, telling the application why (MUST-12).
    pub fn terminate(&mut self, ctx: &mut Ctx, reason: CloseReason, cause: Cause) {
        self.clear_timers();
        self.ack_now = false;
        if reason != CloseReason::Normal {
            // RST-5: a reset or failed connection flushes its queues.
            self.send_buf = SendBuf::new(ctx.config.send_buffer);
            self.recv_buf = RecvBuf::new(ctx.config.recv_buffer);
            // The autotuning measure counted bytes of the ring just dropped (LX-11): its
            // stream offsets would now run backwards.
            self.tune = None;
        }
        self.close_reason = Some(reason);
        self.set_state(ctx, State::Closed, cause);
        ctx.events.push(Event::Closed {
            conn: self.id,
            reason,
        });
    }

    /// Passive SYN-RECEIVED returning to LISTEN (MUST-11, RST-5): the child is simply gone;
    /// the listener stays, and the application is told nothing.
    pub fn back_to_listen(&mut self, ctx: &mut Ctx, cause: Cause) {
        self.clear_timers();
        self.ack_now = false;
        self.close_reason = Some(CloseReason::Reset);
        self.set_state(ctx, State::Listen, cause);
    }

    /// True once the stack may forget this TCB.
    pub fn is_dead(&self) -> bool {
        match self.state {
            State::Listen => true,
            State::Closed => self.close_reason.is_some() && (self.orphan || !self.accepted),
            _ => false,
        }
    }

    /// Arm timer `k` for `at`. The user timeout is not armed this way: it follows
    /// `unacked_since` ([`Tcb::mark_unacked_since`]). TIME-WAIT and FIN-WAIT-2 are armed only
    /// in their own state (their shared slot reads as neither elsewhere), keep-alive only
    /// while it is on.
    pub fn set_timer(&mut self, k: TimerKind, at: Instant) {
        debug_assert!(k != TimerKind::UserTimeout);
        debug_assert!(k != TimerKind::TimeWait || self.state == State::TimeWait);
        debug_assert!(k != TimerKind::FinWait2 || self.state == State::FinWait2);
        debug_assert!(k != TimerKind::KeepAlive || self.ka.enabled());
        match k {
            TimerKind::KeepAlive => self.ka.set_deadline(OptInstant::some(at)),
            _ => {
                if let Some(i) = slot(k) {
                    self.timers[i] = OptInstant::some(at);
                }
            }
        }
    }
    /// Disarm timer `k`; disarming the user timeout forgets `unacked_since`.
    pub fn clear_timer(&mut self, k: TimerKind) {
        match k {
            TimerKind::UserTimeout => self.unacked_since = OptInstant::NONE,
            TimerKind::KeepAlive => self.ka.set_deadline(OptInstant::NONE),
            // Only in its own state does the shared slot hold this kind.
            TimerKind::TimeWait | TimerKind::FinWait2 if self.timer(k).is_none() => {}
            _ => {
                if let Some(i) = slot(k) {
                    self.timers[i] = OptInstant::NONE;
                }
            }
        }
    }
    pub fn timer(&self, k: TimerKind) -> Option<Instant> {
        match k {
            TimerKind::UserTimeout => {
                let d = self.user_timeout.get()?;
                Some(self.unacked_since.get()? + d)
            }
            TimerKind::KeepAlive => self.ka.deadline(),
            TimerKind::TimeWait if self.state != State::TimeWait => None,
            TimerKind::FinWait2 if self.state != State::FinWait2 => None,
            _ => self.timers[slot(k)?].get(),
        }
    }
    /// Stop every timer (the user timeout too: nothing counts as unacknowledged any more).
    pub fn clear_timers(&mut self) {
        self.timers = [OptInstant::NONE; SLOTS];
        self.unacked_since = OptInstant::NONE;
        self.ka.set_deadline(OptInstant::NONE);
    }
    /// The earliest armed timer. The stack asks after every segment in and out (issue 3's
    /// churn profile: ~28 times a connection lifetime), so the stored slots are compared as
    /// raw values, where "none" (`u64::MAX`) orders after every time. The shared
    /// [`CLOSE_SLOT`] can be read raw: `set_state` empties it whenever TIME-WAIT or
    /// FIN-WAIT-2 is left, so outside those states it reads as none, as `timer()` says.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut stored = OptInstant::NONE;
        for &t in &self.timers {
            if t.raw() < stored.raw() {
                stored = t;
            }
        }
        let mut d = stored.get();
        // The derived kinds exist only with a user timeout set or keep-alive on.
        for k in [TimerKind::UserTimeout, TimerKind::KeepAlive] {
            if let Some(t) = self.timer(k) {
                d = Some(d.map_or(t, |d| d.min(t)));
            }
        }
        debug_assert_eq!(d, TIMER_KINDS.iter().filter_map(|&k| self.timer(k)).min());
        d
    }

    /// Arm the orphan FIN-WAIT-2 timer (LX-6): only for connections the application closed;
    /// a half-closed connection it still holds waits for the peer as long as it takes.
    pub fn arm_fin_wait_2(&mut self, ctx: &mut Ctx) {
        if self.state == State::FinWait2 && self.orphan {
            self.set_timer(TimerKind::FinWait2, ctx.now + ctx.config.fin_wait_2_timeout);
        }
    }

    /// Whether `count` expiries (retries, probes) reach the limit `limit` from `Config`;
    /// counts are bytes (issue 3), so a limit above 255 acts as 255 (Linux's retry counters
    /// are bytes too; 255 expiries of a 120 s RTO are 8.5 hours).
    pub fn limit_reached(count: u8, limit: u32) -> bool {
        u32::from(count) >= limit.min(u32::from(u8::MAX))
    }

    /// RCV.UP, the stream offset after the last urgent byte, if urgent data was announced
    /// and not all read: the offset nearest the receive point with the low 32 bits kept.
    pub fn rcv_up(&self) -> Option<u64> {
        if !self.flags.rcv_up_set() {
            return None;
        }
        let next = self.recv_buf.next();
        let delta = self.rcv_up.wrapping_sub(next as u32) as i32;
        Some((next as i64 + i64::from(delta)).max(0) as u64)
    }
    pub fn set_rcv_up(&mut self, up: Option<u64>) {
        self.flags.set_rcv_up_set(up.is_some());
        self.rcv_up = up.unwrap_or(0) as u32;
    }

    /// IRS, the peer's initial sequence number. Not stored (issue 3, 4 bytes): RCV.NXT is
    /// IRS + 1 (the SYN) + the bytes taken in (the stream offset of RCV.NXT) + 1 once the
    /// FIN is in. Only SYN-RECEIVED asks (a retransmitted SYN, S-3, EP-23), where the
    /// receive buffer is never replaced, so the count is exact.
    pub fn irs(&self) -> SeqNum {
        self.rcv_nxt - 1 - self.recv_buf.next() as u32 - u32::from(self.fin_received)
    }

    /// The sequence number of a FIN that arrived above a hole, if one did.
    pub fn ooo_fin(&self) -> Option<SeqNum> {
        self.flags.ooo_fin_set().then_some(self.ooo_fin)
    }
    pub fn set_ooo_fin(&mut self, fin: Option<SeqNum>) {
        self.flags.set_ooo_fin_set(fin.is_some());
        self.ooo_fin = fin.unwrap_or(SeqNum(0));
    }

    /// The last challenge ACK (BI-6 rate limit), if any.
    pub fn last_challenge(&self) -> Option<Instant> {
        self.stamps.get(Stamp::Challenge)
    }
    pub fn set_last_challenge(&mut self, now: Instant) {
        self.stamps.set(Stamp::Challenge, now);
    }
    /// The last ACK sent in answer to an out-of-window segment (LX-15 rate limit), if any.
    pub fn last_oow_ack(&self) -> Option<Instant> {
        self.stamps.get(Stamp::OutOfWindow)
    }
    pub fn set_last_oow_ack(&mut self, now: Instant) {
        self.stamps.set(Stamp::OutOfWindow, now);
    }

    /// Our TSval when data was last retransmitted, if any since everything was acknowledged.
    pub fn rtx_tsval(&self) -> Option<u32> {
        self.flags.rtx_tsval_set().then_some(self.rtx_tsval)
    }
    pub fn set_rtx_tsval(&mut self, v: Option<u32>) {
        self.flags.set_rtx_tsval_set(v.is_some());
        self.rtx_tsval = v.unwrap_or(0);
    }

    /// Last time a SYN,ACK was sent, for rate-limiting the answers to retransmitted SYNs in a
    /// passive SYN-RECEIVED (S-3, LX-15). Not stored (issue 3's memory budget, 8 bytes): a
    /// connection that is not synchronized sends nothing but its SYN or SYN,ACK
    /// (`poll_segment` runs the data path only once synchronized), so in SYN-RECEIVED the last
    /// send *is* the last SYN,ACK, once one has gone out (SND.MAX past ISS).
    pub fn last_synack(&self) -> Option<Instant> {
        debug_assert!(self.state == State::SynReceived);
        self.snd_max.gt(self.iss).then_some(self.last_send)
    }

    /// Data (or SYN/FIN) is outstanding since `since`: the user timeout, if any, now runs
    /// from then (its deadline is derived, see `SLOTS`).
    pub fn mark_unacked_since(&mut self, since: Instant) {
        self.unacked_since = OptInstant::some(since);
    }

    /// Nothing is outstanding any more (which also disarms the user timeout).
    pub fn clear_unacked(&mut self) {
        self.unacked_since = OptInstant::NONE;
    }

    /// Sequence number our FIN occupies (valid once `fin_queued`).
    pub fn fin_seq(&self) -> SeqNum {
        self.snd_buf_seq + self.send_buf.len() as u32
    }
    /// Our FIN has been sent (at least once).
    pub fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd_max.gt(self.fin_seq())
    }
    /// Our FIN has been acknowledged.
    pub fn fin_acked(&self) -> bool {
        self.fin_sent() && self.snd_una.gt(self.fin_seq())
    }

    /// The receive window we can offer now: free buffer space, less a rounding margin so
    /// that rounding the scaled field up never promises more than the buffer holds (WS-6).
    pub fn rcv_space(&self) -> u32 {
        let margin = (1u32 << self.rcv_wscale) - 1;
        let max = 65535u32 << self.rcv_wscale; // the most the window field can say
        (self.recv_buf.window() as u32)
            .saturating_sub(margin)
            .min(max)
    }

    /// RCV.WND: what remains of the window we advertised.
    pub fn rcv_wnd(&self) -> u32 {
        if self.rcv_adv.gt(self.rcv_nxt) {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        }
    }

    /// Our timestamp clock: milliseconds plus a per-connection offset (TS-8).
    pub fn ts_now(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// The congestion window, bytes.
    pub fn cwnd(&self) -> u32 {
        self.cc.cwnd()
    }

    /// Bytes sent and not yet acknowledged (FlightSize).
    pub fn flight_size(&self) -> u32 {
        self.snd_max - self.snd_una
    }

    /// The retransmission timeout currently in force.
    pub fn rto(&self) -> Duration {
        self.rtt.rto()
    }

    /// When a retransmission timer started at `now` fires: `now + self.rto()`, in integer
    /// microseconds (the same value, see `RttEstimator::rto_micros`).
    pub fn rto_deadline(&self, now: Instant) -> Instant {
        Instant::from_micros(now.as_micros().saturating_add(self.rtt.rto_micros()))
    }

    /// Unread bytes that are urgent (MUST-33): those before RCV.UP not yet read.
    pub fn urgent_pending(&self) -> usize {
        let readable = self.recv_buf.readable() as u64;
        let unread_start = self.recv_buf.next() - readable;
        match self.rcv_up() {
            Some(up) if up > unread_start => (up - unread_start).min(readable) as usize,
            _ => 0,
        }
    }

    /// Stream offset (0 = first byte after the peer's SYN) of a receive sequence number.
    pub fn rcv_offset(&self, seq: SeqNum) -> u64 {
        let delta = seq.diff(self.rcv_nxt) as i64;
        (self.recv_buf.next() as i64 + delta).max(0) as u64
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fresh_tests {
    use super::*;

    /// LX-19: the SYN windows Linux puts on the wire with its default buffers, and a
    /// smaller space offered whole.
    #[test]
    fn lx_19_syn_windows_are_linux_s() {
        assert_eq!(syn_window(128 * 1024, 1460, false), 64240); // SYN, IPv4
        assert_eq!(syn_window(128 * 1024, 1440, false), 64800); // SYN, IPv6
        assert_eq!(syn_window(128 * 1024, 1460, true), 65160); // SYN,ACK with timestamps
        assert_eq!(syn_window(65535, 1460, false), 64240);
        assert_eq!(syn_window(65534, 1460, false), 65534);
        assert_eq!(syn_window(4000, 1460, true), 4000);
        assert_eq!(syn_window(0, 1460, false), 0);
        assert_eq!(
            syn_window(1 << 20, 12, true),
            65535,
            "no unit left: the field's most"
        );
    }

    /// `FreshTcb` holds what the configuration gives a new TCB, for configurations off the
    /// defaults too (window scaling off, a user timeout, Nagle off, a small MTU, a huge
    /// quick-ACK count), and both families' MSS.
    #[test]
    fn fresh_tcb_is_what_the_configuration_says() {
        let configs = [
            Config::default(),
            Config {
                window_scaling: false,
                user_timeout: Some(Duration::from_millis(1500)),
                nagle: false,
                mtu: 600,
                quick_acks: 1000,
                rto_initial: Duration::from_secs(3),
                rto_max: Duration::from_secs(2),
                recv_buffer: 1 << 20,
                ..Config::default()
            },
        ];
        for config in &configs {
            let f = FreshTcb::new(config);
            for local in ["10.0.0.1:80", "[2001:db8::1]:80"] {
                let local: SocketAddr = local.parse().unwrap();
                assert_eq!(f.our_mss(local), our_mss(config, local));
            }
            let wscale = if config.window_scaling {
                our_wscale(config)
            } else {
                0
            };
            assert_eq!(f.rcv_wscale, wscale);
            assert_eq!(f.rtt, RttEstimator::new(config.rto_initial, config.rto_max));
            assert!(f.user_timeout == config.user_timeout.into());
            assert_eq!(u32::from(f.quick_acks), config.quick_acks.min(255));
            assert_eq!(f.flags, Flags::new(config));
        }
    }
}
