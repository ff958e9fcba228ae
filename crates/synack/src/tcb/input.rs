//! "Segment arrives" (RFC 9293 §3.10.7.3-4), in the RFC's order: sequence check (with PAWS
//! first), RST, security, SYN, ACK, URG, text, FIN. A step that drops the segment ends
//! processing (EP-10). LISTEN is handled by the stack, which owns the listeners; the TCB
//! takes over from the SYN (`on_syn_in_listen`).

use super::recv_buf::Insert;
use super::ring_pool::RingPool;
use super::sack::Pieces;
use super::{CtlSegment, Ctx, EcnBit, Tcb};
use crate::cc::Controller;
use crate::config::Ecn;
use crate::counters::DropReason;
use crate::event::{Cause, CloseReason, Event, TimerKind};
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::Duration;
use crate::time::OptStamp;
use crate::wire::{Csum, Packet, TcpFlags, TcpHeader, TcpOptions};

/// The ECN field: the low two bits of the TOS / Traffic Class byte (RFC 3168 §5).
const ECN_MASK: u8 = 0b11;
/// Congestion Experienced.
const ECN_CE: u8 = 0b11;

/// Most duplicate ACKs owed at once for one batch of out-of-order segments.
const MAX_DUP_ACKS_OWED: u8 = 16;
/// PAWS-2: TS.Recent older than 24 days is stale (Linux TCP_PAWS_24DAYS).
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// Whether header prediction may be used: always, except in tests that compare it with
/// the general path (`prediction_tests`).
#[cfg(not(test))]
#[inline(always)]
fn prediction_on() -> bool {
    true
}

#[cfg(test)]
fn prediction_on() -> bool {
    prediction_tests::take()
}

#[cfg(test)]
mod prediction_tests;

