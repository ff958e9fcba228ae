//! 32-bit sequence-number arithmetic (RFC 9293 §3.4, checklist EP-4).
//!
//! Every comparison of sequence or acknowledgment numbers is modulo 2^32: `a < b` means the
//! signed 32-bit difference `a - b` is negative. A plain `u32` comparison breaks at the wrap,
//! so sequence numbers get their own type that offers only the wrapping operations.

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number (or acknowledgment number).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance `self - other`, the basis of every comparison (EP-4).
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    pub fn lt(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }
    pub fn le(self, other: SeqNum) -> bool {
        self.diff(other) <= 0
    }
    pub fn gt(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }
    pub fn ge(self, other: SeqNum) -> bool {
        self.diff(other) >= 0
    }
    /// `low <= self < high`, modulo 2^32.
    pub fn in_range(self, low: SeqNum, high: SeqNum) -> bool {
        low.le(self) && self.lt(high)
    }
    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.ge(other) {
            self
        } else {
            other
        }
    }
    /// The earlier of two sequence numbers.
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.le(other) {
            self
        } else {
            other
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, n: u32) {
        self.0 = self.0.wrapping_add(n);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}

impl Sub<SeqNum> for SeqNum {
    /// The unsigned distance forward from `rhs` to `self`; callers use it only where
    /// `rhs <= self` is known (e.g. bytes between SND.UNA and SND.NXT).
    type Output = u32;
    fn sub(self, rhs: SeqNum) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}

impl PartialOrd for SeqNum {
    /// Wrapping order. It is not a total order over all of u32 (a and a+2^31 are each
    /// "greater" than the other), which is why `Ord` is not implemented.
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ep_4_comparisons_wrap_modulo_2_32() {
        let a = SeqNum(u32::MAX - 5);
        let b = a + 10; // wrapped past zero
        assert_eq!(b.0, 4);
        assert!(a.lt(b) && b.gt(a) && a < b);
        assert_eq!(b - a, 10);
        assert_eq!(b.diff(a), 10);
        assert!(SeqNum(3).in_range(a, b));
        assert!(!b.in_range(a, b));
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
