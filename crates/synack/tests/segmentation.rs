//! Segmentation and PUSH (checklist 1.8), shrunk windows (1.9), delayed ACKs (1.10) and
//! CLOSE (UI-4). The API has no PUSH flag: every write counts as pushed (MUST-60, MUST-61).
mod harness;
use harness::*;

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// (flags, seq, len) of the unchecked segments.
fn sent(t: &mut Tcp) -> Vec<(TcpFlags, SeqNum, usize)> {
    t.take_sent()
        .iter()
        .map(|s| (s.flags(), s.seq(), s.payload.len()))
        .collect()
}

#[test]
fn must_60_data_never_held_indefinitely() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // A lone small write goes at once.
    t.send(b"a").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"a").at(ms(0));
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    // The tail Nagle holds behind unacknowledged data goes the moment the ACK comes.
    t.send(&bytes(3000)).unwrap();
    assert_eq!(
        sent(&mut t),
        [(ACK, iss + 2, 1460), (ACK, iss + 1462, 1460)]
    );
    t.run_until(ms(20));
    t.expect_nothing();
    t.inject(ACK).seq(irs + 1).ack(iss + 2922).at(ms(20));
    t.expect(PSH | ACK).seq(iss + 2922).len(80).at(ms(20));
    t.inject(ACK).seq(irs + 1).ack(iss + 3002).at(ms(30));
    // A window too small for sender SWS avoidance (100 bytes, under the MSS and under half
    // the largest window): held, but only until the override timer, one RTO later.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 3002)
        .win(100)
        .at(ms(40));
    t.send(&bytes(1000)).unwrap();
    t.expect_nothing();
    let rto = t.status().rto;
    t.run_until(ms(40) + (rto - dms(1)));
    t.expect_nothing();
    t.run_until(ms(40) + rto);
    t.expect(ACK).seq(iss + 3002).len(100).at(ms(40) + rto);
}

#[test]
fn must_61_psh_on_the_segment_that_empties_the_send_queue() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&bytes(3000)).unwrap();
    assert_eq!(
        sent(&mut t),
        [
            (ACK, iss + 1, 1460),
            (ACK, iss + 1461, 1460),
            (PSH | ACK, iss + 2921, 80)
        ]
    );
    t.inject(ACK).seq(irs + 1).ack(iss + 3001).at(ms(10));
    // The peer's window holds two segments: the last one sent does not empty the queue, so
    // it carries no PSH ...
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 3001)
        .win(2920)
        .at(ms(20));
    t.send(&bytes(5000)).unwrap();
    let d = iss + 3001;
    assert_eq!(sent(&mut t), [(ACK, d, 1460), (ACK, d + 1460, 1460)]);
    // ... the one that does, once the window opens, does.
    t.inject(ACK).seq(irs + 1).ack(d + 2920).at(ms(30));
    assert_eq!(
        sent(&mut t),
        [(ACK, d + 2920, 1460), (PSH | ACK, d + 4380, 620)]
    );
    // Retransmissions keep the rule: the first lost segment does not empty the queue (no
    // PSH), the last one does.
    let rto = t.status().rto;
    t.run_until(ms(30) + rto);
    assert_eq!(sent(&mut t), [(ACK, d + 2920, 1460)]);
    t.inject(ACK)
        .seq(irs + 1)
        .ack(d + 4380)
        .at(ms(30) + rto + dms(5));
    assert_eq!(sent(&mut t), [(PSH | ACK, d + 4380, 620)]);
}

#[test]
fn shld_27_push_points_merged_not_record_boundaries() {
    // Three writes (three push points) queued behind a zero window leave as full-sized
    // segments cut where the MSS falls, not where the writes ended, with one PSH at the end.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(0);
    for _ in 0..3 {
        t.send(&bytes(1000)).unwrap();
    }
    t.expect_nothing();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).at(ms(10));
    assert_eq!(
        sent(&mut t),
        [
            (ACK, iss + 1, 1460),
            (ACK, iss + 1461, 1460),
            (PSH | ACK, iss + 2921, 80)
        ]
    );
    // Small writes Nagle holds are merged the same way: one segment, one PSH.
    t.stack.set_nodelay(t.c(), false).unwrap();
    t.inject(ACK).seq(irs + 1).ack(iss + 3001).at(ms(20));
    t.send(b"a").unwrap();
    t.expect(PSH | ACK).seq(iss + 3001).payload(b"a");
    for p in [b"b", b"c", b"d"] {
        t.send(p).unwrap();
    }
    t.expect_nothing();
    t.inject(ACK).seq(irs + 1).ack(iss + 3002).at(ms(30));
    t.expect(PSH | ACK).seq(iss + 3002).payload(b"bcd");
    t.expect_nothing();
}

