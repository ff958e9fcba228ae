//! Undoing a congestion-window reduction that proves spurious (checklist SK-12), as Linux
//! does it (tcp_init_undo, tcp_check_dsack, tcp_try_undo_recovery, tcp_try_undo_dsack,
//! tcp_try_undo_loss, tcp_undo_cwnd_reduction).
//!
//! A loss episode (fast recovery, or an RTO) reduces cwnd and ssthresh on the evidence of a
//! missing ACK. Reordering or a delay spike produces the same evidence with nothing lost;
//! two later signals show it:
//! - D-SACK (RFC 2883, used as RFC 3708 describes): the receiver reports each duplicate it
//!   got. The episode counts its retransmissions (Linux undo_retrans); each D-SACK for bytes
//!   it retransmitted (above the undo marker, SND.UNA when the episode began) takes one off;
//!   at zero every retransmission was unnecessary.
//! - Timestamps (RFC 3522, the Eifel detection algorithm): an ACK that moves SND.UNA while
//!   echoing a TSval older than the episode's first retransmission was triggered by an
//!   original transmission, so the original arrived (Linux tcp_packet_delayed).
//!
//! Then cwnd = max(cwnd, prior cwnd) and ssthresh = max(ssthresh, prior ssthresh), and the
//! controller takes back its own state ([`crate::cc::CongestionControl::undo`]; CUBIC its
//! curve, RFC 9438 §4.9). Where Linux checks:
//! - fast recovery ends (the ACK passes the recovery point): either signal (TCPFullUndo);
//! - in an RTO episode (Linux's TCP_CA_Loss), every ACK that moves SND.UNA: either signal
//!   (TCPLossUndo); the flight the RTO marked lost counts as in flight again, so the
//!   go-back-N resending stops;
//! - any other time (recovery over, or during fast recovery): a D-SACK that brings the
//!   count to zero (TCPDSACKUndo); during fast recovery this ends it.
//!
//! An ECN-Echo reduction is real congestion: it cancels any pending undo (Linux
//! tcp_enter_cwr), and a recovery entered after one keeps nothing to undo (Linux's
//! prior_ssthresh = 0). Linux's partial undo (TCPPartialUndo: timestamps on a partial ACK in
//! fast recovery with no retransmission in flight) is not done.
//!
//! The state lives in the scoreboard's box (`sack::Scoreboard`), boxed again so that the
//! box costs 8 bytes while no episode can be undone: the TCB does not grow. It is kept from
//! the start of an episode until it is undone, a new episode replaces it, or the flight
//! drains a round after the episode ended (the D-SACK for a copy sent during the episode
//! comes back within that round). Linux keeps its undo marker until the next episode. A
//! connection that goes quiet right after an episode that was not undone keeps the box
//! (about 250 bytes) until its next data is acknowledged.
//! Nothing runs on the common ACK path: the checks are made only when an ACK carries a
//! D-SACK, when a recovery ends, and on ACKs during an RTO episode.

use super::{Ctx, Tcb};
use crate::cc::{CongestionControl, Prior};
use crate::seq::SeqNum;
use crate::wire::TcpHeader;

/// One loss episode's undo state (Linux undo_marker, undo_retrans, retrans_stamp,
/// prior_cwnd, prior_ssthresh).
#[derive(Clone, Debug)]
pub(crate) struct Undo {
    /// Linux undo_marker: SND.UNA when the episode began. D-SACKs ending at or below it
    /// are about an earlier episode.
    marker: SeqNum,
    /// The end of the highest retransmission since the episode began: a D-SACK beyond it
    /// reports a duplicate of something never retransmitted (the network duplicated it).
    rtx_high: SeqNum,
    /// Linux undo_retrans: retransmitted segments no D-SACK has yet shown unnecessary;
    /// none (Linux's -1) while nothing has been retransmitted.
    retrans: Option<u32>,
    /// Our TSval on the episode's first retransmission (Linux retrans_stamp; RFC 3522's
    /// timestamp of the retransmit). The TCB's `rtx_tsval` is the latest retransmission's,
    /// forgotten when the flight drains; Eifel needs the first.
    first_rtx_tsval: Option<u32>,
    /// The episode is (or became) an RTO one (Linux TCP_CA_Loss).
    loss: bool,
    /// The episode ended (its recovery point acknowledged) without an undo, when SND.MAX
    /// was this. A D-SACK arriving later may still undo it (the copy it reports left
    /// before the end); once SND.UNA passes this point, a round later, it may go.
    ended_at: Option<SeqNum>,
    /// What the controller was before the reduction.
    prior: Prior,
}

