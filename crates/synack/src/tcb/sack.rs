//! The sender's SACK scoreboard and the RFC 6675 loss-recovery arithmetic (checklist SK-5..
//! SK-11): which bytes above SND.UNA the receiver holds, which are deemed lost (IsLost),
//! how much is in the network (SetPipe), and what to retransmit next (NextSeg).
//!
//! The scoreboard keeps at most `MAX_RANGES` SACKed ranges: beyond that the oldest
//! information above the highest range is not recorded, which only makes the sender more
//! conservative (SK-5 allows the receiver to renege anyway). Memory is bounded per connection.
//!
//! The same box holds RACK's record of the flight (`rack::Flight`, RK-1), HyStart++'s
//! rounds (`cc::hystart`) and what a loss episode would restore if it proved spurious
//! (`undo::Undo`, SK-12): all are needed only while data is outstanding and something is
//! known about it, so one pointer in the TCB (8 bytes while unallocated, issue 3's memory
//! budget) serves them all.

use super::rack::Flight;
use super::undo::Undo;
use crate::cc::hystart::HyStart;
use crate::seq::SeqNum;

/// RFC 6675 DupThresh.
pub const DUP_THRESH: u32 = 3;

/// Sequence ranges newly learnt as delivered by one ACK (RACK's input, RK-1). Bounded:
/// pieces beyond `Pieces::CAP` are not reported, which only leaves RACK's reference older
/// than it could be (a later detection, never a spurious one).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pieces {
    buf: [(SeqNum, SeqNum); Pieces::CAP],
    n: usize,
}

impl Default for Pieces {
    fn default() -> Self {
        Pieces {
            buf: [(SeqNum(0), SeqNum(0)); Pieces::CAP],
            n: 0,
        }
    }
}

impl Pieces {
    pub const CAP: usize = 48;

    pub fn push(&mut self, a: SeqNum, b: SeqNum) {
        if a.lt(b) && self.n < Self::CAP {
            self.buf[self.n] = (a, b);
            self.n += 1;
        }
    }

    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.buf[..self.n]
    }
}

#[derive(Clone, Debug, Default)]
struct Inner {
    /// SACKed ranges above SND.UNA, sorted and disjoint.
    ranges: Vec<(SeqNum, SeqNum)>,
    flight: Flight,
    /// HyStart++'s rounds in the initial slow start (`cc::hystart`); forgotten with the
    /// box when the flight drains.
    hystart: Option<HyStart>,
    /// The loss episode's undo state (SK-12), boxed: 8 bytes of this box while there is
    /// none. While an episode can still be undone it keeps the box.
    undo: Option<Box<Undo>>,
}

/// SACKed ranges above SND.UNA (and RACK's flight record), allocated while in use.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    inner: Option<Box<Inner>>,
}

impl Scoreboard {
    pub const MAX_RANGES: usize = 32;

    pub fn is_empty(&self) -> bool {
        self.ranges().is_empty()
    }

