//! RACK: time-based loss detection (RFC 8985 §6; checklist RK-1, RK-2, RK-5; Linux
//! tcp_recovery = 1, the default, and decision 6).
//!
//! DupThresh counting asks how many segments arrived above a hole; RACK asks *when* the
//! missing segment was sent. Once a segment sent after it has been delivered (ACKed or
//! SACKed) and one RTT of that later segment plus a reordering window has passed since the
//! missing one left, it is lost. This repairs a single loss with fewer than three segments
//! behind it (after a quarter of the minimum RTT, through the reordering timer), finds lost
//! *retransmissions* without waiting for the RTO, and tolerates reordering it has seen
//! (the window grows with D-SACKs, RK-2).
//!
//! The send times live in [`Flight`]: the outstanding sequence space `[SND.UNA, SND.MAX)` as
//! runs of bytes sent at one instant with the same flags, in sequence order. A burst sent at
//! one `now` is one run, so a bulk sender keeps a handful of runs, not one per segment.
//! While nothing about the flight needs remembering (every outstanding byte left at
//! `Tcb::last_send`, none retransmitted) there are no runs at all and nothing is
//! allocated: the churn of short connections never pays for the record (issue 3).
//!
//! The per-connection state that outlives a flight (the minimum RTT, the reordering
//! window's multiplier and persistence, whether reordering was seen, and whether the
//! retransmission timer's slot holds the reordering timer) is [`RackState`], four bytes in
//! the TCB.

use super::sack::{Pieces, DUP_THRESH};
use super::{Ctx, Tcb};
use crate::event::TimerKind;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::TcpHeader;
use std::collections::VecDeque;

/// A run's bytes were retransmitted (the last sending was a retransmission).
const RETRANS: u8 = 1;
/// A run's bytes are deemed lost and not yet sent again (with `RETRANS`: lost, then sent
/// again, and that copy is in flight).
const LOST: u8 = 2;

/// The most runs a flight record keeps. Beyond it a new sending joins the last run (taking
/// the later time): a detection may then come later than it could, never earlier.
pub const MAX_RUNS: usize = 1024;

/// Bytes sent at one instant: from the previous run's end (or `Flight::start`) to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub end: SeqNum,
    /// Send time, microseconds, truncated to 32 bits (compared modulo 2^32: nothing stays
    /// outstanding for 35 minutes, the retry limits end a connection long before).
    pub sent: u32,
    pub flags: u8,
}

/// RACK.xmit_ts, RACK.end_seq and RACK.rtt: the most recently sent segment delivered so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reference {
    sent: u32,
    end: SeqNum,
    rtt: u32,
}

/// What RACK knows about the bytes in flight (see the module comment).
#[derive(Clone, Debug, Default)]
pub(crate) struct Flight {
    runs: VecDeque<Run>,
    /// Where the first run starts (SND.UNA once trimmed).
    start: SeqNum,
    reference: Option<Reference>,
    /// RACK.fack: the highest sequence delivered so far (for reordering detection).
    fack: Option<SeqNum>,
    /// RACK.dsack_round (RK-2): the SND.NXT at the last D-SACK that widened the window.
    dsack_round: Option<SeqNum>,
    /// Some run may be marked lost and not yet resent: set when one is marked, cleared
    /// when a search finds none (so that the check on every ACK does not walk the runs).
    maybe_lost: bool,
}

/// `t1` sent after `t2` (RACK_sent_after, RFC 8985 §6.2): later, or at the same time with a
/// higher end.
fn sent_after(t1: u32, e1: SeqNum, t2: u32, e2: SeqNum) -> bool {
    let d = t1.wrapping_sub(t2) as i32;
    d > 0 || (d == 0 && e1.gt(e2))
}

/// `sacked` bytes of `[a, b)`, walking the sorted `ranges` from index `*i` (advanced past
/// ranges wholly below `a`; callers walk `[a, b)` in increasing order).
fn sacked_in(ranges: &[(SeqNum, SeqNum)], i: &mut usize, a: SeqNum, b: SeqNum) -> u32 {
    while *i < ranges.len() && ranges[*i].1.le(a) {
        *i += 1;
    }
    let mut n = 0;
    for &(l, r) in &ranges[*i..] {
        if !l.lt(b) {
            break;
        }
        n += r.min(b) - l.max(a);
    }
    n
}

