//! Buffer sizing like Linux (checklist LX-11): receive-buffer autotuning ("dynamic
//! right-sizing", Linux `tcp_rcv_space_adjust` with the receiver's RTT estimate of
//! `tcp_rcv_rtt_measure` / `tcp_rcv_rtt_measure_ts`), send-buffer growth with the
//! congestion window (`tcp_sndbuf_expand`), and the application's pinned sizes (SO_RCVBUF /
//! SO_SNDBUF, which lock autotuning off for their side: SOCK_RCVBUF_LOCK / SOCK_SNDBUF_LOCK).
//!
//! Buffers are payload bytes only (Linux counts skb overhead too), so where Linux converts
//! a window into buffer space (`tcp_space_from_win`) the window *is* the buffer here.
//!
//! The state lives in a box ([`Tune`]) that a connection gets only when it needs it: once it
//! has received more than an initial window (10 segments) with autotuning on, or when the
//! application pins a size below what the buffer already holds. An idle or short connection
//! pays 8 bytes of TCB for it and nothing else (DESIGN.md: bounded memory, issue 3).

use super::Tcb;
use crate::config::Config;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::{Instant, OptInstant};

/// Largest buffer the setters accept: the largest window RFC 7323 §2.3 allows (2^30).
pub const MAX_BUFFER: usize = 1 << 30;

/// Segments of the initial receive measure (Linux TCP_INIT_CWND in
/// `tcp_init_buffer_space`): the first round trip's bytes are compared with this many
/// segments' worth.
const INIT_SEGS: u32 = 10;

/// Our window-scale shift for a receive buffer of `bytes`: the smallest whose window covers
/// it (WS-3; Linux's `tcp_select_initial_window` gives the same, ilog2(space) - 15).
pub(crate) fn wscale_for(bytes: usize) -> u8 {
    let mut shift = 0u8;
    while shift < 14 && (bytes >> shift) > 65535 {
        shift += 1;
    }
    shift
}

/// Per-connection buffer-sizing state, boxed and present only when needed (module doc).
#[derive(Clone, Debug, Default)]
pub(crate) struct Tune {
    /// The receiver's RTT estimate in µs, times 8 (Linux `rcv_rtt_est.rtt_us`); 0 = none.
    rtt_us8: u32,
    /// Without a timestamp sample: RCV.NXT must reach this to end the current window
    /// measure (Linux `rcv_rtt_est.seq`).
    rtt_seq: SeqNum,
    /// When that window measure began; none before the first.
    rtt_time: OptInstant,
    /// The last TSecr a sample was taken from (Linux `rcv_rtt_last_tsecr`): one sample per
    /// echoed value.
    last_tsecr: u32,
    /// Bytes the application read in the last measured round trip, at least the initial
    /// measure (Linux `rcvq_space.space`).
    space: u32,
    /// Stream offset of the first unread byte when the current measure began (Linux
    /// `rcvq_space.seq`, from `copied_seq`).
    space_seq: u64,
    /// When the current measure began (Linux `rcvq_space.time`); none: receive autotuning
    /// has not started on this connection.
    space_time: OptInstant,
    /// A pinned receive size the buffer could not drop to at once (it held or had promised
    /// more); it drops as the application reads. 0 = none.
    rcv_target: u32,
    /// The same for the send buffer, dropping as data is acknowledged. 0 = none.
    snd_target: u32,
}

/// What one receive-side adjustment computes (Linux `tcp_rcv_space_adjust`, kernel 6.x):
/// the new buffer for `copied` bytes read in a round trip when the last measured round trip
/// read `space`, with `advmss` our advertised MSS. None when the reader did not speed up.
///
/// `2·copied` copes with a loss (the sender's window halves, then refills), `16·advmss` is a
/// cushion, and the growth term accounts for a sender in slow start, whose window doubles
/// each round trip while the ACK we send now opens the window for the *next* one.
pub(crate) fn rcv_space_target(copied: u32, space: u32, advmss: u32) -> Option<u64> {
    if copied <= space {
        return None;
    }
    let copied = u128::from(copied);
    let space = u128::from(space.max(1));
    let mut rcvwin = 2 * copied + 16 * u128::from(advmss);
    let grow = rcvwin * (copied - space) / space;
    rcvwin += 2 * grow;
    Some(rcvwin.min(u128::from(u64::MAX)) as u64)
}

