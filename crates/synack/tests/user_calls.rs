//! The user calls (checklist 1.16): OPEN, SEND, RECEIVE, ABORT and STATUS by state; Nagle
//! and sender SWS avoidance (1.8, 1.9); events.
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
fn ui_1_open_errors() {
    let mut t = Tcp::v4();
    let remote = t.remote;
    let local: std::net::SocketAddr = "198.18.0.1:5000".parse().unwrap();
    t.stack.connect(t.now, Some(local), remote).unwrap();
    // The same 4-tuple again: "connection already exists".
    assert_eq!(
        t.stack.connect(t.now, Some(local), remote),
        Err(Error::AddrInUse)
    );
    // A local address that is not ours, or of the wrong family.
    assert_eq!(
        t.stack
            .connect(t.now, Some("192.0.2.1:5000".parse().unwrap()), remote),
        Err(Error::InvalidAddress)
    );
    assert_eq!(
        t.stack
            .connect(t.now, Some(local), "[2001:db8::2]:80".parse().unwrap()),
        Err(Error::InvalidAddress)
    );
    // LISTEN on an address not ours, or on port 0.
    assert_eq!(
        t.stack.listen("192.0.2.1:80".parse().unwrap(), 8),
        Err(Error::InvalidAddress)
    );
    assert_eq!(
        t.stack.listen("198.18.0.1:0".parse().unwrap(), 8),
        Err(Error::InvalidAddress)
    );
    assert_eq!(t.stack.connection_count(), 1);
}

#[test]
fn ui_2_send_by_state() {
    // SYN-SENT: queued, sent once ESTABLISHED (see also handshake st_5).
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    assert_eq!(t.send(b"early"), Ok(5));
    t.expect_nothing();
    // SYN-RECEIVED (crossing SYNs): still queued.
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK).seq(iss);
    assert_eq!(t.send(b"+more"), Ok(5));
    t.expect_nothing();
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.expect(PSH | ACK)
        .seq(iss + 1)
        .ack(irs + 1)
        .payload(b"early+more");

    // ESTABLISHED and CLOSE-WAIT: segmentized and sent with ACK.
    for state in [State::Established, State::CloseWait] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (snd_nxt, rcv_nxt) = t.nxt_in(state);
        assert_eq!(t.send(b"hello"), Ok(5));
        t.expect(PSH | ACK)
            .seq(snd_nxt)
            .ack(rcv_nxt)
            .payload(b"hello");
    }
    // After CLOSE: "connection closing".
    for state in [
        State::FinWait1,
        State::FinWait2,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        assert_eq!(t.send(b"hello"), Err(Error::Closing), "{state:?}");
        t.expect_nothing();
    }
    // CLOSED: the reason; a released handle: "connection does not exist".
    let mut t = Tcp::v4();
    t.establish_passive();
    let irs = t.peer_isn;
    t.inject(RST).seq(irs + 1);
    assert_eq!(t.send(b"x"), Err(Error::Closed(CloseReason::Reset)));
    let mut t = Tcp::v4();
    t.establish_passive();
    t.abort().unwrap();
    assert_eq!(t.send(b"x"), Err(Error::InvalidHandle));
}

#[test]
fn ui_3_recv_by_state() {
    // SYN-SENT: nothing yet.
    let mut t = Tcp::v4();
    t.connect();
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
    // ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2: data as it comes.
    for state in [State::Established, State::FinWait1, State::FinWait2] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (snd_nxt, rcv_nxt) = t.nxt_in(state);
        assert_eq!(t.recv(10), Err(Error::WouldBlock), "{state:?}");
        t.inject(ACK | PSH)
            .seq(rcv_nxt)
            .ack(snd_nxt)
            .payload(b"abc");
        t.expect(ACK).ack(rcv_nxt + 3);
        assert_eq!(t.recv(10).unwrap(), b"abc", "{state:?}");
    }
    // CLOSE-WAIT: what is buffered, then end of stream, for ever.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(FIN | PSH | ACK)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"0123456789");
    assert_eq!(t.recv(4).unwrap(), b"0123");
    assert_eq!(t.recv(100).unwrap(), b"456789");
    assert_eq!(t.recv(100).unwrap(), b"");
    assert_eq!(t.recv(100).unwrap(), b"");
    // CLOSING, LAST-ACK, TIME-WAIT: end of stream.
    for state in [State::Closing, State::LastAck, State::TimeWait] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        assert_eq!(t.recv(10).unwrap(), b"", "{state:?}");
    }
}