impl Flight {
    /// Nothing worth keeping: the box holding it may go.
    pub fn is_idle(&self) -> bool {
        self.runs.is_empty()
    }

    fn run_start(&self, i: usize) -> SeqNum {
        if i == 0 {
            self.start
        } else {
            self.runs[i - 1].end
        }
    }

    /// Write down the implicit flight (every byte of `[una, max)` sent at `last_send`, no
    /// flags) as a run, if there are no runs yet.
    fn materialize(&mut self, una: SeqNum, max: SeqNum, last_send: u32) {
        if self.runs.is_empty() {
            self.start = una;
            if una.lt(max) {
                self.runs.push_back(Run {
                    end: max,
                    sent: last_send,
                    flags: 0,
                });
            }
        }
    }

    fn push(&mut self, end: SeqNum, sent: u32, flags: u8) {
        let full = self.runs.len() >= MAX_RUNS;
        if let Some(last) = self.runs.back_mut() {
            if last.sent == sent && last.flags == flags {
                last.end = end;
                return;
            }
            if full {
                last.end = end;
                last.sent = sent;
                last.flags &= flags;
                return;
            }
        }
        self.runs.push_back(Run { end, sent, flags });
    }

    /// Index of the run holding `seq` (SND.UNA <= seq < SND.MAX).
    fn index_of(&self, seq: SeqNum) -> usize {
        self.runs.partition_point(|r| r.end.le(seq))
    }

    /// Make `seq` the start of a run (if it lies inside one); false if the record is full.
    fn split_at(&mut self, seq: SeqNum) -> bool {
        let i = self.index_of(seq);
        if i >= self.runs.len() || self.run_start(i) == seq {
            return true;
        }
        if self.runs.len() >= MAX_RUNS {
            return false;
        }
        let mut first = self.runs[i];
        first.end = seq;
        self.runs.insert(i, first);
        true
    }

    /// Bytes `[seq, end)` of the flight were sent (again) at `now`: a retransmission if
    /// below `max` (SND.MAX before this sending), new data above it.
    pub fn record_send(
        &mut self,
        una: SeqNum,
        max: SeqNum,
        seq: SeqNum,
        end: SeqNum,
        now: u32,
        last_send: u32,
    ) {
        if !seq.lt(max) {
            if self.runs.is_empty() && (una == max || last_send == now) {
                return; // still one burst: the implicit flight covers it
            }
            self.materialize(una, max, last_send);
            self.push(end, now, 0);
            return;
        }
        self.materialize(una, max, last_send);
        let rend = end.min(max);
        let precise = self.split_at(seq) && self.split_at(rend);
        let _ = precise; // a full record marks whole runs: coarser, still consistent
        let mut i = self.index_of(seq);
        while i < self.runs.len() && self.run_start(i).lt(rend) {
            let r = &mut self.runs[i];
            r.sent = now;
            r.flags = (r.flags & LOST) | RETRANS;
            i += 1;
        }
        if end.gt(max) {
            self.push(end, now, 0);
        }
    }

    /// The cumulative ACK reached `una`: forget the runs below it.
    pub fn trim(&mut self, una: SeqNum) {
        while self.runs.front().is_some_and(|r| r.end.le(una)) {
            self.runs.pop_front();
        }
        if self.runs.is_empty() {
            self.reference = None;
            self.fack = None;
        } else if self.start.lt(una) {
            self.start = una;
        }
    }

    /// RACK_update and RACK_detect_reordering (RFC 8985 §6.2 steps 2 and 3) for the newly
    /// delivered bytes `[a, b)`. A retransmitted run whose delivery may be the original's is
    /// not used (`ambiguous`). Returns an RTT sample (µs) of a never-retransmitted run and
    /// whether the bytes came in out of order.
    fn delivered(
        &mut self,
        a: SeqNum,
        b: SeqNum,
        now: u32,
        ambiguous: &dyn Fn(u32) -> bool,
        fack_before: Option<SeqNum>,
    ) -> (Option<u32>, bool) {
        let mut sample = None;
        let mut reordered = false;
        let mut i = self.index_of(a);
        while i < self.runs.len() && self.run_start(i).lt(b) {
            let r = self.runs[i];
            let end = r.end.min(b);
            let retrans = r.flags & RETRANS != 0;
            if !retrans && fack_before.is_some_and(|f| end.lt(f)) {
                reordered = true;
            }
            if !retrans || !ambiguous(r.sent) {
                let rtt = now.wrapping_sub(r.sent);
                if !retrans {
                    sample = Some(sample.map_or(rtt, |s: u32| s.min(rtt)));
                }
                let newer = match self.reference {
                    None => true,
                    Some(x) => sent_after(r.sent, end, x.sent, x.end),
                };
                if newer {
                    self.reference = Some(Reference {
                        sent: r.sent,
                        end,
                        rtt,
                    });
                }
            }
            self.fack = Some(self.fack.map_or(end, |f| f.max(end)));
            i += 1;
        }
        (sample, reordered)
    }