impl Tcb {
    /// The receiver's RTT estimate, if any (what paces receive autotuning).
    pub fn rcv_rtt(&self) -> Option<crate::time::Duration> {
        let t = self.tune.as_deref()?;
        (t.rtt_us8 != 0).then(|| crate::time::Duration::from_micros(u64::from(t.rtt_us8 >> 3)))
    }

    /// Whether receive autotuning applies to this connection now.
    fn rcv_autotune(&self, config: &Config) -> bool {
        config.moderate_rcvbuf && !self.recv_buf.locked()
    }

    /// After a segment moved RCV.NXT (new in-order text): the receiver-side RTT sample
    /// (Linux `tcp_rcv_rtt_measure_ts` with timestamps, `tcp_rcv_rtt_measure` always), and
    /// the start of receive autotuning once more than an initial window has arrived.
    /// `tsecr`: the segment's echoed timestamp, `len` its payload.
    #[inline]
    pub(super) fn rcv_rtt_measure(
        &mut self,
        now: Instant,
        config: &Config,
        tsecr: u32,
        len: usize,
    ) {
        if self.tune.as_ref().is_none_or(|t| t.space_time.is_none()) {
            // Not started: a connection that never receives more than this could never
            // grow (the first round trip's bytes are compared with it), so it never pays.
            let init = INIT_SEGS * u32::from(self.our_mss);
            if !self.rcv_autotune(config) || self.recv_buf.next() <= u64::from(init) {
                return;
            }
            let copied = self.recv_buf.next() - self.recv_buf.readable() as u64;
            let space = init.min(self.recv_buf.capacity() as u32);
            let t = self.tune.get_or_insert_with(Box::default);
            t.space = space;
            t.space_seq = copied;
            t.space_time = OptInstant::some(now);
        }
        let ts_now = self.ts_now(now);
        let (rcv_nxt, rcv_wnd, ts_ok, rcv_mss) = (
            self.rcv_nxt,
            self.rcv_wnd(),
            self.ts_ok,
            usize::from(self.rcv_mss),
        );
        let t = self.tune.as_deref_mut().expect("started above");
        // Timestamps (RTTM with the echo of our own TSval): a full-sized segment echoing a
        // value not sampled yet. Our clock ticks in ms; a 0 ms difference counts as half
        // a tick.
        if ts_ok && tsecr != 0 && tsecr != t.last_tsecr && len >= rcv_mss {
            t.last_tsecr = tsecr;
            let ms = ts_now.wrapping_sub(tsecr) as i32;
            if ms >= 0 {
                let us = if ms == 0 { 500 } else { ms as u64 * 1000 };
                t.rtt_update(us.min(u64::from(u32::MAX >> 4)) as u32, false);
            }
        }
        // The time to receive one window (Linux's fallback, always run: an upper bound of
        // the RTT, kept as a minimum).
        if let Some(start) = t.rtt_time.get() {
            if rcv_nxt.lt(t.rtt_seq) {
                return;
            }
            let us = now
                .saturating_since(start)
                .as_micros()
                .clamp(1, u128::from(u32::MAX >> 4));
            t.rtt_update(us as u32, true);
        }
        t.rtt_seq = rcv_nxt + rcv_wnd;
        t.rtt_time = OptInstant::some(now);
    }

