//! Congestion control (checklist section 3, MUST-19): the minimal Reno of `tcb/output.rs`
//! (`on_new_ack_cc`, `on_dup_ack`) and `tcb/timers.rs`: initial window (CC-1, CC-2),
//! ssthresh (CC-3), slow start (CC-4), congestion avoidance (CC-5), the RTO response (CC-6),
//! duplicate ACKs (CC-7), fast retransmit and NewReno recovery (CC-9..CC-12), restart after
//! idle (CC-13) and the byte-counted window (CC-15).
//!
//! Every connection here is active (the ACK of a passive open's SYN,ACK adds a byte to cwnd,
//! see `cc_2_ack_of_the_syn_does_not_grow_cwnd`) with MSS 1460 and no timestamps, so the
//! handshake gives an RTT sample of 0 and the RTO is 200 ms; the peer offers 65535 bytes.
//! Congestion state is read from STATUS (`cwnd`); ssthresh shows in where slow start stops.
mod harness;
use harness::*;

const MSS: u32 = 1460;

/// These tests isolate the RFC 5681 / RFC 6582 arithmetic, so limited transmit (CC-8), which
/// sends extra segments on the first two duplicate ACKs, is off; `cc_8_*` tests it.
fn conn() -> (Tcp, SeqNum, SeqNum) {
    let mut cfg = Tcp::config();
    cfg.limited_transmit = false;
    conn_with(cfg, 1460)
}

/// NewReno: these tests check the RFC 5681 / RFC 6582 arithmetic. CUBIC (the default,
/// decision 6) has its own tests in `src/cc/cubic.rs` and `cub_*` here.
fn conn_with(mut cfg: Config, peer_mss: u16) -> (Tcp, SeqNum, SeqNum) {
    cfg.congestion_control = Algorithm::NewReno;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_active_with(SynOpts::mss(peer_mss));
    let irs = t.peer_isn;
    (t, iss, irs)
}

/// The data segments sent and not yet checked, as (seq, len); all must have been sent now.
#[track_caller]
fn data(t: &mut Tcp) -> Vec<(SeqNum, usize)> {
    let now = t.now;
    let segs = t.take_sent();
    for s in &segs {
        assert!(
            s.at == now && !s.payload.is_empty() && !s.flags().syn() && !s.flags().rst(),
            "{s}\n{}",
            t.trace()
        );
    }
    segs.iter().map(|s| (s.seq(), s.payload.len())).collect()
}

/// `n` consecutive segments of `len` bytes from `from`.
fn run(from: SeqNum, n: u32, len: u32) -> Vec<(SeqNum, usize)> {
    (0..n).map(|i| (from + i * len, len as usize)).collect()
}

fn cwnd(t: &Tcp) -> u32 {
    t.status().cwnd
}

fn bytes(n: u32) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn cc_2_initial_window_iw10() {
    // CC-2 (decision 5): IW = min(10*MSS, max(2*MSS, 14600)), counted after the handshake
    // as the segments that leave back-to-back before any ACK.
    let (mut t, iss, irs) = conn();
    assert_eq!(cwnd(&t), 14600);
    t.send(&bytes(20 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 10, MSS));
    t.run_until(ms(150));
    t.expect_nothing();
    // The eleventh waits for an ACK (which also grows the window: two go).
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(150));
    assert_eq!(data(&mut t), run(iss + 14601, 2, MSS));

    // MSS 536: 10 segments (5360 bytes).
    let (mut t, iss, _) = conn_with(Tcp::config(), 536);
    assert_eq!(cwnd(&t), 5360);
    t.send(&bytes(20 * 536)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 10, 536));

    // MSS 8960 (MTU 9000): max(2*MSS, 14600) = 17920, two segments.
    let mut cfg = Tcp::config();
    cfg.mtu = 9000;
    let (mut t, iss, _) = conn_with(cfg.clone(), 8960);
    assert_eq!(cwnd(&t), 17920);
    t.send(&bytes(5 * 8960)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 2, 8960));

    // MSS 4000: 14600 bytes, i.e. three full segments; the 2600 bytes left of the window
    // are not sent as a runt.
    let (mut t, iss, _) = conn_with(cfg, 4000);
    assert_eq!(cwnd(&t), 14600);
    t.send(&bytes(10 * 4000)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 3, 4000));
}

