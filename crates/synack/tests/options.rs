//! TCP options (checklist 1.2, 1.8 MSS/PUSH, section 4 WS/TS/PAWS/RTTM, SK-1/3, LX-19/20).
mod harness;
use harness::*;

/// Walk emitted option bytes: every option but NOP and EOL has a length byte that is right,
/// EOL never appears (the layout needs no padding), the total is a multiple of 4.
fn check_emitted_options(raw: &[u8]) {
    assert_eq!(raw.len() % 4, 0, "{raw:?}");
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            0 => panic!("EOL in emitted options {raw:?}"),
            1 => i += 1,
            kind => {
                let len = raw[i + 1] as usize;
                let want = match kind {
                    2 => 4,
                    3 => 3,
                    4 => 2,
                    8 => 10,
                    5 => len,
                    k => panic!("unexpected option kind {k} in {raw:?}"),
                };
                assert_eq!(len, want, "length of kind {kind} in {raw:?}");
                assert!(len >= 2 && i + len <= raw.len(), "{raw:?}");
                i += len;
            }
        }
    }
}

fn be32(x: u32) -> [u8; 4] {
    x.to_be_bytes()
}

#[test]
fn must_14_mss_sent_and_received() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).mss(1000);
    // We advertise ours (MUST-67: MTU 1500 - 40) ...
    let iss = t.expect(SYN | ACK).mss(Some(1460)).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.accept().unwrap();
    t.stack.set_nodelay(t.c(), true).unwrap();
    // ... and send no more than theirs.
    t.send(&[0u8; 2500]).unwrap();
    t.expect(ACK).seq(iss + 1).len(1000);
    t.expect(ACK).seq(iss + 1001).len(1000);
    t.expect(PSH | ACK).seq(iss + 2001).len(500);
    assert_eq!(t.status().mss, 1000);
}

#[test]
fn must_15_default_mss_536() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::NONE);
    t.send(&[0u8; 2000]).unwrap();
    t.expect(ACK).seq(iss + 1).len(536);
    t.expect(ACK).seq(iss + 537).len(536);
    assert_eq!(t.status().mss, 536);
    // IPv6: 1220.
    let mut t = Tcp::v6();
    let iss = t.establish_passive_with(SynOpts::NONE);
    t.send(&[0u8; 2000]).unwrap();
    t.expect(ACK).seq(iss + 1).len(1220);
    assert_eq!(t.status().mss, 1220);
}

#[test]
fn must_16_eff_mss_subtracts_timestamp_option() {
    // Timestamps take 12 bytes of every segment: 1460 - 12 = 1448, as Linux sends.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    t.send(&[0u8; 3000]).unwrap();
    t.expect(ACK).seq(iss + 1).len(1448);
    t.expect(ACK).seq(iss + 1449).len(1448);
    assert_eq!(t.status().mss, 1448);
}

#[test]
fn must_67_advertised_mss_from_mtu() {
    let mut t = Tcp::v4();
    t.connect();
    t.expect(SYN).mss(Some(1460));
    let mut t = Tcp::v6();
    t.connect();
    t.expect(SYN).mss(Some(1440));
    let mut cfg = Tcp::config();
    cfg.mtu = 9000;
    let mut t = Tcp::with_config(cfg);
    t.connect();
    t.expect(SYN).mss(Some(8960));
}

#[test]
fn must_65_mss_only_on_syn() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.send(&[1u8; 5000]).unwrap();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"hello");
    t.inject(ACK).seq(irs + 100).ack(iss + 1).payload(b"ooo");
    t.shutdown().unwrap();
    t.advance(dsecs(3));
    assert!(t.log.len() > 6);
    for s in &t.log {
        let has_mss = s.raw_options.windows(2).any(|w| w == [2, 4]) && s.opts().mss.is_some();
        assert_eq!(has_mss, s.flags().syn(), "{s}");
    }
}

