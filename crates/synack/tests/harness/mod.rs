//! A packetdrill-like harness for the connection machine.
//!
//! One [`Stack`] under test lives at 198.18.0.1 (IPv6: 2001:db8::1); a scripted peer at
//! 198.18.0.2 (2001:db8::2) is played by the test itself. Time is virtual: nothing happens
//! unless the test moves the clock ([`Tcp::run_until`]), and every segment the stack sends is
//! recorded with the time it was sent.
//!
//! ```text
//! let mut t = Tcp::v4();
//! t.listen();
//! let irs = t.peer_isn;
//! t.inject(SYN).seq(irs).mss(1460);                          // peer: SYN
//! let iss = t.expect(SYN | ACK).ack(irs + 1).seq_any();      // stack: SYN,ACK
//! t.inject(ACK).seq(irs + 1).ack(iss + 1).at(ms(10));        // peer: ACK at 10 ms
//! t.accept().unwrap();
//! t.assert_state(State::Established);
//! t.run_until(secs(1));                                      // timers run on the way
//! t.expect_nothing();
//! ```
//!
//! The builders borrow the harness mutably, so values read from it (`t.iss`, `t.peer_isn`)
//! are bound to locals first. Sequence numbers are absolute (`SeqNum` or `u32`), written
//! relative to the ISNs as the RFC's ladder diagrams do.
//!
//! An injected segment is built by [`Tcp::inject`] and sent when the builder is dropped (at
//! the end of the statement), at the time given with `.at(..)` or now. [`Tcp::expect`] takes
//! the oldest segment the stack has sent and not yet been checked, asserts its flags, and
//! returns a checker whose methods assert one field each.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub use synack::wire::{self, SackBlock, TcpFlags, TcpHeader, TcpOptions, Timestamps};
pub use synack::*;

pub const FIN: TcpFlags = TcpFlags::FIN;
pub const SYN: TcpFlags = TcpFlags::SYN;
pub const RST: TcpFlags = TcpFlags::RST;
pub const PSH: TcpFlags = TcpFlags::PSH;
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const URG: TcpFlags = TcpFlags::URG;
pub const NONE: TcpFlags = TcpFlags::NONE;

/// Port the stack listens on in passive tests, and connects to in active ones' peer.
pub const SERVER_PORT: u16 = 8080;
/// Port of the other end.
pub const CLIENT_PORT: u16 = 40000;
/// The peer's ISN unless a test picks another.
pub const PEER_ISN: u32 = 1_000_000;
/// Base of the peer's timestamp clock (TSval = base + now in ms).
pub const PEER_TS_BASE: u32 = 5_000_000;

pub fn us(n: u64) -> Instant {
    Instant::from_micros(n)
}
pub fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}
pub fn secs(n: u64) -> Instant {
    Instant::from_secs(n)
}
pub fn dms(n: u64) -> Duration {
    Duration::from_millis(n)
}
pub fn dsecs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Anything a test writes where a sequence number goes.
pub trait AsSeq {
    fn as_seq(&self) -> SeqNum;
}
impl AsSeq for SeqNum {
    fn as_seq(&self) -> SeqNum {
        *self
    }
}
impl AsSeq for u32 {
    fn as_seq(&self) -> SeqNum {
        SeqNum(*self)
    }
}

/// Options carried by a SYN or SYN,ACK of the scripted peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOpts {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: bool,
}

impl SynOpts {
    /// No options at all.
    pub const NONE: SynOpts = SynOpts {
        mss: None,
        wscale: None,
        sack_ok: false,
        ts: false,
    };
    /// Only an MSS option: the simplest modern SYN; no scaling, timestamps or SACK.
    pub fn mss(mss: u16) -> SynOpts {
        SynOpts {
            mss: Some(mss),
            ..SynOpts::NONE
        }
    }
    /// What Linux sends: MSS 1460, SACK-permitted, timestamps, window scale 7.
    pub fn linux() -> SynOpts {
        SynOpts {
            mss: Some(1460),
            wscale: Some(7),
            sack_ok: true,
            ts: true,
        }
    }
    pub fn with_wscale(mut self, s: u8) -> SynOpts {
        self.wscale = Some(s);
        self
    }
    pub fn with_ts(mut self) -> SynOpts {
        self.ts = true;
        self
    }
    pub fn with_sack(mut self) -> SynOpts {
        self.sack_ok = true;
        self
    }
}

