//! Golden tests of ladder rendering on hand-made records (no stack needed).

use super::*;
use crate::packet::RawPacket;
use crate::record::{DropReason, HostInfo};
use synack::wire::TcpFlags;
use synack::{Cause, Duration, State};

const A: &str = "198.18.0.1:40000";
const B: &str = "198.18.0.2:80";

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

/// A two-host record built by hand.
struct Rec(Record);

impl Rec {
    fn new() -> Rec {
        let mut r = Record::default();
        for (n, a) in [("A", "198.18.0.1"), ("B", "198.18.0.2")] {
            r.hosts.push(HostInfo {
                name: n.into(),
                addrs: vec![a.parse().unwrap()],
            });
        }
        Rec(r)
    }
    fn seg(&mut self, t: Instant, from: usize, raw: RawPacket, fates: Vec<Fate>) {
        let bytes = raw.build();
        let id = self.0.packets.len();
        self.0.packets.push(PacketRecord {
            id,
            sent: t,
            from: Some(from),
            to: Some(1 - from),
            label: None,
            summary: crate::packet::summarize(&bytes),
            bytes,
            fates,
        });
        self.0.push(t, EntryKind::Sent(id));
    }
    fn ok(&mut self, t: Instant, from: usize, raw: RawPacket) {
        self.seg(t, from, raw, vec![delivered(t + Duration::from_millis(10))]);
    }
    fn state(&mut self, t: Instant, host: usize, from: State, to: State, cause: Cause) {
        let conn = fake_conn();
        self.0.push(
            t,
            EntryKind::State {
                host,
                conn,
                from,
                to,
                cause,
            },
        );
    }
    fn app(&mut self, t: Instant, host: usize, text: &str) {
        self.0.push(
            t,
            EntryKind::App {
                host,
                text: text.into(),
            },
        );
    }
}

fn fake_conn() -> synack::ConnId {
    // The ladder shows the id only for hosts with several connections, which these records
    // never have.
    synack::ConnId::from_raw(0, 0)
}

fn delivered(at: Instant) -> Fate {
    Fate::Delivered {
        at,
        copy: 0,
        corrupted: false,
        held: Duration::ZERO,
        rejected: None,
    }
}

fn raw(from: usize) -> RawPacket {
    let (s, d) = if from == 0 { (A, B) } else { (B, A) };
    RawPacket::new(s.parse().unwrap(), d.parse().unwrap())
}

fn handshake() -> Rec {
    let mut r = Rec::new();
    let isn_a = 1_000_000;
    let isn_b = 3_000_000_000u32;
    r.app(ms(0), 1, "listen(:80)");
    r.app(ms(0), 0, "connect(198.18.0.2:80)");
    r.state(ms(0), 0, State::Closed, State::SynSent, Cause::Connect);
    r.ok(ms(0), 0, raw(0).flags(TcpFlags::SYN).seq(isn_a).mss(1460));
    r.state(ms(10), 1, State::Listen, State::SynReceived, Cause::RecvSyn);
    r.ok(
        ms(10),
        1,
        raw(1)
            .flags(TcpFlags::SYN | TcpFlags::ACK)
            .seq(isn_b)
            .ack(isn_a + 1),
    );
    r.state(
        ms(20),
        0,
        State::SynSent,
        State::Established,
        Cause::RecvSynAck,
    );
    r.ok(
        ms(20),
        0,
        raw(0).flags(TcpFlags::ACK).seq(isn_a + 1).ack(isn_b + 1),
    );
    r.state(
        ms(30),
        1,
        State::SynReceived,
        State::Established,
        Cause::RecvAck,
    );
    r
}

#[test]
fn handshake_golden() {
    let out = render(&handshake().0, &LadderOptions::default());
    let want = r#"
     time  A 198.18.0.1:40000                            B 198.18.0.2:80
   0.000s                                                listen(:80)
   0.000s  connect(198.18.0.2:80)
   0.000s  CLOSED -> SYN_SENT
   0.000s  ----- SYN seq=0 ---------------------------->
   0.010s                                                LISTEN -> SYN_RCVD
   0.010s  <---- SYN,ACK seq=0 ack=1 -------------------
   0.020s  SYN_SENT -> ESTABLISHED
   0.020s  ----- ACK seq=1 ack=1 ---------------------->
   0.030s                                                SYN_RCVD -> ESTABLISHED
"#[1..]
        .to_string();
    assert_eq!(out, want, "\n{out}");
}

#[test]
fn absolute_numbers_window_options_and_explanations() {
    let o = LadderOptions {
        relative: false,
        window: true,
        options: true,
        explain: true,
        app: false,
        ..LadderOptions::default()
    };
    let out = render(&handshake().0, &o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "\n{out}");
    assert!(
        lines[2].contains("----- SYN seq=1000000 win=65535 <mss=1460> ->"),
        "\n{out}"
    );
    assert!(
        lines[2].ends_with("A asks to open: SYN carries its initial sequence number"),
        "\n{out}"
    );
    assert!(
        lines[4].contains("<---- SYN,ACK seq=3000000000 ack=1000001 win=65535 -"),
        "\n{out}"
    );
    assert!(
        lines[4].contains("B acks A's SYN (ISN+1) and sends its own ISN"),
        "\n{out}"
    );
    assert!(
        lines[6].contains("third handshake segment: A acks B's SYN (ISN+1)"),
        "\n{out}"
    );
    assert!(
        lines[3].contains("B got a SYN: a half-open (SYN queue) entry"),
        "\n{out}"
    );
    // Explanations start in one column.
    let col = lines[2].find("A asks").unwrap();
    assert_eq!(lines[3].find("B got").unwrap(), col);
}

