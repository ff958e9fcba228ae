//! Closing and TIME-WAIT (MAY-1, SHLD-4, TW-1, LX-16, LX-18), SYN cookies only when needed
//! (LX-9), Linux's defaults (LX-14), and the MSS option on every SYN (SHLD-5, MAY-3).
mod harness;
use harness::*;
use std::collections::HashSet;

#[test]
fn may_1_half_duplex_close_stops_reading() {
    // MAY-1: close() is a half-duplex close: the application stops reading too. Data that
    // arrives afterwards is never delivered; the peer learns of the loss by a RST (SHLD-3).
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let c = t.c();
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    t.assert_state(State::FinWait2);
    t.new_events();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 2)
        .payload(b"late")
        .at(ms(20));
    t.expect(RST | ACK).seq(iss + 2).ack(irs + 1).len(0);
    assert!(!t.new_events().contains(&Event::Readable { conn: c }));
    assert_eq!(t.recv(100), Err(Error::InvalidHandle));

    // The contrast: shutdown() closes only our direction; the data is delivered and ACKed.
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait2);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::FinWait2);
    t.inject(ACK | PSH)
        .seq(rcv_nxt)
        .ack(snd_nxt)
        .payload(b"late")
        .at(ms(20));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt + 4);
    assert_eq!(t.read_all(), b"late");
}

#[test]
fn shld_4_timestamps_let_a_new_syn_through_time_wait() {
    // SHLD-4 (RFC 6191, TW-3): both incarnations use timestamps, so a SYN is let through
    // TIME-WAIT when its TSval is newer, even with a sequence number below the old RCV.NXT
    // (which the sequence rule alone would refuse). Busy servers depend on this.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2);
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    let old = t.c();
    let last = t.peer_tsval(); // TS.Recent: the TSval of the peer's FIN
    let new_isn = irs - 1_000_000;
    // Not newer (equal): not provably a new incarnation. TIME-WAIT stays and answers.
    t.inject(SYN)
        .seq(new_isn)
        .opts(SynOpts::linux())
        .ts(last, 0)
        .at(secs(5));
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    // Newer: TIME-WAIT ends and the listener takes the SYN.
    t.inject(SYN)
        .seq(new_isn)
        .opts(SynOpts::linux())
        .ts(last + 1, 0)
        .at(secs(6));
    let synack = t.expect(SYN | ACK).ack(new_isn + 1).seg();
    assert_eq!(synack.opts().timestamps.map(|ts| ts.tsecr), Some(last + 1));
    assert_eq!(t.stack.state(old), None);
    t.inject(ACK)
        .seq(new_isn + 1)
        .ack(synack.seq() + 1)
        .ts(last + 2, synack.opts().timestamps.unwrap().tsval);
    let c = t.accept().expect("the new incarnation is accepted");
    assert_ne!(c, old);
    assert_eq!(t.stack.state(c), Some(State::Established));
    assert_eq!(t.counters().passive_opens, 2);
}

/// TIME-WAIT (we closed first at 0) hit at 5 s by an old duplicate, whose ACK draws a RST
/// from the peer at exactly our RCV.NXT: RFC 1337's hazard. Returns (SND.NXT, RCV.NXT).
fn old_duplicate_and_its_rst(t: &mut Tcp) -> (SeqNum, SeqNum) {
    t.establish_in(State::TimeWait);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs - 10_000)
        .ack(snd_nxt)
        .len(100)
        .at(secs(5));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).at(secs(5));
    t.inject(RST).seq(rcv_nxt).ack(0u32).at(secs(5));
    (snd_nxt, rcv_nxt)
}

#[test]
fn tw_1_old_rst_does_not_end_time_wait() {
    // TW-1: TIME-WAIT assassination (RFC 1337). With the F1 fix (default, TW-2) the RST is
    // ignored: TIME-WAIT keeps absorbing old duplicates and lasts its full 2MSL.
    let mut t = Tcp::v4();
    let (snd_nxt, rcv_nxt) = old_duplicate_and_its_rst(&mut t);
    t.expect_nothing();
    t.assert_state(State::TimeWait);
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs - 20_000)
        .ack(snd_nxt)
        .len(100)
        .at(secs(30));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).at(secs(30));
    t.run_until(ms(59_999));
    t.assert_state(State::TimeWait);
    t.run_until(secs(60));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    t.expect_nothing();
}

