use super::ring_pool::RingPool;
use super::{CtlQueue, Ctx, Tcb, TIMER_KINDS};
use crate::config::{Config, KeepAlive};
use crate::counters::Counters;
use crate::event::{Cause, CloseReason, ConnId, EventQueue, TimerKind};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::{Duration, Instant};

/// Our DSCP, the received one and the four ECN bits share two bytes without disturbing
/// each other.
#[test]
fn ip_marks_keep_every_field_apart() {
    use super::{EcnBit, IpMarks};
    use crate::wire::Dscp;
    let bits = [EcnBit::Ok, EcnBit::EchoCe, EcnBit::SendCwr, EcnBit::Reduced];
    for a in 0..64u8 {
        let mut p = IpMarks::new(Dscp::new(a).unwrap());
        assert_eq!((p.ours().value(), p.received().value()), (a, 0));
        for b in 0..64u8 {
            for (k, &bit) in bits.iter().enumerate() {
                let on = (a ^ b) >> (k % 4) & 1 == 1;
                p.set_ecn(bit, on);
            }
            // ECN bits of the received byte are not the DSCP's.
            p.set_received(b << 2 | (b & 3));
            assert_eq!((p.ours().value(), p.received().value()), (a, b));
            let c = 63 - b;
            p.set_ours(Dscp::new(c).unwrap());
            assert_eq!((p.ours().value(), p.received().value()), (c, b));
            for (k, &bit) in bits.iter().enumerate() {
                assert_eq!(p.ecn(bit), (a ^ b) >> (k % 4) & 1 == 1, "bit {k}");
            }
            p.set_ours(Dscp::new(a).unwrap());
        }
    }
}

/// The TCB's size is most of an idle connection's memory (issue 3: <= 512 B per idle
/// connection). It was 768 B, then 544 B; keep-alive (a timer slot and 7 bytes of state) and
/// the remembered ICMP soft error brought it to 560 B, tail loss probe state (8 B) to 568 B.
/// u32 RTT fields, two fewer timer slots and CUBIC's idle stamp moved into its epoch brought
/// it to 512 B; the SYN,ACK stamp read from `last_send`, 4-byte-aligned optional instants and
/// one-bit flags to 488 B; u16 retry/probe counts, a u8 persist exponent and two more bools
/// as flag bits to 480 B; the out-of-order FIN as a sequence number, four more bools as bits
/// and quick_acks as a byte to 472 B; RCV.UP in 32 bits, byte retry counters and a 16-bit
/// rcv_mss to 464 B; IRS derived and the user timeout in milliseconds to 456 B; the two
/// rate-limit stamps in 12 bytes, nodelay as a bit and dupacks as a byte to 448 B; the RTT
/// estimator without stored limits (16 B) and keep-alive boxed with its timer to 440 B.
/// The DSCP pair (MUST-48, MAY-9) fits in two bytes of padding. Buffer autotuning's box
/// pointer (LX-11, `Tcb::tune`; the pinned-size flags went into the buffers' padding) and
/// RACK's lasting state (RK-1, RK-2: minimum RTT, reordering window, timer bit, packed in
/// four bytes) took it to 456 B; the start of an RTT measurement as a 4-byte stamp
/// (`OptStamp`) brought it back to 448 B. RACK's record of the flight and HyStart++'s rounds
/// share the SACK scoreboard's box. This fails if fields grow it further.
#[test]
fn tcb_stays_compact() {
    assert!(
        std::mem::size_of::<super::Tcb>() <= 448,
        "{}",
        std::mem::size_of::<super::Tcb>()
    );
}

