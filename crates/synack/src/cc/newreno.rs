//! NewReno (RFC 5681, RFC 6582): the window arithmetic only. Fast retransmit, the
//! `recover` point, window inflation during recovery and partial-ACK deflation (CC-9 (2)-(4),
//! CC-10, CC-11) are the connection's; it reports the events here and inflates with
//! [`CongestionControl::set_cwnd`].

use super::{clamp_cwnd, reduced_ssthresh, sane_mss, CongestionControl, Prior};
use crate::time::{Duration, Instant};

/// RFC 5681 slow start and congestion avoidance, halving on loss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReno {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
}

impl NewReno {
    /// Send MSS `mss` bytes, initial window `iw` bytes (at least one segment); ssthresh
    /// starts arbitrarily high (CC-3).
    pub fn new(mss: u32, iw: u32) -> NewReno {
        let mss = sane_mss(mss);
        NewReno {
            mss,
            cwnd: clamp_cwnd(u64::from(iw), mss),
            ssthresh: u32::MAX,
        }
    }

    /// max(FlightSize / 2, 2 * SMSS) (RFC 5681 eq. 4).
    fn half_flight(&self, flight: u32) -> u32 {
        reduced_ssthresh(u64::from(flight) / 2, self.mss)
    }
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn on_ack(&mut self, _now: Instant, acked: u32, _flight: u32, _srtt: Option<Duration>) {
        let cwnd = u64::from(self.cwnd);
        let mss = u64::from(self.mss);
        let inc = if self.cwnd < self.ssthresh {
            // CC-4: slow start, min(N, SMSS) per ACK (no RFC 3465 L = 2*SMSS).
            u64::from(acked).min(mss)
        } else if acked == 0 {
            0
        } else {
            // CC-5: RFC 5681 eq. 3, SMSS*SMSS/cwnd per full-sized ACK, scaled by what the
            // ACK covered so that delayed ACKs do not halve the growth: a window's worth of
            // ACKs adds (just under) one SMSS. At least one byte per ACK.
            (mss * u64::from(acked).min(cwnd) / cwnd).max(1)
        };
        self.cwnd = clamp_cwnd(cwnd + inc, self.mss);
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: u32) {
        // CC-9 (1); the connection adds the 3*SMSS of step (3) with set_cwnd.
        self.ssthresh = self.half_flight(flight);
        self.cwnd = clamp_cwnd(u64::from(self.ssthresh), self.mss);
    }

    fn on_recovery_end(&mut self, _now: Instant) {
        // CC-9 (5), CC-12: deflate to ssthresh.
        self.cwnd = clamp_cwnd(u64::from(self.ssthresh), self.mss);
    }

    fn on_rto(&mut self, _now: Instant, flight: u32, first: bool) {
        // CC-6: a retransmission that times out again leaves ssthresh alone.
        if first {
            self.ssthresh = self.half_flight(flight);
        }
        self.cwnd = self.mss;
    }

    fn on_idle_restart(&mut self, _now: Instant, restart: u32) {
        // CC-13
        self.cwnd = clamp_cwnd(u64::from(self.cwnd.min(restart)), self.mss);
    }

    fn end_slow_start(&mut self) {
        self.ssthresh = reduced_ssthresh(u64::from(self.cwnd), self.mss);
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = clamp_cwnd(u64::from(cwnd), self.mss);
    }

    fn prior(&self) -> Prior {
        Prior::plain(self.cwnd, self.ssthresh)
    }

