//! Sender-side SACK: the scoreboard and RFC 6675 loss recovery (SK-5..SK-11), against a
//! scripted peer that reports SACK blocks.

mod harness;
use harness::*;

const MSS: u32 = 1460;

fn bytes(n: u32) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

/// An established connection to a SACK-capable peer (no timestamps, MSS 1460) with 11
/// full segments in flight from `d`. Limited transmit is off unless asked for, so that each
/// test sees only the recovery it is about.
fn flight(limited_transmit: bool) -> (Tcp, SeqNum, SeqNum) {
    flight_with(limited_transmit, Algorithm::NewReno)
}

/// The same with a chosen congestion controller (NewReno halves: the arithmetic below).
fn flight_with(limited_transmit: bool, alg: Algorithm) -> (Tcp, SeqNum, SeqNum) {
    let mut cfg = Tcp::config();
    cfg.limited_transmit = limited_transmit;
    cfg.congestion_control = alg;
    // RFC 6675 on its own: no tail loss probe (RK-3) stepping in while the script waits.
    cfg.tail_loss_probe = false;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_active_with(SynOpts::mss(1460).with_sack());
    let irs = t.peer_isn;
    // One segment acked first so the RTT is known and cwnd is 11 segments.
    t.send(&bytes(MSS)).unwrap();
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1 + MSS).at(ms(10));
    t.run_until(ms(20));
    t.send(&bytes(30 * MSS)).unwrap();
    let d = iss + 1 + MSS;
    let sent = t.take_sent();
    assert_eq!(sent.len(), 11, "{}", t.trace());
    (t, d, irs)
}

/// A duplicate ACK of `d` carrying SACK blocks (as offsets in segments from `d`).
fn sack(t: &mut Tcp, irs: SeqNum, d: SeqNum, blocks: &[(u32, u32)], at: Instant) {
    let blocks: Vec<(SeqNum, SeqNum)> = blocks
        .iter()
        .map(|&(a, b)| (d + a * MSS, d + b * MSS))
        .collect();
    t.inject(ACK).seq(irs + 1).ack(d).sack(&blocks).at(at);
}

/// (seq offset in segments from d, len) of the data segments sent since the last call.
fn sent(t: &mut Tcp, d: SeqNum) -> Vec<(u32, usize)> {
    t.take_sent()
        .iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| ((s.seq() - d) / MSS, s.payload.len()))
        .collect()
}

#[test]
fn sk_9_recovery_on_third_sacked_dupack_resends_first_hole() {
    let (mut t, d, irs) = flight(false);
    // Segment 0 is lost; 1, 2, 3 arrive and are SACKed one by one.
    sack(&mut t, irs, d, &[(1, 2)], ms(30));
    sack(&mut t, irs, d, &[(1, 3)], ms(31));
    assert_eq!(sent(&mut t, d), []);
    sack(&mut t, irs, d, &[(1, 4)], ms(32));
    // SK-9 (3): the first hole goes at once; (2) ssthresh = cwnd = FlightSize / 2.
    assert_eq!(sent(&mut t, d), [(0, 1460)]);
    assert_eq!(t.status().cwnd, 11 * MSS / 2);
}

#[test]
fn sk_7_is_lost_enters_recovery_before_three_dupacks() {
    // One ACK SACKing three segments: IsLost(SND.UNA) holds (more than 2 SMSS SACKed above),
    // so recovery starts without waiting for three duplicate ACKs.
    let (mut t, d, irs) = flight(false);
    sack(&mut t, irs, d, &[(1, 4)], ms(30));
    assert_eq!(sent(&mut t, d), [(0, 1460)]);
}

#[test]
fn sk_10_next_seg_resends_lost_holes_in_order_then_new_data() {
    let (mut t, d, irs) = flight(false);
    // Segments 0 and 4 are lost; everything else arrives.
    sack(&mut t, irs, d, &[(1, 4)], ms(30));
    assert_eq!(sent(&mut t, d), [(0, 1460)], "rule 1: the first lost hole");
    // More SACKs: 5..8 arrive; segment 4 now has 3 segments SACKed above it: lost.
    sack(&mut t, irs, d, &[(5, 8), (1, 4)], ms(31));
    // pipe: segments 8, 9, 10 (3 not lost) + the retransmission of 0 = 4 segments; cwnd 5.5
    // segments: one more may go, and NextSeg picks the lost hole 4 (rule 1).
    assert_eq!(sent(&mut t, d), [(4, 1460)]);
    sack(&mut t, irs, d, &[(5, 9), (1, 4)], ms(32));
    // Segment 8 left the pipe: rule 2, new data (segment 11).
    assert_eq!(sent(&mut t, d), [(11, 1460)]);
}

