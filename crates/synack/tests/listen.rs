//! Listeners and their queues (LX-8, SF-2), the stale-SYN scenario (S-1), self-connect and
//! simultaneous open through one stack (EP-23, S-10).
mod harness;
use harness::*;

#[test]
fn lx_8_syn_dropped_while_accept_queue_full() {
    let mut t = Tcp::v4();
    let local = t.local;
    // Backlog 1: like Linux, the queue is full once it holds more than 1.
    let l = t.stack.listen(local, 1).unwrap();
    t.listener = Some(l);
    for port in [40001u16, 40002] {
        t.inject(SYN).src_port(port).seq(100u32).mss(1460);
        let iss = t.expect(SYN | ACK).ack(101u32).seq_any();
        t.inject(ACK).src_port(port).seq(101u32).ack(iss + 1);
    }
    assert_eq!(t.stack.accept_queue_len(l), 2);
    // A third client's SYN is dropped (no SYN,ACK, no RST) while the queue is full.
    t.inject(SYN).src_port(40003).seq(100u32).mss(1460);
    t.expect_nothing();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.counters().listen_overflows, 1);
    // One accept makes room: its retransmitted SYN gets in.
    t.accept().unwrap();
    t.inject(SYN)
        .src_port(40003)
        .seq(100u32)
        .mss(1460)
        .at(secs(1));
    t.expect(SYN | ACK).ack(101u32).at(secs(1));
    assert_eq!(t.stack.syn_queue_len(l), 1);
}

#[test]
fn lx_8_third_ack_dropped_when_queue_full_then_retried() {
    let mut t = Tcp::v4();
    let local = t.local;
    let l = t.stack.listen(local, 0).unwrap();
    t.listener = Some(l);
    // Backlog 0: one connection fits (the queue is full when it holds more than 0).
    t.inject(SYN).src_port(40001).seq(100u32).mss(1460);
    let iss1 = t.expect(SYN | ACK).seq_any();
    t.inject(SYN).src_port(40002).seq(500u32).mss(1460);
    let iss2 = t.expect(SYN | ACK).seq_any();
    t.inject(ACK).src_port(40001).seq(101u32).ack(iss1 + 1);
    assert_eq!(t.stack.accept_queue_len(l), 1);
    // The second third ACK finds the queue full: dropped, the entry stays half-open and
    // its SYN,ACK is retransmitted.
    t.inject(ACK).src_port(40002).seq(501u32).ack(iss2 + 1);
    t.expect_nothing();
    assert_eq!(t.stack.accept_queue_len(l), 1);
    assert_eq!(t.stack.syn_queue_len(l), 1);
    t.run_until(secs(1));
    t.expect(SYN | ACK).seq(iss2).ack(501u32).at(secs(1));
    // After an accept, the client's next ACK gets in.
    t.accept().unwrap();
    t.inject(ACK).src_port(40002).seq(501u32).ack(iss2 + 1);
    assert_eq!(t.stack.accept_queue_len(l), 1);
}

#[test]
fn sf_2_syn_queue_bounded() {
    let mut cfg = Tcp::config();
    cfg.max_syn_backlog = 3;
    cfg.syncookies = SynCookies::Never; // tcp_syncookies = 0: a full queue drops SYNs
    let mut t = Tcp::with_config(cfg);
    let l = t.listen();
    for port in 40001..40011u16 {
        t.inject(SYN).src_port(port).seq(100u32).mss(1460);
    }
    assert_eq!(t.take_sent().len(), 3);
    assert_eq!(t.stack.syn_queue_len(l), 3);
    assert_eq!(t.stack.connection_count(), 3);
    assert_eq!(t.counters().dropped(DropReason::SynQueueFull), 7);
    // When an entry times out (63 s), room returns.
    t.run_until(secs(63));
    t.take_sent();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    t.inject(SYN).src_port(40020).seq(100u32).mss(1460);
    t.expect(SYN | ACK).ack(101u32);
}

