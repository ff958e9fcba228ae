//! Closing (checklist 1.7): FIN processing by state, simultaneous close, CLOSE by state,
//! TIME-WAIT and its reopening, half-duplex close, FIN-WAIT-2 timeouts, close reasons.
mod harness;
use harness::*;

#[test]
fn st_8_close_sends_queued_data_then_fin_until_acked() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&[1u8; 3000]).unwrap();
    t.expect(ACK).seq(iss + 1).len(1460);
    t.expect(ACK).seq(iss + 1461).len(1460);
    // The last 80 bytes wait for an ACK (Nagle) ... until CLOSE, which implies PUSH: they
    // go with the FIN.
    t.expect_nothing();
    t.shutdown().unwrap();
    t.expect(FIN | PSH | ACK)
        .seq(iss + 2921)
        .ack(irs + 1)
        .len(80);
    t.assert_state(State::FinWait1);
    // The data is acknowledged, the FIN is not: the FIN alone is retransmitted.
    t.inject(ACK).seq(irs + 1).ack(iss + 3001).at(ms(10));
    t.assert_state(State::FinWait1);
    // RTT sample of 10 ms on top of the handshake's 0: SRTT 1.25 ms, RTO 201.25 ms from 10 ms.
    t.run_until(ms(300));
    t.expect(FIN | ACK)
        .seq(iss + 3001)
        .ack(irs + 1)
        .len(0)
        .at(us(211_250));
    t.inject(ACK).seq(irs + 1).ack(iss + 3002).at(ms(300));
    t.assert_state(State::FinWait2);
    t.advance(dsecs(10));
    t.expect_nothing();
}

#[test]
fn st_8_half_close_keeps_receiving() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2);
    t.assert_state(State::FinWait2);
    // Hours later the peer is still sending; we keep taking it and ACKing.
    for i in 0..3u32 {
        let at = secs(3600 * (i as u64 + 1));
        t.inject(ACK | PSH)
            .seq(irs + 1 + 5 * i)
            .ack(iss + 2)
            .payload(b"12345")
            .at(at);
        t.expect(ACK).seq(iss + 2).ack(irs + 6 + 5 * i).at(at);
    }
    t.assert_state(State::FinWait2);
    assert_eq!(t.read_all(), b"123451234512345");
    assert_eq!(t.send(b"no"), Err(Error::Closing));
    t.inject(FIN | ACK).seq(irs + 16).ack(iss + 2);
    t.expect(ACK).seq(iss + 2).ack(irs + 17);
    t.assert_state(State::TimeWait);
    assert_eq!(t.recv(10).unwrap(), b"");
}

#[test]
fn st_9_simultaneous_close_closing() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1).at(ms(0));
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1).at(ms(5));
    t.expect(ACK).seq(iss + 2).ack(irs + 2).at(ms(5));
    t.assert_state(State::Closing);
    // CLOSING: an ACK that is not for our FIN changes nothing.
    t.inject(ACK).seq(irs + 2).ack(iss + 1).at(ms(6));
    t.assert_state(State::Closing);
    // The ACK of our FIN: TIME-WAIT, then CLOSED 2MSL later.
    t.inject(ACK).seq(irs + 2).ack(iss + 2).at(ms(10));
    t.assert_state(State::TimeWait);
    t.run_until(ms(60_009));
    t.assert_state(State::TimeWait);
    t.run_until(ms(60_010));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    t.expect_nothing();
    assert_eq!(
        t.transitions()[2..],
        [
            (State::Established, State::FinWait1),
            (State::FinWait1, State::Closing),
            (State::Closing, State::TimeWait),
            (State::TimeWait, State::Closed)
        ]
    );
}

#[test]
fn s_9_fin_with_ack_of_our_fin_goes_straight_to_time_wait() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2);
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    assert!(!t.transitions().contains(&(State::FinWait1, State::Closing)));
}