#[test]
fn sk_11_recovery_ends_at_the_recovery_point() {
    let (mut t, d, irs) = flight(false);
    sack(&mut t, irs, d, &[(1, 4)], ms(30));
    assert_eq!(sent(&mut t, d), [(0, 1460)]);
    let ssthresh = t.status().cwnd;
    // A partial ACK (below the recovery point) keeps recovery going: cwnd unchanged.
    t.inject(ACK).seq(irs + 1).ack(d + 4 * MSS).at(ms(40));
    assert_eq!(t.status().cwnd, ssthresh);
    // The ACK of everything sent when recovery began (11 segments) ends it (CC-9 (5)).
    t.inject(ACK).seq(irs + 1).ack(d + 11 * MSS).at(ms(50));
    assert_eq!(t.status().cwnd, ssthresh);
    // Now outside recovery, the next new ACK grows cwnd again (congestion avoidance).
    let before = t.status().cwnd;
    let next = t.status().snd_nxt;
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(SeqNum(next)).at(ms(60));
    assert!(t.status().cwnd > before);
}

#[test]
fn sk_5_rto_clears_the_scoreboard_and_goes_back_to_snd_una() {
    let (mut t, d, irs) = flight(false);
    // Two SACKed segments (not enough for recovery), then silence until the RTO.
    sack(&mut t, irs, d, &[(5, 7)], ms(30));
    assert_eq!(sent(&mut t, d), []);
    t.run_until(secs(2));
    // The RTO resends from SND.UNA, SACKed data included (the receiver may renege).
    let rtx = sent(&mut t, d);
    assert_eq!(rtx.first(), Some(&(0, 1460)), "{}", t.trace());
    assert_eq!(t.status().cwnd, MSS, "CC-6: one segment after an RTO");
}

#[test]
fn sk_9_limited_transmit_then_recovery_with_sack() {
    let (mut t, d, irs) = flight(true);
    sack(&mut t, irs, d, &[(1, 2)], ms(30));
    assert_eq!(sent(&mut t, d), [(11, 1460)], "CC-8: one new segment");
    sack(&mut t, irs, d, &[(1, 3)], ms(31));
    assert_eq!(sent(&mut t, d), [(12, 1460)], "CC-8: and one more");
    sack(&mut t, irs, d, &[(1, 4)], ms(32));
    assert_eq!(sent(&mut t, d)[0], (0, 1460));
    // ssthresh from the 11 segments outstanding before limited transmit (RFC 5681 §3.2).
    assert_eq!(t.status().cwnd, 11 * MSS / 2);
}

#[test]
fn cub_2_sack_recovery_with_cubic_reduces_to_0_7() {
    // CUBIC (the default): the same loss takes cwnd to 0.7 of the flight (CUB-2), and the
    // first hole still goes at once.
    let (mut t, d, irs) = flight_with(false, Algorithm::Cubic);
    sack(&mut t, irs, d, &[(1, 4)], ms(30));
    assert_eq!(sent(&mut t, d)[0], (0, 1460));
    assert_eq!(t.status().cwnd, 11 * MSS * 7 / 10);
}

/// CC-6 (RFC 5681 §3.1, RFC 6298 §5): after a retransmission timeout cwnd is one segment
/// and grows by slow start. Duplicate ACKs that follow the timeout (the peer reporting the
/// holes the timeout is already repairing) start no recovery (RFC 6675 §5 (1): not before
/// SND.UNA passes RecoveryPoint), so the next new ACK must not "end a recovery" and set
/// cwnd to ssthresh in one step.
#[test]
fn cc_6_duplicate_acks_after_an_rto_leave_slow_start_alone() {
    let mut cfg = Tcp::config();
    cfg.tail_loss_probe = false; // the RTO itself is the subject
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_active_with(SynOpts::mss(1000).with_sack());
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[5u8; 10_000]).unwrap();
    let flight = t.take_sent();
    assert_eq!(flight.len(), 10);
    // Everything is lost; the RTO resends the first segment with cwnd = 1 MSS.
    let rtx = t.run_until_sent(secs(5));
    assert_eq!(rtx.seq(), iss + 1);
    assert_eq!(t.status().cwnd, 1000);
    let peer = t.peer_isn;
    // Late duplicate ACKs arrive, SACKing segments 2..4 of the original flight.
    for k in 2..5u32 {
        t.inject(ACK)
            .seq(peer + 1)
            .ack(iss + 1)
            .sack(&[(iss + 1 + 1000, iss + 1 + 1000 * k)]);
    }
    // The retransmission filled the only hole the receiver had left: everything is
    // acknowledged at once. Slow start goes on from 1 MSS (one ACK: at most one more MSS,
    // RFC 5681 §3.1), instead of jumping to ssthresh (5000) as if a recovery ended.
    t.inject(ACK).seq(peer + 1).ack(iss + 10_001);
    let cwnd = t.status().cwnd;
    assert!(cwnd <= 2 * 1000, "cwnd {cwnd}");
    assert!(!t.status().in_recovery);
}