#[test]
fn must_68_must_69_emitted_options_well_formed() {
    for opts in [
        SynOpts::linux(),
        SynOpts::mss(1460),
        SynOpts::mss(1460).with_sack(),
        SynOpts::mss(1460).with_wscale(3),
        SynOpts::mss(1460).with_ts(),
        SynOpts::NONE,
    ] {
        let mut t = Tcp::v4();
        let iss = t.establish_passive_with(opts);
        let irs = t.peer_isn;
        t.send(&[1u8; 3000]).unwrap();
        t.inject(ACK).seq(irs + 100).ack(iss + 1).payload(b"ooo");
        t.inject(ACK).seq(irs + 200).ack(iss + 1).payload(b"ooo");
        t.shutdown().unwrap();
        t.advance(dsecs(2));
        for s in &t.log {
            check_emitted_options(&s.raw_options);
        }
    }
}

#[test]
fn must_5_options_parsed_on_any_segment() {
    // Timestamps on data segments are read (their TSval is echoed).
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"x")
        .ts(0x0ABC_DEF0, 0)
        .at(ms(5));
    t.expect(ACK).ack(irs + 2).tsecr(0x0ABC_DEF0);
}

#[test]
fn must_6_unknown_option_skipped() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    // kind 30 (unknown, length 6), then MSS 1000.
    t.inject(SYN)
        .seq(irs)
        .raw_options(&[30, 6, 1, 2, 3, 4, 2, 4, 0x03, 0xE8]);
    let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1)
        .raw_options(&[254, 4, 0xAB, 0xCD]);
    t.accept().unwrap();
    t.assert_state(State::Established);
    assert_eq!(t.status().mss, 1000);
    // On data too.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"data")
        .raw_options(&[1, 77, 3, 0]);
    t.expect(ACK).ack(irs + 5);
    assert_eq!(t.recv(10).unwrap(), b"data");
}

#[test]
fn must_7_illegal_option_length_survived() {
    let mut t = Tcp::v4();
    t.listen();
    for raw in [
        &[2u8, 0, 5, 180][..], // length 0
        &[2, 1, 5, 180],       // length 1
        &[8, 40, 0, 0],        // past the header
        &[1, 1, 1, 2],         // kind with no room for its length byte
    ] {
        t.inject(SYN).seq(1u32).raw_options(raw);
    }
    t.expect_nothing();
    assert_eq!(t.stack.connection_count(), 0);
    assert_eq!(
        t.counters()
            .parse_dropped(wire::ParseError::TcpOptionLength),
        4
    );
    // On an established connection the bad segment is dropped and the connection lives.
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"bad")
        .raw_options(&[5, 0, 0, 0]);
    t.expect_nothing();
    t.assert_state(State::Established);
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"good");
    t.expect(ACK).ack(irs + 5);
}

#[test]
fn must_64_options_at_any_offset() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    // NOP, MSS 1000 (at offset 1), NOP, WS 5 (at offset 6), SACK-permitted.
    t.inject(SYN)
        .seq(irs)
        .raw_options(&[1, 2, 4, 0x03, 0xE8, 1, 3, 3, 5, 4, 2]);
    let iss = t
        .expect(SYN | ACK)
        .ack(irs + 1)
        .wscale(Some(7)) // covers Config::recv_buffer_max, 6 MiB (LX-11, LX-19)
        .sack_ok(true)
        .seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(10);
    t.accept().unwrap();
    assert_eq!(t.status().mss, 1000);
    assert_eq!(t.status().snd_wnd, 10 << 5);
}

#[test]
fn must_69_eol_ends_the_option_list() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    // MSS 1000, EOL, then what would be a window scale: ignored.
    t.inject(SYN)
        .seq(irs)
        .raw_options(&[2, 4, 0x03, 0xE8, 0, 3, 3, 5]);
    let iss = t.expect(SYN | ACK).wscale(None).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.accept().unwrap();
    assert_eq!(t.status().mss, 1000);
    // EOL first: nothing after it counts, not even the MSS.
    let mut t = Tcp::v4();
    t.listen();
    t.inject(SYN).seq(irs).raw_options(&[0, 2, 4, 0x03, 0xE8]);
    let iss = t.expect(SYN | ACK).seq_any();
    t.inject(ACK).seq(irs + 1).ack(iss + 1);
    t.accept().unwrap();
    assert_eq!(t.status().mss, 536);
}