#[test]
fn ep_19_ack_effects_by_state() {
    // FIN-WAIT-1: only the ACK of our FIN moves to FIN-WAIT-2.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"data").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 5);
    t.inject(ACK).seq(irs + 1).ack(iss + 5);
    t.assert_state(State::FinWait1);
    t.inject(ACK).seq(irs + 1).ack(iss + 6);
    t.assert_state(State::FinWait2);

    // LAST-ACK: the ACK of our FIN ends the connection normally.
    let mut t = Tcp::v4();
    t.establish_in(State::LastAck);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::LastAck);
    t.inject(ACK).seq(rcv_nxt).ack(snd_nxt - 1);
    t.assert_state(State::LastAck);
    t.inject(ACK).seq(rcv_nxt).ack(snd_nxt);
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    t.expect_nothing();
}

#[test]
fn ep_22_fin_transitions() {
    // ESTABLISHED -> CLOSE-WAIT: the user is told (Readable, then end of stream) and the FIN
    // is ACKed at once.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let c = t.c();
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1).at(ms(3));
    t.expect(ACK).seq(iss + 1).ack(irs + 2).at(ms(3));
    t.assert_state(State::CloseWait);
    assert!(t.saw(Event::Readable { conn: c }));
    assert_eq!(t.recv(10).unwrap(), b"");
    // CLOSE-WAIT, LAST-ACK: a retransmitted FIN is re-ACKed, nothing else changes.
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1);
    t.expect(ACK).seq(iss + 1).ack(irs + 2);
    t.assert_state(State::CloseWait);
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 2);
    t.assert_state(State::LastAck);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1);
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::LastAck);

    // FIN-WAIT-1 -> CLOSING (our FIN not acked), CLOSING stays on a repeat.
    let mut t = Tcp::v4();
    t.establish_in(State::Closing);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::Closing);
    t.inject(FIN | ACK).seq(rcv_nxt - 1).ack(snd_nxt - 1);
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt);
    t.assert_state(State::Closing);

    // FIN-WAIT-2 -> TIME-WAIT.
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait2);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::FinWait2);
    t.inject(FIN | ACK).seq(rcv_nxt).ack(snd_nxt);
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt + 1);
    t.assert_state(State::TimeWait);

    // SYN-RECEIVED -> (ESTABLISHED) -> CLOSE-WAIT when the third segment carries a FIN.
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).seq_any();
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1);
    t.expect(ACK).seq(iss + 1).ack(irs + 2);
    t.accept().unwrap();
    t.assert_state(State::CloseWait);
    assert_eq!(t.recv(10).unwrap(), b"");
}

#[test]
fn st_10_close_by_state() {
    // SYN-SENT: the TCB goes, nothing is sent.
    let mut t = Tcp::v4();
    t.connect();
    t.expect(SYN);
    t.shutdown().unwrap();
    t.assert_state(State::Closed);
    t.advance(dsecs(10));
    t.expect_nothing();

    // ESTABLISHED -> FIN-WAIT-1; CLOSE-WAIT -> LAST-ACK (each with a FIN).
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait1);
    // FIN-WAIT-1/2: a second CLOSE is fine and sends no second FIN.
    t.shutdown().unwrap();
    t.expect_nothing();
    t.assert_state(State::FinWait1);
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait2);
    t.shutdown().unwrap();
    t.expect_nothing();
    t.assert_state(State::FinWait2);
    let mut t = Tcp::v4();
    t.establish_in(State::LastAck);

    // LISTEN: the listener goes; later SYNs meet RST.
    let mut t = Tcp::v4();
    let l = t.listen();
    t.stack.close_listener(t.now, l).unwrap();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs);
    t.expect(RST | ACK).seq(0u32).ack(irs + 1);
}

#[test]
fn st_10_close_listener_resets_unaccepted_connections() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    assert_eq!(t.stack.accept_queue_len(l), 1);
    t.stack.close_listener(t.now, l).unwrap();
    t.expect(RST | ACK).seq(iss + 1).ack(irs + 1);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn st_10_close_in_syn_received_sends_fin_now() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).seq(iss).ack(irs + 1);
    t.assert_state(State::SynReceived);
    // Nothing queued: FIN now, FIN-WAIT-1.
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
    t.assert_state(State::FinWait1);
}

