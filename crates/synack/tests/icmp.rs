//! ICMP and ICMPv6 errors (RFC 9293 §3.9.2.2: MUST-54..56, SHLD-25, SHLD-26; RFC 5927;
//! path MTU discovery, PM-1): found by the quoted segment, checked against what is in
//! flight, and acted on by class.

mod harness;
use harness::*;
use std::net::IpAddr;
use synack::wire::icmp::{emit_error, IcmpError};

/// A router between us and the peer.
fn router(t: &Tcp) -> IpAddr {
    if t.is_v6() {
        "2001:db8::fe".parse().unwrap()
    } else {
        "198.18.0.254".parse().unwrap()
    }
}

/// The first bytes of an IP packet carrying a TCP segment from us to the peer with these
/// ports and sequence number, as an ICMP error quotes it (IP header + 8 bytes of TCP).
fn quote(t: &Tcp, sport: u16, dport: u16, seq: SeqNum, total_len: u16) -> Vec<u8> {
    let mut q = Vec::new();
    match (t.local.ip(), t.remote.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total_len.to_be_bytes());
            h[6] = 0x40; // DF
            h[8] = 64;
            h[9] = 6;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            q.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = [0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(total_len - 40).to_be_bytes());
            h[6] = 6;
            h[7] = 64;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            q.extend_from_slice(&h);
        }
        _ => unreachable!(),
    }
    q.extend_from_slice(&sport.to_be_bytes());
    q.extend_from_slice(&dport.to_be_bytes());
    q.extend_from_slice(&seq.0.to_be_bytes());
    q
}

/// An ICMP(v6) error of `typ`/`code` quoting a segment of ours with sequence number `seq`.
fn icmp(t: &Tcp, sport: u16, dport: u16, typ: u8, code: u8, word: u32, seq: SeqNum) -> Vec<u8> {
    let q = quote(t, sport, dport, seq, 1500);
    emit_error(router(t), t.local.ip(), typ, code, word, &q).unwrap()
}

/// Port unreachable in either family.
fn port_unreachable(t: &Tcp) -> (u8, u8) {
    if t.is_v6() {
        (1, 4)
    } else {
        (3, 3)
    }
}

fn host_unreachable(t: &Tcp) -> (u8, u8) {
    if t.is_v6() {
        (1, 3)
    } else {
        (3, 1)
    }
}

fn packet_too_big(t: &Tcp, mtu: u32) -> (u8, u8, u32) {
    if t.is_v6() {
        (2, 0, mtu)
    } else {
        (3, 4, mtu)
    }
}

/// S-2: "A RST or ICMP Port Unreachable fails it at once with refused."
#[test]
fn must_54_port_unreachable_refuses_a_connect() {
    for mut t in [Tcp::v4(), Tcp::v6()] {
        t.connect();
        let syn = t.expect(SYN).seg();
        let (typ, code) = port_unreachable(&t);
        let p = icmp(
            &t,
            syn.hdr.src_port,
            syn.hdr.dst_port,
            typ,
            code,
            0,
            syn.hdr.seq,
        );
        t.inject_raw(&p);
        assert_eq!(t.close_reason(), Some(CloseReason::Refused));
        assert!(t.transitions().contains(&(State::SynSent, State::Closed)));
        assert_eq!(t.counters().icmp_in_errors, 1);
        t.expect_nothing();
    }
}

/// RFC 5927 §4.1: a quote whose sequence number we never sent (or that is already
/// acknowledged) is ignored — a blind attacker cannot guess it.
#[test]
fn must_54_quoted_sequence_number_must_be_in_flight() {
    for mut t in [Tcp::v4(), Tcp::v6()] {
        t.connect();
        let syn = t.expect(SYN).seg();
        let (typ, code) = port_unreachable(&t);
        for seq in [syn.hdr.seq + 1, syn.hdr.seq - 1, syn.hdr.seq + 100_000] {
            let p = icmp(&t, syn.hdr.src_port, syn.hdr.dst_port, typ, code, 0, seq);
            t.inject_raw(&p);
        }
        t.assert_state(State::SynSent);
        assert_eq!(t.counters().out_of_window_icmps, 3);
        // Wrong ports: no such connection.
        let p = icmp(
            &t,
            syn.hdr.src_port + 1,
            syn.hdr.dst_port,
            typ,
            code,
            0,
            syn.hdr.seq,
        );
        t.inject_raw(&p);
        t.assert_state(State::SynSent);
        assert_eq!(t.counters().icmp_no_socket, 1);
    }
}

