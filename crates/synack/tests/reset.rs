//! Resets (checklist 1.5) and the RFC 5961 protections (section 6, BI-1..6), TIME-WAIT
//! assassination (TW-2).
mod harness;
use harness::*;

const SYNCHRONIZED: [State; 7] = [
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
];

#[test]
fn rst_1_no_tcb_rst_forms() {
    let mut t = Tcp::v4();
    let (local, remote) = (t.local, t.remote);
    // ACK set: <SEQ=SEG.ACK><CTL=RST>.
    t.inject(ACK).seq(100u32).ack(5000u32);
    t.expect(RST)
        .seq(5000u32)
        .ack(0u32)
        .win(0)
        .len(0)
        .no_options()
        .src(local)
        .dst(remote);
    t.inject(ACK | PSH).seq(100u32).ack(7u32).payload(b"data");
    t.expect(RST).seq(7u32).ack(0u32).len(0);
    // ACK clear: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN and FIN count in SEG.LEN.
    t.inject(SYN).seq(100u32);
    t.expect(RST | ACK).seq(0u32).ack(101u32).len(0);
    t.inject(SYN | FIN).seq(100u32).payload(b"0123456789");
    t.expect(RST | ACK).seq(0u32).ack(112u32);
    t.inject(PSH).seq(u32::MAX - 1).payload(b"abc");
    t.expect(RST | ACK).seq(0u32).ack(1u32);
    t.inject(NONE).seq(100u32);
    t.expect(RST | ACK).seq(0u32).ack(100u32);
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.counters().out_rsts, 6);
}

#[test]
fn rst_1_no_tcb_rst_forms_ipv6() {
    let mut t = Tcp::v6();
    let remote = t.remote;
    t.inject(ACK).seq(100u32).ack(5000u32);
    t.expect(RST).seq(5000u32).dst(remote);
    t.inject(SYN).seq(100u32);
    t.expect(RST | ACK).seq(0u32).ack(101u32).dst(remote);
}

#[test]
fn rst_2_syn_received_ack_of_unsent_data_draws_rst() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    // SEG.ACK beyond SND.NXT, and SEG.ACK not above SND.UNA: <SEQ=SEG.ACK><CTL=RST> each,
    // and the state does not change (EP-16).
    t.inject(ACK).seq(irs + 1).ack(iss + 5);
    t.expect(RST).seq(iss + 5).ack(0u32);
    t.inject(ACK).seq(irs + 1).ack(iss);
    t.expect(RST).seq(iss).ack(0u32);
    t.assert_state(State::SynReceived);
    // The right ACK still completes the handshake.
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.expect_nothing();
    t.accept().unwrap();
    t.assert_state(State::Established);
}

#[test]
fn rst_3_synchronized_bad_segments_draw_ack_not_rst() {
    for state in SYNCHRONIZED {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (snd_nxt, rcv_nxt) = t.nxt_in(state);
        // Sequence far outside the window.
        t.inject(ACK | PSH)
            .seq(rcv_nxt + 1_000_000)
            .ack(snd_nxt)
            .payload(b"far");
        t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).len(0);
        // Old, entirely below RCV.NXT.
        t.inject(ACK | PSH)
            .seq(rcv_nxt - 100)
            .ack(snd_nxt)
            .payload(b"old");
        t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).len(0);
        t.expect_nothing();
        t.assert_state(state);
    }
}

#[test]
fn ep_17_ack_beyond_snd_nxt_draws_ack() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1000)
        .payload(b"not taken");
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.expect_nothing();
    t.assert_state(State::Established);
    // The segment was dropped: its text is not delivered.
    assert_eq!(t.recv(100), Err(Error::WouldBlock));
    assert_eq!(t.status().snd_una, (iss + 1).0);
}