#[test]
fn st_10_close_in_active_syn_received_reaches_fin_wait_1() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).seq(iss).ack(irs + 1);
    t.shutdown().unwrap();
    // However the FIN is timed, once the handshake completes we are in FIN-WAIT-1 and the
    // ACK of our FIN moves us to FIN-WAIT-2.
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    let fin = t.next_seg();
    assert_eq!(fin.flags(), FIN | ACK, "{}", t.trace());
    assert_eq!(fin.seq(), iss + 1);
    t.assert_state(State::FinWait1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2);
    t.assert_state(State::FinWait2);
}

#[test]
fn st_10_close_when_already_closing_reports_closing() {
    for state in [State::Closing, State::LastAck, State::TimeWait] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        assert_eq!(t.shutdown(), Err(Error::Closing), "{state:?}");
        t.expect_nothing();
        t.assert_state(state);
    }
}

#[test]
fn must_12_close_reasons() {
    // Normal: both FINs exchanged.
    let mut t = Tcp::v4();
    t.establish_in(State::LastAck);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::LastAck);
    t.inject(ACK).seq(rcv_nxt).ack(snd_nxt);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    assert_eq!(t.recv(10), Ok(vec![]));
    // Reset by the peer.
    let mut t = Tcp::v4();
    t.establish_passive();
    let irs = t.peer_isn;
    t.inject(RST).seq(irs + 1);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
    assert_eq!(t.send(b"x"), Err(Error::Closed(CloseReason::Reset)));
    // Refused: RST in answer to our SYN.
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    t.inject(RST | ACK).seq(0u32).ack(iss + 1);
    assert_eq!(t.close_reason(), Some(CloseReason::Refused));
    // Timed out: nobody answers.
    let mut t = Tcp::v4();
    t.connect();
    t.advance(dsecs(200));
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    assert_eq!(t.send(b"x"), Err(Error::Closed(CloseReason::TimedOut)));
    // Aborted by the application.
    let mut t = Tcp::v4();
    t.establish_passive();
    let c = t.c();
    t.abort().unwrap();
    assert!(t.saw(Event::Closed {
        conn: c,
        reason: CloseReason::Aborted
    }));
}

#[test]
fn must_13_time_wait_2msl_and_refin_restarts() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(secs(1));
    t.expect(ACK).seq(iss + 2).ack(irs + 2).at(secs(1));
    t.assert_state(State::TimeWait);
    // 30 s in, the peer's FIN comes again (our ACK was lost): re-ACK, restart 2MSL.
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(secs(31));
    t.expect(ACK).seq(iss + 2).ack(irs + 2).at(secs(31));
    t.run_until(secs(61));
    t.assert_state(State::TimeWait);
    t.run_until(ms(90_999));
    t.assert_state(State::TimeWait);
    t.run_until(secs(91));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    assert_eq!(t.counters().time_wait_expired, 1);
    t.expect_nothing();
}

#[test]
fn must_13_time_wait_answers_and_stops_other_timers() {
    let mut t = Tcp::v4();
    t.establish_in(State::TimeWait);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    // A stray old ACK or data is answered with an ACK, and nothing else is ever sent.
    t.inject(ACK)
        .seq(rcv_nxt - 1)
        .ack(snd_nxt)
        .len(1)
        .at(secs(5));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).at(secs(5));
    t.run_until(secs(70));
    t.expect_nothing();
    assert_eq!(t.state(), Some(State::Closed));
}

#[test]
fn lx_7_time_wait_60s_and_knob() {
    let mut t = Tcp::v4();
    t.establish_in(State::TimeWait);
    t.run_until(ms(59_999));
    t.assert_state(State::TimeWait);
    t.run_until(secs(60));
    t.assert_state(State::Closed);
    // Decision 1: RFC's 240 s is one setting away.
    let mut cfg = Tcp::config();
    cfg.time_wait = dsecs(240);
    let mut t = Tcp::with_config(cfg);
    t.establish_in(State::TimeWait);
    t.run_until(ms(239_999));
    t.assert_state(State::TimeWait);
    t.run_until(secs(240));
    t.assert_state(State::Closed);
}

