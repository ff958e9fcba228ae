//! What to send next: SYN or SYN,ACK, data (MSS-sized, Nagle and sender SWS avoidance),
//! FIN, zero-window probes, and ACKs carrying the receive window (receiver SWS avoidance).
//! Also the minimal Reno congestion window the data path starts from.

use super::{sack, Ctx, EcnBit, Tcb};
use crate::cc::{hystart, CongestionControl};
use crate::config::Ecn;
use crate::event::TimerKind;
use crate::seq::SeqNum;
use crate::state::State;
use crate::time::OptStamp;
use crate::wire::{
    self, IpOut, PlainHeader, SackBlock, TcpFlags, TcpHeader, TcpOptions, Timestamps,
};
use std::net::IpAddr;

/// One segment to send: a header and, optionally, bytes of the send buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outgoing {
    pub hdr: OutHeader,
    /// Offset of the payload in the send buffer.
    pub data_offset: usize,
    pub data_len: usize,
    /// Send it ECN-Capable, ECT(0) (RFC 3168 §6.1.2: new data of an ECN connection only;
    /// never SYNs, pure ACKs, probes or retransmissions, §6.1.1, §6.1.4, §6.1.5).
    pub ect: bool,
}

/// The header of a segment to send: plain (Timestamps at most, every segment of an
/// established connection without SACK blocks), which is written from its fields
/// (`wire::emit_plain_parts`), or any other (SYNs, SACK blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutHeader {
    Plain(PlainHeader),
    Full(TcpHeader),
}

impl Outgoing {
    /// Write the segment, with `payload` (its bytes of the send buffer, in one or two
    /// pieces), as an IP packet into `buf` (see `wire::emit_parts`); None if it does not
    /// fit. Plain headers are written by the writer inlined here, the stack's transmit
    /// loop; the others by the general one, out of line.
    #[inline(always)]
    pub fn write(
        &self,
        src: IpAddr,
        dst: IpAddr,
        ip: IpOut,
        payload: (&[u8], &[u8]),
        buf: &mut [u8],
    ) -> Option<usize> {
        match &self.hdr {
            OutHeader::Plain(h) => wire::emit_plain_parts(src, dst, ip, h, payload, buf),
            OutHeader::Full(h) => emit_full(src, dst, ip, h, payload, buf),
        }
    }
}

/// `wire::emit_parts` for a full header (SYNs, SACK blocks): out of line, so that the
/// plain segments' writer alone is inlined into the transmit loop.
#[inline(never)]
fn emit_full(
    src: IpAddr,
    dst: IpAddr,
    ip: IpOut,
    hdr: &TcpHeader,
    payload: (&[u8], &[u8]),
    buf: &mut [u8],
) -> Option<usize> {
    wire::emit_parts(src, dst, ip, hdr, payload, buf)
}

impl OutHeader {
    /// The header as a [`TcpHeader`].
    pub fn to_header(self) -> TcpHeader {
        match self {
            OutHeader::Plain(p) => p.to_header(),
            OutHeader::Full(h) => h,
        }
    }
}

