//! SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states (checklist 1.6, 1.1, 1.10):
//! step order, acceptability, trimming, reassembly, the ACK and window rules, ACK generation.
mod harness;
use harness::*;

/// A passive connection with a small receive buffer and no window scaling, so that the
/// window field is the window.
fn small_window(buffer: usize) -> Tcp {
    let mut cfg = Tcp::config();
    cfg.recv_buffer = buffer;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive();
    t
}

fn no_quick_acks() -> Tcp {
    let mut cfg = Tcp::config();
    cfg.quick_acks = 0;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive();
    t
}

#[test]
fn ep_4_sequence_numbers_wrap() {
    let mut t = Tcp::v4();
    t.peer_isn = SeqNum(u32::MAX - 2);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // Bytes at 2^32-2, 2^32-1, 0, 1, ...
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"wrap-around");
    t.expect(ACK).seq(iss + 1).ack(irs + 12);
    assert_eq!(t.status().rcv_nxt, 9);
    t.inject(ACK | PSH).seq(irs + 12).ack(iss + 1).payload(b"!");
    t.expect(ACK).ack(10u32);
    assert_eq!(t.read_all(), b"wrap-around!");
    // An old duplicate from just before the wrap is still old.
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 1).payload(b"w");
    t.expect(ACK).ack(10u32);
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
}

#[test]
fn ep_6_every_segment_from_established_carries_ack() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"one").unwrap();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 4)
        .payload(b"two");
    t.send(&[7u8; 3000]).unwrap();
    t.inject(ACK).seq(irs + 4).ack(iss + 2924);
    t.inject(FIN | ACK).seq(irs + 4).ack(iss + 3004);
    t.shutdown().unwrap();
    t.inject(ACK).seq(irs + 5).ack(iss + 3005);
    t.assert_state(State::Closed);
    let segs = t.take_sent();
    assert!(segs.len() >= 5, "{}", t.trace());
    let mut rcv_nxt = irs + 1;
    for s in &segs {
        assert!(s.flags().ack(), "{s}");
        // ACK = RCV.NXT at the time: it never runs ahead of what arrived.
        assert!(s.ack().ge(rcv_nxt), "{s}");
        rcv_nxt = s.ack();
    }
    assert_eq!(rcv_nxt, irs + 5, "{}", t.trace());
}

#[test]
fn ep_10_step_order() {
    // Step 1 before 2: an out-of-window RST is dropped silently.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(RST | ACK).seq(irs + 1_000_000).ack(iss + 1);
    t.expect_nothing();
    t.assert_state(State::Established);
    // Step 2 before 4: RST and SYN together at RCV.NXT reset the connection.
    t.inject(RST | SYN).seq(irs + 1);
    t.expect_nothing();
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));

    // Step 4 before 5: a SYN that also acknowledges new data is challenged, not processed.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"data").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    t.inject(SYN | ACK).seq(irs + 1).ack(iss + 5);
    t.expect(ACK).seq(iss + 5).ack(irs + 1);
    assert_eq!(t.status().snd_una, (iss + 1).0);

    // Step 5 before 7: text without ACK is dropped.
    let mut t = Tcp::v4();
    t.establish_passive();
    let irs = t.peer_isn;
    t.inject(PSH).seq(irs + 1).payload(b"no ack");
    t.expect_nothing();
    assert_eq!(t.recv(100), Err(Error::WouldBlock));

    // Step 7 before 8: the text of a FIN segment is delivered before end of stream.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(FIN | PSH | ACK)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"last words");
    t.expect(ACK).seq(iss + 1).ack(irs + 12);
    t.assert_state(State::CloseWait);
    assert_eq!(t.recv(100).unwrap(), b"last words");
    assert_eq!(t.recv(100).unwrap(), b"");
}

