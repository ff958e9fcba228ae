//! CUBIC (RFC 9438): the window grows as a cubic function of the time since the last
//! congestion event, with a Reno-friendly floor, and shrinks to 0.7 of the flight on loss.
//!
//! Units: the connection speaks bytes; the RFC's curve is in segments per second cubed, so
//! the curve is evaluated in segments (`f64`) and converted back. Only `+ - * /`, `floor` and
//! comparisons are used on floats (the cube root is a Newton iteration, not libm), so a run
//! gives the same bits on every platform; nothing can become NaN, infinite or negative.
//!
//! Slow start is RFC 5681's (CC-4); HyStart++ (RFC 9406) is not implemented.

use super::{clamp_cwnd, reduced_ssthresh, sane_mss, CongestionControl, Prior, MAX_CWND};
use crate::time::{Duration, Instant};

/// C, segments / s³ (RFC 9438 §4.1, CUB-1).
pub const C: f64 = 0.4;
/// β_cubic, the multiplicative decrease (CUB-1). Linux stores 717/1024 (0.7002); we use the
/// RFC's exact 0.7, applied in integers as 7/10.
pub const BETA: f64 = 0.7;
const BETA_NUM: u64 = 7;
const BETA_DEN: u64 = 10;
/// α_cubic = 3(1 − β)/(1 + β) ≈ 0.529, the Reno-friendly additive increase per RTT while
/// W_est is below cwnd_prior; 1 after that (CUB-1, CUB-4).
pub const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);
/// Fast convergence (CUB-2): W_max = cwnd·(1 + β)/2 = cwnd·17/20.
const FAST_CONV_NUM: u64 = 17;
const FAST_CONV_DEN: u64 = 20;
/// RTT used for the W_cubic(t + RTT) target before the connection has an RTT sample.
pub const DEFAULT_RTT: Duration = Duration::from_millis(100);

/// RFC 9438 CUBIC.
#[derive(Clone, Debug, PartialEq)]
pub struct Cubic {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// W_max in bytes: the window before the last reduction (after fast convergence), or
    /// the plateau the current curve was built on. Zero until the first congestion event.
    w_max: u32,
    /// cwnd_prior in bytes: cwnd just before the last reduction. α_cubic becomes 1 once
    /// W_est reaches it (§4.3).
    cwnd_prior: u32,
    /// The next congestion-avoidance stage is the first after an RTO: it starts its curve at
    /// cwnd_epoch with K = 0 (§4.8).
    after_rto: bool,
    /// The current congestion-avoidance stage; `None` until its first ACK. Boxed: only a
    /// connection in congestion avoidance needs it, and inline it would be 48 of every idle
    /// connection's bytes (issue 3's per-connection budget); one allocation per epoch.
    epoch: Option<Box<Epoch>>,
}

/// The part of CUBIC's state a reduction changes besides cwnd and ssthresh, as it was just
/// before it: RFC 9438 §4.9's prior W_max, K, epoch start and W_est (the last three live in
/// the epoch), with cwnd_prior and the after-RTO mark. Kept in a [`Prior`] to undo a
/// reduction that proves spurious (SK-12).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Curve {
    w_max: u32,
    cwnd_prior: u32,
    after_rto: bool,
    epoch: Option<Epoch>,
}

/// One congestion-avoidance stage ("epoch", §4.2).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Epoch {
    /// t = now − start (idle time excluded by shifting `start`).
    start: Instant,
    /// K, seconds: when the curve reaches `w_max`.
    k: f64,
    /// The curve's plateau, segments.
    w_max: f64,
    /// W_est, the Reno-friendly estimate, segments.
    w_est: f64,
    /// Fraction of a byte of growth carried from one ACK to the next, in [0, 1); it belongs
    /// to the epoch (a new epoch starts without one).
    carry: f64,
    /// Time of the last ACK (or idle restart): the start of an idle period, for
    /// [`Cubic::on_idle_restart`]. Only an epoch is ever shifted by idle time, so the stamp
    /// lives here rather than in every connection (issue 3); an epoch begins on an ACK, so
    /// it is always as fresh as a stamp kept outside would be.
    last_ack: Instant,
}

