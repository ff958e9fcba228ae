//! RACK time-based loss detection (RFC 8985 §6; RK-1, RK-2, RK-5, SK-12's sender side),
//! against a scripted SACK-capable peer. Each test also runs with `Config::rack` off where
//! the difference is the point: RFC 6675 alone would wait for the RTO (or DupThresh).

mod harness;
use harness::*;

const MSS: u32 = 1460;

fn bytes(n: u32) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

/// An established connection to a SACK-capable peer (MSS 1460, no timestamps) with every
/// RTT 10 ms so far: the SYN,ACK came at 10 ms, the first data segment (sent then) was
/// acknowledged at 20 ms; SRTT and the minimum RTT are 10 ms. Then 11 full segments left
/// at 30 ms from `d`. No tail loss probe, so that only RACK or the RTO act.
fn flight(rack: bool) -> (Tcp, SeqNum, SeqNum) {
    let mut cfg = Tcp::config();
    cfg.rack = rack;
    cfg.tail_loss_probe = false;
    cfg.limited_transmit = false;
    cfg.congestion_control = Algorithm::NewReno;
    let mut t = Tcp::with_config(cfg);
    t.connect();
    let syn = t.expect(SYN).seg();
    t.iss = syn.hdr.seq;
    let (iss, irs) = (t.iss, t.peer_isn);
    t.peer_nxt = irs;
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::mss(1460).with_sack())
        .at(ms(10));
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.send(&bytes(MSS)).unwrap();
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1 + MSS).at(ms(20));
    t.run_until(ms(30));
    t.send(&bytes(30 * MSS)).unwrap();
    let d = iss + 1 + MSS;
    assert_eq!(t.take_sent().len(), 11, "{}", t.trace());
    assert_eq!(t.status().srtt, Some(dms(10)));
    (t, d, irs)
}

/// An ACK of `ack` (segments from `d`) with SACK blocks (segments from `d`).
fn sack_at(t: &mut Tcp, irs: SeqNum, d: SeqNum, ack: u32, blocks: &[(u32, u32)], at: Instant) {
    let blocks: Vec<(SeqNum, SeqNum)> = blocks
        .iter()
        .map(|&(a, b)| (d + a * MSS, d + b * MSS))
        .collect();
    t.inject(ACK)
        .seq(irs + 1)
        .ack(d + ack * MSS)
        .sack(&blocks)
        .at(at);
}

/// (segment index from `d`, send time) of the data segments sent since the last call.
fn sent(t: &mut Tcp, d: SeqNum) -> Vec<(u32, Instant)> {
    t.take_sent()
        .iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| ((s.seq() - d) / MSS, s.at))
        .collect()
}

#[test]
fn rk_1_one_sacked_segment_repairs_a_loss_after_a_quarter_rtt() {
    // Segment 0 is lost and only segment 1 arrives: one duplicate ACK, far from DupThresh.
    // RACK: segment 0 went before segment 1, which was delivered after an RTT of 10 ms; once
    // that RTT plus a reordering window of min_RTT / 4 = 2.5 ms has passed since segment 0
    // left (30 + 10 + 2.5 ms), it is lost and goes again.
    let (mut t, d, irs) = flight(true);
    sack_at(&mut t, irs, d, 0, &[(1, 2)], ms(40));
    assert_eq!(sent(&mut t, d), []);
    t.run_until(ms(50));
    assert_eq!(sent(&mut t, d), [(0, us(42_500))]);
    assert_eq!(t.counters().reorder_timeouts, 1);
    assert_eq!(
        t.status().cwnd,
        11 * MSS / 2,
        "a loss: recovery halves cwnd"
    );

    // RFC 6675 alone waits: one SACKed segment is not IsLost, and nothing else comes.
    let (mut t, d, irs) = flight(false);
    sack_at(&mut t, irs, d, 0, &[(1, 2)], ms(40));
    t.run_until(ms(200));
    assert_eq!(sent(&mut t, d), []);
}

#[test]
fn rk_1_reordering_within_the_window_retransmits_nothing() {
    // Segment 1 overtakes segment 0 by 1 ms, within the 2.5 ms window: the reordering
    // timer is armed, the late segment 0 arrives, and nothing is resent.
    let (mut t, d, irs) = flight(true);
    sack_at(&mut t, irs, d, 0, &[(1, 2)], ms(40));
    sack_at(&mut t, irs, d, 2, &[], ms(41));
    t.run_until(ms(70));
    assert!(
        sent(&mut t, d).iter().all(|&(i, _)| i >= 11),
        "only new data"
    );
    assert_eq!(t.counters().retrans_segs, 0);
    assert_eq!(
        t.counters().reordering_detected,
        1,
        "segment 0 came late, not lost"
    );
}