#[test]
fn cc_2_ack_of_the_syn_does_not_grow_cwnd() {
    // RFC 5681 grows cwnd for ACKs of new data; the SYN is not data. An active open starts
    // at exactly IW (above); a passive one must too.
    let mut t = Tcp::v4();
    t.establish_passive();
    assert_eq!(cwnd(&t), 14600);
}

#[test]
fn cc_1_rfc_5681_initial_window_through_the_knob() {
    // CC-1: RFC 5681's IW is min(4*SMSS, max(2*SMSS, 4380)): 4 segments for SMSS <= 1095,
    // 3 up to 2190, else 2. The default is IW10 (CC-2, decision 5); the `initial_cwnd`
    // knob gives RFC 5681's value.
    for (segments, peer_mss, mtu) in [(4u32, 536u16, 1500u16), (3, 1460, 1500), (2, 8960, 9000)] {
        let mut cfg = Tcp::config();
        cfg.initial_cwnd = segments;
        cfg.mtu = mtu;
        let (mut t, iss, _) = conn_with(cfg, peer_mss);
        let smss = peer_mss as u32;
        let rfc5681 = (4 * smss).min((2 * smss).max(4380));
        assert_eq!(cwnd(&t), rfc5681, "SMSS {smss}");
        t.send(&bytes(10 * smss)).unwrap();
        assert_eq!(data(&mut t), run(iss + 1, segments, smss), "SMSS {smss}");
        t.run_until(ms(100));
        t.expect_nothing();
    }
}

#[test]
fn cc_3_initial_ssthresh_arbitrarily_high() {
    // CC-3: without congestion, slow start never stops: every ACK of a full segment adds a
    // full SMSS, far beyond the peer's window (65535) and anything a fixed initial ssthresh
    // would have been.
    let (mut t, iss, irs) = conn();
    t.send(&bytes(85 * MSS)).unwrap();
    let mut una = iss + 1;
    for i in 1..=60u32 {
        una += MSS;
        assert!(!una.gt(t.stack_nxt));
        t.inject(ACK).seq(irs + 1).ack(una).at(ms(i as u64));
        assert_eq!(cwnd(&t), 14600 + i * MSS, "ACK {i}");
        t.take_sent();
    }
    assert_eq!(cwnd(&t), 102_200);
}

#[test]
fn cc_4_slow_start_adds_min_n_smss_per_ack() {
    let (mut t, iss, irs) = conn();
    t.send(&bytes(30 * MSS)).unwrap();
    assert_eq!(data(&mut t).len(), 10);
    // N = 100 bytes: cwnd grows by 100, not by SMSS. The 200 bytes the window now allows
    // are not worth a segment (SWS avoidance, Nagle).
    t.inject(ACK).seq(irs + 1).ack(iss + 101).at(ms(10));
    assert_eq!(cwnd(&t), 14700);
    t.expect_nothing();
    // N = 2920 (two segments' worth): + SMSS, not + 2 SMSS (RFC 3465's L = 2 SMSS is only
    // experimental). Usable: 16160 - (14601 - 3021) = 4580 bytes: three full segments.
    t.inject(ACK).seq(irs + 1).ack(iss + 3021).at(ms(11));
    assert_eq!(cwnd(&t), 16160);
    assert_eq!(data(&mut t), run(iss + 14601, 3, MSS));
    // N = SMSS: + SMSS; 17620 - (18981 - 4481) = 3120 usable: two segments.
    t.inject(ACK).seq(irs + 1).ack(iss + 4481).at(ms(12));
    assert_eq!(cwnd(&t), 17620);
    assert_eq!(data(&mut t), run(iss + 18981, 2, MSS));
}

/// Ten segments sent at 0 (IW), more queued; all lost; the RTO fires at 200 ms and resends
/// the first. FlightSize was 14600, so ssthresh = 7300 and cwnd = 1460 (CC-6).
fn after_rto() -> (Tcp, SeqNum, SeqNum) {
    let (mut t, iss, irs) = conn();
    t.send(&bytes(80 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 10, MSS));
    t.run_until(ms(200));
    assert_eq!(data(&mut t), [(iss + 1, 1460)]);
    (t, iss, irs)
}

