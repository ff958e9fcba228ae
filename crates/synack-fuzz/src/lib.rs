//! Fuzz targets for synack as ordinary library functions, so that the same logic runs under
//! libFuzzer (`/fuzz`, nightly or `RUSTC_BOOTSTRAP`) and in a stable regression test over a
//! committed corpus plus seeded random inputs (`tests/regression.rs`).
//!
//! Both targets attack a [`Fixture`]: a stack with a listener, a connection in every state
//! reached by real handshakes and closes with an honest peer stack, and TIME-WAIT entries.
//! After every step the invariants of [`Fixture::check`] must hold — the bounds the
//! configuration promises (connections, SYN and accept queues, TIME-WAIT, buffers), legal
//! states and RFC 9293 §3.3.2 transitions — and nothing may panic. A violation panics, which
//! is what a fuzzer reports.
//!
//! - [`packets`]: arbitrary bytes as IP packets (parser robustness, MUST-7, MUST-64), some
//!   wrapped in a valid IPv4 header with a correct TCP checksum so they reach the machine.
//! - [`segments`]: a script of well-formed but hostile segments aimed at live connections
//!   (RFC 5961 blind attacks, BI-1..BI-6; SYN floods, SF-4; TIME-WAIT hazards, TW-1..TW-3),
//!   interleaved with user calls, peer traffic and clock jumps.

pub mod fixture;

pub use fixture::Fixture;
use fixture::{PEER_IP, PEER_PORT, SERVER_IP, SERVER_PORT};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack::wire::{self, SackBlock, TcpFlags, TcpHeader, TcpOptions, Timestamps};
use synack::{Duration, SeqNum};

/// Reads fuzz bytes as numbers; past the end every read is 0, so any input decodes.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.u8() as usize % n
    }
    /// Up to `max` bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u16() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
}

/// Target (a): arbitrary bytes as packets. Each record is a mode byte and a length-prefixed
/// packet: raw (the parser's problem), or a TCP segment under a valid IPv4 header, with its
/// checksum fixed and, optionally, its ports pointed at a live connection.
pub fn packets(data: &[u8]) {
    let mut f = Fixture::new(1);
    ok(&mut f, "setup");
    let mut input = Input::new(data);
    let mut steps = 0;
    while !input.is_empty() && steps < 64 {
        steps += 1;
        let mode = input.u8();
        let raw = input.bytes(1600);
        let pkt = match mode % 4 {
            0 => raw.to_vec(),
            m => {
                let mut seg = raw.to_vec();
                if seg.len() >= 4 && m >= 2 {
                    // Ports of a live connection (or the listener) so the bytes reach a TCB.
                    let (src, dst) = target_ports(&f, mode as usize);
                    seg[0..2].copy_from_slice(&src.to_be_bytes());
                    seg[2..4].copy_from_slice(&dst.to_be_bytes());
                }
                ipv4_wrap(PEER_IP, SERVER_IP, &mut seg, m == 3)
            }
        };
        f.server.handle_packet(f.now, &pkt);
        f.pump();
        if mode & 0x80 != 0 {
            f.advance(Duration::from_millis(mode as u64 * 37));
        }
        ok(&mut f, "packet");
    }
    f.advance(Duration::from_secs(300));
    ok(&mut f, "final timers");
}

fn ok(f: &mut Fixture, what: &str) {
    if let Err(v) = f.check() {
        panic!("invariant broken after {what}: {v}");
    }
}

/// (peer port, server port) of a connection picked by `pick`, or of the listener.
fn target_ports(f: &Fixture, pick: usize) -> (u16, u16) {
    let conns = f.server.connections();
    if conns.is_empty() || pick % (conns.len() + 1) == conns.len() {
        return (40_000 + pick as u16, SERVER_PORT);
    }
    let c = &conns[pick % conns.len()];
    (c.remote.port(), c.local.port())
}

/// `seg` under a 20-byte IPv4 header from `src` to `dst`; the TCP checksum is fixed when
/// `fix_sum` (if the segment is long enough to have one).
fn ipv4_wrap(src: Ipv4Addr, dst: Ipv4Addr, seg: &mut [u8], fix_sum: bool) -> Vec<u8> {
    if fix_sum && seg.len() >= 20 {
        seg[16] = 0;
        seg[17] = 0;
        let sum = wire::checksum::tcp_checksum(IpAddr::V4(src), IpAddr::V4(dst), seg);
        seg[16..18].copy_from_slice(&sum.to_be_bytes());
    }
    let total = (20 + seg.len()).min(u16::MAX as usize) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6] = 0x40;
    h[8] = 64;
    h[9] = 6;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let sum = wire::checksum::checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut v = h.to_vec();
    v.extend_from_slice(seg);
    v
}

