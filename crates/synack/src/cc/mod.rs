//! Congestion control behind one interface (checklist CC-*, CUB-*; decision 6): how the
//! congestion window grows on ACKs and shrinks on loss. Loss *detection* and recovery
//! (duplicate ACKs, SACK, RTO) live in the connection; it tells the controller what happened.
//!
//! The controllers are an enum, not trait objects: no allocation per connection and the
//! call is a match, so a connection stays small and allocation-free in steady state.
//! All quantities are bytes (CC-15).
//!
//! Invariants every controller keeps, whatever the sequence of calls: `mss <= cwnd <=
//! MAX_CWND`, and `ssthresh >= 2 * mss` (it starts "arbitrarily high", `u32::MAX`, CC-3, and
//! every reduction floors it at two segments). Everything is deterministic: CUBIC's
//! floating-point math uses only IEEE-exact operations (no libm), so runs replay bit for bit.

use crate::time::{Duration, Instant};

mod cubic;
pub(crate) mod hystart;
mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

/// Upper bound on cwnd (and on ssthresh once it has been set from a flight size): 1 GiB,
/// just above the largest window RFC 7323 window scaling can advertise (65535 << 14).
/// Keeps every sum in range.
pub const MAX_CWND: u32 = 1 << 30;

/// `bytes` as a congestion window: at least one segment, at most [`MAX_CWND`].
pub(crate) fn clamp_cwnd(bytes: u64, mss: u32) -> u32 {
    bytes.clamp(u64::from(mss), u64::from(MAX_CWND)) as u32
}

/// The ssthresh a reduction leaves: `bytes`, but at least two segments (CC-6, CC-9, CUB-2)
/// and at most [`MAX_CWND`].
pub(crate) fn reduced_ssthresh(bytes: u64, mss: u32) -> u32 {
    bytes.max(2 * u64::from(mss)).min(u64::from(MAX_CWND)) as u32
}

/// A sender MSS a controller can work with: at least one byte, and small enough that the
/// two-segment floors stay far below [`MAX_CWND`].
pub(crate) fn sane_mss(mss: u32) -> u32 {
    mss.clamp(1, MAX_CWND / 4)
}

/// What a controller was just before a reduction, kept by the connection while the reduction
/// may yet prove spurious (checklist SK-12) and handed back to [`CongestionControl::undo`]:
/// Linux's prior_cwnd and prior_ssthresh, plus CUBIC's curve (RFC 9438 §4.9).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prior {
    /// cwnd before the reduction (Linux tp->prior_cwnd).
    pub cwnd: u32,
    /// The ssthresh to restore (Linux tcp_current_ssthresh: the larger of ssthresh and
    /// three quarters of cwnd, so that a later slow start climbs back that far).
    pub ssthresh: u32,
    /// CUBIC's W_max, cwnd_prior and epoch (K, W_est, the epoch's start); none for NewReno.
    curve: Option<cubic::Curve>,
}

impl Prior {
    /// The plain part of a prior: cwnd and the ssthresh as Linux's tcp_current_ssthresh
    /// gives it outside a reduction.
    fn plain(cwnd: u32, ssthresh: u32) -> Prior {
        let three_quarters = ((u64::from(cwnd) * 3) / 4) as u32;
        Prior {
            cwnd,
            ssthresh: ssthresh.max(three_quarters),
            curve: None,
        }
    }
}

/// Which algorithm a connection uses (`Config::congestion_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 / RFC 6582 window growth.
    NewReno,
    /// RFC 9438, the default (Linux's default too).
    #[default]
    Cubic,
}

/// What every controller answers and reacts to.
pub trait CongestionControl {
    /// Congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// Slow-start threshold, bytes.
    fn ssthresh(&self) -> u32;
    /// New data was cumulatively acknowledged outside loss recovery: grow (CC-4 slow start,
    /// CC-5 / CUB-3 congestion avoidance). `acked` bytes newly acknowledged; `flight` bytes
    /// outstanding before this ACK; `srtt` the smoothed RTT if known.
    fn on_ack(&mut self, now: Instant, acked: u32, flight: u32, srtt: Option<Duration>);
    /// Loss detected by duplicate ACKs or SACK (entering fast recovery): a congestion event.
    /// Sets ssthresh and cwnd (CC-9 (1), CUB-2); `flight` is FlightSize.
    fn on_congestion_event(&mut self, now: Instant, flight: u32);
    /// Fast recovery ended (the ACK reached the recovery point): cwnd = ssthresh (CC-9 (5), CC-12).
    fn on_recovery_end(&mut self, now: Instant);
    /// Retransmission timeout (CC-6, CUB-5): ssthresh from the flight (only on the first
    /// timeout of an episode: `first`), cwnd to one segment.
    fn on_rto(&mut self, now: Instant, flight: u32, first: bool);
    /// After idling longer than an RTO (CC-13): cwnd = min(cwnd, `restart`).
    fn on_idle_restart(&mut self, now: Instant, restart: u32);
    /// Leave slow start without a congestion event (HyStart++, RFC 9406 §4.2): ssthresh =
    /// cwnd, so congestion avoidance starts from here (CUBIC: W_max = cwnd, K = 0, RFC 9438
    /// §4.10).
    fn end_slow_start(&mut self);
    /// Set cwnd directly (NewReno's fast-recovery inflation and partial-ACK deflation,
    /// CC-9 (3)/(4), CC-11, are driven by the connection). Clamped to `[mss, MAX_CWND]`.
    /// CUBIC treats a changed window as the start of a new congestion-avoidance stage (its
    /// curve restarts from there on the next ACK), so call it for recovery, not per ACK.
    fn set_cwnd(&mut self, cwnd: u32);
    /// The state to restore should the reduction about to be made prove spurious: call it
    /// just before `on_congestion_event` or `on_rto` (Linux tcp_init_undo's moment).
    fn prior(&self) -> Prior;
    /// A reduction proved spurious (SK-12: every retransmission D-SACKed, RFC 3708; or the
    /// original was delivered, RFC 3522 Eifel): cwnd = max(cwnd, prior cwnd) and ssthresh
    /// = max(ssthresh, prior ssthresh), as Linux's tcp_undo_cwnd_reduction with
    /// tcp_reno_undo_cwnd. CUBIC, when it takes its window back, takes its curve back too
    /// (RFC 9438 §4.9: W_max, K, epoch start, W_est).
    fn undo(&mut self, now: Instant, prior: &Prior);
}