#[test]
fn cc_6_rto_one_segment_and_ssthresh_half_the_flight() {
    let (mut t, iss, irs) = after_rto();
    // cwnd = 1 SMSS: nothing more goes until an ACK.
    assert_eq!(cwnd(&t), MSS);
    t.run_until(ms(210));
    t.expect_nothing();
    // Slow start again (go-back-N from SND.UNA) until cwnd reaches ssthresh = 7300, then
    // congestion avoidance: 7300 -> 7300 + 1460*1460/7300 = 7592. Had ssthresh been any
    // other value in (5840, 8760), the fifth ACK would have added a full SMSS.
    let mut una = iss + 1;
    let mut expect = vec![];
    for (i, want) in [2920u32, 4380, 5840, 7300, 7592].into_iter().enumerate() {
        una += MSS;
        t.inject(ACK).seq(irs + 1).ack(una).at(ms(210 + i as u64));
        expect.push(want);
        assert_eq!(cwnd(&t), want, "ACK {}: {:?}", i + 1, expect);
        t.take_sent();
    }

    // ssthresh is at least 2 SMSS: a flight of 3 segments (4380) gives 2920, not 2190.
    let (mut t, iss, irs) = conn();
    t.send(&bytes(3 * MSS)).unwrap();
    t.take_sent();
    t.run_until(ms(200));
    assert_eq!(data(&mut t), [(iss + 1, 1460)]);
    assert_eq!(cwnd(&t), MSS);
    // Partial ACKs of 1000 bytes: slow start (+N) while cwnd < 2920 ...
    t.inject(ACK).seq(irs + 1).ack(iss + 1001).at(ms(210));
    assert_eq!(cwnd(&t), 2460);
    t.inject(ACK).seq(irs + 1).ack(iss + 2001).at(ms(211));
    assert_eq!(
        cwnd(&t),
        3460,
        "with ssthresh 2190 this would be 2460 + 866"
    );
    // ... then congestion avoidance, counting bytes (CC-5): + 1460 * 1000 / 3460.
    t.inject(ACK).seq(irs + 1).ack(iss + 3001).at(ms(212));
    assert_eq!(cwnd(&t), 3460 + 421);
}

#[test]
fn cc_5_congestion_avoidance_about_one_smss_per_rtt() {
    // CC-5: above ssthresh (7300, after the RTO) each ACK adds SMSS*SMSS/cwnd, so that a
    // window's worth of ACKs grows cwnd by about one SMSS.
    let (mut t, iss, irs) = after_rto();
    let mut una = iss + 1;
    let ack = |t: &mut Tcp, una: &mut SeqNum, at: u64| {
        *una += MSS;
        assert!(!(*una).gt(t.stack_nxt), "ACK of unsent data\n{}", t.trace());
        t.inject(ACK).seq(irs + 1).ack(*una).at(ms(at));
        t.take_sent();
    };
    for i in 0..4 {
        ack(&mut t, &mut una, 210 + i);
    }
    assert_eq!(cwnd(&t), 7300);
    let mut model = 7300u32;
    let mut at = 220;
    // Three round trips, each a window's worth of ACKs.
    for rtt in 0..3 {
        let start = model;
        let mut acked = 0;
        while acked < start {
            ack(&mut t, &mut una, at);
            at += 1;
            acked += MSS;
            model += (MSS * MSS / model).max(1);
            assert_eq!(cwnd(&t), model, "round trip {rtt}");
        }
        let growth = model - start;
        assert!(
            (MSS * 9 / 10..=MSS).contains(&growth),
            "round trip {rtt}: +{growth}"
        );
    }
}