/// Target (b): a script of hostile-but-well-formed segments and user calls. Each step's first
/// byte picks the action; the invariants are checked after every step.
pub fn segments(data: &[u8]) {
    let mut f = Fixture::new(2);
    ok(&mut f, "setup");
    let mut input = Input::new(data);
    let mut steps = 0;
    let mut buf = vec![0u8; 4096];
    while !input.is_empty() && steps < 128 {
        steps += 1;
        let op = input.u8();
        match op % 12 {
            0..=4 => hostile_segment(&mut f, &mut input),
            5 => {
                // The clock: small steps mostly, sometimes far (TIME-WAIT, keep-alive, R2).
                let d = match input.below(4) {
                    0 => Duration::from_micros(input.u16() as u64),
                    1 => Duration::from_millis(input.u16() as u64),
                    2 => Duration::from_secs(input.u8() as u64),
                    _ => Duration::from_secs(60 * input.u8() as u64),
                };
                f.advance(d);
            }
            6 => {
                // A burst of spoofed SYNs from 198.18.0.0/15 (S-6, SF-4).
                let n = input.u8() as usize;
                let seed = input.u32();
                let opts = input.u8();
                for i in 0..n {
                    let x = seed.wrapping_add(i as u32).wrapping_mul(0x9E37_79B9);
                    let src = Ipv4Addr::new(198, 18 + (x >> 31) as u8, (x >> 8) as u8, x as u8);
                    let mut o = TcpOptions {
                        mss: Some(536 + (x % 1000) as u16),
                        ..TcpOptions::default()
                    };
                    if opts & 1 != 0 {
                        o.timestamps = Some(Timestamps { tsval: x, tsecr: 0 });
                        o.window_scale = Some(opts >> 4);
                        o.sack_permitted = opts & 2 != 0;
                    }
                    let h = TcpHeader {
                        src_port: 1024 + (x >> 16) as u16 % 60_000,
                        dst_port: SERVER_PORT,
                        seq: SeqNum(x),
                        flags: TcpFlags::SYN,
                        window: 65535,
                        options: o,
                        ..TcpHeader::default()
                    };
                    inject(&mut f, src, &h, &[]);
                }
                f.pump();
            }
            7 => server_call(&mut f, &mut input, &mut buf),
            8 => {
                // The honest peer does something on one of its connections.
                if !f.peer_conns.is_empty() {
                    let c = f.peer_conns[input.below(f.peer_conns.len())];
                    let now = f.now;
                    let _ = match input.below(5) {
                        0 => f
                            .peer
                            .send(now, c, &buf[..input.u16() as usize % 4096])
                            .map(|_| ()),
                        1 => f.peer.recv(now, c, &mut buf).map(|_| ()),
                        2 => f.peer.shutdown(now, c),
                        3 => f.peer.close(now, c),
                        _ => f.peer.abort(now, c),
                    };
                }
                f.pump();
            }
            9 => {
                // The peer opens a new connection (accept queue pressure).
                let _ = f
                    .peer
                    .connect(
                        f.now,
                        None,
                        SocketAddr::new(IpAddr::V4(SERVER_IP), SERVER_PORT),
                    )
                    .map(|c| f.peer_conns.push(c));
                f.pump();
            }
            10 => {
                // A segment with a raw option area (MUST-7, MUST-64): any bytes, any length.
                let (sp, dp) = target_ports(&f, input.u8() as usize);
                let opts = input.bytes(40);
                let mut seg = vec![0u8; 20 + opts.len().div_ceil(4) * 4];
                seg[0..2].copy_from_slice(&sp.to_be_bytes());
                seg[2..4].copy_from_slice(&dp.to_be_bytes());
                seg[4..8].copy_from_slice(&input.u32().to_be_bytes());
                seg[8..12].copy_from_slice(&input.u32().to_be_bytes());
                seg[12] = ((seg.len() / 4) as u8) << 4;
                seg[13] = input.u8();
                seg[14..16].copy_from_slice(&input.u16().to_be_bytes());
                seg[20..20 + opts.len()].copy_from_slice(opts);
                let pkt = ipv4_wrap(PEER_IP, SERVER_IP, &mut seg, true);
                f.server.handle_packet(f.now, &pkt);
                f.pump();
            }
            _ => {
                // Drop whatever the server has queued to send (loss), without delivering.
                f.server_out();
                f.drain_events();
            }
        }
        ok(&mut f, "step");
    }
    // Let every timer run out: retransmissions give up, TIME-WAIT ends, queues drain.
    f.advance(Duration::from_secs(4000));
    ok(&mut f, "final timers");
}

fn inject(f: &mut Fixture, src: Ipv4Addr, h: &TcpHeader, payload: &[u8]) {
    let mut buf = [0u8; 2048];
    if let Some(n) = wire::emit(
        IpAddr::V4(src),
        IpAddr::V4(SERVER_IP),
        64,
        h,
        payload,
        &mut buf,
    ) {
        f.server.handle_packet(f.now, &buf[..n]);
        f.drain_events();
    }
}

