//! Header prediction (`Tcb::predicts`, `Tcb::on_segment_predicted`) against the general
//! path of RFC 9293 §3.10.7.4: whole conversations run twice, with prediction allowed and
//! with it switched off, must put the same bytes on the wire at the same times and leave
//! the same connection state, events and counters; and segments the general path treats
//! specially must not be predicted.

use crate::config::Config;
use crate::event::ConnId;
use crate::stack::Stack;
use crate::time::{Duration, Instant};
use crate::wire::{self, Packet, SackBlock, TcpFlags};
use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};

thread_local! {
    /// (prediction allowed, segments that took it) on this test thread.
    static STATE: Cell<(bool, u64)> = const { Cell::new((true, 0)) };
}

/// A segment qualifies for prediction: whether it may take it (counted if so).
pub(super) fn take() -> bool {
    STATE.with(|s| {
        let (on, n) = s.get();
        if on {
            s.set((on, n + 1));
        }
        on
    })
}

fn allow(on: bool) {
    STATE.with(|s| s.set((on, 0)));
}

fn taken() -> u64 {
    STATE.with(|s| s.get().1)
}

const IP_A: [u8; 4] = [10, 0, 0, 1];
const IP_B: [u8; 4] = [10, 0, 0, 2];
const PORT: u16 = 80;

#[derive(Clone, Copy, Debug)]
struct Scenario {
    timestamps: bool,
    sack: bool,
    window_scaling: bool,
    /// Drop, duplicate and reorder packets (deterministically, from `seed`).
    lossy: bool,
    seed: u64,
    recv_buffer: usize,
    /// Bytes A sends to B.
    total: usize,
}

impl Scenario {
    fn config(&self, secret: u8) -> Config {
        Config {
            timestamps: self.timestamps,
            sack: self.sack,
            window_scaling: self.window_scaling,
            recv_buffer: self.recv_buffer,
            ..Config::with_secret([secret; 16])
        }
    }
}