#[test]
fn lx_19_option_layout_on_syn_and_data() {
    // Our SYN: MSS, SACK-permitted, Timestamps, NOP, Window scale 7 (chosen from the 6 MiB
    // receive-buffer maximum, as Linux chooses from tcp_rmem[2]).
    let mut t = Tcp::v4();
    t.connect();
    let syn = t.next_seg();
    let tsval = t.stack_tsval(ms(0));
    let mut want = vec![2, 4, 0x05, 0xB4, 4, 2, 8, 10];
    want.extend(be32(tsval));
    want.extend([0, 0, 0, 0, 1, 3, 3, 7]);
    assert_eq!(syn.raw_options, want, "{syn}");
    // The window as Linux's: the field's 65535 rounded down to 44 segments of 1460.
    assert_eq!(syn.win(), 64240);

    // SYN,ACK to a Linux SYN: the same layout, TSecr echoing the peer.
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::linux());
    let synack = t.next_seg();
    let mut want = vec![2, 4, 0x05, 0xB4, 4, 2, 8, 10];
    want.extend(be32(t.stack_tsval(ms(0))));
    want.extend(be32(PEER_TS_BASE));
    want.extend([1, 3, 3, 7]);
    assert_eq!(synack.raw_options, want, "{synack}");
    // With timestamps the segments expected carry 1448 bytes: 45 of them, as Linux's
    // SYN,ACK offers (tcp_openreq_init_rwin).
    assert_eq!(synack.win(), 65160);
    // Later segments: NOP, NOP, Timestamps; with SACK blocks: NOP, NOP, SACK after them.
    let iss = synack.seq();
    t.peer_ts = true;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(512).at(ms(10));
    t.accept().unwrap();
    t.send(b"data").unwrap();
    let data = t.next_seg();
    let mut want = vec![1, 1, 8, 10];
    want.extend(be32(t.stack_tsval(ms(10))));
    want.extend(be32(PEER_TS_BASE + 10));
    assert_eq!(data.raw_options, want, "{data}");
    t.inject(ACK).seq(irs + 101).ack(iss + 5).len(10).at(ms(20));
    let ack = t.next_seg();
    let mut want = vec![1, 1, 8, 10];
    want.extend(be32(t.stack_tsval(ms(20))));
    want.extend(be32(PEER_TS_BASE + 10));
    want.extend([1, 1, 5, 10]);
    want.extend(be32((irs + 101).0));
    want.extend(be32((irs + 111).0));
    assert_eq!(ack.raw_options, want, "{ack}");

    // SYN,ACK without timestamps: MSS, NOP, NOP, SACK-permitted, NOP, Window scale.
    let mut t = Tcp::v4();
    t.listen();
    t.inject(SYN)
        .seq(irs)
        .opts(SynOpts::mss(1460).with_sack().with_wscale(7));
    t.expect(SYN | ACK)
        .raw_options(&[2, 4, 0x05, 0xB4, 1, 1, 4, 2, 1, 3, 3, 7]);
    // Without SACK either: MSS, NOP, Window scale.
    let mut t = Tcp::v4();
    t.listen();
    t.inject(SYN)
        .seq(irs)
        .opts(SynOpts::mss(1460).with_wscale(7));
    t.expect(SYN | ACK)
        .raw_options(&[2, 4, 0x05, 0xB4, 1, 3, 3, 7]);
    // IPv6: MSS 1440.
    let mut t = Tcp::v6();
    t.listen();
    t.inject(SYN)
        .seq(irs)
        .opts(SynOpts::mss(1440).with_wscale(7));
    t.expect(SYN | ACK)
        .raw_options(&[2, 4, 0x05, 0xA0, 1, 3, 3, 7]);
}

#[test]
fn lx_20_psh_on_last_segment_pure_ack_no_psh() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.stack.set_nodelay(t.c(), true).unwrap();
    // One write of 3000 bytes: PSH only on its last segment (MUST-61).
    t.send(&[1u8; 3000]).unwrap();
    t.expect(ACK).seq(iss + 1).len(1460);
    t.expect(ACK).seq(iss + 1461).len(1460);
    t.expect(PSH | ACK).seq(iss + 2921).len(80);
    // Two small writes: two pushes.
    t.send(b"a").unwrap();
    t.expect(PSH | ACK).seq(iss + 3001).payload(b"a");
    t.send(b"b").unwrap();
    t.expect(PSH | ACK).seq(iss + 3002).payload(b"b");
    // Pure ACKs never carry PSH.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 3003)
        .payload(b"x");
    t.expect(ACK).len(0);
    t.inject(ACK).seq(irs + 1000).ack(iss + 3003).payload(b"y");
    t.expect(ACK).len(0);
}