/// Each flag is its own bit: setting or clearing one leaves the others as they were.
#[test]
fn flags_are_independent_bits() {
    use super::Flags;
    type Get = fn(Flags) -> bool;
    type Set = fn(&mut Flags, bool);
    let all: [(Get, Set); 16] = [
        (Flags::tlp_armed, Flags::set_tlp_armed),
        (Flags::tlp_send, Flags::set_tlp_send),
        (Flags::tlp_outstanding, Flags::set_tlp_outstanding),
        (Flags::tlp_retrans, Flags::set_tlp_retrans),
        (Flags::ka_probe, Flags::set_ka_probe),
        (Flags::rtx_tsval_set, Flags::set_rtx_tsval_set),
        (Flags::syn_retransmitted, Flags::set_syn_retransmitted),
        (Flags::sws_override, Flags::set_sws_override),
        (Flags::probe_now, Flags::set_probe_now),
        (Flags::fast_rtx, Flags::set_fast_rtx),
        (Flags::want_writable, Flags::set_want_writable),
        (Flags::ws_ok, Flags::set_ws_ok),
        (Flags::ooo_fin_set, Flags::set_ooo_fin_set),
        (Flags::rcv_up_set, Flags::set_rcv_up_set),
        (Flags::nodelay, Flags::set_nodelay),
        (Flags::readable_told, Flags::set_readable_told),
    ];
    for (i, &(_, set)) in all.iter().enumerate() {
        for base in [false, true] {
            let mut f = Flags::default();
            for &(_, s) in &all {
                s(&mut f, base);
            }
            set(&mut f, !base);
            for (j, &(get, _)) in all.iter().enumerate() {
                assert_eq!(get(f), if i == j { !base } else { base }, "bit {i} vs {j}");
            }
        }
    }
}

/// `rtx_tsval` is an `Option<u32>` whose presence is a flag bit: every value, 0 and
/// `u32::MAX` included, round-trips, and none is none.
#[test]
fn rtx_tsval_round_trips() {
    let mut t = tcb(&Config::default());
    assert_eq!(t.rtx_tsval(), None);
    for v in [0, 1, u32::MAX] {
        t.set_rtx_tsval(Some(v));
        assert_eq!(t.rtx_tsval(), Some(v));
    }
    t.set_rtx_tsval(None);
    assert_eq!(t.rtx_tsval(), None);
}

/// `ooo_fin` likewise: any sequence number, and none.
#[test]
fn ooo_fin_round_trips() {
    let mut t = tcb(&Config::default());
    assert_eq!(t.ooo_fin(), None);
    for v in [0, 1, u32::MAX] {
        t.set_ooo_fin(Some(SeqNum(v)));
        assert_eq!(t.ooo_fin(), Some(SeqNum(v)));
    }
    t.set_ooo_fin(None);
    assert_eq!(t.ooo_fin(), None);
}

/// Retry and probe counts are bytes: a configured limit beyond 255 acts as 255 (and so is
/// still reached), every smaller limit exactly as before.
#[test]
fn retry_limits_compare_as_bytes() {
    assert!(!Tcb::limit_reached(14, 15));
    assert!(Tcb::limit_reached(15, 15));
    assert!(Tcb::limit_reached(0, 0));
    assert!(!Tcb::limit_reached(254, 255));
    assert!(!Tcb::limit_reached(254, u32::MAX));
    assert!(Tcb::limit_reached(u8::MAX, u32::MAX));
}

/// RCV.UP keeps 32 bits and is rebuilt around the receive point; `recv` forgets it once
/// every urgent byte has been read, so it is never compared after the stream moved on.
#[test]
fn urgent_pointer_is_forgotten_once_read() {
    let mut t = tcb(&Config::default());
    t.state = State::Established;
    t.recv_buf.insert(0, b"abcdef");
    assert_eq!(t.recv_buf.next(), 6);
    t.set_rcv_up(Some(1006));
    assert_eq!(t.rcv_up(), Some(1006), "ahead of the receive point");
    t.set_rcv_up(Some(4));
    assert_eq!(t.rcv_up(), Some(4));
    assert_eq!(t.urgent_pending(), 4);
    let mut buf = [0u8; 2];
    assert_eq!(t.recv(&mut buf, &mut RingPool::new(0)), Ok(2));
    assert_eq!((t.rcv_up(), t.urgent_pending()), (Some(4), 2));
    assert_eq!(t.recv(&mut buf, &mut RingPool::new(0)), Ok(2));
    assert_eq!((t.rcv_up(), t.urgent_pending()), (None, 0));
}

