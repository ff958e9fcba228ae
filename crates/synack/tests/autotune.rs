//! Buffer autotuning and the application's buffer sizes (checklist LX-11, with WS-3, WS-6,
//! SHLD-14 and LX-19): segment-exact tests on the virtual clock. The long-fat-path goodput
//! tests are in the simulator's tests (synack-sim/tests/autotune.rs).
mod harness;
use harness::*;

/// A peer sending like a sender in slow start: `rounds` round trips of `rtt` ms, each
/// twice the segments of the one before (from 10), 1448-byte segments echoing our latest
/// timestamp, the application reading everything as it arrives. Returns the receive
/// buffer after each round.
fn slow_start_rounds(t: &mut Tcp, rounds: u32, rtt: u64) -> Vec<usize> {
    let iss = t.iss;
    let mut seq = t.peer_isn + 1;
    let mut sizes = Vec::new();
    for r in 0..rounds {
        let at = ms(100 + rtt * u64::from(r));
        // A real sender echoes the last of our ACKs it has *received*: those of the round
        // before, sent one RTT ago (RFC 7323 §4.3).
        let tsecr = t.last_stack_tsval;
        for _ in 0..(10u32 << r) {
            let tsval = t.peer_tsval();
            t.inject(ACK)
                .seq(seq)
                .ack(iss + 1)
                .len(1448)
                .ts(tsval, tsecr)
                .at(at);
            seq += 1448;
            t.read_all();
        }
        sizes.push(t.status().recv_buffer);
    }
    sizes
}

#[test]
fn lx_11_syn_and_synack_offer_wscale_7_by_default() {
    // Our SYN: the shift covers tcp_rmem[2] (6 MiB), as Linux's `wscale:7` in `ss -i`.
    let mut t = Tcp::v4();
    t.connect();
    // The window: 65535 rounded down to 44 segments of 1460, as a Linux SYN says (LX-19).
    t.expect(SYN).wscale(Some(7)).win(64240);
    // Our SYN,ACK to a Linux SYN.
    let mut t = Tcp::v4();
    t.listen();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::linux());
    t.expect(SYN | ACK).wscale(Some(7));
    // Autotuning off: the shift covers the fixed buffer only (128 KiB: 2).
    let mut cfg = Tcp::config();
    cfg.moderate_rcvbuf = false;
    let mut t = Tcp::with_config(cfg);
    t.connect();
    t.expect(SYN).wscale(Some(2));
}

#[test]
fn lx_11_receive_buffer_follows_the_reader_per_rtt() {
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::linux());
    assert_eq!(t.status().recv_buffer, 128 * 1024);
    let sizes = slow_start_rounds(&mut t, 6, 50);
    // Nothing before more than an initial window has been read in a round trip; then it
    // grows round after round, as the sender's window doubles.
    assert_eq!(sizes[0], 128 * 1024, "{sizes:?}");
    assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "{sizes:?}");
    assert!(sizes[5] > 4 * 128 * 1024, "{sizes:?}");
    assert!(sizes[5] <= 6 << 20, "{sizes:?}");
    // The receiver's RTT, from the echo of our timestamps: the 50 ms between rounds.
    let rtt = t.status().rcv_rtt.expect("an estimate");
    assert!(
        rtt >= Duration::from_millis(40) && rtt <= Duration::from_millis(60),
        "{rtt:?}"
    );
    // The window advertised followed the buffer (field << 7).
    let last = t.log.last().unwrap().clone();
    assert!(u32::from(last.win()) << 7 > 4 * 128 * 1024, "{last}");
}

#[test]
fn lx_11_no_autotuning_when_switched_off_or_pinned() {
    let mut cfg = Tcp::config();
    cfg.moderate_rcvbuf = false;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive_with(SynOpts::linux());
    let sizes = slow_start_rounds(&mut t, 6, 50);
    assert!(sizes.iter().all(|&s| s == 128 * 1024), "{sizes:?}");

    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::linux());
    assert_eq!(t.stack.set_recv_buffer(t.c(), 200_000), Ok(200_000));
    let sizes = slow_start_rounds(&mut t, 6, 50);
    assert!(sizes.iter().all(|&s| s == 200_000), "{sizes:?}");
    let st = t.status();
    assert!(st.recv_buffer_pinned && !st.send_buffer_pinned);
}

#[test]
fn lx_11_recv_buffer_max_caps_growth() {
    let mut cfg = Tcp::config();
    cfg.recv_buffer_max = 300_000;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive_with(SynOpts::linux());
    let sizes = slow_start_rounds(&mut t, 6, 50);
    assert_eq!(*sizes.last().unwrap(), 300_000, "{sizes:?}");
    assert!(sizes.iter().all(|&s| s <= 300_000), "{sizes:?}");
}

#[test]
fn lx_11_no_growth_without_window_scaling() {
    // The peer did not offer window scaling: our window can never say more than 65535, so
    // the buffer is not grown past what it can advertise (Linux: the window clamp).
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts {
        wscale: None,
        ..SynOpts::linux()
    });
    let sizes = slow_start_rounds(&mut t, 6, 50);
    assert!(sizes.iter().all(|&s| s == 128 * 1024), "{sizes:?}");
}

