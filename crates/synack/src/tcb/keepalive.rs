//! Keep-alive (RFC 9293 §3.8.4 MUST-24..29 and SHLD-12; RFC 1122 §4.2.3.6; Linux's
//! tcp_keepalive_timer, KA-2).
//!
//! Off unless the application asks (MUST-24, MUST-25). While on, every acceptable segment
//! received pushes the timer to `idle` from now; when it fires on an idle connection
//! (nothing unacknowledged, nothing waiting to be sent: MUST-26) a probe goes out — an ACK
//! with SEG.SEQ = SND.NXT − 1 and no data (SHLD-12), which the peer must answer with an ACK
//! because the sequence number is old. Probes repeat every `interval`; after `probes`
//! unanswered ones (MUST-29: one lost ACK never kills a connection) the connection is reset
//! and reported timed out, as Linux does: 7200 + 9 × 75 = 7875 s after the last segment.
//! The state is kept in 6 bytes and a flag bit, at Linux's one-second resolution.
use super::{Ctx, Tcb};
use crate::config::KeepAlive;
use crate::event::{Cause, CloseReason, TimerKind};
use crate::state::State;
use crate::time::Duration;

/// Linux's limits: TCP_KEEPIDLE and TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127.
const MAX_SECS: u64 = 32767;
const MAX_PROBES: u32 = 127;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KaState {
    /// Idle seconds before the first probe; 0 = keep-alive off.
    idle: u16,
    /// Seconds between probes.
    interval: u16,
    /// Unanswered probes that end the connection.
    limit: u8,
    /// Probes sent since the peer was last heard from.
    sent: u8,
    // "Send a probe at the next poll" is a bit of `Tcb::flags` (ka_probe): 6 bytes here, not
    // 8 (issue 3's memory budget).
}

/// Whole seconds, rounded up, within 1..=MAX_SECS.
fn secs(d: Duration) -> u16 {
    d.as_micros()
        .div_ceil(1_000_000)
        .clamp(1, u128::from(MAX_SECS)) as u16
}

impl KaState {
    pub fn new(k: Option<KeepAlive>) -> KaState {
        match k {
            None => KaState::default(),
            Some(k) => KaState {
                idle: secs(k.idle),
                interval: secs(k.interval),
                limit: k.probes.clamp(1, MAX_PROBES) as u8,
                sent: 0,
            },
        }
    }

    pub fn enabled(&self) -> bool {
        self.idle != 0
    }

    /// The timing in force, if keep-alive is on.
    pub fn get(&self) -> Option<KeepAlive> {
        self.enabled().then(|| KeepAlive {
            idle: Duration::from_secs(self.idle.into()),
            interval: Duration::from_secs(self.interval.into()),
            probes: self.limit.into(),
        })
    }

    fn idle(&self) -> Duration {
        Duration::from_secs(self.idle.into())
    }
}

/// States in which a connection is probed: synchronized and not yet in TIME-WAIT.
fn probed(state: State) -> bool {
    state.is_synchronized() && state != State::TimeWait
}

impl Tcb {
    /// SO_KEEPALIVE and its timing, per connection (MUST-24, MUST-27).
    pub fn set_keepalive(&mut self, ctx: &mut Ctx, k: Option<KeepAlive>) {
        self.ka = KaState::new(k);
        self.flags.set_ka_probe(false); // a new setting starts with no probe pending
        if self.ka.enabled() && probed(self.state) {
            self.set_timer(TimerKind::KeepAlive, ctx.now + self.ka.idle());
        } else {
            self.clear_timer(TimerKind::KeepAlive);
        }
    }

    /// An acceptable segment arrived: the peer is alive; the idle time starts again.
    pub(super) fn keepalive_heard(&mut self, ctx: &Ctx) {
        if self.ka.enabled() {
            self.ka.sent = 0;
            self.set_timer(TimerKind::KeepAlive, ctx.now + self.ka.idle());
        }
    }

    /// Arm the idle timer on entering ESTABLISHED.
    pub(super) fn keepalive_start(&mut self, ctx: &Ctx) {
        if self.ka.enabled() && self.timer(TimerKind::KeepAlive).is_none() {
            self.set_timer(TimerKind::KeepAlive, ctx.now + self.ka.idle());
        }
    }

    pub(super) fn on_keepalive_timeout(&mut self, ctx: &mut Ctx) {
        if !self.ka.enabled() || !probed(self.state) {
            return;
        }
        let data_end = self.snd_buf_seq + self.send_buf.len() as u32;
        let busy = self.snd_una != self.snd_max || self.snd_nxt.lt(data_end);
        if busy {
            // MUST-26: probe only an idle connection; with data outstanding the
            // retransmission timer finds out whether the peer is alive.
            self.set_timer(TimerKind::KeepAlive, ctx.now + self.ka.idle());
            return;
        }
        if u32::from(self.ka.sent) >= u32::from(self.ka.limit) {
            // MUST-29 satisfied: `limit` probes went unanswered. Linux resets the peer
            // (in case only the return path is dead) and reports ETIMEDOUT.
            ctx.counters.keepalive_timeouts += 1;
            ctx.counters.abort_on_timeout += 1;
            self.send_rst(ctx);
            self.terminate(
                ctx,
                CloseReason::TimedOut,
                Cause::Timer(TimerKind::KeepAlive),
            );
            return;
        }
        self.ka.sent += 1;
        self.flags.set_ka_probe(true);
        ctx.counters.keepalive_probes += 1;
        self.set_timer(
            TimerKind::KeepAlive,
            ctx.now + Duration::from_secs(self.ka.interval.into()),
        );
    }
}