#[test]
fn lx_16_rfc1337_off_lets_a_rst_end_time_wait() {
    // LX-16: Linux's tcp_rfc1337 = 0, as the `rfc1337: false` knob. A RST that is in the
    // window but not at RCV.NXT still only draws a challenge ACK (BI-3) ...
    let mut cfg = Tcp::config();
    cfg.rfc1337 = false;
    let mut t = Tcp::with_config(cfg);
    t.establish_in(State::TimeWait);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    t.inject(RST).seq(rcv_nxt + 100).at(secs(1));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).at(secs(1));
    t.assert_state(State::TimeWait);
    // ... but the assassination RST at RCV.NXT ends TIME-WAIT at once.
    let mut cfg = Tcp::config();
    cfg.rfc1337 = false;
    let mut t = Tcp::with_config(cfg);
    let (snd_nxt, _) = old_duplicate_and_its_rst(&mut t);
    t.assert_state(State::Closed);
    t.expect_nothing();
    let conn = t.c();
    assert!(t.saw(Event::StateChanged {
        conn,
        from: State::TimeWait,
        to: State::Closed,
        cause: Cause::RecvRst,
    }));
    // The 4-tuple is unprotected now: the next old duplicate meets the listener's RST
    // (hazards H2/H3) instead of TIME-WAIT's ACK.
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs - 20_000)
        .ack(snd_nxt)
        .len(100)
        .at(secs(6));
    t.expect(RST).seq(snd_nxt).len(0);
}

#[test]
fn lx_18_close_with_unread_data_resets_and_ephemeral_range() {
    // close() with unread data sends RST, not FIN, in CLOSE-WAIT too (the FIN is unread).
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"unread");
    t.expect(ACK).ack(irs + 7);
    t.inject(FIN | ACK).seq(irs + 7).ack(iss + 1);
    t.expect(ACK).ack(irs + 8);
    t.assert_state(State::CloseWait);
    t.close().unwrap();
    t.expect(RST | ACK).seq(iss + 1).ack(irs + 8).len(0);
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    // Everything read first: a normal FIN.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"read");
    t.expect(ACK).ack(irs + 5);
    assert_eq!(t.read_all(), b"read");
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 5);

    // Ephemeral ports come from 32768-60999, each 4-tuple once.
    let mut t = Tcp::v4();
    assert_eq!(Config::default().ephemeral_ports, (32768, 60999));
    let remote = t.remote;
    let mut ports = HashSet::new();
    for _ in 0..300 {
        let c = t.stack.connect(t.now, None, remote).unwrap();
        let p = t.stack.status(c).unwrap().local.port();
        assert!((32768..=60999).contains(&p), "{p}");
        assert!(ports.insert(p), "{p} twice");
    }
    // The knob: four ports give four connections to one remote, then no more.
    let mut cfg = Tcp::config();
    cfg.ephemeral_ports = (50000, 50003);
    let mut t = Tcp::with_config(cfg);
    let remote = t.remote;
    let mut ports = HashSet::new();
    for _ in 0..4 {
        let c = t.stack.connect(t.now, None, remote).unwrap();
        ports.insert(t.stack.status(c).unwrap().local.port());
    }
    assert_eq!(ports, (50000..=50003).collect());
    assert_eq!(
        t.stack.connect(t.now, None, remote),
        Err(Error::NoPortsAvailable)
    );
}

