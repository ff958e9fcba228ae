//! synack and smoltcp 0.14 in one process, on one in-memory link with one virtual clock: the
//! pieces shared by the interop tests (`tests/smoltcp_interop.rs`) and the benchmark binary
//! (`src/main.rs`).
//!
//! - [`link`]: the link (two packet queues, a buffer pool, seeded loss);
//! - [`host`]: a synack [`synack::Stack`] or a smoltcp interface as a [`Host`] on the link;
//! - [`Sim`]: the round-based driver and its virtual clock;
//! - [`Endpoint`]: one application connection on either stack ([`SynackEnd`], [`SmolEnd`]);
//! - [`Stream`] and [`Fnv`]: deterministic test data and its hash.

pub mod host;
pub mod link;

pub use host::{Host, LinkDevice, Side, SmolHost, SynackHost};
pub use link::Link;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use std::net::{IpAddr, SocketAddr};
use synack::{ConnId, Error, Instant, ListenerId, State};

/// The driver: a link, a virtual clock (µs) and the round structure.
///
/// One round: A takes its packets and runs its timers, A's application runs, A sends; then
/// the same for B. Between rounds the clock moves one `tick` while packets are in flight;
/// when the link is empty it jumps to the earliest timer of either host.
pub struct Sim {
    pub now: u64,
    pub link: Link,
    /// Virtual time per round while packets are in flight (µs).
    pub tick: u64,
    pub rounds: u64,
    /// Rounds after which the clock jumped to a timer (the link was empty).
    pub timer_jumps: u64,
}

impl Sim {
    pub fn new(link: Link) -> Sim {
        Sim {
            now: 0,
            link,
            tick: 10,
            rounds: 0,
            timer_jumps: 0,
        }
    }

    /// One round (see the type's documentation).
    pub fn round<A: Host, B: Host>(
        &mut self,
        a: &mut A,
        b: &mut B,
        app_a: impl FnOnce(&mut A, u64),
        app_b: impl FnOnce(&mut B, u64),
    ) {
        let now = self.now;
        a.ingress(now, &self.link);
        app_a(a, now);
        a.egress(now, &self.link);
        b.ingress(now, &self.link);
        app_b(b, now);
        b.egress(now, &self.link);
        self.rounds += 1;
    }

    /// Move the clock after a round: one tick while packets are in flight, otherwise to the
    /// earliest timer (at least one tick). False when the link is empty and neither host
    /// has a timer: nothing will happen unless an application acts.
    pub fn advance<A: Host, B: Host>(&mut self, a: &mut A, b: &mut B) -> bool {
        if !self.link.is_empty() {
            self.now += self.tick;
            return true;
        }
        let next = [a.next_timeout(self.now), b.next_timeout(self.now)]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) => {
                self.timer_jumps += 1;
                self.now = t.max(self.now + self.tick);
                true
            }
            None => {
                self.now += self.tick;
                false
            }
        }
    }
}

/// What a read returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv {
    Data(usize),
    /// Nothing to read yet.
    Nothing,
    /// The peer's FIN: no more data will come.
    Eof,
}

/// One application connection on a host, seen the same way on either stack. Unexpected
/// errors (a reset, a refused connection) panic with the stack's own words, so a test
/// fails saying what happened.
pub trait Endpoint: Host {
    /// Housekeeping the application does every round: accept a pending connection, read
    /// events.
    fn poll_app(&mut self, now: u64);
    /// The connection is synchronized (data can be sent).
    fn is_established(&self) -> bool;
    /// Queue bytes; how many were taken (0 when the send buffer is full).
    fn send(&mut self, now: u64, data: &[u8]) -> usize;
    fn recv(&mut self, now: u64, buf: &mut [u8]) -> Recv;
    /// `send` through the stack's in-place API (synack `Stack::send_with`, smoltcp
    /// `tcp::Socket::send`): the application copies a prefix of `data` straight into the
    /// free contiguous part of the stack's send buffer, in one call. How many bytes were
    /// taken (0 when the buffer is full).
    fn send_in_place(&mut self, now: u64, data: &[u8]) -> usize;
    /// `recv` through the stack's in-place API (synack `Stack::recv_with`, smoltcp
    /// `tcp::Socket::recv`): `consume` sees the readable bytes where they lie in the stack's
    /// receive buffer (the contiguous part; a second call gets what wraps), and all it saw
    /// is consumed. `Recv::Data(n)`: it saw `n` bytes.
    fn recv_in_place(&mut self, now: u64, consume: &mut impl FnMut(&[u8])) -> Recv;
    /// No more sends: FIN after the queued data. Receiving goes on.
    fn shutdown(&mut self, now: u64);
    /// The application is done with the connection (after shutdown and end of stream).
    fn release(&mut self, now: u64);
    /// The connection has reached CLOSED (TIME-WAIT over, or the last ACK received).
    fn is_closed(&self) -> bool;
    /// State and counters for failure messages.
    fn describe(&self) -> String;
}