#[test]
fn ep_11_acceptability_table() {
    let mut t = small_window(1000);
    let iss = t.iss;
    let irs = t.peer_isn;
    let nxt = irs + 1;
    // len 0, wnd > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
    t.inject(ACK).seq(nxt).ack(iss + 1);
    t.inject(ACK).seq(nxt + 999).ack(iss + 1);
    t.expect_nothing();
    t.inject(ACK).seq(nxt + 1000).ack(iss + 1);
    t.expect(ACK).seq(iss + 1).ack(nxt).win(1000);
    // Replies to out-of-window pure ACKs are rate-limited to one per 500 ms (LX-15).
    t.inject(ACK).seq(nxt - 1).ack(iss + 1).at(ms(600));
    t.expect(ACK).seq(iss + 1).ack(nxt).win(1000);
    // len > 0, wnd > 0: first or last byte in the window.
    t.inject(ACK).seq(nxt - 10).ack(iss + 1).len(10); // all old
    t.expect(ACK).ack(nxt).win(1000);
    t.inject(ACK).seq(nxt + 1000).ack(iss + 1).len(10); // all beyond
    t.expect(ACK).ack(nxt).win(1000);
    t.inject(ACK)
        .seq(nxt - 5)
        .ack(iss + 1)
        .payload(b"0123456789"); // last byte in
    t.expect(ACK).ack(nxt + 5).win(995);
    assert_eq!(t.recv(100).unwrap(), b"56789");

    // Zero window: fill the buffer.
    let mut t = small_window(1000);
    let nxt = t.peer_isn + 1;
    let snd = t.iss + 1;
    t.inject(ACK).seq(nxt).ack(snd).len(1000);
    t.expect(ACK).ack(nxt + 1000).win(0);
    let nxt = nxt + 1000;
    // len 0, wnd 0: only SEG.SEQ = RCV.NXT is acceptable.
    t.inject(ACK).seq(nxt).ack(snd);
    t.expect_nothing();
    t.inject(ACK).seq(nxt + 1).ack(snd).at(ms(600));
    t.expect(ACK).seq(snd).ack(nxt).win(0);
    // len > 0, wnd 0: never acceptable (the text is not taken; an ACK answers).
    t.inject(ACK).seq(nxt).ack(snd).len(10);
    t.expect(ACK).seq(snd).ack(nxt).win(0);
    t.inject(ACK).seq(nxt + 1).ack(snd).len(10);
    t.expect(ACK).seq(snd).ack(nxt).win(0);
    t.expect_nothing();
    assert_eq!(t.read_all().len(), 1000);
}

#[test]
fn ep_12_unacceptable_segment_draws_ack_unless_rst() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"x").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    t.inject(ACK).seq(irs + 500_000).ack(iss + 2).len(5);
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and the segment's ACK is not used.
    t.expect(ACK).seq(iss + 2).ack(irs + 1).len(0);
    assert_eq!(t.status().snd_una, (iss + 1).0);
    t.inject(RST | ACK).seq(irs + 500_000).ack(iss + 2);
    t.expect_nothing();
    t.assert_state(State::Established);
}

#[test]
fn ep_13_trim_to_window() {
    // Overlap with bytes already received: only the new bytes count, the old ones stay.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"hello");
    t.expect(ACK).ack(irs + 6);
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"XXXXXworld");
    t.expect(ACK).ack(irs + 11);
    assert_eq!(t.read_all(), b"helloworld");

    // Past the right edge: the tail and the FIN are cut off.
    let mut t = small_window(1000);
    let iss = t.iss;
    let irs = t.peer_isn;
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1).len(1200);
    t.expect(ACK).seq(iss + 1).ack(irs + 1001).win(0);
    t.assert_state(State::Established);
    assert_eq!(t.read_all().len(), 1000);
}

#[test]
fn ep_13_nothing_beyond_the_advertised_window() {
    // No window scaling: the field can say at most 65535, whatever the buffer size, and
    // the SYN,ACK offered it in whole segments as Linux does, 64240: IRS+1+64240 is the
    // right edge.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_sack());
    let irs = t.peer_isn;
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 1).len(10);
    // MUST-39: a 10-byte advance does not move the right edge.
    t.expect(ACK).ack(irs + 11).win(64230);
    // Entirely beyond the advertised edge: unacceptable, so it is not queued and no SACK
    // block reports it, though the buffer has room for it.
    t.inject(ACK).seq(irs + 1 + 64240).ack(iss + 1).len(100);
    t.expect(ACK).ack(irs + 11).win(64230).sack(&[]);
}

#[test]
fn shld_31_reassembly() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // Three segments arrive in the order 3, 2, 1.
    t.inject(ACK).seq(irs + 11).ack(iss + 1).payload(b"cccc");
    t.expect(ACK).ack(irs + 1);
    t.inject(ACK).seq(irs + 6).ack(iss + 1).payload(b"bbbbb");
    t.expect(ACK).ack(irs + 1);
    assert_eq!(t.recv(100), Err(Error::WouldBlock));
    t.inject(ACK).seq(irs + 1).ack(iss + 1).payload(b"aaaaa");
    t.expect(ACK).ack(irs + 15);
    assert_eq!(t.read_all(), b"aaaaabbbbbcccc");
}

