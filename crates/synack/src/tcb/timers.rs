//! Timer expiry (RFC 9293 §3.10.8, UI-8): retransmission (SYN, SYN,ACK, data, FIN) with
//! exponential backoff and retry limits, persist (zero-window probes), delayed ACK,
//! TIME-WAIT (2*MSL) and the orphan FIN-WAIT-2 timeout.

use super::{Ctx, Tcb, TIMER_KINDS};
use crate::cc::CongestionControl;
use crate::event::{Cause, CloseReason, ConnId, Event, TimerKind};
use crate::state::State;
use crate::time::OptStamp;

/// The effects of a TIME-WAIT connection's 2·MSL ending (MUST-13), whether it is held as a
/// TCB or as a compact record (issue 3): the one place they are written, so both ways report
/// the same. What `Tcb::set_state` and `Tcb::terminate` do for TIME-WAIT -> CLOSED with
/// reason Normal: the TIME-WAIT gauge drops, the application sees the transition with its
/// cause, then the close.
pub(crate) fn time_wait_expired(ctx: &mut Ctx, conn: ConnId) {
    ctx.counters.time_wait_expired += 1;
    ctx.counters.curr_time_wait = ctx.counters.curr_time_wait.saturating_sub(1);
    ctx.events.push(Event::StateChanged {
        conn,
        from: State::TimeWait,
        to: State::Closed,
        cause: Cause::Timer(TimerKind::TimeWait),
    });
    ctx.events.push(Event::Closed {
        conn,
        reason: CloseReason::Normal,
    });
}

impl Tcb {
    /// Run every timer due at `ctx.now`.
    pub fn on_timeout(&mut self, ctx: &mut Ctx) {
        for kind in TIMER_KINDS {
            if self.state == State::Closed || self.state == State::Listen {
                return;
            }
            match self.timer(kind) {
                Some(at) if at <= ctx.now => {
                    self.clear_timer(kind);
                    self.fire(ctx, kind);
                }
                _ => {}
            }
        }
    }

    fn fire(&mut self, ctx: &mut Ctx, kind: TimerKind) {
        match kind {
            // The slot holds either the RTO or a tail loss probe's PTO (tlp.rs).
            TimerKind::Retransmit if self.flags.tlp_armed() => self.on_probe_timeout(ctx),
            // ... or RACK's reordering timer (rack.rs).
            TimerKind::Retransmit if self.rack.armed() => self.on_reorder_timeout(ctx),
            TimerKind::Retransmit => self.on_retransmit_timeout(ctx),
            TimerKind::Persist => self.on_persist_timeout(ctx),
            TimerKind::DelayedAck => {
                ctx.counters.delayed_acks += 1;
                self.ack_now = true;
            }
            TimerKind::TimeWait => {
                // MUST-13: 2*MSL has passed; old duplicates are gone. What the application
                // and the counters see is `time_wait_expired`'s, shared with the compact
                // record's expiry (which has no TCB); here only the TCB's own fields change,
                // as `terminate` with reason Normal would leave them (no queues to flush).
                self.clear_timers();
                self.ack_now = false;
                self.close_reason = Some(CloseReason::Normal);
                self.state = State::Closed;
                time_wait_expired(ctx, self.id);
            }
            TimerKind::FinWait2 => {
                if self.state == State::FinWait2 && self.orphan {
                    // LX-6: the application is gone and the peer never closed; reap quietly.
                    ctx.counters.fin_wait_2_timeouts += 1;
                    self.terminate(
                        ctx,
                        CloseReason::TimedOut,
                        Cause::Timer(TimerKind::FinWait2),
                    );
                }
            }
            TimerKind::KeepAlive => self.on_keepalive_timeout(ctx),
            TimerKind::UserTimeout => {
                ctx.counters.abort_on_timeout += 1;
                self.terminate(
                    ctx,
                    CloseReason::TimedOut,
                    Cause::Timer(TimerKind::UserTimeout),
                );
            }
        }
    }

