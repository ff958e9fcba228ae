//! Explicit Congestion Notification (RFC 3168, SHLD-8; LX-14: Linux's tcp_ecn = 2 accepts a
//! peer's request, tcp_ecn = 1 also asks): the ECN-setup SYN and SYN,ACK, ECT(0) on new data
//! only, the receiver's ECE echo of a CE mark until the sender's CWR, and the sender's
//! once-per-window reduction.

mod harness;
use harness::*;

const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;
/// ECN field values (RFC 3168 §5).
const NOT_ECT: u8 = 0b00;
const ECT0: u8 = 0b10;

fn config(ecn: Ecn, cc: Algorithm) -> Config {
    Config {
        ecn,
        congestion_control: cc,
        ..Tcp::config()
    }
}

/// A passive ECN connection: the peer's ECN-setup SYN, our SYN,ACK (checked to carry ECE
/// alone), the third ACK. Returns our ISS.
fn establish_ecn_passive(t: &mut Tcp) -> SeqNum {
    t.listen();
    let irs = t.peer_isn;
    t.peer_nxt = irs;
    t.inject(SYN | ECE | CWR).seq(irs).opts(SynOpts::mss(1460));
    let synack = t.expect(SYN | ACK | ECE).ack(irs + 1).seg();
    assert_eq!(synack.ecn, NOT_ECT, "RFC 3168 §6.1.1: no ECT on a SYN,ACK");
    let iss = synack.hdr.seq;
    t.iss = iss;
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    let c = t.accept().expect("accepted");
    t.conn = Some(c);
    t.assert_state(State::Established);
    iss
}

#[test]
fn shld_8_passive_side_accepts_an_ecn_setup_syn_by_default() {
    let mut t = Tcp::v4();
    let iss = establish_ecn_passive(&mut t);
    let irs = t.peer_isn;
    // New data goes out ECT(0); the pure ACK of the peer's data does not (§6.1.4).
    t.send(b"hello").unwrap();
    let d = t.expect(PSH | ACK).seq(iss + 1).len(5).seg();
    assert_eq!(d.ecn, ECT0);
    t.inject(ACK).seq(irs + 1).ack(iss + 6).payload(b"x");
    let a = t.run_until_sent(secs(1));
    assert_eq!((a.flags(), a.payload.len(), a.ecn), (ACK, 0, NOT_ECT));
}

#[test]
fn shld_8_ecn_off_answers_an_ecn_setup_syn_with_a_plain_syn_ack() {
    let mut t = Tcp::with_config(config(Ecn::Off, Algorithm::Cubic));
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN | ECE | CWR).seq(irs).opts(SynOpts::mss(1460));
    let iss = t.expect(SYN | ACK).ack(irs + 1).seg().hdr.seq;
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    let c = t.accept().expect("accepted");
    t.conn = Some(c);
    t.send(b"hi").unwrap();
    assert_eq!(t.expect(PSH | ACK).len(2).seg().ecn, NOT_ECT);
    // A plain SYN is no request either, whatever the configuration.
    let mut u = Tcp::v4();
    u.establish_passive();
    u.send(b"hi").unwrap();
    assert_eq!(u.expect(PSH | ACK).len(2).seg().ecn, NOT_ECT);
}

#[test]
fn shld_8_active_side_asks_when_on_and_uses_ecn_only_if_the_syn_ack_agrees() {
    // Asked and agreed: ECT(0) data.
    let mut t = Tcp::with_config(config(Ecn::On, Algorithm::Cubic));
    t.connect();
    let syn = t.expect(SYN | ECE | CWR).seg();
    assert_eq!(syn.ecn, NOT_ECT, "no ECT on a SYN");
    let (iss, irs) = (syn.hdr.seq, t.peer_isn);
    t.inject(SYN | ACK | ECE)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::mss(1460));
    t.expect(ACK).seq(iss + 1);
    t.send(b"data").unwrap();
    assert_eq!(t.expect(PSH | ACK).len(4).seg().ecn, ECT0);

    // Asked, but the SYN,ACK does not agree (no ECE): no ECN.
    let mut u = Tcp::with_config(config(Ecn::On, Algorithm::Cubic));
    u.connect();
    let iss = u.expect(SYN | ECE | CWR).seg().hdr.seq;
    let irs = u.peer_isn;
    u.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::mss(1460));
    u.expect(ACK);
    u.send(b"data").unwrap();
    assert_eq!(u.expect(PSH | ACK).len(4).seg().ecn, NOT_ECT);

    // The default (Linux's tcp_ecn = 2) does not ask.
    let mut v = Tcp::v4();
    v.connect();
    v.expect(SYN);
}