impl Epoch {
    /// W_cubic(t) = C·(t − K)³ + W_max, segments (§4.2, CUB-3).
    fn w_cubic(&self, t: f64) -> f64 {
        let d = t - self.k;
        C * d * d * d + self.w_max
    }
}

impl Cubic {
    /// Send MSS `mss` bytes, initial window `iw` bytes (at least one segment); ssthresh
    /// starts arbitrarily high (CC-3).
    pub fn new(mss: u32, iw: u32) -> Cubic {
        let mss = sane_mss(mss);
        Cubic {
            mss,
            cwnd: clamp_cwnd(u64::from(iw), mss),
            ssthresh: u32::MAX,
            w_max: 0,
            cwnd_prior: 0,
            after_rto: false,
            epoch: None,
        }
    }

    fn segments(&self, bytes: u32) -> f64 {
        f64::from(bytes) / f64::from(self.mss)
    }

    /// The multiplicative decrease shared by loss and the first RTO (CUB-2, CUB-5): W_max
    /// with fast convergence, cwnd_prior, ssthresh = max(FlightSize·β, 2·SMSS).
    fn reduce(&mut self, flight: u32) {
        let cwnd = u64::from(self.cwnd);
        self.w_max = if self.cwnd < self.w_max {
            (cwnd * FAST_CONV_NUM / FAST_CONV_DEN) as u32
        } else {
            self.cwnd
        };
        self.cwnd_prior = self.cwnd;
        self.ssthresh = reduced_ssthresh(u64::from(flight) * BETA_NUM / BETA_DEN, self.mss);
    }

    /// Forget the current curve: the next congestion-avoidance ACK starts a new epoch.
    fn end_epoch(&mut self) {
        self.epoch = None;
    }

    /// The epoch starting now, at cwnd_epoch = cwnd (§4.2): K = ∛((W_max − cwnd_epoch)/C).
    /// After an RTO (§4.8), or with no W_max above cwnd to return to, the curve starts at
    /// its inflection point: K = 0 and W_max = cwnd_epoch.
    fn start_epoch(&mut self, now: Instant) -> Epoch {
        let cwnd_epoch = self.segments(self.cwnd);
        let w_max = self.segments(self.w_max);
        let (w_max, k) = if self.after_rto || w_max <= cwnd_epoch {
            self.w_max = self.cwnd;
            (cwnd_epoch, 0.0)
        } else {
            (w_max, cbrt((w_max - cwnd_epoch) / C))
        };
        self.after_rto = false;
        Epoch {
            start: now,
            k,
            w_max,
            // §4.3: W_est starts at cwnd_epoch.
            w_est: cwnd_epoch,
            carry: 0.0,
            last_ack: now,
        }
    }

    /// Congestion-avoidance growth for an ACK of `acked` bytes (CUB-3, CUB-4).
    fn avoid_congestion(&mut self, now: Instant, acked: u32, srtt: Option<Duration>) {
        let mut epoch = match self.epoch.as_deref() {
            Some(e) => *e,
            None => self.start_epoch(now),
        };
        let mss = f64::from(self.mss);
        let cwnd = f64::from(self.cwnd) / mss;
        // The window to the fraction of a byte: what integer cwnd plus the carry stand for.
        let exact = f64::from(self.cwnd) + epoch.carry;
        let t = now.saturating_since(epoch.start).as_micros() as f64 / 1e6;
        let rtt = srtt.unwrap_or(DEFAULT_RTT).as_micros() as f64 / 1e6;

        // §4.3: W_est += α·segments_acked/cwnd, with α = 1 once W_est reached cwnd_prior.
        let alpha = if epoch.w_est >= self.segments(self.cwnd_prior) {
            1.0
        } else {
            ALPHA
        };
        epoch.w_est =
            (epoch.w_est + alpha * (f64::from(acked) / mss) / cwnd).min(f64::from(MAX_CWND) / mss);

        let grown = if epoch.w_cubic(t) < epoch.w_est {
            // Reno-friendly region: cwnd = W_est (never shrinking on an ACK).
            (epoch.w_est * mss).max(exact)
        } else {
            // Concave or convex region: close (target − cwnd)/cwnd of a segment per
            // segment acknowledged, target = W_cubic(t + RTT) within [cwnd, 1.5·cwnd].
            let target = epoch.w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
            exact + (target - cwnd) / cwnd * f64::from(acked)
        };
        let whole = grown.floor();
        if whole >= f64::from(MAX_CWND) {
            self.cwnd = MAX_CWND;
            epoch.carry = 0.0;
        } else {
            self.cwnd = clamp_cwnd(whole as u64, self.mss);
            epoch.carry = grown - whole;
        }
        // Write back in place: allocate only when the epoch begins.
        match self.epoch.as_deref_mut() {
            Some(e) => *e = epoch,
            None => self.epoch = Some(Box::new(epoch)),
        }
    }