#[test]
fn shld_31_fin_above_a_hole_waits_for_the_hole() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(FIN | ACK)
        .seq(irs + 6)
        .ack(iss + 1)
        .payload(b"world");
    t.expect(ACK).ack(irs + 1);
    t.assert_state(State::Established);
    t.inject(ACK).seq(irs + 1).ack(iss + 1).payload(b"hello");
    t.expect(ACK).ack(irs + 12);
    t.assert_state(State::CloseWait);
    assert_eq!(t.read_all(), b"helloworld");
    assert_eq!(t.recv(10).unwrap(), b"");
}

#[test]
fn ack_1_out_of_order_acked_at_once() {
    let mut t = no_quick_acks();
    let iss = t.iss;
    let irs = t.peer_isn;
    // In order and small: the ACK waits (delayed ACK).
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(100);
    t.expect_nothing();
    // Above a hole: a duplicate ACK at once.
    t.inject(ACK).seq(irs + 201).ack(iss + 1).len(100);
    t.expect(ACK).ack(irs + 101).at(ms(0));
    // Filling the hole: an ACK at once.
    t.inject(ACK).seq(irs + 101).ack(iss + 1).len(100).at(ms(1));
    t.expect(ACK).ack(irs + 301).at(ms(1));
    t.advance(dms(100));
    t.expect_nothing();
}

#[test]
fn must_58_acks_aggregated() {
    let mut t = no_quick_acks();
    let iss = t.iss;
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(100).at(ms(1));
    t.inject(ACK).seq(irs + 101).ack(iss + 1).len(100).at(ms(5));
    t.inject(ACK)
        .seq(irs + 201)
        .ack(iss + 1)
        .len(100)
        .at(ms(10));
    t.expect_nothing();
    // One ACK for all three, when the delayed-ACK timer of the first runs out.
    t.advance(dms(100));
    t.expect(ACK).ack(irs + 301).at(ms(41));
    t.expect_nothing();
}

#[test]
fn must_59_burst_processed_before_acking() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    // An rx burst: two out-of-order segments and the one filling the hole.
    t.inject(ACK).seq(irs + 201).ack(iss + 1).len(100).hold();
    t.inject(ACK).seq(irs + 101).ack(iss + 1).len(100).hold();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(100).hold();
    t.deliver_held();
    t.expect(ACK).ack(irs + 301);
    t.expect_nothing();
}

#[test]
fn ep_16_syn_received_ack_enters_established_with_window() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).win(1111);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(2222);
    t.accept().unwrap();
    t.assert_state(State::Established);
    // SND.WND = SEG.WND, WL1 = SEG.SEQ, WL2 = SEG.ACK.
    assert_eq!(t.status().snd_wnd, 2222);
}

#[test]
fn ep_16_segment_without_ack_dropped() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(b"abc").unwrap();
    t.expect(PSH | ACK).seq(iss + 1);
    t.inject(PSH).seq(irs + 1).payload(b"ignored");
    t.inject(FIN).seq(irs + 1);
    t.expect_nothing();
    t.assert_state(State::Established);
    assert_eq!(t.recv(100), Err(Error::WouldBlock));
}

#[test]
fn ep_17_new_ack_advances_snd_una_duplicate_ignored() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    t.send(b"aaaa").unwrap();
    t.send(b"bbbb").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"aaaa");
    t.expect(PSH | ACK).seq(iss + 5).payload(b"bbbb");
    assert_eq!(t.status().send_queued, 8);
    // A new ACK frees the acknowledged bytes.
    t.inject(ACK).seq(irs + 1).ack(iss + 5).at(ms(50));
    assert_eq!(t.status().snd_una, (iss + 5).0);
    assert_eq!(t.status().send_queued, 4);
    // An old duplicate changes nothing.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).at(ms(60));
    assert_eq!(t.status().snd_una, (iss + 5).0);
    t.expect_nothing();
    // Only the unacknowledged segment is retransmitted, one RTO after the new ACK restarted
    // the timer (samples 0 and 50 ms: SRTT 6.25 ms, RTO 206.25 ms).
    t.run_until(ms(300));
    t.expect(PSH | ACK)
        .seq(iss + 5)
        .payload(b"bbbb")
        .at(us(256_250));
    // An ACK of everything stops the timer.
    t.inject(ACK).seq(irs + 1).ack(iss + 9).at(ms(300));
    assert_eq!(t.status().send_queued, 0);
    t.advance(dsecs(60));
    t.expect_nothing();
}

