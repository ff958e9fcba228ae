//! Undoing a congestion-window reduction that proves spurious (SK-12; RFC 3708 D-SACK,
//! RFC 3522 Eifel; Linux tcp_try_undo_recovery, tcp_try_undo_dsack, tcp_try_undo_loss),
//! against a scripted SACK-capable peer. Each spurious case is also run with
//! `Config::undo` off, where the reduction stands: what the feature changes is the point.

mod harness;
use harness::*;

fn bytes(n: u32) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

/// The flight of `rack.rs`'s tests: an established connection to a SACK-capable peer
/// (timestamps if `ts`), NewReno, every RTT 10 ms so far (SYN,ACK at 10 ms, the first data
/// segment acknowledged at 20 ms), then 11 full segments sent at 30 ms from `d`: cwnd 11
/// segments, ssthresh "infinite". No tail loss probe and no limited transmit, so that only
/// RACK, the RTO and the undo act. Returns the harness, `d`, the peer's ISN and the MSS.
fn flight(ts: bool, undo: bool) -> (Tcp, SeqNum, SeqNum, u32) {
    flight_ecn(ts, undo, false)
}

/// [`flight`], with ECN agreed (RFC 3168) if `ecn`.
fn flight_ecn(ts: bool, undo: bool, ecn: bool) -> (Tcp, SeqNum, SeqNum, u32) {
    let mut cfg = Tcp::config();
    if ecn {
        cfg.ecn = Ecn::On;
    }
    cfg.tail_loss_probe = false;
    cfg.limited_transmit = false;
    cfg.congestion_control = Algorithm::NewReno;
    cfg.undo = undo;
    let mut t = Tcp::with_config(cfg);
    t.connect();
    let syn_flags = if ecn {
        SYN | TcpFlags::ECE | TcpFlags::CWR
    } else {
        SYN
    };
    let syn = t.expect(syn_flags).seg();
    t.iss = syn.hdr.seq;
    let (iss, irs) = (t.iss, t.peer_isn);
    t.peer_nxt = irs;
    let opts = if ts {
        SynOpts::mss(1460).with_sack().with_ts()
    } else {
        SynOpts::mss(1460).with_sack()
    };
    let synack = if ecn {
        SYN | ACK | TcpFlags::ECE
    } else {
        SYN | ACK
    };
    t.inject(synack).seq(irs).ack(iss + 1).opts(opts).at(ms(10));
    t.peer_ts = ts;
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    let mss = u32::from(t.status().mss);
    assert_eq!(mss, if ts { 1448 } else { 1460 });
    t.send(&bytes(mss)).unwrap();
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1 + mss).at(ms(20));
    t.run_until(ms(30));
    t.send(&bytes(40 * mss)).unwrap();
    let d = iss + 1 + mss;
    assert_eq!(t.take_sent().len(), 11, "{}", t.trace());
    assert_eq!((t.status().cwnd, t.status().ssthresh), (11 * mss, u32::MAX));
    (t, d, irs, mss)
}

/// The peer's ACK of `ack` segments from `d`, with SACK blocks (segments from `d`), at
/// `at`; with timestamps, echoing `tsecr` (or, if none, the stack's latest TSval).
#[allow(clippy::too_many_arguments)]
fn ack(
    t: &mut Tcp,
    irs: SeqNum,
    d: SeqNum,
    mss: u32,
    ack: u32,
    blocks: &[(u32, u32)],
    at: Instant,
    tsecr: Option<Instant>,
) {
    let blocks: Vec<(SeqNum, SeqNum)> = blocks
        .iter()
        .map(|&(a, b)| (d + a * mss, d + b * mss))
        .collect();
    let echo = tsecr.map(|when| t.stack_tsval(when));
    let tsval = PEER_TS_BASE.wrapping_add(at.as_millis() as u32);
    let seg = t.inject(ACK).seq(irs + 1).ack(d + ack * mss).sack(&blocks);
    match echo {
        Some(e) => seg.ts(tsval, e).at(at),
        None => seg.at(at),
    };
}