/// A synack connection: active (`client`) or passive (`server`, accepted from a listener).
pub struct SynackEnd {
    pub host: SynackHost,
    pub conn: Option<ConnId>,
    pub listener: Option<ListenerId>,
    /// Every event the stack reported for this connection (for failure messages).
    pub events: Vec<String>,
    released: bool,
}

impl SynackEnd {
    /// Connect from `side` to the other side's `port` (ephemeral local port).
    pub fn client(host: SynackHost, now: u64, port: u16) -> SynackEnd {
        let mut host = host;
        let remote = SocketAddr::new(IpAddr::V4(host.side.peer().ip()), port);
        let conn = host
            .stack
            .connect(Instant::from_micros(now), None, remote)
            .expect("synack connect");
        SynackEnd {
            host,
            conn: Some(conn),
            listener: None,
            events: Vec::new(),
            released: false,
        }
    }

    /// Listen on `port` of this side's address; the first connection is accepted.
    pub fn server(host: SynackHost, port: u16) -> SynackEnd {
        let mut host = host;
        let local = SocketAddr::new(IpAddr::V4(host.side.ip()), port);
        let l = host.stack.listen(local, 16).expect("synack listen");
        SynackEnd {
            host,
            conn: None,
            listener: Some(l),
            events: Vec::new(),
            released: false,
        }
    }

    fn state(&self) -> Option<State> {
        self.conn.and_then(|c| self.host.stack.state(c))
    }
}

impl Host for SynackEnd {
    fn ingress(&mut self, now: u64, link: &Link) {
        self.host.ingress(now, link)
    }
    fn egress(&mut self, now: u64, link: &Link) {
        self.host.egress(now, link)
    }
    fn next_timeout(&mut self, now: u64) -> Option<u64> {
        self.host.next_timeout(now)
    }
}

fn synack_fail(what: &str, e: Error, end: &SynackEnd) -> ! {
    panic!("synack {what}: {e} ({e:?}); {}", end.describe())
}

impl Endpoint for SynackEnd {
    fn poll_app(&mut self, now: u64) {
        while let Some(e) = self.host.stack.poll_event() {
            if self.events.len() < 64 {
                self.events
                    .push(format!("{} {e:?}", Instant::from_micros(now)));
            }
        }
        if self.conn.is_none() {
            if let Some(l) = self.listener {
                self.conn = self.host.stack.accept(l);
            }
        }
    }

    fn is_established(&self) -> bool {
        self.state().is_some_and(State::is_synchronized)
    }

    fn send(&mut self, now: u64, data: &[u8]) -> usize {
        let Some(c) = self.conn else { return 0 };
        match self.host.stack.send(Instant::from_micros(now), c, data) {
            Ok(n) => n,
            Err(Error::WouldBlock) => 0,
            Err(e) => synack_fail("send", e, self),
        }
    }

    fn recv(&mut self, now: u64, buf: &mut [u8]) -> Recv {
        let Some(c) = self.conn else {
            return Recv::Nothing;
        };
        match self.host.stack.recv(Instant::from_micros(now), c, buf) {
            Ok(0) => Recv::Eof,
            Ok(n) => Recv::Data(n),
            Err(Error::WouldBlock) => Recv::Nothing,
            Err(e) => synack_fail("recv", e, self),
        }
    }

