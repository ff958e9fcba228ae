//! Churn: sequential connection lifecycles between A (client, 198.18.0.1) and B (server,
//! 198.18.0.2:80). One cycle: allocate, handshake, 64 B request, 64 B response, client
//! close, server close, free. The figure is cycles per wall-clock second.
//!
//! Optionally with idle ESTABLISHED connections set up first (not timed), to other server
//! ports, which churn must not pay for. The same set-up gives the memory figures: live heap
//! per side before and after (see `alloc_count`).
//!
//! synack keeps TIME-WAIT: each cycle's client ends in TIME-WAIT (60 s) and stays in the
//! table; the virtual clock advances `gap` µs per cycle (default 2.5 ms, so about 24,000
//! TIME-WAIT entries accumulate in the steady state, within the 28,232 ephemeral ports).
//! smoltcp has no TIME-WAIT record apart from the socket itself: its client socket is freed
//! once it reaches TIME-WAIT (after it sent the last ACK), the way a smoltcp application
//! that wants its socket back does it. Keeping them would make every packet scan them.

use crate::alloc_count::{Tagged, SIDE_A, SIDE_B};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State as SmolState};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration as WallDuration, Instant as WallClock};
use synack::{ConnId, Error, Instant, ListenerId, State};
use synack_bench::{Host, Link, Side, Sim, SmolHost, SynackHost};

const REQ: [u8; 64] = [b'q'; 64];
const RESP: [u8; 64] = [b'r'; 64];
const CHURN_PORT: u16 = 80;
/// Idle connection `i` goes to server port `IDLE_PORT0 + i / IDLE_PER_PORT`.
const IDLE_PORT0: u16 = 8000;
const IDLE_PER_PORT: usize = 20_000;
/// TIME-WAIT connection `k` uses index `TIME_WAIT_INDEX0 + k` (ports as for idle ones).
const TIME_WAIT_INDEX0: usize = 500_000;

fn idle_port(i: usize) -> u16 {
    IDLE_PORT0 + (i / IDLE_PER_PORT) as u16
}

/// Connections opened (or closed) at once while setting up idle or TIME-WAIT sets (below synack's
/// default SYN backlog of 128, so no SYN cookies are involved).
const BATCH: usize = 100;
/// smoltcp socket buffers for churn, idle and TIME-WAIT sockets unless told otherwise: the
/// least that carries the 64 B request and response.
pub const SMOL_SMALL_BUF: usize = 64;
/// A cycle that needs more rounds than this is stuck.
const CYCLE_ROUND_LIMIT: u64 = 10_000;

#[derive(Default)]
pub struct ChurnRun {
    pub cycles: u64,
    pub secs: f64,
    pub packets: u64,
    pub rounds: u64,
    pub timer_jumps: u64,
}

impl ChurnRun {
    pub fn rate(&self) -> f64 {
        self.cycles as f64 / self.secs
    }

    /// Count `r` in: the runs of one harness, summed (slices of one interleaved repetition).
    pub fn add(&mut self, r: ChurnRun) {
        self.cycles += r.cycles;
        self.secs += r.secs;
        self.packets += r.packets;
        self.rounds += r.rounds;
        self.timer_jumps += r.timer_jumps;
    }
}