/// IRS is derived from RCV.NXT, the bytes taken in and the FIN: it stays put as data and
/// the FIN arrive, across the sequence-number wrap too.
#[test]
fn irs_is_derived_exactly() {
    for irs in [1000, u32::MAX - 2] {
        let mut t = tcb(&Config::default());
        t.rcv_nxt = SeqNum(irs) + 1;
        assert_eq!(t.irs(), SeqNum(irs));
        let r = t.recv_buf.insert(0, b"abcdef");
        t.rcv_nxt += r.advanced as u32;
        assert_eq!(t.irs(), SeqNum(irs));
        t.rcv_nxt += 1;
        t.fin_received = true;
        assert_eq!(t.irs(), SeqNum(irs));
    }
}

/// The two rate-limit stamps share 12 bytes: each reads back exactly as set, whichever was
/// set last, and an earlier stamp more than 2^31 µs before the later one reads as none.
#[test]
fn rate_stamps_read_back_exactly() {
    use super::{RateStamps, Stamp};
    let mut r = RateStamps::NONE;
    assert_eq!(
        (r.get(Stamp::Challenge), r.get(Stamp::OutOfWindow)),
        (None, None)
    );
    r.set(Stamp::OutOfWindow, s(10));
    assert_eq!(
        (r.get(Stamp::Challenge), r.get(Stamp::OutOfWindow)),
        (None, Some(s(10)))
    );
    let t = s(10) + Duration::from_micros(1);
    r.set(Stamp::Challenge, t);
    assert_eq!(
        (r.get(Stamp::Challenge), r.get(Stamp::OutOfWindow)),
        (Some(t), Some(s(10)))
    );
    r.set(Stamp::Challenge, s(20));
    assert_eq!(
        (r.get(Stamp::Challenge), r.get(Stamp::OutOfWindow)),
        (Some(s(20)), Some(s(10)))
    );
    r.set(Stamp::OutOfWindow, s(25));
    assert_eq!(
        (r.get(Stamp::Challenge), r.get(Stamp::OutOfWindow)),
        (Some(s(20)), Some(s(25)))
    );
    // 2^31 - 2 µs apart still reads back; 2^31 - 1 apart is too far and reads as none.
    let far = Duration::from_micros((1 << 31) - 2);
    r.set(Stamp::Challenge, s(25) + far);
    assert_eq!(r.get(Stamp::OutOfWindow), Some(s(25)));
    r.set(Stamp::Challenge, s(25) + far + Duration::from_micros(1));
    assert_eq!(r.get(Stamp::OutOfWindow), None);
    assert_eq!(
        r.get(Stamp::Challenge),
        Some(s(25) + far + Duration::from_micros(1))
    );
    // A TIME-WAIT record's pair, in either order.
    for (c, o) in [
        (Some(s(3)), Some(s(4))),
        (Some(s(4)), Some(s(3))),
        (None, Some(s(1))),
    ] {
        let r = RateStamps::from_pair(c, o);
        assert_eq!((r.get(Stamp::Challenge), r.get(Stamp::OutOfWindow)), (c, o));
    }
}

/// Against two plain stamps, over a pseudo-random run: every "answered within the limit?"
/// question gets the same answer.
#[test]
fn rate_stamps_answer_like_two_plain_stamps() {
    use super::{RateStamps, Stamp};
    let limit = Config::default().invalid_ratelimit;
    let mut r = RateStamps::NONE;
    let (mut plain_c, mut plain_o): (Option<Instant>, Option<Instant>) = (None, None);
    let mut now = Instant::ZERO;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let step = match x >> 62 {
            0 => (x >> 20) % 1_000,         // µs
            1 => (x >> 20) % 2_000_000,     // up to 2 s
            2 => (x >> 20) % 4_000_000_000, // up to ~67 min
            _ => 0,
        };
        now += Duration::from_micros(step);
        let recent = |t: Option<Instant>| t.is_some_and(|t| now.saturating_since(t) < limit);
        assert_eq!(recent(r.get(Stamp::Challenge)), recent(plain_c));
        assert_eq!(recent(r.get(Stamp::OutOfWindow)), recent(plain_o));
        let pick = (x >> 33) % 3;
        if pick == 0 {
            r.set(Stamp::Challenge, now);
            plain_c = Some(now);
        } else if pick == 1 {
            r.set(Stamp::OutOfWindow, now);
            plain_o = Some(now);
        }
    }
}