/// One segment the stack sent, as parsed back with `wire::parse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Virtual time at which the stack handed it out.
    pub at: Instant,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub hop_limit: u8,
    /// The DSCP of its IP header.
    pub dscp: Dscp,
    /// Its ECN field (RFC 3168: 0 Not-ECT, 0b10 ECT(0), 0b01 ECT(1), 0b11 CE).
    pub ecn: u8,
    pub hdr: TcpHeader,
    /// The option bytes exactly as on the wire.
    pub raw_options: Vec<u8>,
    pub payload: Vec<u8>,
    /// The whole IP packet.
    pub bytes: Vec<u8>,
}

impl Seg {
    pub fn flags(&self) -> TcpFlags {
        self.hdr.flags
    }
    pub fn seq(&self) -> SeqNum {
        self.hdr.seq
    }
    pub fn ack(&self) -> SeqNum {
        self.hdr.ack
    }
    pub fn win(&self) -> u16 {
        self.hdr.window
    }
    pub fn opts(&self) -> &TcpOptions {
        &self.hdr.options
    }
    /// SEG.LEN: payload plus SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + self.hdr.flags.syn() as u32 + self.hdr.flags.fin() as u32
    }
    pub fn end(&self) -> SeqNum {
        self.hdr.seq + self.seg_len()
    }
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.hdr.options;
        write!(
            f,
            "{} > {} {} seq={} ack={} win={} len={}",
            self.at,
            self.dst,
            self.hdr.flags,
            self.hdr.seq,
            self.hdr.ack,
            self.hdr.window,
            self.payload.len()
        )?;
        if let Some(m) = o.mss {
            write!(f, " mss={m}")?;
        }
        if let Some(w) = o.window_scale {
            write!(f, " ws={w}")?;
        }
        if o.sack_permitted {
            write!(f, " sackOK")?;
        }
        if let Some(ts) = o.timestamps {
            write!(f, " TS val {} ecr {}", ts.tsval, ts.tsecr)?;
        }
        for b in o.sacks() {
            write!(f, " sack {}-{}", b.left, b.right)?;
        }
        Ok(())
    }
}

/// The harness: the stack under test plus the scripted peer's bookkeeping.
pub struct Tcp {
    pub stack: Stack,
    pub now: Instant,
    /// The stack's end of the connection under test.
    pub local: SocketAddr,
    /// The scripted peer's end.
    pub remote: SocketAddr,
    /// The stack's ISN, once it has sent its SYN or SYN,ACK.
    pub iss: SeqNum,
    /// The peer's ISN.
    pub peer_isn: SeqNum,
    /// The connection under test (the first one the stack reported).
    pub conn: Option<ConnId>,
    pub listener: Option<ListenerId>,
    /// The peer adds timestamps to what it injects (set when the handshake agreed on them).
    pub peer_ts: bool,
    /// The stack's timestamp offset (TSval - now in ms), learned from its SYN or SYN,ACK.
    pub stack_ts_offset: Option<u32>,
    /// The last TSval the stack sent (what the peer echoes).
    pub last_stack_tsval: u32,
    /// Next sequence number the peer sends by default.
    pub peer_nxt: SeqNum,
    /// Highest sequence number the stack has sent + 1 (the peer's default ACK).
    pub stack_nxt: SeqNum,
    /// Segments sent and not yet checked.
    out: VecDeque<Seg>,
    /// Every segment ever sent, for failure messages.
    pub log: Vec<Seg>,
    /// Every event ever reported.
    pub events: Vec<Event>,
    events_seen: usize,
    /// Packets built with `.hold()`, waiting for [`Tcp::deliver_held`].
    held: Vec<Vec<u8>>,
}

impl Tcp {
    pub fn v4() -> Tcp {
        Tcp::with_config(Config::with_secret([7; 16]))
    }
    pub fn v6() -> Tcp {
        Tcp::v6_with_config(Config::with_secret([7; 16]))
    }
    pub fn config() -> Config {
        Config::with_secret([7; 16])
    }
    pub fn with_config(config: Config) -> Tcp {
        Tcp::build(config, "198.18.0.1", "198.18.0.2")
    }
    pub fn v6_with_config(config: Config) -> Tcp {
        Tcp::build(config, "2001:db8::1", "2001:db8::2")
    }
    /// The stack at address `ours`, the scripted peer at `peer` (e.g. loopback addresses).
    pub fn with_addrs(config: Config, ours: &str, peer: &str) -> Tcp {
        Tcp::build(config, ours, peer)
    }

    fn build(config: Config, ours: &str, peer: &str) -> Tcp {
        let ours: IpAddr = ours.parse().unwrap();
        let peer: IpAddr = peer.parse().unwrap();
        let mut stack = Stack::new(config);
        stack.add_address(ours);
        Tcp {
            stack,
            now: Instant::ZERO,
            local: SocketAddr::new(ours, SERVER_PORT),
            remote: SocketAddr::new(peer, CLIENT_PORT),
            iss: SeqNum(0),
            peer_isn: SeqNum(PEER_ISN),
            conn: None,
            listener: None,
            peer_ts: false,
            stack_ts_offset: None,
            last_stack_tsval: 0,
            peer_nxt: SeqNum(PEER_ISN),
            stack_nxt: SeqNum(0),
            out: VecDeque::new(),
            log: Vec::new(),
            events: Vec::new(),
            events_seen: 0,
            held: Vec::new(),
        }
    }

