//! Tail loss probes (RFC 8985 §7: RK-3, RK-4; Linux tcp_early_retrans = 3): after 2·SRTT
//! without an ACK, one probe instead of waiting for the RTO.

mod harness;
use harness::*;

/// TLP is on by default (`Config::tail_loss_probe`); said explicitly here.
fn tlp_on() -> Config {
    let mut cfg = Tcp::config();
    cfg.tail_loss_probe = true;
    cfg
}

/// An established SACK + timestamps connection with a measured SRTT of a few ms (the
/// handshake's 0 ms sample, then 10 ms: 1.25 ms) and an RTO near its 200 ms floor, NODELAY,
/// nothing outstanding.
fn measured() -> (Tcp, SeqNum) {
    let mut t = Tcp::with_config(tlp_on());
    let iss = t.establish_active_with(SynOpts::linux());
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[1u8; 100]).unwrap();
    t.expect(ACK | PSH).seq(iss + 1).len(100);
    t.advance(dms(10));
    let peer = t.peer_isn;
    t.inject(ACK).seq(peer + 1).ack(iss + 101);
    assert!(t.status().srtt.unwrap() <= dms(5));
    // The 200 ms floor applies to the variance term, as in Linux (LX-4): about 201 ms.
    assert!(t.status().rto >= dms(200) && t.status().rto < dms(210));
    (t, iss + 101)
}

#[test]
fn rk_3_probe_resends_the_last_segment_after_two_srtt() {
    let (mut t, start) = measured();
    let mss = u32::from(t.status().mss);
    t.send(&vec![2u8; 3 * mss as usize]).unwrap();
    let flight = t.take_sent();
    assert_eq!(flight.len(), 3);
    let sent_at = t.now;
    // Nothing comes back. PTO = 2 * SRTT, at least 10 ms: the last segment goes again.
    let pto = (2 * t.status().srtt.unwrap()).max(dms(10));
    let probe = t.run_until_sent(sent_at + dms(1000));
    assert_eq!(probe.at, sent_at + pto);
    assert_eq!(probe.seq(), start + 2 * mss);
    assert_eq!(probe.payload.len() as u32, mss);
    assert_eq!(t.counters().tail_loss_probes, 1);
    // RK-4: one probe at a time; the next event is the RTO, 200 ms after the probe, from
    // SND.UNA.
    let rto_d = t.status().rto;
    let rto = t.run_until_sent(sent_at + dms(1000));
    assert_eq!(rto.at, probe.at + rto_d);
    assert_eq!(rto.seq(), start);
    assert_eq!(t.counters().tail_loss_probes, 1);
    assert_eq!(t.counters().timeouts, 1);
}

/// The typical repair: only the tail segment was lost; the probe brings the ACK for
/// everything, long before the RTO, and probing is possible again for later flights.
#[test]
fn rk_3_probe_repairs_a_lost_tail_without_an_rto() {
    let (mut t, start) = measured();
    let mss = u32::from(t.status().mss);
    let peer = t.peer_isn;
    t.send(&vec![3u8; 2 * mss as usize]).unwrap();
    t.take_sent();
    // The first segment arrives and is acknowledged; the second is lost.
    t.advance(dms(10));
    t.inject(ACK).seq(peer + 1).ack(start + mss);
    let probe = t.run_until_sent(t.now + dms(1000));
    assert_eq!(probe.seq(), start + mss);
    assert!(probe.at < t.now + dms(100), "well before the RTO");
    t.advance(dms(10));
    t.inject(ACK).seq(peer + 1).ack(start + 2 * mss);
    assert_eq!(t.status().snd_una, (start + 2 * mss).0);
    assert_eq!(t.counters().timeouts, 0, "no RTO was needed");
    // A later flight can be probed again.
    t.send(&vec![4u8; 2 * mss as usize]).unwrap();
    t.take_sent();
    let again = t.run_until_sent(t.now + dms(1000));
    assert_eq!(again.seq(), start + 3 * mss);
    assert_eq!(t.counters().tail_loss_probes, 2);
}

