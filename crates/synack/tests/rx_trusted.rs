//! MUST-3 delegated to a device that vouches for the checksum (`Stack::handle_packet_trusted`,
//! Linux's CHECKSUM_PARTIAL / CHECKSUM_UNNECESSARY): a TUN device with offload hands over
//! packets the local kernel made with the TCP checksum field holding only the pseudo-header
//! sum. Such packets must carry a whole conversation when trusted, and be dropped as bad
//! checksums when not.

use std::net::{IpAddr, SocketAddr};
use synack::wire::{checksum, ParseError};
use synack::{Config, ConnId, Instant, Stack, State};

/// Leave `packet`'s TCP checksum as the kernel does on a packet it hands to an offloading
/// device (CHECKSUM_PARTIAL): the folded pseudo-header sum, not complemented, payload unsummed.
fn make_partial(packet: &mut [u8]) {
    let (src, dst, ihl): (IpAddr, IpAddr, usize) = match packet[0] >> 4 {
        4 => {
            let a = |i: usize| IpAddr::from(<[u8; 4]>::try_from(&packet[i..i + 4]).unwrap());
            (a(12), a(16), usize::from(packet[0] & 0x0F) * 4)
        }
        _ => {
            let a = |i: usize| IpAddr::from(<[u8; 16]>::try_from(&packet[i..i + 16]).unwrap());
            (a(8), a(24), 40)
        }
    };
    let tcp_len = packet.len() - ihl;
    let pseudo = checksum::fold(checksum::pseudo_header(src, dst, tcp_len));
    let field = ihl + 16;
    let before = u16::from_be_bytes([packet[field], packet[field + 1]]);
    packet[field..field + 2].copy_from_slice(&pseudo.to_be_bytes());
    // A packet whose true checksum equals this value would pass either way: the test
    // would prove nothing about it.
    assert_ne!(
        before, pseudo,
        "the full checksum differs from the partial one"
    );
}

struct Pair {
    now: Instant,
    a: Stack,
    b: Stack,
    /// Packets A sent, as B received them (after `make_partial`).
    to_b: usize,
}

impl Pair {
    fn new(a_ip: &str, b_ip: &str) -> (Pair, SocketAddr, SocketAddr) {
        let (a_ip, b_ip): (IpAddr, IpAddr) = (a_ip.parse().unwrap(), b_ip.parse().unwrap());
        let mut a = Stack::new(Config::with_secret([1; 16]));
        let mut b = Stack::new(Config::with_secret([2; 16]));
        a.add_address(a_ip);
        b.add_address(b_ip);
        let pair = Pair {
            now: Instant::from_secs(1),
            a,
            b,
            to_b: 0,
        };
        (
            pair,
            SocketAddr::new(a_ip, 40000),
            SocketAddr::new(b_ip, 80),
        )
    }

    /// Move packets both ways until both stacks are quiet: A's reach B with partial
    /// checksums through `handle_packet_trusted` (or, with `trust` false, through
    /// `handle_packet`), B's reach A whole.
    fn exchange(&mut self, trust: bool) {
        let mut buf = vec![0u8; 70_000];
        loop {
            let mut moved = false;
            while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
                make_partial(&mut buf[..n]);
                self.to_b += 1;
                if trust {
                    self.b.handle_packet_trusted(self.now, &buf[..n]);
                } else {
                    self.b.handle_packet(self.now, &buf[..n]);
                }
                moved = true;
            }
            while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
                self.a.handle_packet(self.now, &buf[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 + i / 251) as u8).collect()
}

/// The whole life of a connection over the trusted path, both families: handshake (the SYN
/// and the third ACK partial), 300 KB that must arrive byte for byte, a close from A, and
/// B's answer.
#[test]
fn must_3_partial_checksums_carry_a_conversation_when_trusted() {
    for (a_ip, b_ip) in [("198.18.0.1", "198.18.0.2"), ("2001:db8::1", "2001:db8::2")] {
        let (mut p, a_addr, b_addr) = Pair::new(a_ip, b_ip);
        let l = p.b.listen(b_addr, 8).unwrap();
        let c = p.a.connect(p.now, Some(a_addr), b_addr).unwrap();
        p.exchange(true);
        let s: ConnId = p.b.accept(l).expect("the handshake completed");
        assert_eq!(p.a.state(c), Some(State::Established));
        let data = pattern(300_000);
        let (mut sent, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 65536];
        while got.len() < data.len() {
            sent += p.a.send(p.now, c, &data[sent..]).unwrap();
            p.exchange(true);
            let n = p.b.recv(p.now, s, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            p.now += synack::Duration::from_millis(1);
        }
        assert!(got == data, "every byte as sent");
        p.a.close(p.now, c).unwrap();
        p.exchange(true);
        assert_eq!(
            p.b.state(s),
            Some(State::CloseWait),
            "the partial FIN was taken"
        );
        p.b.close(p.now, s).unwrap();
        p.exchange(true);
        assert_eq!(p.a.state(c), Some(State::TimeWait));
        assert_eq!(p.b.counters().parse_dropped(ParseError::TcpChecksum), 0);
        assert!(
            p.to_b > 200,
            "the data went as partial segments: {}",
            p.to_b
        );
    }
}

/// The same packets offered as ordinary ones fail MUST-3: the SYN is dropped as a bad
/// checksum, counted, and nothing else happens.
#[test]
fn must_3_partial_checksums_are_bad_checksums_when_not_trusted() {
    let (mut p, a_addr, b_addr) = Pair::new("198.18.0.1", "198.18.0.2");
    let _l = p.b.listen(b_addr, 8).unwrap();
    let c = p.a.connect(p.now, Some(a_addr), b_addr).unwrap();
    p.exchange(false);
    assert_eq!(p.to_b, 1, "one SYN, not answered");
    assert_eq!(p.b.counters().parse_dropped(ParseError::TcpChecksum), 1);
    assert_eq!(p.b.connection_count(), 0);
    assert_eq!(p.a.state(c), Some(State::SynSent));
}

/// Trust covers TCP's checksum only: a trusted packet whose IPv4 header checksum is wrong is
/// still dropped, as an IP checksum error.
#[test]
fn must_3_trust_leaves_the_ipv4_header_checksum_checked() {
    let (mut p, a_addr, b_addr) = Pair::new("198.18.0.1", "198.18.0.2");
    let _l = p.b.listen(b_addr, 8).unwrap();
    p.a.connect(p.now, Some(a_addr), b_addr).unwrap();
    let mut buf = vec![0u8; 2000];
    let n = p.a.poll_transmit(p.now, &mut buf).expect("SYN");
    make_partial(&mut buf[..n]);
    buf[10] ^= 0x01; // the IPv4 header checksum
    p.b.handle_packet_trusted(p.now, &buf[..n]);
    assert_eq!(p.b.counters().parse_dropped(ParseError::IpChecksum), 1);
    assert_eq!(p.b.connection_count(), 0);
    buf[10] ^= 0x01;
    p.b.handle_packet_trusted(p.now, &buf[..n]);
    assert_eq!(
        p.b.connection_count(),
        1,
        "the intact one opens a connection"
    );
}
