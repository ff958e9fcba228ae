//! Opening a connection (checklist 1.4): the three-way handshake from both ends, LISTEN and
//! SYN-SENT processing, simultaneous open, data on the handshake segments, addresses.
mod harness;
use harness::*;

#[test]
fn st_2_three_way_handshake_active() {
    let mut t = Tcp::v4();
    let c = t.connect();
    // Active OPEN: SYN(ISS), SND.UNA = ISS, SND.NXT = ISS+1, SYN-SENT.
    let iss = t.expect(SYN).ack(0u32).len(0).at(ms(0)).seq_any();
    t.assert_state(State::SynSent);
    let st = t.status();
    assert_eq!((st.snd_una, st.snd_nxt), (iss.0, (iss + 1).0));
    assert_eq!(t.transitions(), [(State::Closed, State::SynSent)]);

    // SYN,ACK(ISS', ack ISS+1) -> ACK(ack ISS'+1), ESTABLISHED.
    let irs = t.peer_isn;
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .mss(1460)
        .at(ms(10));
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0).at(ms(10));
    t.assert_state(State::Established);
    let st = t.status();
    assert_eq!(
        (st.snd_una, st.snd_nxt, st.rcv_nxt),
        ((iss + 1).0, (iss + 1).0, (irs + 1).0)
    );
    assert!(t.saw(Event::Connected { conn: c }));
    t.expect_nothing();
}

#[test]
fn st_2_three_way_handshake_passive() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    assert_eq!(t.stack.syn_queue_len(l), 1);
    assert_eq!(t.stack.accept_queue_len(l), 0);
    t.inject(ACK).seq(irs + 1).ack(iss + 1).at(ms(5));
    // Nothing answers the third ACK; the connection moves to the accept queue.
    t.expect_nothing();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.stack.accept_queue_len(l), 1);
    assert!(t.saw(Event::AcceptReady { listener: l }));
    t.accept().unwrap();
    t.assert_state(State::Established);
    assert_eq!(
        t.transitions(),
        [
            (State::Listen, State::SynReceived),
            (State::SynReceived, State::Established)
        ]
    );
}

#[test]
fn st_2_three_way_handshake_ipv6() {
    let mut t = Tcp::v6();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1440);
    let remote = t.remote;
    let iss = t
        .expect(SYN | ACK)
        .ack(irs + 1)
        .dst(remote)
        .mss(Some(1440))
        .seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.accept().unwrap();
    t.assert_state(State::Established);
    let mut t = Tcp::v6();
    t.establish_active();
    t.assert_state(State::Established);
}

#[test]
fn st_3_listen_ignores_rst() {
    let mut t = Tcp::v4();
    let l = t.listen();
    t.inject(RST).seq(5u32);
    t.inject(RST | ACK).seq(5u32).ack(77u32);
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.stack.syn_queue_len(l), 0);
}

#[test]
fn st_3_listen_answers_ack_with_rst() {
    let mut t = Tcp::v4();
    t.listen();
    // <SEQ=SEG.ACK><CTL=RST>, whatever else the segment carries.
    t.inject(ACK).seq(100u32).ack(4242u32);
    t.expect(RST)
        .seq(4242u32)
        .ack(0u32)
        .win(0)
        .len(0)
        .no_options();
    t.inject(ACK | PSH).seq(100u32).ack(999u32).payload(b"data");
    t.expect(RST).seq(999u32).ack(0u32);
    t.inject(SYN | ACK).seq(100u32).ack(31337u32);
    t.expect(RST).seq(31337u32);
    t.inject(FIN | ACK).seq(100u32).ack(5u32);
    t.expect(RST).seq(5u32);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn st_3_listen_syn_makes_syn_received() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).win(29200);
    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, RCV.NXT = SEG.SEQ+1.
    let synack = t.expect(SYN | ACK).ack(irs + 1).seg();
    let iss = synack.seq();
    t.assert_state(State::SynReceived);
    let st = t.status();
    assert_eq!(st.rcv_nxt, (irs + 1).0);
    assert_eq!((st.snd_una, st.snd_nxt), (iss.0, (iss + 1).0));
    assert_eq!(st.snd_wnd, 29200);
    assert_eq!(st.remote, t.remote);
}