    fn send_in_place(&mut self, now: u64, data: &[u8]) -> usize {
        let Some(c) = self.conn else { return 0 };
        let r = self
            .host
            .stack
            .send_with(Instant::from_micros(now), c, |buf| {
                let n = buf.len().min(data.len());
                buf[..n].copy_from_slice(&data[..n]);
                (n, n)
            });
        match r {
            Ok(n) => n,
            Err(Error::WouldBlock) => 0,
            Err(e) => synack_fail("send_with", e, self),
        }
    }

    fn recv_in_place(&mut self, now: u64, consume: &mut impl FnMut(&[u8])) -> Recv {
        let Some(c) = self.conn else {
            return Recv::Nothing;
        };
        let r = self
            .host
            .stack
            .recv_with(Instant::from_micros(now), c, |buf| {
                consume(buf);
                (buf.len(), buf.len())
            });
        match r {
            Ok(Some(n)) => Recv::Data(n),
            Ok(None) => Recv::Eof,
            Err(Error::WouldBlock) => Recv::Nothing,
            Err(e) => synack_fail("recv_with", e, self),
        }
    }

    fn shutdown(&mut self, now: u64) {
        let c = self.conn.expect("shutdown before the connection exists");
        if let Err(e) = self.host.stack.shutdown(Instant::from_micros(now), c) {
            synack_fail("shutdown", e, self)
        }
    }

    fn release(&mut self, now: u64) {
        let c = self.conn.expect("release before the connection exists");
        if !self.released {
            self.released = true;
            if let Err(e) = self.host.stack.close(Instant::from_micros(now), c) {
                synack_fail("close", e, self)
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.conn.is_some() && self.state().is_none()
    }

    fn describe(&self) -> String {
        let info = self.conn.and_then(|c| self.host.stack.status(c));
        format!(
            "synack {:?}: state {:?}, {} TCBs; {:?}; counters {:?}; events {:?}",
            self.host.side,
            self.state(),
            self.host.stack.connection_count(),
            info,
            self.host.stack.counters(),
            self.events
        )
    }
}

/// A smoltcp connection on one socket: active (`client`) or passive (`server`, the
/// listening socket becomes the connection).
pub struct SmolEnd {
    pub host: SmolHost,
    pub handle: SocketHandle,
    seen_established: bool,
}

/// smoltcp socket buffers used by the interop tests: the same size as synack's defaults.
pub const SMOL_INTEROP_BUFFER: usize = 128 * 1024;

impl SmolEnd {
    /// Connect from `local_port` to the other side's `port`, with `buf`-byte buffers.
    pub fn client(host: SmolHost, local_port: u16, port: u16, buf: usize) -> SmolEnd {
        let mut host = host;
        let handle = host.add_tcp(buf, buf);
        host.connect(handle, local_port, port);
        SmolEnd {
            host,
            handle,
            seen_established: false,
        }
    }

    /// An endpoint on a socket the caller has set up (added to `host`, then configured and
    /// opened by hand).
    pub fn from_socket(host: SmolHost, handle: SocketHandle) -> SmolEnd {
        SmolEnd {
            host,
            handle,
            seen_established: false,
        }
    }

    /// Listen on `port` with `buf`-byte buffers.
    pub fn server(host: SmolHost, port: u16, buf: usize) -> SmolEnd {
        let mut host = host;
        let handle = host.add_tcp(buf, buf);
        host.tcp(handle).listen(port).expect("smoltcp listen");
        SmolEnd {
            host,
            handle,
            seen_established: false,
        }
    }

    fn socket(&self) -> &tcp::Socket<'static> {
        self.host.sockets.get::<tcp::Socket>(self.handle)
    }

    /// What a `recv_slice` or `recv` closure call on the socket came to: nothing yet (also
    /// before the handshake is over), bytes, or the end of the stream; any other error is a
    /// harness bug and panics with the socket's state.
    fn recv_outcome(&self, r: Result<usize, tcp::RecvError>) -> Recv {
        use tcp::State::*;
        match r {
            Ok(0) => Recv::Nothing,
            Ok(n) => Recv::Data(n),
            Err(tcp::RecvError::Finished) => Recv::Eof,
            Err(e) => match self.socket().state() {
                Listen | SynSent | SynReceived => Recv::Nothing,
                st => panic!("smoltcp recv: {e:?} in {st}; {}", self.describe()),
            },
        }
    }
}

impl Host for SmolEnd {
    fn ingress(&mut self, now: u64, link: &Link) {
        self.host.ingress(now, link)
    }
    fn egress(&mut self, now: u64, link: &Link) {
        self.host.egress(now, link)
    }
    fn next_timeout(&mut self, now: u64) -> Option<u64> {
        self.host.next_timeout(now)
    }
}

impl Endpoint for SmolEnd {
    fn poll_app(&mut self, _now: u64) {
        use tcp::State::*;
        if !self.seen_established {
            self.seen_established = !matches!(
                self.socket().state(),
                Closed | Listen | SynSent | SynReceived
            );
        }
    }