    pub fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        match &self.inner {
            Some(i) => &i.ranges,
            None => &[],
        }
    }

    /// Whether the box exists (something SACKed, or a RACK record): while it does not,
    /// nothing can be deemed lost.
    #[inline(always)]
    pub fn is_allocated(&self) -> bool {
        self.inner.is_some()
    }

    fn inner_mut(&mut self) -> &mut Inner {
        self.inner.get_or_insert_with(Box::default)
    }

    /// RACK's flight record, if one is allocated.
    pub(crate) fn flight(&self) -> Option<&Flight> {
        self.inner.as_deref().map(|i| &i.flight)
    }

    /// RACK's flight record, allocated if need be.
    pub(crate) fn flight_mut(&mut self) -> &mut Flight {
        &mut self.inner_mut().flight
    }

    /// The ranges and the flight record together (allocated if need be).
    pub(crate) fn parts_mut(&mut self) -> (&[(SeqNum, SeqNum)], &mut Flight) {
        let i = self.inner_mut();
        (&i.ranges, &mut i.flight)
    }

    /// HyStart++'s state, started at SND.NXT `nxt` (and the box allocated) if need be.
    pub(crate) fn hystart_mut(&mut self, nxt: SeqNum) -> &mut HyStart {
        self.inner_mut()
            .hystart
            .get_or_insert_with(|| HyStart::new(nxt))
    }

    /// Free the box once neither the ranges nor the flight record hold anything, and no
    /// loss episode's undo state is kept in it (SK-12).
    pub(crate) fn release_if_idle(&mut self) {
        if self
            .inner
            .as_ref()
            .is_some_and(|i| i.ranges.is_empty() && i.flight.is_idle() && i.undo.is_none())
        {
            self.inner = None;
        }
    }

    /// The flight drained with SND.UNA at `una`: HyStart++'s rounds end, an ended loss
    /// episode's undo state goes once `una` has passed the point where it ended, and the
    /// box is freed if nothing else is left.
    pub(crate) fn release_drained(&mut self, una: SeqNum) {
        if let Some(i) = &mut self.inner {
            if i.undo.as_ref().is_some_and(|u| u.stale(una)) {
                i.undo = None;
            }
            i.hystart = None;
        }
        self.release_if_idle();
    }

    /// The loss episode's undo state, if any (SK-12).
    pub(crate) fn undo_mut(&mut self) -> Option<&mut Undo> {
        self.inner.as_deref_mut()?.undo.as_deref_mut()
    }

    /// Start a loss episode's undo state (allocating the box if need be), replacing any.
    pub(crate) fn set_undo(&mut self, u: Undo) {
        let i = self.inner_mut();
        match &mut i.undo {
            Some(b) => **b = u,
            None => i.undo = Some(Box::new(u)),
        }
    }

    /// Take the undo state out (the caller releases the box if it is now idle).
    pub(crate) fn take_undo(&mut self) -> Option<Box<Undo>> {
        self.inner.as_deref_mut()?.undo.take()
    }

    /// An RTO proved spurious: nothing RACK marked lost is (SK-12).
    pub(crate) fn unmark_lost(&mut self) {
        if let Some(i) = &mut self.inner {
            i.flight.unmark_lost();
        }
    }

    /// Forget every SACKed range (after an RTO, SK-5).
    pub fn clear(&mut self) {
        if let Some(i) = &mut self.inner {
            i.ranges.clear();
        }
        self.release_if_idle();
    }

    /// Record a SACK block `[left, right)`, clipped to `[una, max)`; blocks at or below
    /// SND.UNA (D-SACK, SK-12) and beyond what was sent are ignored. True if anything new
    /// was learnt.
    pub fn add(&mut self, left: SeqNum, right: SeqNum, una: SeqNum, max: SeqNum) -> bool {
        self.add_noting(left, right, una, max, None)
    }

    /// [`Scoreboard::add`], also noting in `newly` the parts of the block that were not
    /// SACKed before (what this ACK newly delivered, for RACK).
    pub(crate) fn add_noting(
        &mut self,
        left: SeqNum,
        right: SeqNum,
        una: SeqNum,
        max: SeqNum,
        newly: Option<&mut Pieces>,
    ) -> bool {
        let left = left.max(una);
        let right = right.min(max);
        if !left.lt(right) {
            return false;
        }
        if let Some(newly) = newly {
            let mut at = left;
            for &(a, b) in self.ranges() {
                if !b.gt(at) {
                    continue;
                }
                if !a.lt(right) {
                    break;
                }
                newly.push(at, a.min(right));
                at = at.max(b);
            }
            newly.push(at, right);
        }
        let before = self.sacked_bytes();
        let ranges = &mut self.inner_mut().ranges;
        // Merge with every range it touches.
        let (mut l, mut r) = (left, right);
        let mut i = 0;
        while i < ranges.len() {
            let (a, b) = ranges[i];
            if b.lt(l) || r.lt(a) {
                i += 1;
                continue;
            }
            l = l.min(a);
            r = r.max(b);
            ranges.remove(i);
        }
        let pos = ranges
            .iter()
            .position(|&(a, _)| r.lt(a))
            .unwrap_or(ranges.len());
        if ranges.len() >= Self::MAX_RANGES {
            if pos == ranges.len() {
                // Keep the ranges we have (the ones nearest SND.UNA matter most).
                return self.sacked_bytes() != before;
            }
            ranges.pop();
        }
        ranges.insert(pos, (l, r));
        self.sacked_bytes() != before
    }

    /// The cumulative ACK moved to `una`: drop what it covers.
    pub fn advance(&mut self, una: SeqNum) {
        if let Some(i) = &mut self.inner {
            i.ranges.retain(|&(_, b)| b.gt(una));
            if let Some(first) = i.ranges.first_mut() {
                first.0 = first.0.max(una);
            }
        }
        self.release_if_idle();
    }

    pub fn sacked_bytes(&self) -> u32 {
        self.ranges().iter().map(|&(a, b)| b - a).sum()
    }

    pub fn is_sacked(&self, seq: SeqNum) -> bool {
        self.ranges().iter().any(|&(a, b)| seq.in_range(a, b))
    }

    /// Highest SACKed sequence number + 1, if any.
    pub fn high_sacked(&self) -> Option<SeqNum> {
        self.ranges().last().map(|&(_, b)| b)
    }

    /// IsLost (SK-7): at least DupThresh discontiguous SACKed ranges above `seq`, or more
    /// than (DupThresh - 1) * SMSS SACKed bytes above it.
    pub fn is_lost(&self, seq: SeqNum, smss: u32) -> bool {
        let mut count = 0;
        let mut bytes = 0u32;
        for &(a, b) in self.ranges().iter().rev() {
            if !b.gt(seq) {
                break;
            }
            count += 1;
            bytes += b - a.max(seq + 1);
            if count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * smss {
                return true;
            }
        }
        false
    }

    /// The unSACKed holes in `[una, max)`, in order; the last runs to `max` and has no SACKed
    /// data above it.
    pub fn holes(&self, una: SeqNum, max: SeqNum) -> impl Iterator<Item = (SeqNum, SeqNum)> + '_ {
        let mut start = una;
        let mut i = 0;
        std::iter::from_fn(move || loop {
            if !start.lt(max) {
                return None;
            }
            match self.ranges().get(i) {
                Some(&(a, b)) => {
                    i += 1;
                    let hole = (start, a);
                    start = b;
                    if hole.0.lt(hole.1) {
                        return Some(hole);
                    }
                }
                None => {
                    let hole = (start, max);
                    start = max;
                    return Some(hole);
                }
            }
        })
    }

    /// SetPipe (SK-8): bytes in the network. Every unSACKed byte not deemed lost counts once,
    /// and every retransmitted byte (below `high_rxt`) counts again. A hole has the same
    /// IsLost answer for all its bytes (no SACKed byte lies inside it).
    pub fn pipe(&self, una: SeqNum, max: SeqNum, high_rxt: SeqNum, smss: u32) -> u32 {
        let mut pipe = 0;
        for (a, b) in self.holes(una, max) {
            let len = b - a;
            let retransmitted = if high_rxt.gt(a) {
                (high_rxt.min(b)) - a
            } else {
                0
            };
            if !self.is_lost(a, smss) {
                pipe += len;
            }
            pipe += retransmitted;
        }
        pipe
    }

    /// NextSeg rules 1 and 3 (SK-10): the next range to retransmit, at most `smss` long,
    /// starting at or above `high_rxt`. Rule 1 takes a hole deemed lost; rule 3 (only when
    /// `rule3` and no new data can go, rule 2) any hole with SACKed data above it.
    pub fn next_rtx(
        &self,
        una: SeqNum,
        max: SeqNum,
        high_rxt: SeqNum,
        smss: u32,
        rule3: bool,
    ) -> Option<(SeqNum, u32)> {
        let high_sacked = self.high_sacked()?;
        for (a, b) in self.holes(una, max) {
            if !b.gt(high_rxt) || !a.lt(high_sacked) {
                continue;
            }
            let start = a.max(high_rxt);
            if self.is_lost(start, smss) || rule3 {
                return Some((start, (b - start).min(smss)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    fn board(ranges: &[(u32, u32)]) -> Scoreboard {
        let mut b = Scoreboard::default();
        for &(l, r) in ranges {
            b.add(s(l), s(r), s(0), s(100_000));
        }
        b
    }

    #[test]
    fn sk_2_blocks_merge_clip_and_ignore_dsack() {
        let mut b = Scoreboard::default();
        assert!(b.add(s(2000), s(3000), s(1000), s(10_000)));
        assert!(
            b.add(s(3000), s(4000), s(1000), s(10_000)),
            "adjacent ranges merge"
        );
        assert_eq!(b.ranges(), &[(s(2000), s(4000))]);
        assert!(!b.add(s(2500), s(3500), s(1000), s(10_000)), "nothing new");
        assert!(
            !b.add(s(0), s(900), s(1000), s(10_000)),
            "D-SACK below SND.UNA ignored"
        );
        assert!(
            b.add(s(9000), s(20_000), s(1000), s(10_000)),
            "clipped to SND.MAX"
        );
        assert_eq!(b.ranges(), &[(s(2000), s(4000)), (s(9000), s(10_000))]);
        b.advance(s(3000));
        assert_eq!(b.ranges(), &[(s(3000), s(4000)), (s(9000), s(10_000))]);
        b.advance(s(10_000));
        assert!(b.is_empty());
    }

    #[test]
    fn sk_5_scoreboard_is_bounded() {
        let mut b = Scoreboard::default();
        for i in 0..100u32 {
            b.add(s(i * 2000 + 1000), s(i * 2000 + 1500), s(0), s(1_000_000));
        }
        assert_eq!(b.ranges().len(), Scoreboard::MAX_RANGES);
        // The ranges nearest SND.UNA are the ones kept.
        assert_eq!(b.ranges()[0], (s(1000), s(1500)));
        // A range below the others still gets in, evicting the highest.
        b.add(s(100), s(200), s(0), s(1_000_000));
        assert_eq!(b.ranges()[0], (s(100), s(200)));
        assert_eq!(b.ranges().len(), Scoreboard::MAX_RANGES);
    }

    #[test]
    fn sk_7_is_lost_by_ranges_or_bytes() {
        // Three discontiguous ranges above 0: lost.
        let b = board(&[(1000, 1100), (2000, 2100), (3000, 3100)]);
        assert!(b.is_lost(s(0), MSS));
        assert!(!b.is_lost(s(1500), MSS), "only two ranges above");
        // More than (DupThresh - 1) * SMSS SACKed bytes above: lost.
        let b = board(&[(1000, 3001)]);
        assert!(b.is_lost(s(0), MSS));
        let b = board(&[(1000, 3000)]);
        assert!(!b.is_lost(s(0), MSS), "exactly 2 * SMSS is not more");
    }

    #[test]
    fn sk_8_pipe_counts_unsacked_not_lost_and_retransmitted() {
        // Sent [0, 10000); SACKed [3000, 6000) (3 segments: the hole [0, 3000) is lost).
        let b = board(&[(3000, 6000)]);
        let (una, max) = (s(0), s(10_000));
        // Lost hole [0,3000) counts 0; [6000,10000) counts 4000.
        assert_eq!(b.pipe(una, max, una, MSS), 4000);
        // After retransmitting [0, 1000): +1000.
        assert_eq!(b.pipe(una, max, s(1000), MSS), 5000);
    }

    #[test]
    fn sk_10_next_seg_rules_1_and_3() {
        let b = board(&[(3000, 6000), (8000, 9000)]);
        let (una, max) = (s(0), s(10_000));
        // Rule 1: the lost hole at SND.UNA, one SMSS at a time, above HighRxt.
        assert_eq!(b.next_rtx(una, max, una, MSS, false), Some((s(0), 1000)));
        assert_eq!(
            b.next_rtx(una, max, s(2500), MSS, false),
            Some((s(2500), 500))
        );
        // [6000, 8000) has only 1000 SACKed bytes above it: not lost, so rule 1 skips it...
        assert_eq!(b.next_rtx(una, max, s(3000), MSS, false), None);
        // ... and rule 3 takes it.
        assert_eq!(
            b.next_rtx(una, max, s(3000), MSS, true),
            Some((s(6000), 1000))
        );
        // Nothing above the highest SACKed byte is ever retransmitted by NextSeg.
        assert_eq!(b.next_rtx(una, max, s(9000), MSS, true), None);
    }

    #[test]
    fn holes_walk_the_gaps() {
        let b = board(&[(3000, 6000), (8000, 9000)]);
        let holes: Vec<_> = b.holes(s(1000), s(10_000)).collect();
        assert_eq!(
            holes,
            vec![(s(1000), s(3000)), (s(6000), s(8000)), (s(9000), s(10_000))]
        );
        let b = board(&[(0, 500)]);
        let holes: Vec<_> = b.holes(s(0), s(500)).collect();
        assert!(holes.is_empty());
    }
}