#[test]
fn lx_9_syn_cookies_only_when_the_syn_queue_is_full() {
    assert_eq!(Config::default().syncookies, SynCookies::WhenFull);
    let mut cfg = Tcp::config();
    cfg.max_syn_backlog = 2;
    let mut t = Tcp::with_config(cfg);
    let l = t.listen();
    // Room in the half-open queue: ordinary, stateful SYN,ACKs.
    t.inject(SYN).src_port(40001).seq(100u32).mss(1460);
    let iss1 = t.expect(SYN | ACK).ack(101u32).seq_any();
    t.inject(SYN).src_port(40002).seq(200u32).mss(1460);
    t.expect(SYN | ACK).ack(201u32);
    assert_eq!(t.stack.syn_queue_len(l), 2);
    assert_eq!(t.counters().syncookies_sent, 0);
    // Full: a cookie, and no state.
    t.inject(SYN).src_port(40003).seq(300u32).mss(1460);
    t.expect(SYN | ACK).ack(301u32);
    assert_eq!(t.counters().syncookies_sent, 1);
    assert_eq!(t.stack.syn_queue_len(l), 2);
    assert_eq!(t.stack.connection_count(), 2);
    // An entry completes and leaves the half-open queue: stateful again.
    t.inject(ACK).src_port(40001).seq(101u32).ack(iss1 + 1);
    assert_eq!(t.stack.accept_queue_len(l), 1);
    assert_eq!(t.stack.syn_queue_len(l), 1);
    t.inject(SYN).src_port(40004).seq(400u32).mss(1460);
    t.expect(SYN | ACK).ack(401u32);
    assert_eq!(t.counters().syncookies_sent, 1);
    assert_eq!(t.stack.syn_queue_len(l), 2);
    assert_eq!(t.stack.connection_count(), 3);

    // tcp_syncookies = 2: always, even with an empty queue.
    let mut cfg = Tcp::config();
    cfg.syncookies = SynCookies::Always;
    let mut t = Tcp::with_config(cfg);
    let l = t.listen();
    t.inject(SYN).src_port(40001).seq(100u32).mss(1460);
    t.expect(SYN | ACK).ack(101u32);
    assert_eq!(t.counters().syncookies_sent, 1);
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn lx_14_timestamps_window_scaling_and_sack_on_by_default() {
    let d = Config::default();
    assert!(d.timestamps && d.window_scaling && d.sack);
    // On the wire: the SYN offers all three ...
    let mut t = Tcp::v4();
    t.connect();
    let syn = t.expect(SYN).seg();
    assert!(syn.opts().timestamps.is_some(), "{syn}");
    assert!(syn.opts().window_scale.is_some(), "{syn}");
    assert!(syn.opts().sack_permitted, "{syn}");
    // ... and the SYN,ACK accepts all three from a Linux peer.
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::linux());
    let synack = t.expect(SYN | ACK).ack(irs + 1).sack_ok(true).seg();
    assert!(synack.opts().timestamps.is_some(), "{synack}");
    assert!(synack.opts().window_scale.is_some(), "{synack}");
}

/// The MSS option on the SYN (active) or SYN,ACK (passive, answering a SYN without
/// options), and on their first retransmission one second later.
fn syn_mss(t: &mut Tcp, active: bool) -> [Option<u16>; 2] {
    let flags = if active {
        t.connect();
        SYN
    } else {
        t.listen();
        let irs = t.peer_isn;
        t.inject(SYN).seq(irs);
        SYN | ACK
    };
    let first = t.expect(flags).seg();
    t.run_until(ms(1500));
    let again = t.expect(flags).at(secs(1)).seg();
    [first.opts().mss, again.opts().mss]
}

#[test]
fn shld_5_mss_sent_on_every_syn_when_not_the_default() {
    // SHLD-5: at MTU 1500 our MSS (1460 / 1440) differs from 536 / 1220, so every SYN and
    // SYN,ACK carries it, retransmissions included, whatever the peer's SYN had.
    for active in [true, false] {
        assert_eq!(syn_mss(&mut Tcp::v4(), active), [Some(1460); 2]);
        assert_eq!(syn_mss(&mut Tcp::v6(), active), [Some(1440); 2]);
    }
}

#[test]
fn may_3_mss_sent_even_when_it_is_the_default() {
    // MAY-3: sent regardless, even when it equals the default (MTU 576: 536; IPv6 MTU 1280:
    // 1220), and on a stateless SYN-cookie SYN,ACK.
    for active in [true, false] {
        let mut cfg = Tcp::config();
        cfg.mtu = 576;
        assert_eq!(syn_mss(&mut Tcp::with_config(cfg), active), [Some(536); 2]);
        let mut cfg = Tcp::config();
        cfg.mtu = 1280;
        assert_eq!(
            syn_mss(&mut Tcp::v6_with_config(cfg), active),
            [Some(1220); 2]
        );
    }
    let mut cfg = Tcp::config();
    cfg.syncookies = SynCookies::Always;
    let mut t = Tcp::with_config(cfg);
    t.listen();
    t.inject(SYN).seq(100u32);
    t.expect(SYN | ACK).ack(101u32).mss(Some(1460));
    assert_eq!(t.counters().syncookies_sent, 1);
}