/// A segment aimed at a live connection, with sequence and acknowledgment numbers chosen
/// around the edges the RFC 5961 checks care about (RCV.NXT, the window edges, SND.UNA,
/// SND.NXT, SND.UNA - MAX.SND.WND) or anywhere; options near the connection's own values.
fn hostile_segment(f: &mut Fixture, input: &mut Input) {
    let conns = f.server.connections();
    let pick = input.u8() as usize;
    let flags = TcpFlags(input.u8());
    let (src, sport, dport, rcv_nxt, rcv_wnd, snd_una, snd_nxt) =
        match conns.get(pick % (conns.len() + 1)) {
            Some(c) => (
                match c.remote.ip() {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(_) => PEER_IP,
                },
                c.remote.port(),
                c.local.port(),
                c.rcv_nxt,
                c.rcv_wnd,
                c.snd_una,
                c.snd_nxt,
            ),
            None => (PEER_IP, 40_000 + pick as u16, SERVER_PORT, 0, 0, 0, 0),
        };
    let seq = match input.below(6) {
        0 => rcv_nxt,
        1 => rcv_nxt.wrapping_add(input.u16() as u32),
        2 => rcv_nxt
            .wrapping_add(rcv_wnd)
            .wrapping_sub(input.u8() as u32),
        3 => rcv_nxt.wrapping_sub(input.u16() as u32),
        4 => rcv_nxt
            .wrapping_add(rcv_wnd)
            .wrapping_add(input.u8() as u32),
        _ => input.u32(),
    };
    let ack = match input.below(6) {
        0 => snd_una,
        1 => snd_nxt,
        2 => snd_una.wrapping_add(input.u16() as u32),
        3 => snd_una.wrapping_sub(input.u32() % 200_000),
        4 => snd_nxt.wrapping_add(input.u8() as u32),
        _ => input.u32(),
    };
    let mut o = TcpOptions::default();
    let ob = input.u8();
    if ob & 1 != 0 {
        o.mss = Some(input.u16());
    }
    if ob & 2 != 0 {
        o.window_scale = Some(input.u8());
    }
    o.sack_permitted = ob & 4 != 0;
    if ob & 8 != 0 {
        o.timestamps = Some(Timestamps {
            tsval: input.u32(),
            tsecr: input.u32(),
        });
    }
    for _ in 0..(ob >> 4) % 5 {
        let l = snd_una.wrapping_add(input.u16() as u32);
        let r = l.wrapping_add(input.u16() as u32);
        o.push_sack(SackBlock {
            left: SeqNum(l),
            right: SeqNum(r),
        });
    }
    // Options beyond 40 bytes cannot be sent: drop SACK blocks until they fit.
    while wire::options_len(&o) > 40 && o.sack_count > 0 {
        o.sack_count -= 1;
    }
    let len = match input.below(4) {
        0 => 0,
        1 => input.below(16) + 1,
        2 => input.u16() as usize % 1460,
        _ => 1,
    };
    let payload = vec![0x5a; len];
    let h = TcpHeader {
        src_port: sport,
        dst_port: dport,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: input.u16(),
        urgent: input.u16(),
        options: o,
    };
    inject(f, src, &h, &payload);
    if input.bool() {
        f.pump();
    }
}

/// An application call on a server connection (or a new active open / listener change).
fn server_call(f: &mut Fixture, input: &mut Input, buf: &mut [u8]) {
    let now = f.now;
    let which = input.below(10);
    let c = if f.conns.is_empty() {
        None
    } else {
        Some(f.conns[input.below(f.conns.len())])
    };
    let _ = match (which, c) {
        (0, Some(c)) => f
            .server
            .send(now, c, &buf[..input.u16() as usize % buf.len()])
            .map(|_| ()),
        (1, Some(c)) => f.server.recv(now, c, buf).map(|_| ()),
        (2, Some(c)) => f.server.shutdown(now, c),
        (3, Some(c)) => f.server.close(now, c),
        (4, Some(c)) => f.server.abort(now, c),
        (5, Some(c)) => f.server.set_nodelay(c, input.bool()),
        (6, Some(c)) => {
            f.server
                .set_user_timeout(now, c, Some(Duration::from_millis(input.u16() as u64 + 1)))
        }
        (7, _) => f
            .server
            .connect(
                now,
                None,
                SocketAddr::new(IpAddr::V4(PEER_IP), PEER_PORT + input.below(2) as u16),
            )
            .map(|c| f.conns.push(c)),
        (8, _) => {
            let _ = f.server.accept(f.listener);
            Ok(())
        }
        _ => Ok(()),
    };
    f.pump();
}
