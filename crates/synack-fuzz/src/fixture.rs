//! The stack under attack, set up the honest way: a listener, and connections driven into
//! every state by real handshakes and closes with a second synack stack as the peer, plus
//! TIME-WAIT entries. Nothing is poked into the core's internals: a state is reached only
//! along a path of the RFC 9293 §3.3.2 diagram, so the fuzzer starts from states a real host
//! can be in.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack::{Config, ConnId, Duration, Event, Instant, ListenerId, Stack, State};

/// Address of the stack under test.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Address of the honest peer.
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The listening port.
pub const SERVER_PORT: u16 = 80;
/// Port the peer listens on (the target of the server's own active opens).
pub const PEER_PORT: u16 = 8000;
/// Accept backlog given to `listen` (the queue is full above it, like Linux).
pub const BACKLOG: usize = 4;

/// Bounds small enough that a fuzzer reaches them quickly.
pub fn config(secret: u8) -> Config {
    let mut c = Config::with_secret([secret; 16]);
    c.max_connections = 64;
    c.max_syn_backlog = 8;
    c.somaxconn = 8;
    c.max_time_wait = 4;
    c.recv_buffer = 16 * 1024;
    c.send_buffer = 16 * 1024;
    // Autotuning on (LX-11), with maxima small enough to reach.
    c.recv_buffer_max = 64 * 1024;
    c.send_buffer_max = 64 * 1024;
    c.event_queue_limit = 256;
    c
}

/// Most packets one `pump` moves, so two stacks that ping-pong forever (a bug in itself,
/// reported by `pump` returning false) cannot hang a fuzz input.
const PUMP_LIMIT: usize = 4096;

/// Why an invariant failed: the fuzz target panics with this.
pub type Violation = String;

/// Two stacks on a lossless wire, the server being the one under attack.
pub struct Fixture {
    pub server: Stack,
    pub peer: Stack,
    pub now: Instant,
    pub listener: ListenerId,
    /// Server-side connections the fixture knows of (accepted or opened), newest last.
    pub conns: Vec<ConnId>,
    /// Last state seen per server connection (from `StateChanged` events).
    pub states: HashMap<ConnId, State>,
    /// Peer-side connections, for peer user calls.
    pub peer_conns: Vec<ConnId>,
    pub peer_listener: ListenerId,
    /// Broken invariants seen in the event stream (reported by `check`).
    pub violations: Vec<Violation>,
    buf: Vec<u8>,
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

/// Whether `from -> to` is an edge of RFC 9293's state diagram (§3.3.2), with the extra edges
/// every implementation has: any state to CLOSED (abort, reset, timeouts, MUST-21), LISTEN to
/// ESTABLISHED for a connection rebuilt from a SYN cookie (SF-4), and SYN-RECEIVED to
/// CLOSE-WAIT for a FIN on the handshake-completing segment (§3.10.7.4, eighth step).
pub fn legal_transition(from: State, to: State) -> bool {
    use State::*;
    if to == Closed {
        return from != Closed;
    }
    matches!(
        (from, to),
        (Closed, SynSent)
            | (Listen, SynReceived)
            | (Listen, Established)
            | (SynSent, SynReceived)
            | (SynSent, Established)
            | (SynReceived, Established)
            | (SynReceived, Listen)
            | (SynReceived, FinWait1)
            | (SynReceived, CloseWait)
            | (Established, FinWait1)
            | (Established, CloseWait)
            | (FinWait1, FinWait2)
            | (FinWait1, Closing)
            | (FinWait1, TimeWait)
            | (FinWait2, TimeWait)
            | (CloseWait, LastAck)
            | (Closing, TimeWait)
    )
}

impl Fixture {
    /// The stack under test with a listener and one connection in each of SYN-SENT,
    /// SYN-RECEIVED, ESTABLISHED (with data queued both ways), FIN-WAIT-1, FIN-WAIT-2,
    /// CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT (two), built by real exchanges.
    pub fn new(secret: u8) -> Fixture {
        let mut server = Stack::new(config(secret));
        server.add_address(IpAddr::V4(SERVER_IP));
        let mut peer = Stack::new(config(secret.wrapping_add(1)));
        peer.add_address(IpAddr::V4(PEER_IP));
        let listener = server
            .listen(sa(SERVER_IP, SERVER_PORT), BACKLOG)
            .expect("listen");
        let peer_listener = peer.listen(sa(PEER_IP, PEER_PORT), 64).expect("listen");
        let mut f = Fixture {
            server,
            peer,
            now: Instant::from_secs(1_000),
            listener,
            conns: Vec::new(),
            states: HashMap::new(),
            peer_conns: Vec::new(),
            peer_listener,
            violations: Vec::new(),
            buf: vec![0; 2048],
        };
        f.build_states();
        f
    }

