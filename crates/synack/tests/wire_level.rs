//! What the connection machine sees of the wire (checklist 1.1, 1.3, MUST-49/50): reserved
//! bits, data offset, IP options, hop limit, and initial sequence numbers.
mod harness;
use harness::*;

/// Recompute the TCP checksum (and the IPv4 header checksum) of a packet we tampered with.
fn fix_checksums(p: &mut [u8]) {
    let v4 = p[0] >> 4 == 4;
    let ip_len = if v4 { (p[0] & 0x0F) as usize * 4 } else { 40 };
    let (src, dst): (std::net::IpAddr, std::net::IpAddr) = if v4 {
        (
            std::net::Ipv4Addr::new(p[12], p[13], p[14], p[15]).into(),
            std::net::Ipv4Addr::new(p[16], p[17], p[18], p[19]).into(),
        )
    } else {
        let a: [u8; 16] = p[8..24].try_into().unwrap();
        let b: [u8; 16] = p[24..40].try_into().unwrap();
        (a.into(), b.into())
    };
    if v4 {
        p[10] = 0;
        p[11] = 0;
        let sum = wire::checksum::checksum(&p[..ip_len]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    let tcp = &mut p[ip_len..];
    tcp[16] = 0;
    tcp[17] = 0;
    let sum = wire::checksum::tcp_checksum(src, dst, tcp);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn ep_2_reserved_bits_zero_on_send_ignored_on_receipt() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"hi")
        .hold();
    let mut p = t.take_held().pop().unwrap();
    p[20 + 12] |= 0x0F; // the four reserved bits, the former NS included
    fix_checksums(&mut p);
    t.inject_raw(&p);
    t.expect(ACK).ack(irs + 3);
    assert_eq!(t.recv(10).unwrap(), b"hi");
    // CWR and ECE are kept as flags but mean nothing without ECN.
    t.inject(ACK | TcpFlags::ECE | TcpFlags::CWR)
        .seq(irs + 3)
        .ack(iss + 1)
        .payload(b"!");
    t.expect(ACK).ack(irs + 4);
    t.send(b"x").unwrap();
    t.shutdown().unwrap();
    for s in &t.log {
        let ip_len = 20;
        assert_eq!(s.bytes[ip_len + 12] & 0x0F, 0, "{s}");
        assert!(!s.flags().intersects(TcpFlags::ECE | TcpFlags::CWR), "{s}");
    }
}

#[test]
fn ep_3_bad_data_offset_dropped() {
    let mut t = Tcp::v4();
    t.listen();
    for doff in [0u8, 4, 15] {
        t.inject(SYN).seq(1u32).hold();
        let mut p = t.take_held().pop().unwrap();
        p[20 + 12] = doff << 4;
        fix_checksums(&mut p);
        t.inject_raw(&p);
    }
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(
        t.counters().parse_dropped(wire::ParseError::TcpDataOffset),
        3
    );
}

#[test]
fn must_50_ip_options_ignored() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).hold();
    let p = t.take_held().pop().unwrap();
    // Insert 4 bytes of IPv4 options (NOP, NOP, NOP, EOL): IHL 6.
    let mut q = p[..20].to_vec();
    q.extend([1, 1, 1, 0]);
    q.extend_from_slice(&p[20..]);
    q[0] = 0x46;
    let total = q.len() as u16;
    q[2..4].copy_from_slice(&total.to_be_bytes());
    fix_checksums(&mut q);
    t.inject_raw(&q);
    t.expect(SYN | ACK).ack(irs + 1);
}

#[test]
fn must_49_hop_limit_configurable() {
    let mut t = Tcp::v4();
    t.connect();
    assert_eq!(t.next_seg().hop_limit, 64);
    let mut cfg = Tcp::config();
    cfg.hop_limit = 7;
    let mut t = Tcp::with_config(cfg.clone());
    t.connect();
    assert_eq!(t.next_seg().hop_limit, 7);
    let mut t = Tcp::v6_with_config(cfg);
    t.connect();
    assert_eq!(t.next_seg().hop_limit, 7);
    // RSTs of no connection too.
    let mut cfg = Tcp::config();
    cfg.hop_limit = 9;
    let mut t = Tcp::with_config(cfg);
    t.inject(ACK).seq(1u32).ack(1u32);
    assert_eq!(t.next_seg().hop_limit, 9);
}

fn iss_at(secret: u8, at: Instant, port: u16) -> SeqNum {
    let mut t = Tcp::with_config(Config::with_secret([secret; 16]));
    t.run_until(at);
    let remote = t.remote;
    let local = std::net::SocketAddr::new(t.local.ip(), port);
    t.stack.connect(t.now, Some(local), remote).unwrap();
    t.next_seg().seq()
}

#[test]
fn must_8_isn_clock_ticks_every_4us() {
    let a = iss_at(1, ms(0), 5000);
    let b = iss_at(1, ms(1000), 5000);
    let c = iss_at(1, us(1_000_004), 5000);
    assert_eq!(b - a, 250_000);
    assert_eq!(c - b, 1);
    // It wraps after 2^32 ticks (about 4.77 h), quietly.
    let d = iss_at(1, us(4 << 32), 5000);
    assert_eq!(d, a);
}

#[test]
fn must_9_shld_1_isn_keyed_by_secret_and_tuple() {
    let a = iss_at(1, ms(0), 5000);
    // Another secret: unrelated.
    assert_ne!(iss_at(2, ms(0), 5000), a);
    // Another port: not a small step from the first (a keyed PRF, not a counter).
    let b = iss_at(1, ms(0), 5001);
    let step = b.diff(a).unsigned_abs();
    assert!(step > 1_000_000, "{a} {b}");
}

#[test]
fn isn_2_ephemeral_ports_keyed() {
    let port = |secret: u8| {
        let mut t = Tcp::with_config(Config::with_secret([secret; 16]));
        let remote = t.remote;
        let c = t.stack.connect(t.now, None, remote).unwrap();
        t.stack.status(c).unwrap().local.port()
    };
    let ports: Vec<u16> = (1..=4).map(port).collect();
    for p in &ports {
        assert!((32768..=60999).contains(p));
    }
    ports.iter().enumerate().for_each(|(i, p)| {
        assert!(!ports[i + 1..].contains(p), "{ports:?}");
    });
}