#[test]
fn shld_8_a_retransmitted_syn_drops_the_ecn_request() {
    let mut t = Tcp::with_config(config(Ecn::On, Algorithm::Cubic));
    t.connect();
    let iss = t.expect(SYN | ECE | CWR).seg().hdr.seq;
    let again = t.run_until_sent(secs(2));
    assert_eq!((again.flags(), again.seq()), (SYN, iss));
    // A SYN,ACK with ECE now (an answer to the first SYN) does not turn ECN on.
    let irs = t.peer_isn;
    t.inject(SYN | ACK | ECE)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::mss(1460));
    t.expect(ACK);
    t.send(b"data").unwrap();
    assert_eq!(t.expect(PSH | ACK).len(4).seg().ecn, NOT_ECT);
}

#[test]
fn shld_8_receiver_echoes_ce_until_cwr() {
    let mut t = Tcp::v4();
    let iss = establish_ecn_passive(&mut t);
    let irs = t.peer_isn;
    // A CE-marked segment: ACKed at once, with ECE.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).payload(b"ab").ce();
    let a = t.expect(ACK | ECE).ack(irs + 3).len(0).seg();
    assert_eq!(a.ecn, NOT_ECT);
    assert_eq!(t.counters().ecn_ce_received, 1);
    // Unmarked data: ECE goes on, on pure ACKs and data alike, until the peer's CWR.
    t.inject(ACK).seq(irs + 3).ack(iss + 1).payload(b"cd");
    t.send(b"reply").unwrap();
    let d = t.run_until_sent(secs(1));
    assert!(d.flags().contains(ECE), "{d}");
    t.take_sent();
    t.inject(ACK | CWR).seq(irs + 5).ack(iss + 6).payload(b"ef");
    let b = t.run_until_sent(secs(2));
    assert_eq!((b.flags(), b.ack()), (ACK, irs + 7), "no ECE after the CWR");
}

/// The sender: an ECN-Echo reduces cwnd as a loss would (NewReno: to half the flight), with
/// no retransmission, the next new segment carries CWR, and further echoes in the same
/// window of data do nothing; one after that window reduces again.
#[test]
fn shld_8_sender_reduces_once_per_window_and_sets_cwr() {
    let mut t = Tcp::with_config(config(Ecn::Passive, Algorithm::NewReno));
    let iss = establish_ecn_passive(&mut t);
    let irs = t.peer_isn;
    t.send(&[1u8; 20 * 1460]).unwrap();
    let first = t.take_sent();
    assert_eq!(first.len(), 10, "the initial window");
    assert!(first.iter().all(|s| s.ecn == ECT0));
    let cwnd0 = t.status().cwnd;
    // The peer ACKs the first two segments with ECE.
    t.inject(ACK | ECE).seq(irs + 1).ack(iss + 1 + 2 * 1460);
    let st = t.status();
    assert!(st.cwnd < cwnd0, "reduced: {} -> {}", cwnd0, st.cwnd);
    assert_eq!(
        st.ssthresh,
        (10 * 1460) / 2,
        "half of the 10 segments out when the echo was sent"
    );
    assert_eq!(st.cwnd, st.ssthresh);
    assert_eq!(t.counters().ecn_reductions, 1);
    assert_eq!(t.counters().retrans_segs, 0, "no retransmission");
    // Nothing more goes out until the flight is under the reduced window (8 segments are
    // out, cwnd is 4). Further echoes of the same window (the receiver repeats ECE until
    // it sees our CWR) reduce nothing; the first new segment carries CWR, and only it.
    assert!(t.take_sent().is_empty());
    t.inject(ACK | ECE).seq(irs + 1).ack(iss + 1 + 7 * 1460);
    assert_eq!(t.counters().ecn_reductions, 1);
    let sent = t.take_sent();
    assert!(!sent.is_empty());
    assert!(sent[0].flags().contains(CWR), "{}", sent[0]);
    assert!(sent[1..].iter().all(|s| !s.flags().contains(CWR)));
    assert!(sent.iter().all(|s| s.ecn == ECT0));
    // The ACK that ends the window (all that was out at the reduction) still carries ECE:
    // it is the receiver's echo from before our CWR, and counts for nothing.
    t.inject(ACK | ECE).seq(irs + 1).ack(iss + 1 + 10 * 1460);
    assert_eq!(t.counters().ecn_reductions, 1);
    t.take_sent();
    // Past that window, a new echo reduces again.
    t.inject(ACK | ECE).seq(irs + 1).ack(iss + 1 + 11 * 1460);
    assert_eq!(t.counters().ecn_reductions, 2);
    assert_eq!(t.counters().retrans_segs, 0);
}