#[test]
fn shld_28_full_sized_segments_with_nodelay_and_on_retransmission() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    // Nagle off: still cut at the MSS, one short segment at the end.
    t.send(&bytes(10_000)).unwrap();
    let mut want: Vec<(TcpFlags, SeqNum, usize)> =
        (0..6).map(|i| (ACK, iss + 1 + i * 1460, 1460)).collect();
    want.push((PSH | ACK, iss + 8761, 1240));
    assert_eq!(sent(&mut t), want);
    t.inject(ACK).seq(irs + 1).ack(iss + 10_001).at(ms(10));
    // Ten 100-byte writes leave as ten segments; their retransmission is one segment.
    let d = iss + 10_001;
    for _ in 0..10 {
        t.send(&bytes(100)).unwrap();
    }
    assert_eq!(sent(&mut t).len(), 10);
    let rto = t.status().rto;
    t.run_until(ms(10) + rto);
    assert_eq!(sent(&mut t), [(PSH | ACK, d, 1000)]);
}

#[test]
fn shld_16_retransmit_within_a_shrunk_window() {
    // SHLD-16: after a shrink, unacknowledged data in SND.UNA..SND.UNA+SND.WND is
    // retransmitted as usual; nothing beyond the new right edge (SHLD-15) is sent.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&bytes(3 * 1460)).unwrap();
    assert_eq!(sent(&mut t).len(), 3);
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(1460).at(ms(10));
    t.run_until(ms(250));
    assert_eq!(
        t.take_sent()
            .iter()
            .map(|s| (s.at, s.seq(), s.payload.len()))
            .collect::<Vec<_>>(),
        [(ms(200), iss + 1, 1460)]
    );
    // Each ACK moves the one-segment window on; the next segment goes, and only it.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1461)
        .win(1460)
        .at(ms(250));
    assert_eq!(sent(&mut t), [(ACK, iss + 1461, 1460)]);
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 2921)
        .win(1460)
        .at(ms(260));
    assert_eq!(sent(&mut t), [(PSH | ACK, iss + 2921, 1460)]);
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 4381)
        .win(1460)
        .at(ms(270));
    t.run_until(secs(10));
    t.expect_nothing();
}

/// Three segments in flight; the peer ACKs the first and closes its window: the other two
/// lie beyond the right edge.
fn shrunk_to_zero_with_data_in_flight() -> (Tcp, SeqNum, SeqNum) {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&bytes(3 * 1460)).unwrap();
    assert_eq!(sent(&mut t).len(), 3);
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).win(0).at(ms(10));
    assert_eq!(t.status().snd_wnd, 0);
    (t, iss, irs)
}

#[test]
fn must_35_window_shrunk_to_zero_with_data_in_flight_is_probed() {
    let (mut t, iss, irs) = shrunk_to_zero_with_data_in_flight();
    // Something must go out to draw the window: a probe (or a retransmission) within a few
    // RTOs, and again and again while the window stays shut.
    let mut probes = vec![];
    for _ in 0..10_000 {
        let Some(at) = t.stack.poll_timeout().filter(|&at| at < secs(60)) else {
            break;
        };
        t.run_until(at.max(t.now));
        for s in t.take_sent() {
            probes.push(s.at);
            t.inject(ACK).seq(irs + 1).ack(iss + 1461).win(0);
        }
    }
    assert!(
        probes.len() >= 5 && probes[0] <= secs(1),
        "probes at {probes:?}\n{}",
        t.trace()
    );
    t.assert_state(State::Established);
}

#[test]
fn shld_17_data_beyond_a_shrunk_window_never_times_out() {
    // SHLD-17: the two segments beyond the right edge stay unacknowledged for far longer
    // than R2 (924.6 s); the peer answers whatever we send with its zero window. The
    // connection is not timed out, and the data goes once the window opens.
    let (mut t, iss, irs) = shrunk_to_zero_with_data_in_flight();
    for _ in 0..10_000 {
        let Some(at) = t.stack.poll_timeout().filter(|&at| at <= secs(3000)) else {
            break;
        };
        t.run_until(at.max(t.now));
        for _ in t.take_sent() {
            t.inject(ACK).seq(irs + 1).ack(iss + 1461).win(0);
        }
    }
    t.run_until(secs(3000));
    t.assert_state(State::Established);
    assert_eq!(t.close_reason(), None);
    t.take_sent();
    t.inject(ACK).seq(irs + 1).ack(iss + 1461).at(secs(3000));
    let mut got = 0;
    for _ in 0..10 {
        let s = t.run_until_sent(secs(4000));
        if s.seq() == iss + 1461 + got as u32 && !s.payload.is_empty() {
            got += s.payload.len();
            t.inject(ACK).seq(irs + 1).ack(iss + 1461 + got as u32);
        }
        if got == 2 * 1460 {
            break;
        }
    }
    assert_eq!(got, 2 * 1460);
    assert_eq!(t.status().send_queued, 0);
}

