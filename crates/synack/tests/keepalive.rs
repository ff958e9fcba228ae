//! Keep-alive (RFC 9293 §3.8.4: MUST-24..29, SHLD-12; RFC 1122 §4.2.3.6, KA-1; Linux
//! defaults KA-2, LX-13).

mod harness;
use harness::*;

fn ka(idle: u64, interval: u64, probes: u32) -> KeepAlive {
    KeepAlive {
        idle: dsecs(idle),
        interval: dsecs(interval),
        probes,
    }
}

/// Keep-alive probes the stack sent: empty ACKs one below SND.NXT.
fn probes(t: &mut Tcp) -> Vec<Seg> {
    t.take_sent()
        .into_iter()
        .filter(|s| s.flags() == ACK && s.payload.is_empty())
        .collect()
}

/// MAY-5: keep-alive is offered, and (MUST-25, LX-13: SO_KEEPALIVE off) off by default.
#[test]
fn must_25_keepalive_is_off_by_default() {
    let mut t = Tcp::v4();
    t.establish_active();
    assert_eq!(t.stack.keepalive(t.c()), None);
    t.run_until(secs(20_000));
    t.expect_nothing();
    t.assert_state(State::Established);
    assert_eq!(t.counters().keepalive_probes, 0);
}

/// MUST-24 and MUST-28 / KA-2: switched on per connection, the default waits 7200 s of
/// silence, then probes every 75 s; the ninth unanswered probe is followed, 75 s later, by
/// a RST and "timed out": 7875 s after the last segment (KA-1, LX-13: Linux's 7200/75/9).
#[test]
fn must_29_nine_unanswered_probes_then_reset_at_7875_s() {
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    t.stack
        .set_keepalive(t.now, t.c(), Some(KeepAlive::default()))
        .unwrap();
    assert_eq!(t.stack.keepalive(t.c()), Some(KeepAlive::default()));
    let mut times = Vec::new();
    for _ in 0..9 {
        let p = t.run_until_sent(secs(10_000));
        // SHLD-12: no data, SEG.SEQ = SND.NXT - 1.
        assert_eq!(p.flags(), ACK);
        assert!(p.payload.is_empty());
        assert_eq!(p.seq(), iss);
        times.push(p.at.as_millis() / 1000);
        t.assert_state(State::Established);
    }
    let expected: Vec<u64> = (0..9).map(|i| 7200 + 75 * i).collect();
    assert_eq!(times, expected);
    let rst = t.run_until_sent(secs(10_000));
    assert!(rst.flags().rst());
    assert_eq!(rst.at, secs(7875));
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    assert_eq!(t.counters().keepalive_probes, 9);
    assert_eq!(t.counters().keepalive_timeouts, 1);
}

/// MUST-27: the timing is configurable, per connection or for the whole stack.
#[test]
fn must_27_timing_is_configurable() {
    let mut config = Tcp::config();
    config.keepalive = Some(ka(30, 5, 3));
    let mut t = Tcp::with_config(config);
    t.establish_passive();
    assert_eq!(t.stack.keepalive(t.c()), Some(ka(30, 5, 3)));
    t.run_until(secs(100));
    let sent = t.take_sent();
    let at: Vec<(u64, bool)> = sent
        .iter()
        .map(|s| (s.at.as_millis() / 1000, s.flags().rst()))
        .collect();
    assert_eq!(at, [(30, false), (35, false), (40, false), (45, true)]);
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
}

/// MUST-29 / MUST-26: one answered probe is enough; the idle time starts again from the
/// answer, and the probe count is forgotten.
#[test]
fn must_26_an_answer_restarts_the_idle_time() {
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    t.stack
        .set_keepalive(t.now, t.c(), Some(ka(60, 10, 2)))
        .unwrap();
    let p1 = t.run_until_sent(secs(1000));
    assert_eq!(p1.at, secs(60));
    let p2 = t.run_until_sent(secs(1000));
    assert_eq!(p2.at, secs(70));
    // The peer answers the second probe (an ACK for what it has).
    t.advance(dsecs(1));
    let peer = t.peer_isn;
    t.inject(ACK).seq(peer + 1).ack(iss + 1);
    let p3 = t.run_until_sent(secs(1000));
    assert_eq!(p3.at, secs(131), "idle again from the answer at 71 s");
    assert!(!p3.flags().rst());
    let p4 = t.run_until_sent(secs(1000));
    assert_eq!(p4.at, secs(141));
    let rst = t.run_until_sent(secs(1000));
    assert!(rst.flags().rst(), "two probes unanswered after the answer");
    assert_eq!(rst.at, secs(151));
}

/// MUST-26: data received counts as traffic; the first probe waits for `idle` after it.
#[test]
fn must_26_received_data_postpones_the_probe() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    t.stack
        .set_keepalive(t.now, t.c(), Some(ka(100, 10, 3)))
        .unwrap();
    t.advance(dsecs(50));
    let irs = t.peer_isn;
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 1).payload(b"hi");
    t.run_until(secs(60));
    t.take_sent(); // the delayed ACK
    let p = t.run_until_sent(secs(1000));
    assert_eq!(p.at, secs(150));
    assert_eq!(p.seq(), iss, "SND.NXT - 1");
    assert_eq!(p.ack(), irs + 3);
}

/// MUST-26: never probe while data is outstanding; the retransmission timer is in charge.
#[test]
fn must_26_no_probe_while_data_is_outstanding() {
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    t.stack
        .set_keepalive(t.now, t.c(), Some(ka(5, 1, 3)))
        .unwrap();
    t.send(b"unacknowledged").unwrap();
    t.expect(ACK | PSH).seq(iss + 1).len(14);
    t.run_until(secs(60));
    assert_eq!(t.counters().keepalive_probes, 0);
    let sent = t.take_sent();
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|s| s.payload.len() == 14 && s.seq() == iss + 1),
        "only retransmissions: {sent:?}"
    );
    t.assert_state(State::Established);
}

/// MUST-24: switched off again, no more probes.
#[test]
fn must_24_keepalive_can_be_switched_off() {
    let mut t = Tcp::v6();
    t.establish_active();
    let c = t.c();
    t.stack.set_keepalive(t.now, c, Some(ka(10, 1, 1))).unwrap();
    t.run_until(secs(5));
    t.stack.set_keepalive(t.now, c, None).unwrap();
    t.run_until(secs(100));
    t.expect_nothing();
    assert_eq!(probes(&mut t).len(), 0);
    t.assert_state(State::Established);
    // Linux's limits: absurd values are clamped, not refused.
    t.stack
        .set_keepalive(t.now, c, Some(ka(1_000_000, 0, 1000)))
        .unwrap();
    assert_eq!(t.stack.keepalive(c), Some(ka(32767, 1, 127)));
}

/// A probe is answered like any old segment: the other end's stack ACKs it (its sequence
/// number is just below RCV.NXT) without disturbing the connection.
#[test]
fn shld_12_probe_from_the_peer_draws_an_ack() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.advance(dsecs(7200));
    t.inject(ACK).seq(irs).ack(iss + 1);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.assert_state(State::Established);
}