    /// RACK_detect_loss (RFC 8985 §6.2 step 5): every outstanding, unSACKed run sent before
    /// the reference is lost once `reference.rtt + reo_wnd` has passed since it was sent.
    /// Returns (bytes newly marked lost, of which retransmissions lost again, the time in
    /// µs until the next run would be lost, if any).
    fn detect(&mut self, ranges: &[(SeqNum, SeqNum)], now: u32, reo_wnd: u32) -> Detection {
        let mut d = Detection::default();
        let Some(x) = self.reference else { return d };
        let mut ri = 0;
        let mut i = 0;
        while i < self.runs.len() {
            let r = self.runs[i];
            let start = self.run_start(i);
            if r.flags & (LOST | RETRANS) == LOST {
                i += 1; // lost, not yet sent again: nothing more to learn
                continue;
            }
            // Sent before the reference: earlier, or at the same instant and not above it.
            let d0 = x.sent.wrapping_sub(r.sent) as i32;
            if d0 == 0 && start.lt(x.end) && x.end.lt(r.end) && self.split_at(x.end) {
                continue; // the part up to the reference is now a run of its own
            }
            if !(d0 > 0 || (d0 == 0 && r.end.le(x.end))) {
                i += 1;
                continue;
            }
            let unsacked = (r.end - start) - sacked_in(ranges, &mut ri, start, r.end);
            if unsacked > 0 {
                let deadline = r.sent.wrapping_add(x.rtt).wrapping_add(reo_wnd);
                let remaining = deadline.wrapping_sub(now) as i32;
                if remaining <= 0 {
                    self.runs[i].flags = LOST;
                    self.maybe_lost = true;
                    d.lost += unsacked;
                    if r.flags & RETRANS != 0 {
                        d.lost_retransmits += 1;
                    }
                } else {
                    d.timeout = Some(
                        d.timeout
                            .map_or(remaining as u32, |t: u32| t.max(remaining as u32)),
                    );
                }
            }
            i += 1;
        }
        d
    }

    /// Mark `[una, end)` lost (the DupThresh fallback, RK-5).
    fn mark_lost(&mut self, end: SeqNum) {
        let _ = self.split_at(end);
        self.maybe_lost = true;
        let mut i = 0;
        while i < self.runs.len() && self.run_start(i).lt(end) {
            self.runs[i].flags = LOST;
            i += 1;
        }
    }

    /// After an RTO every outstanding byte is lost and will be sent again (Linux
    /// tcp_enter_loss).
    fn all_lost(&mut self) {
        for r in &mut self.runs {
            r.flags = LOST;
        }
        self.maybe_lost = true;
    }

    /// An RTO proved spurious (SK-12, Linux tcp_undo_cwnd_reduction with unmark_loss): no
    /// byte is lost after all; retransmitted ones stay marked as such.
    pub fn unmark_lost(&mut self) {
        for r in &mut self.runs {
            r.flags &= !LOST;
        }
        self.maybe_lost = false;
    }

    /// NextSeg rule 1 with RACK's marks (RFC 8985 §9.3 with RFC 6675): the first unSACKed
    /// byte deemed lost and not yet sent again, and how much of it (at most `smss`) can
    /// go in one segment.
    pub fn next_lost(&self, ranges: &[(SeqNum, SeqNum)], smss: u32) -> Option<(SeqNum, u32)> {
        let mut ri = 0;
        for (i, r) in self.runs.iter().enumerate() {
            if r.flags & (LOST | RETRANS) != LOST {
                continue;
            }
            let mut at = self.run_start(i);
            while ri < ranges.len() && ranges[ri].1.le(at) {
                ri += 1;
            }
            let mut j = ri;
            while at.lt(r.end) {
                match ranges.get(j) {
                    Some(&(l, rr)) if !l.gt(at) => {
                        at = at.max(rr);
                        j += 1;
                    }
                    Some(&(l, _)) if l.lt(r.end) => return Some((at, (l - at).min(smss))),
                    _ => return Some((at, (r.end - at).min(smss))),
                }
            }
        }
        None
    }