fn drain(st: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Some(n) = st.poll_transmit(now, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Next value of a small LCG (deterministic link impairments).
fn next(rng: &mut u64) -> u64 {
    *rng = rng
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *rng >> 33
}

/// Drop 2%, duplicate 1%, swap neighbours 3% of the packets.
fn impair(mut pkts: Vec<Vec<u8>>, rng: &mut u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !pkts.is_empty() {
        let p = pkts.remove(0);
        let r = next(rng) % 100;
        if r < 2 {
            continue;
        } else if r < 3 {
            out.push(p.clone());
            out.push(p);
        } else if r < 6 && !pkts.is_empty() {
            let q = pkts.remove(0);
            out.push(q);
            out.push(p);
        } else {
            out.push(p);
        }
    }
    out
}

/// A sends `total` bytes to B and half-closes; B reads in bursts with pauses (so its window
/// closes and reopens), answers with small writes now and then, and closes after the EOF.
/// Returns everything observable, in order.
fn conversation(sc: Scenario, predict: bool) -> (Vec<String>, u64) {
    allow(predict);
    let (ip_a, ip_b) = (IpAddr::from(IP_A), IpAddr::from(IP_B));
    let mut a = Stack::new(sc.config(1));
    a.add_address(ip_a);
    let mut b = Stack::new(sc.config(2));
    b.add_address(ip_b);
    let l = b.listen(SocketAddr::new(ip_b, PORT), 8).unwrap();
    let t0 = Instant::from_secs(1);
    let ca = a.connect(t0, None, SocketAddr::new(ip_b, PORT)).unwrap();
    let mut cb: Option<ConnId> = None;
    let pattern: Vec<u8> = (0..sc.total).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut rbuf = vec![0u8; 8192];
    let mut rng = sc.seed;
    let mut trace = Vec::new();
    let (mut sent_a, mut got_b, mut got_a) = (0usize, 0usize, 0usize);
    let (mut shut_a, mut eof_a, mut closed_a, mut eof_b, mut closed_b) =
        (false, false, false, false, false);
    for tick in 0..30_000u64 {
        let now = t0 + Duration::from_millis(tick);
        // A: write, half-close once all is written, read B's answers, close after EOF.
        if sent_a < sc.total {
            if let Ok(n) = a.send(now, ca, &pattern[sent_a..]) {
                sent_a += n;
            }
        } else if !shut_a {
            shut_a = a.shutdown(now, ca).is_ok();
        }
        while !eof_a {
            match a.recv(now, ca, &mut rbuf) {
                Ok(0) => eof_a = true,
                Ok(n) => got_a += n,
                Err(_) => break,
            }
        }
        if eof_a && !closed_a {
            closed_a = a.close(now, ca).is_ok();
        }
        // B: accept, read in bursts (pausing every third 40 ms), answer, close after EOF.
        if cb.is_none() {
            cb = b.accept(l);
        }
        if let Some(c) = cb {
            if (tick / 40) % 3 != 2 && !eof_b {
                match b.recv(now, c, &mut rbuf[..4096]) {
                    Ok(0) => eof_b = true,
                    Ok(n) => {
                        assert_eq!(rbuf[..n], pattern[got_b..got_b + n]);
                        got_b += n;
                    }
                    Err(_) => {}
                }
            }
            if !eof_b && tick % 97 == 0 {
                let _ = b.send(now, c, &[0x5a; 100]);
            }
            if eof_b && !closed_b {
                let _ = b.send(now, c, b"bye");
                closed_b = b.close(now, c).is_ok();
            }
        }
        // The network: a few exchanges per millisecond.
        for _ in 0..4 {
            let (mut pa, mut pb) = (drain(&mut a, now), drain(&mut b, now));
            if pa.is_empty() && pb.is_empty() {
                break;
            }
            if sc.lossy {
                pa = impair(pa, &mut rng);
                pb = impair(pb, &mut rng);
            }
            for p in pa {
                trace.push(format!("{tick} A>B {p:02x?}"));
                b.handle_packet(now, &p);
            }
            for p in pb {
                trace.push(format!("{tick} B>A {p:02x?}"));
                a.handle_packet(now, &p);
            }
            trace.push(format!("{:?} {:?}", a.connections(), b.connections()));
        }
        for (name, st) in [("A", &mut a), ("B", &mut b)] {
            if st.poll_timeout().is_some_and(|t| t <= now) {
                st.handle_timeout(now);
            }
            while let Some(e) = st.poll_event() {
                trace.push(format!("{tick} {name} {e:?}"));
            }
            trace.push(format!("{tick} {name} {:?}", st.poll_timeout()));
        }
        if closed_a && closed_b && a.connection_count() + b.connection_count() == 0 {
            break;
        }
    }
    assert_eq!(got_b, sc.total, "{sc:?}: B got everything");
    assert!(eof_a && closed_a && closed_b, "{sc:?}: both ends closed");
    trace.push(format!("got_a {got_a}"));
    trace.push(format!("{:?}\n{:?}", a.counters(), b.counters()));
    (trace, taken())
}

/// The same conversation with and without prediction: identical, and prediction was used.
fn same_both_ways(sc: Scenario) {
    let (fast, n) = conversation(sc, true);
    let (slow, m) = conversation(sc, false);
    assert_eq!(m, 0);
    assert!(n > 20, "{sc:?}: prediction used {n} times");
    assert_eq!(fast.len(), slow.len(), "{sc:?}");
    for (i, (f, s)) in fast.iter().zip(&slow).enumerate() {
        assert_eq!(f, s, "{sc:?}: first difference at trace line {i}");
    }
}

const BASE: Scenario = Scenario {
    timestamps: true,
    sack: true,
    window_scaling: true,
    lossy: false,
    seed: 1,
    recv_buffer: 16 * 1024,
    total: 200_000,
};

#[test]
fn prediction_matches_the_general_path_on_a_clean_link() {
    same_both_ways(BASE);
}

#[test]
fn prediction_matches_the_general_path_with_loss_and_reordering() {
    for seed in 1..=4 {
        same_both_ways(Scenario {
            lossy: true,
            seed,
            ..BASE
        });
    }
}

#[test]
fn prediction_matches_the_general_path_without_options() {
    for (timestamps, sack, window_scaling) in [
        (false, false, false),
        (false, true, true),
        (true, false, false),
    ] {
        for lossy in [false, true] {
            same_both_ways(Scenario {
                timestamps,
                sack,
                window_scaling,
                lossy,
                seed: 7,
                ..BASE
            });
        }
    }
}

#[test]
fn prediction_matches_the_general_path_with_a_large_window() {
    same_both_ways(Scenario {
        recv_buffer: 256 * 1024,
        total: 1_000_000,
        lossy: true,
        seed: 3,
        ..BASE
    });
}

/// An established pair with B's window full if `fill`, and A's next segment (1000 bytes of
/// data at B's RCV.NXT) held back, parsed, to be varied.
struct Held {
    b: Stack,
    now: Instant,
    pkt: Vec<u8>,
}

fn held(fill: bool) -> Held {
    allow(true);
    let (ip_a, ip_b) = (IpAddr::from(IP_A), IpAddr::from(IP_B));
    let sc = Scenario {
        recv_buffer: 8 * 1024,
        ..BASE
    };
    let mut a = Stack::new(sc.config(1));
    a.add_address(ip_a);
    // B's buffer stays at 8 KiB (no autotuning, LX-11), so that A can fill it.
    let mut b = Stack::new(Config {
        moderate_rcvbuf: false,
        ..sc.config(2)
    });
    b.add_address(ip_b);
    let l = b.listen(SocketAddr::new(ip_b, PORT), 8).unwrap();
    let mut now = Instant::from_secs(1);
    let ca = a.connect(now, None, SocketAddr::new(ip_b, PORT)).unwrap();
    // A's last data segment and last segment of any kind, as sent.
    let (mut data, mut any) = (Vec::new(), Vec::new());
    let mut pump = |a: &mut Stack, b: &mut Stack, now: Instant| {
        for _ in 0..20 {
            let (pa, pb) = (drain(a, now), drain(b, now));
            if pa.is_empty() && pb.is_empty() {
                break;
            }
            for p in &pa {
                if !wire::parse(p).unwrap().payload.is_empty() {
                    data = p.clone();
                }
                any = p.clone();
                b.handle_packet(now, p);
            }
            pb.iter().for_each(|p| a.handle_packet(now, p));
        }
    };
    pump(&mut a, &mut b, now);
    let cb = b.accept(l).unwrap();
    let mut rbuf = [0u8; 4096];
    // Some traffic both ways first, so the connection is in its steady state.
    for i in 0..10 {
        now += Duration::from_millis(1);
        a.send(now, ca, &[i; 3000]).unwrap();
        let _ = b.send(now, cb, &[i; 10]);
        pump(&mut a, &mut b, now);
        while b.recv(now, cb, &mut rbuf).is_ok_and(|n| n > 0) {}
        while a.recv(now, ca, &mut rbuf).is_ok_and(|n| n > 0) {}
        pump(&mut a, &mut b, now);
    }
    now += Duration::from_millis(1);
    if fill {
        // B stops reading: its window closes.
        let _ = a.send(now, ca, &[1; 20_000]);
        // Timers too: A holds back a small remainder (sender SWS avoidance) until its
        // override timer fires.
        for _ in 0..50 {
            now += Duration::from_millis(100);
            a.handle_timeout(now);
            b.handle_timeout(now);
            pump(&mut a, &mut b, now);
        }
        assert_eq!(b.status(cb).unwrap().rcv_wnd, 0, "B's window is closed");
    }
    // Wait out B's delayed ACK so that A's next segment is a plain one.
    now += Duration::from_millis(300);
    a.handle_timeout(now);
    b.handle_timeout(now);
    pump(&mut a, &mut b, now);
    a.send(now, ca, &[9; 1000]).unwrap();
    let mut pkts = drain(&mut a, now);
    if fill {
        // A cannot send into the closed window: vary the last data segment it sent, with
        // its latest timestamp (so that PAWS is not what refuses it).
        assert!(pkts.is_empty());
        let ts = wire::parse(&any).unwrap().tcp.options.timestamps;
        pkts = vec![craft(&data, |p| p.tcp.options.timestamps = ts)];
    }
    let mut pkt = pkts.remove(0);
    let info = b.status(cb).unwrap();
    pkt = craft(&pkt, |p| p.tcp.seq = crate::seq::SeqNum(info.rcv_nxt));
    Held { b, now, pkt }
}

/// `pkt` re-emitted after `f` changed its parse.
fn craft(pkt: &[u8], f: impl FnOnce(&mut Packet)) -> Vec<u8> {
    let mut p = wire::parse(pkt).unwrap();
    f(&mut p);
    let mut out = vec![0u8; 2048];
    let n = wire::emit(p.src, p.dst, p.hop_limit, &p.tcp, p.payload, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Whether B predicted `pkt`.
fn predicted(h: &mut Held, pkt: &[u8]) -> bool {
    let before = taken();
    h.b.handle_packet(h.now, pkt);
    taken() > before
}

#[test]
fn in_order_data_is_predicted() {
    let mut h = held(false);
    let pkt = h.pkt.clone();
    assert!(predicted(&mut h, &pkt));
}

#[test]
fn unusual_segments_are_not_predicted() {
    type Change = fn(&mut Packet);
    let cases: [(&str, Change); 8] = [
        ("out of order", |p| p.tcp.seq += 1000),
        ("old duplicate", |p| p.tcp.seq = p.tcp.seq - 1000),
        ("FIN", |p| p.tcp.flags |= TcpFlags::FIN),
        ("URG", |p| {
            p.tcp.flags |= TcpFlags::URG;
            p.tcp.urgent = 1;
        }),
        ("SYN", |p| p.tcp.flags |= TcpFlags::SYN),
        ("RST", |p| p.tcp.flags |= TcpFlags::RST),
        ("SACK block", |p| {
            let s = p.tcp.ack;
            p.tcp.options.push_sack(SackBlock {
                left: s - 2000,
                right: s - 1000,
            });
        }),
        ("old timestamp (PAWS)", |p| {
            let ts = p.tcp.options.timestamps.as_mut().unwrap();
            ts.tsval = ts.tsval.wrapping_sub(1000);
        }),
    ];
    for (name, change) in cases {
        let mut h = held(false);
        let pkt = craft(&h.pkt, change);
        assert!(!predicted(&mut h, &pkt), "{name}");
    }
    // Without the timestamps a connection that uses them requires (TS-4).
    let mut h = held(false);
    let pkt = craft(&h.pkt, |p| p.tcp.options.timestamps = None);
    assert!(!predicted(&mut h, &pkt), "no timestamps");
    // ACK of data not yet sent (EP-17).
    let mut h = held(false);
    let pkt = craft(&h.pkt, |p| p.tcp.ack += 100_000);
    assert!(!predicted(&mut h, &pkt), "ACK beyond SND.MAX");
}

/// A window change is taken by step 5, which the prediction runs whole (EP-18).
#[test]
fn a_window_change_is_predicted_and_taken() {
    let mut h = held(false);
    let before = h.b.connections()[0].snd_wnd;
    // One unit below the window B holds now (A's shift is 7: LX-11), whatever the held
    // segment's own field says (A's fields may round down by a unit near a full buffer,
    // RFC 7323 §2.4).
    let field = (before >> 7) as u16 - 1;
    let pkt = craft(&h.pkt, |p| p.tcp.window = field);
    assert!(predicted(&mut h, &pkt));
    assert!(h.b.connections()[0].snd_wnd < before);
}

#[test]
fn in_order_data_after_a_hole_is_not_predicted() {
    let mut h = held(false);
    let ooo = craft(&h.pkt, |p| p.tcp.seq += 2000);
    assert!(!predicted(&mut h, &ooo));
    let pkt = h.pkt.clone();
    assert!(
        !predicted(&mut h, &pkt),
        "the reassembly queue is not empty"
    );
}

#[test]
fn data_into_a_zero_window_is_not_predicted() {
    let mut h = held(true);
    let pkt = h.pkt.clone();
    assert!(!predicted(&mut h, &pkt));
}

#[test]
fn a_duplicate_ack_is_not_predicted() {
    let mut h = held(false);
    let pkt = craft(&h.pkt, |p| p.payload = &[]);
    // Nothing of B's is outstanding: SEG.ACK = SND.UNA, a duplicate (or window) ACK.
    assert!(!predicted(&mut h, &pkt));
}
