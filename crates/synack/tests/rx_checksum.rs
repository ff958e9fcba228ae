//! MUST-3 on the receive data path. The payload of a plain data segment is summed while it
//! is copied into the receive ring (not in a separate pass when parsing), so these check
//! that a corrupted segment still has no effect at all: dropped, counted as a bad checksum
//! and nothing else, RCV.NXT and the buffer unchanged, nothing sent, no event.
mod harness;
use harness::*;

/// Inject a data segment of `payload` at `seq` with `flags`, with one payload byte
/// (`corrupt_at`) flipped after the checksum was computed, and check that it changed nothing
/// but the bad-checksum counter.
fn inject_corrupted(t: &mut Tcp, flags: TcpFlags, seq: SeqNum, payload: &[u8], corrupt_at: usize) {
    t.flush();
    let _ = t.take_sent(); // what earlier segments drew
    let ack = t.stack_nxt;
    let peer_nxt = t.peer_nxt;
    t.inject(flags).seq(seq).ack(ack).payload(payload).hold();
    t.peer_nxt = peer_nxt; // the harness thinks it was sent; it was not received
    let mut held = t.take_held();
    assert_eq!(held.len(), 1);
    let mut p = held.pop().unwrap();
    let at = p.len() - payload.len() + corrupt_at;
    p[at] ^= 0x40;
    let before = t.counters().clone();
    let status = t.status();
    t.new_events();
    t.inject_raw(&p);
    let mut expected = before.clone();
    expected.count_parse_drop(wire::ParseError::TcpChecksum);
    assert_eq!(*t.counters(), expected, "only the bad checksum is counted");
    let after = t.status();
    assert_eq!(after.rcv_nxt, status.rcv_nxt, "RCV.NXT unchanged");
    assert_eq!(after.recv_queued, status.recv_queued, "nothing delivered");
    assert_eq!(after.rcv_wnd, status.rcv_wnd);
    assert_eq!(after.state, status.state);
    assert_eq!(
        after.snd_una, status.snd_una,
        "its ACK field is not believed"
    );
    t.expect_nothing();
    assert_eq!(t.new_events(), vec![], "no event");
}

fn data(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ salt).collect()
}

fn both_families(f: impl Fn(Tcp)) {
    f(Tcp::v4());
    f(Tcp::v6());
}

#[test]
fn must_3_corrupted_in_order_data_changes_nothing() {
    both_families(|mut t| {
        let iss = t.establish_passive();
        let irs = t.peer_isn;
        for (len, at) in [(1000, 0), (1460, 1459), (300, 151), (4000, 2048)] {
            let good = data(len, 0x5A);
            inject_corrupted(&mut t, ACK | PSH, irs + 1, &good, at);
            inject_corrupted(&mut t, ACK, irs + 1, &good, at);
        }
        // The same segment, intact, is then taken as usual, with its own bytes (nothing
        // of the corrupted copies shows through).
        let good = data(1000, 0x5A);
        t.inject(ACK | PSH).seq(irs + 1).ack(iss + 1).payload(&good);
        assert_eq!(t.status().rcv_nxt, (irs + 1001).0);
        assert_eq!(t.recv(5000).unwrap(), good);
    });
}

#[test]
fn must_3_corrupted_data_behind_unread_data_and_across_the_ring_end() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let mut seq = irs + 1;
    let mut stream = Vec::new();
    // Unread data in the ring, and reads that move its head, so that later segments wrap.
    for round in 0..40u8 {
        let len = 700 + usize::from(round) * 53 % 900;
        let good = data(len, round);
        inject_corrupted(
            &mut t,
            ACK | PSH,
            seq,
            &good,
            len / 2 + usize::from(round % 2),
        );
        t.inject(ACK | PSH).seq(seq).ack(iss + 1).payload(&good);
        seq += len as u32;
        stream.extend_from_slice(&good);
        if round % 3 == 2 {
            let n = t.status().recv_queued - 500;
            let got = t.recv(n).unwrap();
            assert_eq!(got[..], stream[..n]);
            stream.drain(..n);
        }
        assert_eq!(t.status().rcv_nxt, seq.0);
    }
    assert_eq!(t.read_all(), stream);
}