#[test]
fn st_3_listen_drops_other_segments() {
    let mut t = Tcp::v4();
    t.listen();
    // Neither RST, ACK nor SYN: dropped without a word.
    t.inject(NONE).seq(1u32).payload(b"x");
    t.inject(FIN).seq(1u32);
    t.inject(PSH).seq(1u32).payload(b"hello");
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn st_4_syn_sent_unacceptable_ack_draws_rst() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    // ISS < SEG.ACK =< SND.NXT fails both ways: <SEQ=SEG.ACK><CTL=RST>, state unchanged.
    t.inject(SYN | ACK).seq(irs).ack(iss);
    t.expect(RST).seq(iss).ack(0u32);
    t.inject(SYN | ACK).seq(irs).ack(iss + 2);
    t.expect(RST).seq(iss + 2);
    t.inject(ACK).seq(irs).ack(iss - 1000);
    t.expect(RST).seq(iss - 1000);
    t.assert_state(State::SynSent);
    // The real SYN,ACK still completes the handshake.
    t.inject(SYN | ACK).seq(irs).ack(iss + 1);
    t.expect(ACK).seq(iss + 1).ack(irs + 1);
    t.assert_state(State::Established);
}

#[test]
fn st_4_syn_sent_bad_ack_with_rst_dropped() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    t.inject(RST | ACK).seq(0u32).ack(iss + 7);
    t.expect_nothing();
    t.assert_state(State::SynSent);
}

#[test]
fn st_4_syn_sent_acceptable_ack_without_syn_dropped() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs).ack(iss + 1);
    t.expect_nothing();
    t.assert_state(State::SynSent);
    // A FIN (no SYN) is ignored in SYN-SENT too (EP-22).
    t.inject(FIN | ACK).seq(irs).ack(iss + 1);
    t.expect_nothing();
    t.assert_state(State::SynSent);
}

#[test]
fn st_5_syn_sent_synack_with_data_establishes_and_takes_data() {
    let mut t = Tcp::v4();
    let c = t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .mss(1460)
        .payload(b"early");
    // One ACK covers the SYN and the data.
    t.expect(ACK).seq(iss + 1).ack(irs + 6).len(0);
    t.expect_nothing();
    t.assert_state(State::Established);
    assert!(t.saw(Event::Readable { conn: c }));
    assert_eq!(t.recv(100).unwrap(), b"early");
}

#[test]
fn st_5_syn_sent_synack_sends_queued_data() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    // SEND in SYN-SENT queues the data (UI-2) ...
    assert_eq!(t.send(b"queued"), Ok(6));
    t.expect_nothing();
    let irs = t.peer_isn;
    t.inject(SYN | ACK).seq(irs).ack(iss + 1).mss(1460);
    // ... and it leaves once ESTABLISHED, carrying the ACK of the SYN,ACK.
    t.expect(PSH | ACK)
        .seq(iss + 1)
        .ack(irs + 1)
        .payload(b"queued");
    t.expect_nothing();
}

#[test]
fn st_5_partial_ack_of_syn_accepted() {
    // SND.UNA advances to SEG.ACK; equality with SND.NXT is not required (ST-4). Without data
    // on our SYN the only acceptable ACK is ISS+1, and it must be accepted.
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN | ACK).seq(irs).ack(iss + 1).win(1000);
    t.expect(ACK).seq(iss + 1).ack(irs + 1);
    assert_eq!(t.status().snd_una, (iss + 1).0);
    // WS-4: the window of the SYN,ACK is taken as is.
    assert_eq!(t.status().snd_wnd, 1000);
}

