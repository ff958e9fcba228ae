//! Raw peers: hosts with no synack stack, driven by code that reads and writes whole IP
//! packets (a packetdrill-style scripted peer, a black hole for spoofed addresses, ...).

use crate::packet::{summarize, RawPacket, Summary};
use synack::Instant;

/// What a raw peer may do when it runs.
pub struct PeerCtx<'a> {
    pub now: Instant,
    pub(crate) out: &'a mut Vec<Vec<u8>>,
    pub(crate) wake: &'a mut Option<Instant>,
}

impl PeerCtx<'_> {
    /// Put a packet on the wire (through links and faults like any other).
    pub fn send(&mut self, bytes: Vec<u8>) {
        self.out.push(bytes);
    }
    /// Build and send a segment.
    pub fn send_raw(&mut self, p: RawPacket) {
        self.out.push(p.build());
    }
    /// Run `on_wake` at `t` (the earliest request wins; forgotten once the peer runs).
    pub fn wake_at(&mut self, t: Instant) {
        *self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
    }
}

/// A host without a TCP stack.
pub trait Peer {
    /// At the start of the run (or when the peer is installed).
    fn on_start(&mut self, _ctx: &mut PeerCtx<'_>) {}
    /// A packet arrived.
    fn on_packet(&mut self, ctx: &mut PeerCtx<'_>, bytes: &[u8]);
    /// A wake-up the peer asked for came due.
    fn on_wake(&mut self, _ctx: &mut PeerCtx<'_>) {}
}

/// Swallows every packet: a host that owns spoofed addresses and never answers.
pub struct Sink;

impl Peer for Sink {
    fn on_packet(&mut self, _: &mut PeerCtx<'_>, _: &[u8]) {}
}

/// A peer that answers each readable segment with whatever a closure returns.
pub struct Responder<F>(pub F);

impl<F: FnMut(Instant, &Summary) -> Vec<RawPacket>> Peer for Responder<F> {
    fn on_packet(&mut self, ctx: &mut PeerCtx<'_>, bytes: &[u8]) {
        if let Some(s) = summarize(bytes) {
            for p in (self.0)(ctx.now, &s) {
                ctx.send_raw(p);
            }
        }
    }
}