    fn is_established(&self) -> bool {
        use tcp::State::*;
        !matches!(
            self.socket().state(),
            Closed | Listen | SynSent | SynReceived
        )
    }

    fn send(&mut self, _now: u64, data: &[u8]) -> usize {
        let s = self.host.tcp(self.handle);
        if !s.may_send() {
            return 0;
        }
        s.send_slice(data).unwrap_or(0)
    }

    fn recv(&mut self, _now: u64, buf: &mut [u8]) -> Recv {
        let r = self.host.tcp(self.handle).recv_slice(buf);
        self.recv_outcome(r)
    }

    fn send_in_place(&mut self, _now: u64, data: &[u8]) -> usize {
        let s = self.host.tcp(self.handle);
        if !s.may_send() {
            return 0;
        }
        s.send(|buf| {
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            (n, n)
        })
        .unwrap_or(0)
    }

    fn recv_in_place(&mut self, _now: u64, consume: &mut impl FnMut(&[u8])) -> Recv {
        let r = self.host.tcp(self.handle).recv(|buf| {
            consume(buf);
            (buf.len(), buf.len())
        });
        self.recv_outcome(r)
    }

    fn shutdown(&mut self, _now: u64) {
        self.host.tcp(self.handle).close();
    }

    fn release(&mut self, _now: u64) {
        // A smoltcp socket belongs to the application until it is removed; it finishes
        // closing in place.
    }

    fn is_closed(&self) -> bool {
        self.seen_established && self.socket().state() == tcp::State::Closed
    }

    fn describe(&self) -> String {
        let s = self.socket();
        format!(
            "smoltcp {:?}: state {}, send queue {}, recv queue {}",
            self.host.side,
            s.state(),
            s.send_queue(),
            s.recv_queue()
        )
    }
}

/// A deterministic, aperiodic byte stream (splitmix64 output), produced in chunks.
pub struct Stream {
    state: u64,
    chunk: Vec<u8>,
    off: usize,
}

impl Stream {
    pub fn new(seed: u64) -> Stream {
        let mut s = Stream {
            state: seed,
            chunk: vec![0; 64 * 1024],
            off: 0,
        };
        s.refill();
        s
    }

    fn refill(&mut self) {
        for w in self.chunk.chunks_exact_mut(8) {
            w.copy_from_slice(&link::splitmix64(&mut self.state).to_le_bytes());
        }
        self.off = 0;
    }

    /// The next unconsumed bytes (at most `max`).
    pub fn peek(&mut self, max: usize) -> &[u8] {
        if self.off == self.chunk.len() {
            self.refill();
        }
        let end = (self.off + max).min(self.chunk.len());
        &self.chunk[self.off..end]
    }

    /// Mark `n` bytes of the last `peek` consumed.
    pub fn consume(&mut self, n: usize) {
        self.off += n;
    }
}

/// FNV-1a, 64-bit: a simple hash of a byte stream, fed in pieces of any size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}