#[test]
fn must_10_simultaneous_open() {
    let mut t = Tcp::v4();
    let c = t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    // Crossing SYN: SYN-RECEIVED, SYN,ACK on the same ISS.
    t.inject(SYN).seq(irs).mss(1460).win(20000).at(ms(10));
    t.expect(SYN | ACK)
        .seq(iss)
        .ack(irs + 1)
        .mss(Some(1460))
        .at(ms(10));
    t.assert_state(State::SynReceived);
    assert_eq!(t.status().snd_wnd, 20000);
    // The peer's SYN,ACK (its own ISS again, acking ours) completes the open.
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .win(30000)
        .at(ms(20));
    t.assert_state(State::Established);
    assert_eq!(t.status().snd_una, (iss + 1).0);
    assert_eq!(t.status().snd_wnd, 30000);
    assert!(t.saw(Event::Connected { conn: c }));
    assert_eq!(
        t.transitions(),
        [
            (State::Closed, State::SynSent),
            (State::SynSent, State::SynReceived),
            (State::SynReceived, State::Established)
        ]
    );
    // Data flows both ways afterwards.
    t.send(b"hi").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).ack(irs + 1).payload(b"hi");
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 3).payload(b"yo");
    t.expect(ACK).seq(iss + 3).ack(irs + 3);
    assert_eq!(t.recv(10).unwrap(), b"yo");
}

#[test]
fn must_10_simultaneous_open_completed_by_plain_ack() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).seq(iss).ack(irs + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.assert_state(State::Established);
    t.expect_nothing();
}

#[test]
fn must_11_passive_syn_rcvd_returns_to_listen_on_rst() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).ack(irs + 1);
    assert_eq!(t.stack.syn_queue_len(l), 1);
    t.inject(RST).seq(irs + 1);
    t.expect_nothing();
    // The half-open entry is gone, the listener stays, and the application hears nothing.
    t.assert_gone();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert_eq!(t.stack.connection_count(), 0);
    assert!(!t
        .events
        .iter()
        .any(|e| matches!(e, Event::Closed { .. } | Event::AcceptReady { .. })));
    // Later SYNs are served as before.
    t.inject(SYN).seq(irs + 5000).mss(1460);
    t.expect(SYN | ACK).ack(irs + 5001);
}

#[test]
fn must_11_passive_syn_rcvd_returns_to_listen_on_syn() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).ack(irs + 1);
    // A SYN with another sequence number, inside the window: back to LISTEN (EP-15).
    t.inject(SYN).seq(irs + 100).mss(1460);
    t.expect_nothing();
    t.assert_gone();
    assert_eq!(t.stack.syn_queue_len(l), 0);
    assert!(!t.events.iter().any(|e| matches!(e, Event::Closed { .. })));
}

#[test]
fn must_11_active_syn_rcvd_rst_is_refused() {
    let mut t = Tcp::v4();
    let c = t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).seq(iss).ack(irs + 1);
    t.inject(RST).seq(irs + 1);
    t.expect_nothing();
    assert_eq!(t.close_reason(), Some(CloseReason::Refused));
    assert_eq!(t.stack.state(c), Some(State::Closed));
    assert_eq!(
        t.stack.send(t.now, c, b"x"),
        Err(Error::Closed(CloseReason::Refused))
    );
}

#[test]
fn must_11_active_syn_rcvd_syn_draws_challenge_ack() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).seq(iss).ack(irs + 1);
    // An active SYN-RECEIVED treats a new SYN as the synchronized states do (BI-4).
    t.inject(SYN).seq(irs + 100).mss(1460);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.assert_state(State::SynReceived);
}

#[test]
fn s_3_retransmitted_syn_draws_synack_again_no_new_entry() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    // The same SYN again, after the 500 ms answer limit: the same SYN,ACK, no second entry.
    t.inject(SYN).seq(irs).mss(1460).at(ms(600));
    t.expect(SYN | ACK).seq(iss).ack(irs + 1).at(ms(600));
    assert_eq!(t.stack.syn_queue_len(l), 1);
    assert_eq!(t.stack.connection_count(), 1);
    // Within 500 ms of the last SYN,ACK a repeat is not answered.
    t.inject(SYN).seq(irs).mss(1460).at(ms(700));
    t.expect_nothing();
    t.assert_state(State::SynReceived);
}