/// What a TCB needs to run outside a stack.
struct World {
    config: Config,
    events: EventQueue,
    counters: Counters,
    ctl: CtlQueue,
    rings: RingPool,
}

impl World {
    fn new(config: Config) -> World {
        World {
            events: EventQueue::new(64),
            counters: Counters::default(),
            ctl: CtlQueue::default(),
            rings: RingPool::new(4),
            config,
        }
    }
    fn ctx(&mut self, now: Instant) -> Ctx<'_> {
        Ctx {
            now,
            config: &self.config,
            events: &mut self.events,
            counters: &mut self.counters,
            ctl: &mut self.ctl,
            rings: &mut self.rings,
        }
    }
}

fn tcb(config: &Config) -> Tcb {
    Tcb::new(
        ConnId::from_raw(1, 0),
        config,
        "10.0.0.1:1000".parse().unwrap(),
        "10.0.0.2:2000".parse().unwrap(),
        SeqNum(100),
        0,
        None,
        Instant::ZERO,
    )
}

fn s(n: u64) -> Instant {
    Instant::from_secs(n)
}

/// TIME-WAIT's 2·MSL and the orphan FIN-WAIT-2 timeout share one slot: each reads only in
/// its own state, and leaving either state empties the slot, so a deadline never outlives
/// its state or shows up as the other kind.
#[test]
fn time_wait_and_fin_wait_2_share_a_slot_by_state() {
    let mut w = World::new(Config::default());
    let mut t = tcb(&w.config);
    t.state = State::FinWait1;
    t.orphan = true;
    t.set_state(&mut w.ctx(s(1)), State::FinWait2, Cause::RecvAck);
    let fw2 = s(1) + w.config.fin_wait_2_timeout;
    assert_eq!(t.timer(TimerKind::FinWait2), Some(fw2));
    assert_eq!(t.timer(TimerKind::TimeWait), None);
    assert_eq!(t.next_deadline(), Some(fw2));

    // The peer's FIN: TIME-WAIT replaces the FIN-WAIT-2 deadline with 2·MSL.
    t.set_state(&mut w.ctx(s(2)), State::TimeWait, Cause::RecvFin);
    let tw = s(2) + w.config.time_wait;
    assert_eq!(t.timer(TimerKind::TimeWait), Some(tw));
    assert_eq!(t.timer(TimerKind::FinWait2), None);
    assert_eq!(t.next_deadline(), Some(tw));
    // Clearing the kind the slot does not hold leaves it alone.
    t.clear_timer(TimerKind::FinWait2);
    assert_eq!(t.timer(TimerKind::TimeWait), Some(tw));

    // A FIN-WAIT-2 deadline does not survive its state, even into a later FIN-WAIT-2 where
    // no timer is due (a connection the application still holds waits for ever, LX-6).
    let mut t = tcb(&w.config);
    t.state = State::FinWait1;
    t.orphan = true;
    t.set_state(&mut w.ctx(s(1)), State::FinWait2, Cause::RecvAck);
    t.set_state(&mut w.ctx(s(2)), State::Established, Cause::RecvAck);
    assert_eq!(t.timer(TimerKind::FinWait2), None);
    t.orphan = false;
    t.set_state(&mut w.ctx(s(3)), State::FinWait2, Cause::RecvAck);
    assert_eq!(t.timer(TimerKind::FinWait2), None);
    assert_eq!(t.next_deadline(), None);

    // The expiry in FIN-WAIT-2 is the FIN-WAIT-2 timeout, not a TIME-WAIT expiry.
    let mut t = tcb(&w.config);
    t.state = State::FinWait1;
    t.orphan = true;
    t.set_state(&mut w.ctx(s(1)), State::FinWait2, Cause::RecvAck);
    t.on_timeout(&mut w.ctx(fw2));
    assert_eq!(t.state, State::Closed);
    assert_eq!(t.close_reason, Some(CloseReason::TimedOut));
    assert_eq!(w.counters.fin_wait_2_timeouts, 1);
    assert_eq!(w.counters.time_wait_expired, 0);
}