#[test]
fn ws_1_window_scale_only_on_syn_and_synack_only_if_offered() {
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::mss(1460));
    t.expect(SYN | ACK).wscale(None);
    let mut t = Tcp::v4();
    t.listen();
    t.inject(SYN)
        .seq(irs)
        .opts(SynOpts::mss(1460).with_wscale(0));
    t.expect(SYN | ACK).wscale(Some(7));
    // Never on later segments.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    t.send(b"x").unwrap();
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 2).payload(b"y");
    for s in &t.log[1..] {
        assert_eq!(s.opts().window_scale, None, "{s}");
    }
}

#[test]
fn ws_2_scaling_needs_both_syns() {
    // The peer did not offer WS: neither direction is scaled.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460));
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(1000);
    assert_eq!(t.status().snd_wnd, 1000);
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(100);
    // Unscaled: the SYN,ACK offered 64240 (65535 in whole segments, as Linux), and the
    // edge does not move for the 1,395 bytes the field could still add (MUST-39: less
    // than a segment).
    t.expect(ACK).win(64140);
    // Both offered: the peer's field is shifted by its 7, ours by our 7.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_wscale(7));
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(1000);
    assert_eq!(t.status().snd_wnd, 128_000);
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(1000);
    // WS-5/WS-6: RCV.WND >> 7, rounded up so the right edge never seems to retract:
    // 131,072 - 1,000 less the 127-byte rounding margin is 129,945, announced as 1,016
    // units of 128.
    t.expect(ACK).ack(irs + 1001).win(1016);
    assert_eq!(t.status().rcv_wnd, 1016 << 7); // the edge is what the field announced
}

#[test]
fn ws_3_shift_above_14_treated_as_14() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_wscale(15));
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(3);
    assert_eq!(t.status().snd_wnd, 3 << 14);
}

#[test]
fn ws_3_our_shift_is_the_smallest_covering_the_buffer() {
    // Fixed buffers (no autotuning): the buffer itself.
    for (buffer, shift) in [(65_535usize, 0u8), (65_536, 1), (131_072, 2), (1 << 20, 5)] {
        let mut cfg = Tcp::config();
        cfg.recv_buffer = buffer;
        cfg.moderate_rcvbuf = false;
        let mut t = Tcp::with_config(cfg);
        t.connect();
        // WS-7: sent even when the shift is 0.
        t.expect(SYN).wscale(Some(shift));
    }
    // Autotuning (LX-11): the largest the buffer may grow to.
    for (max, shift) in [
        (65_535usize, 2u8),
        (1 << 20, 5),
        (6 << 20, 7),
        (1 << 30, 14),
    ] {
        let mut cfg = Tcp::config();
        cfg.recv_buffer_max = max;
        let mut t = Tcp::with_config(cfg);
        t.connect();
        // The initial buffer (128 KiB) counts when it is the larger.
        t.expect(SYN).wscale(Some(shift));
    }
}

#[test]
fn ws_4_syn_windows_never_scaled() {
    let mut t = Tcp::v4();
    t.connect();
    // Our SYN's window is the real window (capped at 65535 and, as Linux's, rounded down
    // to whole segments: 64240), not shifted.
    let iss = t.expect(SYN).win(64240).wscale(Some(7)).seq_any();
    let irs = t.peer_isn;
    // Theirs neither: SYN,ACK window 1000 with WS 7 is 1000 bytes ...
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::mss(1460).with_wscale(7))
        .win(1000);
    t.expect(ACK);
    assert_eq!(t.status().snd_wnd, 1000);
    // ... and later windows are shifted.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(1000);
    assert_eq!(t.status().snd_wnd, 128_000);
}