#[test]
fn must_19_slow_start_congestion_avoidance_and_backoff() {
    // MUST-19: slow start, congestion avoidance and exponential backoff, on the wire.
    let (mut t, iss, irs) = conn();
    let d = iss + 1;
    t.send(&bytes(60 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(d, 10, MSS));
    // Slow start: each ACK of a segment lets two more go.
    t.inject(ACK).seq(irs + 1).ack(d + MSS).at(ms(10));
    assert_eq!(data(&mut t), run(d + 10 * MSS, 2, MSS));
    // Then nothing is ACKed: the RTO (10 ms sample: SRTT 1.25, RTO 201.25 ms, restarted
    // by that ACK) fires and backs off exponentially, one segment each time.
    t.run_until(ms(2000));
    let rtx: Vec<(Instant, SeqNum)> = t.take_sent().iter().map(|s| (s.at, s.seq())).collect();
    assert_eq!(
        rtx,
        [
            (us(211_250), d + MSS),
            (us(613_750), d + MSS),
            (us(1_418_750), d + MSS)
        ]
    );
    // FlightSize at the first expiry was 11 segments: ssthresh 8030. Slow start from one
    // segment: 2, 3, ... segments' worth, until 8030; then linear growth.
    let mut una = d + MSS;
    let mut seen = vec![];
    for i in 0..8u64 {
        una += MSS;
        t.inject(ACK).seq(irs + 1).ack(una).at(ms(2000 + i));
        seen.push(cwnd(&t));
        t.take_sent();
    }
    assert_eq!(
        seen,
        [
            2920,
            4380,
            5840,
            7300,
            8760,
            8760 + 243,
            9003 + 236,
            9239 + 230
        ]
    );
}

/// A connection past its first round trip (so that SND.UNA - 1 > recover = ISS, CC-10),
/// with 11 full segments in flight (cwnd 16060) from `d` and 9 more queued.
/// The RTO is 201.25 ms (10 ms sample), running from 20 ms.
fn flight_of_eleven() -> (Tcp, SeqNum, SeqNum) {
    let (mut t, iss, irs) = conn();
    t.send(&bytes(MSS)).unwrap();
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(10));
    assert_eq!(cwnd(&t), 16060);
    t.run_until(ms(20));
    t.send(&bytes(20 * MSS)).unwrap();
    let d = iss + 1461;
    assert_eq!(data(&mut t), run(d, 11, MSS));
    (t, d, irs)
}

fn dup(t: &mut Tcp, irs: SeqNum, ack: SeqNum, at: u64) {
    t.inject(ACK).seq(irs + 1).ack(ack).at(ms(at));
}

#[test]
fn cc_8_limited_transmit_one_new_segment_per_first_two_dupacks() {
    // RFC 3042: with cwnd full (11 segments out), each of the first two duplicate ACKs lets
    // one new segment out; the third triggers fast retransmit, and ssthresh comes from the
    // flight *without* the two limited-transmit segments (RFC 5681 §3.2).
    let mut cfg = Tcp::config();
    cfg.limited_transmit = true;
    let (mut t, iss, irs) = conn_with(cfg, 1460);
    t.send(&bytes(MSS)).unwrap();
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(10));
    t.run_until(ms(20));
    t.send(&bytes(20 * MSS)).unwrap();
    let d = iss + 1461;
    assert_eq!(data(&mut t), run(d, 11, MSS));
    dup(&mut t, irs, d, 30);
    assert_eq!(
        data(&mut t),
        [(d + 11 * MSS, 1460)],
        "first dup ACK: one new segment"
    );
    dup(&mut t, irs, d, 31);
    assert_eq!(
        data(&mut t),
        [(d + 12 * MSS, 1460)],
        "second dup ACK: one more"
    );
    assert_eq!(cwnd(&t), 16060, "cwnd itself is unchanged");
    dup(&mut t, irs, d, 32);
    t.expect(ACK).seq(d).len(1460).at(ms(32));
    // FlightSize without limited transmit: 11 segments = 16060, so ssthresh = 8030.
    assert_eq!(cwnd(&t), 8030 + 3 * MSS);
}

#[test]
fn cc_9_fast_retransmit_on_third_dupack() {
    let (mut t, d, irs) = flight_of_eleven();
    // The first segment is lost; the next ones each draw a duplicate ACK.
    dup(&mut t, irs, d, 30);
    dup(&mut t, irs, d, 31);
    t.expect_nothing();
    assert_eq!(cwnd(&t), 16060);
    dup(&mut t, irs, d, 32);
    // (1) ssthresh = FlightSize/2 = 8030, (2) the segment at SND.UNA goes again at once,
    // (3) cwnd = ssthresh + 3 SMSS.
    t.expect(ACK).seq(d).len(1460).at(ms(32));
    t.expect_nothing();
    assert_eq!(cwnd(&t), 8030 + 3 * MSS);
    // (4) Each further duplicate inflates cwnd by SMSS; new data goes once cwnd exceeds
    // the flight (16060) by a full segment.
    for (i, want) in [13870u32, 15330, 16790].into_iter().enumerate() {
        dup(&mut t, irs, d, 33 + i as u64);
        assert_eq!(cwnd(&t), want);
        t.expect_nothing();
    }
    dup(&mut t, irs, d, 36);
    assert_eq!(cwnd(&t), 18250);
    assert_eq!(data(&mut t), [(d + 16060, 1460)]);
    dup(&mut t, irs, d, 37);
    assert_eq!(data(&mut t), [(d + 17520, 1460)]);
    // (5) The ACK of all data outstanding at the loss: cwnd = ssthresh. Two segments are
    // in flight, so 8030 - 2920 = 5110 bytes may go: three full segments.
    t.inject(ACK).seq(irs + 1).ack(d + 16060).at(ms(40));
    assert_eq!(cwnd(&t), 8030);
    assert_eq!(data(&mut t), run(d + 18980, 3, MSS));
}

