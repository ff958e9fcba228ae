//! RFC 6298 retransmission-timer estimator.
//!
//! Keeps SRTT and RTTVAR (checklist RTO-2, RTO-3), the base RTO computed from them, and the
//! exponential backoff applied on each expiry (RTO-11). All arithmetic is in integer
//! microseconds: no floats, so every run is bit-for-bit reproducible.
//!
//! The base RTO follows Linux rather than the letter of RFC 6298 §2.4 (decision 2, LX-4,
//! RTO-4): `RTO = SRTT + max(4·RTTVAR, rto_min)`, where the variance term itself is never
//! below the clock granularity G = 1 ms (RTO-8). The result, including backoff, is capped at
//! `rto_max` (RTO-5).
//!
//! Karn's rule (RTO-6) is the caller's job: feed [`RttEstimator::sample`] only with
//! unambiguous measurements.

use crate::time::Duration;

/// Clock granularity G of RFC 6298 §4 (RTO-8): the smallest variance term ever used.
pub const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// Converts a duration to whole microseconds, saturating at `u32::MAX` (71.6 minutes).
///
/// Every quantity here is kept in a `u32` of microseconds: an RTT, a variance or an RTO of
/// more than 71 minutes never occurs on a live path (timestamp samples are refused above an
/// hour, input.rs), and halving these fields saves 28 bytes of every connection (issue 3's
/// memory budget). A configured ceiling above 71.6 minutes therefore acts as 71.6 minutes.
fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// The RFC 6298 round-trip estimator and retransmission timeout.
///
/// The configured floor and ceiling (`Config::rto_min`, `Config::rto_max`) are not stored:
/// the caller passes them to the calls that recompute the RTO, and the current, backed-off
/// RTO is kept instead of a backoff count, so reading it needs neither (issue 3's memory
/// budget: 16 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    /// Smoothed RTT in µs; `NO_SAMPLE` until the first sample (RTO-1). A sentinel rather
    /// than an `Option` saves 4 bytes of every connection (issue 3's memory budget).
    srtt: u32,
    /// RTT variation in µs (meaningful only once `srtt` is set).
    rttvar: u32,
    /// RTO before backoff, in µs, capped at the ceiling.
    base: u32,
    /// The RTO in force, in µs: `base` doubled once per expiry since the last sample,
    /// capped at the ceiling (RTO-5, RTO-11). Doubling the capped value step by step gives
    /// the same result as capping `base · 2^n`.
    rto: u32,
}

/// `RttEstimator::srtt` before the first sample.
const NO_SAMPLE: u32 = u32::MAX;

impl RttEstimator {
    fn srtt_us(&self) -> Option<u32> {
        (self.srtt != NO_SAMPLE).then_some(self.srtt)
    }