/// (segment index from `d`, send time) of the data segments sent since the last call.
fn sent(t: &mut Tcp, d: SeqNum, mss: u32) -> Vec<(u32, Instant)> {
    t.take_sent()
        .iter()
        .filter(|s| !s.payload.is_empty())
        .map(|s| ((s.seq() - d) / mss, s.at))
        .collect()
}

/// Segments 1, 2 and 3 arrive ahead of 0 at 42 ms: three SACKed segments and no reordering
/// seen, so RACK deems 0 lost at once, recovery starts (cwnd and ssthresh to half the
/// flight) and 0 is sent again.
fn fast_retransmit(t: &mut Tcp, irs: SeqNum, d: SeqNum, mss: u32) {
    ack(t, irs, d, mss, 0, &[(1, 4)], ms(42), None);
    assert_eq!(sent(t, d, mss), [(0, ms(42))]);
    let s = t.status();
    assert!(s.in_recovery);
    assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
}

#[test]
fn sk_12_dsack_undoes_a_spurious_fast_retransmit() {
    for undo in [true, false] {
        let (mut t, d, irs, mss) = flight(false, undo);
        fast_retransmit(&mut t, irs, d, mss);
        // Segment 0 was only late: it arrives, and the cumulative ACK covers the flight.
        // Without timestamps nothing yet says which copy arrived: recovery ends, cwnd is
        // ssthresh, and 5 new segments go out.
        ack(&mut t, irs, d, mss, 11, &[], ms(44), None);
        let s = t.status();
        assert!(!s.in_recovery);
        assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
        let new = sent(&mut t, d, mss);
        assert_eq!(
            new.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
            [11, 12, 13, 14, 15]
        );
        assert_eq!(t.counters().full_undos, 0);
        // Then the copy arrives, and the peer says so with a D-SACK (RFC 2883): the one
        // retransmission of the episode was unnecessary. cwnd and ssthresh go back to
        // what they were (RFC 3708; Linux TCPDSACKUndo), and 6 more segments go at once.
        t.inject(ACK)
            .seq(irs + 1)
            .ack(d + 11 * mss)
            .sack(&[(d, d + mss)])
            .at(ms(45));
        assert_eq!(t.counters().dsacks_received, 1);
        let s = t.status();
        let more = sent(&mut t, d, mss);
        if undo {
            assert_eq!(t.counters().dsack_undos, 1);
            assert_eq!((s.cwnd, s.ssthresh), (11 * mss, u32::MAX));
            assert_eq!(
                more.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
                [16, 17, 18, 19, 20, 21]
            );
            assert!(more.iter().all(|&(_, at)| at == ms(45)));
        } else {
            assert_eq!(t.counters().dsack_undos, 0);
            assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
            assert_eq!(more, []);
        }
        assert_eq!(t.counters().retrans_segs, 1);
    }
}

#[test]
fn sk_12_timestamps_undo_a_spurious_fast_retransmit() {
    // RFC 3522 (Eifel) at the end of recovery: the ACK that ends it echoes the TSval of
    // the original segment 0 (sent at 30 ms), older than the retransmission (42 ms): the
    // original arrived, the reduction is undone at once (Linux TCPFullUndo), before any
    // D-SACK.
    for undo in [true, false] {
        let (mut t, d, irs, mss) = flight(true, undo);
        fast_retransmit(&mut t, irs, d, mss);
        ack(&mut t, irs, d, mss, 11, &[], ms(44), Some(ms(30)));
        let s = t.status();
        let new = sent(&mut t, d, mss);
        assert!(!s.in_recovery);
        if undo {
            assert_eq!(t.counters().full_undos, 1);
            assert_eq!((s.cwnd, s.ssthresh), (11 * mss, u32::MAX));
            assert_eq!(new.len(), 11, "a full window of new data: {new:?}");
        } else {
            assert_eq!(t.counters().full_undos, 0);
            assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
            assert_eq!(new.len(), 5);
        }
        assert!(new.iter().all(|&(i, at)| i >= 11 && at == ms(44)));
        assert_eq!(t.counters().dsack_undos + t.counters().loss_undos, 0);
    }
}