#[test]
fn st_6_data_on_syn_buffered_until_established() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).payload(b"syn-data");
    // The data is taken in sequence; the SYN,ACK acknowledges it with the SYN.
    let iss = t.expect(SYN | ACK).ack(irs + 9).seq_any();
    assert_eq!(t.stack.accept_queue_len(l), 0);
    t.inject(ACK).seq(irs + 9).ack(iss + 1);
    t.expect_nothing();
    let c = t.accept().unwrap();
    // Readable right after accept, and the bytes are there exactly once.
    assert!(t.saw(Event::Readable { conn: c }));
    assert_eq!(t.read_all(), b"syn-data");
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
}

#[test]
fn st_6_data_on_crossing_syn_held_until_established() {
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).payload(b"abc");
    t.expect(SYN | ACK).seq(iss).ack(irs + 4);
    t.assert_state(State::SynReceived);
    // Not handed to the user before ESTABLISHED.
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
    t.inject(ACK).seq(irs + 4).ack(iss + 1);
    t.assert_state(State::Established);
    assert_eq!(t.recv(10).unwrap(), b"abc");
}

#[test]
fn s_5_data_on_third_segment() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    // No bare ACK: the first data segment completes the handshake (step 5) and its text is
    // taken at step 7, and acknowledged.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"GET /")
        .at(ms(1));
    t.expect(ACK).seq(iss + 1).ack(irs + 6).len(0).at(ms(1));
    let c = t.accept().unwrap();
    t.assert_state(State::Established);
    assert!(t.saw(Event::Readable { conn: c }));
    assert_eq!(t.recv(100).unwrap(), b"GET /");
}

#[test]
fn must_41_second_listen_fails_and_leaves_first_alone() {
    let mut t = Tcp::v4();
    let l = t.listen();
    let local = t.local;
    assert_eq!(t.stack.listen(local, 8), Err(Error::AddrInUse));
    // The first listener still answers.
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).ack(irs + 1);
    assert_eq!(t.stack.syn_queue_len(l), 1);
    // Nor does a LISTEN on a port with an established connection touch that connection.
    let mut t = Tcp::v4();
    t.establish_active();
    let local = t.local;
    let l2 = t.stack.listen(local, 8).unwrap();
    t.assert_state(State::Established);
    assert_eq!(t.stack.accept_queue_len(l2), 0);
}

#[test]
fn must_42_listen_port_shared_with_connections() {
    let mut t = Tcp::v4();
    // An active open from local port 8080 in SYN-SENT ...
    let local = t.local;
    let peer = t.remote.ip();
    let c = t
        .stack
        .connect(t.now, Some(local), std::net::SocketAddr::new(peer, 9999))
        .unwrap();
    t.conn = Some(c);
    let syn = t.expect(SYN).seq_any();
    // ... does not stop a LISTEN on 8080.
    let l = t.listen();
    // A SYN from another remote port goes to the listener.
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    let remote = t.remote;
    t.expect(SYN | ACK).ack(irs + 1).dst(remote);
    assert_eq!(t.stack.syn_queue_len(l), 1);
    // The exact 4-tuple goes to the connection: its SYN,ACK completes it.
    t.inject(SYN | ACK)
        .src_port(9999)
        .seq(777u32)
        .ack(syn + 1)
        .mss(1460);
    t.expect(ACK).seq(syn + 1).ack(778u32);
    assert_eq!(t.stack.state(c), Some(State::Established));
    assert_eq!(t.stack.syn_queue_len(l), 1);
}

