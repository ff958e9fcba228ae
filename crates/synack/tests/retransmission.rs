//! Retransmission (checklist 1.11 and section 2): the RFC 6298 timer as a whole (MUST-18),
//! R2 and the orphan retry count (MUST-20b, SHLD-11), one RTT sample per round trip
//! (RTO-7), never retransmitting early (RTO-9), timer restart and stop (RTO-10), and never
//! being more aggressive than RFC 6298 (RTO-14).
mod harness;
use harness::*;

/// RFC 6298 in integer microseconds, as the RFC writes it: (SRTT, RTTVAR) after `samples`.
fn rfc6298(samples: &[u64]) -> (u64, u64) {
    let (mut srtt, mut rttvar) = (samples[0], samples[0] / 2); // RTO-2
    for &r in &samples[1..] {
        rttvar = (3 * rttvar + srtt.abs_diff(r)) / 4; // RTO-3: beta first, on the old SRTT
        srtt = (7 * srtt + r) / 8;
    }
    (srtt, rttvar)
}

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// Send times (ms) and sequence numbers of the unchecked segments.
fn sent(t: &mut Tcp) -> Vec<(Instant, SeqNum, usize)> {
    t.take_sent()
        .iter()
        .map(|s| (s.at, s.seq(), s.payload.len()))
        .collect()
}

#[test]
fn must_18_rto_computed_by_rfc_6298_with_karn() {
    // MUST-18: the RTO comes from RFC 6298 (RTO-2, RTO-3, Linux's 200 ms floor on the
    // variance term, decision 2), the timer fires at exactly that RTO, backs off, and an
    // ambiguous ACK gives no sample (Karn, RTO-6).
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).at(ms(0)).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .mss(1460)
        .at(ms(100));
    t.expect(ACK).seq(iss + 1).ack(irs + 1).at(ms(100));
    // First sample R = 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + max(4 * 50, 200) = 300 ms.
    assert_eq!(t.status().srtt, Some(dms(100)));
    assert_eq!(t.status().rto, dms(300));
    t.send(b"a").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"a").at(ms(100));
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(160));
    // R' = 60 ms: RTTVAR = 3/4 * 50 + 1/4 * |100 - 60| = 47.5, SRTT = 7/8 * 100 + 1/8 * 60
    // = 95, RTO = 95 + max(190, 200) = 295 ms.
    assert_eq!(t.status().srtt, Some(dms(95)));
    assert_eq!(t.status().rto, dms(295));
    t.send(b"b").unwrap();
    t.expect(PSH | ACK).seq(iss + 2).payload(b"b").at(ms(160));
    t.run_until(ms(454));
    t.expect_nothing();
    t.run_until(ms(455));
    t.expect(PSH | ACK).seq(iss + 2).payload(b"b").at(ms(455));
    assert_eq!(t.status().rto, dms(590), "RTO-11: doubled");
    // The ACK could be for either transmission: no sample, the backed-off RTO stays.
    t.inject(ACK).seq(irs + 1).ack(iss + 3).at(ms(500));
    assert_eq!(t.status().srtt, Some(dms(95)));
    assert_eq!(t.status().rto, dms(590));
    // The next segment is timed with the backed-off RTO.
    t.send(b"c").unwrap();
    t.expect(PSH | ACK).seq(iss + 3).at(ms(500));
    t.run_until(ms(1089));
    t.expect_nothing();
    t.run_until(ms(1090));
    t.expect(PSH | ACK).seq(iss + 3).payload(b"c").at(ms(1090));
}

#[test]
fn must_20b_r2_aborts_after_retries2() {
    // MUST-20b: at R2 retransmissions (the `retries2` knob, here 4 > R1 = 3) the connection
    // is closed and the application told "timed out". No RST goes out.
    let mut cfg = Tcp::config();
    cfg.retries2 = 4;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let c = t.c();
    t.new_events();
    t.send(b"lost").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).at(ms(0));
    // RTO 200 ms doubling: retransmissions at 0.2, 0.6, 1.4 and 3.0 s.
    t.run_until(ms(6199));
    assert_eq!(
        sent(&mut t),
        [
            (ms(200), iss + 1, 4),
            (ms(600), iss + 1, 4),
            (ms(1400), iss + 1, 4),
            (ms(3000), iss + 1, 4)
        ]
    );
    t.assert_state(State::Established);
    // The fifth expiry (RTO 3.2 s after the fourth retransmission) closes it.
    t.run_until(ms(6200));
    t.expect_nothing();
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    assert!(t.saw(Event::StateChanged {
        conn: c,
        from: State::Established,
        to: State::Closed,
        cause: Cause::RetriesExhausted,
    }));
    assert_eq!(t.send(b"x"), Err(Error::Closed(CloseReason::TimedOut)));
    assert_eq!(t.counters().abort_on_timeout, 1);
    assert_eq!(t.counters().out_rsts, 0);
}