    /// Bytes in the network (Linux tcp_packets_in_flight, in bytes): each unSACKed byte
    /// counts once, less once if deemed lost, plus once if retransmitted.
    pub fn pipe(&self, ranges: &[(SeqNum, SeqNum)]) -> u32 {
        let mut ri = 0;
        let mut pipe = 0u32;
        for (i, r) in self.runs.iter().enumerate() {
            let start = self.run_start(i);
            let unsacked = (r.end - start) - sacked_in(ranges, &mut ri, start, r.end);
            let weight = match (r.flags & LOST != 0, r.flags & RETRANS != 0) {
                (false, false) | (true, true) => 1,
                (true, false) => 0,
                (false, true) => 2,
            };
            pipe = pipe.saturating_add(unsacked * weight);
        }
        pipe
    }

    /// The D-SACK round (RK-2) ends once SND.UNA passes it.
    fn dsack_round_over(&mut self, una: SeqNum) -> bool {
        match self.dsack_round {
            Some(r) if una.ge(r) => {
                self.dsack_round = None;
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Detection {
    lost: u32,
    lost_retransmits: u32,
    timeout: Option<u32>,
}

/// RACK's lasting per-connection state in 32 bits: RACK.min_RTT (µs, 21 bits, saturating at
/// about 2.1 s; all ones: no sample), RACK.reo_wnd_mult (4 bits), RACK.reo_wnd_persist (5
/// bits), RACK.reordering_seen, and whether the retransmission timer's slot holds the
/// reordering timer (RACK's timer shares it with the RTO and the PTO, as in Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RackState(u32);

const MIN_RTT_BITS: u32 = 21;
const MIN_RTT_NONE: u32 = (1 << MIN_RTT_BITS) - 1;
const MULT_SHIFT: u32 = 21;
const PERSIST_SHIFT: u32 = 25;
const REORD_BIT: u32 = 1 << 30;
const ARMED_BIT: u32 = 1 << 31;
/// RFC 8985 §6.2: the multiplier's persistence, in recoveries.
const PERSIST_ROUNDS: u32 = 16;

impl RackState {
    /// No RTT sample, multiplier 1, nothing seen.
    pub const fn new() -> RackState {
        RackState(MIN_RTT_NONE | (1 << MULT_SHIFT))
    }

    pub fn min_rtt(self) -> Option<u32> {
        let v = self.0 & MIN_RTT_NONE;
        (v != MIN_RTT_NONE).then_some(v)
    }

    fn sample(&mut self, rtt: u32) {
        let rtt = rtt.min(MIN_RTT_NONE - 1);
        if self.min_rtt().is_none_or(|m| rtt < m) {
            self.0 = (self.0 & !MIN_RTT_NONE) | rtt;
        }
    }

    fn mult(self) -> u32 {
        (self.0 >> MULT_SHIFT) & 0xF
    }

    fn set_mult(&mut self, m: u32) {
        self.0 = (self.0 & !(0xF << MULT_SHIFT)) | (m.min(0xF) << MULT_SHIFT);
    }

    fn persist(self) -> u32 {
        (self.0 >> PERSIST_SHIFT) & 0x1F
    }

    fn set_persist(&mut self, p: u32) {
        self.0 = (self.0 & !(0x1F << PERSIST_SHIFT)) | (p.min(0x1F) << PERSIST_SHIFT);
    }

    pub fn reordering_seen(self) -> bool {
        self.0 & REORD_BIT != 0
    }

    fn set_bit(&mut self, bit: u32, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }

    pub fn armed(self) -> bool {
        self.0 & ARMED_BIT != 0
    }

    pub fn set_armed(&mut self, on: bool) {
        self.set_bit(ARMED_BIT, on);
    }
}

/// Microseconds truncated to 32 bits: how the flight record stores send times.
fn stamp(t: Instant) -> u32 {
    t.as_micros() as u32
}

impl Tcb {
    /// Whether RACK runs on this connection: it needs SACK (RFC 8985 §4).
    #[inline(always)]
    pub(super) fn rack_on(&self, ctx: &Ctx) -> bool {
        self.sack_ok && ctx.config.rack
    }

    /// Note the sending of `[seq, end)` at `ctx.now` (before SND.MAX and `last_send` move).
    #[inline(always)]
    pub(super) fn rack_sent(&mut self, ctx: &Ctx, seq: SeqNum, end: SeqNum) {
        if !self.rack_on(ctx) {
            return;
        }
        let (una, max) = (self.snd_una, self.snd_max);
        let (now, last) = (stamp(ctx.now), stamp(self.last_send));
        let implicit = self.sb.flight().is_none_or(|f| f.is_idle());
        if implicit && !seq.lt(max) && (una == max || last == now) {
            return; // the common case, without touching (or allocating) the record
        }
        self.sb
            .flight_mut()
            .record_send(una, max, seq, end, now, last);
    }

    /// RACK's part of an ACK without SACK blocks, a scoreboard or a flight record (every
    /// outstanding byte left at `last_send`, none retransmitted): the newly acknowledged
    /// bytes give an RTT sample, and nothing can be lost, since no segment was delivered
    /// ahead of an earlier one. Returns the RTT sample (µs).
    #[inline(always)]
    pub(super) fn rack_on_plain_ack(
        &mut self,
        ctx: &mut Ctx,
        h: &TcpHeader,
        una_before: SeqNum,
    ) -> Option<u32> {
        if !h.ack.gt(una_before) {
            return None;
        }
        let rtt = stamp(ctx.now).wrapping_sub(stamp(self.last_send));
        self.rack.sample(rtt);
        Some(rtt)
    }

    /// RACK's part of an ACK (RFC 8985 §6.2), after SND.UNA moved from `una_before`:
    /// `newly` are the bytes the ACK newly delivered (cumulatively acknowledged or SACKed),
    /// `dsack` whether it carried a D-SACK. Updates the reference and the reordering state,
    /// then (with SACKed data outstanding) marks lost what the reference shows lost and
    /// arms the reordering timer for what may yet be. Call before the RFC 6675 recovery
    /// check. Returns the RTT sample (µs) of the newly delivered, never-retransmitted bytes.
    pub(super) fn rack_on_ack(
        &mut self,
        ctx: &mut Ctx,
        h: &TcpHeader,
        una_before: SeqNum,
        newly: &Pieces,
        dsack: bool,
    ) -> Option<u32> {
        let now = stamp(ctx.now);
        let (una, max) = (una_before, self.snd_max);
        let new_una = self.snd_una;
        let last = stamp(self.last_send);
        let min_rtt = self.rack.min_rtt();
        let ts = if self.ts_ok {
            h.options.timestamps
        } else {
            None
        };
        let ts_offset = self.ts_offset;
        let now_us = ctx.now.as_micros();
        // RFC 8985 §6.2 step 2: a retransmitted segment's delivery may be the original's:
        // not if it came faster than the minimum RTT, nor if the echoed TSval predates the
        // retransmission.
        let ambiguous = |sent: u32| {
            let age = now.wrapping_sub(sent);
            if min_rtt.is_some_and(|m| age < m) {
                return true;
            }
            ts.is_some_and(|t| {
                let sent_ms = (now_us.wrapping_sub(u64::from(age)) / 1000) as u32;
                (t.tsecr.wrapping_sub(sent_ms.wrapping_add(ts_offset)) as i32) < 0
            })
        };
        let mut reordered = false;
        let mut sample: Option<u32> = None;
        {
            let (_, flight) = self.sb.parts_mut();
            flight.materialize(una, max, last);
            let fack_before = flight.fack;
            for &(a, b) in newly.as_slice() {
                let (s, r) = flight.delivered(a, b, now, &ambiguous, fack_before);
                reordered |= r;
                if let Some(s) = s {
                    sample = Some(sample.map_or(s, |x| x.min(s)));
                }
            }
            flight.trim(new_una);
        }
        if let Some(s) = sample {
            self.rack.sample(s);
        }
        if reordered {
            ctx.counters.reordering_detected += 1;
            self.rack.set_bit(REORD_BIT, true);
        }
        let over = self.sb.flight_mut().dsack_round_over(new_una);
        if dsack && over {
            self.rack_widen(max);
        }
        if !self.sb.is_empty() {
            self.rack_detect(ctx);
        }
        self.sb.release_if_idle();
        sample
    }

    /// RK-2 (RFC 8985 §6.2 step 4): a D-SACK shows a retransmission was spurious: widen the
    /// reordering window by one step, for the next 16 recoveries; `round` (SND.NXT) starts
    /// a round in which further D-SACKs do not widen it again.
    fn rack_widen(&mut self, round: SeqNum) {
        self.rack.set_mult(self.rack.mult() + 1);
        self.rack.set_persist(PERSIST_ROUNDS);
        self.sb.flight_mut().dsack_round = Some(round);
    }

    /// A recovery ended (RFC 8985 §6.2 step 4): after 16 without D-SACKs the reordering
    /// window goes back to one step.
    pub(super) fn rack_recovery_ended(&mut self) {
        let p = self.rack.persist().saturating_sub(1);
        self.rack.set_persist(p);
        if p == 0 {
            self.rack.set_mult(1);
        }
    }

    /// RACK.reo_wnd (RFC 8985 §6.2 step 4), µs.
    fn reo_wnd(&self) -> u32 {
        if !self.rack.reordering_seen()
            && (self.in_recovery
                || self.retries > 0
                || self.sb.sacked_bytes() > (DUP_THRESH - 1) * self.mss)
        {
            return 0;
        }
        let srtt = self.rtt.srtt_micros().unwrap_or(0).min(u64::from(u32::MAX)) as u32;
        match self.rack.min_rtt() {
            Some(m) => (self.rack.mult() * (m / 4)).min(srtt),
            None => srtt,
        }
    }

    /// Run RACK_detect_loss and arm the reordering timer for what is not yet lost.
    fn rack_detect(&mut self, ctx: &mut Ctx) {
        let reo_wnd = self.reo_wnd();
        let now = stamp(ctx.now);
        let (ranges, flight) = self.sb.parts_mut();
        let d = flight.detect(ranges, now, reo_wnd);
        ctx.counters.lost_retransmits += u64::from(d.lost_retransmits);
        if let Some(t) = d.timeout {
            // RFC 8985 §6.3: the reordering timer, in the retransmission timer's slot.
            self.flags.set_tlp_armed(false);
            self.rack.set_armed(true);
            let at = Instant::from_micros(ctx.now.as_micros() + u64::from(t));
            self.set_timer(TimerKind::Retransmit, at);
        }
    }

    /// The reordering timer fired (RFC 8985 §6.3): detect again, now that the time has
    /// passed; recovery starts if something is lost. The RTO guards the flight again.
    pub(super) fn on_reorder_timeout(&mut self, ctx: &mut Ctx) {
        self.rack.set_armed(false);
        if self.snd_una == self.snd_max {
            return;
        }
        self.set_timer(TimerKind::Retransmit, self.rto_deadline(ctx.now));
        ctx.counters.reorder_timeouts += 1;
        self.rack_detect(ctx);
        self.sack_recovery_check(ctx);
    }

    /// Whether RACK (or the fallback) has marked bytes lost that are not yet resent.
    pub(super) fn rack_lost_pending(&mut self) -> bool {
        if !self.sb.flight().is_some_and(|f| f.maybe_lost) {
            return false;
        }
        let (ranges, f) = self.sb.parts_mut();
        f.maybe_lost = f.next_lost(ranges, 1).is_some();
        f.maybe_lost
    }

    /// RK-5: with RACK, DupThresh duplicate ACKs without SACK information are only a
    /// fallback (a peer that negotiated SACK but sends no blocks): they mark one segment at
    /// SND.UNA lost.
    pub(super) fn rack_dupthresh_fallback(&mut self) {
        let (una, max, last) = (self.snd_una, self.snd_max, stamp(self.last_send));
        let end = (una + self.seg_mss()).min(max);
        let f = self.sb.flight_mut();
        f.materialize(una, max, last);
        f.mark_lost(end);
    }

    /// An RTO: every outstanding byte is lost (and goes again, from SND.UNA).
    pub(super) fn rack_on_rto(&mut self) {
        self.rack.set_armed(false);
        if self.sb.flight().is_some_and(|f| !f.is_idle()) {
            self.sb.flight_mut().all_lost();
        }
    }
}

/// Whether an ACK carries a D-SACK (RFC 2883 §4): its first block lies below the cumulative
/// ACK, or inside its second block.
pub(super) fn has_dsack(h: &TcpHeader) -> bool {
    let s = h.options.sacks();
    match s {
        [] => false,
        [first, rest @ ..] => {
            first.left.lt(h.ack)
                || rest
                    .first()
                    .is_some_and(|b| b.left.le(first.left) && first.right.le(b.right))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    fn flight(runs: &[(u32, u32, u8)], start: u32) -> Flight {
        let mut f = Flight {
            start: s(start),
            ..Flight::default()
        };
        for &(end, sent, flags) in runs {
            f.runs.push_back(Run {
                end: s(end),
                sent,
                flags,
            });
        }
        f
    }

    #[test]
    fn rk_1_one_burst_needs_no_record() {
        let mut f = Flight::default();
        // Nothing outstanding: a send is implicit.
        f.record_send(s(0), s(0), s(0), s(1000), 10, 5);
        assert!(f.is_idle());
        // More at the same instant: still implicit.
        f.record_send(s(0), s(1000), s(1000), s(2000), 10, 10);
        assert!(f.is_idle());
        // A later burst writes both down.
        f.record_send(s(0), s(2000), s(2000), s(3000), 20, 10);
        assert_eq!(
            f.runs,
            [
                Run {
                    end: s(2000),
                    sent: 10,
                    flags: 0
                },
                Run {
                    end: s(3000),
                    sent: 20,
                    flags: 0
                },
            ]
        );
        // Same instant again: the run grows.
        f.record_send(s(0), s(3000), s(3000), s(4000), 20, 20);
        assert_eq!(f.runs.len(), 2);
        assert_eq!(f.runs[1].end, s(4000));
    }

    #[test]
    fn rk_1_a_retransmission_splits_its_run_and_takes_the_new_time() {
        let mut f = flight(&[(4000, 10, 0)], 0);
        f.record_send(s(0), s(4000), s(1000), s(2000), 30, 10);
        assert_eq!(
            f.runs,
            [
                Run {
                    end: s(1000),
                    sent: 10,
                    flags: 0
                },
                Run {
                    end: s(2000),
                    sent: 30,
                    flags: RETRANS
                },
                Run {
                    end: s(4000),
                    sent: 10,
                    flags: 0
                },
            ]
        );
        f.trim(s(1500));
        assert_eq!(f.runs.len(), 2);
        assert_eq!(f.start, s(1500));
    }

    #[test]
    fn rk_1_detect_marks_runs_sent_before_the_reference_once_their_time_is_up() {
        // Runs: [0,1000)@0, [1000,2000)@100, [2000,3000)@200. [2000,3000) is SACKed at 1200.
        let mut f = flight(&[(1000, 0, 0), (2000, 100, 0), (3000, 200, 0)], 0);
        let (sample, reordered) = f.delivered(s(2000), s(3000), 1200, &|_| false, None);
        assert_eq!(sample, Some(1000));
        assert!(!reordered);
        let ranges = [(s(2000), s(3000))];
        // reo_wnd 0: [0,1000) is lost at 0 + 1000 <= 1200; [1000,2000) at 1100 <= 1200.
        let d = f.detect(&ranges, 1200, 0);
        assert_eq!(d.lost, 2000);
        assert!(d.timeout.is_none());
        assert_eq!(f.next_lost(&ranges, 500), Some((s(0), 500)));
        // pipe: nothing but the SACKed run's... which is SACKed: 0.
        assert_eq!(f.pipe(&ranges), 0);
        // With a reordering window of 250 µs neither is lost yet: the timer waits for the
        // later of them (RFC 8985: the max of the remaining times).
        let mut f = flight(&[(1000, 0, 0), (2000, 100, 0), (3000, 200, 0)], 0);
        f.delivered(s(2000), s(3000), 1200, &|_| false, None);
        let d = f.detect(&ranges, 1200, 250);
        assert_eq!(d.lost, 0);
        assert_eq!(d.timeout, Some(150));
        assert_eq!(f.pipe(&ranges), 2000);
    }

    #[test]
    fn rk_1_same_instant_bytes_below_the_reference_are_sent_before_it() {
        let mut f = flight(&[(4000, 0, 0)], 0);
        f.delivered(s(3000), s(4000), 500, &|_| false, None);
        let ranges = [(s(3000), s(4000))];
        let d = f.detect(&ranges, 500, 0);
        assert_eq!(d.lost, 3000);
        assert_eq!(f.runs[0].flags, LOST);
        assert_eq!(f.next_lost(&ranges, 1460), Some((s(0), 1460)));
        // A reference inside a run splits it: the bytes above it went after it.
        let mut f = flight(&[(4000, 0, 0)], 0);
        f.delivered(s(1000), s(2000), 500, &|_| false, None);
        let ranges = [(s(1000), s(2000))];
        let d = f.detect(&ranges, 500, 0);
        assert_eq!(d.lost, 1000);
        assert_eq!(
            f.runs[0],
            Run {
                end: s(2000),
                sent: 0,
                flags: LOST
            }
        );
        assert_eq!(
            f.runs[1],
            Run {
                end: s(4000),
                sent: 0,
                flags: 0
            }
        );
    }

    #[test]
    fn rk_1_a_lost_retransmission_is_found_by_a_later_delivery() {
        // [0,1000) was lost and retransmitted at 500; [1000,2000) sent at 600 is SACKed at
        // 1700: the retransmission (sent before it, 1200 µs ago > RTT 1100) is lost again.
        let mut f = flight(&[(1000, 500, LOST | RETRANS), (2000, 600, 0)], 0);
        f.delivered(s(1000), s(2000), 1700, &|_| false, None);
        let ranges = [(s(1000), s(2000))];
        let d = f.detect(&ranges, 1700, 0);
        assert_eq!(d.lost, 1000);
        assert_eq!(d.lost_retransmits, 1);
        assert_eq!(f.next_lost(&ranges, 1460), Some((s(0), 1000)));
    }

    #[test]
    fn rk_2_late_original_is_reordering_and_ambiguous_retransmissions_are_skipped() {
        let mut f = flight(&[(1000, 0, 0), (2000, 0, 0)], 0);
        f.delivered(s(1000), s(2000), 100, &|_| false, None);
        let (_, reordered) = f.delivered(s(0), s(1000), 150, &|_| false, f.fack);
        assert!(
            reordered,
            "a never-retransmitted segment below FACK came late"
        );
        // A retransmitted run whose delivery is ambiguous gives no reference.
        let mut f = flight(&[(1000, 50, RETRANS)], 0);
        let (sample, _) = f.delivered(s(0), s(1000), 60, &|_| true, None);
        assert_eq!(sample, None);
        assert!(f.reference.is_none());
    }

    #[test]
    fn rk_1_pipe_counts_lost_retransmitted_and_sacked_bytes_like_linux() {
        let f = flight(
            &[
                (1000, 0, LOST),
                (2000, 0, LOST | RETRANS),
                (3000, 0, RETRANS),
                (4000, 0, 0),
            ],
            0,
        );
        let ranges = [(s(3500), s(4000))];
        // 0 + 1000 + 2000 + 500.
        assert_eq!(f.pipe(&ranges), 3500);
        assert_eq!(f.next_lost(&ranges, 1460), Some((s(0), 1000)));
    }

    #[test]
    fn next_lost_skips_sacked_bytes_inside_a_lost_run() {
        let f = flight(&[(5000, 0, LOST)], 0);
        let ranges = [(s(0), s(1000)), (s(2000), s(3000))];
        assert_eq!(f.next_lost(&ranges, 5000), Some((s(1000), 1000)));
    }

    #[test]
    fn the_record_is_bounded() {
        let mut f = Flight::default();
        let mut max = s(0);
        for t in 0..(MAX_RUNS as u32 + 100) {
            let end = max + 100;
            f.record_send(s(0), max, max, end, t + 1, t);
            max = end;
        }
        assert_eq!(f.runs.len(), MAX_RUNS);
        assert_eq!(f.runs.back().unwrap().end, max);
    }

    #[test]
    fn rack_state_packs_its_fields() {
        let mut r = RackState::new();
        assert_eq!(r.min_rtt(), None);
        assert_eq!(r.mult(), 1);
        r.sample(3_000_000);
        assert_eq!(r.min_rtt(), Some(MIN_RTT_NONE - 1));
        r.sample(250);
        r.sample(900);
        assert_eq!(r.min_rtt(), Some(250));
        r.set_mult(20);
        assert_eq!(r.mult(), 15);
        r.set_persist(16);
        r.set_bit(REORD_BIT, true);
        r.set_armed(true);
        assert_eq!(
            (r.persist(), r.reordering_seen(), r.armed()),
            (16, true, true)
        );
        assert_eq!(r.min_rtt(), Some(250));
    }
}
