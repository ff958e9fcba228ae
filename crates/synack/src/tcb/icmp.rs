//! What a connection does with an ICMP error about one of its segments (RFC 9293
//! §3.9.2.2, RFC 5927, RFC 5461, RFC 1191 / RFC 8201 path MTU discovery).
//!
//! The policy, per error class:
//! - the quoted sequence number must lie in SND.UNA..SND.MAX, or the message is ignored as
//!   forged or stale (MUST-54, RFC 5927 §4.1; Linux OutOfWindowIcmps);
//! - Source Quench is discarded (MUST-55, RFC 6633);
//! - soft errors never abort (MUST-56): they are remembered and reported as
//!   `Event::SoftError` (SHLD-25); a connect that later times out says "unreachable";
//! - hard errors (protocol/port unreachable, administratively prohibited) end a connection
//!   that is still being set up (SHLD-26): an active open fails as refused (port/protocol)
//!   or unreachable (prohibited), a half-open passive entry silently leaves the SYN queue.
//!   Once synchronized they are treated as soft (RFC 5461 §4, as Linux does);
//! - Packet Too Big lowers the send MSS and resends what was in flight at the new size
//!   (PM-1), without treating the loss as congestion (RFC 1191 §6.5, RFC 8201 §5.4).
use super::{Ctx, Tcb};
use crate::event::{Cause, CloseReason, Event, SoftError};
use crate::state::State;
use crate::wire::icmp::{IcmpError, IcmpKind, IcmpMessage};
use std::net::SocketAddr;

/// Smallest path MTU we believe: Linux's `min_pmtu` (552) for IPv4 — lower claims are a
/// known attack that shrinks segments to a crawl — and the IPv6 minimum link MTU (RFC 8200
/// §5; RFC 8201 §4 says to ignore smaller reports).
const MIN_PMTU_V4: u32 = 552;
const MIN_PMTU_V6: u32 = 1280;

impl Tcb {
    /// An ICMP error quoting one of this connection's segments (MUST-54).
    pub fn on_icmp(&mut self, ctx: &mut Ctx, m: &IcmpMessage) {
        // RFC 5927 §4.1: only a segment we sent and that is not yet acknowledged can have
        // provoked a genuine error; anything else is forged or stale.
        if !(self.snd_una.le(m.seq) && m.seq.lt(self.snd_max)) {
            ctx.counters.out_of_window_icmps += 1;
            return;
        }
        match m.kind {
            IcmpKind::SourceQuench => ctx.counters.icmp_source_quench += 1,
            IcmpKind::PacketTooBig { mtu } => self.on_packet_too_big(ctx, mtu),
            IcmpKind::Error(e) => self.on_icmp_error(ctx, e),
        }
    }

    fn on_icmp_error(&mut self, ctx: &mut Ctx, e: IcmpError) {
        if e.is_hard() {
            match self.state {
                State::SynSent => {
                    let reason = match e {
                        IcmpError::Prohibited => CloseReason::Unreachable,
                        _ => CloseReason::Refused,
                    };
                    self.terminate(ctx, reason, Cause::RecvIcmp);
                    return;
                }
                State::SynReceived if self.listener.is_some() && !self.queued => {
                    // The application never saw this entry: it just leaves the SYN queue.
                    self.back_to_listen(ctx, Cause::RecvIcmp);
                    return;
                }
                _ => {}
            }
        }
        self.soft_error = Some(e);
        if ctx.config.soft_errors && self.accepted {
            ctx.events.push(Event::SoftError {
                conn: self.id,
                error: SoftError::Icmp(e),
            });
        }
    }

    /// PM-1: the path carries at most `mtu` bytes. Only a decrease is believed (RFC 8201 §4);
    /// segments in flight were too big, so they go again at the new size, with no cwnd
    /// reduction: they were dropped for their size, not by congestion.
    fn on_packet_too_big(&mut self, ctx: &mut Ctx, mtu: u32) {
        if !self.state.is_synchronized() {
            return; // handshake segments are small; the MSS is settled by the SYN,ACK
        }
        let (ip_header, floor) = match self.remote() {
            SocketAddr::V4(_) => (20, MIN_PMTU_V4),
            SocketAddr::V6(_) => (40, MIN_PMTU_V6),
        };
        let options = if self.ts_ok { 12 } else { 0 };
        let mss = mtu.max(floor) - ip_header - 20 - options;
        if mss >= self.mss {
            return;
        }
        self.mss = mss;
        ctx.counters.pmtu_reductions += 1;
        if self.snd_una != self.snd_max {
            // Resend from SND.UNA at the new size. Karn: no RTT sample from these.
            self.snd_nxt = self.snd_una;
            self.rtt_timing.1 = crate::time::OptStamp::NONE;
        }
    }
}