#[test]
#[ignore = "core bug: RST-3 replies to out-of-window segments are not rate-limited (BI-6, LX-15 tcp_invalid_ratelimit 500 ms)"]
fn rst_3_out_of_window_replies_rate_limited() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1_000_000).ack(iss + 1);
    t.expect(ACK).seq(iss + 1).ack(irs + 1);
    // A flood of out-of-window segments within 500 ms draws no more replies.
    for i in 1..10u64 {
        t.inject(ACK)
            .seq(irs + 1_000_000)
            .ack(iss + 1)
            .at(ms(i * 10));
    }
    t.expect_nothing();
    t.inject(ACK).seq(irs + 1_000_000).ack(iss + 1).at(ms(600));
    t.expect(ACK).seq(iss + 1).ack(irs + 1);
}

#[test]
fn rst_4_syn_sent_rst_valid_only_if_it_acks_our_syn() {
    let mut t = Tcp::v4();
    let c = t.connect();
    let iss = t.expect(SYN).seq_any();
    // Without ACK: not valid, dropped.
    t.inject(RST).seq(0u32);
    t.assert_state(State::SynSent);
    // Acknowledging our SYN: the connection is refused (RST-5).
    t.inject(RST | ACK).seq(0u32).ack(iss + 1);
    t.expect_nothing();
    assert_eq!(t.stack.state(c), Some(State::Closed));
    assert_eq!(t.close_reason(), Some(CloseReason::Refused));
    assert_eq!(t.counters().attempt_fails, 1);
}

#[test]
fn rst_5_reset_by_state() {
    for state in SYNCHRONIZED {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (snd_nxt, rcv_nxt) = t.nxt_in(state);
        t.inject(RST).seq(rcv_nxt).ack(snd_nxt);
        t.expect_nothing();
        if state == State::TimeWait {
            // TW-2 (decision 4): ignored.
            t.assert_state(State::TimeWait);
            continue;
        }
        t.assert_state(State::Closed);
        let c = t.c();
        let reason = t.close_reason();
        assert_eq!(reason, Some(CloseReason::Reset), "{state:?}");
        assert!(t.saw(Event::Closed {
            conn: c,
            reason: CloseReason::Reset
        }));
        // Pending and later calls fail with "reset"; no timer sends anything again.
        assert_eq!(
            t.send(b"x"),
            Err(Error::Closed(CloseReason::Reset)),
            "{state:?}"
        );
        let (_, rcv_nxt) = t.nxt_in(state);
        if rcv_nxt == t.peer_isn + 1 {
            assert_eq!(
                t.recv(10),
                Err(Error::Closed(CloseReason::Reset)),
                "{state:?}"
            );
        } else {
            // The peer's FIN was already delivered: end of stream stays end of stream
            // (Linux checks SOCK_DONE before the socket error).
            assert_eq!(t.recv(10), Ok(vec![]), "{state:?}");
        }
        t.advance(dsecs(300));
        t.expect_nothing();
    }
}

#[test]
fn rst_5_reset_flushes_queues() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // Unread received data and unacknowledged sent data both go.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"unread");
    t.expect(ACK).ack(irs + 7);
    t.send(b"unacked").unwrap();
    t.expect(PSH | ACK).payload(b"unacked");
    t.inject(RST).seq(irs + 7);
    let st = t.status();
    assert_eq!((st.send_queued, st.recv_queued), (0, 0));
    assert_eq!(t.recv(100), Err(Error::Closed(CloseReason::Reset)));
    // No retransmission of the flushed data.
    t.advance(dsecs(10));
    t.expect_nothing();
    assert_eq!(t.counters().estab_resets, 1);
}