    /// Test hook: the internal state is finite and within its ranges.
    #[cfg(test)]
    pub(super) fn assert_sane(&self) {
        assert!(
            self.w_max <= MAX_CWND && self.cwnd_prior <= MAX_CWND,
            "{self:?}"
        );
        if let Some(e) = self.epoch.as_deref() {
            assert!((0.0..1.0).contains(&e.carry), "{self:?}");
            assert!(e.k.is_finite() && e.k >= 0.0, "{self:?}");
            assert!(e.w_max.is_finite() && e.w_max > 0.0, "{self:?}");
            assert!(e.w_est.is_finite() && e.w_est > 0.0, "{self:?}");
        }
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, acked: u32, _flight: u32, srtt: Option<Duration>) {
        if let Some(epoch) = self.epoch.as_deref_mut() {
            epoch.last_ack = now;
        }
        if acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            // CC-4 slow start (CUB-5: RFC 5681's, no HyStart++).
            let grown = u64::from(self.cwnd) + u64::from(acked.min(self.mss));
            self.cwnd = clamp_cwnd(grown, self.mss);
        } else {
            self.avoid_congestion(now, acked, srtt);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: u32) {
        // CUB-2 (§4.6, §4.7).
        self.reduce(flight);
        self.cwnd = clamp_cwnd(u64::from(self.ssthresh), self.mss);
        self.after_rto = false;
        self.end_epoch();
    }

    fn on_recovery_end(&mut self, _now: Instant) {
        self.cwnd = clamp_cwnd(u64::from(self.ssthresh), self.mss);
        self.end_epoch();
    }

    fn on_rto(&mut self, _now: Instant, flight: u32, first: bool) {
        // CUB-5 (§4.8): RFC 5681's loss window, ssthresh from β_cubic on the first timeout.
        if first {
            self.reduce(flight);
        }
        self.cwnd = self.mss;
        self.after_rto = true;
        self.end_epoch();
    }

    fn on_idle_restart(&mut self, now: Instant, restart: u32) {
        // CC-13. §5.8: the idle time must not count in t. A reduced window starts a new
        // epoch (when congestion avoidance resumes); an unchanged one keeps its curve with
        // the epoch shifted by the time since the last ACK.
        if restart < self.cwnd {
            self.cwnd = clamp_cwnd(u64::from(restart), self.mss);
            self.end_epoch();
        } else if let Some(epoch) = self.epoch.as_deref_mut() {
            epoch.start += now.saturating_since(epoch.last_ack);
            epoch.last_ack = now;
        }
    }

    fn end_slow_start(&mut self) {
        self.ssthresh = reduced_ssthresh(u64::from(self.cwnd), self.mss);
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        // A window imposed from outside (recovery inflation, deflation) begins a new
        // congestion-avoidance stage from wherever it lands; setting the same value again
        // changes nothing.
        let cwnd = clamp_cwnd(u64::from(cwnd), self.mss);
        if cwnd != self.cwnd {
            self.cwnd = cwnd;
            self.end_epoch();
        }
    }

    fn prior(&self) -> Prior {
        Prior {
            curve: Some(Curve {
                w_max: self.w_max,
                cwnd_prior: self.cwnd_prior,
                after_rto: self.after_rto,
                epoch: self.epoch.as_deref().copied(),
            }),
            ..Prior::plain(self.cwnd, self.ssthresh)
        }
    }