    /// An estimator with no sample yet: the RTO is `initial` (RTO-1), capped at `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let base = micros(initial).min(micros(max));
        RttEstimator {
            srtt: NO_SAMPLE,
            rttvar: 0,
            base,
            rto: base,
        }
    }

    /// Feeds one RTT measurement `r` (the caller has applied Karn's rule, RTO-6); `min` is
    /// the floor on the variance term (`Config::rto_min`, decision 2, LX-4), `max` the
    /// ceiling (`Config::rto_max`, RTO-5).
    ///
    /// First sample (RTO-2): SRTT = R, RTTVAR = R/2. Later samples (RTO-3): RTTVAR =
    /// 3/4·RTTVAR + 1/4·|SRTT − R| using the old SRTT, then SRTT = 7/8·SRTT + 1/8·R.
    /// Then the base RTO is recomputed and the backoff is cleared (RTO-13: a fresh sample
    /// ends the backed-off RTO).
    pub fn sample(&mut self, r: Duration, min: Duration, max: Duration) {
        self.sample_micros(r.as_micros().min(u128::from(u64::MAX)) as u64, min, max);
    }

    /// [`RttEstimator::sample`] with the sample in µs, the unit the ACK path measures it in
    /// (a timestamp echo's age in ms times 1000, or the µs since a timed segment left): the
    /// `Duration` round trip cost the churn of issue 3 ~100 instructions a sample.
    pub fn sample_micros(&mut self, r: u64, min: Duration, max: Duration) {
        // Samples stop one short of the sentinel (71 minutes: see `micros`).
        let r = r.min(u64::from(NO_SAMPLE - 1)) as u32;
        match self.srtt_us() {
            None => {
                // RTO-2.
                self.srtt = r;
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                // RTO-3: beta = 1/4 on the old SRTT first, then alpha = 1/8. Computed as
                // (3·RTTVAR + delta) / 4 and (7·SRTT + R) / 8 in u64 so nothing overflows and
                // only one rounding happens per step.
                let delta = u64::from(srtt.abs_diff(r));
                let rttvar = (3 * u64::from(self.rttvar) + delta) / 4;
                let srtt = (7 * u64::from(srtt) + u64::from(r)) / 8;
                self.rttvar = rttvar as u32; // never exceeds max(old rttvar, delta) <= u32::MAX
                self.srtt = srtt as u32; // a weighted mean of two values below the sentinel
            }
        }
        self.base = self.compute_base(micros(min), micros(max));
        self.rto = self.base;
    }

    /// `SRTT + max(max(4·RTTVAR, G), rto_min)` (RTO-2, RTO-8, decision 2 / LX-4), capped at
    /// the ceiling.
    fn compute_base(&self, min: u32, max: u32) -> u32 {
        let srtt = u64::from(self.srtt_us().unwrap_or(0));
        let var_term = (4 * u64::from(self.rttvar))
            .max(u64::from(micros(CLOCK_GRANULARITY)))
            .max(u64::from(min));
        (srtt + var_term).min(u64::from(max)) as u32
    }

    /// The current RTO: the base RTO doubled once per backoff, capped at `rto_max` (RTO-5,
    /// RTO-11).
    pub fn rto(&self) -> Duration {
        Duration::from_micros(self.rto.into())
    }

    /// [`RttEstimator::rto`] in microseconds, the unit it is kept in: the per-segment paths
    /// (idle restart, timer deadlines, the PTO) compare and add it as an integer rather than
    /// going through a `Duration` and back (a division and a 128-bit product each way).
    pub fn rto_micros(&self) -> u64 {
        self.rto.into()
    }

    /// [`RttEstimator::srtt`] in microseconds (see `rto_micros`).
    pub fn srtt_micros(&self) -> Option<u64> {
        self.srtt_us().map(u64::from)
    }

    /// The RTO before backoff, capped at `rto_max`.
    pub fn base_rto(&self) -> Duration {
        Duration::from_micros(self.base.into())
    }

    /// The timer expired (RTO-11): double the RTO, capped at `max` (`Config::rto_max`,
    /// RTO-5).
    pub fn backoff(&mut self, max: Duration) {
        self.rto = (2 * u64::from(self.rto)).min(u64::from(micros(max))) as u32;
    }

    /// Forgets the backoff, returning the RTO to its base value.
    pub fn reset_backoff(&mut self) {
        self.rto = self.base;
    }

    /// Smoothed RTT, once there has been a sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_us().map(|us| Duration::from_micros(us.into()))
    }

    /// RTT variation, once there has been a sample.
    pub fn rttvar(&self) -> Option<Duration> {
        self.srtt_us()
            .map(|_| Duration::from_micros(self.rttvar.into()))
    }

    /// Raises the base RTO to at least `d` (RTO-12: the 3 s fallback once data transfer starts
    /// after our SYN or SYN-ACK was retransmitted, LX-3), within the ceiling `max`. The raised
    /// value stays until the next sample recomputes the RTO from SRTT and RTTVAR. The RTO in
    /// force is raised to the new base if below it; RTO-12 clears the backoff first
    /// ([`RttEstimator::reset_backoff`]), so that is exactly the new base.
    pub fn ensure_at_least(&mut self, d: Duration, max: Duration) {
        self.base = self.base.max(micros(d).min(micros(max)));
        self.rto = self.rto.max(self.base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// An estimator with the `rto_min` and `rto_max` its owner would pass to it.
    struct Est {
        e: RttEstimator,
        min: Duration,
        max: Duration,
    }

    impl Est {
        fn new(initial: Duration, min: Duration, max: Duration) -> Est {
            Est {
                e: RttEstimator::new(initial, max),
                min,
                max,
            }
        }
        fn sample(&mut self, r: Duration) {
            self.e.sample(r, self.min, self.max);
        }
        fn backoff(&mut self) {
            self.e.backoff(self.max);
        }
        fn ensure_at_least(&mut self, d: Duration) {
            self.e.ensure_at_least(d, self.max);
        }
    }

    impl std::ops::Deref for Est {
        type Target = RttEstimator;
        fn deref(&self) -> &RttEstimator {
            &self.e
        }
    }

    impl std::ops::DerefMut for Est {
        fn deref_mut(&mut self) -> &mut RttEstimator {
            &mut self.e
        }
    }

    /// Plain RFC 6298 (no floor beyond the granularity), 60 s ceiling.
    fn rfc() -> Est {
        Est::new(ms(1_000), Duration::ZERO, ms(60_000))
    }

    /// Linux defaults (LX-3, LX-4): 1 s initial, 200 ms min, 120 s max.
    fn linux() -> Est {
        Est::new(ms(1_000), ms(200), ms(120_000))
    }

    #[test]
    fn rto_1_initial_before_any_sample() {
        let e = linux();
        assert_eq!(e.rto(), ms(1_000));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), None);
        // The initial value is capped by the ceiling too (RTO-5).
        let e = Est::new(ms(5_000), ms(200), ms(2_000));
        assert_eq!(e.rto(), ms(2_000));
    }

    #[test]
    fn rto_2_first_sample() {
        let mut e = rfc();
        e.sample(ms(1_000));
        assert_eq!(e.srtt(), Some(ms(1_000)));
        assert_eq!(e.rttvar(), Some(ms(500)));
        // RTO = SRTT + 4·RTTVAR = 1 s + 2 s.
        assert_eq!(e.rto(), ms(3_000));

        // Odd microseconds: RTTVAR = R/2 rounds down.
        let mut e = rfc();
        e.sample(Duration::from_micros(101));
        assert_eq!(e.rttvar(), Some(Duration::from_micros(50)));
        // 4·50 µs < G = 1 ms, so the variance term is G (RTO-8).
        assert_eq!(e.rto(), Duration::from_micros(101 + 1_000));
    }

    #[test]
    fn rto_3_later_samples_exact_values() {
        let mut e = rfc();
        e.sample(ms(1_000)); // SRTT 1000, RTTVAR 500
        e.sample(ms(600));
        // RTTVAR = 3/4·500 + 1/4·|1000 − 600| = 375 + 100 = 475 (old SRTT used first).
        // SRTT = 7/8·1000 + 1/8·600 = 875 + 75 = 950.
        assert_eq!(e.rttvar(), Some(ms(475)));
        assert_eq!(e.srtt(), Some(ms(950)));
        assert_eq!(e.rto(), ms(950 + 4 * 475));

        e.sample(ms(1_350));
        // RTTVAR = (3·475 + |950 − 1350|) / 4 = (1425 + 400) / 4 = 456.25 ms.
        // SRTT = (7·950 + 1350) / 8 = 8000 / 8 = 1000 ms.
        assert_eq!(e.rttvar(), Some(Duration::from_micros(456_250)));
        assert_eq!(e.srtt(), Some(ms(1_000)));
        assert_eq!(e.rto(), ms(1_000 + 1_825));

        // Rounding is per step, in microseconds: (3·1 + 0) / 4 = 0.
        let mut e = rfc();
        e.sample(Duration::from_micros(3)); // SRTT 3, RTTVAR 1
        e.sample(Duration::from_micros(3)); // RTTVAR (3 + 0) / 4 = 0, SRTT 3
        assert_eq!(e.rttvar(), Some(Duration::ZERO));
        assert_eq!(e.srtt(), Some(Duration::from_micros(3)));
        // RTO-8: 4·RTTVAR = 0 is replaced by G.
        assert_eq!(e.rto(), Duration::from_micros(3 + 1_000));
    }

    #[test]
    fn rto_4_lx_4_min_floors_the_variance_term() {
        // Decision 2 / LX-4: RTO = SRTT + max(4·RTTVAR, 200 ms).
        let mut e = linux();
        e.sample(ms(10)); // SRTT 10, RTTVAR 5: 4·RTTVAR = 20 < 200
        assert_eq!(e.rto(), ms(210));
        // Variance term above the floor: used as is.
        let mut e = linux();
        e.sample(ms(100)); // RTTVAR 50, 4·RTTVAR = 200 = floor
        assert_eq!(e.rto(), ms(300));
        let mut e = linux();
        e.sample(ms(400)); // RTTVAR 200, 4·RTTVAR = 800
        assert_eq!(e.rto(), ms(1_200));
        // Steady RTT: RTTVAR decays, the floor takes over.
        for _ in 0..50 {
            e.sample(ms(400));
        }
        assert_eq!(e.srtt(), Some(ms(400)));
        assert_eq!(e.rto(), ms(600));
    }

    #[test]
    fn rto_5_ceiling_caps_sampled_rto() {
        let mut e = Est::new(ms(1_000), ms(200), ms(60_000));
        e.sample(ms(50_000)); // 50 s + 100 s
        assert_eq!(e.rto(), ms(60_000));
        assert_eq!(e.base_rto(), ms(60_000));
        // Huge samples saturate instead of overflowing.
        e.sample(Duration::MAX);
        e.sample(Duration::MAX);
        assert_eq!(e.rto(), ms(60_000));
        e.backoff();
        assert_eq!(e.rto(), ms(60_000));
    }

    #[test]
    fn fields_saturate_at_71_minutes() {
        // The u32-microsecond fields (issue 3): a ceiling beyond 2^32 µs acts as 2^32 µs,
        // and an absurd sample saturates rather than wrapping.
        let cap = Duration::from_micros(u64::from(u32::MAX));
        let mut e = Est::new(ms(1_000), ms(200), Duration::from_secs(3 * 3600));
        assert_eq!(e.rto(), ms(1_000));
        e.sample(Duration::from_secs(2 * 3600));
        assert_eq!(e.srtt(), Some(cap - Duration::from_micros(1)));
        assert_eq!(e.rto(), cap);
        e.backoff();
        assert_eq!(e.rto(), cap);
        // A normal sample afterwards pulls it back down.
        for _ in 0..200 {
            e.sample(ms(100));
        }
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn rto_11_backoff_doubles_and_caps() {
        let mut e = linux(); // 1 s initial, 120 s max
        let mut seen = vec![e.rto().as_millis()];
        for _ in 0..10 {
            e.backoff();
            seen.push(e.rto().as_millis());
        }
        assert_eq!(
            seen,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000,
                120_000
            ]
        );
        // Far more backoffs than bits in a u64: still capped, no overflow.
        for _ in 0..200 {
            e.backoff();
        }
        assert_eq!(e.rto(), ms(120_000));
        assert_eq!(e.base_rto(), ms(1_000));
        e.reset_backoff();
        assert_eq!(e.rto(), ms(1_000));
        // Doubling the capped value step by step equals capping base · 2^n: a ceiling that
        // is not a power-of-two multiple of the base is met exactly, never overshot.
        let mut e = Est::new(ms(300), ms(200), ms(1_000));
        let mut seen = vec![];
        for _ in 0..4 {
            e.backoff();
            seen.push(e.rto().as_millis());
        }
        assert_eq!(seen, [600, 1_000, 1_000, 1_000]);
    }

    #[test]
    fn rto_13_sample_resets_backoff() {
        let mut e = linux();
        e.sample(ms(100)); // RTO 300 ms
        e.backoff();
        e.backoff();
        assert_eq!(e.rto(), ms(1_200));
        // The backed-off RTO stays until a fresh sample recomputes it (RTO-13).
        e.sample(ms(100)); // RTTVAR 3/4·50 = 37.5, 4·RTTVAR = 150 < 200
        assert_eq!(e.rto(), ms(300));
        e.backoff();
        assert_eq!(
            e.rto(),
            ms(600),
            "the backoff starts again from the new base"
        );
    }

    #[test]
    fn rto_12_ensure_at_least_until_next_sample() {
        let mut e = linux();
        e.sample(ms(100)); // RTO 300 ms
        e.ensure_at_least(ms(3_000));
        assert_eq!(e.rto(), ms(3_000));
        // Never lowers.
        e.ensure_at_least(ms(500));
        assert_eq!(e.rto(), ms(3_000));
        // Backoff applies on top of the raised base.
        e.backoff();
        assert_eq!(e.rto(), ms(6_000));
        // The next sample recomputes from SRTT/RTTVAR and clears the backoff.
        e.sample(ms(100));
        assert_eq!(e.rto(), ms(300));

        // Before any sample (S-2: SYN retransmitted, then data): 1 s -> 3 s.
        let mut e = linux();
        e.ensure_at_least(ms(3_000));
        assert_eq!(e.rto(), ms(3_000));
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn micros_accessors_are_the_durations() {
        let max = Duration::from_secs(120);
        let mut e = RttEstimator::new(Duration::from_secs(1), max);
        assert_eq!(e.srtt_micros(), None);
        for (i, r) in [7u64, 250_000, 3, 99_999_999, 1_234_567]
            .into_iter()
            .enumerate()
        {
            e.sample(Duration::from_micros(r), Duration::from_millis(200), max);
            if i % 2 == 1 {
                e.backoff(max);
            }
            assert_eq!(u128::from(e.rto_micros()), e.rto().as_micros());
            assert_eq!(
                e.srtt_micros().map(u128::from),
                e.srtt().map(|d| d.as_micros())
            );
        }
    }
}