/// LX-8: with tcp_syncookies = 0 Linux keeps the last quarter of tcp_max_syn_backlog for
/// peers it has TCP metrics for; synack keeps none, so a flood of new peers stops at 3/4
/// (accepted while max - qlen >= max / 4). With cookies on, the whole queue is used first.
#[test]
fn lx_8_without_cookies_new_peers_get_three_quarters_of_the_syn_queue() {
    for (cookies, queued) in [(SynCookies::Never, 13), (SynCookies::WhenFull, 16)] {
        let mut cfg = Tcp::config();
        cfg.max_syn_backlog = 16;
        cfg.syncookies = cookies;
        let mut t = Tcp::with_config(cfg);
        let l = t.listen();
        for port in 40001..40031u16 {
            t.inject(SYN).src_port(port).seq(100u32).mss(1460);
        }
        assert_eq!(t.stack.syn_queue_len(l), queued, "{cookies:?}");
        let dropped = t.counters().dropped(DropReason::SynQueueFull);
        match cookies {
            SynCookies::Never => {
                assert_eq!(dropped, 30 - 13);
                assert_eq!(t.counters().listen_drops, 30 - 13);
            }
            _ => {
                assert_eq!(dropped, 0);
                assert_eq!(t.counters().syncookies_sent, 30 - 16);
            }
        }
    }
}

#[test]
fn sf_4_full_syn_queue_answers_with_cookies() {
    // Default (tcp_syncookies = 1): beyond the bound, SYNs get stateless SYN,ACKs.
    let mut cfg = Tcp::config();
    cfg.max_syn_backlog = 3;
    let mut t = Tcp::with_config(cfg);
    let l = t.listen();
    for port in 40001..40011u16 {
        t.inject(SYN).src_port(port).seq(100u32).mss(1460);
    }
    assert_eq!(t.take_sent().len(), 10);
    assert_eq!(t.stack.syn_queue_len(l), 3);
    assert_eq!(
        t.stack.connection_count(),
        3,
        "no state for cookie SYN,ACKs"
    );
    assert_eq!(t.counters().syncookies_sent, 7);
    assert_eq!(t.counters().dropped(DropReason::SynQueueFull), 0);
}

#[test]
fn s_1_stale_syn_refused_by_peer() {
    let mut t = Tcp::v4();
    let l = t.listen();
    // An old duplicate SYN(Z) arrives ...
    let z = SeqNum(777_777);
    t.inject(SYN).seq(z).mss(1460).payload(b"stale data");
    t.expect(SYN | ACK).ack(z + 11);
    // ... the peer, which never sent it, answers our SYN,ACK with <SEQ=SEG.ACK><RST>.
    t.inject(RST).seq(z + 11);
    t.expect_nothing();
    // Back to LISTEN; nothing reaches the application, no stale data is ever delivered.
    t.assert_gone();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.stack.accept_queue_len(l), 0);
    assert!(!t
        .events
        .iter()
        .any(|e| matches!(e, Event::AcceptReady { .. } | Event::Readable { .. })));
}

#[test]
fn s_1_stale_syn_without_data() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let z = SeqNum(777_777);
    t.inject(SYN).seq(z).mss(1460);
    t.expect(SYN | ACK).ack(z + 1);
    t.inject(RST).seq(z + 1);
    t.expect_nothing();
    t.assert_gone();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.counters().attempt_fails, 1);
}

/// Feed every packet the stack sends back into it until it falls silent.
fn loopback(t: &mut Tcp) -> Vec<Seg> {
    let mut all = Vec::new();
    for _ in 0..100 {
        let sent = t.take_sent();
        if sent.is_empty() {
            return all;
        }
        for s in sent {
            t.inject_raw(&s.bytes);
            all.push(s);
        }
    }
    panic!("loopback never settles\n{}", t.trace());
}

#[test]
fn ep_23_self_connect() {
    let mut t = Tcp::v4();
    let me: std::net::SocketAddr = "198.18.0.1:5555".parse().unwrap();
    let c = t.stack.connect(t.now, Some(me), me).unwrap();
    t.conn = Some(c);
    let segs = loopback(&mut t);
    // SYN to ourselves -> SYN-RECEIVED (simultaneous open with ourselves) -> SYN,ACK ->
    // ESTABLISHED, exactly one connection.
    let iss = segs[0].seq();
    assert_eq!(segs[0].flags(), SYN);
    assert_eq!(
        (segs[1].flags(), segs[1].seq(), segs[1].ack()),
        (SYN | ACK, iss, iss + 1)
    );
    t.assert_state(State::Established);
    assert_eq!(t.stack.connection_count(), 1);
    // Data to ourselves.
    t.send(b"echo").unwrap();
    loopback(&mut t);
    assert_eq!(t.recv(10).unwrap(), b"echo");
    // And a close with ourselves: both FINs are the same FIN.
    t.shutdown().unwrap();
    loopback(&mut t);
    assert_eq!(t.recv(10).unwrap(), b"");
    assert!(
        matches!(t.state(), Some(State::TimeWait | State::Closing)),
        "{}",
        t.trace()
    );
}