#[test]
fn shld_3_close_with_unread_data_sends_rst() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"unread");
    t.expect(ACK).ack(irs + 7);
    t.close().unwrap();
    // RST, not FIN: <SEQ=SND.NXT><ACK=RCV.NXT><RST,ACK>.
    t.expect(RST | ACK).seq(iss + 1).ack(irs + 7).len(0);
    t.expect_nothing();
    assert_eq!(t.counters().abort_on_close, 1);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn shld_3_data_after_close_sends_rst() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2);
    // The application is gone: new data is lost, and the peer is told with a RST.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 2)
        .payload(b"late");
    t.expect(RST | ACK).seq(iss + 2).ack(irs + 1);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn lx_6_orphan_fin_wait_2_timeout_vs_half_close_waits() {
    // Orphaned (close): reaped 60 s after entering FIN-WAIT-2, silently.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(100));
    t.assert_state(State::FinWait2);
    t.run_until(ms(60_099));
    t.assert_state(State::FinWait2);
    t.run_until(ms(60_100));
    t.expect_nothing();
    t.assert_gone();
    assert_eq!(t.counters().fin_wait_2_timeouts, 1);
    // The peer's later data meets a RST (S-8).
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 2).payload(b"x");
    t.expect(RST).seq(iss + 2);

    // Half-closed (shutdown), the application still holding it: waits indefinitely.
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait2);
    t.run_until(secs(7 * 24 * 3600));
    t.assert_state(State::FinWait2);
    t.expect_nothing();
}

#[test]
fn st_11_unacked_fin_times_out() {
    // Orphaned: tcp_orphan_retries = 8. RTO 200 ms (handshake sample of 0), doubling:
    // retransmissions at 0.2, 0.6, 1.4, ... 51.0 s, abort at 102.2 s.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1).at(ms(0));
    t.run_until(secs(200));
    let times: Vec<u64> = t
        .take_sent()
        .iter()
        .map(|s| {
            assert_eq!((s.flags(), s.seq()), (FIN | ACK, iss + 1));
            s.at.as_millis()
        })
        .collect();
    assert_eq!(
        times,
        [200, 600, 1400, 3000, 6200, 12600, 25400, 51000],
        "{}",
        t.trace()
    );
    assert_eq!(t.counters().abort_on_timeout, 1);
    t.assert_gone();

    // Held by the application (shutdown): tcp_retries2 = 15, giving up at 924.6 s, and the
    // application is told.
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait1);
    t.run_until(ms(924_599));
    t.assert_state(State::FinWait1);
    t.run_until(ms(924_600));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    assert_eq!(t.take_sent().len(), 15);
}

#[test]
fn tw_3_syn_reopens_time_wait() {
    // We closed first on a passive connection: TIME-WAIT on the listener's port.
    let mut t = Tcp::v4();
    t.establish_in(State::TimeWait);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    let old = t.c();
    // A new SYN above the old RCV.NXT reopens: the listener answers with a new ISS beyond
    // everything the old incarnation used (MAY-2).
    let new_isn = rcv_nxt + 100_000;
    t.inject(SYN).seq(new_isn).mss(1460).at(secs(10));
    let synack = t.expect(SYN | ACK).ack(new_isn + 1).seg();
    assert!(synack.seq().gt(snd_nxt), "{}", synack);
    assert_eq!(t.stack.state(old), None);
    t.inject(ACK).seq(new_isn + 1).ack(synack.seq() + 1);
    let c = t.accept().unwrap();
    assert_ne!(c, old);
    assert_eq!(t.stack.state(c), Some(State::Established));
}

