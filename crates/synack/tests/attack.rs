//! Under attack (issue 4): blind injection by an off-path attacker (RFC 5961, BI-1..BI-6),
//! the accept-queue overflow policy (LX-8) and the invalid-segment rate limit knob.

mod harness;
use harness::*;
use proptest::prelude::*;

/// What an off-path attacker can try: it knows the 4-tuple but not the sequence numbers.
#[derive(Clone, Debug)]
enum Attack {
    /// RST at RCV.NXT + off (off != 0 is in or out of the window).
    Rst { off: u32, with_ack: bool },
    /// SYN at any sequence number.
    Syn { seq: u32 },
    /// Data at RCV.NXT + off with an ACK that is not acceptable (beyond SND.NXT, or older
    /// than SND.UNA - MAX.SND.WND).
    Data {
        off: u32,
        ack_ahead: bool,
        ack_off: u32,
    },
}

fn attack() -> impl Strategy<Value = Attack> {
    prop_oneof![
        (1u32..u32::MAX, any::<bool>()).prop_map(|(off, with_ack)| Attack::Rst { off, with_ack }),
        any::<u32>().prop_map(|seq| Attack::Syn { seq }),
        (any::<u32>(), any::<bool>(), 1u32..(1 << 30)).prop_map(|(off, ack_ahead, ack_off)| {
            Attack::Data {
                off,
                ack_ahead,
                ack_off,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// BI-1..BI-5: no guess short of RST at exactly RCV.NXT resets the connection, and no
    /// injected byte reaches the application; the real data still flows afterwards.
    #[test]
    fn bi_blind_attacks_never_reset_or_corrupt(attacks in prop::collection::vec(attack(), 1..30)) {
        let mut t = Tcp::v4();
        let iss = t.establish_passive();
        let irs = t.peer_isn;
        let nxt = irs + 1;
        // The peer's window is 64 KiB: MAX.SND.WND for BI-5.
        t.inject(ACK).seq(nxt).ack(iss + 1).win(65535);
        for (i, a) in attacks.iter().enumerate() {
            let at = ms(10 + i as u64);
            match *a {
                Attack::Rst { off, with_ack } => {
                    let flags = if with_ack { RST | ACK } else { RST };
                    t.inject(flags).seq(nxt + off).ack(iss + 1).at(at);
                }
                Attack::Syn { seq } => {
                    t.inject(SYN).seq(SeqNum(seq)).at(at);
                }
                Attack::Data { off, ack_ahead, ack_off } => {
                    // Acceptable ACKs are [SND.UNA - 65535, SND.NXT]; these are outside.
                    let ack = if ack_ahead {
                        iss + 1 + ack_off
                    } else {
                        iss + 1 - 65535 - ack_off
                    };
                    t.inject(ACK | PSH).seq(nxt + off).ack(ack).payload(b"EVIL").at(at);
                }
            }
            prop_assert_eq!(t.stack.state(t.c()), Some(State::Established), "after {:?}", a);
        }
        prop_assert_eq!(t.recv(100), Err(Error::WouldBlock), "injected data was delivered");
        // The genuine peer is unaffected: its next segment is delivered, in order.
        t.inject(ACK | PSH).seq(nxt).ack(iss + 1).payload(b"good").at(ms(100));
        prop_assert_eq!(t.recv(100).unwrap(), b"good".to_vec());
    }
}

#[test]
fn bi_2_only_exactly_rcv_nxt_resets() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let nxt = t.peer_isn + 1;
    t.inject(RST).seq(nxt + 1).at(ms(10));
    t.assert_state(State::Established);
    t.inject(RST).seq(nxt - 1).at(ms(20));
    t.assert_state(State::Established);
    t.inject(RST | ACK).seq(nxt).ack(iss + 1).at(ms(30));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
}

#[test]
fn bi_6_invalid_ratelimit_is_a_knob() {
    // With the limit at zero, every out-of-window pure ACK is answered; at 500 ms (the
    // default, LX-15) only the first of a burst is.
    for (limit, answers) in [(dms(0), 5), (dms(500), 1)] {
        let mut cfg = Tcp::config();
        cfg.invalid_ratelimit = limit;
        let mut t = Tcp::with_config(cfg);
        let iss = t.establish_passive();
        let irs = t.peer_isn;
        t.take_sent();
        for i in 0..5u64 {
            t.inject(ACK)
                .seq(irs + 1_000_000)
                .ack(iss + 1)
                .at(ms(10 + i));
        }
        assert_eq!(t.take_sent().len(), answers, "limit {limit:?}");
    }
}

#[test]
fn lx_8_abort_on_overflow_refuses_the_third_ack_with_rst() {
    let mut cfg = Tcp::config();
    cfg.abort_on_overflow = true;
    let mut t = Tcp::with_config(cfg);
    let l = t.stack.listen(t.local, 0).unwrap();
    // Two handshakes start; the first completes and fills the accept queue (backlog 0
    // holds one, as in Linux).
    t.inject(SYN).src_port(41000).seq(100u32).mss(1460);
    let iss1 = t.expect(SYN | ACK).seq_any();
    t.inject(SYN).src_port(41001).seq(200u32).mss(1460);
    let iss2 = t.expect(SYN | ACK).seq_any();
    t.inject(ACK).src_port(41000).seq(101u32).ack(iss1 + 1);
    assert_eq!(t.stack.accept_queue_len(l), 1);
    // The second third ACK finds the queue full: RST, and the half-open entry is gone.
    t.inject(ACK).src_port(41001).seq(201u32).ack(iss2 + 1);
    t.expect(RST).seq(iss2 + 1);
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.stack.connection_count(), 1);
    assert_eq!(t.counters().listen_overflows, 1);
}
