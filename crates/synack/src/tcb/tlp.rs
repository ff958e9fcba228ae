//! Tail loss probe (RFC 8985 §7, RK-3 and RK-4; Linux tcp_early_retrans = 3).
//!
//! When the last segments of a flight are lost no duplicate ACKs come back, and without a
//! probe only the retransmission timeout (at least 200 ms, often 1 s) would notice. TLP
//! arms a shorter probe timeout (PTO = 2·SRTT, plus the worst-case delayed ACK when a
//! single segment is in flight) in the retransmission timer's slot; when it fires, one
//! segment goes out — new data if the windows allow, otherwise the last segment again — so
//! that the receiver's ACK (and SACK blocks) start ordinary recovery, or simply repair a
//! single lost tail segment. At most one probe is outstanding; the RTO is re-armed behind
//! it. Like Linux it needs SACK and runs only outside recovery and before any RTO.
//!
//! RK-4, as Linux does it: a retransmitted probe followed by an ACK beyond its end (with no
//! D-SACK saying the probe was a duplicate) means the probe repaired a loss, and cwnd is
//! reduced once (`on_congestion_event` then `on_recovery_end`, a CWR-like step).
use super::{Ctx, Tcb};
use crate::cc::CongestionControl;
use crate::event::TimerKind;
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::TcpHeader;

/// RFC 8985 §7.2 WCDelAckT: the longest a receiver may delay its ACK (Linux's
/// TCP_DELACK_MAX), added when one segment is in flight.
const WORST_CASE_DELAYED_ACK: Duration = Duration::from_millis(200);
/// PTO before any RTT sample (RFC 8985 §7.2).
const PTO_WITHOUT_SRTT: Duration = Duration::from_secs(1);
/// Floor for the PTO (Linux: TCP_TIMEOUT_MIN, 2 jiffies), so a tiny SRTT cannot make it
/// fire before an ACK can possibly return.
const MIN_PTO: Duration = Duration::from_millis(10);

// Probe state: four bits in `Tcb::flags` (tlp_armed: the retransmission timer's slot holds
// a PTO, not an RTO; tlp_send: send the probe at the next poll; tlp_outstanding: a probe is
// outstanding up to `Tcb::tlp_end`, TLP.end_seq; tlp_retrans: it was a retransmission,
// TLP.is_retrans) and the end sequence number: 5 bytes, not 8 (issue 3's memory budget).

impl Tcb {
    /// RFC 8985 §7.2: after new data goes out, or an ACK leaves data outstanding, put a PTO
    /// in the retransmission timer's slot if one would fire before the RTO.
    pub(super) fn schedule_loss_probe(&mut self, ctx: &mut Ctx) {
        let eligible = ctx.config.tail_loss_probe
            && self.sack_ok
            && self.may_have_data_in_flight()
            && !self.in_recovery
            && self.dupacks == 0
            && self.retries == 0
            && !self.flags.tlp_outstanding()
            && !self.rack.armed()
            && self.sb.is_empty()
            && self.snd_una != self.snd_max;
        if !eligible {
            return;
        }
        // In whole microseconds (every time here is a whole number of them): the same
        // values as `Duration` arithmetic, without its normalising steps, on every new
        // data segment sent (issue 3's churn).
        let us = |d: Duration| d.as_micros() as u64;
        let mut pto = match self.rtt.srtt_micros() {
            Some(srtt) => {
                let mut pto = 2 * srtt;
                if self.flight_size() <= self.mss {
                    pto += us(WORST_CASE_DELAYED_ACK);
                }
                pto
            }
            None => us(PTO_WITHOUT_SRTT),
        };
        pto = pto.max(us(MIN_PTO));
        let rto = self.rtt.rto_micros();
        let at = |after: u64| Instant::from_micros(ctx.now.as_micros().saturating_add(after));
        // Never later than the RTO would fire (RFC 8985 §7.2).
        if pto >= rto {
            if self.flags.tlp_armed() {
                // A PTO no longer beats the RTO: put the RTO back.
                self.flags.set_tlp_armed(false);
                self.set_timer(TimerKind::Retransmit, at(rto));
            }
            return;
        }
        self.flags.set_tlp_armed(true);
        self.set_timer(TimerKind::Retransmit, at(pto));
    }

    /// The PTO fired (RFC 8985 §7.3): send one probe, and let the RTO guard it.
    pub(super) fn on_probe_timeout(&mut self, ctx: &mut Ctx) {
        self.flags.set_tlp_armed(false);
        if self.snd_una == self.snd_max {
            return;
        }
        self.set_timer(TimerKind::Retransmit, self.rto_deadline(ctx.now));
        self.flags.set_tlp_send(true);
        ctx.counters.tail_loss_probes += 1;
    }

    /// The probe itself: a new segment if there is one and the peer's window allows it,
    /// otherwise the highest-sequence segment again (with the FIN if it carried one).
    /// Returns (seq, len, fin) for `emit_data`.
    pub(super) fn probe_segment(&mut self, data_end: SeqNum) -> Option<(SeqNum, usize, bool)> {
        self.flags.set_tlp_send(false);
        let unsent = if self.snd_nxt.lt(data_end) {
            (data_end - self.snd_nxt) as usize
        } else {
            0
        };
        let room = (self.snd_una + self.snd_wnd).diff(self.snd_nxt).max(0) as usize;
        let new = unsent.min(room).min(self.seg_mss() as usize);
        let probe = if new > 0 && self.snd_nxt == self.snd_max {
            self.flags.set_tlp_retrans(false);
            (self.snd_nxt, new, self.fin_queued && new == unsent)
        } else {
            let data_out = if self.snd_una.lt(data_end) {
                (data_end.min(self.snd_max) - self.snd_una) as usize
            } else {
                0
            };
            let len = data_out.min(self.seg_mss() as usize);
            let fin_sent = self.fin_queued && self.snd_max == data_end + 1;
            if len == 0 && !fin_sent {
                return None;
            }
            self.flags.set_tlp_retrans(true);
            (data_end.min(self.snd_max) - len as u32, len, fin_sent)
        };
        self.flags.set_tlp_outstanding(true);
        Some(probe)
    }

    /// After the probe went out: TLP.end_seq = SND.NXT (the highest sequence sent).
    pub(super) fn probe_sent(&mut self) {
        self.tlp_end = self.snd_max;
    }

    /// Forget every probe (an RTO ends the episode, RFC 8985 §7.4).
    pub(super) fn end_probe_episode(&mut self) {
        self.flags.set_tlp_armed(false);
        self.flags.set_tlp_send(false);
        self.flags.set_tlp_outstanding(false);
        self.flags.set_tlp_retrans(false);
        self.tlp_end = SeqNum(0);
    }

    /// RK-4 on every ACK: end the probe episode, reducing cwnd once if the probe repaired a
    /// loss.
    pub(super) fn probe_acked(&mut self, ctx: &mut Ctx, h: &TcpHeader) {
        if !self.flags.tlp_outstanding() || h.ack.lt(self.tlp_end) {
            return;
        }
        self.flags.set_tlp_outstanding(false);
        if !self.flags.tlp_retrans() {
            return; // new data probed: nothing to learn
        }
        // A D-SACK below the cumulative ACK: the original and the probe both arrived.
        let dsack = h.options.sacks().first().is_some_and(|b| b.left.lt(h.ack));
        if dsack || !h.ack.gt(self.tlp_end) {
            return;
        }
        ctx.counters.tlp_recoveries += 1;
        let flight = self.flight_size();
        self.cc.on_congestion_event(ctx.now, flight);
        self.cc.on_recovery_end(ctx.now);
    }
}