#[test]
fn rst_6_never_rst_for_rst() {
    let mut t = Tcp::v4();
    // No TCB.
    t.inject(RST).seq(5u32);
    t.inject(RST | ACK).seq(5u32).ack(9u32);
    // A listener.
    t.listen();
    t.inject(RST).seq(5u32);
    t.inject(RST | ACK).seq(5u32).ack(9u32);
    t.expect_nothing();
    // SYN-SENT with an unacceptable ACK.
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    t.inject(RST | ACK).seq(0u32).ack(iss + 100);
    t.expect_nothing();
    // Synchronized, out of window.
    for state in SYNCHRONIZED {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (snd_nxt, rcv_nxt) = t.nxt_in(state);
        t.inject(RST).seq(rcv_nxt + 1_000_000);
        t.inject(RST | ACK).seq(rcv_nxt - 1).ack(snd_nxt + 100);
        t.expect_nothing();
        t.assert_state(state);
    }
}

#[test]
fn shld_2_rst_carrying_data_accepted() {
    let mut t = Tcp::v4();
    t.establish_passive();
    let irs = t.peer_isn;
    t.inject(RST | ACK)
        .seq(irs + 1)
        .payload(b"diagnostic: server shutting down");
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
    t.expect_nothing();
}

#[test]
fn st_7_half_open_detection() {
    // (a) We are ESTABLISHED; the peer rebooted and opens again from the same port.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"before").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 7);
    let new_isn = irs + 0x4000_0000;
    t.inject(SYN).seq(new_isn).mss(1460).at(ms(100));
    // We answer with an ACK for the old data (RST-3 / BI-4) ...
    t.expect(ACK).seq(iss + 7).ack(irs + 1).len(0);
    t.assert_state(State::Established);
    // ... which the peer in SYN-SENT answers with RST(seq = that ACK), and we abort.
    t.inject(RST).seq(irs + 1);
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
    t.expect_nothing();
    // Its resent SYN now reaches the listener and opens a fresh connection (S-13 b).
    t.inject(SYN).seq(new_isn).mss(1460).at(ms(1100));
    t.expect(SYN | ACK).ack(new_isn + 1);

    // (b) We lost our state: the peer's data draws RST(seq = SEG.ACK), and the peer that
    // receives it in window aborts.
    let mut t = Tcp::v4();
    t.inject(ACK | PSH)
        .seq(5000u32)
        .ack(777u32)
        .payload(b"data");
    t.expect(RST).seq(777u32).ack(0u32);
    let mut t = Tcp::v4();
    let iss = t.establish_active();
    let irs = t.peer_isn;
    t.send(b"data").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).ack(irs + 1);
    t.inject(RST).seq(irs + 1);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
}

#[test]
fn bi_1_out_of_window_rst_dropped_silently() {
    for state in SYNCHRONIZED {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (_, rcv_nxt) = t.nxt_in(state);
        t.inject(RST).seq(rcv_nxt + 0x1000_0000);
        t.inject(RST).seq(rcv_nxt - 1);
        t.expect_nothing();
        t.assert_state(state);
        assert_eq!(t.close_reason(), None);
    }
}

#[test]
fn bi_2_rst_at_rcv_nxt_resets() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"12345");
    t.expect(ACK).ack(irs + 6);
    t.inject(RST).seq(irs + 6);
    t.expect_nothing();
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
    assert_eq!(t.counters().estab_resets, 1);
}

#[test]
fn bi_3_in_window_rst_draws_challenge_ack() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(RST).seq(irs + 1 + 1000);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.assert_state(State::Established);
    assert_eq!(t.counters().challenge_acks, 1);
    // The real peer answers the challenge with the exact RST.
    t.inject(RST).seq(irs + 1).at(ms(1000));
    t.assert_state(State::Closed);
}

#[test]
fn bi_3_in_window_rst_in_syn_received_draws_challenge_ack() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    t.inject(RST).seq(irs + 50);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.assert_state(State::SynReceived);
}