/// A loss inside an ECN-reduced window is still repaired by fast retransmit, without a
/// second reduction (RFC 3168 §6.1.2: once per window).
#[test]
fn shld_8_loss_after_an_echo_is_fast_retransmitted_without_a_second_reduction() {
    let mut t = Tcp::with_config(config(Ecn::Passive, Algorithm::NewReno));
    let iss = establish_ecn_passive(&mut t);
    let irs = t.peer_isn;
    t.send(&[1u8; 20 * 1460]).unwrap();
    t.take_sent();
    t.inject(ACK | ECE).seq(irs + 1).ack(iss + 1 + 1460);
    let ssthresh = t.status().ssthresh;
    t.take_sent();
    // The segment at SND.UNA is lost: three duplicate ACKs.
    for _ in 0..3 {
        t.inject(ACK).seq(irs + 1).ack(iss + 1 + 1460);
    }
    let rtx = t.take_sent();
    assert!(
        rtx.iter()
            .any(|s| s.seq() == iss + 1 + 1460 && s.ecn == NOT_ECT),
        "fast retransmit, not ECT: {rtx:?}"
    );
    assert_eq!(t.status().ssthresh, ssthresh, "no second reduction");
    assert_eq!(t.counters().ecn_reductions, 1);
}

/// An ECN-Echo on a connection that did not negotiate ECN means nothing.
#[test]
fn shld_8_ece_without_negotiation_is_ignored() {
    let mut t = Tcp::with_config(config(Ecn::Passive, Algorithm::NewReno));
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&[1u8; 4 * 1460]).unwrap();
    t.take_sent();
    let cwnd = t.status().cwnd;
    t.inject(ACK | ECE).seq(irs + 1).ack(iss + 1 + 1460);
    assert!(t.status().cwnd >= cwnd);
    assert_eq!(t.counters().ecn_reductions, 0);
    // And CE on it is not echoed.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1 + 1460)
        .payload(b"z")
        .ce();
    let a = t.run_until_sent(secs(1));
    assert!(!a.flags().contains(ECE));
}

/// SF-6 with ECN: a SYN cookie's SYN,ACK accepts an ECN-setup SYN (ECE set) and records
/// that in bit 5 of its TSval, so the connection the echoed cookie rebuilds uses ECN.
#[test]
fn sf_6_shld_8_a_cookie_carries_the_ecn_agreement() {
    let mut t = Tcp::with_config(Config {
        syncookies: SynCookies::Always,
        ..Tcp::config()
    });
    t.listen();
    let irs = SeqNum(5000);
    let syn_opts = TcpOptions {
        mss: Some(1460),
        timestamps: Some(Timestamps {
            tsval: 777,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    };
    t.inject(SYN | ECE | CWR).seq(irs).options(syn_opts);
    let synack = t.expect(SYN | ACK | ECE).ack(irs + 1).seg();
    assert_eq!(t.counters().syncookies_sent, 1);
    let iss = synack.seq();
    let tsval = synack.opts().timestamps.unwrap().tsval;
    assert_eq!(tsval & 0x20, 0x20, "SF-6 bit 5: ECN");
    t.inject(ACK).seq(irs + 1).ack(iss + 1).ts(778, tsval);
    assert_eq!(t.counters().syncookies_recv, 1);
    let c = t.accept().expect("cookie connection");
    t.conn = Some(c);
    t.send(b"hi").unwrap();
    assert_eq!(t.expect(PSH | ACK).len(2).seg().ecn, ECT0);

    // A plain SYN's cookie says no ECN.
    let mut u = Tcp::with_config(Config {
        syncookies: SynCookies::Always,
        ..Tcp::config()
    });
    u.listen();
    u.inject(SYN).seq(irs).options(syn_opts);
    let synack = u.expect(SYN | ACK).ack(irs + 1).seg();
    let tsval = synack.opts().timestamps.unwrap().tsval;
    assert_eq!(tsval & 0x20, 0);
    u.inject(ACK)
        .seq(irs + 1)
        .ack(synack.seq() + 1)
        .ts(778, tsval);
    let c = u.accept().expect("cookie connection");
    u.conn = Some(c);
    u.send(b"hi").unwrap();
    assert_eq!(u.expect(PSH | ACK).len(2).seg().ecn, NOT_ECT);
}