    /// The connection under test.
    pub fn c(&self) -> ConnId {
        self.conn.expect("no connection yet")
    }

    pub fn is_v6(&self) -> bool {
        self.local.is_ipv6()
    }

    // ----- the stack's side: user calls ----------------------------------------------

    /// Passive OPEN on the server port of our address.
    pub fn listen(&mut self) -> ListenerId {
        let l = self.stack.listen(self.local, 16).expect("listen");
        self.listener = Some(l);
        l
    }

    /// Active OPEN from CLIENT_PORT to the peer's SERVER_PORT. The stack sends its SYN now.
    pub fn connect(&mut self) -> ConnId {
        self.local = SocketAddr::new(self.local.ip(), CLIENT_PORT);
        self.remote = SocketAddr::new(self.remote.ip(), SERVER_PORT);
        let c = self
            .stack
            .connect(self.now, Some(self.local), self.remote)
            .expect("connect");
        self.conn = Some(c);
        self.flush();
        c
    }

    pub fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        let r = self.stack.send(self.now, self.c(), data);
        self.flush();
        r
    }
    pub fn recv(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; max];
        let r = self.stack.recv(self.now, self.c(), &mut buf);
        self.flush();
        r.map(|n| buf[..n].to_vec())
    }
    /// Read everything readable now.
    pub fn read_all(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Ok(v) = self.recv(1 << 16) {
            if v.is_empty() {
                break;
            }
            all.extend(v);
        }
        all
    }
    pub fn shutdown(&mut self) -> Result<(), Error> {
        let r = self.stack.shutdown(self.now, self.c());
        self.flush();
        r
    }
    pub fn close(&mut self) -> Result<(), Error> {
        let r = self.stack.close(self.now, self.c());
        self.flush();
        r
    }
    pub fn abort(&mut self) -> Result<(), Error> {
        let r = self.stack.abort(self.now, self.c());
        self.flush();
        r
    }
    pub fn accept(&mut self) -> Option<ConnId> {
        let c = self.stack.accept(self.listener.expect("not listening"));
        if let Some(c) = c {
            self.conn = Some(c);
        }
        self.flush();
        c
    }

    pub fn state(&self) -> Option<State> {
        self.conn.and_then(|c| self.stack.state(c))
    }
    #[track_caller]
    pub fn assert_state(&self, s: State) {
        assert_eq!(
            self.state(),
            Some(s),
            "state of {:?}\n{}",
            self.conn,
            self.trace()
        );
    }
    /// The connection's TCB is gone.
    #[track_caller]
    pub fn assert_gone(&self) {
        assert_eq!(self.state(), None, "TCB still held\n{}", self.trace());
    }
    pub fn status(&self) -> ConnInfo {
        self.stack.status(self.c()).expect("no such connection")
    }
    pub fn counters(&self) -> &Counters {
        self.stack.counters()
    }

    // ----- time ------------------------------------------------------------------------

    /// Run every timer due up to `until` (in order, each at its own time), then set the
    /// clock to `until`. Segments sent on the way carry their send time.
    pub fn run_until(&mut self, until: Instant) {
        assert!(
            until >= self.now,
            "time runs forward: {} < {}",
            until,
            self.now
        );
        self.flush();
        let mut guard = 0;
        while let Some(at) = self.stack.poll_timeout() {
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            self.stack.handle_timeout(self.now);
            self.flush();
            guard += 1;
            assert!(guard < 1_000_000, "timers never settle");
        }
        self.now = until;
    }
    /// Run timers until the stack sends something, at most until `limit`; that segment
    /// (unchecked ones sent earlier come first).
    #[track_caller]
    pub fn run_until_sent(&mut self, limit: Instant) -> Seg {
        self.flush();
        while self.out.is_empty() {
            match self.stack.poll_timeout() {
                Some(at) if at <= limit => {
                    self.now = self.now.max(at);
                    self.stack.handle_timeout(self.now);
                    self.flush();
                }
                _ => panic!("nothing sent by {limit}\n{}", self.trace()),
            }
        }
        self.out.pop_front().unwrap()
    }

    /// Run timers for `d` from now.
    pub fn advance(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    // ----- segments out ----------------------------------------------------------------

    /// Collect what the stack has to send now, and its events.
    pub fn flush(&mut self) {
        let mut buf = vec![0u8; 70_000];
        let mut guard = 0;
        while let Some(n) = self.stack.poll_transmit(self.now, &mut buf) {
            let seg = self.decode(&buf[..n]);
            if let Some(ts) = seg.hdr.options.timestamps {
                self.last_stack_tsval = ts.tsval;
                if seg.hdr.flags.syn() && self.stack_ts_offset.is_none() {
                    self.stack_ts_offset = Some(ts.tsval.wrapping_sub(self.now.as_millis() as u32));
                }
            }
            if seg.hdr.flags.syn() {
                self.iss = seg.hdr.seq;
            }
            if !seg.hdr.flags.rst() && (seg.end().gt(self.stack_nxt) || self.stack_nxt == SeqNum(0))
            {
                self.stack_nxt = seg.end();
            }
            self.log.push(seg.clone());
            self.out.push_back(seg);
            guard += 1;
            assert!(guard < 100_000, "poll_transmit never runs dry");
        }
        while let Some(e) = self.stack.poll_event() {
            if self.conn.is_none() {
                if let Event::StateChanged { conn, .. } = e {
                    self.conn = Some(conn);
                }
            }
            self.events.push(e);
        }
    }

    fn decode(&self, bytes: &[u8]) -> Seg {
        let p = wire::parse(bytes).expect("the stack sent a packet wire::parse rejects");
        let ip_len = if bytes[0] >> 4 == 4 { 20 } else { 40 };
        let doff = (bytes[ip_len + 12] >> 4) as usize * 4;
        Seg {
            at: self.now,
            src: SocketAddr::new(p.src, p.tcp.src_port),
            dst: SocketAddr::new(p.dst, p.tcp.dst_port),
            hop_limit: p.hop_limit,
            dscp: Dscp::from_traffic_class(p.traffic_class),
            ecn: p.traffic_class & 3,
            hdr: p.tcp,
            raw_options: bytes[ip_len + 20..ip_len + doff].to_vec(),
            payload: p.payload.to_vec(),
            bytes: bytes.to_vec(),
        }
    }

    /// Take the oldest unchecked segment the stack sent and assert its flags exactly.
    #[track_caller]
    pub fn expect(&mut self, flags: TcpFlags) -> Expect<'_> {
        self.flush();
        let seg = match self.out.pop_front() {
            Some(s) => s,
            None => panic!(
                "expected {flags} at {} but the stack sent nothing\n{}",
                self.now,
                self.trace()
            ),
        };
        assert_eq!(
            seg.hdr.flags,
            flags,
            "flags of segment {seg}\n{}",
            self.trace()
        );
        Expect { t: self, seg }
    }

    /// Take the oldest unchecked segment, whatever it is.
    #[track_caller]
    pub fn next_seg(&mut self) -> Seg {
        self.flush();
        match self.out.pop_front() {
            Some(s) => s,
            None => panic!("expected a segment at {}\n{}", self.now, self.trace()),
        }
    }

    /// Every unchecked segment, oldest first.
    pub fn take_sent(&mut self) -> Vec<Seg> {
        self.flush();
        self.out.drain(..).collect()
    }

    /// Assert the stack has sent nothing that was not yet checked.
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        self.flush();
        if let Some(s) = self.out.front() {
            panic!(
                "expected silence at {} but the stack sent {s}\n{}",
                self.now,
                self.trace()
            );
        }
    }

    /// Segments and transitions so far, for failure messages.
    pub fn trace(&self) -> String {
        let mut s = String::from("--- segments sent by the stack:\n");
        for seg in &self.log {
            s += &format!("  {seg}\n");
        }
        s += "--- events:\n";
        for e in &self.events {
            s += &format!("  {e:?}\n");
        }
        s
    }

    // ----- events ----------------------------------------------------------------------

    /// Events reported since the last call.
    pub fn new_events(&mut self) -> Vec<Event> {
        self.flush();
        let v = self.events[self.events_seen..].to_vec();
        self.events_seen = self.events.len();
        v
    }
    /// State transitions of the connection under test, in order.
    pub fn transitions(&self) -> Vec<(State, State)> {
        self.events
            .iter()
            .filter_map(|e| match *e {
                Event::StateChanged { conn, from, to, .. } if Some(conn) == self.conn => {
                    Some((from, to))
                }
                _ => None,
            })
            .collect()
    }
    /// The `Closed` reason reported for the connection under test, if any.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.events.iter().find_map(|e| match *e {
            Event::Closed { conn, reason } if Some(conn) == self.conn => Some(reason),
            _ => None,
        })
    }
    /// Whether an event was ever reported.
    pub fn saw(&self, e: Event) -> bool {
        self.events.contains(&e)
    }

    // ----- segments in -----------------------------------------------------------------

    /// Build a segment from the peer; it is injected when the builder is dropped. Defaults:
    /// seq = the peer's next sequence number, ack = the stack's highest sequence sent + 1,
    /// window 65535, no payload, timestamps if the handshake agreed on them.
    pub fn inject(&mut self, flags: TcpFlags) -> Inject<'_> {
        let hdr = TcpHeader {
            src_port: self.remote.port(),
            dst_port: self.local.port(),
            seq: self.peer_nxt,
            ack: if flags.ack() {
                self.stack_nxt
            } else {
                SeqNum(0)
            },
            flags,
            window: 65535,
            urgent: 0,
            options: TcpOptions::default(),
        };
        Inject {
            src: self.remote.ip(),
            dst: self.local.ip(),
            at: None,
            hdr,
            payload: Vec::new(),
            auto_ts: self.peer_ts,
            corrupt: false,
            raw_options: None,
            hold: false,
            traffic_class: 0,
            t: self,
        }
    }

    /// Hand every held packet to the stack in one burst, and only then collect what it
    /// sends (an rx batch, as a driver reading several packets at once would).
    pub fn deliver_held(&mut self) {
        for p in std::mem::take(&mut self.held) {
            self.stack.handle_packet(self.now, &p);
        }
        self.flush();
    }

    /// Take the held packets (built with `.hold()`) to tamper with before `inject_raw`.
    pub fn take_held(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.held)
    }

    /// Hand raw bytes to the stack at the current time.
    pub fn inject_raw(&mut self, bytes: &[u8]) {
        self.stack.handle_packet(self.now, bytes);
        self.flush();
    }

    /// The peer's timestamp clock now.
    pub fn peer_tsval(&self) -> u32 {
        PEER_TS_BASE.wrapping_add(self.now.as_millis() as u32)
    }
    /// The TSval the stack's clock gives at `at`.
    pub fn stack_tsval(&self, at: Instant) -> u32 {
        self.stack_ts_offset
            .expect("no timestamp seen from the stack")
            .wrapping_add(at.as_millis() as u32)
    }

    // ----- handshakes ------------------------------------------------------------------

    /// Passive open with a peer SYN carrying `opts`, completed by the third ACK and
    /// accepted. Checks the SYN,ACK's flags and ack; returns the stack's ISS.
    #[track_caller]
    pub fn establish_passive_with(&mut self, opts: SynOpts) -> SeqNum {
        self.listen();
        let isn = self.peer_isn;
        self.peer_nxt = isn;
        self.inject(SYN).seq(isn).opts(opts);
        let synack = self.expect(SYN | ACK).ack(isn + 1).seg();
        self.iss = synack.hdr.seq;
        self.peer_ts = opts.ts && synack.hdr.options.timestamps.is_some();
        let wnd = Self::peer_window_field(opts);
        let iss = self.iss;
        self.inject(ACK).seq(isn + 1).ack(iss + 1).win(wnd);
        let c = self.accept().expect("connection in the accept queue");
        self.conn = Some(c);
        self.assert_state(State::Established);
        self.expect_nothing();
        self.iss
    }

    /// Passive open, peer SYN with only MSS 1460 (no scaling, timestamps or SACK).
    #[track_caller]
    pub fn establish_passive(&mut self) -> SeqNum {
        self.establish_passive_with(SynOpts::mss(1460))
    }

    /// Active open answered by a SYN,ACK carrying `opts`; checks the stack's ACK.
    /// Returns the stack's ISS.
    #[track_caller]
    pub fn establish_active_with(&mut self, opts: SynOpts) -> SeqNum {
        self.connect();
        let syn = self.expect(SYN).seg();
        self.iss = syn.hdr.seq;
        let isn = self.peer_isn;
        self.peer_nxt = isn;
        let wnd = Self::peer_window_field(opts);
        let iss = self.iss;
        self.inject(SYN | ACK)
            .seq(isn)
            .ack(iss + 1)
            .opts(opts)
            .win(wnd.max(1));
        self.peer_ts = opts.ts && syn.hdr.options.timestamps.is_some();
        self.expect(ACK).seq(iss + 1).ack(isn + 1).len(0);
        self.assert_state(State::Established);
        self.expect_nothing();
        self.iss
    }

    #[track_caller]
    pub fn establish_active(&mut self) -> SeqNum {
        self.establish_active_with(SynOpts::mss(1460))
    }

    /// A passive connection (plain options) driven into `state` by the usual segments, the
    /// application keeping its handle (CLOSE is `shutdown`). Afterwards `t.iss` and
    /// `t.peer_isn` are the ISNs; our FIN, if sent, is at ISS+1, the peer's at IRS+1.
    #[track_caller]
    pub fn establish_in(&mut self, state: State) {
        let iss = self.establish_passive();
        let irs = self.peer_isn;
        match state {
            State::Established => {}
            State::FinWait1 | State::FinWait2 | State::Closing | State::TimeWait => {
                self.shutdown().unwrap();
                self.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
                match state {
                    State::FinWait2 => {
                        self.inject(ACK).seq(irs + 1).ack(iss + 2);
                    }
                    State::Closing => {
                        self.inject(FIN | ACK).seq(irs + 1).ack(iss + 1);
                        self.expect(ACK).seq(iss + 2).ack(irs + 2);
                    }
                    State::TimeWait => {
                        self.inject(ACK).seq(irs + 1).ack(iss + 2);
                        self.inject(FIN | ACK).seq(irs + 1).ack(iss + 2);
                        self.expect(ACK).seq(iss + 2).ack(irs + 2);
                    }
                    _ => {}
                }
            }
            State::CloseWait | State::LastAck => {
                self.inject(FIN | ACK).seq(irs + 1).ack(iss + 1);
                self.expect(ACK).seq(iss + 1).ack(irs + 2);
                if state == State::LastAck {
                    self.shutdown().unwrap();
                    self.expect(FIN | ACK).seq(iss + 1).ack(irs + 2);
                }
            }
            s => panic!("establish_in({s:?}) is not a synchronized state"),
        }
        self.assert_state(state);
        self.expect_nothing();
        self.new_events();
    }

    /// Our SND.NXT and RCV.NXT after [`Tcp::establish_in`]`(state)`.
    pub fn nxt_in(&self, state: State) -> (SeqNum, SeqNum) {
        let (iss, irs) = (self.iss, self.peer_isn);
        let ours = matches!(
            state,
            State::FinWait1 | State::FinWait2 | State::Closing | State::TimeWait | State::LastAck
        );
        let theirs = matches!(
            state,
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        );
        (iss + 1 + ours as u32, irs + 1 + theirs as u32)
    }

    /// The window field the peer sends after the handshake: 64 KiB whatever its scale.
    fn peer_window_field(opts: SynOpts) -> u16 {
        match opts.wscale {
            Some(s) if s > 0 => (65535u32 >> s.min(14)).max(1) as u16,
            _ => 65535,
        }
    }
}