#[test]
fn ep_18_stale_window_update_ignored() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&[1u8; 100]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).len(100);
    t.inject(ACK).seq(irs + 1).ack(iss + 101).win(8000);
    assert_eq!(t.status().snd_wnd, 8000);
    // Reordered: an older ACK (same SEG.SEQ, smaller SEG.ACK) must not move the window.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(100);
    assert_eq!(t.status().snd_wnd, 8000);
    // Newer segments (larger SEG.SEQ) do.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 101)
        .win(100)
        .payload(b"x");
    t.expect(ACK).ack(irs + 2);
    assert_eq!(t.status().snd_wnd, 100);
}

#[test]
fn ep_21_text_accepted_and_window_sized_to_free_buffer() {
    let mut t = small_window(4000);
    let iss = t.iss;
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(1000);
    t.expect(ACK).ack(irs + 1001).win(3000);
    t.inject(ACK).seq(irs + 1001).ack(iss + 1).len(1000);
    t.expect(ACK).ack(irs + 2001).win(2000);
    // The right edge (ACK + window) never moves left.
    t.inject(ACK).seq(irs + 2001).ack(iss + 1).len(1500);
    t.expect(ACK).ack(irs + 3501).win(500);
    assert_eq!(t.status().recv_queued, 3500);
    // After the peer's FIN, more text is ignored (as Linux does, without an ACK).
    t.inject(FIN | ACK).seq(irs + 3501).ack(iss + 1);
    t.expect(ACK).ack(irs + 3502);
    t.inject(ACK).seq(irs + 3502).ack(iss + 1).len(10);
    t.expect_nothing();
    assert_eq!(t.read_all().len(), 3500);
    assert_eq!(t.recv(10).unwrap(), b"");
}

#[test]
fn must_66_zero_window_still_processes_ack_and_rst() {
    let mut t = small_window(1000);
    let iss = t.iss;
    let irs = t.peer_isn;
    t.send(b"abc").unwrap();
    t.expect(PSH | ACK).seq(iss + 1).payload(b"abc");
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(1000);
    t.expect(ACK).ack(irs + 1001).win(0);
    // At RCV.NXT with text, zero window: the ACK field is used, the text is not.
    t.inject(ACK).seq(irs + 1001).ack(iss + 4).len(50);
    t.expect(ACK).seq(iss + 4).ack(irs + 1001).win(0);
    assert_eq!(t.status().snd_una, (iss + 4).0);
    assert_eq!(t.status().recv_queued, 1000);
    // And a RST at RCV.NXT still resets.
    t.inject(RST).seq(irs + 1001);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
}

#[test]
fn wm_1_zero_window_still_acks() {
    let mut t = small_window(1000);
    let iss = t.iss;
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(1000);
    t.expect(ACK).ack(irs + 1001).win(0);
    // Every arriving segment, probes included, gets RCV.NXT and window 0.
    for i in 0..3u64 {
        t.inject(ACK)
            .seq(irs + 1001)
            .ack(iss + 1)
            .len(1)
            .at(secs(i + 1));
        t.expect(ACK)
            .seq(iss + 1)
            .ack(irs + 1001)
            .win(0)
            .at(secs(i + 1));
    }
    // A Linux-style probe (SEG.SEQ = RCV.NXT - 1, no data) too.
    t.inject(ACK).seq(irs + 1000).ack(iss + 1).at(secs(5));
    t.expect(ACK).seq(iss + 1).ack(irs + 1001).win(0);
}

#[test]
fn must_39_receiver_sws_avoidance() {
    let mut t = small_window(4000);
    let iss = t.iss;
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(4000);
    t.expect(ACK).ack(irs + 4001).win(0);
    // Reading a little does not open a silly window ...
    assert_eq!(t.recv(100).unwrap().len(), 100);
    t.expect_nothing();
    assert_eq!(t.recv(1000).unwrap().len(), 1000);
    t.expect_nothing();
    // ... until min(RCV.BUFF/2, MSS) = 1460 bytes can be offered at once.
    assert_eq!(t.recv(400).unwrap().len(), 400);
    t.expect(ACK).seq(iss + 1).ack(irs + 4001).win(1500);
}