#[test]
fn sk_12_a_real_loss_is_not_undone() {
    // Segment 0 was really lost: the retransmission fills the hole, so the ACK ending
    // recovery echoes the retransmission's TSval (42 ms), and no D-SACK comes. The
    // reduction stands. (The control: the same ACK echoing the original's TSval, 30 ms,
    // is undone.)
    for (echo, spurious) in [(ms(42), false), (ms(30), true)] {
        let (mut t, d, irs, mss) = flight(true, true);
        fast_retransmit(&mut t, irs, d, mss);
        ack(&mut t, irs, d, mss, 11, &[], ms(52), Some(echo));
        let s = t.status();
        assert!(!s.in_recovery);
        if spurious {
            assert_eq!((s.cwnd, s.ssthresh), (11 * mss, u32::MAX));
            assert_eq!(t.counters().full_undos, 1);
            continue;
        }
        assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
        assert_eq!(sent(&mut t, d, mss).len(), 5);
        // A D-SACK for a segment never retransmitted (the network duplicated segment 5)
        // is no evidence about the retransmission: still nothing undone.
        ack(&mut t, irs, d, mss, 11, &[(5, 6)], ms(53), Some(ms(42)));
        assert_eq!(t.counters().dsacks_received, 1);
        let s = t.status();
        assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
        let c = t.counters();
        assert_eq!((c.full_undos, c.dsack_undos, c.loss_undos), (0, 0, 0));
        assert_eq!(sent(&mut t, d, mss), []);
    }
}

#[test]
fn sk_12_one_of_two_retransmissions_d_sacked_is_not_undone() {
    // Two holes, two retransmissions: segment 0 (late, its copy unnecessary) and segment 4
    // (really lost). One D-SACK (for 0's copy) leaves one retransmission unexplained: no
    // undo. Only were 4's copy D-SACKed too would the episode be spurious.
    let (mut t, d, irs, mss) = flight(false, true);
    fast_retransmit(&mut t, irs, d, mss);
    // 5..10 arrive (sent with 4 at 30 ms, 14 ms ago): RACK deems 4 lost; it goes again.
    ack(&mut t, irs, d, mss, 0, &[(1, 4), (5, 11)], ms(44), None);
    let out = sent(&mut t, d, mss);
    assert_eq!(out.first(), Some(&(4, ms(44))), "{}", t.trace());
    assert_eq!(t.counters().retrans_segs, 2);
    // The late original 0 and the copy of 4 fill the holes: recovery ends, cwnd is
    // ssthresh; no timestamps, so no verdict yet.
    ack(&mut t, irs, d, mss, 11, &[], ms(54), None);
    let s = t.status();
    assert!(!s.in_recovery);
    assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
    // The copy of 0 is D-SACKed: one of two retransmissions proved unnecessary.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(d + 11 * mss)
        .sack(&[(d, d + mss)])
        .at(ms(55));
    assert_eq!(t.counters().dsacks_received, 1);
    assert_eq!(t.counters().dsack_undos, 0);
    let s = t.status();
    assert_eq!((s.cwnd, s.ssthresh), (11 * mss / 2, 11 * mss / 2));
    // (Had the copy of 4 been a duplicate too, its D-SACK would complete the proof.)
    t.inject(ACK)
        .seq(irs + 1)
        .ack(d + 11 * mss)
        .sack(&[(d + 4 * mss, d + 5 * mss)])
        .at(ms(56));
    assert_eq!(t.counters().dsack_undos, 1);
    assert_eq!(t.status().cwnd, 11 * mss);
}