#[test]
fn cc_7_what_counts_as_a_duplicate_ack() {
    // CC-7: a duplicate ACK has data outstanding, no payload, neither SYN nor FIN,
    // SEG.ACK = SND.UNA, and an unchanged window. Only those count towards the three.
    let (mut t, iss, irs) = conn();
    t.send(&bytes(MSS)).unwrap();
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(10));
    let d = iss + 1461;
    // Nothing outstanding: these two are not duplicates.
    t.inject(ACK).ack(d).at(ms(11));
    t.inject(ACK).ack(d).at(ms(12));
    t.run_until(ms(20));
    t.send(&bytes(20 * MSS)).unwrap();
    assert_eq!(data(&mut t).len(), 11);
    // Not duplicates: a segment with data (we ACK it) ...
    for (i, p) in [b"x", b"y", b"z"].into_iter().enumerate() {
        t.inject(ACK).ack(d).payload(p).at(ms(21 + i as u64));
        t.expect(ACK).len(0);
    }
    // ... window updates ...
    for (i, w) in [65000u16, 64000, 63000].into_iter().enumerate() {
        t.inject(ACK).ack(d).win(w).at(ms(24 + i as u64));
    }
    // ... and a FIN.
    t.inject(FIN | ACK).ack(d).win(63000).at(ms(27));
    t.expect(ACK).len(0);
    t.assert_state(State::CloseWait);
    t.expect_nothing();
    // None of the above counted: two true duplicates are still only two ...
    t.inject(ACK).ack(d).win(63000).at(ms(30));
    t.inject(ACK).ack(d).win(63000).at(ms(31));
    t.expect_nothing();
    // ... and the third triggers fast retransmit.
    t.inject(ACK).ack(d).win(63000).at(ms(32));
    t.expect(ACK).seq(d).len(1460).at(ms(32));
}

#[test]
fn cc_10_one_fast_retransmit_per_recovery() {
    // Within one recovery: twenty more duplicates, and the lost segment is not sent again;
    // only new data goes as cwnd inflates.
    let (mut t, d, irs) = flight_of_eleven();
    let recover = d + 16060;
    for i in 0..3 {
        dup(&mut t, irs, d, 30 + i);
    }
    t.expect(ACK).seq(d).len(1460);
    let mut later = vec![];
    for i in 0..20 {
        dup(&mut t, irs, d, 40 + i);
        later.extend(data(&mut t));
    }
    // All nine queued segments, and nothing below `recover`.
    assert_eq!(later, run(recover, 9, MSS));
    // After the full ACK a new loss, above `recover`, is fast-retransmitted again: the
    // first segment sent in recovery arrives, the second is lost.
    t.inject(ACK).seq(irs + 1).ack(recover + MSS).at(ms(70));
    t.take_sent();
    for i in 0..3 {
        dup(&mut t, irs, recover + MSS, 71 + i);
    }
    t.expect(ACK).seq(recover + MSS).len(1460).at(ms(73));

    // After an RTO, `recover` is the highest sequence sent: duplicates below it (answers to
    // go-back-N retransmissions the peer already had) start no fast retransmit.
    let (mut t, iss, irs) = after_rto();
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(210));
    assert_eq!(data(&mut t), run(iss + 1461, 2, MSS));
    for i in 0..6 {
        dup(&mut t, irs, iss + 1461, 211 + i);
    }
    t.expect_nothing();
    assert_eq!(cwnd(&t), 2920, "no inflation either");
}