/// Established with nothing in flight: no segment of ours can be the cause.
#[test]
fn must_54_nothing_in_flight_means_nothing_to_blame() {
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    t.new_events();
    let (typ, code) = port_unreachable(&t);
    let p = icmp(&t, t.local.port(), t.remote.port(), typ, code, 0, iss + 1);
    let before = t.stack.connections().len();
    t.inject_raw(&p);
    t.assert_state(State::Established);
    assert_eq!(t.counters().out_of_window_icmps, 1);
    assert_eq!(t.stack.connections().len(), before);
    assert!(t.new_events().is_empty());
}

#[test]
fn must_55_source_quench_is_discarded() {
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    t.send(&[7u8; 3000]).unwrap();
    let segs = t.take_sent();
    assert!(!segs.is_empty());
    let cwnd = t.status().cwnd;
    t.new_events();
    let p = icmp(&t, t.local.port(), t.remote.port(), 4, 0, 0, iss + 1);
    t.inject_raw(&p);
    t.assert_state(State::Established);
    assert_eq!(t.status().cwnd, cwnd, "no slow-down (RFC 6633)");
    assert_eq!(t.counters().icmp_source_quench, 1);
    assert!(t.new_events().is_empty());
    t.expect_nothing();
}

/// MUST-56: soft errors never abort, in any state — here during the handshake, where the
/// SYN goes on being retransmitted; when it finally times out the application hears the
/// network's reason (SHLD-25; Linux reports EHOSTUNREACH).
#[test]
fn must_56_soft_error_in_syn_sent_does_not_abort() {
    for mut t in [Tcp::v4(), Tcp::v6()] {
        t.connect();
        let syn = t.expect(SYN).seg();
        let (typ, code) = host_unreachable(&t);
        let p = icmp(
            &t,
            syn.hdr.src_port,
            syn.hdr.dst_port,
            typ,
            code,
            0,
            syn.hdr.seq,
        );
        t.inject_raw(&p);
        t.assert_state(State::SynSent);
        // The SYN is retransmitted after 1 s as usual.
        t.advance(dsecs(1));
        t.expect(SYN).seq(syn.hdr.seq);
        t.run_until(secs(200));
        assert_eq!(t.close_reason(), Some(CloseReason::Unreachable));
    }
}

#[test]
fn must_56_soft_errors_keep_an_established_connection_and_are_reported() {
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    t.send(b"hello").unwrap();
    t.expect(ACK | PSH).seq(iss + 1).len(5);
    t.new_events();
    // RFC 1122 4.2.3.9's soft list: unreachable net/host/source route, time exceeded,
    // parameter problem.
    let cases = [(3, 0), (3, 1), (3, 5), (11, 0), (11, 1), (12, 0)];
    for (typ, code) in cases {
        let p = icmp(&t, t.local.port(), t.remote.port(), typ, code, 0, iss + 1);
        t.inject_raw(&p);
        t.assert_state(State::Established);
    }
    let soft: Vec<_> = t
        .new_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::SoftError {
                error: SoftError::Icmp(e),
                ..
            } => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        soft,
        [
            IcmpError::NetUnreachable,
            IcmpError::HostUnreachable,
            IcmpError::SourceRouteFailed,
            IcmpError::TimeExceeded,
            IcmpError::TimeExceeded,
            IcmpError::ParameterProblem
        ]
    );
    // The data still gets through once the path heals.
    let peer = t.peer_isn;
    t.inject(ACK).seq(peer + 1).ack(iss + 6);
    assert_eq!(t.status().snd_una, (iss + 6).0);
}

/// SHLD-26 with RFC 5461 §4: once synchronized, even a "hard" error is only reported.
#[test]
fn shld_26_hard_errors_do_not_end_a_synchronized_connection() {
    for mut t in [Tcp::v4(), Tcp::v6()] {
        let iss = t.establish_active();
        t.send(b"data").unwrap();
        t.take_sent();
        t.new_events();
        let (typ, code) = port_unreachable(&t);
        let p = icmp(&t, t.local.port(), t.remote.port(), typ, code, 0, iss + 1);
        t.inject_raw(&p);
        t.assert_state(State::Established);
        assert!(t.saw(Event::SoftError {
            conn: t.c(),
            error: SoftError::Icmp(IcmpError::PortUnreachable)
        }));
    }
}