/// RFC 8985 §7.3: a new segment is the better probe when the peer's window allows one
/// (here cwnd held it back).
#[test]
fn rk_3_probe_sends_new_data_when_it_can() {
    let (mut t, start) = measured();
    let mss = u32::from(t.status().mss);
    let cwnd = t.status().cwnd;
    let segs = cwnd / mss;
    t.send(&vec![5u8; ((segs + 2) * mss) as usize]).unwrap();
    let flight = t.take_sent();
    assert_eq!(flight.len() as u32, segs, "cwnd-limited");
    let probe = t.run_until_sent(t.now + dms(1000));
    assert_eq!(probe.seq(), start + segs * mss, "new data");
    assert_eq!(t.counters().retrans_segs, 0);
}

/// RFC 8985 §7.2: with one segment in flight the PTO adds the worst-case delayed ACK
/// (200 ms); 2·SRTT + 200 ms is later than the RTO (200 ms), so the RTO acts and no probe
/// is sent.
#[test]
fn rk_3_probe_never_later_than_the_rto() {
    let (mut t, start) = measured();
    let rto = t.status().rto;
    t.send(b"x").unwrap();
    let sent = t.expect(ACK | PSH).seq(start).len(1).seg();
    let rtx = t.run_until_sent(t.now + dms(1000));
    assert_eq!(rtx.at, sent.at + rto);
    assert_eq!(t.counters().tail_loss_probes, 0);
    assert_eq!(t.counters().timeouts, 1);
}

/// No SACK, no TLP (as Linux): without SACK blocks the probe's ACK could not show what
/// was lost.
#[test]
fn rk_3_no_probe_without_sack() {
    let mut t = Tcp::with_config(tlp_on());
    let iss = t.establish_active_with(SynOpts::mss(1460).with_ts());
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[1u8; 3000]).unwrap();
    t.take_sent();
    t.run_until(secs(2));
    assert_eq!(t.counters().tail_loss_probes, 0);
    assert!(t.counters().timeouts >= 1);
    let _ = iss;
}

/// The knob (Config::tail_loss_probe) switches it off.
#[test]
fn rk_3_knob_off_means_rto_only() {
    let mut cfg = Tcp::config();
    cfg.tail_loss_probe = false;
    let mut t = Tcp::with_config(cfg);
    t.establish_active_with(SynOpts::linux());
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[1u8; 3000]).unwrap();
    t.take_sent();
    t.run_until(secs(2));
    assert_eq!(t.counters().tail_loss_probes, 0);
}

/// RK-4: a retransmitted probe, then an ACK beyond the probe's end with no D-SACK: the
/// probe repaired a real loss, so cwnd is reduced once (Linux TCPLossProbeRecovery). With a
/// D-SACK for the probe (the original had arrived too) nothing is reduced.
#[test]
fn rk_4_a_repairing_probe_reduces_cwnd_once_a_duplicate_one_does_not() {
    for dsack in [false, true] {
        let (mut t, start) = measured();
        let mss = u32::from(t.status().mss);
        let peer = t.peer_isn;
        t.send(&vec![6u8; 3 * mss as usize]).unwrap();
        t.take_sent();
        let probe = t.run_until_sent(t.now + dms(1000));
        assert_eq!(probe.seq(), start + 2 * mss);
        // More data goes out after the probe.
        t.send(&vec![7u8; mss as usize]).unwrap();
        t.expect(ACK | PSH).seq(start + 3 * mss);
        let cwnd = t.status().cwnd;
        t.advance(dms(2));
        let ack = start + 4 * mss;
        if dsack {
            t.inject(ACK)
                .seq(peer + 1)
                .ack(ack)
                .sack(&[(start + 2 * mss, start + 3 * mss)]);
            assert_eq!(t.counters().tlp_recoveries, 0);
            assert!(t.status().cwnd >= cwnd, "no reduction for a needless probe");
        } else {
            t.inject(ACK).seq(peer + 1).ack(ack);
            assert_eq!(t.counters().tlp_recoveries, 1);
            assert!(t.status().cwnd < cwnd, "{} !< {cwnd}", t.status().cwnd);
        }
        assert_eq!(t.status().snd_una, ack.0);
    }
}