impl Undo {
    fn new(marker: SeqNum, retrans: Option<u32>, prior: Prior, loss: bool) -> Undo {
        Undo {
            marker,
            rtx_high: marker,
            retrans,
            first_rtx_tsval: None,
            loss,
            ended_at: None,
            prior,
        }
    }

    /// Whether the state is no longer wanted once SND.UNA is `una`: the episode ended a
    /// round ago.
    pub(super) fn stale(&self, una: SeqNum) -> bool {
        self.ended_at.is_some_and(|e| una.gt(e))
    }

    /// Linux tcp_check_dsack's count: a D-SACK `[left, right)` for bytes this episode
    /// retransmitted takes its segments off the count (`mss` bytes a segment; one longer
    /// than the peer's largest window, `max_wnd`, is dubious and ignored).
    fn count_dsack(&mut self, left: SeqNum, right: SeqNum, mss: u32, max_wnd: u32) {
        if !left.lt(right) {
            return;
        }
        let len = right - left;
        if len > max_wnd {
            return;
        }
        let segs = if len > mss { len.div_ceil(mss) } else { 1 };
        if let Some(n) = &mut self.retrans {
            if *n > 0 && right.gt(self.marker) && right.le(self.rtx_high) {
                *n = n.saturating_sub(segs);
            }
        }
    }

    /// Linux tcp_packet_delayed (RFC 3522): the ACK `h` echoes a TSval from before the
    /// episode's first retransmission (`ts_ok`: timestamps are in use), or nothing was
    /// retransmitted at all.
    fn delayed(&self, ts_ok: bool, h: &TcpHeader) -> bool {
        match self.first_rtx_tsval {
            Some(first) => {
                ts_ok
                    && h.options
                        .timestamps
                        .is_some_and(|t| t.tsecr != 0 && (t.tsecr.wrapping_sub(first) as i32) < 0)
            }
            None => self.retrans.is_none(),
        }
    }

    /// Linux tcp_may_undo: every retransmission D-SACKed, or the original was delivered.
    fn may_undo(&self, ts_ok: bool, h: &TcpHeader) -> bool {
        self.retrans == Some(0) || self.delayed(ts_ok, h)
    }
}

impl Tcb {
    /// A fast recovery begins with a reduction from `prior` (Linux tcp_init_undo in
    /// tcp_enter_recovery): remember what to restore. A tail loss probe's retransmission
    /// still in flight counts, as Linux's undo_retrans starts from retrans_out.
    pub(super) fn undo_begin(&mut self, ctx: &Ctx, prior: Prior) {
        if !ctx.config.undo {
            return;
        }
        let retrans = (self.flags.tlp_outstanding() && self.flags.tlp_retrans()).then_some(1);
        self.sb
            .set_undo(Undo::new(self.snd_una, retrans, prior, false));
    }

    /// The first RTO of an episode, reducing from `prior` (Linux tcp_enter_loss). A fast
    /// recovery still under way keeps its own record (its prior is the state before any
    /// reduction) and becomes an RTO episode; otherwise a new one starts.
    pub(super) fn undo_begin_rto(&mut self, ctx: &Ctx, prior: Prior) {
        if !ctx.config.undo {
            return;
        }
        if let Some(u) = self.sb.undo_mut() {
            if u.ended_at.is_none() && !u.loss {
                u.loss = true;
                return;
            }
        }
        self.sb.set_undo(Undo::new(self.snd_una, None, prior, true));
    }