/// A segment being built by the peer; injected on drop.
pub struct Inject<'a> {
    t: &'a mut Tcp,
    src: IpAddr,
    dst: IpAddr,
    at: Option<Instant>,
    hdr: TcpHeader,
    payload: Vec<u8>,
    auto_ts: bool,
    corrupt: bool,
    raw_options: Option<Vec<u8>>,
    hold: bool,
    /// The IP TOS / Traffic Class byte.
    traffic_class: u8,
}

impl Inject<'_> {
    /// Send it with this DSCP in the IP header (default 0).
    pub fn dscp(mut self, d: u8) -> Self {
        let d = Dscp::new(d).expect("a DSCP has six bits");
        self.traffic_class = d.traffic_class() | (self.traffic_class & 3);
        self
    }
    /// Send it marked Congestion Experienced (ECN field 0b11, RFC 3168).
    pub fn ce(mut self) -> Self {
        self.traffic_class |= 0b11;
        self
    }
    pub fn seq(mut self, s: impl AsSeq) -> Self {
        self.hdr.seq = s.as_seq();
        self
    }
    pub fn ack(mut self, a: impl AsSeq) -> Self {
        self.hdr.ack = a.as_seq();
        self
    }
    /// The raw 16-bit window field.
    pub fn win(mut self, w: u16) -> Self {
        self.hdr.window = w;
        self
    }
    pub fn urgent(mut self, up: u16) -> Self {
        self.hdr.urgent = up;
        self
    }
    pub fn payload(mut self, p: &[u8]) -> Self {
        self.payload = p.to_vec();
        self
    }
    /// `n` bytes of filler data.
    pub fn len(mut self, n: usize) -> Self {
        self.payload = (0..n).map(|i| (i % 251) as u8).collect();
        self
    }
    /// SYN options (timestamps: TSval from the peer clock, TSecr 0 or the stack's last).
    pub fn opts(mut self, o: SynOpts) -> Self {
        self.hdr.options.mss = o.mss;
        self.hdr.options.window_scale = o.wscale;
        self.hdr.options.sack_permitted = o.sack_ok;
        self.auto_ts = o.ts;
        self
    }
    /// Explicit options (replaces all).
    pub fn options(mut self, o: TcpOptions) -> Self {
        self.hdr.options = o;
        self.auto_ts = false;
        self
    }
    /// An explicit Timestamps option.
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> Self {
        self.hdr.options.timestamps = Some(Timestamps { tsval, tsecr });
        self.auto_ts = false;
        self
    }
    /// No Timestamps option even if the connection uses them.
    pub fn no_ts(mut self) -> Self {
        self.hdr.options.timestamps = None;
        self.auto_ts = false;
        self
    }
    pub fn mss(mut self, m: u16) -> Self {
        self.hdr.options.mss = Some(m);
        self
    }
    pub fn sack(mut self, blocks: &[(SeqNum, SeqNum)]) -> Self {
        for &(left, right) in blocks {
            self.hdr.options.push_sack(SackBlock { left, right });
        }
        self
    }
    pub fn src_ip(mut self, ip: &str) -> Self {
        self.src = ip.parse().unwrap();
        self
    }
    pub fn dst_ip(mut self, ip: &str) -> Self {
        self.dst = ip.parse().unwrap();
        self
    }
    pub fn src_port(mut self, p: u16) -> Self {
        self.hdr.src_port = p;
        self
    }
    pub fn dst_port(mut self, p: u16) -> Self {
        self.hdr.dst_port = p;
        self
    }
    /// Inject at this virtual time (timers up to it run first).
    pub fn at(mut self, at: Instant) -> Self {
        self.at = Some(at);
        self
    }
    /// Put exactly these option bytes on the wire (replacing any options; padded with
    /// zeros to a multiple of 4 bytes).
    pub fn raw_options(mut self, bytes: &[u8]) -> Self {
        self.raw_options = Some(bytes.to_vec());
        self.hdr.options = TcpOptions::default();
        self.auto_ts = false;
        self
    }
    /// Do not inject yet: keep the packet for [`Tcp::deliver_held`].
    pub fn hold(mut self) -> Self {
        self.hold = true;
        self
    }
    /// Flip a checksum bit before injecting.
    pub fn bad_checksum(mut self) -> Self {
        self.corrupt = true;
        self
    }
}