    /// After the application read (Linux `tcp_rcv_space_adjust`, called from recvmsg): once
    /// per receiver RTT, if the application read more in that RTT than in the last measured
    /// one, raise the receive buffer to [`rcv_space_target`], capped at
    /// `Config::recv_buffer_max` and at what our window field can say (65535 << shift).
    /// The advertised window follows with the next segment; the right edge only ever moves
    /// right (SHLD-14, WS-6). A pinned buffer that could not shrink at once shrinks here.
    /// True if the buffer grew.
    pub fn rcv_space_adjust(&mut self, now: Instant, config: &Config) -> bool {
        let Some(t) = self.tune.as_deref() else {
            return false;
        };
        if self.recv_buf.locked() {
            if t.rcv_target != 0 {
                let target = t.rcv_target as usize;
                let floor = self.recv_buf.readable() + self.rcv_wnd() as usize;
                let now_cap = self.recv_buf.set_capacity(target.max(floor));
                if now_cap <= target {
                    self.tune.as_deref_mut().expect("checked").rcv_target = 0;
                }
            }
            return false;
        }
        let Some(start) = t.space_time.get() else {
            return false;
        };
        let elapsed = now.saturating_since(start).as_micros();
        if t.rtt_us8 == 0 || elapsed < u128::from(t.rtt_us8 >> 3) {
            return false;
        }
        let copied_seq = self.recv_buf.next() - self.recv_buf.readable() as u64;
        // Saturating: the measure only tunes a size, and a count that went backwards must
        // not panic; it reads as nothing copied. (One did: a read after a reset flushed the
        // queue, before `terminate` dropped the measure with it.)
        let copied = copied_seq
            .saturating_sub(t.space_seq)
            .min(u64::from(u32::MAX)) as u32;
        let mut grew = false;
        let space = t.space;
        if let Some(want) = rcv_space_target(copied, space, u32::from(self.our_mss)) {
            if config.moderate_rcvbuf {
                let field_max = 65535u64 << self.rcv_wscale;
                let cap = want.min(config.recv_buffer_limit() as u64).min(field_max) as usize;
                if cap > self.recv_buf.capacity() {
                    self.recv_buf.set_capacity(cap);
                    grew = true;
                }
            }
        }
        let t = self.tune.as_deref_mut().expect("checked");
        t.space = t.space.max(copied);
        t.space_seq = copied_seq;
        t.space_time = OptInstant::some(now);
        grew
    }

    /// [`Tcb::rcv_space_adjust`] after a RECEIVE call, with the window update it may make
    /// due (the read already checked before the buffer grew).
    #[inline]
    pub fn after_read_tune(&mut self, now: Instant, config: &Config) {
        if self.tune.is_some() && self.rcv_space_adjust(now, config) && self.window_update_due() {
            self.ack_now = true;
        }
    }

    /// After an ACK acknowledged new data (Linux `tcp_new_space` → `tcp_sndbuf_expand`):
    /// unless the application pinned the size, grow the send buffer to twice the congestion
    /// window (at least twice the initial window), capped at `Config::send_buffer_max`, so
    /// that a sender on a path with a large bandwidth-delay product is limited by its
    /// congestion window and not by a buffer sized for a LAN. Twice: one window in flight
    /// and one queued behind it (RFC 5681 §3.2 fast recovery sends new data while the lost
    /// window is repaired; Linux's comment: CUBIC needs 1.7x). Only while the window is not
    /// full (Linux `tcp_should_expand_sndbuf`): a sender already cwnd-limited gains nothing
    /// from more buffer. The buffer never shrinks by itself. A pinned buffer that could not
    /// shrink at once shrinks here.
    #[inline]
    pub(super) fn sndbuf_expand(&mut self, config: &Config) {
        if self.send_buf.locked() {
            if let Some(t) = self.tune.as_deref_mut() {
                if t.snd_target != 0
                    && self.send_buf.set_capacity(t.snd_target as usize) <= t.snd_target as usize
                {
                    t.snd_target = 0;
                }
            }
            return;
        }
        let max = config.send_buffer_max;
        let cap = self.send_buf.capacity();
        if cap >= max || self.flight_size() >= self.cwnd() {
            return;
        }
        let mss = self.mss.max(1);
        let segs = (self.cwnd() / mss).max(config.initial_cwnd.max(INIT_SEGS));
        let want = (2 * u64::from(segs) * u64::from(mss)).min(max as u64) as usize;
        if want > cap {
            self.send_buf.set_capacity(want);
        }
    }

    /// SO_RCVBUF: pin the receive buffer at `bytes` and stop autotuning it (Linux
    /// SOCK_RCVBUF_LOCK). The window already advertised is honoured (the right edge never
    /// moves left, SHLD-14): if the buffer holds or has promised more, it keeps that much
    /// and drops to `bytes` as the application reads. Before our SYN is sent the window
    /// scale is chosen from `bytes` (as Linux's window clamp does); after it, the window
    /// can say at most 65535 << the negotiated shift. Returns the size in force now.
    pub fn set_recv_buffer(&mut self, bytes: usize) -> usize {
        self.recv_buf.set_locked(true);
        if self.state == State::SynSent && !self.snd_max.gt(self.iss) && self.flags.ws_ok() {
            self.rcv_wscale = wscale_for(bytes);
        }
        let floor = self.recv_buf.readable() + self.rcv_wnd() as usize;
        let now_cap = self.recv_buf.set_capacity(bytes.max(floor));
        self.set_target(now_cap > bytes, bytes, true);
        now_cap
    }