#[test]
fn rk_1_a_lost_retransmission_is_found_without_the_rto() {
    let (mut t, d, irs) = flight(true);
    // Three segments SACKed: no reordering seen, so the window is 0 and segment 0 is lost
    // at once (as RFC 6675's DupThresh would say).
    sack_at(&mut t, irs, d, 0, &[(1, 4)], ms(42));
    assert_eq!(sent(&mut t, d), [(0, ms(42))]);
    // The rest of the flight arrives: room in the window for new data (11, 12, ...).
    sack_at(&mut t, irs, d, 0, &[(1, 11)], ms(50));
    let new = sent(&mut t, d);
    assert!(!new.is_empty() && new.iter().all(|&(i, at)| i >= 11 && at == ms(50)));
    // The retransmission of 0 is lost too. Segments 11 and 12, sent at 50 ms after it
    // (42 ms), are SACKed at 60 ms: RACK.rtt = 10 ms, and 42 + 10 <= 60, so the
    // retransmission is lost: it goes a third time, long before any RTO.
    sack_at(&mut t, irs, d, 0, &[(1, 13)], ms(60));
    let again = sent(&mut t, d);
    assert_eq!(again.first(), Some(&(0, ms(60))), "{}", t.trace());
    assert_eq!(t.counters().lost_retransmits, 1);
    assert_eq!(t.counters().timeouts, 0);

    // Without RACK the second loss of segment 0 waits for the RTO.
    let (mut t, d, irs) = flight(false);
    sack_at(&mut t, irs, d, 0, &[(1, 4)], ms(42));
    sack_at(&mut t, irs, d, 0, &[(1, 11)], ms(50));
    sent(&mut t, d);
    sack_at(&mut t, irs, d, 0, &[(1, 13)], ms(60));
    assert!(sent(&mut t, d).iter().all(|&(i, _)| i != 0));
}

#[test]
fn rk_2_seen_reordering_keeps_a_window_even_past_dupthresh() {
    let (mut t, d, irs) = flight(true);
    // Reordering is seen: segment 1 before 0, both never retransmitted.
    sack_at(&mut t, irs, d, 0, &[(1, 2)], ms(40));
    sack_at(&mut t, irs, d, 2, &[], ms(41));
    assert_eq!(t.counters().reordering_detected, 1);
    sent(&mut t, d);
    // Segment 2 is missing, 3, 4 and 5 arrive together: RFC 6675 would resend 2 at once;
    // RACK, having seen reordering, waits RACK.rtt + min_RTT / 4 from 2's departure.
    sack_at(&mut t, irs, d, 2, &[(3, 6)], ms(43));
    assert_eq!(sent(&mut t, d), []);
    t.run_until(ms(50));
    // Segment 2 left at 30 ms; the reference (5, sent at 30 ms) took 13 ms: 30+13+2.5.
    assert_eq!(sent(&mut t, d).first(), Some(&(2, us(45_500))));
}

#[test]
fn rk_2_d_sack_widens_the_reordering_window() {
    // A spurious retransmission reported by D-SACK (SK-12, RFC 2883) widens the window by
    // one step of min_RTT / 4 for the next losses.
    let (mut t, d, irs) = flight(true);
    sack_at(&mut t, irs, d, 0, &[(1, 2)], ms(40));
    t.run_until(ms(43));
    assert_eq!(sent(&mut t, d), [(0, us(42_500))]);
    // The original of 0 was only late: the cumulative ACK for all 11 arrives, then the
    // D-SACK for the copy.
    sack_at(&mut t, irs, d, 11, &[], ms(44));
    let next: Vec<_> = sent(&mut t, d);
    assert!(
        next.iter().all(|&(i, at)| i >= 11 && at == ms(44)),
        "{next:?}"
    );
    t.inject(ACK)
        .seq(irs + 1)
        .ack(d + 11 * MSS)
        .sack(&[(d, d + MSS)])
        .at(ms(45));
    assert_eq!(t.counters().dsacks_received, 1);
    // Next flight (sent at 44 ms): 11 is missing behind a SACKed 12, delivered at 54 ms
    // (RACK.rtt 10 ms). The window is two steps now: 11 goes at 44 + 10 + 5 ms.
    sack_at(&mut t, irs, d, 11, &[(12, 13)], ms(54));
    t.run_until(ms(70));
    let out = sent(&mut t, d);
    let resend = out.iter().find(|&&(i, _)| i == 11).expect("11 resent");
    assert_eq!(resend.1, ms(59), "{out:?}");
}

#[test]
fn rk_5_dupthresh_without_sack_blocks_is_the_fallback() {
    // A peer that negotiated SACK but sends bare duplicate ACKs: RACK learns nothing, and
    // the third duplicate ACK still starts recovery.
    let (mut t, d, irs) = flight(true);
    for k in 0..3 {
        sack_at(&mut t, irs, d, 0, &[], ms(40 + k));
    }
    assert_eq!(sent(&mut t, d), [(0, ms(42))]);
}