/// Keep-alive keeps its own slot: in FIN-WAIT-2 an orphan has both the keep-alive and the
/// FIN-WAIT-2 timer, and neither overwrites the other.
#[test]
fn keepalive_and_fin_wait_2_timers_coexist() {
    let config = Config {
        keepalive: Some(KeepAlive {
            idle: Duration::from_secs(10),
            interval: Duration::from_secs(5),
            probes: 3,
        }),
        ..Config::default()
    };
    let mut w = World::new(config);
    let mut t = tcb(&w.config);
    t.state = State::SynReceived;
    t.set_state(&mut w.ctx(s(0)), State::Established, Cause::RecvAck);
    assert_eq!(t.timer(TimerKind::KeepAlive), Some(s(10)));
    t.set_state(&mut w.ctx(s(1)), State::FinWait1, Cause::Close);
    t.orphan = true;
    t.set_state(&mut w.ctx(s(2)), State::FinWait2, Cause::RecvAck);
    assert_eq!(t.timer(TimerKind::KeepAlive), Some(s(10)));
    assert_eq!(
        t.timer(TimerKind::FinWait2),
        Some(s(2) + w.config.fin_wait_2_timeout)
    );
    assert_eq!(t.next_deadline(), Some(s(10)));

    // The keep-alive timer lives with the keep-alive state: clearing every timer stops it
    // but keeps the setting; turning keep-alive off drops both.
    t.clear_timers();
    assert_eq!(t.timer(TimerKind::KeepAlive), None);
    assert!(t.ka.get().is_some());
    t.state = State::Established;
    let ka = w.config.keepalive;
    t.set_keepalive(&mut w.ctx(s(20)), ka);
    assert_eq!(t.timer(TimerKind::KeepAlive), Some(s(30)));
    t.set_keepalive(&mut w.ctx(s(21)), None);
    assert_eq!(t.timer(TimerKind::KeepAlive), None);
    assert_eq!(t.next_deadline(), None);
    assert!(!t.ka.enabled());
}

/// The user timeout is derived from `unacked_since` and `user_timeout` rather than stored:
/// it runs from the oldest unacknowledged transmission, follows a changed setting, stops
/// when everything is acknowledged or the timers are cleared, and aborts when it expires.
#[test]
fn user_timeout_is_derived_from_unacked_since() {
    let config = Config {
        user_timeout: Some(Duration::from_secs(30)),
        ..Config::default()
    };
    let mut w = World::new(config);
    let mut t = tcb(&w.config);
    t.state = State::Established;
    assert_eq!(t.timer(TimerKind::UserTimeout), None);

    t.mark_unacked_since(s(5));
    assert_eq!(t.timer(TimerKind::UserTimeout), Some(s(35)));
    assert_eq!(t.next_deadline(), Some(s(35)));
    // The application changes the limit: it still runs from the same moment.
    t.user_timeout = Some(Duration::from_secs(10)).into();
    assert_eq!(t.timer(TimerKind::UserTimeout), Some(s(15)));
    t.user_timeout = None.into();
    assert_eq!(t.timer(TimerKind::UserTimeout), None);
    assert_eq!(t.next_deadline(), None);
    t.user_timeout = Some(Duration::from_secs(10)).into();

    // All acknowledged: no deadline.
    t.clear_unacked();
    assert_eq!(t.timer(TimerKind::UserTimeout), None);
    // Clearing every timer stops it too.
    t.mark_unacked_since(s(20));
    t.clear_timers();
    assert_eq!(t.timer(TimerKind::UserTimeout), None);
    assert!(TIMER_KINDS.iter().all(|&k| t.timer(k).is_none()));

    // Expiry aborts the connection as timed out (UI-8).
    t.mark_unacked_since(s(20));
    t.on_timeout(&mut w.ctx(s(29)));
    assert_eq!(t.state, State::Established);
    t.on_timeout(&mut w.ctx(s(30)));
    assert_eq!(t.state, State::Closed);
    assert_eq!(t.close_reason, Some(CloseReason::TimedOut));
    assert_eq!(t.timer(TimerKind::UserTimeout), None);
}