/// SK-12 (RFC 2883 §4): a segment that brings only data already received is answered at
/// once with an ACK whose first SACK block is that duplicate (a D-SACK), so the sender can
/// tell a spurious retransmission; the block is reported once.
#[test]
fn sk_12_dsack_reports_a_duplicate_segment_once() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_sack());
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abc");
    t.take_sent();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abc");
    let a = t.expect(ACK).ack(irs + 4).len(0).seg();
    assert_eq!(
        a.opts().sacks(),
        &[SackBlock {
            left: irs + 1,
            right: irs + 4
        }]
    );
    // The next ACK carries no D-SACK.
    t.inject(ACK | PSH).seq(irs + 4).ack(iss + 1).payload(b"d");
    t.run_until(secs(1));
    let later = t.take_sent();
    assert!(!later.is_empty());
    assert!(
        later.iter().all(|s| s.opts().sacks().is_empty()),
        "{later:?}"
    );
}

/// SK-12: a retransmission that overlaps new data reports only its old part as the D-SACK.
#[test]
fn sk_12_dsack_reports_the_old_part_of_a_partly_new_segment() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_sack());
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abc");
    t.take_sent();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abcdef");
    let a = t.expect(ACK).ack(irs + 7).len(0).seg();
    assert_eq!(
        a.opts().sacks(),
        &[SackBlock {
            left: irs + 1,
            right: irs + 4
        }]
    );
    assert_eq!(t.read_all(), b"abcdef");
}

/// SK-12 (RFC 2883 §4): a duplicate of data queued out of order above RCV.NXT is reported
/// as the D-SACK block, followed by the queued block that holds it, then the other blocks.
#[test]
fn sk_12_dsack_reports_a_duplicate_of_out_of_order_data_with_its_block_second() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_sack());
    let irs = t.peer_isn;
    // A hole at RCV.NXT, then two queued blocks: [11, 15) and [21, 25) past IRS.
    t.inject(ACK).seq(irs + 11).ack(iss + 1).payload(b"kkkk");
    t.inject(ACK).seq(irs + 21).ack(iss + 1).payload(b"uuuu");
    t.take_sent();
    // [12, 14) again: inside the first block.
    t.inject(ACK).seq(irs + 12).ack(iss + 1).payload(b"kk");
    let a = t.expect(ACK).ack(irs + 1).len(0).seg();
    let block = |l: u32, r: u32| SackBlock {
        left: irs + l,
        right: irs + r,
    };
    assert_eq!(
        a.opts().sacks(),
        &[block(12, 14), block(11, 15), block(21, 25)]
    );
    // Reported once: the next ACK lists only the queued blocks.
    t.inject(ACK).seq(irs + 30).ack(iss + 1).payload(b"z");
    let b = t.expect(ACK).ack(irs + 1).len(0).seg();
    assert_eq!(
        b.opts().sacks(),
        &[block(30, 31), block(11, 15), block(21, 25)]
    );
    // A segment that brings new bytes beside queued ones is no duplicate: no D-SACK.
    t.inject(ACK).seq(irs + 24).ack(iss + 1).payload(b"uv");
    let c = t.expect(ACK).ack(irs + 1).len(0).seg();
    assert_eq!(c.opts().sacks()[0], block(21, 26));
}

/// No D-SACK without SACK: the duplicate is still acknowledged, with no SACK option.
#[test]
fn sk_12_no_dsack_without_sack_permitted() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abc");
    t.take_sent();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abc");
    let a = t.expect(ACK).ack(irs + 4).len(0).seg();
    assert!(a.opts().sacks().is_empty());
}

/// MUST-16 / LX-19: options come out of the MSS, SACK blocks included. While the receiver
/// holds out-of-order data, every segment it sends carries SACK blocks (NOP, NOP, SACK:
/// 4 + 8·n bytes); full data segments must shrink by that much, or the packet outgrows the
/// path MTU and is dropped — in a two-way transfer under loss that dropped every data
/// segment of both ends until R2 (Linux: tcp_current_mss counts the SACK blocks).
#[test]
fn must_16_data_segments_with_sack_blocks_fit_the_mtu() {
    let mut t = Tcp::v4();
    let iss = t.establish_active_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    // A hole: bytes 100..150 arrive, 0..100 do not.
    t.inject(ACK)
        .seq(irs + 101)
        .ack(iss + 1)
        .payload(&[9u8; 50]);
    let dup = t.expect(ACK).ack(irs + 1).seg();
    assert_eq!(dup.opts().sacks().len(), 1);
    t.send(&[1u8; 5000]).unwrap();
    let segs = t.take_sent();
    assert!(!segs.is_empty());
    for s in &segs {
        assert!(
            s.bytes.len() <= 1500,
            "{} bytes on a 1500-byte path: {s}",
            s.bytes.len()
        );
        assert_eq!(s.opts().sacks().len(), 1);
    }
    // 1460 - 12 (timestamps) - 12 (one SACK block) = 1436 bytes in a full segment.
    assert_eq!(segs[0].payload.len(), 1436);
}