#[test]
fn must_1_window_field_unsigned() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1460).win(0xFFFF);
    let iss = t.expect(SYN | ACK).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(0x8001);
    t.accept().unwrap();
    assert_eq!(t.status().snd_wnd, 0x8001);
    // A window with the top bit set lets data flow.
    t.send(&[0u8; 100]).unwrap();
    t.expect(PSH | ACK).len(100);
}

#[test]
fn must_3_bad_checksum_dropped_silently() {
    let mut t = Tcp::v4();
    t.listen();
    t.inject(SYN).seq(1u32).mss(1460).bad_checksum();
    t.inject(ACK).seq(1u32).ack(1u32).dst_port(9).bad_checksum();
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(t.counters().parse_dropped(wire::ParseError::TcpChecksum), 2);
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"x")
        .bad_checksum();
    t.inject(RST).seq(irs + 1).bad_checksum();
    t.expect_nothing();
    t.assert_state(State::Established);
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
}

#[test]
fn must_2_every_segment_sent_has_a_correct_checksum() {
    // The harness parses everything the stack sends with wire::parse, which verifies the
    // checksum; here we also recompute it independently over a whole conversation.
    for v6 in [false, true] {
        let mut t = if v6 { Tcp::v6() } else { Tcp::v4() };
        let iss = t.establish_passive_with(SynOpts::linux());
        let irs = t.peer_isn;
        t.send(&[0xABu8; 3001]).unwrap();
        t.inject(ACK).seq(irs + 1).ack(iss + 3002).payload(b"odd");
        t.shutdown().unwrap();
        t.advance(dsecs(5));
        assert!(t.log.len() >= 5);
    }
    let mut t = Tcp::v4();
    t.inject(ACK).seq(1u32).ack(2u32);
    t.expect(RST);
}

#[test]
fn ep_5_partial_ack_frees_only_what_it_covers() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.send(&[9u8; 1460]).unwrap();
    t.expect(PSH | ACK).seq(iss + 1).len(1460);
    // SND.UNA < SEG.ACK =< SND.NXT: acceptable, even in the middle of a segment.
    t.inject(ACK).seq(irs + 1).ack(iss + 1001).at(ms(10));
    assert_eq!(t.status().snd_una, (iss + 1001).0);
    assert_eq!(t.status().send_queued, 460);
    // What is retransmitted starts at the new SND.UNA.
    let rtx = t.run_until_sent(secs(5));
    assert_eq!((rtx.seq(), rtx.payload.len()), (iss + 1001, 460), "{rtx}");
}

/// Feed odd-sized segments and odd-sized reads; check that the edge we keep (RCV.NXT +
/// RCV.WND: what is accepted) never decreases, and that ACK + (window << shift) never
/// decreases by 2^shift or more: the field rounds up while the buffer holds the rounded-up
/// edge, else down, by less than one unit (RFC 7323 §2.4; see `Tcb::segment_inline`).
fn right_edge_never_retracts(t: &mut Tcp, shift: u32) {
    let iss = t.iss;
    let irs = t.peer_isn;
    let mut seq = irs + 1;
    let mut last: Option<Seg> = None;
    let mut promised = SeqNum(t.status().rcv_nxt) + t.status().rcv_wnd;
    for i in 0..60u32 {
        let len = 700 + (i * 37) % 761;
        t.inject(ACK).seq(seq).ack(iss + 1).len(len as usize);
        seq += len;
        if i % 7 == 3 {
            t.recv(1 + (i as usize * 101) % 3000).unwrap();
        }
        let st = t.status();
        let kept = SeqNum(st.rcv_nxt) + st.rcv_wnd;
        assert!(kept.ge(promised), "the edge kept moved left");
        promised = kept;
        for s in t.take_sent() {
            let right = s.ack() + ((s.win() as u32) << shift);
            if let Some(p) = &last {
                let before = p.ack() + ((p.win() as u32) << shift);
                let slack = (1u32 << shift) - 1;
                assert!(
                    (right + slack).ge(before),
                    "right edge moved left:\n  {p}\n  {s}"
                );
            }
            last = Some(s);
        }
    }
}

#[test]
fn shld_14_receiver_never_moves_the_right_edge_left() {
    let mut cfg = Tcp::config();
    cfg.recv_buffer = 20_000;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive();
    right_edge_never_retracts(&mut t, 0);
}

#[test]
fn ws_6_rounding_never_retracts_the_right_edge() {
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::mss(1460).with_wscale(7));
    // Our shift is 7 (chosen from the 6 MiB autotuning maximum, LX-11).
    right_edge_never_retracts(&mut t, 7);
}