    /// Packets the server sent since the last call.
    pub fn server_out(&mut self) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(n) = self.server.poll_transmit(self.now, &mut self.buf) {
            v.push(self.buf[..n].to_vec());
        }
        v
    }

    /// Packets the peer sent since the last call.
    pub fn peer_out(&mut self) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(n) = self.peer.poll_transmit(self.now, &mut self.buf) {
            v.push(self.buf[..n].to_vec());
        }
        v
    }

    /// Move packets both ways until both stacks are quiet (or `PUMP_LIMIT` packets moved).
    /// Packets to addresses other than the peer's (replies to spoofed sources) vanish, as
    /// they would in the Internet. False if the limit was hit.
    pub fn pump(&mut self) -> bool {
        let mut moved = 0;
        loop {
            let s = self.server_out();
            let p = self.peer_out();
            if s.is_empty() && p.is_empty() {
                self.drain_events();
                return true;
            }
            moved += s.len() + p.len();
            for pkt in &s {
                if dst_is(pkt, PEER_IP) {
                    self.peer.handle_packet(self.now, pkt);
                }
            }
            for pkt in &p {
                self.server.handle_packet(self.now, pkt);
            }
            self.drain_events();
            if moved > PUMP_LIMIT {
                return false;
            }
        }
    }

    /// Let the clock run, firing both stacks' timers on the way, moving packets after each.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next = [self.server.poll_timeout(), self.peer.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.server.handle_timeout(self.now);
                    self.peer.handle_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
        self.server.handle_timeout(self.now);
        self.peer.handle_timeout(self.now);
        self.pump();
    }

    /// Take the server's events like an application would: accept what is ready, note
    /// every state change. The peer's events are drained and its accepts taken.
    pub fn drain_events(&mut self) {
        // With events lost to the queue bound the chain of changes has gaps: check only
        // the edges themselves then.
        let lossless = self.server.counters().events_dropped == 0;
        while let Some(e) = self.server.poll_event() {
            if let Event::StateChanged { conn, from, to, .. } = e {
                match self.states.get(&conn) {
                    Some(&last) if last != from && lossless => self.violations.push(format!(
                        "{conn:?}: change from {from} but it was last {last}"
                    )),
                    None if !matches!(from, State::Closed | State::Listen) => self
                        .violations
                        .push(format!("{conn:?}: first seen leaving {from}")),
                    None => self.conns.push(conn),
                    _ => {}
                }
                if !legal_transition(from, to) {
                    self.violations
                        .push(format!("{conn:?}: illegal transition {from} -> {to}"));
                }
                self.states.insert(conn, to);
            }
        }
        while let Some(c) = self.server.accept(self.listener) {
            if !self.conns.contains(&c) {
                self.conns.push(c);
            }
        }
        while self.peer.poll_event().is_some() {}
        while let Some(c) = self.peer.accept(self.peer_listener) {
            self.peer_conns.push(c);
        }
    }

    /// The server connection to `remote` port `peer_port` (the peer's local port).
    fn server_conn_to(&self, peer_port: u16) -> Option<ConnId> {
        self.server
            .connections()
            .into_iter()
            .find(|c| c.remote.port() == peer_port && c.remote.ip() == IpAddr::V4(PEER_IP))
            .map(|c| c.id)
    }

    /// The peer opens a connection to the server and the handshake completes; the ids of
    /// both ends.
    fn established_pair(&mut self) -> (ConnId, ConnId) {
        let pc = self
            .peer
            .connect(self.now, None, sa(SERVER_IP, SERVER_PORT))
            .expect("peer connect");
        self.peer_conns.push(pc);
        self.pump();
        let port = self.peer.status(pc).expect("peer conn").local.port();
        let sc = self.server_conn_to(port).expect("server end");
        (sc, pc)
    }

    fn build_states(&mut self) {
        let t = Duration::from_millis(1);
        // SYN-RECEIVED: the peer's SYN arrives, our SYN,ACK is lost.
        let pc = self
            .peer
            .connect(self.now, None, sa(SERVER_IP, SERVER_PORT))
            .expect("connect");
        self.peer_conns.push(pc);
        for p in self.peer_out() {
            self.server.handle_packet(self.now, &p);
        }
        self.server_out();
        self.drain_events();

        // SYN-SENT: our own active open whose SYN is lost.
        if let Ok(c) = self
            .server
            .connect(self.now, None, sa(PEER_IP, PEER_PORT + 1))
        {
            self.conns.push(c);
        }
        self.server_out();

        // ESTABLISHED, with data in flight both ways (delivered, so buffers hold some).
        let (sc, pc) = self.established_pair();
        let _ = self.server.send(self.now, sc, &[0x41; 3000]);
        let _ = self.peer.send(self.now, pc, &[0x42; 5000]);
        self.pump();

        // FIN-WAIT-1: we close, the FIN is lost.
        let (sc, _) = self.established_pair();
        let _ = self.server.close(self.now, sc);
        self.server_out();

        // FIN-WAIT-2: we shut down writing, the peer ACKs our FIN and keeps its side open.
        let (sc, _) = self.established_pair();
        let _ = self.server.shutdown(self.now, sc);
        self.pump();

        // CLOSE-WAIT: the peer shuts down writing.
        let (_, pc) = self.established_pair();
        let _ = self.peer.shutdown(self.now, pc);
        self.pump();

        // LAST-ACK: CLOSE-WAIT, then we close and our FIN is lost.
        let (sc, pc) = self.established_pair();
        let _ = self.peer.shutdown(self.now, pc);
        self.pump();
        let _ = self.server.close(self.now, sc);
        self.server_out();

        // CLOSING: both FINs cross; the peer's FIN reaches us before it saw ours, and the ACK
        // of our FIN is lost.
        let (sc, pc) = self.established_pair();
        let _ = self.server.close(self.now, sc);
        let _ = self.peer.close(self.now, pc);
        let ours = self.server_out();
        for p in self.peer_out() {
            self.server.handle_packet(self.now, &p);
        }
        for p in ours {
            self.peer.handle_packet(self.now, &p);
        }
        self.peer_out();
        self.server_out();
        self.drain_events();

        // TIME-WAIT, twice: we close first and everything arrives.
        for _ in 0..2 {
            let (sc, _) = self.established_pair();
            let _ = self.server.close(self.now, sc);
            self.pump();
            self.now += t;
            let pcs: Vec<ConnId> = self.peer_conns.clone();
            for pc in pcs {
                if self.peer.state(pc) == Some(State::CloseWait) {
                    let _ = self.peer.close(self.now, pc);
                }
            }
            self.pump();
        }
        // The CLOSE-WAIT and FIN-WAIT-2 pairs above were closed by that loop on the peer's
        // side too; rebuild them so every state is present at the start.
        let (_, pc) = self.established_pair();
        let _ = self.peer.shutdown(self.now, pc);
        self.pump();
        let (sc, _) = self.established_pair();
        let _ = self.server.shutdown(self.now, sc);
        self.pump();
        self.drain_events();
    }

    /// Server states present, for the fixture's own test.
    pub fn server_states(&self) -> Vec<State> {
        let mut v: Vec<State> = self.server.connections().iter().map(|c| c.state).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every bound the configuration promises, and legal states (checked after each input
    /// step). Returns the first violation.
    pub fn check(&mut self) -> Result<(), Violation> {
        self.drain_events();
        if let Some(v) = self.violations.first() {
            return Err(v.clone());
        }
        let cfg = self.server.config().clone();
        let s = &self.server;
        if s.connection_count() > cfg.max_connections {
            return Err(format!(
                "{} connections > max_connections {}",
                s.connection_count(),
                cfg.max_connections
            ));
        }
        let syn_q = s.syn_queue_len(self.listener);
        if syn_q > cfg.max_syn_backlog {
            return Err(format!(
                "SYN queue {syn_q} > max_syn_backlog {}",
                cfg.max_syn_backlog
            ));
        }
        // Linux's accept queue is full when it holds more than the backlog (LX-8), so it may
        // reach backlog + 1.
        let acc_q = s.accept_queue_len(self.listener);
        if acc_q > BACKLOG.min(cfg.somaxconn) + 1 {
            return Err(format!("accept queue {acc_q} > backlog {BACKLOG} + 1"));
        }
        let c = s.counters();
        if c.curr_time_wait as usize > cfg.max_time_wait {
            return Err(format!(
                "{} in TIME-WAIT > max_time_wait {}",
                c.curr_time_wait, cfg.max_time_wait
            ));
        }
        let conns = s.connections();
        let tw = conns.iter().filter(|c| c.state == State::TimeWait).count();
        if tw as u64 != c.curr_time_wait {
            return Err(format!(
                "{tw} TIME-WAIT connections but CurrTimeWait {}",
                c.curr_time_wait
            ));
        }
        if conns.len() != s.connection_count() {
            return Err(format!(
                "connections() lists {} but connection_count() says {}",
                conns.len(),
                s.connection_count()
            ));
        }
        for ci in &conns {
            // A CLOSED connection stays only while the application holds its handle (to
            // read the reason); an orphan must be gone. LISTEN belongs to listeners only.
            if ci.state == State::Listen || (ci.state == State::Closed && ci.orphan) {
                return Err(format!(
                    "{:?} held in state {} (orphan: {})",
                    ci.id, ci.state, ci.orphan
                ));
            }
            let una = synack::SeqNum(ci.snd_una);
            let nxt = synack::SeqNum(ci.snd_nxt);
            if !una.le(nxt) {
                return Err(format!(
                    "{:?}: SND.UNA {} > SND.NXT {}",
                    ci.id, ci.snd_una, ci.snd_nxt
                ));
            }
            // LX-11: buffers grow by autotuning, never past the configured maxima (the
            // fixture pins no size).
            if ci.recv_buffer > cfg.recv_buffer_limit() || ci.send_buffer > cfg.send_buffer_limit()
            {
                return Err(format!(
                    "{:?}: buffers {} / {} past the maxima {} / {}",
                    ci.id,
                    ci.recv_buffer,
                    ci.send_buffer,
                    cfg.recv_buffer_limit(),
                    cfg.send_buffer_limit()
                ));
            }
            if ci.recv_queued > ci.recv_buffer {
                return Err(format!(
                    "{:?}: {} bytes queued > recv_buffer {}",
                    ci.id, ci.recv_queued, ci.recv_buffer
                ));
            }
            if ci.send_queued > ci.send_buffer {
                return Err(format!(
                    "{:?}: {} bytes unsent > send_buffer {}",
                    ci.id, ci.send_queued, ci.send_buffer
                ));
            }
            if ci.rcv_wnd as usize > ci.recv_buffer {
                return Err(format!("{:?}: RCV.WND {} > buffer", ci.id, ci.rcv_wnd));
            }
            if ci.cwnd == 0 {
                return Err(format!("{:?}: cwnd 0", ci.id));
            }
            if ci.rto > cfg.rto_max {
                return Err(format!("{:?}: RTO {:?} > rto_max", ci.id, ci.rto));
            }
            if ci.state == State::TimeWait && (ci.send_queued != 0) {
                return Err(format!("{:?}: TIME-WAIT with unsent data", ci.id));
            }
        }
        Ok(())
    }
}

fn dst_is(pkt: &[u8], ip: Ipv4Addr) -> bool {
    pkt.len() >= 20 && pkt[0] >> 4 == 4 && pkt[16..20] == ip.octets()
}