    /// RTO expiry (RTO-11): resend the oldest unacknowledged segment, double the RTO, and
    /// give up after the retry limit of the state (LX-1, LX-2, LX-5, MUST-20b).
    fn on_retransmit_timeout(&mut self, ctx: &mut Ctx) {
        let passive_half_open = self.state == State::SynReceived && self.listener.is_some();
        let limit = match self.state {
            State::SynSent => ctx.config.syn_retries,
            State::SynReceived if passive_half_open => ctx.config.synack_retries,
            State::SynReceived => ctx.config.syn_retries,
            _ if self.orphan => ctx.config.orphan_retries,
            _ => ctx.config.retries2,
        };
        if self.snd_una == self.snd_max && self.state.is_synchronized() {
            return; // nothing outstanding
        }
        if Tcb::limit_reached(self.retries, limit) {
            if passive_half_open {
                // LX-2: the half-open entry is dropped silently, no RST.
                ctx.counters.synack_timeouts += 1;
                self.back_to_listen(ctx, Cause::RetriesExhausted);
            } else {
                ctx.counters.abort_on_timeout += 1;
                // Like Linux (sk_err_soft): a handshake that timed out after the network
                // said the destination is unreachable reports that, not a bare timeout.
                let unreachable = self.state == State::SynSent && self.soft_error.is_some();
                let reason = if unreachable {
                    CloseReason::Unreachable
                } else {
                    CloseReason::TimedOut
                };
                self.terminate(ctx, reason, Cause::RetriesExhausted);
            }
            return;
        }
        self.retries += 1;
        ctx.counters.timeouts += 1;
        self.end_probe_episode(); // an RTO ends any probe episode (RFC 8985 §7.4)
        self.rack_on_rto(); // and every outstanding byte counts as lost
        if u32::from(self.retries) == ctx.config.retries1 && ctx.config.soft_errors && self.accepted
        {
            // MUST-20a / SHLD-9: R1 reached; tell the application the path is in trouble.
            ctx.events.push(crate::event::Event::SoftError {
                conn: self.id,
                error: crate::event::SoftError::ExcessiveRetransmission,
            });
        }
        self.rtt.backoff(ctx.config.rto_max);
        self.rtt_timing.1 = OptStamp::NONE;
        match self.state {
            State::SynSent | State::SynReceived => self.snd_nxt = self.iss,
            _ => {
                // CC-6: ssthresh from the flight on the first expiry, cwnd to one segment;
                // go back to SND.UNA and resend from there as the window allows.
                let flight = self.flight_size();
                let prior = self.cc.prior();
                self.cc.on_rto(ctx.now, flight, self.retries == 1);
                if self.retries == 1 {
                    // SK-12: a timeout may prove spurious too (undo.rs); later ones in a
                    // row keep the episode's record, as Linux does.
                    self.undo_begin_rto(ctx, prior);
                }
                self.end_dup_run();
                self.flags.set_fast_rtx(false);
                self.recover = self.snd_max - 1; // CC-12: an RTO ends recovery
                self.in_recovery = false; // SK-11
                self.sb.clear(); // SK-5: the receiver may have reneged
                self.snd_nxt = self.snd_una;
            }
        }
        // The segment goes out from poll_segment, which re-arms the timer with the new RTO.
    }

    /// Persist expiry: send a zero-window probe and back off (MUST-36, SHLD-30). Probes that
    /// are answered keep the connection alive for ever (MUST-37); unanswered ones count
    /// towards the retry limit.
    fn on_persist_timeout(&mut self, ctx: &mut Ctx) {
        let data_end = self.snd_buf_seq + self.send_buf.len() as u32;
        if !self.snd_nxt.lt(data_end) || self.timer(TimerKind::Retransmit).is_some() {
            return; // nothing waits for the window, or the RTO will bring an ACK
        }
        let limit = if self.orphan {
            ctx.config.orphan_retries
        } else {
            ctx.config.retries2
        };
        if Tcb::limit_reached(self.probes, limit) {
            ctx.counters.abort_on_timeout += 1;
            self.terminate(ctx, CloseReason::TimedOut, Cause::RetriesExhausted);
            return;
        }
        if self.snd_wnd > 0 {
            // The window is open but too small for SWS avoidance: the override timer
            // (MUST-38 (4)) sends what fits rather than holding data for ever (MUST-60).
            self.flags.set_sws_override(true);
            return;
        }
        self.probes += 1;
        self.flags.set_probe_now(true);
        self.persist_backoff = self.persist_backoff.saturating_add(1);
        let at = ctx.now + self.persist_interval(ctx);
        self.set_timer(TimerKind::Persist, at);
    }
}