#[test]
fn lost_held_duplicated_corrupted_and_rejected() {
    let mut r = Rec::new();
    r.seg(
        ms(0),
        0,
        raw(0).flags(TcpFlags::SYN).seq(7),
        vec![Fate::Dropped(DropReason::Loss)],
    );
    r.seg(
        ms(1000),
        1,
        raw(1).flags(TcpFlags::SYN | TcpFlags::ACK).seq(9).ack(8),
        vec![Fate::Dropped(DropReason::Fault)],
    );
    r.seg(
        ms(2000),
        0,
        raw(0).flags(TcpFlags::SYN).seq(7),
        vec![Fate::Delivered {
            at: ms(92_010),
            copy: 0,
            corrupted: false,
            held: Duration::from_secs(90),
            rejected: None,
        }],
    );
    r.seg(
        ms(3000),
        0,
        raw(0)
            .flags(TcpFlags::ACK | TcpFlags::PSH)
            .seq(8)
            .ack(10)
            .payload(b"hello"),
        vec![
            delivered(ms(3010)),
            Fate::Delivered {
                at: ms(3012),
                copy: 1,
                corrupted: true,
                held: Duration::ZERO,
                rejected: Some("bad TCP checksum".into()),
            },
        ],
    );
    r.0.push(ms(92_010), EntryKind::Arrived { packet: 2, copy: 0 });
    r.0.push(
        ms(92_010),
        EntryKind::Note {
            host: None,
            text: "the end".into(),
        },
    );
    let o = LadderOptions {
        payload: true,
        explain: true,
        ..LadderOptions::default()
    };
    let out = render(&r.0, &o);
    let want = r#"
     time  A 198.18.0.1:40000                            B 198.18.0.2:80
   0.000s  ----- SYN seq=0 -------------X                                          A asks to open: SYN carries its initial sequence number; lost on the way
   1.000s                 X---- SYN,ACK seq=0 ack=1 ----                           B acks A's SYN (ISN+1) and sends its own ISN; the network drops it
   2.000s  ----- SYN seq=0 (held 90s) --~                                          A resends its SYN: no answer yet (timeout doubles); the network holds it for 90s
   3.000s  ----- PSH,ACK seq=1 ack=1 len=5 "hello" ---->                           A sends 5 bytes on the third handshake segment
   3.000s  ----- PSH,ACK seq=1 ack=1 len=5 "hello" (dup) (corrupted) -X            A sends 5 bytes on the third handshake segment; the network duplicates it; a bit flips on the way; B's checksum check catches it: discarded
  92.010s  ~~~~~ SYN sent at 2.000s ------------------->                           the held SYN finally arrives at B
  92.010s  == the end ==
"#[1..]
        .to_string();
    assert_eq!(out, want, "\n{out}");
}

#[test]
fn colour_adds_ansi_codes_only_when_asked() {
    let plain = render(&handshake().0, &LadderOptions::default());
    assert!(!plain.contains('\x1b'));
    let o = LadderOptions {
        colour: true,
        ..LadderOptions::default()
    };
    let coloured = render(&handshake().0, &o);
    assert!(coloured.contains("\x1b[1;32mCLOSED -> SYN_SENT\x1b[0m"));
    // Stripping the codes gives the plain diagram back.
    let mut stripped = String::new();
    let mut it = coloured.chars();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for d in it.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            stripped.push(c);
        }
    }
    assert_eq!(stripped, plain);
}

#[test]
fn three_hosts_use_three_lanes() {
    let mut r = Rec::new();
    r.0.hosts.push(HostInfo {
        name: "C".into(),
        addrs: vec!["198.18.0.3".parse().unwrap()],
    });
    let mut p = raw(0).flags(TcpFlags::SYN);
    p.dst = "198.18.0.3:80".parse().unwrap();
    let bytes = p.build();
    r.0.packets.push(PacketRecord {
        id: 0,
        sent: ms(0),
        from: Some(0),
        to: Some(2),
        label: None,
        summary: crate::packet::summarize(&bytes),
        bytes,
        fates: vec![delivered(ms(10))],
    });
    r.0.push(ms(0), EntryKind::Sent(0));
    r.state(ms(10), 2, State::Listen, State::SynReceived, Cause::RecvSyn);
    let out = render(&r.0, &LadderOptions::default());
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("C 198.18.0.3:80"));
    let c_col = lines[0].find("C 198").unwrap();
    assert_eq!(lines[1].find('>').unwrap(), c_col - 2);
    assert_eq!(lines[2].find("LISTEN").unwrap(), c_col);
}