/// A listener that answers every SYN with a cookie (tcp_syncookies = 2).
fn cookie_listener() -> Tcp {
    let mut cfg = Tcp::config();
    cfg.syncookies = SynCookies::Always;
    let mut t = Tcp::with_config(cfg);
    t.listen();
    t
}

#[test]
fn sf_6_cookie_rebuilds_mss_wscale_sack_and_keeps_data_on_the_ack() {
    let mut t = cookie_listener();
    let irs = SeqNum(5000);
    t.inject(SYN).seq(irs).options(TcpOptions {
        mss: Some(1400),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(Timestamps {
            tsval: 777,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    });
    // Its window is the stateful SYN,ACK's: 45 segments of 1448 (LX-19).
    let synack = t.expect(SYN | ACK).ack(irs + 1).tsecr(777).win(65160).seg();
    assert_eq!(
        t.stack.connection_count(),
        0,
        "a cookie SYN,ACK keeps no state"
    );
    assert_eq!(t.counters().syncookies_sent, 1);
    let iss = synack.seq();
    let tsval = synack.opts().timestamps.unwrap().tsval;
    // SF-6: WS 7 and SACK-permitted ride in the low bits of our TSval.
    assert_eq!(tsval & 0xF, 7);
    assert_eq!(tsval & 0x10, 0x10);
    // The third segment carries data (S-5 on a cookie connection, SF-7).
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .win(100)
        .ts(778, tsval)
        .payload(b"hello");
    assert_eq!(t.counters().syncookies_recv, 1);
    let c = t.accept().expect("cookie connection in the accept queue");
    assert_eq!(t.stack.state(c), Some(State::Established));
    assert_eq!(t.read_all(), b"hello");
    let info = t.status();
    assert_eq!(
        info.mss,
        1300 - 12,
        "1400 rounded down to the table, less timestamps"
    );
    assert_eq!(info.snd_wnd, 100 << 7, "the peer's window scale came back");
    t.expect(ACK).ack(irs + 6).tsecr(778);
}

#[test]
fn sf_7_cookie_without_timestamps_offers_no_wscale_or_sack() {
    let mut t = cookie_listener();
    let irs = SeqNum(9000);
    t.inject(SYN)
        .seq(irs)
        .opts(SynOpts::mss(1460).with_wscale(7).with_sack());
    let iss = t
        .expect(SYN | ACK)
        .ack(irs + 1)
        .wscale(None)
        .sack_ok(false)
        .win(64240) // 44 segments of 1460 (LX-19)
        .seg()
        .seq();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(1000);
    t.accept().expect("connection from the cookie");
    let info = t.status();
    assert_eq!(info.mss, 1460);
    assert_eq!(info.snd_wnd, 1000, "no scaling without timestamps");
}

#[test]
fn sf_5_stale_and_forged_cookies_are_rejected() {
    let mut t = cookie_listener();
    let irs = SeqNum(100);
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).seq_any();
    // More than two minutes later the cookie has expired: RST, no connection.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).at(secs(181));
    t.expect(RST).seq(iss + 1);
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(
        t.counters().syncookies_failed,
        0,
        "no cookie sent in the last 2 min"
    );
    // A fresh SYN, then a forged ACK (wrong cookie): RST and a failed-cookie count.
    t.inject(SYN).seq(irs).mss(1460).at(secs(200));
    let iss = t.expect(SYN | ACK).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1 + 77_777);
    t.expect(RST).seq(iss + 1 + 77_777);
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.counters().syncookies_failed, 1);
    assert_eq!(t.counters().syncookies_recv, 0);
}