#[test]
fn shld_18_delayed_acks_on_by_default() {
    // SHLD-18 (and LX-10): past the quick ACKs of the connection start, a lone in-order
    // segment is ACKed after 40 ms, or earlier by data going the other way.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let mut seq = irs + 1;
    for i in 0..16u64 {
        t.inject(ACK).seq(seq).ack(iss + 1).len(10).at(ms(i));
        seq += 10;
        t.expect(ACK).ack(seq).at(ms(i));
    }
    t.inject(ACK).seq(seq).ack(iss + 1).len(10).at(ms(100));
    seq += 10;
    t.run_until(ms(139));
    t.expect_nothing();
    t.run_until(ms(140));
    t.expect(ACK).seq(iss + 1).ack(seq).len(0).at(ms(140));
    assert_eq!(t.counters().delayed_acks, 1);
    // The application answers within the delay: the ACK rides on its data, alone.
    t.inject(ACK).seq(seq).ack(iss + 1).len(10).at(ms(200));
    seq += 10;
    t.run_until(ms(220));
    t.send(b"reply").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).ack(seq).at(ms(220));
    t.run_until(ms(400));
    t.expect_nothing();
}

#[test]
fn may_8_receiver_keeps_its_window_shut_indefinitely() {
    // MAY-8: a receiver whose application does not read keeps a zero window for as long
    // as it likes, answering every probe with it; nothing times out on our side.
    let mut cfg = Tcp::config();
    cfg.recv_buffer = 4096;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    for (off, len) in [(0u32, 1460usize), (1460, 1460), (2920, 1176)] {
        t.inject(ACK).seq(irs + 1 + off).ack(iss + 1).len(len);
        t.take_sent();
    }
    let full = irs + 1 + 4096;
    assert_eq!(t.status().rcv_wnd, 0);
    // Ten hours of probes, in both styles: one new byte, or an old sequence number.
    let mut at = 0u64;
    let mut interval = 200u64;
    let mut probes = 0;
    while at < 10 * 3600 * 1000 {
        at += interval;
        interval = (interval * 2).min(120_000);
        if probes % 2 == 0 {
            t.inject(ACK)
                .seq(full)
                .ack(iss + 1)
                .payload(b"p")
                .at(ms(at));
        } else {
            t.inject(ACK).seq(full - 1).ack(iss + 1).at(ms(at));
        }
        t.expect(ACK).seq(iss + 1).ack(full).win(0).at(ms(at));
        t.expect_nothing();
        probes += 1;
    }
    assert!(probes > 290, "{probes}");
    t.assert_state(State::Established);
    // The application reads at last: the window opens with an update.
    assert_eq!(t.read_all().len(), 4096);
    t.expect(ACK).seq(iss + 1).ack(full).win(4096);
}

#[test]
fn ui_4_close_implies_push_and_an_undrainable_close_aborts() {
    // CLOSE implies PUSH: the small write Nagle holds goes at once, with the FIN.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"a").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"a");
    t.send(b"bcd").unwrap();
    t.expect_nothing();
    t.close().unwrap();
    t.expect(FIN | PSH | ACK)
        .seq(iss + 2)
        .ack(irs + 1)
        .payload(b"bcd")
        .at(ms(0));
    // The peer is gone: the data cannot drain. The orphan retries it (with the FIN) under
    // tcp_orphan_retries = 8, then gives up: the CLOSE has turned into an ABORT.
    t.run_until(ms(102_199));
    let times: Vec<u64> = t
        .take_sent()
        .iter()
        .map(|s| {
            assert_eq!(
                (s.flags(), s.seq(), s.payload.as_slice()),
                (FIN | PSH | ACK, iss + 1, b"abcd".as_slice())
            );
            s.at.as_millis()
        })
        .collect();
    assert_eq!(times, [200, 600, 1400, 3000, 6200, 12600, 25400, 51000]);
    t.assert_state(State::FinWait1);
    t.run_until(ms(102_200));
    t.assert_gone();
    t.expect_nothing();
    assert_eq!(t.counters().abort_on_timeout, 1);

    // The application keeps its handle (shutdown) and set a user timeout: the CLOSE whose
    // data cannot drain is aborted when it expires, and the application is told.
    let mut cfg = Tcp::config();
    cfg.user_timeout = Some(dsecs(5));
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let c = t.c();
    t.send(&bytes(3000)).unwrap();
    t.shutdown().unwrap();
    t.expect(ACK).seq(iss + 1).len(1460);
    t.expect(ACK).seq(iss + 1461).len(1460);
    t.expect(FIN | PSH | ACK).seq(iss + 2921).len(80);
    t.run_until(ms(4999));
    t.assert_state(State::FinWait1);
    t.run_until(secs(5));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    assert!(t.saw(Event::StateChanged {
        conn: c,
        from: State::FinWait1,
        to: State::Closed,
        cause: Cause::Timer(TimerKind::UserTimeout),
    }));
    assert_eq!(t.status().send_queued, 0, "queues flushed (UI-8)");
}