#[test]
fn must_20b_orphan_uses_orphan_retries() {
    // MUST-20b for a connection the application has closed: `orphan_retries` (here 2), not
    // `retries2` (15), decides.
    let mut cfg = Tcp::config();
    cfg.orphan_retries = 2;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1).at(ms(0));
    t.run_until(ms(1399));
    t.expect(FIN | ACK).seq(iss + 1).at(ms(200));
    t.expect(FIN | ACK).seq(iss + 1).at(ms(600));
    t.expect_nothing();
    t.assert_state(State::FinWait1);
    t.run_until(ms(1400));
    t.expect_nothing();
    t.assert_gone();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.counters().abort_on_timeout, 1);
}

#[test]
fn shld_11_r2_lasts_at_least_100s() {
    // SHLD-11: R2 corresponds to at least 100 s. Default retries2 = 15 even at the shortest
    // RTO the stack uses (the 200 ms floor, SRTT 0 from the handshake): alive at 100 s,
    // given up only at 924.6 s.
    assert_eq!(Config::default().retries2, 15);
    let mut t = Tcp::v4();
    t.establish_passive();
    assert_eq!(t.status().rto, dms(200));
    t.send(b"lost").unwrap();
    t.run_until(secs(100));
    t.assert_state(State::Established);
    t.run_until(ms(924_599));
    t.assert_state(State::Established);
    t.run_until(ms(924_600));
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
}

#[test]
fn rto_7_one_rtt_sample_per_round_trip() {
    // RTO-7: without timestamps, one segment per round trip is timed, and every round trip
    // feeds the estimator: after each, SRTT is exactly what RFC 6298 gives for the samples so
    // far (the handshake's 0 ms first).
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let mut samples = vec![0u64];
    let mut now = 0u64;
    let mut nxt = iss + 1;
    for (round, rtt) in [100u64, 60, 200, 30, 90].into_iter().enumerate() {
        // A flight of four segments; one cumulative ACK an RTT later.
        t.send(&[round as u8; 4 * 1460]).unwrap();
        let flight = sent(&mut t);
        assert_eq!(flight.len(), 4, "{}", t.trace());
        assert!(flight
            .iter()
            .all(|&(at, _, len)| at == ms(now) && len == 1460));
        nxt += 4 * 1460;
        now += rtt;
        t.inject(ACK).seq(irs + 1).ack(nxt).at(ms(now));
        samples.push(rtt * 1000);
        let (srtt, _) = rfc6298(&samples);
        assert_eq!(
            t.status().srtt.map(micros),
            Some(srtt),
            "round {round}, samples {samples:?}"
        );
    }
}

#[test]
fn rto_9_never_retransmit_before_rto() {
    // RTO-9: a segment is never retransmitted less than one RTO after it was last sent.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    assert_eq!(t.status().rto, dms(200));
    t.send(&[1u8; 1460]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).at(ms(0));
    t.run_until(ms(150));
    t.send(&[2u8; 1460]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1461).at(ms(150));
    // Nothing before the RTO of the first segment ...
    t.run_until(us(199_999));
    t.expect_nothing();
    // ... then only the first segment (one MSS of congestion window after the timeout).
    t.run_until(ms(200));
    t.expect(ACK).seq(iss + 1).len(1460).at(ms(200));
    t.expect_nothing();
    // The retransmission is not itself repeated before the doubled RTO (400 ms).
    t.run_until(us(599_999));
    t.expect_nothing();
    t.run_until(ms(600));
    t.expect(ACK).seq(iss + 1).len(1460).at(ms(600));
    t.expect_nothing();

    // A second segment sent while the timer runs: when the first is ACKed, the second is
    // not retransmitted when the old timer would have fired (200 ms, only 50 ms after it
    // was sent) but one RTO after the restart.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&[1u8; 1460]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).at(ms(0));
    t.run_until(ms(150));
    t.send(&[2u8; 1460]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1461).at(ms(150));
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(180));
    // Sample 180 ms: SRTT 22.5, RTTVAR 45, RTO = 22.5 + max(180, 200) = 222.5 ms.
    assert_eq!(t.status().rto, us(222_500) - Instant::ZERO);
    t.run_until(us(402_499));
    t.expect_nothing();
    t.run_until(ms(500));
    t.expect(PSH | ACK)
        .seq(iss + 1461)
        .len(1460)
        .at(us(402_500));
    t.expect_nothing();
}

#[test]
fn rto_9_retransmission_repacketizes_like_linux() {
    // RFC 6298 §5 read literally: a byte is never resent sooner than one RTO after it was
    // last sent. Like Linux (retransmit collapsing), the RTO retransmission at SND.UNA is
    // repacketized up to the MSS, so bytes first sent 50 ms before it go along: a documented
    // deviation (docs/conformance-notes.txt). The segment at SND.UNA itself waited one RTO.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[1u8; 100]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).len(100).at(ms(0));
    t.run_until(ms(150));
    t.send(&[2u8; 100]).unwrap();
    t.expect(PSH | ACK).seq(iss + 101).len(100).at(ms(150));
    t.run_until(ms(200));
    let rtx = t.next_seg();
    assert_eq!(
        (rtx.at, rtx.seq(), rtx.payload.len()),
        (ms(200), iss + 1, 200),
        "{rtx}"
    );
}

