//! Helpers shared by the simulator's integration tests: short time constructors, a ladder
//! for failure messages, and a scripted raw client for packet-exact handshakes.
#![allow(dead_code)]

use synack::wire::TcpFlags;
use synack::{Duration, Instant, State};
use synack_sim::ladder::{render, LadderOptions};
use synack_sim::packet::{summarize, RawPacket, Summary};
use synack_sim::peer::{Peer, PeerCtx};
use synack_sim::World;

pub fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}
pub fn secs(v: u64) -> Instant {
    Instant::from_secs(v)
}
pub fn dms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// The run as a ladder with absolute numbers and a trace: for assertion messages.
pub fn show(w: &World) -> String {
    let o = LadderOptions {
        relative: false,
        window: true,
        options: true,
        ..LadderOptions::default()
    };
    format!(
        "\n--- ladder ---\n{}\n--- trace ---\n{}",
        render(w.record(), &o),
        w.record().trace()
    )
}

/// `(time, from, to, cause)` of a host's transitions, without the connection ids.
pub fn path(w: &World, host: &str) -> Vec<State> {
    w.record().state_path(host)
}

/// What a scripted raw client does.
#[derive(Clone, Debug)]
pub enum RawStep {
    /// At this time, send this segment (seq/ack may be filled from what was learned).
    At(Instant, RawSeg),
}

/// A segment for the raw client: flags, and where seq and ack come from.
#[derive(Clone, Debug)]
pub struct RawSeg {
    pub flags: TcpFlags,
    pub seq: SeqFrom,
    pub ack: SeqFrom,
    pub payload: Vec<u8>,
    pub mss: Option<u16>,
}

#[derive(Clone, Copy, Debug)]
pub enum SeqFrom {
    /// This number.
    Abs(u32),
    /// The peer's ISN (from its SYN,ACK) plus this.
    PeerIsn(u32),
}

/// A host without a stack that sends segments at set times from `local` to `remote`, and
/// remembers everything it receives. It learns the peer's ISN from the first SYN,ACK.
pub struct RawClient {
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
    pub steps: Vec<RawStep>,
    pub next: usize,
    pub peer_isn: std::rc::Rc<std::cell::Cell<Option<u32>>>,
    pub got: std::rc::Rc<std::cell::RefCell<Vec<(Instant, Summary)>>>,
}

impl RawClient {
    pub fn new(local: &str, remote: &str, steps: Vec<RawStep>) -> RawClient {
        RawClient {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            steps,
            next: 0,
            peer_isn: Default::default(),
            got: Default::default(),
        }
    }
    fn resolve(&self, s: SeqFrom) -> u32 {
        match s {
            SeqFrom::Abs(v) => v,
            SeqFrom::PeerIsn(d) => self
                .peer_isn
                .get()
                .expect("raw client: peer ISN not known yet")
                .wrapping_add(d),
        }
    }
    fn run(&mut self, ctx: &mut PeerCtx<'_>) {
        while let Some(RawStep::At(t, seg)) = self.steps.get(self.next).cloned() {
            if t > ctx.now {
                ctx.wake_at(t);
                return;
            }
            let mut p = RawPacket::new(self.local, self.remote)
                .flags(seg.flags)
                .seq(self.resolve(seg.seq))
                .ack(self.resolve(seg.ack))
                .payload(&seg.payload);
            if let Some(m) = seg.mss {
                p = p.mss(m);
            }
            ctx.send_raw(p);
            self.next += 1;
        }
    }
}

impl Peer for RawClient {
    fn on_start(&mut self, ctx: &mut PeerCtx<'_>) {
        self.run(ctx);
    }
    fn on_packet(&mut self, ctx: &mut PeerCtx<'_>, bytes: &[u8]) {
        if let Some(s) = summarize(bytes) {
            if s.is_syn_ack() && self.peer_isn.get().is_none() {
                self.peer_isn.set(Some(s.seq));
            }
            self.got.borrow_mut().push((ctx.now, s));
        }
        self.run(ctx);
    }
    fn on_wake(&mut self, ctx: &mut PeerCtx<'_>) {
        self.run(ctx);
    }
}

pub fn seg(flags: TcpFlags, seq: SeqFrom, ack: SeqFrom) -> RawSeg {
    RawSeg {
        flags,
        seq,
        ack,
        payload: Vec::new(),
        mss: None,
    }
}