impl Drop for Inject<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(at) = self.at {
            self.t.run_until(at);
        }
        if self.auto_ts {
            self.hdr.options.timestamps = Some(Timestamps {
                tsval: self.t.peer_tsval(),
                tsecr: if self.hdr.flags.ack() {
                    self.t.last_stack_tsval
                } else {
                    0
                },
            });
        }
        let mut buf = vec![0u8; 70_000];
        let ip = wire::IpOut {
            hop_limit: 64,
            traffic_class: self.traffic_class,
        };
        let payload = (&self.payload[..], &[][..]);
        let mut n = wire::emit_parts(self.src, self.dst, ip, &self.hdr, payload, &mut buf)
            .expect("emit the peer's segment");
        if let Some(raw) = &self.raw_options {
            n = splice_options(self.src, self.dst, &mut buf, n, raw);
        }
        if self.corrupt {
            // The TCP checksum field sits 16 bytes into the TCP header.
            let ip_len = if self.src.is_ipv4() { 20 } else { 40 };
            buf[ip_len + 16] ^= 0x01;
        }
        let end = self.hdr.seq
            + self.payload.len() as u32
            + self.hdr.flags.syn() as u32
            + self.hdr.flags.fin() as u32;
        if !self.hdr.flags.rst() && end.gt(self.t.peer_nxt) {
            self.t.peer_nxt = end;
        }
        if self.hold {
            self.t.held.push(buf[..n].to_vec());
            return;
        }
        self.t.stack.handle_packet(self.t.now, &buf[..n]);
        self.t.flush();
    }
}