#[test]
fn tw_3_old_syn_does_not_reopen_time_wait() {
    let mut t = Tcp::v4();
    t.establish_in(State::TimeWait);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    // Not above the last sequence number seen: TIME-WAIT stays. The SYN is answered as in
    // the synchronized states (BI-4, and Linux's tcp_timewait_state_process), with an ACK.
    t.inject(SYN).seq(rcv_nxt - 10).mss(1460).at(secs(10));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt);
    t.expect_nothing();
    t.assert_state(State::TimeWait);
    // TIME-WAIT still ends on schedule (the stale SYN did not restart it).
    t.run_until(secs(60));
    t.assert_state(State::Closed);
}

#[test]
fn tw_3_timestamps_decide_reopening() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2);
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    let last_tsval = t.peer_tsval();
    // Timestamps on both: a lower sequence number is fine if TSval is newer.
    t.inject(SYN)
        .seq(irs - 1_000_000)
        .opts(SynOpts::linux())
        .ts(last_tsval - 5, 0)
        .at(secs(5));
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    t.inject(SYN)
        .seq(irs - 1_000_000)
        .opts(SynOpts::linux())
        .ts(last_tsval + 5000, 0)
        .at(secs(6));
    t.expect(SYN | ACK).ack(irs - 1_000_000 + 1);
}

#[test]
fn lx_6_fin_wait_2_timer_starts_when_the_application_lets_go() {
    // Half-closed first (the application still holds it), closed 100 s later: the 60 s
    // orphan timeout runs from the close.
    let mut t = Tcp::v4();
    t.establish_in(State::FinWait2);
    t.run_until(secs(100));
    t.close().unwrap();
    t.expect_nothing();
    t.run_until(ms(159_999));
    t.assert_state(State::FinWait2);
    t.run_until(secs(160));
    t.assert_gone();
    t.expect_nothing();
}

#[test]
fn st_11_last_ack_fin_retransmitted_then_times_out() {
    let mut t = Tcp::v4();
    t.establish_in(State::LastAck);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::LastAck);
    t.run_until(ms(700));
    // Our FIN (at SND.NXT-1) again after 200 ms, then 400 ms later.
    t.expect(FIN | ACK)
        .seq(snd_nxt - 1)
        .ack(rcv_nxt)
        .at(ms(200));
    t.expect(FIN | ACK)
        .seq(snd_nxt - 1)
        .ack(rcv_nxt)
        .at(ms(600));
    // The ACK of it ends LAST-ACK normally.
    t.inject(ACK).seq(rcv_nxt).ack(snd_nxt).at(ms(700));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    // Never acknowledged: R2 ends it, and the application is told.
    let mut t = Tcp::v4();
    t.establish_in(State::LastAck);
    t.run_until(secs(1000));
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    assert_eq!(t.take_sent().len(), 15);
}

#[test]
fn tw_3_syn_without_listener_keeps_time_wait() {
    // We opened actively and closed first: TIME-WAIT, and nobody listens on our port.
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2);
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    // A SYN above the old RCV.NXT: nothing can reopen, so TIME-WAIT stays and answers.
    t.inject(SYN).seq(irs + 100_000).mss(1460).at(secs(5));
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    t.run_until(secs(60));
    t.assert_state(State::Closed);
}

/// LX-7: with the TIME-WAIT table full the connection skips TIME-WAIT, but the ACK of the
/// peer's FIN still goes out (Linux sends it before tcp_time_wait), so the peer's LAST-ACK
/// ends normally instead of waiting for a retransmission that finds no one.
#[test]
fn lx_7_full_time_wait_table_still_acks_the_fin() {
    let mut cfg = Tcp::config();
    cfg.max_time_wait = 0;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_active();
    let irs = t.peer_isn;
    t.shutdown().unwrap();
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2);
    t.assert_state(State::FinWait2);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2);
    t.expect(ACK).seq(iss + 2).ack(irs + 2).len(0);
    assert_eq!(t.counters().time_wait_overflow, 1);
    assert_eq!(t.close_reason(), Some(CloseReason::Normal));
    assert!(t.transitions().contains(&(State::TimeWait, State::Closed)));
}