#[test]
fn bi_4_syn_in_synchronized_states_draws_challenge_ack() {
    for state in SYNCHRONIZED {
        if state == State::TimeWait {
            continue; // TW-3 comes first there (close.rs)
        }
        for offset in [0u32, 10, 1_000_000] {
            let mut t = Tcp::v4();
            t.establish_in(state);
            let (snd_nxt, rcv_nxt) = t.nxt_in(state);
            // Whatever its sequence number, in window or not.
            t.inject(SYN).seq(rcv_nxt + offset).mss(1460);
            t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).len(0);
            t.expect_nothing();
            t.assert_state(state);
            assert_eq!(t.close_reason(), None);
        }
    }
}

#[test]
fn bi_5_ack_too_old_dropped_with_ack() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // SEG.ACK below SND.UNA - MAX.SND.WND: a blind injection; its data is not taken.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1 - 200_000)
        .payload(b"injected");
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    assert_eq!(t.recv(100), Err(Error::WouldBlock));
    // Within MAX.SND.WND below SND.UNA, it is an ordinary old duplicate ACK: data taken.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1 - 1000)
        .payload(b"fine")
        .at(ms(1000));
    t.expect(ACK).seq(iss + 1).ack(irs + 5);
    assert_eq!(t.recv(100).unwrap(), b"fine");
}

#[test]
fn bi_6_challenge_acks_rate_limited_per_connection() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(RST).seq(irs + 100);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).at(ms(0));
    for i in 1..5u64 {
        t.inject(RST).seq(irs + 100).at(ms(i * 100));
        t.inject(SYN).seq(irs + 100).at(ms(i * 100));
    }
    t.expect_nothing();
    // 500 ms after the last challenge ACK, the next one goes.
    t.inject(SYN).seq(irs + 100).at(ms(500));
    t.expect(ACK).seq(iss + 1).ack(irs + 1).at(ms(500));
    assert_eq!(t.counters().challenge_acks, 2);

    // The limit is per connection: another connection is challenged at once.
    let mut u = Tcp::v4();
    let iss2 = u.establish_passive();
    let irs2 = u.peer_isn;
    u.inject(RST).seq(irs2 + 100);
    u.expect(ACK).seq(iss2 + 1).ack(irs2 + 1);
}

#[test]
fn tw_2_rst_ignored_in_time_wait() {
    let mut t = Tcp::v4();
    t.establish_in(State::TimeWait);
    let (_, rcv_nxt) = t.nxt_in(State::TimeWait);
    t.inject(RST).seq(rcv_nxt).at(secs(10));
    t.expect_nothing();
    t.assert_state(State::TimeWait);
    // Still there until 2MSL (60 s after entering TIME-WAIT at 0 s).
    t.run_until(ms(59_999));
    t.assert_state(State::TimeWait);
    t.run_until(secs(60));
    assert_eq!(t.state(), Some(State::Closed));

    // With the RFC 1337 knob off (Linux tcp_rfc1337 = 0), the RST ends TIME-WAIT.
    let mut cfg = Tcp::config();
    cfg.rfc1337 = false;
    let mut t = Tcp::with_config(cfg);
    t.establish_in(State::TimeWait);
    let (_, rcv_nxt) = t.nxt_in(State::TimeWait);
    t.inject(RST).seq(rcv_nxt).at(secs(10));
    t.expect_nothing();
    t.assert_state(State::Closed);
}

#[test]
fn ep_15_syn_by_state() {
    // Passive SYN-RECEIVED: back to LISTEN.
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).ack(irs + 1);
    t.inject(SYN).seq(irs + 10).mss(1460);
    t.expect_nothing();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    // Synchronized: challenge ACK, the SYN goes no further (no reset, the legacy rule).
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    t.inject(SYN).seq(irs + 10).mss(1460);
    t.expect(ACK).seq(iss + 1).ack(irs + 1);
    t.assert_state(State::Established);
    // TIME-WAIT: a reopen is tried first (TW-3).
    let mut t = Tcp::v4();
    t.establish_in(State::TimeWait);
    t.inject(SYN).seq(irs + 100_000).mss(1460).at(secs(1));
    t.expect(SYN | ACK).ack(irs + 100_001);
}