#[test]
fn rto_10_timer_restarted_on_each_new_ack_and_stopped_when_all_acked() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // RTO-10 (5.1): the timer starts with the first segment of the flight.
    t.send(&[0u8; 3 * 1460]).unwrap();
    assert_eq!(
        sent(&mut t),
        [
            (ms(0), iss + 1, 1460),
            (ms(0), iss + 1461, 1460),
            (ms(0), iss + 2921, 1460)
        ]
    );
    // (5.3) Each ACK of new data restarts it. The first gives a sample of 100 ms:
    // SRTT 12.5, RTTVAR 25, RTO = 12.5 + max(100, 200) = 212.5 ms: timer at 312.5 ms.
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(100));
    assert_eq!(t.status().rto, us(212_500) - Instant::ZERO);
    // The second (no sample: nothing timed any more) restarts it again: 250 + 212.5 ms.
    t.inject(ACK).seq(irs + 1).ack(iss + 2921).at(ms(250));
    t.run_until(us(462_499));
    t.expect_nothing();
    t.run_until(ms(463));
    t.expect(PSH | ACK)
        .seq(iss + 2921)
        .len(1460)
        .at(us(462_500));
    // (5.2) All acknowledged: the timer stops; nothing is ever sent again.
    t.inject(ACK).seq(irs + 1).ack(iss + 4381).at(ms(500));
    t.run_until(secs(1000));
    t.expect_nothing();
    t.assert_state(State::Established);
    // (5.1) New data starts it again, with the RTO in force (backed off once, Karn: the
    // last ACK covered a retransmission): 425 ms.
    t.send(b"new").unwrap();
    t.expect(PSH | ACK).seq(iss + 4381).at(secs(1000));
    t.run_until(secs(1001));
    t.expect(PSH | ACK)
        .seq(iss + 4381)
        .payload(b"new")
        .at(ms(1_000_425));
}

#[test]
fn rto_14_never_more_aggressive_than_rfc_6298() {
    // RTO-14: more conservative is allowed, more aggressive is not. With the RFC's 1 s floor
    // (the `rto_min` knob), the stack's RTO is never below RFC 6298's
    // max(1 s, SRTT + max(G, 4 RTTVAR)) for the same samples; with the default 200 ms floor
    // (decision 2, LX-4) it is never below SRTT + max(G, 4 RTTVAR) nor 200 ms.
    for floor_ms in [1000u64, 200] {
        let mut cfg = Tcp::config();
        cfg.rto_min = dms(floor_ms);
        let mut t = Tcp::with_config(cfg);
        t.connect();
        let iss = t.expect(SYN).seq_any();
        let irs = t.peer_isn;
        // Before any sample: 1 s (RTO-1).
        assert_eq!(t.status().rto, dsecs(1));
        t.inject(SYN | ACK)
            .seq(irs)
            .ack(iss + 1)
            .mss(1460)
            .at(ms(100));
        let mut samples = vec![100_000u64];
        let mut now = 100u64;
        let mut nxt = iss + 1;
        for rtt in [60u64, 150, 20, 20, 20, 20, 180, 5, 5, 5] {
            let (srtt, rttvar) = rfc6298(&samples);
            let rfc = (srtt + (4 * rttvar).max(1000)).max(floor_ms * 1000);
            let rto = micros(t.status().rto);
            assert!(
                rto >= rfc,
                "floor {floor_ms}: RTO {rto} < RFC {rfc} {samples:?}"
            );
            t.send(b"x").unwrap();
            nxt += 1;
            now += rtt;
            t.inject(ACK).seq(irs + 1).ack(nxt).at(ms(now));
            samples.push(rtt * 1000);
        }
        // Every sample above was taken: no ACK came after a retransmission (Karn).
        assert_eq!(t.counters().retrans_segs, 0, "{}", t.trace());
        // And a lost segment is retransmitted no sooner than the RFC's RTO, then backs off.
        let (srtt, rttvar) = rfc6298(&samples);
        let rfc = (srtt + (4 * rttvar).max(1000)).max(floor_ms * 1000);
        let rto = t.status().rto;
        assert!(micros(rto) >= rfc);
        t.take_sent();
        t.send(b"lost").unwrap();
        let start = t.now;
        let first = t.run_until_sent(secs(100));
        assert_eq!(first.at, start, "the original");
        let rtx = t.run_until_sent(secs(100));
        assert_eq!((rtx.seq(), rtx.at), (nxt, start + rto));
        let again = t.run_until_sent(secs(100));
        assert_eq!(again.at, rtx.at + rto * 2, "RTO-11");
    }
}