    fn undo(&mut self, _now: Instant, prior: &Prior) {
        // SK-12 (Linux tcp_undo_cwnd_reduction, tcp_reno_undo_cwnd).
        self.cwnd = clamp_cwnd(u64::from(self.cwnd.max(prior.cwnd)), self.mss);
        self.ssthresh = self.ssthresh.max(prior.ssthresh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::MAX_CWND;

    const MSS: u32 = 1000;
    const T0: Instant = Instant::ZERO;

    /// A NewReno in congestion avoidance at `cwnd` (= ssthresh) bytes.
    fn in_ca(cwnd: u32) -> NewReno {
        let mut c = NewReno::new(MSS, 10 * MSS);
        c.on_congestion_event(T0, 2 * cwnd);
        c.on_recovery_end(T0);
        assert_eq!((c.cwnd(), c.ssthresh()), (cwnd, cwnd));
        c
    }

    #[test]
    fn cc_3_initial_window_and_arbitrarily_high_ssthresh() {
        let c = NewReno::new(MSS, 10 * MSS);
        assert_eq!(c.cwnd(), 10_000);
        assert_eq!(c.ssthresh(), u32::MAX);
        // Degenerate inputs still give a usable window.
        assert_eq!(NewReno::new(MSS, 0).cwnd(), MSS);
        assert_eq!(NewReno::new(0, 0).cwnd(), 1);
        assert_eq!(NewReno::new(MSS, u32::MAX).cwnd(), MAX_CWND);
    }

    #[test]
    fn cc_4_slow_start_adds_min_acked_mss() {
        let mut c = NewReno::new(MSS, 10 * MSS);
        c.on_ack(T0, 400, 10 * MSS, None);
        assert_eq!(c.cwnd(), 10_400);
        c.on_ack(T0, 3 * MSS, 10 * MSS, None);
        assert_eq!(c.cwnd(), 11_400, "a stretch ACK adds one SMSS, not three");
        c.on_ack(T0, 0, 10 * MSS, None);
        assert_eq!(c.cwnd(), 11_400);
        // Below ssthresh: slow start; at ssthresh: congestion avoidance (CC-4 lets either).
        let mut c = in_ca(20 * MSS);
        c.set_cwnd(19 * MSS);
        c.on_ack(T0, MSS, 19 * MSS, None);
        assert_eq!(c.cwnd(), 20 * MSS);
        c.on_ack(T0, MSS, 20 * MSS, None);
        assert_eq!(c.cwnd(), 20 * MSS + MSS * MSS / (20 * MSS));
    }

    /// One round trip: ACKs of `per_ack` bytes (the last one possibly shorter) until a
    /// window's worth is acknowledged. Returns the growth.
    fn round(c: &mut NewReno, per_ack: u32) -> u32 {
        let start = c.cwnd();
        let mut acked = 0;
        while acked < start {
            let n = per_ack.min(start - acked);
            c.on_ack(T0, n, start, None);
            acked += n;
        }
        c.cwnd() - start
    }

    #[test]
    fn cc_5_congestion_avoidance_one_mss_per_rtt() {
        // One ACK per segment: each adds SMSS*SMSS/cwnd (RFC 5681 eq. 3, as the connection
        // did before this module), just under one SMSS per round trip.
        let mut c = in_ca(20 * MSS);
        let mut model = 20 * MSS;
        c.on_ack(T0, MSS, model, None);
        model += MSS * MSS / model;
        assert_eq!(c.cwnd(), model);
        for _ in 0..10 {
            let growth = round(&mut c, MSS);
            assert!((MSS * 95 / 100..=MSS).contains(&growth), "grew {growth}");
        }
        assert!((29 * MSS..=30 * MSS).contains(&c.cwnd()), "{}", c.cwnd());
        // Delayed ACKs (two segments each) grow it just as fast.
        let mut d = in_ca(20 * MSS);
        for _ in 0..10 {
            let growth = round(&mut d, 2 * MSS);
            assert!((MSS * 95 / 100..=MSS).contains(&growth), "grew {growth}");
        }
        // A stretch ACK of more than a window adds at most one SMSS.
        let mut e = in_ca(20 * MSS);
        e.on_ack(T0, 50 * MSS, 20 * MSS, None);
        assert_eq!(e.cwnd(), 21 * MSS);
        // Tiny ACKs at a huge window still add at least a byte each.
        let mut f = in_ca(MAX_CWND / 2);
        f.on_ack(T0, 1, MAX_CWND / 2, None);
        assert_eq!(f.cwnd(), MAX_CWND / 2 + 1);
    }

    #[test]
    fn cc_6_rto_collapses_to_one_mss() {
        let mut c = NewReno::new(MSS, 40 * MSS);
        c.on_rto(T0, 30 * MSS, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 15 * MSS));
        // The retransmission times out again: ssthresh stays.
        c.on_rto(T0, 4 * MSS, false);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 15 * MSS));
        // A small flight floors ssthresh at two segments.
        c.on_rto(T0, 3 * MSS, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 2 * MSS));
        // Slow start resumes from one segment.
        c.on_ack(T0, MSS, MSS, None);
        assert_eq!(c.cwnd(), 2 * MSS);
    }

    #[test]
    fn cc_9_congestion_event_halves_the_flight() {
        let mut c = NewReno::new(MSS, 40 * MSS);
        c.on_congestion_event(T0, 33 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (16_500, 16_500));
        // The connection inflates (CC-9 (3), (4)) and the end of recovery deflates (5).
        c.set_cwnd(c.ssthresh() + 3 * MSS);
        c.set_cwnd(c.cwnd() + MSS);
        assert_eq!(c.cwnd(), 20_500);
        c.on_recovery_end(T0);
        assert_eq!((c.cwnd(), c.ssthresh()), (16_500, 16_500));
        c.on_congestion_event(T0, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (2 * MSS, 2 * MSS));
    }

    #[test]
    fn cc_13_idle_restart_caps_cwnd() {
        let mut c = in_ca(30 * MSS);
        c.on_idle_restart(T0, 10 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (10 * MSS, 30 * MSS));
        c.on_idle_restart(T0, 20 * MSS);
        assert_eq!(c.cwnd(), 10 * MSS, "never grows");
        c.on_idle_restart(T0, 0);
        assert_eq!(c.cwnd(), MSS, "never below one segment");
    }

    #[test]
    fn set_cwnd_is_clamped() {
        let mut c = NewReno::new(MSS, 10 * MSS);
        c.set_cwnd(0);
        assert_eq!(c.cwnd(), MSS);
        c.set_cwnd(u32::MAX);
        assert_eq!(c.cwnd(), MAX_CWND);
        for _ in 0..100 {
            c.on_ack(T0, u32::MAX, u32::MAX, None);
        }
        assert_eq!(c.cwnd(), MAX_CWND);
    }

    #[test]
    fn sk_12_undo_restores_cwnd_and_ssthresh() {
        // In congestion avoidance at 20 segments, then a reduction that proves spurious:
        // cwnd goes back to 20 segments, ssthresh to 3/4 of it (Linux prior_ssthresh,
        // tcp_current_ssthresh) since that beats the old ssthresh of 16.
        let mut c = in_ca(16 * MSS);
        c.set_cwnd(20 * MSS);
        let prior = c.prior();
        assert_eq!((prior.cwnd, prior.ssthresh), (20 * MSS, 16 * MSS));
        c.on_congestion_event(T0, 20 * MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (10 * MSS, 10 * MSS));
        c.undo(T0, &prior);
        assert_eq!((c.cwnd(), c.ssthresh()), (20 * MSS, 16 * MSS));
        // After an RTO (cwnd one segment) the same; in slow start ssthresh was "infinite".
        let mut c = NewReno::new(MSS, 10 * MSS);
        let prior = c.prior();
        c.on_rto(T0, 10 * MSS, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 5 * MSS));
        c.undo(T0, &prior);
        assert_eq!((c.cwnd(), c.ssthresh()), (10 * MSS, u32::MAX));
        // Undo never shrinks: a window that grew past the prior stays.
        let mut c = in_ca(16 * MSS);
        let prior = c.prior();
        c.set_cwnd(30 * MSS);
        c.undo(T0, &prior);
        assert_eq!((c.cwnd(), c.ssthresh()), (30 * MSS, 16 * MSS));
    }
}