#[test]
fn cc_10_fast_retransmit_once_the_ack_covers_more_than_recover() {
    // RFC 6582: recover = the highest sequence number transmitted (SND.MAX - 1); a new
    // fast retransmit is allowed when ack - 1 > recover.
    let (mut t, iss, irs) = conn();
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&bytes(MSS)).unwrap();
    t.take_sent();
    // RTO: recover = ISS + 1460, the last byte of that segment.
    t.run_until(ms(200));
    assert_eq!(data(&mut t), [(iss + 1, 1460)]);
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(ms(210));
    // One byte, ACKed: ack - 1 = ISS + 1461 > recover.
    t.run_until(ms(220));
    t.send(b"x").unwrap();
    assert_eq!(data(&mut t), [(iss + 1461, 1)]);
    t.inject(ACK).seq(irs + 1).ack(iss + 1462).at(ms(230));
    t.run_until(ms(240));
    t.send(&bytes(2 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1462, 2, MSS));
    for i in 0..3 {
        dup(&mut t, irs, iss + 1462, 250 + i);
    }
    t.expect(ACK).seq(iss + 1462).len(1460).at(ms(252));
}

#[test]
fn cc_11_partial_ack_retransmits_next_hole_and_stays_in_recovery() {
    // Two losses in one window: the first and fifth segments.
    let (mut t, d, irs) = flight_of_eleven();
    for i in 0..3 {
        dup(&mut t, irs, d, 30 + i);
    }
    t.expect(ACK).seq(d).len(1460).at(ms(32));
    assert_eq!(cwnd(&t), 12410);
    // The retransmission fills the first hole: the ACK stops at the second (partial ACK,
    // below recover = d + 16060). (1) The first unacknowledged segment goes at once;
    // (2) cwnd deflates by the 5840 bytes ACKed and gets one SMSS back: 8030.
    t.inject(ACK).seq(irs + 1).ack(d + 5840).at(ms(40));
    t.expect(ACK).seq(d + 5840).len(1460).at(ms(40));
    assert_eq!(cwnd(&t), 12410 - 5840 + MSS);
    // (3) Flight 10220 > cwnd: nothing new.
    t.expect_nothing();
    // (5) Still in recovery: duplicates inflate (no new count towards a second fast
    // retransmit), and new data goes when cwnd allows.
    dup(&mut t, irs, d + 5840, 41);
    assert_eq!(cwnd(&t), 9490);
    dup(&mut t, irs, d + 5840, 42);
    assert_eq!(cwnd(&t), 10950);
    t.expect_nothing();
    dup(&mut t, irs, d + 5840, 43);
    assert_eq!(cwnd(&t), 12410);
    assert_eq!(data(&mut t), [(d + 16060, 1460)]);
    dup(&mut t, irs, d + 5840, 44);
    assert_eq!(data(&mut t), [(d + 17520, 1460)]);
    // The full ACK ends recovery (CC-12): cwnd = ssthresh.
    t.inject(ACK).seq(irs + 1).ack(d + 16060).at(ms(50));
    assert_eq!(cwnd(&t), 8030);
}

#[test]
fn cc_11_partial_ack_below_smss_adds_nothing_back() {
    let (mut t, d, irs) = flight_of_eleven();
    for i in 0..3 {
        dup(&mut t, irs, d, 30 + i);
    }
    t.expect(ACK).seq(d).len(1460);
    assert_eq!(cwnd(&t), 12410);
    // A partial ACK of 100 bytes (the receiver kept only the part that fit its buffer):
    // deflate by 100, add nothing back.
    t.inject(ACK).seq(irs + 1).ack(d + 100).at(ms(40));
    t.expect(ACK).seq(d + 100).len(1460).at(ms(40));
    assert_eq!(cwnd(&t), 12410 - 100);
}

