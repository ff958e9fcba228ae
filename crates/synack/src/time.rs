//! Time as a value passed in: the core never reads a clock of its own.
//!
//! `Instant` counts microseconds since an arbitrary epoch chosen by the caller (the simulator
//! starts at zero, a real driver maps its monotonic clock onto it). Durations are
//! `core::time::Duration`. Keeping time out of the core is what makes every test and every
//! simulator run deterministic (DESIGN.md, "the sans-IO contract").

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point in time, in microseconds since the caller's epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(0);

    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms * 1_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        Instant(s * 1_000_000)
    }
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }
    /// Time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Instant {
    /// Seconds with millisecond precision, the way ladder diagrams print time: `63.000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1_000_000, (self.0 / 1_000) % 1_000)
    }
}

/// An `Option<Instant>` in 8 bytes instead of 16: `u64::MAX` means none. A TCB holds a
/// dozen optional times (timers, rate-limit stamps), and halving each one is a large part of
/// keeping an idle connection under its memory budget (issue 3). `Instant + Duration`
/// saturates at `u64::MAX`, which is "never" in either representation.
///
/// Aligned to 4 bytes, not 8, so that one beside a 4-byte field (a sequence number) leaves no
/// padding in the TCB (issue 3); unaligned 8-byte loads cost nothing on the targets we run on.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(Rust, packed(4))]
pub struct OptInstant(u64);

impl OptInstant {
    pub const NONE: OptInstant = OptInstant(u64::MAX);

    pub const fn some(t: Instant) -> Self {
        OptInstant(t.0)
    }
    pub const fn get(self) -> Option<Instant> {
        if self.0 == u64::MAX {
            None
        } else {
            Some(Instant(self.0))
        }
    }
    pub const fn is_none(self) -> bool {
        self.0 == u64::MAX
    }
    pub const fn is_some(self) -> bool {
        self.0 != u64::MAX
    }
    /// The raw value, `u64::MAX` for none: orders "none" after every time.
    pub const fn raw(self) -> u64 {
        self.0
    }
}

/// An optional instant in 4 bytes: microseconds truncated to 32 bits, `u32::MAX` for none.
/// For a time only ever compared with a `now` less than 71 minutes later (the start of an
/// RTT measurement, which a retransmission or an ACK ends within an RTO); the TCB's memory
/// budget (issue 3) is why it is not an [`OptInstant`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptStamp(u32);

impl OptStamp {
    pub const NONE: OptStamp = OptStamp(u32::MAX);

    /// `t`, truncated (an instant that truncates to the sentinel is taken one µs early).
    pub const fn some(t: Instant) -> Self {
        let v = t.0 as u32;
        OptStamp(if v == u32::MAX { v - 1 } else { v })
    }
    pub const fn is_none(self) -> bool {
        self.0 == u32::MAX
    }
    pub const fn is_some(self) -> bool {
        self.0 != u32::MAX
    }
    /// Microseconds from the stamp to `now`, if set.
    pub const fn elapsed_us(self, now: Instant) -> Option<u32> {
        if self.0 == u32::MAX {
            None
        } else {
            Some((now.0 as u32).wrapping_sub(self.0))
        }
    }
}

impl Default for OptInstant {
    fn default() -> Self {
        OptInstant::NONE
    }
}

impl From<Option<Instant>> for OptInstant {
    fn from(o: Option<Instant>) -> Self {
        o.map_or(OptInstant::NONE, OptInstant::some)
    }
}

impl fmt::Debug for OptInstant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

/// An `Option<Duration>` in 4 bytes instead of 16, in whole milliseconds rounded up (so
/// never shorter than asked): `u32::MAX` means none, and longer durations saturate one below
/// it (49.7 days). For per-connection settings such as the user timeout, which Linux keeps
/// in milliseconds too (TCP_USER_TIMEOUT); issue 3's memory budget.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptMillis(u32);

impl OptMillis {
    pub const NONE: OptMillis = OptMillis(u32::MAX);

    pub fn some(d: Duration) -> Self {
        let ms = d.as_micros().div_ceil(1_000);
        OptMillis(ms.min(u128::from(u32::MAX - 1)) as u32)
    }
    pub fn get(self) -> Option<Duration> {
        (self.0 != u32::MAX).then(|| Duration::from_millis(self.0.into()))
    }
}

impl From<Option<Duration>> for OptMillis {
    fn from(o: Option<Duration>) -> Self {
        o.map_or(OptMillis::NONE, OptMillis::some)
    }
}

impl fmt::Debug for OptMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_display() {
        let t = Instant::from_secs(63) + Duration::from_millis(250);
        assert_eq!(t.as_millis(), 63_250);
        assert_eq!(t.to_string(), "63.250s");
        assert_eq!(t - Instant::from_secs(3), Duration::from_millis(60_250));
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
    }

    #[test]
    fn opt_instant_round_trips() {
        assert_eq!(core::mem::size_of::<OptInstant>(), 8);
        let t = Instant::from_secs(5);
        assert_eq!(OptInstant::some(t).get(), Some(t));
        assert_eq!(OptInstant::NONE.get(), None);
        assert_eq!(OptInstant::from(Some(t)).get(), Some(t));
        assert_eq!(OptInstant::from(None).get(), None);
        assert!(OptInstant::some(Instant::ZERO).is_some());
        assert!(OptInstant::NONE.raw() > OptInstant::some(t).raw());
        assert_eq!(OptInstant::default(), OptInstant::NONE);
    }

    #[test]
    fn opt_millis_round_trips() {
        assert_eq!(core::mem::size_of::<OptMillis>(), 4);
        let d = Duration::from_millis(1_500);
        assert_eq!(OptMillis::some(d).get(), Some(d));
        assert_eq!(OptMillis::some(Duration::ZERO).get(), Some(Duration::ZERO));
        // A fraction of a millisecond rounds up: never shorter than asked.
        assert_eq!(
            OptMillis::some(Duration::from_micros(1_001)).get(),
            Some(Duration::from_millis(2))
        );
        assert_eq!(OptMillis::NONE.get(), None);
        assert_eq!(OptMillis::from(None).get(), None);
        // Beyond u32 milliseconds: saturates, still some.
        let huge = OptMillis::some(Duration::MAX).get().unwrap();
        assert_eq!(huge, Duration::from_millis(u64::from(u32::MAX - 1)));
    }

    #[test]
    fn opt_stamp_measures_across_the_32_bit_wrap() {
        assert_eq!(core::mem::size_of::<OptStamp>(), 4);
        assert_eq!(OptStamp::NONE.elapsed_us(Instant::from_secs(9)), None);
        let t = Instant::from_secs(5);
        let s = OptStamp::some(t);
        assert!(s.is_some() && !s.is_none());
        assert_eq!(s.elapsed_us(t + Duration::from_millis(40)), Some(40_000));
        // 2^32 µs is 71.6 minutes: a stamp just before the wrap still measures 3 ms.
        let before = Instant::ZERO + Duration::from_micros(u64::from(u32::MAX) - 1_000);
        let s = OptStamp::some(before);
        assert_eq!(s.elapsed_us(before + Duration::from_millis(3)), Some(3_000));
        // The instant that truncates to the sentinel is taken one µs early, not lost.
        let edge = Instant::ZERO + Duration::from_micros(u64::from(u32::MAX));
        assert_eq!(OptStamp::some(edge).elapsed_us(edge), Some(1));
    }
}