#[test]
fn lx_11_set_recv_buffer_before_the_syn_chooses_the_window_scale() {
    // SO_RCVBUF before connect (here: before the SYN is transmitted): the shift covers the
    // pinned size, as Linux's window clamp makes it.
    let mut t = Tcp::v4();
    t.local = std::net::SocketAddr::new(t.local.ip(), CLIENT_PORT);
    t.remote = std::net::SocketAddr::new(t.remote.ip(), SERVER_PORT);
    let c = t
        .stack
        .connect(t.now, Some(t.local), t.remote)
        .expect("connect");
    t.conn = Some(c);
    assert_eq!(t.stack.set_recv_buffer(c, 32 * 1024), Ok(32 * 1024));
    t.flush();
    t.expect(SYN).wscale(Some(0)).win(32 * 1024);
    // 1 MiB: shift 5.
    let mut t = Tcp::v4();
    let c = t
        .stack
        .connect(t.now, None, "198.18.0.2:80".parse().unwrap())
        .unwrap();
    t.stack.set_recv_buffer(c, 1 << 20).unwrap();
    let mut buf = [0u8; 1500];
    let n = t.stack.poll_transmit(t.now, &mut buf).unwrap();
    let p = synack::wire::parse(&buf[..n]).unwrap();
    assert_eq!(p.tcp.options.window_scale, Some(5));
}

#[test]
fn lx_11_buffer_setters_refuse_misuse() {
    let mut t = Tcp::v4();
    t.establish_passive();
    let c = t.c();
    assert_eq!(t.stack.set_recv_buffer(c, 0), Err(Error::InvalidArgument));
    assert_eq!(t.stack.set_send_buffer(c, 0), Err(Error::InvalidArgument));
    assert_eq!(
        t.stack.set_recv_buffer(c, (1 << 30) + 1),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        t.stack.set_send_buffer(c, (1 << 30) + 1),
        Err(Error::InvalidArgument)
    );
    // Nothing changed.
    let st = t.status();
    assert!(!st.recv_buffer_pinned && !st.send_buffer_pinned);
    // A handle that names nothing.
    t.stack.abort(t.now, c).unwrap();
    t.flush();
    assert_eq!(t.stack.set_recv_buffer(c, 4096), Err(Error::InvalidHandle));
    assert_eq!(t.stack.set_send_buffer(c, 4096), Err(Error::InvalidHandle));
}

#[test]
fn lx_11_shrinking_the_receive_buffer_never_retracts_the_right_edge() {
    // SHLD-14 / WS-6: a smaller SO_RCVBUF takes effect as the application reads; the edge
    // already promised (RCV.NXT + RCV.WND, what is accepted) stays where it is. The window
    // *field* may fall short of it by less than one unit of the shift (128 bytes) once the
    // buffer is exactly full of promise, since rounding up would promise bytes it cannot
    // hold (RFC 7323 §2.4 has the sender tolerate that).
    let promise = |t: &Tcp| {
        let st = t.status();
        synack::SeqNum(st.rcv_nxt) + st.rcv_wnd
    };
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::mss(1460).with_wscale(7));
    let irs = t.peer_isn;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).len(20_000);
    let before = t.take_sent();
    let edge_of = |s: &Seg| s.ack() + (u32::from(s.win()) << 7);
    let mut edge = before.iter().map(edge_of).next_back().unwrap();
    // 20,000 bytes held, about 111,000 more promised: the buffer keeps all of it for now.
    let now = t.stack.set_recv_buffer(t.c(), 4096).unwrap();
    assert!(now >= 20_000 + t.status().rcv_wnd as usize, "{now}");
    // More data inside the old window is still taken whole ...
    t.inject(ACK).seq(irs + 20_001).ack(iss + 1).len(60_000);
    t.expect(ACK).ack(irs + 80_001);
    assert_eq!(t.status().recv_queued, 80_000);
    // ... and as the application reads, the buffer drops to what is still promised (the
    // old edge stays where it was: the window closes as data arrives, without reopening)
    // and then to the pin; the edge never moves left.
    let mut seq = irs + 80_001;
    let mut promised = promise(&t);
    let mut check = |t: &mut Tcp| {
        let p = promise(t);
        assert!(p.ge(promised), "the promise moved left");
        promised = p;
        for s in t.take_sent() {
            assert!((edge_of(&s) + 127).ge(edge), "edge moved left: {s}");
            if edge_of(&s).gt(edge) {
                edge = edge_of(&s);
            }
        }
        edge
    };
    t.read_all();
    check(&mut t);
    let st = t.status();
    assert_eq!(st.recv_buffer, st.rcv_wnd as usize, "{st:?}");
    assert!(st.recv_buffer < 60_000, "{st:?}");
    // The peer fills the old promise, the application reads it ...
    let mut guard = 0;
    while t.status().recv_buffer > 4096 {
        guard += 1;
        assert!(guard < 100, "{:?}", t.status());
        let len = (t.status().rcv_wnd as usize).min(1460);
        t.inject(ACK).seq(seq).ack(iss + 1).len(len);
        seq += len as u32;
        t.read_all();
        check(&mut t);
    }
    // ... and from then on the pinned 4096 bytes are all the window there is.
    t.flush();
    let edge_now = check(&mut t);
    let st = t.status();
    assert_eq!(st.recv_buffer, 4096, "{st:?}");
    assert!(
        edge_now - seq <= 4096,
        "window {} past RCV.NXT",
        edge_now - seq
    );
    t.inject(ACK).seq(seq).ack(iss + 1).len(1000);
    t.inject(ACK).seq(seq + 1000).ack(iss + 1).len(1000);
    t.read_all();
    check(&mut t);
    assert!(t.status().rcv_wnd <= 4096);
}