#[test]
fn must_3_corrupted_out_of_order_data_changes_nothing() {
    both_families(|mut t| {
        let iss = t.establish_passive();
        let irs = t.peer_isn;
        inject_corrupted(&mut t, ACK | PSH, irs + 1001, &data(1000, 1), 17);
        // With a hole already queued, too.
        t.inject(ACK)
            .seq(irs + 3001)
            .ack(iss + 1)
            .payload(&data(500, 2));
        t.expect(ACK).ack(irs + 1);
        inject_corrupted(&mut t, ACK, irs + 1001, &data(1000, 1), 999);
        inject_corrupted(&mut t, ACK, irs + 1, &data(1000, 3), 0);
        t.inject(ACK)
            .seq(irs + 1)
            .ack(iss + 1)
            .payload(&data(3000, 4));
        assert_eq!(t.status().rcv_nxt, (irs + 3501).0);
    });
}

#[test]
fn must_3_corrupted_data_with_fin_changes_nothing() {
    both_families(|mut t| {
        let iss = t.establish_passive();
        let irs = t.peer_isn;
        inject_corrupted(&mut t, ACK | PSH | FIN, irs + 1, &data(1000, 9), 500);
        inject_corrupted(&mut t, ACK | FIN, irs + 1, &data(300, 9), 299);
        t.assert_state(State::Established);
        t.inject(ACK | FIN)
            .seq(irs + 1)
            .ack(iss + 1)
            .payload(&data(1000, 9));
        t.assert_state(State::CloseWait);
        assert_eq!(t.read_all(), data(1000, 9));
    });
}

#[test]
fn must_3_corrupted_data_for_no_connection_draws_no_rst() {
    let mut t = Tcp::v4();
    t.listen();
    let before = t.counters().in_segs;
    inject_corrupted_raw_no_conn(&mut t);
    assert_eq!(t.counters().in_segs, before);
    assert_eq!(t.counters().parse_dropped(wire::ParseError::TcpChecksum), 1);
}

fn inject_corrupted_raw_no_conn(t: &mut Tcp) {
    t.inject(ACK | PSH)
        .seq(5u32)
        .ack(7u32)
        .payload(&data(1000, 7))
        .hold();
    let mut p = t.take_held().pop().unwrap();
    let n = p.len();
    p[n - 10] ^= 1;
    t.inject_raw(&p);
    t.expect_nothing();
}

#[test]
fn must_3_corrupted_data_in_zero_window_changes_nothing() {
    // The receive buffer is full: the segment cannot be staged in the ring and is summed
    // on its own; still nothing happens (in particular no window probe answer).
    let mut cfg = Tcp::config();
    cfg.recv_buffer = 2000;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(&data(2000, 1));
    t.flush();
    let _ = t.take_sent();
    inject_corrupted(&mut t, ACK, irs + 2001, &data(500, 2), 3);
}

#[test]
fn intact_data_beyond_the_window_is_trimmed_as_before() {
    // The ring has room for the whole segment (it is staged whole), but the advertised
    // window has not moved (receiver SWS avoidance, MUST-39): only the part inside RCV.WND
    // is committed.
    let mut cfg = Tcp::config();
    cfg.recv_buffer = 3000;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let first = data(2000, 5);
    t.inject(ACK).seq(irs + 1).ack(iss + 1).payload(&first);
    assert_eq!(t.recv(100).unwrap(), first[..100]);
    let wnd = t.status().rcv_wnd as usize;
    assert_eq!(wnd, 1000, "the right edge holds");
    let big = data(1100, 3);
    t.inject(ACK).seq(irs + 2001).ack(iss + 1).payload(&big);
    assert_eq!(t.status().rcv_nxt, (irs + 3001).0);
    let mut want = first[100..].to_vec();
    want.extend_from_slice(&big[..1000]);
    assert_eq!(t.read_all(), want);
}