/// SHLD-26 for a passive half-open entry: it leaves the SYN queue silently (no RST, no
/// event: the application never knew of it).
#[test]
fn shld_26_hard_error_removes_a_half_open_entry() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let isn = t.peer_isn;
    t.inject(SYN).seq(isn).opts(SynOpts::mss(1460));
    let synack = t.expect(SYN | ACK).seg();
    assert_eq!(t.stack.syn_queue_len(l), 1);
    let p = icmp(&t, t.local.port(), t.remote.port(), 3, 3, 0, synack.hdr.seq);
    t.inject_raw(&p);
    assert_eq!(t.stack.syn_queue_len(l), 0);
    t.expect_nothing();
    // Nothing is retransmitted later either.
    t.advance(dsecs(5));
    t.expect_nothing();
    // Administratively prohibited ends an active open as "unreachable".
    let mut a = Tcp::v6();
    a.connect();
    let syn = a.expect(SYN).seg();
    let p = icmp(&a, syn.hdr.src_port, syn.hdr.dst_port, 1, 1, 0, syn.hdr.seq);
    a.inject_raw(&p);
    assert_eq!(a.close_reason(), Some(CloseReason::Unreachable));
}

/// PM-1: "fragmentation needed" / Packet Too Big lowers the MSS, and what was in flight is
/// sent again in smaller segments at once, without a congestion response.
#[test]
fn pm_1_packet_too_big_shrinks_segments_and_resends() {
    for mut t in [Tcp::v4(), Tcp::v6()] {
        let iss = t.establish_active();
        let data: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
        t.stack.set_nodelay(t.c(), true).unwrap();
        t.send(&data).unwrap();
        let first = t.take_sent();
        let old_mss = u32::from(t.status().mss);
        assert_eq!(first[0].payload.len() as u32, old_mss);
        let cwnd = t.status().cwnd;
        let (typ, code, mtu) = packet_too_big(&t, 1300);
        let p = icmp(&t, t.local.port(), t.remote.port(), typ, code, mtu, iss + 1);
        t.inject_raw(&p);
        let mss = if t.is_v6() { 1300 - 60 } else { 1300 - 40 };
        let again = t.take_sent();
        assert!(!again.is_empty(), "the flight is resent at once");
        assert_eq!(again[0].seq(), iss + 1, "from SND.UNA");
        assert!(
            again.iter().all(|s| s.payload.len() as u32 <= mss),
            "{again:?}"
        );
        assert_eq!(again[0].payload.len() as u32, mss);
        let resent: usize = again.iter().map(|s| s.payload.len()).sum();
        assert_eq!(resent, 4000, "all of the flight, once");
        assert_eq!(t.status().cwnd, cwnd, "not a congestion signal");
        assert_eq!(t.counters().pmtu_reductions, 1);
        // An increase, or a second report of the same size, changes nothing.
        let (typ, code, mtu) = packet_too_big(&t, 1400);
        let p = icmp(&t, t.local.port(), t.remote.port(), typ, code, mtu, iss + 1);
        t.inject_raw(&p);
        assert_eq!(t.counters().pmtu_reductions, 1);
        t.expect_nothing();
        // The peer acknowledges everything: every byte arrived once, at the new size.
        let peer = t.peer_isn;
        t.inject(ACK).seq(peer + 1).ack(iss + 4001);
        assert_eq!(t.status().snd_una, (iss + 4001).0);
    }
}

/// PM-1: absurdly small MTUs are floored (552 for IPv4, Linux min_pmtu; 1280 for IPv6,
/// RFC 8201 §4), so a forged message cannot shrink segments to a crawl.
#[test]
fn pm_1_small_mtu_reports_are_floored() {
    for mut t in [Tcp::v4(), Tcp::v6()] {
        let iss = t.establish_active();
        t.send(&[1u8; 3000]).unwrap();
        t.take_sent();
        let (typ, code, mtu) = packet_too_big(&t, 100);
        let p = icmp(&t, t.local.port(), t.remote.port(), typ, code, mtu, iss + 1);
        t.inject_raw(&p);
        let floor = if t.is_v6() { 1280 - 60 } else { 552 - 40 };
        let again = t.take_sent();
        assert_eq!(again[0].payload.len() as u32, floor);
    }
}

#[test]
fn damaged_icmp_is_counted_and_ignored() {
    let mut t = Tcp::v4();
    t.connect();
    let syn = t.expect(SYN).seg();
    let mut p = icmp(&t, syn.hdr.src_port, syn.hdr.dst_port, 3, 3, 0, syn.hdr.seq);
    let n = p.len();
    p[n - 1] ^= 0x40;
    t.inject_raw(&p);
    t.assert_state(State::SynSent);
    assert_eq!(t.counters().icmp_bad, 1);
    assert_eq!(t.counters().icmp_in_errors, 0);
}
