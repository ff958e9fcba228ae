//! The in-place (zero-copy) user calls, `Stack::send_with` and `Stack::recv_with`: the same
//! bytes, the same segments (window updates and ACKs included), the same results and the
//! same counters as `send` / `recv` for the same application behaviour; then both mixed
//! with the copying calls over a lossy simulated link, every byte checked.
mod harness;
use harness::*;
use proptest::prelude::*;

/// Which user calls the application uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Copy,
    InPlace,
}

/// What one application read returned, whichever call made it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Read {
    Data(Vec<u8>),
    Eof,
    Err(Error),
}

/// Read up to `max` bytes from connection `c` of `st` with `api`. In place, that is as many
/// `recv_with` calls as it takes (the readable bytes may wrap around the ring).
fn read(st: &mut Stack, now: Instant, c: ConnId, api: Api, max: usize) -> Read {
    match api {
        Api::Copy => {
            let mut buf = vec![0u8; max];
            match st.recv(now, c, &mut buf) {
                Ok(0) if max > 0 => Read::Eof,
                Ok(n) => Read::Data(buf[..n].to_vec()),
                Err(e) => Read::Err(e),
            }
        }
        Api::InPlace => {
            let mut got = Vec::new();
            loop {
                let want = max - got.len();
                let r = st.recv_with(now, c, |s| {
                    let n = want.min(s.len());
                    got.extend_from_slice(&s[..n]);
                    (n, ())
                });
                match r {
                    Ok(Some(())) if got.len() < max => continue,
                    Ok(Some(())) => return Read::Data(got),
                    _ if !got.is_empty() => return Read::Data(got),
                    Ok(None) => return Read::Eof,
                    Err(e) => return Read::Err(e),
                }
            }
        }
    }
}