    /// `[seq, end)` was retransmitted with TSval `tsval` (Linux: undo_retrans +=
    /// pcount; retrans_stamp on the first).
    #[inline(never)]
    pub(super) fn undo_note_retransmission(&mut self, end: SeqNum, tsval: u32) {
        if let Some(u) = self.sb.undo_mut() {
            u.retrans = Some(u.retrans.unwrap_or(0).saturating_add(1));
            u.first_rtx_tsval.get_or_insert(tsval);
            u.rtx_high = u.rtx_high.max(end);
        }
    }

    /// An ECN-Echo reduced cwnd: that congestion is real, so no earlier reduction is undone
    /// any more (Linux tcp_enter_cwr clears the undo marker).
    pub(super) fn undo_forget(&mut self) {
        if self.sb.take_undo().is_some() {
            self.sb.release_if_idle();
        }
    }

    /// The ACK `h` (SND.UNA was `una_before`), when it carries a D-SACK (`dsack`) or moves
    /// SND.UNA during an RTO episode: count the D-SACK, then undo if the episode proved
    /// spurious (Linux tcp_check_dsack, then tcp_process_loss's tcp_try_undo_loss, or
    /// tcp_try_undo_dsack). Called before the ACK grows cwnd and before the recovery check,
    /// as Linux undoes in tcp_fastretrans_alert before tcp_cong_control.
    #[inline(never)]
    pub(super) fn undo_on_ack(
        &mut self,
        ctx: &mut Ctx,
        h: &TcpHeader,
        una_before: SeqNum,
        dsack: bool,
    ) {
        let (mss, max_wnd, ts_ok) = (self.mss, self.max_snd_wnd.max(self.mss), self.ts_ok);
        let Some(u) = self.sb.undo_mut() else {
            return;
        };
        if dsack {
            if let Some(b) = h.options.sacks().first() {
                u.count_dsack(b.left, b.right, mss, max_wnd);
            }
        }
        if u.loss && u.ended_at.is_none() {
            // RTO recovery: only an ACK that moves SND.UNA can show the timeout spurious.
            if !h.ack.gt(una_before) {
                return;
            }
            if u.may_undo(ts_ok, h) {
                ctx.counters.loss_undos += 1;
                self.undo_reduction(ctx, true);
            } else if self.snd_una.gt(self.recover) {
                u.ended_at = Some(self.snd_max);
            }
            return;
        }
        if dsack && u.retrans == Some(0) {
            ctx.counters.dsack_undos += 1;
            self.undo_reduction(ctx, false);
        }
    }

    /// A fast recovery has just ended with the ACK `h` (Linux tcp_try_undo_recovery):
    /// undo if either signal says it was spurious; otherwise the episode is over (a late
    /// D-SACK may still undo it, `undo_on_ack`).
    #[inline(never)]
    pub(super) fn undo_at_recovery_end(&mut self, ctx: &mut Ctx, h: &TcpHeader) {
        let ts_ok = self.ts_ok;
        let Some(u) = self.sb.undo_mut() else {
            return;
        };
        if u.ended_at.is_some() {
            return;
        }
        if u.may_undo(ts_ok, h) {
            ctx.counters.full_undos += 1;
            self.undo_reduction(ctx, false);
        } else {
            u.ended_at = Some(self.snd_max);
        }
    }

    /// Linux tcp_undo_cwnd_reduction: restore cwnd and ssthresh (and the controller's
    /// curve), and forget the episode. `unmark_loss` (an RTO undone): what the RTO marked
    /// lost was in flight after all, so RACK's marks go and sending resumes after SND.MAX
    /// instead of resending from SND.UNA. A fast recovery still running ends; with SACK a
    /// new one may start at once if something is really lost (Linux goes back to Open).
    fn undo_reduction(&mut self, ctx: &mut Ctx, unmark_loss: bool) {
        let Some(u) = self.sb.take_undo() else {
            return;
        };
        self.cc.undo(ctx.now, &u.prior);
        if unmark_loss {
            self.sb.unmark_lost();
            if self.snd_nxt.lt(self.snd_max) {
                self.snd_nxt = self.snd_max;
            }
        }
        if self.in_recovery {
            self.in_recovery = false;
            self.end_dup_run();
        }
        if self.sack_ok {
            self.recover = self.snd_una - 1;
        }
        self.sb.release_if_idle();
    }
}