#[test]
fn lx_11_send_buffer_grows_with_cwnd_and_set_send_buffer_pins_it() {
    // The send buffer follows 2·cwnd as ACKs open the congestion window.
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    assert_eq!(t.status().send_buffer, 128 * 1024);
    // Rounds of 100 ms: the application keeps the buffer full, the peer ACKs every
    // segment of the round (slow start: cwnd grows by one MSS per ACK).
    for round in 0..8u64 {
        let _ = t.send(&vec![1u8; 1 << 20]);
        t.run_until(ms(100 + 100 * round));
        let sent: Vec<_> = t.take_sent().iter().map(|s| s.end()).collect();
        for end in sent {
            t.inject(ACK)
                .seq(irs + 1)
                .ack(end)
                .win(0xFFFF)
                .at(ms(150 + 100 * round));
        }
    }
    let st = t.status();
    assert!(st.send_buffer > 128 * 1024, "{st:?}");
    assert!(st.send_buffer <= 4 << 20, "{st:?}");
    assert!(
        st.send_buffer as u64 >= 2 * u64::from(st.cwnd).min(2 << 20),
        "{st:?}"
    );
    // Pinned: the queued bytes stay, and the buffer drops to the pin as they are
    // acknowledged; then the application may queue no more than the pin.
    let c = t.c();
    let queued = st.send_queued;
    let now = t.stack.set_send_buffer(c, 10_000).unwrap();
    assert_eq!(now, queued.max(10_000));
    assert!(t.status().send_buffer_pinned);
    let mut n = 0;
    while t.status().send_queued > 0 && n < 400 {
        n += 1;
        t.run_until(ms(1000 + 10 * n));
        let sent: Vec<_> = t.take_sent().iter().map(|s| s.end()).collect();
        for end in sent {
            t.inject(ACK)
                .seq(irs + 1)
                .ack(end)
                .win(0xFFFF)
                .at(ms(1005 + 10 * n));
        }
        // Shrinks as acknowledged, never below what is queued.
        let st = t.status();
        assert!(st.send_buffer >= st.send_queued.max(10_000), "{st:?}");
    }
    assert_eq!(t.status().send_queued, 0);
    assert_eq!(t.status().send_buffer, 10_000);
    assert_eq!(t.send(&[2u8; 20_000]), Ok(10_000));
}

#[test]
fn lx_11_set_send_buffer_larger_wakes_a_refused_writer() {
    let mut cfg = Tcp::config();
    cfg.send_buffer = 1000;
    cfg.send_buffer_max = 1000;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive();
    let c = t.c();
    assert_eq!(t.send(&[0u8; 1500]), Ok(1000));
    assert_eq!(t.send(b"x"), Err(Error::WouldBlock));
    t.new_events();
    assert_eq!(t.stack.set_send_buffer(c, 4000), Ok(4000));
    t.flush();
    assert!(t.new_events().contains(&Event::Writable { conn: c }));
    assert_eq!(t.send(&[0u8; 5000]), Ok(3000));
}

/// A reset flushes the receive queue (RST-5) and with it what the autotuning measure
/// counted: reading afterwards reports the reset and measures nothing (the property tests
/// once found the measure's stream offsets running backwards here, a subtraction overflow).
#[test]
fn lx_11_a_reset_forgets_the_measure_with_the_queue() {
    let mut t = Tcp::v4();
    t.establish_passive_with(SynOpts::linux());
    slow_start_rounds(&mut t, 3, 50);
    // Data the application has not read yet, then a RST from the peer.
    let seq = t.peer_nxt;
    t.inject(ACK).seq(seq).payload(&[7u8; 1000]);
    t.inject(RST).seq(seq + 1000);
    // A read one receiver RTT later is when the measure would compare its byte counts
    // (Linux's recvmsg path); the flushed queue's counts start again from zero, so a
    // measure kept across the reset would run backwards. Reads stay an error, not a panic.
    t.advance(Duration::from_secs(1));
    assert_eq!(t.recv(4096), Err(Error::Closed(CloseReason::Reset)));
    assert_eq!(
        t.status().recv_buffer,
        128 * 1024,
        "the buffer is new, untuned"
    );
}