impl Tcb {
    /// The next segment this connection wants to send, if any. Called until it says None.
    /// Inlined into the stack's transmit loop, its one caller: a frame less per segment.
    #[inline(always)]
    pub fn poll_segment(&mut self, ctx: &mut Ctx) -> Option<Outgoing> {
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent => {
                return (self.snd_nxt == self.iss).then(|| self.syn_segment(ctx, false));
            }
            // The SYN,ACK, also after a CLOSE in SYN-RECEIVED moved us to FIN-WAIT-1 before
            // the peer acknowledged our SYN (ST-10).
            State::SynReceived | State::FinWait1
                if self.snd_nxt == self.iss && self.snd_una == self.iss =>
            {
                return Some(self.syn_segment(ctx, true));
            }
            _ => {}
        }
        if self.state.is_synchronized() {
            if let Some(seg) = self.data_segment(ctx) {
                return Some(seg);
            }
            if self.flags.probe_now() {
                // Zero-window probe, Linux style: an old sequence number that the peer must
                // answer with an ACK carrying its current window (MUST-36).
                self.flags.set_probe_now(false);
                let hdr = self.out_header(ctx, self.snd_una - 1, TcpFlags::ACK);
                return Some(Outgoing {
                    hdr,
                    data_offset: 0,
                    data_len: 0,
                    ect: false,
                });
            }
            if self.flags.ka_probe() {
                // SHLD-12: a keep-alive probe carries no data and the sequence number just
                // below SND.NXT, so the peer answers with an ACK.
                self.flags.set_ka_probe(false);
                let hdr = self.out_header(ctx, self.snd_nxt - 1, TcpFlags::ACK);
                ctx.counters.out_segs += 1;
                return Some(Outgoing {
                    hdr,
                    data_offset: 0,
                    data_len: 0,
                    ect: false,
                });
            }
        }
        if self.ack_now || self.dup_acks_owed > 0 {
            // One pure ACK per out-of-order segment received (input.rs, ACK-1).
            self.dup_acks_owed = self.dup_acks_owed.saturating_sub(1);
            // SEQ is the highest sequence sent, not the go-back-N retransmission point: the
            // peer must find a pure ACK acceptable, or two rewound senders answer each
            // other's "old" ACKs for ever (Linux never rewinds SND.NXT either).
            let hdr = self.out_header(ctx, self.snd_max, TcpFlags::ACK);
            ctx.counters.out_segs += 1;
            return Some(Outgoing {
                hdr,
                data_offset: 0,
                data_len: 0,
                ect: false,
            });
        }
        None
    }

    /// Whether `poll_segment` may return a segment now. False only where it would return
    /// None and change nothing, so the stack can leave this TCB out of its transmit queue
    /// after a call that gave it nothing to send (a RECEIVE that found no data, a segment
    /// whose ACK is delayed): issue 3's churn visited about one TCB in two for nothing.
    /// Every case below mirrors a branch of `poll_segment`; debug builds check the answer
    /// against it (`Stack::settle`).
    pub fn may_send_now(&self) -> bool {
        match self.state {
            State::Closed | State::Listen => return false,
            State::SynSent => return self.snd_nxt == self.iss,
            // The SYN,ACK (also after CLOSE in SYN-RECEIVED, ST-10).
            State::SynReceived | State::FinWait1
                if self.snd_nxt == self.iss && self.snd_una == self.iss =>
            {
                return true
            }
            _ => {}
        }
        if self.ack_now || self.dup_acks_owed > 0 {
            return true;
        }
        if !self.state.is_synchronized() {
            return false;
        }
        if self.flags.probe_now() || self.flags.ka_probe() {
            return true;
        }
        if !self.may_have_data_in_flight() {
            return false;
        }
        // data_segment: a fast retransmission, a tail loss probe, a recovery segment, data
        // not yet sent (sent, or held by Nagle / the windows, which may arm the persist
        // timer), or the FIN.
        let data_end = self.snd_buf_seq + self.send_buf.len() as u32;
        self.flags.fast_rtx()
            || self.flags.tlp_send()
            || self.in_recovery
            || self.snd_nxt.lt(data_end)
            || (self.fin_queued && self.snd_nxt == data_end)
    }

    /// SYN (active open) or SYN,ACK, first transmission or retransmission.
    fn syn_segment(&mut self, ctx: &mut Ctx, synack: bool) -> Outgoing {
        let retransmission = self.snd_max.gt(self.iss);
        if retransmission {
            self.flags.set_syn_retransmitted(true);
            self.rtt_timing.1 = OptStamp::NONE; // Karn (RTO-6)
            ctx.counters.retrans_segs += 1;
            if synack {
                ctx.counters.synack_retrans += 1;
            } else {
                ctx.counters.syn_retrans += 1;
            }
        } else {
            ctx.counters.out_segs += 1;
            self.rtt_timing = (self.iss + 1, OptStamp::some(ctx.now));
        }
        let mut options = TcpOptions {
            mss: Some(self.our_mss), // MAY-3: always
            sack_permitted: self.sack_ok,
            ..TcpOptions::default()
        };
        if self.flags.ws_ok() {
            options.window_scale = Some(self.rcv_wscale); // WS-7: even a shift of 0
        }
        if self.ts_ok {
            options.timestamps = Some(Timestamps {
                tsval: self.ts_now(ctx.now),
                tsecr: if synack { self.ts_recent } else { 0 }, // TS-5
            });
        }
        // WS-4: the window of a SYN is never scaled.
        let window = u32::from(super::syn_window(
            self.rcv_space(),
            self.our_mss,
            synack && self.ts_ok,
        ));
        let (flags, ack) = if synack {
            self.rcv_adv = self.rcv_nxt + window;
            self.last_ack_sent = self.rcv_nxt;
            self.ack_now = false;
            // RFC 3168 §6.1.1: an ECN-setup SYN,ACK carries ECE, not CWR.
            let ece = if self.marks.ecn(EcnBit::Ok) {
                TcpFlags::ECE
            } else {
                TcpFlags::NONE
            };
            (TcpFlags::SYN | TcpFlags::ACK | ece, self.rcv_nxt)
        } else if ctx.config.ecn == Ecn::On && !retransmission {
            // RFC 3168 §6.1.1: an ECN-setup SYN carries ECE and CWR. Retransmissions go
            // without them, as Linux's do (§6.1.1.1: a path may drop ECN-setup SYNs).
            (TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR, SeqNum(0))
        } else {
            (TcpFlags::SYN, SeqNum(0))
        };
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        if self.timer(TimerKind::Retransmit).is_none() {
            self.set_timer(TimerKind::Retransmit, self.rto_deadline(ctx.now));
        }
        self.last_send = ctx.now;
        Outgoing {
            hdr: OutHeader::Full(TcpHeader {
                src_port: self.tuple.local_port(),
                dst_port: self.tuple.remote_port(),
                seq: self.iss,
                ack,
                flags,
                window: window as u16,
                urgent: 0,
                options,
            }),
            data_offset: 0,
            data_len: 0,
            ect: false,
        }
    }

    /// Data and/or FIN, within the send and congestion windows. Inlined into
    /// `poll_segment`, its one caller, for the reason that is.
    #[inline(always)]
    fn data_segment(&mut self, ctx: &mut Ctx) -> Option<Outgoing> {
        if !self.may_have_data_in_flight() {
            return None;
        }
        let data_end = self.snd_buf_seq + self.send_buf.len() as u32;
        if self.flags.fast_rtx() {
            self.flags.set_fast_rtx(false);
            if self.in_recovery && self.rack_on(ctx) {
                // RFC 6675 (4.3) with RACK's marks: the first byte deemed lost goes at once.
                let first = self
                    .sb
                    .flight()
                    .and_then(|f| f.next_lost(self.sb.ranges(), self.seg_mss()));
                if let Some((seq, len)) = first {
                    let fin = self.fin_queued && seq + len == data_end;
                    return Some(self.emit_data(ctx, seq, len as usize, fin));
                }
            } else if self.in_recovery {
                let end = self.snd_una + self.seg_mss();
                self.high_rxt = self.high_rxt.max(end.min(data_end));
            }
            let outstanding = if self.snd_una.lt(data_end) {
                data_end - self.snd_una
            } else {
                0 // only the FIN (or nothing) is outstanding
            };
            let len = (outstanding as usize).min(self.seg_mss() as usize);
            let fin = self.fin_queued && self.snd_una + len as u32 == data_end;
            if len > 0 || fin {
                return Some(self.emit_data(ctx, self.snd_una, len, fin));
            }
        }
        if self.flags.tlp_send() {
            // RK-3: the tail loss probe, ahead of the windows' usual rules.
            if let Some((seq, len, fin)) = self.probe_segment(data_end) {
                let out = self.emit_data(ctx, seq, len, fin);
                self.probe_sent();
                return Some(out);
            }
        }
        let unsent = if self.snd_nxt.lt(data_end) {
            (data_end - self.snd_nxt) as usize
        } else {
            0
        };
        if self.in_recovery {
            return self.recovery_segment(ctx, data_end, unsent);
        }
        if unsent > 0 {
            // CC-8 (RFC 3042 limited transmit): each of the first two duplicate ACKs lets
            // one new segment out beyond cwnd.
            let limited = if ctx.config.limited_transmit && (1..=2).contains(&self.dupacks) {
                u32::from(self.dupacks) * self.mss
            } else {
                0
            };
            // MUST-34: the usable window may be negative after a shrink; never underflow.
            let edge = self.snd_una + self.snd_wnd.min(self.cwnd().max(self.mss) + limited);
            let usable = edge.diff(self.snd_nxt).max(0) as usize;
            let seg_mss = self.seg_mss() as usize;
            let len = unsent.min(usable).min(seg_mss);
            if len > 0 && (self.may_send(len, unsent, seg_mss) || self.flags.sws_override()) {
                self.flags.set_sws_override(false);
                if limited > 0 {
                    self.limited_sent += len as u32;
                }
                let fin = self.fin_queued && len == unsent;
                return Some(self.emit_data_inline(ctx, self.snd_nxt, len, fin));
            }
            if self.timer(TimerKind::Retransmit).is_none()
                && self.timer(TimerKind::Persist).is_none()
            {
                // No timer will bring an ACK (nothing in flight, or a window shrunk to zero
                // under data in flight after the RTO rewound): probe (MUST-35, SHLD-29).
                let at = ctx.now + self.persist_interval(ctx);
                self.set_timer(TimerKind::Persist, at);
            }
            return None;
        }
        if self.fin_queued && self.snd_nxt == data_end {
            return Some(self.emit_data(ctx, data_end, 0, true));
        }
        None
    }

    /// RFC 6675 §5 (C) (SK-9, SK-10): while cwnd - pipe >= 1 SMSS, send what NextSeg picks:
    /// a lost hole (rule 1), new data (rule 2), any hole below SACKed data (rule 3).
    fn recovery_segment(
        &mut self,
        ctx: &mut Ctx,
        data_end: SeqNum,
        unsent: usize,
    ) -> Option<Outgoing> {
        let (una, max) = (self.snd_una, self.snd_max);
        let seg = self.seg_mss();
        if self.rack_on(ctx) {
            return self.rack_recovery_segment(ctx, data_end, unsent);
        }
        let pipe = self.sb.pipe(una, max, self.high_rxt, self.mss);
        if self.cwnd() < pipe + self.mss {
            return None;
        }
        let pick = self
            .sb
            .next_rtx(una, max, self.high_rxt, seg, false)
            .or_else(|| {
                // Rule 2: new data, if the peer's window allows.
                let room = (una + self.snd_wnd).diff(self.snd_nxt).max(0) as usize;
                let len = unsent.min(room).min(seg as usize);
                (len > 0).then_some((self.snd_nxt, len as u32))
            })
            .or_else(|| self.sb.next_rtx(una, max, self.high_rxt, seg, true));
        let (seq, len) = pick?;
        if seq.lt(self.snd_nxt) {
            self.high_rxt = self.high_rxt.max(seq + len);
        }
        let fin = self.fin_queued && seq + len == data_end && seq == self.snd_nxt;
        Some(self.emit_data(ctx, seq, len as usize, fin))
    }

    /// `recovery_segment` with RACK's marks (RFC 8985 §9.3): pipe as Linux counts it, rule 1
    /// takes the first byte deemed lost and not yet resent, rule 2 new data; RFC 6675's rule
    /// 3 (resending holes not deemed lost) is left to RACK's timer and the tail loss probe,
    /// as Linux does.
    fn rack_recovery_segment(
        &mut self,
        ctx: &mut Ctx,
        data_end: SeqNum,
        unsent: usize,
    ) -> Option<Outgoing> {
        let seg = self.seg_mss();
        let ranges = self.sb.ranges();
        let (pipe, lost) = match self.sb.flight() {
            Some(f) => (f.pipe(ranges), f.next_lost(ranges, seg)),
            None => (self.flight_size() - self.sb.sacked_bytes(), None),
        };
        if self.cwnd() < pipe + self.mss {
            return None;
        }
        let (seq, len) = lost.or_else(|| {
            let room = (self.snd_una + self.snd_wnd).diff(self.snd_nxt).max(0) as usize;
            let len = unsent.min(room).min(seg as usize);
            (len > 0).then_some((self.snd_nxt, len as u32))
        })?;
        let fin = self.fin_queued && seq + len == data_end && seq == self.snd_nxt;
        Some(self.emit_data(ctx, seq, len as usize, fin))
    }

    /// States in which data (or our FIN) can be sent or be in flight: after the handshake and
    /// until our FIN is acknowledged.
    pub(super) fn may_have_data_in_flight(&self) -> bool {
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        )
    }

    /// Nagle (SHLD-7) and sender-side SWS avoidance (MUST-38). The API has no PUSH flag, so
    /// every write counts as pushed (MUST-60, MUST-61).
    /// `seg_mss` is `Tcb::seg_mss`, which the caller has at hand.
    fn may_send(&self, len: usize, unsent: usize, seg_mss: usize) -> bool {
        if len >= seg_mss || self.snd_nxt.lt(self.snd_max) {
            return true; // a full segment, or a retransmission
        }
        let nagle_ok = self.flags.nodelay() || self.snd_una == self.snd_nxt || self.fin_queued;
        if !nagle_ok {
            return false;
        }
        len == unsent || len as u32 >= self.max_snd_wnd / 2
    }

    /// Build a data (and/or FIN) segment at `seq` and account for it.
    #[inline(never)]
    fn emit_data(&mut self, ctx: &mut Ctx, seq: SeqNum, len: usize, fin: bool) -> Outgoing {
        self.emit_data_inline(ctx, seq, len, fin)
    }

    /// [`Tcb::emit_data`], inlined where new data goes out (`data_segment`), the segment
    /// of a bulk transfer: its call cost a frame per segment. Retransmissions, probes and
    /// the FIN share the out-of-line copy.
    #[inline(always)]
    fn emit_data_inline(&mut self, ctx: &mut Ctx, seq: SeqNum, len: usize, fin: bool) -> Outgoing {
        let data_end = self.snd_buf_seq + self.send_buf.len() as u32;
        let mut flags = TcpFlags::ACK;
        if len > 0 && seq + len as u32 == data_end {
            flags |= TcpFlags::PSH; // LX-20: PSH on the segment that empties the queue
        }
        if fin {
            flags |= TcpFlags::FIN;
        }
        let end = seq + len as u32 + fin as u32;
        let new_data = !seq.lt(self.snd_max);
        // RFC 3168 §6.1.2, §6.1.5: new data goes out ECN-Capable (never retransmissions),
        // and the first after a reduction for an ECN-Echo says so with CWR.
        let ect = new_data && len > 0 && self.marks.ecn(EcnBit::Ok);
        if ect && self.marks.ecn(EcnBit::SendCwr) {
            self.marks.set_ecn(EcnBit::SendCwr, false);
            flags |= TcpFlags::CWR;
        }
        if seq.lt(self.snd_max) {
            ctx.counters.retrans_segs += 1;
            let tsval = self.ts_now(ctx.now);
            self.set_rtx_tsval(Some(tsval));
            if self.sb.is_allocated() {
                self.undo_note_retransmission(end, tsval); // SK-12 (undo.rs)
            }
            if let (timed_end, true) = (self.rtt_timing.0, self.rtt_timing.1.is_some()) {
                if seq.lt(timed_end) {
                    self.rtt_timing.1 = OptStamp::NONE; // Karn (RTO-6)
                }
            }
        } else {
            ctx.counters.out_segs += 1;
            if !self.ts_ok && self.rtt_timing.1.is_none() {
                self.rtt_timing = (end, OptStamp::some(ctx.now));
            }
        }
        // CC-13: after an idle period longer than the RTO, restart from the initial window.
        // (Compared in microseconds: the same answer as with `Duration`s, without building
        // them for every segment.)
        let idle_us = ctx
            .now
            .as_micros()
            .saturating_sub(self.last_send.as_micros());
        if self.snd_una == self.snd_max && idle_us > self.rtt.rto_micros() {
            let iw = self.initial_window(ctx);
            self.cc.on_idle_restart(ctx.now, iw);
        }
        self.rack_sent(ctx, seq, end); // RK-1: the send time, before SND.MAX moves
        if seq == self.snd_nxt {
            self.snd_nxt = end;
        }
        self.snd_max = self.snd_max.max(end);
        if self.timer(TimerKind::Retransmit).is_none() {
            self.set_timer(TimerKind::Retransmit, self.rto_deadline(ctx.now));
        }
        if new_data {
            // RK-3: the PTO is measured from the last new transmission.
            self.schedule_loss_probe(ctx);
        }
        if self.unacked_since.is_none() {
            self.mark_unacked_since(ctx.now);
        }
        self.last_send = ctx.now;
        let data_offset = (seq - self.snd_buf_seq) as usize;
        self.segment_inline(ctx, seq, flags, data_offset, len, ect)
    }

    /// Payload bytes a full segment may carry now: the MSS (already less the timestamps,
    /// MUST-16) less the SACK option the segment's header will carry (NOP, NOP, kind,
    /// length and 8 bytes a block), as Linux's tcp_current_mss does, so that a data segment
    /// with SACK blocks never outgrows the path MTU.
    pub(super) fn seg_mss(&self) -> u32 {
        if !self.sack_pending() {
            return self.mss;
        }
        match self.pending_sack_blocks().1 as u32 {
            0 => self.mss,
            blocks => self.mss.saturating_sub(4 + 8 * blocks).max(1),
        }
    }

    /// Whether the next segment's header carries any SACK block. Checked before building
    /// them: nearly every segment carries none, and building the (empty) list for each data
    /// segment, twice (`seg_mss` and `header`), showed in the bulk profile.
    fn sack_pending(&self) -> bool {
        self.sack_ok && (self.dsack_len > 0 || self.recv_buf.has_out_of_order())
    }

    /// The SACK blocks the next segment's header carries: a pending D-SACK first (SK-12,
    /// RFC 2883 §4), then the out-of-order ranges, as many as fit beside the timestamps
    /// (3 with them, 4 without).
    fn pending_sack_blocks(&self) -> ([SackBlock; 4], usize) {
        let none = SackBlock {
            left: SeqNum(0),
            right: SeqNum(0),
        };
        let mut blocks = [none; 4];
        let mut n = 0;
        if !self.sack_ok {
            return (blocks, n);
        }
        let max = if self.ts_ok { 3 } else { 4 };
        if self.dsack_len > 0 {
            blocks[0] = SackBlock {
                left: self.dsack_start,
                right: self.dsack_start + u32::from(self.dsack_len),
            };
            n = 1;
        }
        if self.recv_buf.has_out_of_order() {
            let mut ranges = [(0u64, 0u64); 4];
            let k = self.recv_buf.sack_ranges(&mut ranges[..max - n]);
            let base = self.recv_buf.next();
            for &(start, end) in &ranges[..k] {
                blocks[n] = SackBlock {
                    left: self.rcv_nxt + (start - base) as u32,
                    right: self.rcv_nxt + (end - base) as u32,
                };
                n += 1;
            }
        }
        (blocks, n)
    }

    /// A header for a synchronized-state segment: ACK of RCV.NXT (EP-6), the window (with
    /// receiver SWS avoidance), timestamps and SACK blocks.
    #[inline(never)]
    pub(super) fn header(&mut self, ctx: &mut Ctx, seq: SeqNum, flags: TcpFlags) -> TcpHeader {
        self.header_inline(ctx, seq, flags).to_header()
    }

    /// [`Tcb::header`] for `poll_segment`'s ACKs and probes, in the form the stack writes.
    #[inline(never)]
    fn out_header(&mut self, ctx: &mut Ctx, seq: SeqNum, flags: TcpFlags) -> OutHeader {
        self.header_inline(ctx, seq, flags)
    }

    /// [`Tcb::segment_inline`]'s header alone.
    #[inline(always)]
    fn header_inline(&mut self, ctx: &mut Ctx, seq: SeqNum, flags: TcpFlags) -> OutHeader {
        self.segment_inline(ctx, seq, flags, 0, 0, false).hdr
    }

    /// The segment at `seq` carrying the send buffer's `data_len` bytes from
    /// `data_offset`, with [`Tcb::header`]'s header. Inlined into `emit_data`, which every
    /// data segment runs: the call saved and restored registers around each segment sent.
    /// The other callers (ACKs, probes) share the out-of-line copies. Without SACK blocks
    /// to send (nearly always) the header is plain, built field by field in the segment
    /// returned, timestamps included: a header built apart (or its timestamps) and then
    /// moved in was written in narrow stores and read back in wide loads, a store
    /// forwarding stall that was the hottest spot of the transmit loop (perf annotate,
    /// bulk). A full header's options, SACK block array included, were zeroed, moved and
    /// read back for every data segment.
    #[inline(always)]
    fn segment_inline(
        &mut self,
        ctx: &mut Ctx,
        seq: SeqNum,
        flags: TcpFlags,
        data_offset: usize,
        data_len: usize,
        ect: bool,
    ) -> Outgoing {
        // RFC 3168 §6.1.3: after a CE mark every ACK says ECE until the sender's CWR.
        let flags = if self.marks.ecn(EcnBit::EchoCe) {
            flags | TcpFlags::ECE
        } else {
            flags
        };
        self.advance_rcv_window();
        let wnd = self.rcv_wnd();
        let unit = 1u32 << self.rcv_wscale;
        // WS-6: round up so the right edge we advertised never appears to retract, as long
        // as the buffer holds the rounded-up edge. Each round-up from a new RCV.NXT can
        // push the edge up to 2^shift - 1 further (Linux's ALIGN(cur_win) creeps the same
        // way, into its buffer's overhead slack); once the slack `rcv_space` kept is used
        // up, rounding up would promise bytes the buffer cannot take, and the sender would
        // retransmit into a full buffer (until R2 gave up) instead of seeing a zero
        // window. Then the field rounds down: the edge *field* falls short by less than
        // 2^shift, which RFC 7323 §2.4 has the sender tolerate, while the promise we keep
        // (`rcv_adv`, what we accept) never moves left.
        let up = wnd.div_ceil(unit);
        let field = if unit == 1 || up.saturating_mul(unit) <= self.recv_buf.window() as u32 {
            up
        } else {
            wnd / unit
        }
        .min(65535) as u16;
        // Remember the edge the field really announces, so later rounding cannot pull it
        // back (rcv_space kept a margin of 2^shift - 1 so the buffer covers it).
        self.rcv_adv = self
            .rcv_adv
            .max(self.rcv_nxt + ((field as u32) << self.rcv_wscale));
        let out = if self.sack_pending() {
            let timestamps = self.ts_ok.then(|| Timestamps {
                tsval: self.ts_now(ctx.now),
                tsecr: self.ts_recent,
            });
            Outgoing {
                hdr: self.with_sack_blocks(seq, flags, field, timestamps),
                data_offset,
                data_len,
                ect,
            }
        } else {
            Outgoing {
                hdr: OutHeader::Plain(PlainHeader {
                    src_port: self.tuple.local_port(),
                    dst_port: self.tuple.remote_port(),
                    seq,
                    ack: self.rcv_nxt,
                    flags,
                    window: field,
                    urgent: 0,
                    timestamps: if self.ts_ok {
                        Some(Timestamps {
                            tsval: self.ts_now(ctx.now),
                            tsecr: self.ts_recent,
                        })
                    } else {
                        None
                    },
                }),
                data_offset,
                data_len,
                ect,
            }
        };
        self.dsack_len = 0; // a D-SACK is reported once

        // Every ACK-carrying segment satisfies whatever ACK was owed.
        self.ack_now = false;
        self.rcv_unacked = 0;
        self.clear_timer(TimerKind::DelayedAck);
        self.last_ack_sent = self.rcv_nxt;
        out
    }

    /// The header of `segment_inline` with the pending SACK blocks added (SK-5..SK-8,
    /// SK-12). Out of line: only while the receive buffer holds out-of-order data or a
    /// D-SACK is owed.
    #[inline(never)]
    fn with_sack_blocks(
        &self,
        seq: SeqNum,
        flags: TcpFlags,
        window: u16,
        timestamps: Option<Timestamps>,
    ) -> OutHeader {
        let mut hdr = TcpHeader {
            src_port: self.tuple.local_port(),
            dst_port: self.tuple.remote_port(),
            seq,
            ack: self.rcv_nxt,
            flags,
            window,
            urgent: 0,
            options: TcpOptions {
                timestamps,
                ..TcpOptions::default()
            },
        };
        let (blocks, n) = self.pending_sack_blocks();
        for &b in &blocks[..n] {
            hdr.options.push_sack(b);
        }
        OutHeader::Full(hdr)
    }

    /// MUST-39: move the advertised right edge only by a worthwhile amount, and never left
    /// (SHLD-14).
    fn advance_rcv_window(&mut self) {
        let edge = self.rcv_nxt + self.rcv_space();
        if edge.gt(self.rcv_adv) {
            let gain = edge - self.rcv_adv;
            let threshold = (self.recv_buf.capacity() as u32 / 2).min(self.our_mss as u32);
            if gain >= threshold || self.rcv_adv.lt(self.rcv_nxt) {
                self.rcv_adv = edge;
            }
        }
    }

    /// After the application read: is a window update worth a segment of its own? Only
    /// when the edge can move by the MUST-39 amount and what we offer now is under half
    /// the buffer.
    pub(super) fn window_update_due(&self) -> bool {
        if !self.state.can_receive_data() || self.fin_received || self.state == State::SynReceived {
            return false;
        }
        let edge = self.rcv_nxt + self.rcv_space();
        if !edge.gt(self.rcv_adv) {
            return false;
        }
        let gain = edge - self.rcv_adv;
        let cap = self.recv_buf.capacity() as u32;
        gain >= (cap / 2).min(self.our_mss as u32) && self.rcv_wnd() < cap / 2
    }

    /// Persist interval: the RTO, doubled per unanswered probe, capped (SHLD-29, SHLD-30).
    pub(super) fn persist_interval(&self, ctx: &Ctx) -> crate::time::Duration {
        let base = self.rto();
        base.checked_mul(1u32 << self.persist_backoff.min(16))
            .unwrap_or(ctx.config.rto_max)
            .min(ctx.config.rto_max)
    }

    /// The initial window (CC-1, CC-2; decision 5): `initial_cwnd` segments, with RFC 6928's
    /// byte cap min(10*MSS, max(2*MSS, 14600)) for the default of 10.
    pub(super) fn initial_window(&self, ctx: &Ctx) -> u32 {
        let iw = ctx.config.initial_cwnd.max(1);
        if iw == 10 {
            (10 * self.mss).min((2 * self.mss).max(14600))
        } else {
            iw * self.mss
        }
    }

    /// RFC 6675 §5 (SK-9, SK-11): enter SACK recovery on the DupThresh-th duplicate ACK or
    /// when the segment at SND.UNA is deemed lost, but not before the previous recovery's
    /// point is acknowledged; leave it when the cumulative ACK passes the recovery point.
    /// Most ACKs can neither end a recovery nor start one: no recovery, fewer than
    /// DupThresh duplicate ACKs and no scoreboard or RACK record (nothing SACKed, nothing
    /// marked lost). Those return here, inlined; the rest take `sack_recovery_step`.
    #[inline(always)]
    pub(super) fn sack_recovery_check(&mut self, ctx: &mut Ctx) {
        if self.in_recovery || u32::from(self.dupacks) >= sack::DUP_THRESH || self.sb.is_allocated()
        {
            self.sack_recovery_step(ctx);
        }
    }

    #[inline(never)]
    fn sack_recovery_step(&mut self, ctx: &mut Ctx) {
        if self.in_recovery {
            if self.snd_una.gt(self.recover) {
                self.in_recovery = false;
                self.end_dup_run();
                self.cc.on_recovery_end(ctx.now); // CC-9 (5)
                if self.rack_on(ctx) {
                    self.rack_recovery_ended();
                }
            }
            return;
        }
        // Tested in this order so that the scoreboard walk runs only when something is
        // outstanding (a receiver's every data segment comes through here).
        let outstanding = self.snd_una != self.snd_max;
        let ecn_reduced = self.marks.ecn(EcnBit::Reduced);
        let may_start = self.snd_una.gt(self.recover) || ecn_reduced;
        let rack = self.rack_on(ctx);
        let triggered = |t: &mut Tcb| {
            if !rack {
                return u32::from(t.dupacks) >= sack::DUP_THRESH || t.sb.is_lost(t.snd_una, t.mss);
            }
            // RK-5: RACK's marks decide; DupThresh duplicate ACKs count only when the peer
            // sent no SACK information with them.
            if t.rack_lost_pending() {
                return true;
            }
            if u32::from(t.dupacks) >= sack::DUP_THRESH && t.sb.is_empty() {
                t.rack_dupthresh_fallback();
                return true;
            }
            false
        };
        if outstanding && may_start && triggered(self) {
            self.in_recovery = true;
            self.recover = self.snd_max - 1; // RecoveryPoint = HighData
            self.high_rxt = self.snd_una;
            // (4.2): ssthresh and cwnd from the controller (FlightSize/2 for NewReno, 0.7
            // of it for CUBIC, CUB-2), unless an ECN-Echo already reduced them for this
            // window of data (RFC 3168 §6.1.2: once per window).
            // SK-12: what to restore should the reduction prove spurious (undo.rs).
            if !ecn_reduced {
                let prior = self.cc.prior();
                self.cc.on_congestion_event(ctx.now, self.loss_flight());
                self.undo_begin(ctx, prior);
            }
            self.marks.set_ecn(EcnBit::Reduced, false);
            self.flags.set_fast_rtx(true); // (4.3): the segment at SND.UNA goes at once
        }
    }

    /// A run of duplicate ACKs is over.
    pub(super) fn end_dup_run(&mut self) {
        self.dupacks = 0;
        self.limited_sent = 0;
    }

    /// FlightSize for the ssthresh of a loss episode: without what limited transmit sent
    /// (RFC 5681 §3.2, "MUST NOT be included").
    fn loss_flight(&self) -> u32 {
        self.flight_size().saturating_sub(self.limited_sent)
    }

    /// Reno growth on a new ACK (CC-4, CC-5, CC-9 step 5, CC-12); `grow` false for an ACK
    /// carrying ECN-Echo, which must not open the window (RFC 3168 §6.1.2); `rtt` the ACK's
    /// RTT sample in µs, for HyStart++ (CUB-5).
    pub(super) fn on_new_ack_cc(
        &mut self,
        ctx: &mut Ctx,
        acked: u32,
        grow: bool,
        rtt: Option<u32>,
    ) {
        if self.in_recovery {
            return; // RFC 6675: pipe, not cwnd growth, paces recovery (sack_recovery_check)
        }
        // With SACK, recovery is `in_recovery` (RFC 6675) and duplicate ACKs are only
        // counted: three of them after an RTO (no new recovery before RecoveryPoint) must not
        // look like a NewReno recovery ending, which would set cwnd to ssthresh at once.
        if !self.sack_ok && self.dupacks >= 3 {
            // Leaving fast recovery: deflate to ssthresh once everything up to `recover`
            // is acknowledged; a partial ACK retransmits the next hole (CC-11).
            if self.snd_una.gt(self.recover) {
                // CC-12: a full ACK (beyond `recover`) ends recovery.
                self.cc.on_recovery_end(ctx.now);
                self.end_dup_run();
            } else {
                // CC-11: deflate by what was acknowledged, adding one SMSS back only if the
                // partial ACK covered at least one.
                self.flags.set_fast_rtx(true);
                let mut cwnd = self.cwnd().saturating_sub(acked);
                if acked >= self.mss {
                    cwnd += self.mss;
                }
                self.cc.set_cwnd(cwnd.max(self.mss));
            }
            return;
        }
        self.end_dup_run();
        if !grow {
            return;
        }
        // Growth (CC-4, CC-5, CUB-3, CUB-4) is the controller's business, except that in the
        // initial slow start HyStart++ may slow it down or end it (RFC 9406, CUB-5).
        let flight = self.flight_size() + acked;
        let mut acked = acked;
        if ctx.config.hystart
            && self.cc.ssthresh() == u32::MAX
            && self.cwnd() >= hystart::LOW_WINDOW * self.mss
        {
            let (una, nxt, mss) = (self.snd_una, self.snd_max, self.mss);
            let hs = self.sb.hystart_mut(nxt);
            let was_css = hs.in_css();
            let step = hs.on_ack(acked, mss, una, nxt, rtt);
            if hs.in_css() && !was_css {
                ctx.counters.hystart_delay_detect += 1;
            }
            if step.exit {
                ctx.counters.hystart_exits += 1;
                self.cc.end_slow_start();
                return;
            }
            acked = step.growth;
        }
        self.cc.on_ack(ctx.now, acked, flight, self.rtt.srtt());
    }

    /// RFC 3168 §6.1.2: an ACK with ECN-Echo is a congestion signal without a loss: ssthresh
    /// and cwnd go down as for a loss (to half the flight with NewReno, 0.7 with CUBIC),
    /// without fast recovery, at most once per window of data (until `recover`, SND.MAX at
    /// the reduction, is acknowledged) and not during a loss recovery that already reduced
    /// them; the next new data segment carries CWR. `flight` is what was outstanding when
    /// the peer echoed (before this ACK took its share), the FlightSize a loss found in
    /// the same window would be reduced from.
    pub(super) fn on_ecn_echo(&mut self, ctx: &mut Ctx, flight: u32) {
        if self.marks.ecn(EcnBit::Reduced) || self.in_recovery || self.dupacks >= 3 {
            return;
        }
        // (Both controllers leave cwnd at the new ssthresh: no recovery follows.) Real
        // congestion: no earlier reduction is undone after this one (SK-12).
        self.cc.on_congestion_event(ctx.now, flight);
        self.undo_forget();
        self.recover = self.snd_max - 1;
        self.marks.set_ecn(EcnBit::Reduced, true);
        self.marks.set_ecn(EcnBit::SendCwr, true);
        ctx.counters.ecn_reductions += 1;
    }

    /// A duplicate ACK (CC-7): fast retransmit on the third (CC-9, CC-10).
    pub(super) fn on_dup_ack(&mut self, ctx: &mut Ctx) {
        self.dupacks = self.dupacks.saturating_add(1);
        if self.sack_ok {
            return; // RFC 6675 recovery instead (sack_recovery_check)
        }
        let ecn_reduced = self.marks.ecn(EcnBit::Reduced);
        if self.dupacks == 3 && ((self.snd_una - 1).gt(self.recover) || ecn_reduced) {
            // CC-9 (1), (3): ssthresh from the controller (unless an ECN-Echo already
            // reduced it for this window, RFC 3168 §6.1.2), cwnd inflated by the three
            // segments that left the network.
            if !ecn_reduced {
                let prior = self.cc.prior(); // SK-12 (undo.rs)
                self.cc.on_congestion_event(ctx.now, self.loss_flight());
                self.undo_begin(ctx, prior);
            }
            self.marks.set_ecn(EcnBit::Reduced, false);
            let inflated = self.cc.ssthresh().saturating_add(3 * self.mss);
            self.cc.set_cwnd(inflated);
            self.recover = self.snd_max - 1; // the highest sequence number sent
            self.flags.set_fast_rtx(true);
        } else if self.dupacks > 3 {
            let inflated = self.cwnd().saturating_add(self.mss); // CC-9 (4)
            self.cc.set_cwnd(inflated);
        } else if self.dupacks == 3 {
            self.end_dup_run(); // CC-10: not a new loss episode
        }
    }
}