#[test]
fn must_43_wildcard_listen_binds_arrival_address() {
    let mut t = Tcp::v4();
    t.stack.add_address("198.18.0.3".parse().unwrap());
    t.stack.listen("0.0.0.0:8080".parse().unwrap(), 8).unwrap();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).dst_ip("198.18.0.3");
    let synack = t.expect(SYN | ACK).ack(irs + 1).seg();
    // MUST-45: the SYN,ACK and everything after come from the address the SYN reached.
    assert_eq!(synack.src, "198.18.0.3:8080".parse().unwrap());
    t.inject(ACK)
        .seq(irs + 1)
        .ack(synack.seq() + 1)
        .payload(b"x")
        .dst_ip("198.18.0.3");
    let ack = t.expect(ACK).ack(irs + 2).seg();
    assert_eq!(ack.src, synack.src);
    let c = t.conn.unwrap();
    assert_eq!(t.stack.status(c).unwrap().local, synack.src);
}

#[test]
fn must_44_active_open_picks_source_address_and_port() {
    let mut t = Tcp::v4();
    let remote = t.remote;
    let c = t.stack.connect(t.now, None, remote).unwrap();
    t.conn = Some(c);
    let syn = t.expect(SYN).seg();
    assert_eq!(syn.src.ip(), t.local.ip());
    assert!((32768..=60999).contains(&syn.src.port()), "{}", syn.src);
    assert_eq!(t.status().local, syn.src);
    // No address of the remote's family: no route.
    assert_eq!(
        t.stack
            .connect(t.now, None, "[2001:db8::2]:80".parse().unwrap()),
        Err(Error::NoRoute)
    );
}

#[test]
fn must_46_invalid_remote_rejected() {
    let mut t = Tcp::v4();
    t.stack.add_address("2001:db8::1".parse().unwrap());
    for bad in [
        "255.255.255.255:80",
        "224.0.0.1:80",
        "239.1.2.3:80",
        "0.0.0.0:80",
        "[ff02::1]:80",
        "[::]:80",
        "198.18.0.2:0",
    ] {
        let r = t.stack.connect(t.now, None, bad.parse().unwrap());
        assert_eq!(r, Err(Error::InvalidAddress), "{bad}");
    }
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn must_57_multicast_dst_dropped() {
    let mut t = Tcp::v4();
    t.stack.listen("0.0.0.0:8080".parse().unwrap(), 8).unwrap();
    for dst in ["224.0.0.1", "255.255.255.255", "239.255.255.250"] {
        t.inject(SYN).seq(1u32).dst_ip(dst);
        // Not even the RST a closed port would draw.
        t.inject(ACK).seq(1u32).ack(1u32).dst_ip(dst).dst_port(9);
    }
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.counters().dropped(DropReason::NotOurs), 6);

    let mut t = Tcp::v6();
    t.listen();
    t.inject(SYN).seq(1u32).dst_ip("ff02::1");
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn must_63_invalid_source_ignored() {
    let mut t = Tcp::v4();
    t.listen();
    for src in ["0.0.0.0", "255.255.255.255", "224.0.0.5"] {
        t.inject(SYN).seq(1u32).mss(1460).src_ip(src);
        // No RST toward an invalid source either.
        t.inject(ACK).seq(1u32).ack(1u32).src_ip(src);
    }
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.counters().dropped(DropReason::BadSource), 6);

    let mut t = Tcp::v6();
    t.listen();
    t.inject(SYN).seq(1u32).src_ip("::");
    t.inject(SYN).seq(1u32).src_ip("ff02::1");
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn s_10_self_connect_avoided_by_ephemeral_choice() {
    // A remote equal to one of our own sockets: the ephemeral port never equals it.
    let mut cfg = Tcp::config();
    cfg.ephemeral_ports = (8080, 8081);
    let mut t = Tcp::with_config(cfg);
    let me: std::net::SocketAddr = "198.18.0.1:8080".parse().unwrap();
    let c = t.stack.connect(t.now, None, me).unwrap();
    assert_eq!(t.stack.status(c).unwrap().local.port(), 8081);
}