#[test]
fn ui_5_abort_by_state() {
    // SYN-SENT: no RST on the wire; the handle is released.
    let mut t = Tcp::v4();
    let c = t.connect();
    t.expect(SYN);
    t.abort().unwrap();
    t.expect_nothing();
    assert!(t.saw(Event::Closed {
        conn: c,
        reason: CloseReason::Aborted
    }));
    assert_eq!(t.stack.state(c), None);
    t.advance(dsecs(5));
    t.expect_nothing();

    // SYN-RECEIVED (active) and the states where the peer holds state: RST at SND.NXT.
    let mut t = Tcp::v4();
    t.connect();
    let iss = t.expect(SYN).seq_any();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460);
    t.expect(SYN | ACK);
    t.abort().unwrap();
    t.expect(RST | ACK).seq(iss + 1).ack(irs + 1);

    for state in [
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
    ] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let (snd_nxt, rcv_nxt) = t.nxt_in(state);
        t.send(b"unsent?").ok();
        t.take_sent();
        let c = t.c();
        t.abort().unwrap();
        let snd_nxt = if state == State::Established || state == State::CloseWait {
            snd_nxt + 7
        } else {
            snd_nxt
        };
        t.expect(RST | ACK).seq(snd_nxt).ack(rcv_nxt).len(0);
        assert_eq!(t.stack.state(c), None, "{state:?}");
        // Everything is flushed: nothing is ever retransmitted.
        t.advance(dsecs(30));
        t.expect_nothing();
    }
    // CLOSING, LAST-ACK, TIME-WAIT: "ok", the TCB goes, nothing is sent.
    for state in [State::Closing, State::LastAck, State::TimeWait] {
        let mut t = Tcp::v4();
        t.establish_in(state);
        let c = t.c();
        assert_eq!(t.abort(), Ok(()));
        t.expect_nothing();
        assert_eq!(t.stack.state(c), None, "{state:?}");
        assert_eq!(t.stack.connection_count(), 0);
    }
}

#[test]
fn ui_6_status() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"0123456789")
        .win(5000);
    t.send(b"abcdef").unwrap();
    let st = t.status();
    assert_eq!(st.state, State::Established);
    assert_eq!((st.local, st.remote), (t.local, t.remote));
    assert_eq!(st.listener, t.listener);
    assert!(!st.orphan);
    assert_eq!((st.snd_una, st.snd_nxt), ((iss + 1).0, (iss + 7).0));
    assert_eq!(st.snd_wnd, 5000);
    assert_eq!(st.rcv_nxt, (irs + 11).0);
    assert_eq!((st.send_queued, st.recv_queued), (6, 10));
    assert_eq!(st.mss, 1460);
    assert_eq!(st.close_reason, None);
    assert_eq!(t.stack.connections(), vec![st]);
}

#[test]
fn ui_7_events_readable_writable() {
    let mut cfg = Tcp::config();
    cfg.send_buffer = 1000;
    cfg.send_buffer_max = 1000; // fixed: no growth with cwnd (LX-11)
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let c = t.c();
    t.new_events();
    // The send buffer takes what fits; Writable comes when space frees up.
    assert_eq!(t.send(&[0u8; 1500]), Ok(1000));
    assert_eq!(t.send(b"x"), Err(Error::WouldBlock));
    t.expect(PSH | ACK).len(1000);
    assert!(!t.new_events().contains(&Event::Writable { conn: c }));
    t.inject(ACK).seq(irs + 1).ack(iss + 1001);
    assert_eq!(t.new_events(), [Event::Writable { conn: c }]);
    // Readable for data and for end of stream.
    t.inject(ACK).seq(irs + 1).ack(iss + 1001).payload(b"d");
    assert!(t.new_events().contains(&Event::Readable { conn: c }));
    t.read_all();
    t.inject(FIN | ACK).seq(irs + 2).ack(iss + 1001);
    let ev = t.new_events();
    assert!(ev.contains(&Event::Readable { conn: c }), "{ev:?}");
}