/// What both churn harnesses offer.
pub trait Churn {
    /// Add `n` idle ESTABLISHED connections (accepted, empty buffers). Not timed.
    fn add_idle(&mut self, n: usize);
    /// One lifecycle: allocate, handshake, 64 B each way, close both ends, free.
    fn cycle(&mut self);
    /// The simulation both stacks run on.
    fn sim(&self) -> &Sim;
    /// How many cycles between two looks at the wall clock (cheap enough not to distort).
    const CAP_CHECK_EVERY: u64;
    /// Run up to `cycles` lifecycles, stopping early once `cap` wall time has passed.
    fn run(&mut self, cycles: u64, cap: WallDuration) -> ChurnRun {
        let (p0, r0, j0) = stats_of(self.sim());
        let t0 = WallClock::now();
        let mut done = 0;
        while done < cycles {
            self.cycle();
            done += 1;
            if done % Self::CAP_CHECK_EVERY == 0 && t0.elapsed() > cap {
                break;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let (p1, r1, j1) = stats_of(self.sim());
        ChurnRun {
            cycles: done,
            secs,
            packets: p1 - p0,
            rounds: r1 - r0,
            timer_jumps: j1 - j0,
        }
    }
    /// Open `n` connections and close them all (client first): the clients stay in
    /// TIME-WAIT, the servers are freed. Not timed.
    fn make_time_wait(&mut self, n: usize);
    /// TIME-WAIT entries held by the client side now.
    fn time_wait_count(&self) -> usize;
}

fn stats_of(sim: &Sim) -> (u64, u64, u64) {
    let st = sim.link.stats();
    (st[0].packets + st[1].packets, sim.rounds, sim.timer_jumps)
}

fn drive<A: Host, B: Host>(sim: &mut Sim, a: &mut A, b: &mut B, what: &str) {
    if !sim.advance(a, b) {
        panic!(
            "{what}: stuck at {} µs (nothing in flight, no timer)",
            sim.now
        );
    }
}

// ----- synack ----------------------------------------------------------------------------

pub struct SynackChurn {
    pub sim: Sim,
    pub a: Tagged<SynackHost>,
    pub b: Tagged<SynackHost>,
    listener: ListenerId,
    /// Listeners of the idle and TIME-WAIT connections, by port.
    idle_listeners: Vec<(u16, ListenerId)>,
    idle_clients: Vec<ConnId>,
    idle_servers: Vec<ConnId>,
    tw_clients: Vec<ConnId>,
    gap: u64,
    next_at: u64,
}

impl SynackChurn {
    /// Default (Linux-like) configurations, with send and receive buffers bounded by
    /// `buffer` instead of the default 128 KiB if given. `max_idle` sizes the idle
    /// listeners and the handle tables up front, so they are not counted as
    /// per-connection memory.
    pub fn new(gap: u64, max_idle: usize, buffer: Option<usize>) -> SynackChurn {
        let config = |side| {
            let mut c = SynackHost::config(side, 1500);
            if let Some(n) = buffer {
                // Fixed, like smoltcp's: autotuning (LX-11) off both ways.
                c = c.fixed_buffers(n);
            }
            c
        };
        let a = Tagged::new(SynackHost::new(Side::A, config(Side::A)), SIDE_A);
        let mut b = Tagged::new(SynackHost::new(Side::B, config(Side::B)), SIDE_B);
        let ip = IpAddr::V4(Side::B.ip());
        let listener = b.with(|b| {
            b.stack
                .listen(SocketAddr::new(ip, CHURN_PORT), 4096)
                .unwrap()
        });
        let ports = max_idle.div_ceil(IDLE_PER_PORT);
        let idle_listeners = b.with(|b| {
            (0..ports)
                .map(|k| {
                    let port = IDLE_PORT0 + k as u16;
                    (
                        port,
                        b.stack.listen(SocketAddr::new(ip, port), 4096).unwrap(),
                    )
                })
                .collect()
        });
        let sim = Sim::new(Link::new());
        sim.link.reserve(4 * BATCH, 1500);
        SynackChurn {
            sim,
            a,
            b,
            listener,
            idle_listeners,
            idle_clients: Vec::with_capacity(max_idle),
            idle_servers: Vec::with_capacity(max_idle),
            tw_clients: Vec::new(),
            gap,
            next_at: 0,
        }
    }

    fn lifecycle(&mut self) {
        self.sim.now = self.sim.now.max(self.next_at);
        self.next_at = self.sim.now + self.gap;
        let remote = SocketAddr::new(IpAddr::V4(Side::B.ip()), CHURN_PORT);
        let l = self.listener;
        let start_round = self.sim.rounds;
        // Client and server application state.
        let mut c: Option<ConnId> = None;
        let (mut req_sent, mut got, mut c_closed) = (false, 0usize, false);
        let mut s: Option<ConnId> = None;
        let (mut req, mut resp_sent, mut s_closed) = (0usize, false, false);
        let (mut cbuf, mut sbuf) = ([0u8; 128], [0u8; 128]);
        loop {
            self.sim.round(
                &mut self.a,
                &mut self.b,
                |a, now| {
                    let st = &mut a.h.stack;
                    let t = Instant::from_micros(now);
                    while st.poll_event().is_some() {}
                    let Some(cid) = c else {
                        c = Some(st.connect(t, None, remote).expect("synack connect"));
                        return;
                    };
                    if !req_sent && st.state(cid) == Some(State::Established) {
                        assert_eq!(st.send(t, cid, &REQ), Ok(64));
                        req_sent = true;
                    }
                    if req_sent && got < 64 {
                        match st.recv(t, cid, &mut cbuf) {
                            Ok(n) if n > 0 => got += n,
                            Err(Error::WouldBlock) => {}
                            r => panic!("client recv: {r:?}"),
                        }
                    }
                    if got == 64 && !c_closed {
                        st.close(t, cid).expect("client close");
                        c_closed = true;
                    }
                },
                |b, now| {
                    let st = &mut b.h.stack;
                    let t = Instant::from_micros(now);
                    while st.poll_event().is_some() {}
                    if s.is_none() {
                        s = st.accept(l);
                    }
                    let Some(sid) = s else { return };
                    if req < 64 {
                        match st.recv(t, sid, &mut sbuf) {
                            Ok(n) if n > 0 => req += n,
                            Err(Error::WouldBlock) => {}
                            r => panic!("server recv: {r:?}"),
                        }
                    }
                    if req == 64 && !resp_sent {
                        assert_eq!(st.send(t, sid, &RESP), Ok(64));
                        resp_sent = true;
                    }
                    if resp_sent && !s_closed {
                        match st.recv(t, sid, &mut sbuf) {
                            Ok(0) => {
                                st.close(t, sid).expect("server close");
                                s_closed = true;
                            }
                            Err(Error::WouldBlock) => {}
                            r => panic!("server recv at end: {r:?}"),
                        }
                    }
                },
            );
            if c_closed
                && s_closed
                && self.sim.link.is_empty()
                && self.b.h.stack.state(s.unwrap()).is_none()
                && self.a.h.stack.state(c.unwrap()) == Some(State::TimeWait)
            {
                return;
            }
            if self.sim.rounds - start_round > CYCLE_ROUND_LIMIT {
                panic!(
                    "synack churn cycle stuck: client {:?}, server {:?}",
                    c.and_then(|c| self.a.h.stack.status(c)),
                    s.and_then(|s| self.b.h.stack.status(s))
                );
            }
            drive(&mut self.sim, &mut self.a, &mut self.b, "synack churn");
        }
    }

    /// Open `n` connections in batches, connection `i` (from `first`) to port
    /// `idle_port(i)`; the handles are pushed to the idle lists.
    fn open_batch(&mut self, n: usize, first: usize) {
        let ip = IpAddr::V4(Side::B.ip());
        let mut opened = 0;
        while opened < n {
            let k = BATCH.min(n - opened);
            for j in 0..k {
                let port = idle_port(first + opened + j);
                if !self.idle_listeners.iter().any(|&(p, _)| p == port) {
                    let l = self
                        .b
                        .with(|b| b.stack.listen(SocketAddr::new(ip, port), 4096).unwrap());
                    self.idle_listeners.push((port, l));
                }
            }
            let want_servers = self.idle_servers.len() + k;
            let start_clients = self.idle_clients.len();
            let now = self.sim.now;
            let clients = &mut self.idle_clients;
            self.a.with(|a| {
                for j in 0..k {
                    let remote = SocketAddr::new(ip, idle_port(first + opened + j));
                    let c = a
                        .stack
                        .connect(Instant::from_micros(now), None, remote)
                        .expect("synack connect (idle)");
                    clients.push(c);
                }
            });
            loop {
                let listeners = &self.idle_listeners;
                let servers = &mut self.idle_servers;
                self.sim.round(
                    &mut self.a,
                    &mut self.b,
                    |a, _| while a.h.stack.poll_event().is_some() {},
                    |b, _| {
                        while b.h.stack.poll_event().is_some() {}
                        for &(_, l) in listeners {
                            while let Some(s) = b.h.stack.accept(l) {
                                servers.push(s);
                            }
                        }
                    },
                );
                if self.idle_servers.len() == want_servers && self.sim.link.is_empty() {
                    break;
                }
                drive(
                    &mut self.sim,
                    &mut self.a,
                    &mut self.b,
                    "synack idle set-up",
                );
            }
            for &c in &self.idle_clients[start_clients..] {
                assert_eq!(self.a.h.stack.state(c), Some(State::Established));
            }
            opened += k;
        }
    }
}

impl Churn for SynackChurn {
    fn add_idle(&mut self, n: usize) {
        let first = self.idle_clients.len();
        self.open_batch(n, first);
    }

    const CAP_CHECK_EVERY: u64 = 64;

    fn cycle(&mut self) {
        self.lifecycle();
    }

    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn make_time_wait(&mut self, n: usize) {
        // BATCH at a time: open connections, then close them, clients first.
        while self.tw_clients.len() < n {
            let k = BATCH.min(n - self.tw_clients.len());
            self.time_wait_batch(k);
        }
    }

    fn time_wait_count(&self) -> usize {
        self.a.h.stack.connection_count() - self.idle_clients.len()
    }
}

impl SynackChurn {
    fn time_wait_batch(&mut self, k: usize) {
        let first = self.idle_clients.len();
        self.open_batch(k, TIME_WAIT_INDEX0 + self.tw_clients.len());
        let clients: Vec<ConnId> = self.idle_clients.drain(first..).collect();
        let servers: Vec<ConnId> = self.idle_servers.drain(first..).collect();
        let now = Instant::from_micros(self.sim.now);
        self.a.with(|a| {
            for &c in &clients {
                a.stack.close(now, c).expect("close");
            }
        });
        let mut open: Vec<ConnId> = servers;
        loop {
            self.sim.round(
                &mut self.a,
                &mut self.b,
                |a, _| while a.h.stack.poll_event().is_some() {},
                |b, now| {
                    let t = Instant::from_micros(now);
                    while b.h.stack.poll_event().is_some() {}
                    let mut buf = [0u8; 16];
                    open.retain(|&s| match b.h.stack.recv(t, s, &mut buf) {
                        Ok(0) => {
                            b.h.stack.close(t, s).expect("close");
                            false
                        }
                        _ => true,
                    });
                },
            );
            if open.is_empty()
                && self.sim.link.is_empty()
                && clients
                    .iter()
                    .all(|&c| self.a.h.stack.state(c) == Some(State::TimeWait))
            {
                break;
            }
            drive(
                &mut self.sim,
                &mut self.a,
                &mut self.b,
                "synack TIME-WAIT set-up",
            );
        }
        self.tw_clients.extend(clients);
    }
}

// ----- smoltcp ---------------------------------------------------------------------------

pub struct SmolChurn {
    pub sim: Sim,
    pub a: Tagged<SmolHost>,
    pub b: Tagged<SmolHost>,
    idle_clients: Vec<SocketHandle>,
    idle_servers: Vec<SocketHandle>,
    tw_clients: Vec<SocketHandle>,
    /// rx and tx buffer of every socket.
    buf: usize,
    next_port: u16,
    gap: u64,
    next_at: u64,
}

fn next_port(p: &mut u16) -> u16 {
    let port = *p;
    *p = if *p == u16::MAX { 1024 } else { *p + 1 };
    port
}

impl SmolChurn {
    /// Sockets with `buf`-byte rx and tx buffers.
    pub fn new(gap: u64, max_idle: usize, buf: usize) -> SmolChurn {
        let a = Tagged::new(SmolHost::new(Side::A, 1500, 0), SIDE_A);
        let b = Tagged::new(SmolHost::new(Side::B, 1500, 0), SIDE_B);
        let sim = Sim::new(Link::new());
        sim.link.reserve(4 * BATCH, 1500);
        SmolChurn {
            sim,
            a,
            b,
            idle_clients: Vec::with_capacity(max_idle),
            idle_servers: Vec::with_capacity(max_idle),
            tw_clients: Vec::new(),
            buf,
            next_port: 1024,
            gap,
            next_at: 0,
        }
    }

    fn lifecycle(&mut self) {
        self.sim.now = self.sim.now.max(self.next_at);
        self.next_at = self.sim.now + self.gap;
        let start_round = self.sim.rounds;
        let buf = self.buf;
        // Allocate: the server's listening socket, the client's socket.
        let hs = self.b.with(|b| {
            let h = b.add_tcp(buf, buf);
            b.tcp(h).listen(CHURN_PORT).expect("listen");
            h
        });
        let port = next_port(&mut self.next_port);
        let hc = self.a.with(|a| {
            let h = a.add_tcp(buf, buf);
            a.connect(h, port, CHURN_PORT);
            h
        });
        let (mut req_sent, mut got, mut c_closed, mut c_gone) = (false, 0usize, false, false);
        let (mut req, mut resp_sent, mut s_closed, mut s_gone) = (0usize, false, false, false);
        let (mut cbuf, mut sbuf) = ([0u8; 128], [0u8; 128]);
        loop {
            self.sim.round(
                &mut self.a,
                &mut self.b,
                |a, _| {
                    if c_gone {
                        return;
                    }
                    let s = a.h.sockets.get_mut::<tcp::Socket>(hc);
                    if !req_sent && s.state() == SmolState::Established {
                        assert_eq!(s.send_slice(&REQ), Ok(64));
                        req_sent = true;
                    }
                    if req_sent && got < 64 {
                        got += s.recv_slice(&mut cbuf).expect("client recv");
                    }
                    if got == 64 && !c_closed {
                        s.close();
                        c_closed = true;
                    }
                },
                |b, _| {
                    if s_gone {
                        return;
                    }
                    let s = b.h.sockets.get_mut::<tcp::Socket>(hs);
                    if req < 64 {
                        match s.recv_slice(&mut sbuf) {
                            Ok(n) => req += n,
                            Err(tcp::RecvError::InvalidState) => {} // not yet established
                            Err(e) => panic!("server recv: {e:?}"),
                        }
                    }
                    if req == 64 && !resp_sent {
                        assert_eq!(s.send_slice(&RESP), Ok(64));
                        resp_sent = true;
                    }
                    if resp_sent && !s_closed {
                        match s.recv_slice(&mut sbuf) {
                            Err(tcp::RecvError::Finished) => {
                                s.close();
                                s_closed = true;
                            }
                            Ok(0) => {}
                            r => panic!("server recv at end: {r:?}"),
                        }
                    }
                },
            );
            // Free: the client once in TIME-WAIT (its last ACK went out in this round's
            // egress), the server once CLOSED.
            if !c_gone && self.a.h.tcp(hc).state() == SmolState::TimeWait {
                self.a.with(|a| drop(a.sockets.remove(hc)));
                c_gone = true;
            }
            if s_closed && !s_gone && self.b.h.tcp(hs).state() == SmolState::Closed {
                self.b.with(|b| drop(b.sockets.remove(hs)));
                s_gone = true;
            }
            if c_gone && s_gone && self.sim.link.is_empty() {
                return;
            }
            if self.sim.rounds - start_round > CYCLE_ROUND_LIMIT {
                panic!(
                    "smoltcp churn cycle stuck: client gone {c_gone}, server gone {s_gone} ({})",
                    if s_gone {
                        "-".to_string()
                    } else {
                        self.b.h.tcp(hs).state().to_string()
                    }
                );
            }
            drive(&mut self.sim, &mut self.a, &mut self.b, "smoltcp churn");
        }
    }

    /// Open `n` connections in batches, connection `i` (from `index0`) to port
    /// `idle_port(i)`; the handles are pushed to the idle lists.
    fn open_batch(&mut self, n: usize, index0: usize) {
        let mut opened = 0;
        while opened < n {
            let k = BATCH.min(n - opened);
            let first = self.idle_clients.len();
            let base = index0 + opened;
            let buf = self.buf;
            let servers = &mut self.idle_servers;
            self.b.with(|b| {
                for j in 0..k {
                    let h = b.add_tcp(buf, buf);
                    b.tcp(h).listen(idle_port(base + j)).expect("listen");
                    servers.push(h);
                }
            });
            let clients = &mut self.idle_clients;
            self.a.with(|a| {
                for j in 0..k {
                    let i = base + j;
                    let h = a.add_tcp(buf, buf);
                    let port = 32_768 + (i % IDLE_PER_PORT) as u16;
                    a.connect(h, port, idle_port(i));
                    clients.push(h);
                }
            });
            loop {
                self.sim
                    .round(&mut self.a, &mut self.b, |_, _| {}, |_, _| {});
                let established = |h: &mut SmolHost, hs: &[SocketHandle]| {
                    hs.iter()
                        .all(|&x| h.tcp(x).state() == SmolState::Established)
                };
                if self.sim.link.is_empty()
                    && established(&mut self.a.h, &self.idle_clients[first..])
                    && established(&mut self.b.h, &self.idle_servers[first..])
                {
                    break;
                }
                drive(
                    &mut self.sim,
                    &mut self.a,
                    &mut self.b,
                    "smoltcp idle set-up",
                );
            }
            opened += k;
        }
    }
}

impl Churn for SmolChurn {
    fn add_idle(&mut self, n: usize) {
        let first = self.idle_clients.len();
        self.open_batch(n, first);
    }

    const CAP_CHECK_EVERY: u64 = 8;

    fn cycle(&mut self) {
        self.lifecycle();
    }

    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn make_time_wait(&mut self, n: usize) {
        // BATCH at a time: open connections, then close them, clients first.
        while self.tw_clients.len() < n {
            let k = BATCH.min(n - self.tw_clients.len());
            self.time_wait_batch(k);
        }
    }

    fn time_wait_count(&self) -> usize {
        self.tw_clients.len()
    }
}

impl SmolChurn {
    fn time_wait_batch(&mut self, k: usize) {
        let first = self.idle_clients.len();
        self.open_batch(k, TIME_WAIT_INDEX0 + self.tw_clients.len());
        let clients: Vec<SocketHandle> = self.idle_clients.drain(first..).collect();
        let servers: Vec<SocketHandle> = self.idle_servers.drain(first..).collect();
        self.a.with(|a| {
            for &c in &clients {
                a.tcp(c).close();
            }
        });
        let mut open = servers;
        let mut closing: Vec<SocketHandle> = Vec::new();
        loop {
            let closing_ref = &mut closing;
            self.sim.round(
                &mut self.a,
                &mut self.b,
                |_, _| {},
                |b, _| {
                    let mut buf = [0u8; 16];
                    open.retain(|&s| match b.h.tcp(s).recv_slice(&mut buf) {
                        Err(tcp::RecvError::Finished) => {
                            b.h.tcp(s).close();
                            closing_ref.push(s);
                            false
                        }
                        _ => true,
                    });
                },
            );
            // Free the servers as they reach CLOSED.
            let b = &mut self.b;
            closing.retain(|&s| {
                if b.h.tcp(s).state() == SmolState::Closed {
                    b.with(|b| drop(b.sockets.remove(s)));
                    false
                } else {
                    true
                }
            });
            if open.is_empty()
                && closing.is_empty()
                && self.sim.link.is_empty()
                && clients
                    .iter()
                    .all(|&c| self.a.h.tcp(c).state() == SmolState::TimeWait)
            {
                break;
            }
            drive(
                &mut self.sim,
                &mut self.a,
                &mut self.b,
                "smoltcp TIME-WAIT set-up",
            );
        }
        self.tw_clients.extend(clients);
    }
}