/// Rebuild the option-less packet in `buf[..n]` with `raw` as its TCP options; returns the
/// new length. Lengths and both checksums are recomputed.
fn splice_options(src: IpAddr, dst: IpAddr, buf: &mut [u8], n: usize, raw: &[u8]) -> usize {
    let ip_len = if src.is_ipv4() { 20 } else { 40 };
    let mut opts = raw.to_vec();
    while opts.len() & 3 != 0 {
        opts.push(0);
    }
    assert!(opts.len() <= 40, "at most 40 option bytes");
    let mut tcp = buf[ip_len..ip_len + 20].to_vec();
    tcp.extend_from_slice(&opts);
    tcp.extend_from_slice(&buf[ip_len + 20..n]);
    tcp[12] = (((20 + opts.len()) / 4) as u8) << 4;
    tcp[16] = 0;
    tcp[17] = 0;
    let sum = wire::checksum::tcp_checksum(src, dst, &tcp);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    buf[ip_len..ip_len + tcp.len()].copy_from_slice(&tcp);
    let total = ip_len + tcp.len();
    if src.is_ipv4() {
        buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        buf[10] = 0;
        buf[11] = 0;
        let sum = wire::checksum::checksum(&buf[..20]);
        buf[10..12].copy_from_slice(&sum.to_be_bytes());
    } else {
        buf[4..6].copy_from_slice(&(tcp.len() as u16).to_be_bytes());
    }
    total
}

