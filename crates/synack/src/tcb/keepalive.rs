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
//! The state is kept at Linux's one-second resolution, behind a box that exists only while
//! keep-alive is on.
use super::{Ctx, Tcb};
use crate::config::KeepAlive;
use crate::event::{Cause, CloseReason, TimerKind};
use crate::state::State;
use crate::time::{Duration, Instant, OptInstant};

/// Linux's limits: TCP_KEEPIDLE and TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127.
const MAX_SECS: u64 = 32767;
const MAX_PROBES: u32 = 127;

/// Keep-alive state of a connection that has it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KaOn {
    /// Idle seconds before the first probe.
    idle: u16,
    /// Seconds between probes.
    interval: u16,
    /// Unanswered probes that end the connection.
    limit: u8,
    /// Probes sent since the peer was last heard from.
    sent: u8,
    /// The keep-alive timer (`TimerKind::KeepAlive`).
    deadline: OptInstant,
}

/// Keep-alive: off unless asked for (MUST-24), so its state, timer included, is kept behind
/// a box that exists only while it is on. A connection without keep-alive pays 8 bytes
/// instead of 6 bytes of state and an 8-byte timer slot (issue 3's memory budget); one with
/// it pays a 16-byte allocation more. "Send a probe at the next poll" is a bit of
/// `Tcb::flags` (ka_probe).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KaState(Option<Box<KaOn>>);

/// Whole seconds, rounded up, within 1..=MAX_SECS.
fn secs(d: Duration) -> u16 {
    d.as_micros()
        .div_ceil(1_000_000)
        .clamp(1, u128::from(MAX_SECS)) as u16
}

impl KaState {
    #[inline] // every Tcb::new; nearly always `None`
    pub fn new(k: Option<KeepAlive>) -> KaState {
        KaState(k.map(|k| {
            Box::new(KaOn {
                idle: secs(k.idle),
                interval: secs(k.interval),
                limit: k.probes.clamp(1, MAX_PROBES) as u8,
                sent: 0,
                deadline: OptInstant::NONE,
            })
        }))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The timing in force, if keep-alive is on.
    pub fn get(&self) -> Option<KeepAlive> {
        self.0.as_deref().map(|o| KeepAlive {
            idle: Duration::from_secs(o.idle.into()),
            interval: Duration::from_secs(o.interval.into()),
            probes: o.limit.into(),
        })
    }

    fn idle(&self) -> Duration {
        self.0
            .as_deref()
            .map_or(Duration::ZERO, |o| Duration::from_secs(o.idle.into()))
    }

    fn interval(&self) -> Duration {
        self.0
            .as_deref()
            .map_or(Duration::ZERO, |o| Duration::from_secs(o.interval.into()))
    }

    /// Probes sent without an answer, and the number that ends the connection.
    fn sent_and_limit(&self) -> (u8, u8) {
        self.0.as_deref().map_or((0, 0), |o| (o.sent, o.limit))
    }

    fn set_sent(&mut self, n: u8) {
        if let Some(o) = self.0.as_deref_mut() {
            o.sent = n;
        }
    }

    /// The keep-alive timer, if armed.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.0.as_deref()?.deadline.get()
    }

    /// Arm or stop the keep-alive timer; with keep-alive off there is none to arm.
    pub(super) fn set_deadline(&mut self, at: OptInstant) {
        if let Some(o) = self.0.as_deref_mut() {
            o.deadline = at;
        }
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
            self.ka.set_sent(0);
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
        let (sent, limit) = self.ka.sent_and_limit();
        if sent >= limit {
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
        self.ka.set_sent(sent + 1);
        self.flags.set_ka_probe(true);
        ctx.counters.keepalive_probes += 1;
        self.set_timer(TimerKind::KeepAlive, ctx.now + self.ka.interval());
    }
}
