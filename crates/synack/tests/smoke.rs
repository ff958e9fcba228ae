//! Two stacks joined by a lossless 10 ms link: handshake, data both ways, four-way close.
use std::net::SocketAddr;
use synack::*;

struct Pair {
    now: Instant,
    a: Stack,
    b: Stack,
    wire: Vec<(Instant, bool, Vec<u8>)>, // (deliver at, to_b, bytes)
    log: Vec<String>,
}

impl Pair {
    fn new() -> Pair {
        Pair::with_config(Config::default())
    }
    fn with_config(cfg: Config) -> Pair {
        let mut a = Stack::new(Config {
            secret: [1; 16],
            ..cfg
        });
        a.add_address("198.18.0.1".parse().unwrap());
        let mut b = Stack::new(Config::with_secret([2; 16]));
        b.add_address("198.18.0.2".parse().unwrap());
        Pair {
            now: Instant::ZERO,
            a,
            b,
            wire: vec![],
            log: vec![],
        }
    }
    fn flush(&mut self) {
        let mut buf = [0u8; 2000];
        for to_b in [true, false] {
            let st = if to_b { &mut self.a } else { &mut self.b };
            while let Some(n) = st.poll_transmit(self.now, &mut buf) {
                let p = wire::parse(&buf[..n]).unwrap();
                self.log.push(format!(
                    "{} {} {} seq={} ack={} len={}",
                    self.now,
                    if to_b { "A->B" } else { "B->A" },
                    p.tcp.flags,
                    p.tcp.seq,
                    p.tcp.ack,
                    p.payload.len()
                ));
                self.wire.push((
                    self.now + Duration::from_millis(10),
                    to_b,
                    buf[..n].to_vec(),
                ));
            }
            while let Some(e) = st.poll_event() {
                if let Event::StateChanged { from, to, .. } = e {
                    self.log.push(format!(
                        "{} {} {from} -> {to}",
                        self.now,
                        if to_b { "A" } else { "B" }
                    ));
                }
            }
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
                    if let Some(i) = self.wire.iter().position(|w| w.0 <= self.now) {
                        let (_, to_b, bytes) = self.wire.remove(i);
                        if to_b {
                            self.b.handle_packet(self.now, &bytes)
                        } else {
                            self.a.handle_packet(self.now, &bytes)
                        }
                    }
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => {
                    self.now = t;
                    return;
                }
            }
        }
    }
}

#[test]
fn smoke_handshake_data_close() {
    let mut p = Pair::new();
    let srv: SocketAddr = "198.18.0.2:80".parse().unwrap();
    let l = p.b.listen(srv, 16).unwrap();
    let c = p.a.connect(p.now, None, srv).unwrap();
    p.run_until(Instant::from_millis(100));
    assert_eq!(p.a.state(c), Some(State::Established), "{:#?}", p.log);
    let s = p.b.accept(l).expect("accepted");
    assert_eq!(p.b.state(s), Some(State::Established));
    assert_eq!(p.a.send(p.now, c, b"hello").unwrap(), 5);
    p.run_until(Instant::from_millis(200));
    let mut buf = [0u8; 100];
    assert_eq!(p.b.recv(p.now, s, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    p.b.send(p.now, s, b"world!").unwrap();
    p.run_until(Instant::from_millis(300));
    assert_eq!(p.a.recv(p.now, c, &mut buf).unwrap(), 6);
    p.a.close(p.now, c).unwrap();
    p.run_until(Instant::from_millis(400));
    assert_eq!(p.b.recv(p.now, s, &mut buf), Ok(0));
    assert_eq!(p.b.state(s), Some(State::CloseWait));
    p.b.close(p.now, s).unwrap();
    p.run_until(Instant::from_millis(500));
    assert_eq!(p.a.state(c), Some(State::TimeWait), "{:#?}", p.log);
    assert_eq!(p.b.state(s), None);
    p.run_until(Instant::from_secs(61));
    assert_eq!(p.a.state(c), None, "{:#?}", p.log);
    println!("{}", p.log.join("\n"));
}

#[test]
fn lx_7_time_wait_table_bound_skips_time_wait_and_counts() {
    // A closes first twice; the TIME-WAIT table holds one entry, so the second connection
    // skips TIME-WAIT (Linux tcp_max_tw_buckets policy), counted as an overflow.
    let mut p = Pair::with_config(Config {
        max_time_wait: 1,
        ..Config::default()
    });
    let srv: SocketAddr = "198.18.0.2:80".parse().unwrap();
    let l = p.b.listen(srv, 16).unwrap();
    let mut conns = vec![];
    for round in 0..2u64 {
        let start = Instant::from_secs(round);
        p.run_until(start);
        let c = p.a.connect(p.now, None, srv).unwrap();
        p.run_until(start + Duration::from_millis(100));
        let s = p.b.accept(l).expect("accepted");
        p.a.close(p.now, c).unwrap();
        p.run_until(start + Duration::from_millis(200));
        p.b.close(p.now, s).unwrap();
        p.run_until(start + Duration::from_millis(400));
        conns.push(c);
    }
    assert_eq!(p.a.state(conns[0]), Some(State::TimeWait));
    assert_eq!(p.a.state(conns[1]), None, "{:#?}", p.log);
    assert_eq!(p.a.counters().curr_time_wait, 1);
    assert_eq!(p.a.counters().time_wait_overflow, 1);
    // The second connection entered TIME-WAIT and left it at once, long before 2MSL.
    let skipped = p
        .log
        .iter()
        .filter(|l| l.contains("A TIME_WAIT -> CLOSED"))
        .count();
    assert_eq!(skipped, 1, "{:#?}", p.log);
}