#[test]
fn cc_12_full_ack_and_rto_end_recovery() {
    // A full ACK sets cwnd = ssthresh and ends recovery: a later duplicate no longer
    // inflates, and new ACKs grow cwnd by congestion avoidance.
    let (mut t, d, irs) = flight_of_eleven();
    for i in 0..3 {
        dup(&mut t, irs, d, 30 + i);
    }
    t.expect(ACK).seq(d).len(1460);
    dup(&mut t, irs, d, 33);
    assert_eq!(cwnd(&t), 13870);
    t.inject(ACK).seq(irs + 1).ack(d + 16060).at(ms(40));
    assert_eq!(cwnd(&t), 8030);
    t.take_sent();
    dup(&mut t, irs, d + 16060, 41);
    assert_eq!(cwnd(&t), 8030);
    t.inject(ACK).seq(irs + 1).ack(d + 17520).at(ms(42));
    assert_eq!(cwnd(&t), 8030 + MSS * MSS / 8030);

    // An RTO during recovery ends it: cwnd = 1 SMSS, and the ACK of the retransmission is
    // slow start (+SMSS), not the end of a fast recovery (cwnd = ssthresh).
    let (mut t, d, irs) = flight_of_eleven();
    for i in 0..3 {
        dup(&mut t, irs, d, 30 + i);
    }
    t.expect(ACK).seq(d).len(1460).at(ms(32));
    // The timer, running since 20 ms (RTO 201.25 ms), was not restarted by duplicates.
    t.run_until(ms(300));
    t.expect(ACK).seq(d).len(1460).at(us(221_250));
    t.expect_nothing();
    assert_eq!(cwnd(&t), MSS);
    t.inject(ACK).seq(irs + 1).ack(d + MSS).at(ms(300));
    assert_eq!(cwnd(&t), 2 * MSS);
    assert_eq!(data(&mut t), run(d + MSS, 2, MSS));
}

/// Grow cwnd by ACKing every segment at once (RTT 0, RTO stays 200 ms) until `acks` ACKs.
fn grow(t: &mut Tcp, irs: SeqNum, from: SeqNum, acks: u32) -> SeqNum {
    let mut una = from;
    for _ in 0..acks {
        una += MSS;
        assert!(!una.gt(t.stack_nxt));
        t.inject(ACK).seq(irs + 1).ack(una);
        t.take_sent();
    }
    una
}

#[test]
fn cc_13_restart_from_iw_after_idle_longer_than_rto() {
    let (mut t, iss, irs) = conn();
    t.send(&bytes(40 * MSS)).unwrap();
    let una = grow(&mut t, irs, iss + 1, 40);
    assert_eq!(cwnd(&t), 14600 + 40 * MSS);
    assert_eq!(una, t.stack_nxt, "all ACKed");
    // Idle 1 s > RTO (200 ms): cwnd = min(IW, cwnd) before sending again: ten segments.
    t.run_until(secs(1));
    t.send(&bytes(60 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(una, 10, MSS));
    assert_eq!(cwnd(&t), 14600);

    // Idle 100 ms < RTO: the window is kept; the peer's 65535 bytes limit the burst.
    let (mut t, iss, irs) = conn();
    t.send(&bytes(40 * MSS)).unwrap();
    let una = grow(&mut t, irs, iss + 1, 40);
    t.run_until(ms(100));
    t.send(&bytes(60 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(una, 44, MSS));
    assert_eq!(cwnd(&t), 14600 + 40 * MSS);
}

#[test]
fn cc_13_restart_window_is_the_configured_iw() {
    let mut cfg = Tcp::config();
    cfg.initial_cwnd = 3;
    let (mut t, iss, irs) = conn_with(cfg, 1460);
    assert_eq!(cwnd(&t), 4380);
    t.send(&bytes(20 * MSS)).unwrap();
    let una = grow(&mut t, irs, iss + 1, 20);
    assert_eq!(cwnd(&t), 4380 + 20 * MSS);
    t.run_until(secs(1));
    t.send(&bytes(20 * MSS)).unwrap();
    // RW = min(IW, cwnd) = 4380: three segments.
    assert_eq!(data(&mut t), run(una, 3, MSS));
}

#[test]
fn cc_15_windows_in_bytes_min_of_cwnd_and_rwnd() {
    // cwnd is in bytes: with MSS 536 the initial 5360 bytes are ten segments.
    let (t, _, _) = conn_with(Tcp::config(), 536);
    assert_eq!(cwnd(&t), 5360);
    // What may be outstanding is min(cwnd, rwnd) - FlightSize. rwnd < cwnd: the peer's
    // 4380 bytes allow three segments, though cwnd would allow ten.
    let (mut t, iss, irs) = conn();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(4380);
    t.send(&bytes(20 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 3, MSS));
    assert_eq!(cwnd(&t), 14600);
    // cwnd < rwnd: four segments out, then another write: only 14600 - 5840 more.
    let (mut t, iss, _) = conn();
    t.send(&bytes(4 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(iss + 1, 4, MSS));
    t.send(&bytes(20 * MSS)).unwrap();
    assert_eq!(data(&mut t), run(iss + 5841, 6, MSS));
}