    fn undo(&mut self, now: Instant, prior: &Prior) {
        // SK-12, RFC 9438 §4.9: the congestion event was spurious. Where the window comes
        // back (Linux: max(cwnd, prior_cwnd)), the curve it was on comes back with it, as if
        // the reduction had never been made: W_max, cwnd_prior, and the epoch with its
        // start, K and W_est (its last-ACK stamp is now, so the recovery does not count as
        // idle time). A window that has already grown past the prior keeps its own curve.
        if prior.cwnd > self.cwnd {
            self.cwnd = clamp_cwnd(u64::from(prior.cwnd), self.mss);
            if let Some(c) = prior.curve {
                self.w_max = c.w_max;
                self.cwnd_prior = c.cwnd_prior;
                self.after_rto = c.after_rto;
                match (c.epoch, self.epoch.as_deref_mut()) {
                    (Some(e), Some(mine)) => *mine = Epoch { last_ack: now, ..e },
                    (Some(e), None) => self.epoch = Some(Box::new(Epoch { last_ack: now, ..e })),
                    (None, _) => self.end_epoch(),
                }
            }
        }
        self.ssthresh = self.ssthresh.max(prior.ssthresh);
    }
}

/// ∛x for x ≥ 0 (0 for anything else), by Newton's method from a bit-level first guess.
/// Only IEEE-exact operations, so the result is the same on every platform.
fn cbrt(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return x;
    }
    // Dividing the biased exponent by three: within ~20% of the root for normal x.
    let mut y = f64::from_bits(x.to_bits() / 3 + 0x3FF0_0000_0000_0000 / 3 * 2);
    // After one step Newton approaches the cube root from above, strictly decreasing until
    // it stops at (within an ulp of) the root.
    y = (2.0 * y + x / (y * y)) / 3.0;
    for _ in 0..200 {
        let next = (2.0 * y + x / (y * y)) / 3.0;
        if next >= y || !next.is_finite() {
            break;
        }
        y = next;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    const T0: Instant = Instant::ZERO;

    /// A CUBIC that was at `cwnd` segments with a flight of `cwnd` when loss struck, and
    /// has just left recovery.
    fn after_loss_at(cwnd: u32) -> Cubic {
        let mut c = Cubic::new(MSS, 10 * MSS);
        c.set_cwnd(cwnd * MSS);
        c.on_congestion_event(T0, cwnd * MSS);
        c.on_recovery_end(T0);
        c
    }

    /// One round trip of ACK clocking from `now`: a window's worth of one-segment ACKs
    /// spread evenly over the RTT, the flight a full window. Returns the time after it.
    fn round(c: &mut Cubic, now: Instant, rtt: Duration) -> Instant {
        let window = c.cwnd();
        let n = (window / MSS).max(1);
        for i in 0..n {
            c.on_ack(now + rtt * i / n, MSS, window, Some(rtt));
        }
        now + rtt
    }

    /// cwnd in segments.
    fn seg(c: &Cubic) -> f64 {
        f64::from(c.cwnd()) / f64::from(MSS)
    }

    #[test]
    fn cub_1_constants() {
        assert_eq!(C, 0.4);
        assert_eq!(BETA, 0.7);
        assert_eq!(BETA_NUM as f64 / BETA_DEN as f64, BETA);
        assert!(
            (BETA - 717.0 / 1024.0).abs() < 0.001,
            "Linux's 717/1024 is the same β"
        );
        assert!((ALPHA - 0.529_411_764_705_882_4).abs() < 1e-15);
        assert_eq!(
            FAST_CONV_NUM as f64 / FAST_CONV_DEN as f64,
            (1.0 + BETA) / 2.0
        );
        assert_eq!(DEFAULT_RTT, Duration::from_millis(100));
    }

    #[test]
    fn cub_1_cube_root_is_exact_enough_and_portable() {
        for x in [
            1e-9f64, 0.001, 0.5, 1.0, 7.5, 8.0, 27.0, 75.0, 1e6, 2.5e9, 1e300,
        ] {
            let want = x.cbrt();
            let got = cbrt(x);
            assert!(
                (got - want).abs() <= want * 4e-16,
                "cbrt({x}) = {got}, not {want}"
            );
        }
        assert_eq!(cbrt(0.0), 0.0);
        assert_eq!(cbrt(-8.0), 0.0);
        assert_eq!(cbrt(f64::NAN), 0.0);
        assert_eq!(cbrt(27.0), 3.0);
        // K for the RFC's example: W_max = 100, cwnd_epoch = 70.
        assert!((cbrt(30.0 / 0.4) - 4.217_163_326_508_746).abs() < 1e-12);
    }

    #[test]
    fn cub_2_reduction_to_0_7_and_fast_convergence() {
        let mut c = Cubic::new(MSS, 10 * MSS);
        c.set_cwnd(100 * MSS);
        c.on_congestion_event(T0, 100 * MSS);
        assert_eq!(c.cwnd(), 70 * MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        assert_eq!(c.w_max, 100 * MSS, "first event: W_max = cwnd");
        assert_eq!(c.cwnd_prior, 100 * MSS);
        // ssthresh follows the flight, not cwnd.
        c.set_cwnd(100 * MSS);
        c.on_congestion_event(T0, 50 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (35 * MSS, 35 * MSS));
        assert_eq!(c.w_max, 100 * MSS, "cwnd 100 is not below W_max 100");
        // Loss below the previous W_max: fast convergence releases bandwidth.
        c.set_cwnd(80 * MSS);
        c.on_congestion_event(T0, 80 * MSS);
        assert_eq!(c.w_max, 68 * MSS, "80·(1+0.7)/2");
        assert_eq!((c.cwnd(), c.ssthresh()), (56 * MSS, 56 * MSS));
        // Above it again: plain W_max = cwnd.
        c.set_cwnd(90 * MSS);
        c.on_congestion_event(T0, 90 * MSS);
        assert_eq!(c.w_max, 90 * MSS);
        // Floors: two segments.
        c.on_congestion_event(T0, 2 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (2 * MSS, 2 * MSS));
        c.on_congestion_event(T0, 0);
        assert_eq!((c.cwnd(), c.ssthresh()), (2 * MSS, 2 * MSS));
        // The event ends the epoch; recovery's end lands on ssthresh.
        assert!(c.epoch.is_none());
        c.set_cwnd(5 * MSS);
        c.on_recovery_end(T0);
        assert_eq!(c.cwnd(), 2 * MSS);
    }

    #[test]
    fn sk_12_undo_takes_back_the_window_and_the_curve() {
        // In congestion avoidance on a curve (W_max 100 after a loss at 100 segments), some
        // rounds in; then a congestion event that proves spurious.
        let mut c = after_loss_at(100);
        let rtt = Duration::from_millis(100);
        let mut now = Instant::from_secs(1);
        for _ in 0..10 {
            now = round(&mut c, now, rtt);
        }
        let before = c.clone();
        let prior = c.prior();
        assert_eq!(prior.cwnd, before.cwnd);
        assert_eq!(prior.ssthresh, before.ssthresh.max(before.cwnd * 3 / 4));
        c.on_congestion_event(now, before.cwnd);
        assert!(c.cwnd() < before.cwnd && c.epoch.is_none());
        let later = now + rtt;
        c.undo(later, &prior);
        // Everything as before the event (RFC 9438 §4.9), the epoch's start, K and W_est
        // included; only its idle stamp is the undo's time.
        assert_eq!(c.cwnd, before.cwnd);
        assert_eq!(c.ssthresh, prior.ssthresh);
        assert_eq!((c.w_max, c.cwnd_prior), (before.w_max, before.cwnd_prior));
        let (e, b) = (
            *c.epoch.as_deref().unwrap(),
            *before.epoch.as_deref().unwrap(),
        );
        assert_eq!(
            Epoch {
                last_ack: b.last_ack,
                ..e
            },
            b
        );
        assert_eq!(e.last_ack, later);
        c.assert_sane();
        // The curve goes on from there: the next round grows cwnd as it would have.
        let mut d = before.clone();
        round(&mut c, later, rtt);
        round(&mut d, later, rtt);
        assert_eq!(c.cwnd(), d.cwnd());

        // An RTO in slow start: cwnd one segment, the RTO mark set; undone, slow start (and
        // no epoch) comes back.
        let mut c = Cubic::new(MSS, 10 * MSS);
        let prior = c.prior();
        c.on_rto(T0, 10 * MSS, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 7 * MSS));
        c.undo(T0, &prior);
        assert_eq!((c.cwnd(), c.ssthresh()), (10 * MSS, u32::MAX));
        assert!(!c.after_rto && c.epoch.is_none() && c.w_max == 0);

        // A window already grown past the prior keeps its own curve; ssthresh still rises.
        let mut c = after_loss_at(100);
        let prior = Cubic::new(MSS, 50 * MSS).prior();
        let w_max = c.w_max;
        c.undo(T0, &prior);
        assert_eq!(
            (c.cwnd(), c.ssthresh(), c.w_max),
            (70 * MSS, u32::MAX, w_max)
        );
    }

    #[test]
    fn cub_3_window_curve_reaches_w_max_at_k() {
        // RFC example: W_max = 100 segments, cwnd_epoch = 70, K = ∛(100·0.3/0.4) ≈ 4.217 s.
        let mut c = after_loss_at(100);
        let rtt = Duration::from_millis(100);
        let start = Instant::from_secs(1);
        let mut now = round(&mut c, start, rtt);
        let epoch = *c.epoch.as_deref().expect("the first ACK began the epoch");
        assert_eq!(epoch.start, start);
        assert!(
            (epoch.k - 4.217_163_326_508_746).abs() < 1e-9,
            "K = {}",
            epoch.k
        );
        assert_eq!(epoch.w_max, 100.0);
        // cwnd after each round, by t (seconds since the epoch).
        let mut trace = vec![(0.0, 70.0), (0.1, seg(&c))];
        while trace.len() <= 58 {
            now = round(&mut c, now, rtt);
            trace.push(((now - start).as_secs_f64(), seg(&c)));
        }
        let at = |t: f64| trace[(t * 10.0).round() as usize].1;
        // Back at W_max at t ≈ K (never past it before).
        let k = at(4.2);
        assert!((99.0..=100.5).contains(&k), "cwnd {k} at K");
        assert!(trace.iter().take(42).all(|&(_, w)| w <= 100.0), "{trace:?}");
        // cwnd follows the curve (it aims at W_cubic(t + RTT) and takes an RTT to get there).
        for &(t, w) in trace.iter().skip(2).take(50) {
            let curve = epoch.w_cubic(t);
            assert!(
                (w - curve).abs() <= 1.5,
                "t = {t}: cwnd {w}, W_cubic {curve}"
            );
        }
        // Concave before K: each second adds less than the one before.
        let per_sec: Vec<f64> = (0..4).map(|s| at(s as f64 + 1.0) - at(s as f64)).collect();
        assert!(per_sec.windows(2).all(|w| w[0] > w[1]), "{per_sec:?}");
        assert!(per_sec[0] > 10.0 && per_sec[3] < 2.0, "{per_sec:?}");
        // Convex after K: the plateau is left ever faster.
        let after: Vec<f64> = (0..3)
            .map(|i| at(4.2 + 0.5 * (i + 1) as f64) - at(4.2 + 0.5 * i as f64))
            .collect();
        assert!(after.windows(2).all(|w| w[0] < w[1]), "{after:?}");
        assert!(at(5.7) > 101.0, "{trace:?}");
    }

    #[test]
    fn cub_3_convex_probing_beyond_w_max() {
        // A large window (W_max = 1000 segments, K = ∛(300/0.4) ≈ 9.09 s): the cubic curve
        // dominates the Reno estimate throughout, cwnd tracks it and probes past W_max.
        let mut c = after_loss_at(1000);
        let rtt = Duration::from_millis(100);
        let start = Instant::from_secs(3);
        let mut now = start;
        let mut trace = Vec::new();
        for _ in 0..150 {
            now = round(&mut c, now, rtt);
            trace.push(((now - start).as_secs_f64(), seg(&c)));
        }
        let epoch = *c.epoch.as_deref().unwrap();
        assert!((epoch.k - cbrt(300.0 / 0.4)).abs() < 1e-12);
        for &(t, w) in &trace[1..] {
            let curve = epoch.w_cubic(t);
            assert!(
                (w - curve).abs() <= curve * 0.01,
                "t = {t}: cwnd {w}, W_cubic {curve}"
            );
        }
        assert!(
            epoch.w_est < epoch.w_cubic(15.0),
            "cubic region, not Reno-friendly"
        );
        // At t = 15 s: W_cubic = 1000 + 0.4·(15 − 9.09)³ ≈ 1082.6.
        assert!((1075.0..1090.0).contains(&seg(&c)), "{}", seg(&c));
        let growth = |a: usize, b: usize| trace[b].1 - trace[a].1;
        assert!(growth(99, 109) < growth(109, 119) && growth(109, 119) < growth(119, 129));
        assert!(growth(129, 139) < growth(139, 149));
    }

    #[test]
    fn cub_3_target_clamped_to_one_and_a_half_cwnd() {
        // Far past K the curve is huge; one ACK still grows cwnd by at most half a segment
        // per segment acknowledged (target ≤ 1.5·cwnd).
        let mut c = after_loss_at(100);
        c.on_ack(T0, MSS, 70 * MSS, None);
        let before = c.cwnd();
        c.on_ack(Instant::from_secs(1_000_000), MSS, before, None);
        assert_eq!(c.cwnd(), before + MSS / 2);
        // And a day-long gap with a stretch ACK stays finite and capped.
        c.on_ack(
            Instant::from_secs(86_400_000),
            u32::MAX,
            before,
            Some(Duration::MAX),
        );
        assert!(c.cwnd() <= MAX_CWND);
        c.assert_sane();
    }

    #[test]
    fn cub_4_reno_friendly_region() {
        // Small BDP: W_max = 10 segments, RTT 10 ms. The cubic curve crawls (K ≈ 1.96 s, and
        // the curve sits near 10 segments the whole time), so the Reno estimate drives cwnd.
        let mut c = after_loss_at(10);
        assert_eq!(c.cwnd(), 7 * MSS);
        let rtt = Duration::from_millis(10);
        let mut now = Instant::from_secs(1);
        let mut per_round = Vec::new();
        for _ in 0..100 {
            let before = seg(&c);
            now = round(&mut c, now, rtt);
            per_round.push(seg(&c) - before);
        }
        let epoch = *c.epoch.as_deref().unwrap();
        assert!((epoch.k - cbrt(3.0 / 0.4)).abs() < 1e-12);
        // α_cubic ≈ 0.53 segments per RTT while W_est < cwnd_prior (10 segments) ...
        for &g in &per_round[..5] {
            assert!((0.45..=0.56).contains(&g), "{per_round:?}");
        }
        // ... then Reno's one segment per RTT.
        for &g in &per_round[10..] {
            assert!((0.9..=1.01).contains(&g), "{per_round:?}");
        }
        // After 1 s: ~100 segments, where the cubic curve alone would be under 10.
        assert!((95.0..=106.0).contains(&seg(&c)), "{}", seg(&c));
        assert!(epoch.w_cubic(1.0) < 10.0);
        assert_eq!(c.cwnd(), (epoch.w_est * f64::from(MSS)) as u32);
    }

    #[test]
    fn cub_5_rto() {
        let mut c = Cubic::new(MSS, 10 * MSS);
        c.set_cwnd(100 * MSS);
        c.on_rto(T0, 100 * MSS, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 70 * MSS));
        assert_eq!(c.w_max, 100 * MSS);
        // The retransmission times out too: ssthresh and W_max stay.
        c.on_rto(T0, 5 * MSS, false);
        assert_eq!(
            (c.cwnd(), c.ssthresh(), c.w_max),
            (MSS, 70 * MSS, 100 * MSS)
        );
        // Slow start back to ssthresh: one segment per ACK.
        let rtt = Duration::from_millis(100);
        let mut now = Instant::from_secs(1);
        c.on_ack(now, MSS, MSS, Some(rtt));
        assert_eq!(c.cwnd(), 2 * MSS);
        while c.cwnd() < c.ssthresh() {
            now += rtt;
            c.on_ack(now, MSS, c.cwnd(), Some(rtt));
        }
        assert_eq!(c.cwnd(), 70 * MSS);
        assert!(c.epoch.is_none());
        // The first congestion-avoidance stage after the timeout: K = 0 and W_max = cwnd_epoch
        // (§4.8), so the curve is convex from the start.
        now = round(&mut c, now + rtt, rtt);
        let epoch = *c.epoch.as_deref().unwrap();
        assert_eq!(
            (epoch.k, epoch.w_max, epoch.w_est.floor()),
            (0.0, 70.0, 70.0)
        );
        assert_eq!(c.w_max, 70 * MSS);
        let start = seg(&c);
        let mut per_sec = Vec::new();
        let mut last = start;
        for _ in 0..5 {
            for _ in 0..10 {
                now = round(&mut c, now, rtt);
            }
            per_sec.push(seg(&c) - last);
            last = seg(&c);
        }
        // Reno-friendly at first (~α per RTT), then the cube takes over.
        assert!((4.5..=6.0).contains(&per_sec[0]), "{per_sec:?}");
        assert!(
            per_sec[4] > per_sec[3] && per_sec[3] > per_sec[2],
            "{per_sec:?}"
        );
        // A first RTO below the previous W_max uses fast convergence too.
        let mut d = after_loss_at(100);
        d.set_cwnd(60 * MSS);
        d.on_rto(T0, 60 * MSS, true);
        assert_eq!((d.w_max, d.ssthresh(), d.cwnd()), (51 * MSS, 42 * MSS, MSS));
        d.on_rto(T0, 0, true);
        assert_eq!(d.ssthresh(), 2 * MSS);
    }

    #[test]
    fn cc_4_slow_start_adds_min_acked_mss() {
        let mut c = Cubic::new(MSS, 10 * MSS);
        c.on_ack(T0, 400, 10 * MSS, None);
        assert_eq!(c.cwnd(), 10_400);
        c.on_ack(T0, 5 * MSS, 10 * MSS, None);
        assert_eq!(c.cwnd(), 11_400);
        assert!(c.epoch.is_none(), "slow start does not start an epoch");
    }

    #[test]
    fn cc_13_idle_restart_caps_cwnd_and_excludes_idle_time() {
        // Two identical flows, one ACK every 2 ms; one idles 30 s in the middle and restarts
        // with a restart window above its cwnd. Shifting the epoch makes the idle time
        // invisible: the two windows stay identical to the byte.
        let rtt = Duration::from_millis(50);
        let idle = Duration::from_secs(30);
        let (mut a, mut b) = (after_loss_at(100), after_loss_at(100));
        let at = |i: u64| Instant::from_secs(1) + Duration::from_millis(2 * i);
        for i in 0..1000 {
            a.on_ack(at(i), MSS, a.cwnd(), Some(rtt));
            b.on_ack(at(i), MSS, b.cwnd(), Some(rtt));
        }
        b.on_idle_restart(at(999) + idle, u32::MAX);
        for i in 1000..3000 {
            a.on_ack(at(i), MSS, a.cwnd(), Some(rtt));
            b.on_ack(at(i) + idle, MSS, b.cwnd(), Some(rtt));
            assert_eq!(a.cwnd(), b.cwnd());
        }
        assert!(a.cwnd() > 100 * MSS, "{}", a.cwnd());
        assert_eq!(
            b.epoch.as_deref().unwrap().start,
            a.epoch.as_deref().unwrap().start + idle
        );
        let tb = at(3000) + idle;
        // A smaller restart window caps cwnd (CC-13) and ends the epoch; slow start resumes
        // below ssthresh.
        let ssthresh = b.ssthresh();
        b.on_idle_restart(tb + Duration::from_secs(5), 10 * MSS);
        assert_eq!((b.cwnd(), b.ssthresh()), (10 * MSS, ssthresh));
        assert!(b.epoch.is_none());
        b.on_ack(tb, 3 * MSS, 10 * MSS, None);
        assert_eq!(b.cwnd(), 11 * MSS);
        b.on_idle_restart(tb, 0);
        assert_eq!(b.cwnd(), MSS);
    }

    #[test]
    fn set_cwnd_restarts_the_curve_only_when_it_changes() {
        let rtt = Duration::from_millis(100);
        let mut c = after_loss_at(100);
        let now = round(&mut c, Instant::from_secs(1), rtt);
        let epoch = c.epoch.clone();
        c.set_cwnd(c.cwnd());
        assert_eq!(c.epoch, epoch);
        c.set_cwnd(c.cwnd() + MSS);
        assert!(c.epoch.is_none());
        c.on_ack(now, MSS, c.cwnd(), Some(rtt));
        assert_eq!(c.epoch.as_deref().unwrap().start, now);
    }

    #[test]
    fn default_rtt_without_a_sample() {
        let (mut a, mut b) = (after_loss_at(100), after_loss_at(100));
        for i in 0..2000u64 {
            let now = Instant::from_millis(i);
            a.on_ack(now, MSS, a.cwnd(), None);
            b.on_ack(now, MSS, b.cwnd(), Some(DEFAULT_RTT));
        }
        assert_eq!(a, b);
        a.assert_sane();
    }
}