/// `Readable` is edge-triggered (`Event::Readable`): segments that arrive while one is
/// queued and unanswered add none; any recv call, even one that finds nothing, re-arms it,
/// and so does end of stream after a read.
#[test]
fn ui_7_readable_is_told_once_until_the_application_reads() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let c = t.c();
    t.new_events();
    let readable = |ev: &[Event]| {
        ev.iter()
            .filter(|e| **e == Event::Readable { conn: c })
            .count()
    };
    for (k, d) in [b"ab", b"cd", b"ef"].iter().enumerate() {
        t.inject(ACK)
            .seq(irs + 1 + 2 * k as u32)
            .ack(iss + 1)
            .payload(*d);
    }
    assert_eq!(readable(&t.new_events()), 1, "three segments, one event");
    assert_eq!(t.recv(2).unwrap(), b"ab");
    t.inject(ACK).seq(irs + 7).ack(iss + 1).payload(b"gh");
    assert_eq!(
        readable(&t.new_events()),
        1,
        "a read re-arms it, even a partial one"
    );
    assert_eq!(t.read_all(), b"cdefgh");
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
    t.inject(ACK).seq(irs + 9).ack(iss + 1).payload(b"ij");
    assert_eq!(readable(&t.new_events()), 1, "after WouldBlock");
    t.inject(FIN | ACK).seq(irs + 11).ack(iss + 1);
    assert_eq!(
        readable(&t.new_events()),
        0,
        "the FIN joins the unanswered event"
    );
    assert_eq!(t.read_all(), b"ij");
    assert_eq!(t.recv(10), Ok(vec![]), "end of stream");
}

#[test]
fn shld_7_nagle() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"a").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"a").at(ms(0));
    // Small writes while data is unacknowledged wait ...
    t.send(b"b").unwrap();
    t.send(b"c").unwrap();
    t.expect_nothing();
    // ... and go together when the ACK comes.
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(30));
    t.expect(PSH | ACK).seq(iss + 2).payload(b"bc").at(ms(30));
    // A full segment is never held.
    t.send(&[0u8; 1460]).unwrap();
    t.expect(PSH | ACK).seq(iss + 4).len(1460);
}

#[test]
fn must_17_nodelay() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(b"a").unwrap();
    t.send(b"b").unwrap();
    t.send(b"c").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"a");
    t.expect(PSH | ACK).seq(iss + 2).payload(b"b");
    t.expect(PSH | ACK).seq(iss + 3).payload(b"c");
    // And back on.
    t.stack.set_nodelay(t.c(), false).unwrap();
    t.send(b"d").unwrap();
    t.expect_nothing();
    // The knob for new connections.
    let mut cfg = Tcp::config();
    cfg.nagle = false;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    t.send(b"a").unwrap();
    t.send(b"b").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    t.expect(PSH | ACK).seq(iss + 2);
}

#[test]
fn must_38_sender_sws_override_timer() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(10_000);
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[0u8; 1000]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).len(1000);
    // The peer takes the data but opens only 100 bytes, and stays there.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1001)
        .win(100)
        .at(ms(10));
    t.send(&[0u8; 1000]).unwrap();
    // 100 < MSS and < half the largest window: wait (silly window) ... but not for ever:
    // within the override timeout (at most 1 s, or the persist timer), the 100 bytes go.
    let mut sent = 0;
    for _ in 0..20 {
        let s = t.run_until_sent(secs(60));
        if !s.payload.is_empty() {
            assert_eq!(s.seq(), iss + 1001);
            sent = s.payload.len();
            break;
        }
        // A probe: answered, still 100.
        t.inject(ACK).seq(irs + 1).ack(iss + 1001).win(100);
    }
    assert_eq!(sent, 100, "{}", t.trace());
}