/// A connection's controller.
#[derive(Clone, Debug)]
pub enum Controller {
    NewReno(NewReno),
    Cubic(Cubic),
}

impl Controller {
    /// A controller for a connection with send MSS `mss` and initial window `iw` bytes.
    pub fn new(alg: Algorithm, mss: u32, iw: u32) -> Controller {
        match alg {
            Algorithm::NewReno => Controller::NewReno(NewReno::new(mss, iw)),
            Algorithm::Cubic => Controller::Cubic(Cubic::new(mss, iw)),
        }
    }
    /// Which algorithm this is.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Controller::NewReno(_) => Algorithm::NewReno,
            Controller::Cubic(_) => Algorithm::Cubic,
        }
    }
    fn inner(&self) -> &dyn CongestionControl {
        match self {
            Controller::NewReno(c) => c,
            Controller::Cubic(c) => c,
        }
    }
    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Controller::NewReno(c) => c,
            Controller::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Controller {
    /// Matched here, not through `inner`: the window is read for every data segment sent
    /// (`data_segment`), and the `dyn` call there was an indirect call to load one field.
    #[inline]
    fn cwnd(&self) -> u32 {
        match self {
            Controller::NewReno(c) => c.cwnd(),
            Controller::Cubic(c) => c.cwnd(),
        }
    }
    fn ssthresh(&self) -> u32 {
        self.inner().ssthresh()
    }
    fn on_ack(&mut self, now: Instant, acked: u32, flight: u32, srtt: Option<Duration>) {
        self.inner_mut().on_ack(now, acked, flight, srtt)
    }
    fn on_congestion_event(&mut self, now: Instant, flight: u32) {
        self.inner_mut().on_congestion_event(now, flight)
    }
    fn on_recovery_end(&mut self, now: Instant) {
        self.inner_mut().on_recovery_end(now)
    }
    fn on_rto(&mut self, now: Instant, flight: u32, first: bool) {
        self.inner_mut().on_rto(now, flight, first)
    }
    fn on_idle_restart(&mut self, now: Instant, restart: u32) {
        self.inner_mut().on_idle_restart(now, restart)
    }
    fn end_slow_start(&mut self) {
        self.inner_mut().end_slow_start()
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.inner_mut().set_cwnd(cwnd)
    }
    fn prior(&self) -> Prior {
        self.inner().prior()
    }
    fn undo(&mut self, now: Instant, prior: &Prior) {
        self.inner_mut().undo(now, prior)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn controller_defaults_to_cubic_and_dispatches() {
        assert_eq!(Algorithm::default(), Algorithm::Cubic);
        for alg in [Algorithm::NewReno, Algorithm::Cubic] {
            let mut c = Controller::new(alg, 1000, 10_000);
            assert_eq!(c.algorithm(), alg);
            assert_eq!((c.cwnd(), c.ssthresh()), (10_000, u32::MAX));
            c.on_ack(Instant::ZERO, 1000, 10_000, None);
            assert_eq!(c.cwnd(), 11_000);
            c.on_congestion_event(Instant::ZERO, 10_000);
            let ssthresh = match alg {
                Algorithm::NewReno => 5_000,
                Algorithm::Cubic => 7_000,
            };
            assert_eq!((c.cwnd(), c.ssthresh()), (ssthresh, ssthresh));
            c.set_cwnd(ssthresh + 3000);
            assert_eq!(c.cwnd(), ssthresh + 3000);
            c.on_recovery_end(Instant::ZERO);
            assert_eq!(c.cwnd(), ssthresh);
            c.on_idle_restart(Instant::ZERO, 2000);
            assert_eq!(c.cwnd(), 2000);
            c.on_rto(Instant::ZERO, 10_000, false);
            assert_eq!((c.cwnd(), c.ssthresh()), (1000, ssthresh));
        }
    }

    /// One call into a controller, with time advancing by `dt_us` before it.
    #[derive(Clone, Debug)]
    enum Op {
        Ack {
            dt_us: u64,
            acked: u32,
            flight: u32,
            srtt_us: Option<u64>,
        },
        Congestion {
            dt_us: u64,
            flight: u32,
        },
        RecoveryEnd,
        Rto {
            dt_us: u64,
            flight: u32,
            first: bool,
        },
        Idle {
            dt_us: u64,
            restart: u32,
        },
        Set {
            cwnd: u32,
        },
        /// Remember the controller's prior (before a reduction).
        Prior,
        /// Undo back to the last prior remembered, if any (SK-12).
        Undo {
            dt_us: u64,
        },
    }

    fn bytes() -> impl Strategy<Value = u32> {
        prop_oneof![4 => 0..200_000u32, 1 => any::<u32>()]
    }

    fn micros() -> impl Strategy<Value = u64> {
        prop_oneof![6 => 0..300_000u64, 1 => 0..100_000_000_000u64, 1 => Just(u64::MAX / 2)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => (micros(), bytes(), bytes(), proptest::option::of(micros()))
                .prop_map(|(dt_us, acked, flight, srtt_us)| Op::Ack { dt_us, acked, flight, srtt_us }),
            2 => (micros(), bytes()).prop_map(|(dt_us, flight)| Op::Congestion { dt_us, flight }),
            2 => Just(Op::RecoveryEnd),
            1 => (micros(), bytes(), any::<bool>())
                .prop_map(|(dt_us, flight, first)| Op::Rto { dt_us, flight, first }),
            1 => (micros(), bytes()).prop_map(|(dt_us, restart)| Op::Idle { dt_us, restart }),
            1 => bytes().prop_map(|cwnd| Op::Set { cwnd }),
            1 => Just(Op::Prior),
            1 => micros().prop_map(|dt_us| Op::Undo { dt_us }),
        ]
    }

    /// Runs `ops`, checking the invariants after every call; returns the final state.
    fn run(alg: Algorithm, mss: u32, iw: u32, ops: &[Op]) -> String {
        let mut c = Controller::new(alg, mss, iw);
        let mss = sane_mss(mss);
        let mut now = Instant::ZERO;
        let mut prior = None;
        for op in ops {
            let reduced = match *op {
                Op::Ack {
                    dt_us,
                    acked,
                    flight,
                    srtt_us,
                } => {
                    now += Duration::from_micros(dt_us);
                    c.on_ack(now, acked, flight, srtt_us.map(Duration::from_micros));
                    false
                }
                Op::Congestion { dt_us, flight } => {
                    now += Duration::from_micros(dt_us);
                    c.on_congestion_event(now, flight);
                    assert!(c.cwnd() >= 2 * mss);
                    true
                }
                Op::RecoveryEnd => {
                    c.on_recovery_end(now);
                    false
                }
                Op::Rto {
                    dt_us,
                    flight,
                    first,
                } => {
                    now += Duration::from_micros(dt_us);
                    c.on_rto(now, flight, first);
                    assert_eq!(c.cwnd(), mss);
                    first
                }
                Op::Idle { dt_us, restart } => {
                    now += Duration::from_micros(dt_us);
                    let before = c.cwnd();
                    c.on_idle_restart(now, restart);
                    assert_eq!(c.cwnd(), before.min(restart).max(mss));
                    false
                }
                Op::Set { cwnd } => {
                    c.set_cwnd(cwnd);
                    assert_eq!(c.cwnd(), cwnd.clamp(mss, MAX_CWND));
                    false
                }
                Op::Prior => {
                    prior = Some(c.prior());
                    false
                }
                Op::Undo { dt_us } => {
                    now += Duration::from_micros(dt_us);
                    let (cwnd, ssthresh) = (c.cwnd(), c.ssthresh());
                    if let Some(p) = &prior {
                        c.undo(now, p);
                        assert_eq!(c.cwnd(), cwnd.max(p.cwnd).clamp(mss, MAX_CWND));
                        assert_eq!(c.ssthresh(), ssthresh.max(p.ssthresh));
                    }
                    false
                }
            };
            assert!((mss..=MAX_CWND).contains(&c.cwnd()), "{op:?}: {c:?}");
            assert!(c.ssthresh() >= 2 * mss, "{op:?}: {c:?}");
            if reduced {
                assert!(c.ssthresh() <= MAX_CWND, "{op:?}: {c:?}");
            }
            if let Controller::Cubic(cubic) = &c {
                cubic.assert_sane();
            }
        }
        format!("{c:?}")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn cc_random_events_keep_invariants_and_replay_identically(
            cubic in any::<bool>(),
            mss in prop_oneof![8 => 1..9000u32, 1 => Just(0u32), 1 => any::<u32>()],
            iw in bytes(),
            ops in proptest::collection::vec(op(), 1..150),
        ) {
            let alg = if cubic { Algorithm::Cubic } else { Algorithm::NewReno };
            let first = run(alg, mss, iw, &ops);
            prop_assert_eq!(first, run(alg, mss, iw, &ops));
        }
    }
}