/// Queue `data` on connection `c` of `st` with `api`: Ok(bytes taken). In place, as many
/// `send_with` calls as it takes to write all of `data` or fill the buffer.
fn write(st: &mut Stack, now: Instant, c: ConnId, api: Api, data: &[u8]) -> Result<usize, Error> {
    match api {
        Api::Copy => st.send(now, c, data),
        Api::InPlace => {
            let mut done = 0;
            while done < data.len() {
                let r = st.send_with(now, c, |s| {
                    let n = s.len().min(data.len() - done);
                    s[..n].copy_from_slice(&data[done..done + n]);
                    (n, n)
                });
                match r {
                    Ok(n) => done += n,
                    Err(_) if done > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(done)
        }
    }
}

fn stream(from: usize, len: usize) -> Vec<u8> {
    (from..from + len)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect()
}

/// A passive connection with a 4000-byte receive buffer receives data, a FIN, and is read
/// in steps: little reads that must not open a silly window, a read of 0, a read that must
/// send a window update at once (MUST-39 amount reached), reads across the ring's end, the
/// buffer drained (and released), end of stream.
fn receive_script(api: Api) -> (Vec<Read>, Tcp) {
    let mut cfg = Tcp::config();
    cfg.recv_buffer = 4000;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let c = t.c();
    let mut reads = Vec::new();
    let mut rd = |t: &mut Tcp, max: usize| {
        let r = read(&mut t.stack, t.now, c, api, max);
        t.flush();
        reads.push(r);
    };
    rd(&mut t, 100); // nothing yet
    for k in 0..4 {
        t.inject(ACK | PSH)
            .seq(irs + 1 + 1000 * k as u32)
            .ack(iss + 1)
            .payload(&stream(1000 * k, 1000));
    }
    rd(&mut t, 100);
    rd(&mut t, 1000);
    rd(&mut t, 0);
    rd(&mut t, 400); // 1500 freed: the window update goes out now
    t.run_until(ms(300));
    rd(&mut t, 2000); // head at 3500 of the 4000-byte ring, 500 left
    t.inject(ACK | PSH)
        .seq(irs + 4001)
        .ack(iss + 1)
        .payload(&stream(4000, 1500)); // wraps around the ring's end
    t.run_until(ms(600));
    rd(&mut t, 1800); // across the wrap
    rd(&mut t, 4000); // the rest: drained, the ring is released
    t.inject(ACK | FIN).seq(irs + 5501).ack(iss + 1);
    rd(&mut t, 10);
    rd(&mut t, 10);
    t.run_until(ms(900));
    (reads, t)
}

#[test]
fn recv_with_reads_the_same_bytes_and_sends_the_same_segments_as_recv() {
    let (copy_reads, copy) = receive_script(Api::Copy);
    let (in_place_reads, in_place) = receive_script(Api::InPlace);
    assert_eq!(in_place_reads, copy_reads);
    let segs = |t: &Tcp| t.log.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(segs(&in_place), segs(&copy));
    assert_eq!(in_place.log, copy.log);
    assert_eq!(in_place.counters(), copy.counters());
    assert_eq!(in_place.status(), copy.status());
    // What the script claims it does: the bytes in order, a window update sent by a read
    // (MUST-39), and end of stream reported once everything was read.
    let data: Vec<u8> = copy_reads
        .iter()
        .filter_map(|r| match r {
            Read::Data(d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, stream(0, 5500));
    assert_eq!(copy_reads[0], Read::Err(Error::WouldBlock));
    assert_eq!(
        copy_reads[3],
        Read::Data(vec![]),
        "a read of 0 takes nothing"
    );
    assert_eq!(&copy_reads[copy_reads.len() - 2..], [Read::Eof, Read::Eof]);
    assert!(
        copy.log
            .iter()
            .any(|s| s.win() == 1500 && s.payload.is_empty()),
        "the read that freed 1500 bytes sent a window update:\n{}",
        segs(&copy).join("\n")
    );
    assert!(!copy.log.iter().any(|s| s.win() > 0 && s.win() < 1000));
}

#[test]
fn recv_with_sees_the_contiguous_part_and_clamps_what_it_consumes() {
    let mut cfg = Tcp::config();
    cfg.recv_buffer = 4000;
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let (c, now) = (t.c(), t.now);
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(&stream(0, 3800));
    // Consuming nothing leaves everything readable; the value comes back.
    assert_eq!(t.stack.recv_with(now, c, |s| (0, s.len())), Ok(Some(3800)));
    assert_eq!(
        t.stack.recv_with(now, c, |s| (3700, s[3699])),
        Ok(Some(stream(3699, 1)[0]))
    );
    t.flush(); // the window update that read earned (MUST-39)
    assert_eq!(t.take_sent().last().map(Seg::win), Some(3900));
    t.inject(ACK | PSH)
        .seq(irs + 3801)
        .ack(iss + 1)
        .payload(&stream(3800, 1000));
    // 1100 readable from ring index 3700: the first call sees the 300 up to the ring's end.
    assert_eq!(
        t.stack.recv_with(now, c, |s| (usize::MAX, s.to_vec())),
        Ok(Some(stream(3700, 300))),
        "an over-claim consumes the slice and no more"
    );
    assert_eq!(
        t.stack.recv_with(now, c, |s| (s.len() + 1, s.to_vec())),
        Ok(Some(stream(4000, 800)))
    );
    assert_eq!(
        t.stack.recv_with(now, c, |_| (1, ())),
        Err(Error::WouldBlock)
    );
    assert_eq!(t.status().recv_queued, 0);
    // Errors as for recv: a closed connection, an unknown handle.
    t.inject(RST).seq(irs + 4801);
    assert!(matches!(
        t.stack.recv_with(now, c, |_| (0, ())),
        Err(Error::Closed(_))
    ));
    assert!(matches!(
        t.stack.recv(now, c, &mut [0; 4]),
        Err(Error::Closed(_))
    ));
    t.stack.close(now, c).unwrap();
    assert_eq!(
        t.stack.recv_with(now, c, |_| (0, ())),
        t.stack.recv(now, c, &mut [0; 4]).map(|_| None)
    );
}

/// An active connection with a 4000-byte send buffer sends chunks (small ones under Nagle,
/// one that fills the buffer, one refused), its data acknowledged on the way so the ring
/// wraps, then shuts down. Returns each write's result.
fn send_script(api: Api) -> (Vec<Result<usize, Error>>, Tcp) {
    let mut cfg = Tcp::config();
    cfg.send_buffer = 4000;
    cfg.send_buffer_max = 4000; // fixed: no growth with cwnd (LX-11)
    let mut t = Tcp::with_config(cfg);
    let iss = t.establish_active();
    let irs = t.peer_isn;
    let c = t.c();
    let mut results = Vec::new();
    let mut off = 0;
    let mut wr = |t: &mut Tcp, len: usize| {
        let r = write(&mut t.stack, t.now, c, api, &stream(off, len));
        off += *r.as_ref().unwrap_or(&0);
        t.flush();
        results.push(r);
    };
    wr(&mut t, 1);
    wr(&mut t, 100); // held by Nagle: the first byte is unacknowledged
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(20));
    wr(&mut t, 3000);
    wr(&mut t, 5000); // fills the buffer
    wr(&mut t, 10); // refused: WouldBlock, Writable later
    t.inject(ACK).seq(irs + 1).ack(iss + 2 + 2920).at(ms(40));
    wr(&mut t, 2500); // the free space wraps around the ring's end
    t.run_until(ms(100));
    let nxt = t.stack_nxt;
    t.inject(ACK).seq(irs + 1).ack(nxt).at(ms(120));
    wr(&mut t, 0);
    t.run_until(ms(2000));
    let nxt = t.stack_nxt;
    t.inject(ACK).seq(irs + 1).ack(nxt).at(ms(2100));
    t.run_until(ms(3000));
    t.shutdown().unwrap();
    wr(&mut t, 5); // after the FIN was queued: Closing
    t.run_until(ms(4000));
    (results, t)
}

#[test]
fn send_with_sends_the_same_segments_as_send() {
    let (copy_results, copy) = send_script(Api::Copy);
    let (in_place_results, in_place) = send_script(Api::InPlace);
    assert_eq!(in_place_results, copy_results);
    let segs = |t: &Tcp| t.log.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(segs(&in_place), segs(&copy));
    assert_eq!(in_place.log, copy.log);
    assert_eq!(in_place.events, copy.events);
    assert_eq!(in_place.counters(), copy.counters());
    assert_eq!(in_place.status(), copy.status());
    // What the script claims it does.
    assert_eq!(
        copy_results,
        [
            Ok(1),
            Ok(100),
            Ok(3000),
            Ok(900),
            Err(Error::WouldBlock),
            Ok(2500),
            Ok(0),
            Err(Error::Closing)
        ]
    );
    let sent: Vec<u8> =
        copy.log
            .iter()
            .filter(|s| !s.payload.is_empty())
            .fold(Vec::new(), |mut v, s| {
                let at = (s.seq() - (copy.iss + 1)) as usize;
                if at == v.len() {
                    v.extend_from_slice(&s.payload);
                }
                v
            });
    assert_eq!(sent, stream(0, 6501));
    let c = copy.c();
    assert!(copy.saw(Event::Writable { conn: c }));
}

#[test]
fn send_with_refuses_like_send() {
    let mut cfg = Tcp::config();
    cfg.send_buffer = 600;
    let mut t = Tcp::with_config(cfg);
    // SYN-SENT: queued until ESTABLISHED (UI-2).
    let c = t.connect();
    let now = t.now;
    assert_eq!(t.stack.send_with(now, c, |s| (s.len(), s.len())), Ok(512));
    // The buffer grows (up to its bound) as the application fills it.
    assert_eq!(t.stack.send_with(now, c, |s| (s.len(), s.len())), Ok(88));
    let mut called = false;
    assert_eq!(
        t.stack.send_with(now, c, |_| {
            called = true;
            (0, ())
        }),
        Err(Error::WouldBlock)
    );
    assert!(!called, "a full buffer offers nothing");
    assert_eq!(t.status().send_queued, 600);
    t.stack.abort(now, c).unwrap();
    assert_eq!(
        t.stack.send_with(now, c, |_| (0, ())),
        t.stack.send(now, c, b"x").map(|_| ())
    );
    // After shutdown: Closing, as send says.
    let mut t = Tcp::v4();
    t.establish_passive();
    let (c, now) = (t.c(), t.now);
    t.shutdown().unwrap();
    assert_eq!(t.stack.send_with(now, c, |_| (1, ())), Err(Error::Closing));
    // Writing nothing into an empty buffer leaves nothing allocated.
    let mut t = Tcp::v4();
    t.establish_passive();
    let (c, now) = (t.c(), t.now);
    assert_eq!(t.stack.send_with(now, c, |_| (0, ())), Ok(()));
    assert_eq!(t.status().send_queued, 0);
    t.flush();
    t.expect_nothing();
}

/// A call refused for a full buffer asks for `Event::Writable` once room returns, whether
/// `send` or `send_with` was refused; a buffer filled exactly by `send` does not.
#[test]
fn send_with_refused_asks_for_writable() {
    for refused in [None, Some(Api::Copy), Some(Api::InPlace)] {
        let mut cfg = Tcp::config();
        cfg.send_buffer = 600;
        cfg.send_buffer_max = 600; // fixed: no growth with cwnd (LX-11)
        let mut t = Tcp::with_config(cfg);
        let iss = t.establish_passive();
        let irs = t.peer_isn;
        let (c, now) = (t.c(), t.now);
        assert_eq!(t.stack.send(now, c, &[1; 600]), Ok(600));
        match refused {
            None => {}
            Some(Api::Copy) => assert_eq!(t.stack.send(now, c, b"x"), Err(Error::WouldBlock)),
            Some(Api::InPlace) => assert_eq!(
                t.stack.send_with(now, c, |_| (1, ())),
                Err(Error::WouldBlock)
            ),
        }
        t.flush();
        t.inject(ACK).seq(irs + 1).ack(iss + 601).at(ms(50));
        assert_eq!(
            t.saw(Event::Writable { conn: c }),
            refused.is_some(),
            "{refused:?}"
        );
    }
}

// ----- both calls mixed over a lossy link ----------------------------------------------

/// Two stacks joined by a 5 ms link that drops packets at random (xorshift; `loss` per
/// thousand).
struct Lossy {
    now: Instant,
    a: Stack,
    b: Stack,
    wire: Vec<(Instant, bool, Vec<u8>)>,
    rng: u64,
    loss: u64,
}

impl Lossy {
    fn coin(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % 1000
    }

    fn flush(&mut self) {
        let mut buf = vec![0u8; 70_000];
        for to_b in [true, false] {
            loop {
                let st = if to_b { &mut self.a } else { &mut self.b };
                let Some(n) = st.poll_transmit(self.now, &mut buf) else {
                    break;
                };
                while st.poll_event().is_some() {}
                if self.coin() >= self.loss {
                    let at = self.now + Duration::from_millis(5);
                    self.wire.push((at, to_b, buf[..n].to_vec()));
                }
            }
            let st = if to_b { &mut self.a } else { &mut self.b };
            while st.poll_event().is_some() {}
        }
    }

    fn run_until(&mut self, t: Instant) {
        loop {
            self.flush();
            let next_pkt = self.wire.iter().map(|w| w.0).min();
            let next = [next_pkt, self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(n) if n <= t => {
                    self.now = self.now.max(n);
                    while let Some(i) = self.wire.iter().position(|w| w.0 <= self.now) {
                        let (_, to_b, bytes) = self.wire.remove(i);
                        let st = if to_b { &mut self.b } else { &mut self.a };
                        st.handle_packet(self.now, &bytes);
                    }
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => {
                    self.now = self.now.max(t);
                    return;
                }
            }
        }
    }
}

/// One end's application: what it has sent and received so far.
#[derive(Default)]
struct App {
    sent: usize,
    got: Vec<u8>,
    eof: bool,
}

fn api(in_place: bool) -> Api {
    if in_place {
        Api::InPlace
    } else {
        Api::Copy
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Both ends send their stream and read the other's, each call `send` or `send_with`,
    /// `recv` or `recv_with` at random with random sizes, over a link that loses packets;
    /// then both shut down. Every byte arrives, in order, and the end of stream after it.
    #[test]
    fn mixed_calls_over_a_lossy_link_deliver_every_byte(
        ops in proptest::collection::vec((0u8..4, any::<bool>(), 0usize..3000, 0u64..30), 1..60),
        total_a in 0usize..20_000,
        total_b in 0usize..8_000,
        buffers in (500usize..6000, 500usize..6000),
        loss in 0u64..150,
        seed in any::<u64>(),
    ) {
        let cfg = |secret: u8| Config {
            send_buffer: buffers.0,
            recv_buffer: buffers.1,
            ..Config::with_secret([secret; 16])
        };
        let mut a = Stack::new(cfg(1));
        a.add_address("198.18.0.1".parse().unwrap());
        let mut b = Stack::new(cfg(2));
        b.add_address("198.18.0.2".parse().unwrap());
        let srv: std::net::SocketAddr = "198.18.0.2:80".parse().unwrap();
        let l = b.listen(srv, 4).unwrap();
        let ca = a.connect(Instant::ZERO, None, srv).unwrap();
        let mut net = Lossy { now: Instant::ZERO, a, b, wire: Vec::new(), rng: seed | 1, loss };
        let mut cb = None;
        let mut guard = 0;
        while cb.is_none() {
            net.run_until(net.now + Duration::from_millis(100));
            cb = net.b.accept(l);
            guard += 1;
            prop_assert!(guard < 600, "no handshake");
        }
        let cb = cb.unwrap();
        let (mut app_a, mut app_b) = (App::default(), App::default());
        let totals = [total_a, total_b];
        // One application step: `which` 0/1 send from A/B, 2/3 read at A/B.
        let step = |net: &mut Lossy, app_a: &mut App, app_b: &mut App, which: u8, in_place: bool, size: usize| {
            let now = net.now;
            let (st, c, app, total) = match which % 2 {
                0 => (&mut net.a, ca, app_a, totals[0]),
                _ => (&mut net.b, cb, app_b, totals[1]),
            };
            if which < 2 {
                let len = size.min(total - app.sent);
                if len == 0 {
                    return; // all sent (and perhaps shut down)
                }
                let data = stream(app.sent + which as usize * 7, len);
                match write(st, now, c, api(in_place), &data) {
                    Ok(n) => app.sent += n,
                    Err(Error::WouldBlock) => {}
                    Err(e) => panic!("send: {e:?}"),
                }
            } else {
                match read(st, now, c, api(in_place), size) {
                    Read::Data(d) => app.got.extend(d),
                    Read::Eof => app.eof = true,
                    Read::Err(Error::WouldBlock) => {}
                    Read::Err(e) => panic!("recv: {e:?}"),
                }
            }
        };
        for &(which, in_place, size, dt) in &ops {
            step(&mut net, &mut app_a, &mut app_b, which, in_place, size);
            net.run_until(net.now + Duration::from_millis(dt));
        }
        // Finish: send the rest, read everything, shut down once all is queued.
        let mut shut = [false, false];
        let mut round = 0u64;
        while !(app_a.eof && app_b.eof) {
            for which in 0..4u8 {
                step(&mut net, &mut app_a, &mut app_b, which, (round + which as u64).is_multiple_of(2), 1 + (round as usize * 997) % 4000);
            }
            for (i, (st, c, app)) in [(&mut net.a, ca, &app_a), (&mut net.b, cb, &app_b)].into_iter().enumerate() {
                if !shut[i] && app.sent == totals[i] {
                    st.shutdown(net.now, c).unwrap();
                    shut[i] = true;
                }
            }
            net.run_until(net.now + Duration::from_millis(20));
            round += 1;
            prop_assert!(round < 20_000, "stuck: A sent {} got {}, B sent {} got {}", app_a.sent, app_b.got.len(), app_b.sent, app_a.got.len());
        }
        prop_assert_eq!(app_b.got.len(), total_a);
        prop_assert!(app_b.got == stream(0, total_a), "A -> B bytes differ");
        prop_assert_eq!(app_a.got.len(), total_b);
        prop_assert!(app_a.got == stream(7, total_b), "B -> A bytes differ");
    }
}