#[test]
fn must_38_sender_sws_waits_for_a_useful_window() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(10_000);
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(&[0u8; 1000]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).len(1000);
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1001)
        .win(100)
        .at(ms(10));
    t.send(&[0u8; 3000]).unwrap();
    // 100 bytes usable: not worth a segment.
    t.expect_nothing();
    // Half the largest window (5000 >= MSS): a full segment goes.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1001)
        .win(5000)
        .at(ms(20));
    t.expect(ACK).seq(iss + 1001).len(1460);
    t.expect(ACK).seq(iss + 2461).len(1460);
}

#[test]
fn must_34_shrunk_window_survived_shld_15_no_new_data_beyond() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(4000);
    t.send(&[0u8; 6000]).unwrap();
    t.expect(ACK).seq(iss + 1).len(1460);
    t.expect(ACK).seq(iss + 1461).len(1460);
    // (The last 1080 bytes of the window wait: Nagle and SWS avoidance.)
    t.expect_nothing();
    // The peer shrinks its window: the right edge moves from ISS+4001 to ISS+1001, behind
    // SND.NXT = ISS+2921. The usable window is negative: nothing new goes out.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(1000).at(ms(10));
    assert_eq!(t.status().snd_wnd, 1000);
    t.send(b"more").unwrap();
    t.expect_nothing();
    t.assert_state(State::Established);
    // Once everything is ACKed and the window reopens, data flows again from SND.NXT.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 2921)
        .win(10_000)
        .at(ms(20));
    let s = t.next_seg();
    assert_eq!((s.seq(), s.payload.len()), (iss + 2921, 1460), "{s}");
}

#[test]
fn shld_28_full_sized_segments() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    // Many small writes before anything can go: full-sized segments, not one per write.
    t.send(b"x").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    for _ in 0..3000 {
        t.send(b"y").unwrap();
    }
    // Each time a full segment is queued, it goes; the rest waits for the ACK.
    t.expect(PSH | ACK).seq(iss + 2).len(1460);
    t.expect(PSH | ACK).seq(iss + 1462).len(1460);
    t.expect_nothing();
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    t.expect_nothing();
    t.inject(ACK).seq(irs + 1).ack(iss + 2922).at(ms(20));
    t.expect(PSH | ACK).seq(iss + 2922).len(80);
}

#[test]
fn ui_2_send_queue_is_fifo_and_reliable() {
    // Every byte is delivered once, in order, across retransmission (DESIGN invariant).
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    t.send(&data).unwrap();
    let first = t.take_sent();
    assert_eq!(first.len(), 4);
    // Lose all of it; the retransmissions rebuild exactly the same bytes.
    t.run_until(ms(250));
    let mut got = Vec::new();
    let mut next = iss + 1;
    for _ in 0..20 {
        let s = t.run_until_sent(secs(100));
        if s.seq() == next && !s.payload.is_empty() {
            got.extend_from_slice(&s.payload);
            next = s.seq() + s.payload.len() as u32;
            t.inject(ACK).seq(irs + 1).ack(next);
        }
        if got.len() == data.len() {
            break;
        }
    }
    assert_eq!(got, data);
}

#[test]
fn invalid_handles_are_never_aliased() {
    // A handle to a connection that is gone never names a newer connection in its slot.
    let mut t = Tcp::v4();
    t.establish_passive();
    let old = t.c();
    t.abort().unwrap();
    t.take_sent();
    let remote = t.remote;
    let new = t.stack.connect(t.now, None, remote).unwrap();
    assert_ne!(old, new);
    assert_eq!(t.stack.state(old), None);
    assert_eq!(t.stack.send(t.now, old, b"x"), Err(Error::InvalidHandle));
    assert_eq!(t.stack.state(new), Some(State::SynSent));
    let _ = SYNCHRONIZED;
}