impl Tcb {
    /// Option negotiation from the peer's SYN or SYN,ACK (MUST-14/15/16, WS-1..3, TS-2, SK-1).
    fn negotiate(&mut self, ctx: &mut Ctx, opts: &TcpOptions) {
        let default_mss = match self.remote() {
            std::net::SocketAddr::V4(_) => 536,
            std::net::SocketAddr::V6(_) => 1220,
        };
        let peer_mss = opts.mss.map(u32::from).unwrap_or(default_mss).max(64);
        match opts.window_scale {
            Some(shift) if self.flags.ws_ok() => self.snd_wscale = shift.min(14), // WS-3
            _ => {
                // WS-2: scaling only when both SYNs carried the option.
                self.flags.set_ws_ok(false);
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.ts_ok = self.ts_ok && opts.timestamps.is_some();
        if let (true, Some(ts)) = (self.ts_ok, opts.timestamps) {
            self.ts_recent = ts.tsval;
            self.ts_recent_at = ctx.now;
        }
        self.sack_ok = self.sack_ok && opts.sack_permitted;
        // MUST-16: the options on every segment (timestamps) come out of the MSS.
        let opt_overhead = if self.ts_ok { 12 } else { 0 };
        self.mss = (peer_mss.min(self.our_mss as u32))
            .saturating_sub(opt_overhead)
            .max(32);
        self.rcv_mss = self.mss.min(536) as u16;
        let iw = self.initial_window(ctx);
        self.cc = Controller::new(ctx.config.congestion_control, self.mss, iw);
    }

    /// LISTEN receiving a SYN (ST-3): this TCB becomes the half-open entry in SYN-RECEIVED.
    /// The stack has already checked RST/ACK and the queue limits.
    pub fn on_syn_in_listen(&mut self, ctx: &mut Ctx, seg: &Packet) {
        let h = &seg.tcp;
        self.state = State::Listen;
        self.rcv_nxt = h.seq + 1;
        self.negotiate(ctx, &h.options);
        // RFC 3168 §6.1.1: an ECN-setup SYN (ECE and CWR) is answered with ECE when we
        // accept ECN (LX-14: Linux's tcp_ecn = 2 does).
        let ecn = ctx.config.ecn != Ecn::Off && h.flags.ece() && h.flags.cwr();
        self.marks.set_ecn(EcnBit::Ok, ecn);
        self.rcv_adv = self.rcv_nxt;
        self.snd_wnd = h.window as u32; // WS-4: never scaled on a SYN
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = h.seq;
        self.snd_wl2 = self.iss;
        self.set_state(ctx, State::SynReceived, Cause::RecvSyn);
        // ST-6: data on a SYN is buffered, and handed over only after ESTABLISHED.
        if !seg.payload.is_empty() {
            self.rcv_adv = self.rcv_nxt + self.rcv_space();
            self.accept_text(ctx, h.seq + 1, seg.payload, false);
        }
    }

    /// Complete MUST-3 for a packet whose payload checksum is still pending
    /// (`wire::parse_deferred`), before anything acts on it; `tcb` is the connection its
    /// 4-tuple names, if any. False if the checksum is wrong: the packet must then be
    /// dropped and counted like any other bad checksum.
    ///
    /// Data at RCV.NXT of an ESTABLISHED connection (every segment of a bulk transfer) is
    /// summed while it is copied into the free space of the receive ring, where it stays
    /// uncommitted until step 7 accepts it (`Csum::Staged`); a bad sum leaves the buffer as
    /// it was. Anything else is summed in a separate pass.
    #[inline(always)]
    pub(crate) fn check_payload(
        tcb: Option<&mut Tcb>,
        seg: &mut Packet,
        rings: &mut RingPool,
    ) -> bool {
        let Csum::Pending(partial) = seg.csum else {
            return true;
        };
        if let Some(t) = tcb {
            if t.state == State::Established && seg.tcp.seq == t.rcv_nxt {
                if let Some(sum) = t.recv_buf.stage(seg.payload, rings) {
                    if Csum::sum_ok(partial + sum) {
                        seg.csum = Csum::Staged;
                        return true;
                    }
                    t.recv_buf.unstage(rings);
                    return false;
                }
            }
        }
        seg.verify_pending()
    }

    /// Segment arrives in any state but CLOSED and LISTEN. Inlined into the stack's
    /// segment path (a frame less per segment received); the general path and SYN-SENT
    /// stay out of line.
    #[inline(always)]
    pub fn on_segment(&mut self, ctx: &mut Ctx, seg: &Packet) {
        self.marks.set_received(seg.traffic_class); // MAY-9
        if self.marks.ecn(EcnBit::Ok) {
            self.ecn_input(ctx, seg);
        }
        let rcv_nxt = self.rcv_nxt;
        match self.state {
            State::Closed | State::Listen => ctx.counters.count_drop(DropReason::Ignored),
            State::SynSent => self.on_segment_syn_sent(ctx, seg),
            State::Established if self.predicts(seg) && prediction_on() => {
                self.on_segment_predicted(ctx, seg)
            }
            _ => self.on_segment_synchronized(ctx, seg),
        }
        if self.rcv_nxt != rcv_nxt && !seg.payload.is_empty() {
            // LX-11: the receiver's RTT sample for receive autotuning (autotune.rs).
            let tsecr = seg.tcp.options.timestamps.map_or(0, |t| t.tsecr);
            self.rcv_rtt_measure(ctx.now, ctx.config, tsecr, seg.payload.len());
        }
        if self.recv_buf.is_staged() {
            // The segment's data was staged but not accepted (dropped, trimmed to nothing):
            // forget it, and the ring too if that was all it held.
            self.recv_buf.unstage(ctx.rings);
        }
    }

    /// RFC 3168 §6.1.3, the receiver: a CE mark is echoed with ECE on every ACK (the first at
    /// once, as Linux's quick ACK) until a segment with CWR shows the sender has reduced
    /// its window.
    fn ecn_input(&mut self, ctx: &mut Ctx, seg: &Packet) {
        if seg.tcp.flags.cwr() {
            self.marks.set_ecn(EcnBit::EchoCe, false);
        }
        if seg.traffic_class & ECN_MASK == ECN_CE {
            ctx.counters.ecn_ce_received += 1;
            self.marks.set_ecn(EcnBit::EchoCe, true);
            self.ack_now = true;
        }
    }

    /// Header prediction (Van Jacobson, "TCP/IP header prediction", 1990; 4.4BSD
    /// tcp_input): whether `seg` is one of the two segments an ESTABLISHED connection
    /// receives nearly always, for which most steps of §3.10.7.4 are known to do nothing:
    /// a pure ACK of new data, or the next in-order data with nothing above a hole. Such a
    /// segment goes to `on_segment_predicted`, which takes exactly the general path's
    /// effects without walking its ladder. Anything else, or any doubt, takes the general
    /// path. Only called in ESTABLISHED.
    ///
    /// What each condition rules out of the general path:
    /// - flags exactly ACK or ACK,PSH: RST (step 2), SYN (step 4), URG (step 6), FIN (step
    ///   8), and the no-ACK drop (step 5).
    /// - SEG.SEQ = RCV.NXT with the text fitting the window: the segment is acceptable
    ///   (step 1; a zero-length segment at RCV.NXT always is, MUST-66) and nothing is
    ///   trimmed (EP-13), so no D-SACK is noted.
    /// - no SACK blocks: the scoreboard gains nothing (SK-5..SK-8), which also leaves the
    ///   duplicate-ACK test of RFC 6675 to the window alone.
    /// - with timestamps in use, a TSval not older than TS.Recent: PAWS (RFC 7323 §5.3)
    ///   cannot reject the segment, whatever TS.Recent's age (TS-4 needs the option).
    /// - the window field is not looked at: unlike 4.4BSD's fast path, this one runs the
    ///   whole of step 5 (`process_ack`), window update (EP-18) and persist timer included,
    ///   so a window change is handled exactly as on the general path.
    /// - SND.UNA =< SEG.ACK =< SND.MAX: neither EP-17 (ACK of unsent data) nor RFC 5961's
    ///   too-old test (BI-5, SEG.ACK < SND.UNA - MAX.SND.WND) can apply.
    /// - a pure ACK must advance SND.UNA: a duplicate ACK is left to the general path, with
    ///   its congestion-control counting (CC-7).
    /// - text only with no out-of-order data and no FIN held above a hole, and not for an
    ///   orphan (SHLD-3 answers that with RST).
    #[inline(always)]
    pub(super) fn predicts(&self, seg: &Packet) -> bool {
        let h = &seg.tcp;
        let len = seg.payload.len();
        let flags_ok = h.flags == TcpFlags::ACK || h.flags == TcpFlags::ACK | TcpFlags::PSH;
        let ts_ok = match (self.ts_ok, h.options.timestamps) {
            (false, _) => true,
            (true, Some(ts)) => (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0,
            (true, None) => false,
        };
        flags_ok
            && h.seq == self.rcv_nxt
            && h.options.sack_count == 0
            && ts_ok
            && self.snd_una.le(h.ack)
            && h.ack.le(self.snd_max)
            && self.ooo_fin().is_none()
            && if len == 0 {
                h.ack != self.snd_una
            } else {
                len as u64 <= u64::from(self.rcv_wnd())
                    && !self.orphan
                    && !self.recv_buf.has_out_of_order()
            }
    }

    /// A segment `predicts` accepted: the general path's effects, in its order, with the
    /// steps it would skip left out. Keep in step with `on_segment_synchronized`; the
    /// differential tests in `tcb/tests.rs` run whole conversations both ways.
    #[inline(always)]
    fn on_segment_predicted(&mut self, ctx: &mut Ctx, seg: &Packet) {
        let h = &seg.tcp;
        // Step 1 accepted it: the peer is alive (MUST-26).
        self.keepalive_heard(ctx);
        // TS-6 (RFC 7323 §4.3): TSval is not older than TS.Recent (checked), so only
        // SEG.SEQ =< Last.ACK.sent decides.
        if let (true, Some(ts)) = (self.ts_ok, h.options.timestamps) {
            if h.seq.le(self.last_ack_sent) {
                self.ts_recent = ts.tsval;
                self.ts_recent_at = ctx.now;
            }
        }
        // Step 5: an acceptable ACK (EP-18, EP-19). ESTABLISHED never ends here.
        let payload = seg.payload;
        if !payload.is_empty() && self.ack_changes_nothing(h.ack) {
            // All `process_ack` would do (see `ack_changes_nothing`).
            self.probes = 0; // MUST-37
            self.update_send_window(h.seq, h.ack, u32::from(h.window) << self.snd_wscale);
        } else {
            self.process_ack(ctx, seg, h.seq, payload.len(), false);
        }
        if self.fin_queued && self.state == State::Established {
            // ST-10, as on the general path.
            self.set_state(ctx, State::FinWait1, Cause::Close);
        }
        // Step 7: in-order text (EP-21); step 8 has no FIN to take.
        if !payload.is_empty() {
            self.accept_text(ctx, h.seq, payload, seg.csum == Csum::Staged);
        }
    }

    /// SYN-SENT (ST-4, ST-5, MUST-10).
    fn on_segment_syn_sent(&mut self, ctx: &mut Ctx, seg: &Packet) {
        let h = &seg.tcp;
        // First: the ACK bit. Acceptable iff ISS < SEG.ACK =< SND.NXT (ST-4).
        let ack_ok = h.flags.ack();
        if ack_ok && (h.ack.le(self.iss) || h.ack.gt(self.snd_max)) {
            if !h.flags.rst() {
                self.reply_rst(ctx, h.ack);
            }
            ctx.counters.count_drop(DropReason::BadAck);
            return;
        }
        // Second: RST (RST-4: valid only if it acknowledges our SYN).
        if h.flags.rst() {
            ctx.counters.in_rsts += 1;
            if ack_ok {
                self.terminate(ctx, CloseReason::Refused, Cause::RecvRst);
            } else {
                ctx.counters.count_drop(DropReason::BadRst);
            }
            return;
        }
        // Third: security (EP-14: not applicable). Fourth: SYN.
        if !h.flags.syn() {
            ctx.counters.count_drop(DropReason::Ignored);
            return;
        }
        self.rcv_nxt = h.seq + 1;
        self.negotiate(ctx, &h.options);
        self.rcv_adv = self.rcv_nxt + self.rcv_space();
        self.snd_wnd = h.window as u32; // WS-4
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = h.seq;
        self.snd_wl2 = h.ack;
        if ack_ok {
            // ST-5: our SYN is acknowledged. RFC 3168 §6.1.1: ECN if we asked (an
            // ECN-setup SYN: never a retransmitted one) and the SYN,ACK says ECE, not CWR.
            let asked = ctx.config.ecn == Ecn::On && !self.flags.syn_retransmitted();
            self.marks
                .set_ecn(EcnBit::Ok, asked && h.flags.ece() && !h.flags.cwr());
            self.snd_una = h.ack;
            self.take_rtt_sample(ctx, h);
            self.after_handshake_rtt(ctx);
            self.clear_timer(TimerKind::Retransmit);
            self.retries = 0;
            self.set_state(ctx, State::Established, Cause::RecvSynAck);
            ctx.events.push(Event::Connected { conn: self.id });
            ctx.events.push(Event::Writable { conn: self.id });
            self.ack_now = true;
            // "continue processing at the sixth step": data and FIN on the SYN,ACK.
            self.accept_text(ctx, h.seq + 1, seg.payload, false);
            if h.flags.fin() {
                self.accept_fin(ctx, h.seq + 1 + seg.payload.len() as u32);
            }
            if self.fin_queued && self.state == State::Established {
                self.set_state(ctx, State::FinWait1, Cause::Close);
            }
        } else {
            // MUST-10: simultaneous open. SYN-RECEIVED, answering with SYN,ACK on the same ISS.
            self.set_state(ctx, State::SynReceived, Cause::RecvSyn);
            self.snd_nxt = self.iss;
            self.accept_text(ctx, h.seq + 1, seg.payload, false);
        }
    }

    /// SYN-RECEIVED and the synchronized states (§3.10.7.4).
    fn on_segment_synchronized(&mut self, ctx: &mut Ctx, seg: &Packet) {
        let h = &seg.tcp;
        let rst = h.flags.rst();
        let mut seq = h.seq;
        let mut syn = h.flags.syn();
        let mut fin = h.flags.fin();
        let mut payload = seg.payload;

        if self.state == State::SynReceived && syn && seq == self.irs() {
            if self.listener.is_some() && !h.flags.ack() && !rst {
                // S-3: a retransmission of the SYN we answered draws the SYN,ACK again (no new
                // entry), rate-limited (LX-15) so it does not double the timer's own
                // retransmissions.
                let recent = self
                    .last_synack()
                    .is_some_and(|t| ctx.now.saturating_since(t) < ctx.config.invalid_ratelimit);
                if !recent {
                    self.snd_nxt = self.iss;
                }
                return;
            }
            if self.listener.is_none() && h.flags.ack() {
                // EP-23: in a simultaneous open the peer's SYN,ACK repeats the SYN we already
                // hold; strict validation would drop its useful ACK. Strip the SYN.
                syn = false;
                seq += 1;
            }
        }

        // PAWS (RFC 7323 §5.3) runs before the sequence check; TS-4 first.
        if self.ts_ok && !rst {
            match h.options.timestamps {
                None => {
                    ctx.counters.count_drop(DropReason::MissingTimestamp);
                    return;
                }
                Some(ts) => {
                    let fresh = ctx.now.saturating_since(self.ts_recent_at) < PAWS_IDLE;
                    if fresh && (ts.tsval.wrapping_sub(self.ts_recent) as i32) < 0 {
                        self.ack_now = true; // PAWS-1
                        ctx.counters.count_drop(DropReason::Paws);
                        return;
                    }
                }
            }
        }

        // Step 1: sequence number check (EP-11).
        let seg_len = payload.len() as u32 + syn as u32 + fin as u32;
        let wnd = self.rcv_wnd();
        let rcv_nxt = self.rcv_nxt;
        let in_window = |s: SeqNum| s.in_range(rcv_nxt, rcv_nxt + wnd);
        let mut acceptable = match (seg_len, wnd) {
            (0, 0) => seq == rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (len, _) => in_window(seq) || in_window(seq + (len - 1)),
        };
        if !acceptable && wnd == 0 && seq == rcv_nxt {
            // MUST-66, WM-1: with a zero window, still take the ACK/RST of a segment at
            // RCV.NXT; its text is trimmed away below and answered with an ACK.
            acceptable = true;
        }
        if !acceptable {
            if self.sack_ok && !rst && !syn && !payload.is_empty() {
                let end = seq + payload.len() as u32;
                if end.le(rcv_nxt) {
                    // SK-12 (RFC 2883 §4 (1)): data we already had; say so with a D-SACK.
                    self.dsack_start = seq;
                    self.dsack_len = payload.len().min(usize::from(u16::MAX)) as u16;
                }
            }
            let pure = seg_len == 0 || syn; // Linux: data segments are always answered
            if !rst && (!pure || !self.oow_rate_limited(ctx)) {
                // EP-12: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. Replies to out-of-window pure
                // ACKs are rate-limited like Linux's (LX-15) so that no ACK loop can form.
                self.ack_now = true;
                if self.state == State::TimeWait && fin && seq + seg_len == self.rcv_nxt {
                    // A retransmitted FIN: re-ACK it and restart 2MSL (EP-22, MUST-13).
                    self.set_timer(TimerKind::TimeWait, ctx.now + ctx.config.time_wait);
                }
            }
            ctx.counters.count_drop(DropReason::OutOfWindow);
            return;
        }
        // The peer is alive (MUST-26: keep-alive counts idle time from here).
        self.keepalive_heard(ctx);
        // EP-13: trim to the window; keep only what starts at or after RCV.NXT.
        if seq.lt(rcv_nxt) {
            let mut cut = rcv_nxt - seq;
            if syn {
                syn = false;
                cut -= 1;
                seq += 1;
            }
            let data_cut = (cut as usize).min(payload.len());
            if self.sack_ok && data_cut > 0 {
                // SK-12: the old part of a partly new segment is reported as a D-SACK.
                self.dsack_start = seq;
                self.dsack_len = data_cut.min(usize::from(u16::MAX)) as u16;
                self.ack_now = true;
            }
            payload = &payload[data_cut..];
            seq += data_cut as u32;
            if cut as usize > data_cut {
                fin = false; // the FIN itself was old
            }
        }
        let right = rcv_nxt + wnd;
        if (seq + payload.len() as u32).gt(right) {
            let keep = if seq.lt(right) { right - seq } else { 0 };
            payload = &payload[..keep as usize];
            fin = false;
            self.ack_now = true;
        }
        // TS-6: remember the peer's timestamp for echoing.
        if let (true, Some(ts)) = (self.ts_ok, h.options.timestamps) {
            let stale = ctx.now.saturating_since(self.ts_recent_at) >= PAWS_IDLE; // PAWS-2
            let newer = (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0;
            if (newer || stale) && h.seq.le(self.last_ack_sent) {
                self.ts_recent = ts.tsval;
                self.ts_recent_at = ctx.now;
            }
        }

        // Step 2: RST (RST-4, RST-5, BI-1..3).
        if rst {
            ctx.counters.in_rsts += 1;
            if h.seq != self.rcv_nxt {
                // BI-3: in the window but not exactly at RCV.NXT: challenge ACK.
                self.challenge_ack(ctx);
                ctx.counters.count_drop(DropReason::BadRst);
                return;
            }
            match self.state {
                State::SynReceived if self.listener.is_some() => {
                    self.back_to_listen(ctx, Cause::RecvRst)
                }
                State::SynReceived => self.terminate(ctx, CloseReason::Refused, Cause::RecvRst),
                State::TimeWait if ctx.config.rfc1337 => {
                    // TW-2 (decision 4): RFC 1337 F1, ignore RST in TIME-WAIT.
                    ctx.counters.count_drop(DropReason::Ignored);
                }
                State::TimeWait => self.terminate(ctx, CloseReason::Normal, Cause::RecvRst),
                _ => self.terminate(ctx, CloseReason::Reset, Cause::RecvRst),
            }
            return;
        }

        // Step 4: SYN (EP-15, MUST-11, BI-4).
        if syn {
            if self.state == State::SynReceived && self.listener.is_some() {
                self.back_to_listen(ctx, Cause::RecvSyn);
            } else {
                self.challenge_ack(ctx);
                ctx.counters.count_drop(DropReason::Ignored);
            }
            return;
        }

        // Step 5: ACK (EP-16..19).
        if !h.flags.ack() {
            ctx.counters.count_drop(DropReason::NoAck);
            return;
        }
        if self.state == State::SynReceived {
            if self.snd_una.lt(h.ack) && h.ack.le(self.snd_max) {
                self.snd_wnd = (h.window as u32) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seq;
                self.snd_wl2 = h.ack;
                self.after_handshake_rtt(ctx);
                self.set_state(ctx, State::Established, Cause::RecvAck);
                if self.listener.is_none() {
                    ctx.events.push(Event::Connected { conn: self.id });
                    ctx.events.push(Event::Writable { conn: self.id });
                }
            } else {
                // EP-16: <SEQ=SEG.ACK><CTL=RST>.
                self.reply_rst(ctx, h.ack);
                ctx.counters.count_drop(DropReason::BadAck);
                return;
            }
        }
        if h.ack.gt(self.snd_max) {
            // EP-17: acknowledges something not yet sent.
            self.ack_now = true;
            ctx.counters.count_drop(DropReason::BadAck);
            return;
        }
        // BI-5 (RFC 5961 §5.2, MAY-12): too old to be a real ACK.
        let oldest = self.snd_una - self.max_snd_wnd.max(self.mss);
        if h.ack.lt(oldest) {
            self.challenge_ack(ctx);
            ctx.counters.count_drop(DropReason::BadAck);
            return;
        }
        if self.process_ack(ctx, seg, seq, payload.len(), fin) {
            return; // the connection ended (LAST-ACK)
        }
        if self.state == State::Established && self.fin_queued {
            // A CLOSE issued while still in SYN-RECEIVED takes effect now (ST-10).
            self.set_state(ctx, State::FinWait1, Cause::Close);
        }

        // Step 6: URG (EP-20, MUST-30..33, MUST-62): the pointer names the byte after the
        // urgent data; it never moves back. Urgent bytes are delivered inline (decision 7).
        if h.flags.urg() && self.state.can_receive_data() && !self.fin_received {
            let up = self.rcv_offset(seq) + h.urgent as u64;
            if self.rcv_up().is_none_or(|old| up > old) && up > self.recv_buf.next() {
                self.set_rcv_up(Some(up));
                if self.accepted {
                    ctx.events.push(Event::Urgent { conn: self.id });
                }
            }
        }

        // Step 7: segment text (EP-21).
        if !payload.is_empty() {
            if self.fin_received || !self.state.can_receive_data() {
                ctx.counters.count_drop(DropReason::Ignored);
            } else if self.orphan {
                // SHLD-3: data for an application that has closed is lost: say so with RST.
                ctx.counters.abort_on_close += 1;
                self.send_rst(ctx);
                self.terminate(ctx, CloseReason::Aborted, Cause::Close);
                return;
            } else {
                self.accept_text(ctx, seq, payload, seg.csum == Csum::Staged);
            }
        }

        // Step 8: FIN (EP-22), possibly one that arrived earlier above a hole.
        if fin {
            self.accept_fin(ctx, seq + payload.len() as u32);
        } else if self.ooo_fin() == Some(self.rcv_nxt) {
            self.receive_fin(ctx);
        }
    }

    /// The ACK field of an acceptable segment (EP-17, EP-18, EP-19). True if the connection
    /// ended.
    fn process_ack(
        &mut self,
        ctx: &mut Ctx,
        seg: &Packet,
        seq: SeqNum,
        payload_len: usize,
        fin: bool,
    ) -> bool {
        let h = &seg.tcp;
        let una_before = self.snd_una;
        let ece = h.flags.ece() && self.marks.ecn(EcnBit::Ok);
        self.probes = 0; // MUST-37: the peer answers, so persist never gives up
        let window = (h.window as u32) << self.snd_wscale;
        // SK-5..SK-8: record what the peer holds above the cumulative ACK. D-SACK blocks
        // (below SND.UNA, SK-12) are tolerated and ignored.
        let mut new_sacked = false;
        // RACK (RK-1) needs what this ACK newly delivered; without SACK blocks, a scoreboard
        // or a flight record (nearly always) that is `[SND.UNA, SEG.ACK)`, sent at
        // `last_send`, and `rack_on_ack` takes the short way.
        let rack = self.rack_on(ctx);
        let rack_full = rack && (h.options.sack_count > 0 || self.sb.is_allocated());
        let mut newly = rack_full.then(Pieces::default);
        if self.sack_ok {
            let una = self.snd_una.max(h.ack);
            if let (Some(n), true) = (&mut newly, h.ack.gt(self.snd_una)) {
                for (a, b) in self.sb.holes(self.snd_una, h.ack) {
                    n.push(a, b.min(h.ack));
                }
            }
            // Skipped while the scoreboard is empty (nearly always): advancing it reaches
            // the range list mutably, which allocates it, only to release it again; that
            // was a malloc and free per segment received in bulk.
            if !self.sb.is_empty() {
                self.sb.advance(una);
            }
            for b in h.options.sacks() {
                new_sacked |=
                    self.sb
                        .add_noting(b.left, b.right, una, self.snd_max, newly.as_mut());
            }
        }
        let mut cc_acked = None;
        let mut est_sample = None;
        if h.ack.gt(self.snd_una) {
            let data_acked = if h.ack.gt(self.snd_buf_seq) {
                ((h.ack - self.snd_buf_seq) as usize).min(self.send_buf.len())
            } else {
                0
            };
            self.send_buf.ack_pooled(data_acked, ctx.rings);
            self.snd_buf_seq += data_acked as u32;
            self.snd_una = h.ack;
            if self.snd_nxt.lt(self.snd_una) {
                self.snd_nxt = self.snd_una;
            }
            est_sample = self.take_rtt_sample(ctx, h);
            self.retries = 0;
            // RTO-10: stop the timer when all is acknowledged, otherwise restart it.
            // The slot holds the RTO again; a PTO (or RACK's reordering timer) is set below.
            self.flags.set_tlp_armed(false);
            self.rack.set_armed(false);
            if self.snd_una == self.snd_max {
                self.clear_timer(TimerKind::Retransmit);
                self.clear_unacked();
                // HyStart++'s rounds end with the flight, and an ended loss episode's undo
                // state a round after it ended (SK-12).
                self.sb.release_drained(self.snd_una);
                self.set_rtx_tsval(None);
            } else {
                self.set_timer(TimerKind::Retransmit, self.rto_deadline(ctx.now));
                self.mark_unacked_since(ctx.now);
            }
            // SYN and FIN are not data (CC-4): the controller hears of the bytes below, once
            // RACK has its RTT sample for HyStart++.
            cc_acked = Some(data_acked as u32);
            if self.flags.want_writable() && self.send_buf.free() > 0 {
                self.flags.set_want_writable(false);
                ctx.events.push(Event::Writable { conn: self.id });
            }
        } else if h.ack == self.snd_una
            && payload_len == 0
            && !fin
            && self.snd_una != self.snd_max
            && (window == self.snd_wnd || new_sacked)
        {
            // CC-7, or RFC 6675's definition: an ACK that SACKs new data.
            self.on_dup_ack(ctx);
        }
        let dsack = self.sack_ok && h.options.sack_count > 0 && super::rack::has_dsack(h);
        if dsack {
            ctx.counters.dsacks_received += 1;
        }
        let rack_sample = if let Some(newly) = &newly {
            self.rack_on_ack(ctx, h, una_before, newly, dsack)
        } else if rack {
            self.rack_on_plain_ack(ctx, h, una_before)
        } else {
            None
        };
        // SK-12 (undo.rs): a D-SACK, or SND.UNA moving while an RTO episode lasts (below
        // `recover` outside fast recovery), may show a reduction spurious. Neither is on the
        // common path.
        if dsack || (h.ack.gt(una_before) && una_before.le(self.recover) && !self.in_recovery) {
            self.undo_on_ack(ctx, h, una_before, dsack);
        }
        let recovering = self.in_recovery || (!self.sack_ok && self.dupacks >= 3);
        if let Some(acked) = cc_acked {
            // An ECN-Echo opens nothing (RFC 3168 §6.1.2). RACK's sample (µs, per burst) is
            // the finer one; without SACK, the RTT estimator's.
            self.on_new_ack_cc(ctx, acked, !ece, rack_sample.or(est_sample));
            self.sndbuf_expand(ctx.config); // LX-11 (autotune.rs)
        }
        if self.sack_ok {
            self.sack_recovery_check(ctx);
        }
        if recovering && !(self.in_recovery || (!self.sack_ok && self.dupacks >= 3)) {
            // SK-12: this ACK ended a fast recovery (RFC 6675 or NewReno); was it spurious?
            self.undo_at_recovery_end(ctx, h);
        }
        if ece {
            self.on_ecn_echo(ctx, self.snd_max - una_before);
        }
        // The window of an ECN reduction ends once its data is acknowledged; checked after
        // the ECN-Echo, which the ACK that ends it still carries (the receiver echoes until
        // it sees our CWR, sent after that data).
        if self.marks.ecn(EcnBit::Reduced) && self.snd_una.gt(self.recover) {
            self.marks.set_ecn(EcnBit::Reduced, false);
        }
        // RK-4: did a tail loss probe repair something? Then RK-3: probe again if data is
        // still outstanding and nothing else will bring an ACK soon.
        self.probe_acked(ctx, h);
        if h.ack.gt(una_before) {
            self.schedule_loss_probe(ctx);
        }
        self.update_send_window(seq, h.ack, window);
        // EP-19: what the ACK of our FIN means in each closing state.
        if self.fin_acked() {
            match self.state {
                State::FinWait1 => self.set_state(ctx, State::FinWait2, Cause::RecvAck),
                State::Closing => self.set_state(ctx, State::TimeWait, Cause::RecvAck),
                State::LastAck => {
                    self.terminate(ctx, CloseReason::Normal, Cause::RecvAck);
                    return true;
                }
                _ => {}
            }
        }
        false
    }

    /// EP-18: the window update of step 5, guarded against stale segments; `window` is
    /// the segment's field already scaled.
    #[inline(always)]
    fn update_send_window(&mut self, seq: SeqNum, ack: SeqNum, window: u32) {
        if self.snd_wl1.lt(seq) || (self.snd_wl1 == seq && self.snd_wl2.le(ack)) {
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if window > 0 {
                self.clear_timer(TimerKind::Persist);
                self.persist_backoff = 0;
            }
        }
    }

    /// Whether step 5 (`process_ack`) of an ESTABLISHED connection's segment with ACK field
    /// `ack` and some text would do no more than reset the probe count and update the window
    /// (EP-18): nothing new is acknowledged and nothing is outstanding, so no RTT sample,
    /// timer, congestion or SACK step applies; without recovery, a scoreboard or a
    /// tail loss probe in flight, the RFC 6675 check and RK-4 have nothing to end; text is
    /// never a duplicate ACK (CC-7); and ESTABLISHED has no FIN to be acknowledged (EP-19).
    /// This is the ACK field of every data segment a receiver that sends nothing gets
    /// (bulk), for which `on_segment_predicted` skips the rest of `process_ack`.
    #[inline(always)]
    fn ack_changes_nothing(&self, ack: SeqNum) -> bool {
        ack == self.snd_una
            && self.snd_una == self.snd_max
            && !self.in_recovery
            && !self.flags.tlp_outstanding()
            && self.sb.is_empty()
    }

    /// RTT measurement: timestamps when in use (RTTM-1), else one timed segment at a time
    /// under Karn's rule (RTO-6, RTO-7).
    /// The sample taken, in µs, if any.
    fn take_rtt_sample(&mut self, ctx: &mut Ctx, h: &TcpHeader) -> Option<u32> {
        if let (true, Some(ts)) = (self.ts_ok, h.options.timestamps) {
            let stale = self
                .rtx_tsval()
                .is_some_and(|r| (ts.tsecr.wrapping_sub(r) as i32) < 0);
            if ts.tsecr != 0 && !stale {
                let ms = self.ts_now(ctx.now).wrapping_sub(ts.tsecr);
                if (ms as i32) >= 0 && ms < 3_600_000 {
                    self.rtt.sample_micros(
                        u64::from(ms) * 1000,
                        ctx.config.rto_min,
                        ctx.config.rto_max,
                    );
                    self.rtt_timing.1 = OptStamp::NONE;
                    return Some(ms * 1000);
                }
            }
        }
        if let (end, Some(us)) = (self.rtt_timing.0, self.rtt_timing.1.elapsed_us(ctx.now)) {
            if h.ack.ge(end) {
                self.rtt
                    .sample_micros(u64::from(us), ctx.config.rto_min, ctx.config.rto_max);
                self.rtt_timing.1 = OptStamp::NONE;
                return Some(us);
            }
        }
        None
    }

    /// RTO-12: after retransmitted SYNs, data starts with a 3 s RTO unless a sample exists.
    fn after_handshake_rtt(&mut self, ctx: &mut Ctx) {
        if self.flags.syn_retransmitted() && self.rtt.srtt().is_none() {
            self.rtt.reset_backoff();
            self.rtt
                .ensure_at_least(ctx.config.rto_fallback, ctx.config.rto_max);
        }
    }

    /// Step 7 proper: put in-window text into the receive buffer and plan the ACK.
    /// `staged`: the segment's payload, of which `payload` is a prefix, was copied to RCV.NXT
    /// while its checksum was verified (`check_payload`); if it still starts there it is
    /// committed in place rather than copied again.
    #[inline(always)]
    pub(super) fn accept_text(&mut self, ctx: &mut Ctx, seq: SeqNum, payload: &[u8], staged: bool) {
        if payload.is_empty() {
            return;
        }
        let offset = self.rcv_offset(seq);
        if staged && offset == self.recv_buf.next() {
            if let Some(r) = self.recv_buf.commit_staged(payload.len()) {
                // The rest of this step on its own copy, where the commit's answer (in
                // order, nothing duplicate or cut) is known, and that nothing was queued
                // out of order (`stage` requires it, and a change since would have undone
                // the staging): every segment of a bulk transfer comes here, and the merged
                // copy tested each flag at run time.
                debug_assert!(!self.recv_buf.has_out_of_order());
                self.text_accepted(ctx, r, false, payload.len());
                return;
            }
        }
        let had_hole = self.recv_buf.has_out_of_order();
        let r = self.recv_buf.insert_pooled(offset, payload, ctx.rings);
        if r.duplicate && !r.truncated && self.sack_ok && offset > self.recv_buf.next() {
            // SK-12 (RFC 2883 §4): the whole segment lies in data already queued above
            // RCV.NXT (a retransmission of what we had SACKed). It is the D-SACK block; the
            // queued block holding it is reported next, as §4 asks, because the insert
            // made that block the most recent (SK-3).
            self.dsack_start = seq;
            self.dsack_len = payload.len().min(usize::from(u16::MAX)) as u16;
        }
        self.text_accepted(ctx, r, had_hole, payload.len());
    }

    /// The end of `accept_text`: what inserting `len` bytes of text did (`r`; `had_hole`:
    /// data was queued out of order before) moves RCV.NXT, tells the application, and
    /// plans the ACK.
    #[inline(always)]
    fn text_accepted(&mut self, ctx: &mut Ctx, r: Insert, had_hole: bool, len: usize) {
        self.rcv_mss = self
            .rcv_mss
            .max(len.min(usize::from(u16::MAX)) as u16)
            .min(self.our_mss);
        if r.advanced > 0 {
            self.rcv_nxt += r.advanced as u32;
            if self.accepted && self.state.is_synchronized() {
                self.tell_readable(ctx);
            }
        }
        if r.truncated {
            ctx.counters.count_drop(DropReason::OooQueueFull);
        }
        if r.out_of_order || had_hole || r.duplicate || r.truncated {
            self.ack_now = true; // ACK-1: out-of-order data and filled holes are ACKed at once
            if r.out_of_order || r.duplicate {
                // One duplicate ACK per such segment, even when a batch of them is processed
                // before we transmit (MUST-59 still holds: they go after the batch).
                self.dup_acks_owed = self.dup_acks_owed.saturating_add(1).min(MAX_DUP_ACKS_OWED);
            }
            if !self.recv_buf.has_out_of_order() {
                // The batch filled every hole: one cumulative ACK says it all (MUST-58).
                self.dup_acks_owed = 0;
            }
        } else {
            self.schedule_ack(ctx, r.advanced as u32);
        }
    }

    /// Queue `Readable` unless one is queued already and the application has not called
    /// recv since (`Event::Readable`): a bulk receiver got one event per segment, which it
    /// drained from the queue only to find the bytes it had already read (about 2% of the
    /// bulk profile, issue 3).
    #[inline(always)]
    pub(super) fn tell_readable(&mut self, ctx: &mut Ctx) {
        if !self.flags.readable_told() {
            self.flags.set_readable_told(true);
            ctx.events.push(Event::Readable { conn: self.id });
        }
    }

    /// Step 8: a FIN at sequence `fin_seq` (after any text in its segment).
    pub(super) fn accept_fin(&mut self, ctx: &mut Ctx, fin_seq: SeqNum) {
        if self.fin_received {
            return;
        }
        if fin_seq == self.rcv_nxt {
            self.receive_fin(ctx);
        } else if fin_seq.gt(self.rcv_nxt) {
            self.set_ooo_fin(Some(fin_seq));
            self.ack_now = true;
        }
    }

    /// The peer's FIN is in sequence (EP-22).
    fn receive_fin(&mut self, ctx: &mut Ctx) {
        self.rcv_nxt += 1;
        self.fin_received = true;
        self.set_ooo_fin(None);
        self.ack_now = true;
        if self.accepted {
            self.tell_readable(ctx);
        }
        match self.state {
            State::SynReceived | State::Established => {
                self.set_state(ctx, State::CloseWait, Cause::RecvFin)
            }
            State::FinWait1 if self.fin_acked() => {
                self.set_state(ctx, State::TimeWait, Cause::RecvFin)
            }
            State::FinWait1 => self.set_state(ctx, State::Closing, Cause::RecvFin),
            State::FinWait2 => self.set_state(ctx, State::TimeWait, Cause::RecvFin),
            _ => {}
        }
    }

    /// Delayed-ACK policy (SHLD-18/19, MUST-40, LX-10): quick ACKs at the start, then ACK
    /// every second full segment, otherwise within `Config::delayed_ack`.
    #[inline(always)]
    fn schedule_ack(&mut self, ctx: &mut Ctx, bytes: u32) {
        self.rcv_unacked += bytes;
        if self.rcv_unacked >= 2 * u32::from(self.rcv_mss) {
            self.ack_now = true;
        } else if self.quick_acks > 0 {
            self.quick_acks -= 1;
            self.ack_now = true;
        } else if self.timer(TimerKind::DelayedAck).is_none() {
            self.set_timer(TimerKind::DelayedAck, ctx.now + ctx.config.delayed_ack);
        }
    }

    /// RFC 5961 challenge ACK (BI-3, BI-4), at most one per `Config::invalid_ratelimit` (BI-6).
    fn challenge_ack(&mut self, ctx: &mut Ctx) {
        let recent = self
            .last_challenge()
            .is_some_and(|t| ctx.now.saturating_since(t) < ctx.config.invalid_ratelimit);
        if !recent {
            self.set_last_challenge(ctx.now);
            self.ack_now = true;
            ctx.counters.challenge_acks += 1;
        }
    }

    /// True if we answered an out-of-window segment within the last 500 ms (LX-15
    /// tcp_invalid_ratelimit); otherwise records this answer.
    fn oow_rate_limited(&mut self, ctx: &mut Ctx) -> bool {
        if self
            .last_oow_ack()
            .is_some_and(|t| ctx.now.saturating_since(t) < ctx.config.invalid_ratelimit)
        {
            return true;
        }
        self.set_last_oow_ack(ctx.now);
        false
    }

    /// `<SEQ=ack><CTL=RST>` for an unacceptable ACK in a non-synchronized state (RST-2).
    fn reply_rst(&mut self, ctx: &mut Ctx, ack: SeqNum) {
        ctx.counters.out_rsts += 1;
        ctx.ctl.push(CtlSegment {
            local: self.local(),
            remote: self.remote(),
            seq: ack,
            ack: SeqNum(0),
            flags: TcpFlags::RST,
            window: 0,
            options: self.rst_options(ctx),
            dscp: Some(self.marks.ours()),
        });
    }

    /// Reset this connection from our side: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>` as
    /// Linux sends it (UI-5).
    pub(super) fn send_rst(&mut self, ctx: &mut Ctx) {
        ctx.counters.out_rsts += 1;
        ctx.ctl.push(CtlSegment {
            local: self.local(),
            remote: self.remote(),
            seq: self.snd_nxt.max(self.snd_max),
            ack: self.rcv_nxt,
            flags: TcpFlags::RST | TcpFlags::ACK,
            window: 0,
            options: self.rst_options(ctx),
            dscp: Some(self.marks.ours()),
        });
    }

    /// TS-3: once timestamps are in use, a RST carries them too.
    fn rst_options(&self, ctx: &Ctx) -> TcpOptions {
        TcpOptions {
            timestamps: self.ts_ok.then(|| crate::wire::Timestamps {
                tsval: self.ts_now(ctx.now),
                tsecr: self.ts_recent,
            }),
            ..TcpOptions::default()
        }
    }

    /// A SYN-cookie ACK (SF-4): rebuild the connection the stateless SYN,ACK described, as if
    /// it had been half-open all along, then process the ACK itself (data included).
    /// `syn_opts` are the options recovered from the cookie and the echoed timestamp.
    pub fn on_cookie_ack(
        &mut self,
        ctx: &mut Ctx,
        seg: &Packet,
        iss: SeqNum,
        syn_opts: &TcpOptions,
        ecn: bool,
    ) {
        let h = &seg.tcp;
        self.set_iss(iss);
        // SF-6: the cookie's SYN,ACK accepted an ECN-setup SYN (its TSval said so).
        let flags = if ecn {
            TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR
        } else {
            TcpFlags::SYN
        };
        let syn = Packet {
            tcp: TcpHeader {
                seq: h.seq - 1,
                ack: SeqNum(0),
                flags,
                options: *syn_opts,
                ..*h
            },
            payload: &[],
            ..*seg
        };
        self.on_syn_in_listen(ctx, &syn);
        // The SYN,ACK went out statelessly and is never retransmitted (SF-7).
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_nxt;
        self.rtt_timing.1 = OptStamp::NONE;
        self.rcv_adv = self.rcv_nxt + self.rcv_space().min(65535);
        self.last_ack_sent = self.rcv_nxt;
        self.on_segment(ctx, seg);
    }
}