#[test]
fn ts_1_ts_2_timestamps_negotiated_on_syns() {
    // Our SYN carries TSopt with TSecr 0 (TS-5: no ACK).
    let mut t = Tcp::v4();
    t.connect();
    let tsval = t.stack_tsval(ms(0));
    t.expect(SYN).ts(tsval, 0);
    // The SYN,ACK only if the SYN had it; then no timestamps at all.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460));
    let irs = t.peer_isn;
    assert_eq!(t.log[0].opts().timestamps, None);
    t.send(b"x").unwrap();
    t.expect(PSH | ACK).no_ts();
    // A TSopt arriving on a connection without timestamps is ignored (TS-4).
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 2)
        .payload(b"y")
        .ts(1, 2);
    t.expect(ACK).ack(irs + 2).no_ts();
    assert_eq!(t.recv(10).unwrap(), b"y");
}

#[test]
fn ts_3_every_segment_carries_timestamps() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.send(b"data").unwrap();
    t.inject(ACK | PSH).seq(irs + 1).ack(iss + 1).payload(b"in");
    t.shutdown().unwrap();
    t.advance(dsecs(2)); // retransmissions too
    assert!(t.log.len() >= 5);
    for s in &t.log {
        assert!(s.opts().timestamps.is_some(), "{s}");
    }
}

#[test]
fn ts_3_rst_carries_timestamps() {
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::linux());
    t.abort().unwrap();
    let rst = t.next_seg();
    assert!(rst.flags().rst());
    assert!(rst.opts().timestamps.is_some(), "{rst}");
}

#[test]
fn ts_4_segment_without_timestamp_dropped_never_aborts() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"no ts")
        .no_ts();
    t.expect_nothing();
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
    t.assert_state(State::Established);
    assert_eq!(t.counters().dropped(DropReason::MissingTimestamp), 1);
    // A RST without TSopt is still processed.
    t.inject(RST).seq(irs + 1).no_ts();
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
}

#[test]
fn ts_6_ts_recent_echoes_earliest_unacked_and_in_order() {
    let mut cfg = Tcp::config();
    cfg.quick_acks = 0;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    let p = PEER_TS_BASE;
    // Two segments under one delayed ACK: the earliest TSval is echoed.
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1)
        .len(100)
        .ts(p + 10, 0)
        .at(ms(10));
    t.inject(ACK)
        .seq(irs + 101)
        .ack(iss + 1)
        .len(100)
        .ts(p + 20, 0)
        .at(ms(20));
    t.run_until(ms(60));
    t.expect(ACK).ack(irs + 201).tsecr(p + 10).at(ms(50));
    // Out of order: not recorded (SEG.SEQ > Last.ACK.sent); the dup ACK echoes the old one.
    t.inject(ACK)
        .seq(irs + 301)
        .ack(iss + 1)
        .len(100)
        .ts(p + 30, 0)
        .at(ms(70));
    t.expect(ACK).ack(irs + 201).tsecr(p + 10);
    // The segment filling the hole is recorded and echoed.
    t.inject(ACK)
        .seq(irs + 201)
        .ack(iss + 1)
        .len(100)
        .ts(p + 40, 0)
        .at(ms(80));
    t.expect(ACK).ack(irs + 401).tsecr(p + 40);
}

#[test]
fn ts_7_ts_8_tsval_is_our_ms_clock_plus_offset_tsecr_is_ts_recent() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    let offset = t.stack_ts_offset.unwrap();
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"x")
        .ts(PEER_TS_BASE + 777, 0)
        .at(ms(1234));
    t.expect(ACK)
        .ts(offset.wrapping_add(1234), PEER_TS_BASE + 777)
        .at(ms(1234));
    // The offset is per connection: another 4-tuple gets another.
    let c2 = t
        .stack
        .connect(t.now, None, "198.18.0.2:9999".parse().unwrap())
        .unwrap();
    let syn = t.next_seg();
    assert_eq!(t.stack.status(c2).unwrap().state, State::SynSent);
    let other = syn.opts().timestamps.unwrap().tsval.wrapping_sub(1234);
    assert_ne!(other, offset);
}