    /// SO_SNDBUF: pin the send buffer at `bytes` and stop it growing with the congestion
    /// window (Linux SOCK_SNDBUF_LOCK). Bytes already queued stay; the buffer drops to
    /// `bytes` as they are acknowledged. Returns the size in force now.
    pub fn set_send_buffer(&mut self, bytes: usize) -> usize {
        self.send_buf.set_locked(true);
        let now_cap = self.send_buf.set_capacity(bytes);
        self.set_target(now_cap > bytes, bytes, false);
        now_cap
    }

    /// Record (or clear) a pinned size still to be reached.
    fn set_target(&mut self, pending: bool, bytes: usize, recv: bool) {
        let bytes = bytes.min(MAX_BUFFER) as u32;
        if pending {
            let t = self.tune.get_or_insert_with(Box::default);
            if recv {
                t.rcv_target = bytes;
            } else {
                t.snd_target = bytes;
            }
        } else if let Some(t) = self.tune.as_deref_mut() {
            if recv {
                t.rcv_target = 0;
            } else {
                t.snd_target = 0;
            }
        }
    }
}

impl Tune {
    /// Linux `tcp_rcv_rtt_update`: with timestamps (`win_dep` false) a smoothed estimate
    /// (gain 1/8); from the time to receive a window (`win_dep` true) only a minimum, since
    /// such samples overestimate when the sender is application-limited.
    fn rtt_update(&mut self, sample_us: u32, win_dep: bool) {
        let m = sample_us;
        if self.rtt_us8 == 0 {
            self.rtt_us8 = m << 3;
        } else if win_dep {
            self.rtt_us8 = self.rtt_us8.min(m << 3);
        } else {
            // new = old + m - old/8, in the ×8 scale.
            self.rtt_us8 = (self.rtt_us8 - (self.rtt_us8 >> 3)).saturating_add(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lx_11_wscale_covers_the_buffer() {
        assert_eq!(wscale_for(65535), 0);
        assert_eq!(wscale_for(65536), 1);
        assert_eq!(wscale_for(128 * 1024), 2);
        // Linux's tcp_rmem[2] = 6 MiB gives 7, as `ss -i` shows on a default host.
        assert_eq!(wscale_for(6 * 1024 * 1024), 7);
        assert_eq!(wscale_for(usize::MAX), 14);
    }

    #[test]
    fn lx_11_rcv_space_target_grows_only_when_the_reader_sped_up() {
        // Not faster than the last measured round trip: nothing.
        assert_eq!(rcv_space_target(14_600, 14_600, 1460), None);
        assert_eq!(rcv_space_target(1000, 14_600, 1460), None);
        // Slow start: 20 segments read where 10 were: rcvwin = 2·29200 + 16·1460 =
        // 81,760, grown by 2·81,760·(14,600/14,600): 245,280 (Linux's numbers).
        assert_eq!(rcv_space_target(29_200, 14_600, 1460), Some(245_280));
        // A steady reader a little faster: about twice what it read plus the cushion.
        let w = rcv_space_target(1_000_000, 990_000, 1460).unwrap();
        assert!((2_023_360..2_100_000).contains(&w), "{w}");
        // No overflow at the extremes.
        assert!(rcv_space_target(u32::MAX, 1, 65535).is_some());
        assert!(rcv_space_target(u32::MAX, 0, 65535).is_some());
    }

    #[test]
    fn lx_11_receiver_rtt_estimate() {
        let mut t = Tune::default();
        // First sample taken as is (×8 scale).
        t.rtt_update(100_000, false);
        assert_eq!(t.rtt_us8 >> 3, 100_000);
        // Timestamp samples are smoothed with gain 1/8.
        t.rtt_update(180_000, false);
        assert_eq!(t.rtt_us8 >> 3, 110_000);
        // Window samples only ever lower it.
        t.rtt_update(500_000, true);
        assert_eq!(t.rtt_us8 >> 3, 110_000);
        t.rtt_update(90_000, true);
        assert_eq!(t.rtt_us8 >> 3, 90_000);
    }
}