/// Checks on one segment the stack sent; each method asserts one field.
pub struct Expect<'a> {
    t: &'a mut Tcp,
    seg: Seg,
}

impl Expect<'_> {
    fn fail(&self, what: &str) -> String {
        format!("{what} of segment {}\n{}", self.seg, self.t.trace())
    }
    #[track_caller]
    pub fn seq(self, s: impl AsSeq) -> Self {
        assert_eq!(self.seg.hdr.seq, s.as_seq(), "{}", self.fail("seq"));
        self
    }
    #[track_caller]
    pub fn ack(self, a: impl AsSeq) -> Self {
        assert_eq!(self.seg.hdr.ack, a.as_seq(), "{}", self.fail("ack"));
        self
    }
    /// The raw window field.
    #[track_caller]
    pub fn win(self, w: u16) -> Self {
        assert_eq!(self.seg.hdr.window, w, "{}", self.fail("window"));
        self
    }
    #[track_caller]
    pub fn payload(self, p: &[u8]) -> Self {
        assert_eq!(self.seg.payload, p, "{}", self.fail("payload"));
        self
    }
    #[track_caller]
    pub fn len(self, n: usize) -> Self {
        assert_eq!(self.seg.payload.len(), n, "{}", self.fail("payload length"));
        self
    }
    /// Sent at exactly this virtual time.
    #[track_caller]
    pub fn at(self, at: Instant) -> Self {
        assert_eq!(self.seg.at, at, "{}", self.fail("send time"));
        self
    }
    #[track_caller]
    pub fn no_options(self) -> Self {
        assert!(self.seg.raw_options.is_empty(), "{}", self.fail("options"));
        self
    }
    /// The option bytes exactly as on the wire.
    #[track_caller]
    pub fn raw_options(self, bytes: &[u8]) -> Self {
        assert_eq!(self.seg.raw_options, bytes, "{}", self.fail("option bytes"));
        self
    }
    #[track_caller]
    pub fn mss(self, m: Option<u16>) -> Self {
        assert_eq!(self.seg.hdr.options.mss, m, "{}", self.fail("MSS option"));
        self
    }
    #[track_caller]
    pub fn wscale(self, s: Option<u8>) -> Self {
        assert_eq!(
            self.seg.hdr.options.window_scale,
            s,
            "{}",
            self.fail("window scale option")
        );
        self
    }
    #[track_caller]
    pub fn sack_ok(self, yes: bool) -> Self {
        assert_eq!(
            self.seg.hdr.options.sack_permitted,
            yes,
            "{}",
            self.fail("SACK-permitted")
        );
        self
    }
    #[track_caller]
    pub fn ts(self, tsval: u32, tsecr: u32) -> Self {
        assert_eq!(
            self.seg.hdr.options.timestamps,
            Some(Timestamps { tsval, tsecr }),
            "{}",
            self.fail("timestamps")
        );
        self
    }
    #[track_caller]
    pub fn tsecr(self, tsecr: u32) -> Self {
        let got = self.seg.hdr.options.timestamps.map(|t| t.tsecr);
        assert_eq!(got, Some(tsecr), "{}", self.fail("TSecr"));
        self
    }
    #[track_caller]
    pub fn no_ts(self) -> Self {
        assert_eq!(
            self.seg.hdr.options.timestamps,
            None,
            "{}",
            self.fail("timestamps")
        );
        self
    }
    #[track_caller]
    pub fn sack(self, blocks: &[(SeqNum, SeqNum)]) -> Self {
        let got: Vec<(SeqNum, SeqNum)> = self
            .seg
            .hdr
            .options
            .sacks()
            .iter()
            .map(|b| (b.left, b.right))
            .collect();
        assert_eq!(got, blocks, "{}", self.fail("SACK blocks"));
        self
    }
    #[track_caller]
    pub fn dst(self, dst: SocketAddr) -> Self {
        assert_eq!(self.seg.dst, dst, "{}", self.fail("destination"));
        self
    }
    #[track_caller]
    pub fn src(self, src: SocketAddr) -> Self {
        assert_eq!(self.seg.src, src, "{}", self.fail("source"));
        self
    }
    /// The segment, for checks of one's own.
    pub fn seg(self) -> Seg {
        self.seg
    }
    /// The segment's sequence number, unchecked.
    pub fn seq_any(self) -> SeqNum {
        self.seg.hdr.seq
    }
}