#[test]
fn sk_12_timestamps_undo_a_spurious_rto() {
    // No ACK for the flight sent at 30 ms until the RTO fires: cwnd drops to one segment,
    // ssthresh to half the flight, segment 0 goes again. Then the ACKs of the originals
    // arrive (a delay spike, nothing lost): the first, for 0..5, echoes the originals'
    // TSval, older than the retransmission's: the timeout was spurious (RFC 3522; Linux
    // TCPLossUndo). cwnd and ssthresh come back, and what the RTO took for lost (6..10) is
    // not resent: new data follows instead.
    for undo in [true, false] {
        let (mut t, d, irs, mss) = flight(true, undo);
        let rtx = t.run_until_sent(secs(2));
        assert_eq!(rtx.seq(), d);
        let rto_at = rtx.at;
        assert_eq!(t.counters().timeouts, 1);
        let s = t.status();
        assert_eq!((s.cwnd, s.ssthresh), (mss, 11 * mss / 2));
        t.take_sent();
        let at = rto_at + dms(5);
        ack(&mut t, irs, d, mss, 6, &[], at, Some(ms(30)));
        let s = t.status();
        let out = sent(&mut t, d, mss);
        if undo {
            assert_eq!(t.counters().loss_undos, 1);
            // cwnd 11 segments restored, plus this ACK's slow-start growth (ssthresh is
            // "infinite" again): 12, with 5 segments (6..10) still in flight.
            assert_eq!((s.cwnd, s.ssthresh), (12 * mss, u32::MAX));
            assert_eq!(
                out.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
                (11..18).collect::<Vec<_>>(),
                "new data, no go-back-N"
            );
        } else {
            // Slow start from one segment: two segments, from the go-back-N point.
            assert_eq!(t.counters().loss_undos, 0);
            assert_eq!((s.cwnd, s.ssthresh), (2 * mss, 11 * mss / 2));
            assert_eq!(out.iter().map(|&(i, _)| i).collect::<Vec<_>>(), [6, 7]);
        }
        assert_eq!(t.counters().retrans_segs, if undo { 1 } else { 3 });
    }
}

#[test]
fn sk_12_a_needed_rto_retransmission_is_not_undone() {
    // The same timeout, but the flight was lost: the first ACK is for the retransmission,
    // echoing its TSval. The reduction stands; slow start goes on from one segment, and
    // go-back-N resends 1 and 2. (The control: echoing the originals' TSval undoes it.)
    for spurious in [false, true] {
        let (mut t, d, irs, mss) = flight(true, true);
        let rtx = t.run_until_sent(secs(2));
        assert_eq!(rtx.seq(), d);
        t.take_sent();
        let echo = if spurious { ms(30) } else { rtx.at };
        ack(&mut t, irs, d, mss, 1, &[], rtx.at + dms(10), Some(echo));
        let s = t.status();
        let out: Vec<u32> = sent(&mut t, d, mss).iter().map(|&(i, _)| i).collect();
        if spurious {
            assert_eq!(t.counters().loss_undos, 1);
            assert_eq!((s.cwnd, s.ssthresh), (12 * mss, u32::MAX));
            assert_eq!(out, (11..13).collect::<Vec<_>>());
        } else {
            assert_eq!(t.counters().loss_undos, 0);
            assert_eq!((s.cwnd, s.ssthresh), (2 * mss, 11 * mss / 2));
            assert_eq!(out, [1, 2]);
        }
    }
}

#[test]
fn sk_12_an_ecn_echo_cancels_a_pending_undo() {
    // As in the D-SACK test, recovery ends without a verdict; then, before the D-SACK for
    // the copy of 0 comes, an ECN-Echo reports real congestion and cwnd is reduced for it.
    // That reduction is not to be taken back, so the D-SACK undoes nothing (Linux
    // tcp_enter_cwr clears the undo marker). The control, without the echo, is undone.
    for echo in [true, false] {
        let (mut t, d, irs, mss) = flight_ecn(false, true, true);
        fast_retransmit(&mut t, irs, d, mss);
        ack(&mut t, irs, d, mss, 11, &[], ms(44), None);
        assert_eq!(sent(&mut t, d, mss).len(), 5);
        let flags = if echo { ACK | TcpFlags::ECE } else { ACK };
        t.inject(flags).seq(irs + 1).ack(d + 12 * mss).at(ms(50));
        let reduced = t.status().cwnd;
        assert_eq!(t.counters().ecn_reductions, u64::from(echo));
        t.inject(ACK)
            .seq(irs + 1)
            .ack(d + 12 * mss)
            .sack(&[(d, d + mss)])
            .at(ms(51));
        assert_eq!(t.counters().dsacks_received, 1);
        if echo {
            assert_eq!(t.counters().dsack_undos, 0);
            assert_eq!(t.status().cwnd, reduced);
        } else {
            assert_eq!(t.counters().dsack_undos, 1);
            assert_eq!(t.status().cwnd, 11 * mss);
        }
    }
}