#[test]
fn paws_1_old_timestamp_dropped_with_ack() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    let recent = PEER_TS_BASE; // TS.Recent from the handshake
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"old")
        .ts(recent - 1, 0)
        .at(ms(5));
    // Unacceptable: an ACK (EP-12) echoing TS.Recent, and the data is not taken.
    let tsval = t.stack_tsval(ms(5));
    t.expect(ACK).seq(iss + 1).ack(irs + 1).ts(tsval, recent);
    assert_eq!(t.recv(10), Err(Error::WouldBlock));
    assert_eq!(t.counters().dropped(DropReason::Paws), 1);
    // Equal to TS.Recent is fine.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"new")
        .ts(recent, 0);
    t.expect(ACK).ack(irs + 4);
    // Wrap-around: a TSval just past 2^32 is newer.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"a")
        .ts(PEER_TS_BASE.wrapping_add(0x7FFF_FFFF), 0);
    t.expect(ACK).ack(irs + 2);
}

#[test]
fn paws_2_ts_recent_stale_after_24_days() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    // 25 idle days later, a TSval below TS.Recent (the peer's clock wrapped, say) is taken.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"hi")
        .ts(5, 0)
        .at(secs(25 * 24 * 3600));
    t.expect(ACK).ack(irs + 3);
    assert_eq!(t.recv(10).unwrap(), b"hi");
}

#[test]
fn paws_2_stale_ts_recent_replaced() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"hi")
        .ts(5, 0)
        .at(secs(25 * 24 * 3600));
    // RFC 7323 §5.5, Linux tcp_replace_ts_recent: the new TSval becomes TS.Recent.
    t.expect(ACK).ack(irs + 3).tsecr(5);
    // And PAWS protects again from there on: an older TSval is rejected.
    t.inject(ACK | PSH)
        .seq(irs + 3)
        .ack(iss + 1)
        .payload(b"old")
        .ts(4, 0);
    t.expect(ACK).ack(irs + 3).tsecr(5);
}

#[test]
fn paws_3_rst_never_rejected_by_paws() {
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.inject(RST).seq(irs + 1).ts(1, 0);
    assert_eq!(t.close_reason(), Some(CloseReason::Reset));
}

#[test]
fn rttm_1_rtt_from_tsecr_even_for_retransmissions() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    assert_eq!(t.status().srtt, Some(dms(0)));
    t.send(b"data").unwrap();
    t.expect(PSH | ACK).at(ms(0));
    t.run_until(ms(250));
    let rtx = t.expect(PSH | ACK).seq(iss + 1).at(ms(200)).seg();
    // The ACK echoes the retransmission's TSval: an unambiguous 50 ms sample.
    let echoed = rtx.opts().timestamps.unwrap().tsval;
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 5)
        .ts(PEER_TS_BASE + 250, echoed);
    // Second sample after the handshake's 0: SRTT = 50 / 8.
    assert_eq!(t.status().srtt, Some(us(6250) - Instant::ZERO));
}

#[test]
fn sk_1_sack_permitted_negotiated() {
    let mut t = Tcp::v4();
    t.connect();
    t.expect(SYN).sack_ok(true);
    let mut t = Tcp::v4();
    t.listen();
    t.inject(SYN).seq(1u32).opts(SynOpts::mss(1460));
    t.expect(SYN | ACK).sack_ok(false);
    // Not agreed: no SACK blocks on out-of-order ACKs.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460));
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 101).ack(iss + 1).len(10);
    t.expect(ACK).ack(irs + 1).sack(&[]);
}

#[test]
fn sk_3_sack_blocks_report_out_of_order_data() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_sack());
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 101).ack(iss + 1).len(100);
    t.expect(ACK).ack(irs + 1).sack(&[(irs + 101, irs + 201)]);
    t.inject(ACK).seq(irs + 301).ack(iss + 1).len(100);
    t.expect(ACK)
        .ack(irs + 1)
        .sack(&[(irs + 301, irs + 401), (irs + 101, irs + 201)]);
    // Filling the first hole: the remaining block only.
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(100);
    t.expect(ACK).ack(irs + 201).sack(&[(irs + 301, irs + 401)]);
    t.inject(ACK).seq(irs + 201).ack(iss + 1).len(100);
    t.expect(ACK).ack(irs + 401).sack(&[]);
}

#[test]
fn rec_1_windows_held_in_32_bits() {
    // The largest window, 65535 << 14 (about 1 GiB), is held exactly.
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_wscale(14));
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).win(65535);
    assert_eq!(t.status().snd_wnd, 65535 << 14);
    t.send(&[0u8; 100]).unwrap();
    t.expect(PSH | ACK).len(100);
}
