//! Bulk-transfer experiments (`synack sim`): N concurrent connections from a client host to a
//! server host over a configurable faulty link, each carrying a known byte stream, run to the
//! end on the virtual clock; then a summary of what happened (goodput against the link's
//! capacity, bytes delivered and their hash, retransmissions, fast retransmits, timeouts, what the
//! link did to the packets, how long connections spent in each state) and, per sending side,
//! samples of SND.UNA, SND.NXT and cwnd over time for [`crate::plot`].
//!
//! The payload of every stream is a pure function of (seed, connection, direction, offset),
//! so the receiver checks every byte as it reads it, without a copy of what was sent.

use crate::app::{App, AppCtx};
use crate::json::Json;
use crate::link::LinkConfig;
use crate::record::{DropReason, EntryKind, Fate, HostId};
use crate::world::{RunOutcome, World};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;
use synack::{Algorithm, CloseReason, Config, ConnId, Duration, Error, Event, Instant, State};

/// The client's and the server's addresses, and the port the server listens on.
pub const CLIENT_ADDR: &str = "198.18.0.1";
pub const SERVER_ADDR: &str = "198.18.0.2";
pub const SERVER_PORT: u16 = 5001;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentConfig {
    /// Connections opened at once by the client.
    pub conns: usize,
    /// Bytes each connection carries in each direction it carries any.
    pub bytes: u64,
    /// false: client to server only; true: the server sends `bytes` back at the same time.
    pub both_ways: bool,
    /// Each direction of the link behaves like this (a bandwidth is per direction).
    pub link: LinkConfig,
    pub cc: Algorithm,
    /// Both hosts ask for ECN on their SYNs (RFC 3168; `Config::ecn`, otherwise Linux's
    /// default: accept, never ask). Marks come from `LinkConfig::ecn_threshold`.
    pub ecn: bool,
    pub seed: u64,
    /// Virtual time after which the run stops, finished or not.
    pub limit: Duration,
}

impl Default for ExperimentConfig {
    /// Four connections of 1 MB each over a 10 Mbit/s, 10 ms link with a 100-packet queue.
    fn default() -> Self {
        ExperimentConfig {
            conns: 4,
            bytes: 1_000_000,
            both_ways: false,
            link: LinkConfig::with_delay(Duration::from_millis(10)).bandwidth(1_250_000, Some(100)),
            cc: Algorithm::Cubic,
            ecn: false,
            seed: 1,
            limit: Duration::from_secs(600),
        }
    }
}

/// Which way bytes flow on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::Up => "up",
            Dir::Down => "down",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

// ----- the byte streams ------------------------------------------------------------------

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Key of one stream: every (seed, connection, direction) gets different bytes, so a byte
/// delivered to the wrong connection or at the wrong offset is caught.
fn stream_key(seed: u64, conn: usize, dir: Dir) -> u64 {
    splitmix(splitmix(seed) ^ ((conn as u64) << 1 | dir as u64))
}

/// The stream's bytes from `offset` on, into `buf`: eight bytes per hash of the word index,
/// so any offset can be produced (and checked) without the bytes before it.
fn fill(key: u64, offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let pos = offset + i as u64;
        *b = splitmix(key ^ (pos / 8)).to_le_bytes()[(pos % 8) as usize];
    }
}

/// FNV-1a, 64 bits: a streaming checksum of every byte sent and every byte read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

// ----- what the applications share with the runner ----------------------------------------

/// One direction of one connection, as the two applications saw it.
#[derive(Clone, Debug, Default)]
struct Flow {
    expected: u64,
    /// Bytes `send` accepted.
    sent: u64,
    /// Bytes the receiving application read.
    delivered: u64,
    /// Bytes read that differ from the stream at their offset.
    mismatched: u64,
    hash_sent: Fnv,
    hash_read: Fnv,
    /// The receiver read the last byte (and then end of stream).
    done: Option<Instant>,
    /// The receiver saw end of stream.
    eof: bool,
}

/// One end of a connection.
#[derive(Clone, Debug, Default)]
struct End {
    id: Option<ConnId>,
    /// Sequence number of the first data byte (ISS + 1), to turn SND.UNA into a byte count.
    base: u32,
    shut: bool,
    closed_by_app: bool,
    reason: Option<CloseReason>,
}

#[derive(Clone, Debug, Default)]
struct Slot {
    client_port: u16,
    started: Instant,
    established: Option<Instant>,
    client: End,
    server: End,
    flows: [Flow; 2],
    errors: Vec<String>,
}

#[derive(Default)]
struct Shared {
    seed: u64,
    slots: Vec<Slot>,
    by_port: BTreeMap<u16, usize>,
    client_conns: BTreeMap<ConnId, usize>,
    server_conns: BTreeMap<ConnId, usize>,
    /// Running totals for progress reports: bytes read, and directions read to the end.
    delivered: u64,
    flows_done: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

impl Side {
    /// The direction this side sends in, and the one it reads.
    fn out_in(self) -> (Dir, Dir) {
        match self {
            Side::Client => (Dir::Up, Dir::Down),
            Side::Server => (Dir::Down, Dir::Up),
        }
    }
}

impl Shared {
    fn end(&mut self, i: usize, side: Side) -> &mut End {
        match side {
            Side::Client => &mut self.slots[i].client,
            Side::Server => &mut self.slots[i].server,
        }
    }

    /// Move one connection end along: send what fits, read what is there (checking every
    /// byte), half-close once everything is sent, close once both directions are over.
    fn pump(&mut self, ctx: &mut AppCtx<'_>, i: usize, side: Side, buf: &mut [u8]) {
        let now = ctx.now;
        let Some(c) = self.end(i, side).id else {
            return;
        };
        if self.end(i, side).closed_by_app {
            return;
        }
        let seed = self.seed;
        let (out, inn) = side.out_in();
        // Send.
        loop {
            let f = &mut self.slots[i].flows[out.index()];
            if f.sent >= f.expected {
                break;
            }
            let n = ((f.expected - f.sent) as usize).min(buf.len());
            fill(stream_key(seed, i, out), f.sent, &mut buf[..n]);
            match ctx.stack.send(now, c, &buf[..n]) {
                Ok(0) | Err(Error::WouldBlock) => break,
                Ok(k) => {
                    f.hash_sent.update(&buf[..k]);
                    f.sent += k as u64;
                }
                Err(e) => {
                    self.slots[i].errors.push(format!("{now}: send: {e}"));
                    break;
                }
            }
        }
        // Half-close once our bytes are all queued. A server with nothing to send waits for
        // the client's end of stream first, so that in a one-way transfer the sender closes
        // first (and keeps TIME-WAIT), as a client uploading a file would. The client never
        // waits: with `--bytes 0` someone has to close first.
        let wait_for_eof = side == Side::Server && self.slots[i].flows[out.index()].expected == 0;
        let all_sent = {
            let f = &self.slots[i].flows[out.index()];
            f.sent >= f.expected
        };
        // Read.
        let mut expect = vec![0u8; buf.len()];
        loop {
            match ctx.stack.recv(now, c, buf) {
                Ok(0) => {
                    let f = &mut self.slots[i].flows[inn.index()];
                    f.eof = true;
                    if f.done.is_none() {
                        f.done = Some(now);
                    }
                    break;
                }
                Ok(n) => {
                    let f = &mut self.slots[i].flows[inn.index()];
                    fill(stream_key(seed, i, inn), f.delivered, &mut expect[..n]);
                    f.mismatched += buf[..n]
                        .iter()
                        .zip(&expect[..n])
                        .filter(|(a, b)| a != b)
                        .count() as u64;
                    f.hash_read.update(&buf[..n]);
                    f.delivered += n as u64;
                    let finished = f.delivered >= f.expected && f.done.is_none();
                    if finished {
                        f.done = Some(now);
                    }
                    self.delivered += n as u64;
                    self.flows_done += finished as usize;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => {
                    self.slots[i].errors.push(format!("{now}: recv: {e}"));
                    break;
                }
            }
        }
        let eof = self.slots[i].flows[inn.index()].eof;
        let end = self.end(i, side);
        if all_sent && !end.shut && (!wait_for_eof || eof) {
            end.shut = true;
            if let Err(e) = ctx.stack.shutdown(now, c) {
                self.slots[i].errors.push(format!("{now}: shutdown: {e}"));
            }
        }
        let end = self.end(i, side);
        if end.shut && eof && !end.closed_by_app {
            end.closed_by_app = true;
            if let Err(e) = ctx.stack.close(now, c) {
                self.slots[i].errors.push(format!("{now}: close: {e}"));
            }
        }
    }

    /// Events about one connection end: note when it connected and how it ended.
    fn note_event(&mut self, now: Instant, ev: &Event, side: Side) -> Option<usize> {
        let conn = match *ev {
            Event::Connected { conn }
            | Event::Readable { conn }
            | Event::Writable { conn }
            | Event::Closed { conn, .. } => conn,
            _ => return None,
        };
        let map = match side {
            Side::Client => &self.client_conns,
            Side::Server => &self.server_conns,
        };
        let i = *map.get(&conn)?;
        match *ev {
            Event::Connected { .. } => {
                self.slots[i].established.get_or_insert(now);
            }
            Event::Closed { reason, .. } => {
                self.end(i, side).reason = Some(reason);
                if reason != CloseReason::Normal {
                    let who = if side == Side::Client {
                        "client"
                    } else {
                        "server"
                    };
                    self.slots[i]
                        .errors
                        .push(format!("{now}: {who} side closed: {}", reason.as_str()));
                }
            }
            _ => {}
        }
        Some(i)
    }
}

/// The client: opens every connection at the start, then keeps each one moving.
struct Client {
    shared: Rc<RefCell<Shared>>,
    conns: usize,
    server: SocketAddr,
    started: bool,
    buf: Vec<u8>,
}

impl App for Client {
    fn poll(&mut self, ctx: &mut AppCtx<'_>) {
        let mut sh = self.shared.borrow_mut();
        let mut touched = Vec::new();
        if !self.started {
            self.started = true;
            for i in 0..self.conns {
                match ctx.stack.connect(ctx.now, None, self.server) {
                    Ok(c) => {
                        let info = ctx.stack.status(c).expect("a new connection");
                        let slot = &mut sh.slots[i];
                        slot.client_port = info.local.port();
                        slot.started = ctx.now;
                        slot.client.id = Some(c);
                        // In SYN-SENT SND.UNA is the ISS; data starts one after it.
                        slot.client.base = info.snd_una.wrapping_add(1);
                        sh.by_port.insert(info.local.port(), i);
                        sh.client_conns.insert(c, i);
                    }
                    Err(e) => sh.slots[i].errors.push(format!("connect: {e}")),
                }
            }
        }
        for ev in ctx.events {
            if let Some(i) = sh.note_event(ctx.now, ev, Side::Client) {
                touched.push(i);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            sh.pump(ctx, i, Side::Client, &mut self.buf);
        }
    }
}

/// The server: accepts every connection, pairs it with its slot by the client's port, and
/// keeps each one moving.
struct Server {
    shared: Rc<RefCell<Shared>>,
    listener: Option<synack::ListenerId>,
    backlog: usize,
    buf: Vec<u8>,
}

impl App for Server {
    fn poll(&mut self, ctx: &mut AppCtx<'_>) {
        let mut sh = self.shared.borrow_mut();
        let l = match self.listener {
            Some(l) => l,
            None => {
                let addr = SocketAddr::new(ctx.addrs[0], SERVER_PORT);
                match ctx.stack.listen(addr, self.backlog) {
                    Ok(l) => {
                        self.listener = Some(l);
                        l
                    }
                    Err(e) => {
                        ctx.log.errors.push((ctx.now, format!("listen: {e}")));
                        return;
                    }
                }
            }
        };
        let mut touched = Vec::new();
        while let Some(c) = ctx.stack.accept(l) {
            let Some(info) = ctx.stack.status(c) else {
                continue;
            };
            let Some(&i) = sh.by_port.get(&info.remote.port()) else {
                // Not one of ours: nothing else connects in this world.
                let _ = ctx.stack.abort(ctx.now, c);
                continue;
            };
            let end = &mut sh.slots[i].server;
            end.id = Some(c);
            // Just accepted, nothing sent yet: SND.UNA is ISS + 1, the first data byte.
            end.base = info.snd_una;
            sh.server_conns.insert(c, i);
            touched.push(i);
        }
        for ev in ctx.events {
            if let Some(i) = sh.note_event(ctx.now, ev, Side::Server) {
                touched.push(i);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            sh.pump(ctx, i, Side::Server, &mut self.buf);
        }
    }
}

// ----- samples for the plot ------------------------------------------------------------

/// One sample of a sending side: bytes acknowledged (SND.UNA), bytes sent (SND.NXT, which
/// goes back to SND.UNA after a retransmission timeout), cwnd, and loss recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub t: Instant,
    pub acked: u64,
    pub sent: u64,
    pub cwnd: u32,
    pub in_recovery: bool,
}

/// The samples of one sending side of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// Index of the connection (0-based).
    pub conn: usize,
    pub dir: Dir,
    pub client_port: u16,
    pub samples: Vec<Sample>,
    /// Fast retransmits: times the sender entered loss recovery on duplicate ACKs or SACK
    /// information (an RTO's go-back-N does not count).
    pub fast_retransmits: u64,
}

impl Series {
    pub fn label(&self) -> String {
        format!(
            "conn {} :{} {}",
            self.conn + 1,
            self.client_port,
            self.dir.as_str()
        )
    }
}

/// Turns a 32-bit distance from the base into a byte count, counting wraps.
#[derive(Clone, Copy, Default)]
struct Unwrap {
    last: u32,
    value: i64,
}

impl Unwrap {
    fn update(&mut self, raw: u32) -> u64 {
        self.value += i64::from(raw.wrapping_sub(self.last) as i32);
        self.last = raw;
        self.value.max(0) as u64
    }
}

struct Sampler {
    series: Series,
    una: Unwrap,
    nxt: Unwrap,
    prev_recovery: bool,
    /// Highest offset sent so far, and SND.NXT as last seen (both unclamped).
    max_sent: u64,
    last_sent: u64,
    /// After a retransmission timeout, no fast retransmit happens until SND.UNA passes
    /// everything sent before it (RFC 6582's `recover`, RFC 6675's RecoveryPoint): the
    /// stack's `in_recovery` still shows three duplicate ACKs meanwhile, which are not one.
    blocked_until: Option<u64>,
}

// ----- the run -----------------------------------------------------------------------

/// How far a run is, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub now: Instant,
    pub limit: Instant,
    /// Bytes read by receiving applications so far, of all expected.
    pub delivered: u64,
    pub expected: u64,
    /// Directions of connections (one or two per connection) read to the end, of all.
    pub flows_done: usize,
    pub flows: usize,
}

/// A finished run: the world as it ended (record, stacks, counters), its summary and the
/// samples.
pub struct Experiment {
    pub config: ExperimentConfig,
    pub world: World,
    pub outcome: RunOutcome,
    pub summary: Summary,
    pub series: Vec<Series>,
}

/// Run the experiment to the end (or the limit), reporting progress after every step (the
/// report is a few numbers; the caller decides how often to draw it).
pub fn run(cfg: &ExperimentConfig, mut progress: impl FnMut(&Progress)) -> Experiment {
    let host_cfg = Config {
        congestion_control: cfg.cc,
        ecn: if cfg.ecn {
            synack::Ecn::On
        } else {
            synack::Ecn::Passive
        },
        ..Config::default()
    };
    let mut w = World::new(cfg.seed);
    w.add_host_with("client", &[CLIENT_ADDR], host_cfg.clone());
    w.add_host_with("server", &[SERVER_ADDR], host_cfg);
    w.set_links("client", "server", cfg.link.clone());
    let mut slots = vec![Slot::default(); cfg.conns];
    for s in &mut slots {
        s.flows[Dir::Up.index()].expected = cfg.bytes;
        s.flows[Dir::Down.index()].expected = if cfg.both_ways { cfg.bytes } else { 0 };
    }
    let shared = Rc::new(RefCell::new(Shared {
        seed: cfg.seed,
        slots,
        ..Shared::default()
    }));
    let server: SocketAddr = format!("{SERVER_ADDR}:{SERVER_PORT}")
        .parse()
        .expect("addr");
    w.set_app(
        "server",
        Server {
            shared: shared.clone(),
            listener: None,
            backlog: cfg.conns.max(128),
            buf: vec![0; 64 * 1024],
        },
    );
    w.set_app(
        "client",
        Client {
            shared: shared.clone(),
            conns: cfg.conns,
            server,
            started: false,
            buf: vec![0; 64 * 1024],
        },
    );
    let limit = Instant::ZERO + cfg.limit;
    let expected: u64 = cfg.bytes * cfg.conns as u64 * (1 + cfg.both_ways as u64);
    // One sampler per (connection, direction), made when that side first exists.
    let mut samplers: Vec<Option<Sampler>> = (0..cfg.conns * 2).map(|_| None).collect();
    let flows = cfg.conns * (1 + cfg.both_ways as usize);
    let report = |w: &World, sh: &Shared| Progress {
        now: w.now(),
        limit,
        delivered: sh.delivered,
        expected,
        flows_done: sh.flows_done,
        flows,
    };
    let outcome = loop {
        match w.next_time() {
            None => break RunOutcome::Idle,
            Some(t) if t > limit => {
                // Nothing else is due by the limit: move the clock to it, so that the
                // summary's times end where the run was told to stop.
                w.run_until(limit);
                break RunOutcome::Limit;
            }
            Some(_) => {
                w.step();
            }
        }
        let sh = shared.borrow();
        sample(&w, &sh, cfg, &mut samplers);
        progress(&report(&w, &sh));
    };
    progress(&report(&w, &shared.borrow()));
    let series: Vec<Series> = samplers.into_iter().flatten().map(|s| s.series).collect();
    let summary = summarize(cfg, &w, outcome, &shared.borrow(), &series);
    Experiment {
        config: cfg.clone(),
        world: w,
        outcome,
        summary,
        series,
    }
}

/// After every step: a sample of each sending side whose numbers moved.
fn sample(w: &World, sh: &Shared, cfg: &ExperimentConfig, samplers: &mut [Option<Sampler>]) {
    let now = w.now();
    let dirs: &[Dir] = if cfg.both_ways {
        &[Dir::Up, Dir::Down]
    } else {
        &[Dir::Up]
    };
    for (i, slot) in sh.slots.iter().enumerate() {
        for &dir in dirs {
            let (host, end) = match dir {
                Dir::Up => ("client", &slot.client),
                Dir::Down => ("server", &slot.server),
            };
            let Some(id) = end.id else { continue };
            let Some(info) = w.stack(host).status(id) else {
                continue;
            };
            let s = samplers[i * 2 + dir.index()].get_or_insert_with(|| Sampler {
                series: Series {
                    conn: i,
                    dir,
                    client_port: slot.client_port,
                    samples: Vec::new(),
                    fast_retransmits: 0,
                },
                una: Unwrap::default(),
                nxt: Unwrap::default(),
                prev_recovery: false,
                max_sent: 0,
                last_sent: 0,
                blocked_until: None,
            });
            let cap = slot.flows[dir.index()].expected;
            let acked_raw = s.una.update(info.snd_una.wrapping_sub(end.base));
            let sent_raw = s.nxt.update(info.snd_nxt.wrapping_sub(end.base));
            // Only a retransmission timeout moves SND.NXT back (to SND.UNA).
            if sent_raw < s.last_sent {
                s.blocked_until = Some(s.max_sent);
            }
            s.last_sent = sent_raw;
            s.max_sent = s.max_sent.max(sent_raw);
            if s.blocked_until.is_some_and(|b| acked_raw >= b) {
                s.blocked_until = None;
            }
            let in_recovery = info.in_recovery;
            if in_recovery && !s.prev_recovery && s.blocked_until.is_none() {
                s.series.fast_retransmits += 1;
            }
            s.prev_recovery = in_recovery;
            let (acked, sent) = (acked_raw.min(cap), sent_raw.min(cap));
            let smp = Sample {
                t: now,
                acked,
                sent,
                cwnd: info.cwnd,
                in_recovery,
            };
            let last = s.series.samples.last().copied();
            if last.is_none_or(|l| {
                (l.acked, l.sent, l.cwnd, l.in_recovery) != (acked, sent, info.cwnd, in_recovery)
            }) {
                s.series.samples.push(smp);
            }
        }
    }
}

// ----- the summary -------------------------------------------------------------------

/// One direction of one connection after the run.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowSummary {
    pub dir: Dir,
    pub expected: u64,
    /// Bytes the receiving application read.
    pub delivered: u64,
    /// FNV-1a of every byte `send` accepted, and of every byte read.
    pub sent_hash: u64,
    pub read_hash: u64,
    /// Bytes read that differ from the stream at their offset.
    pub mismatched: u64,
    /// Every expected byte read, each one right, and the two hashes agree.
    pub intact: bool,
    /// From connect() to the last byte read (to the end of the run if it never was).
    pub duration: Duration,
    /// `delivered / duration`, bytes per second.
    pub goodput: f64,
    /// Data segments of this direction that repeated sequence space already sent.
    pub retransmitted: u64,
    /// Times the sender entered loss recovery with a fast retransmit.
    pub fast_retransmits: u64,
}

/// One connection after the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnSummary {
    /// 1-based, as the table and the plot's legend number them.
    pub number: usize,
    pub client_port: u16,
    pub established: Option<Instant>,
    pub flows: Vec<FlowSummary>,
    /// How each end's connection ended, if it did.
    pub client_close: Option<CloseReason>,
    pub server_close: Option<CloseReason>,
    pub errors: Vec<String>,
}

/// All connections, one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct DirTotal {
    pub dir: Dir,
    pub expected: u64,
    pub delivered: u64,
    /// Flows of this direction that arrived intact, of all.
    pub intact: usize,
    pub flows: usize,
    /// From the first connect() to the last byte read.
    pub duration: Duration,
    /// Bytes per second.
    pub goodput: f64,
    /// Goodput over the link's payload capacity (one direction), if it has a bandwidth.
    pub utilisation: Option<f64>,
}

/// What the link did to the packets (both directions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub packets: u64,
    pub data_packets: u64,
    pub lost: u64,
    pub queue_full: u64,
    pub too_big: u64,
    /// Packets the link delivered twice.
    pub duplicated: u64,
    /// Copies delivered with a bit flipped.
    pub corrupted: u64,
    /// Copies delivered that the receiving stack dropped (bad checksum, out of window...).
    pub rejected: u64,
    /// Copies still on the wire when the run stopped.
    pub in_flight: u64,
}

/// A host's view of loss: its stack's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostStats {
    pub name: String,
    pub out_segs: u64,
    pub retrans_segs: u64,
    pub timeouts: u64,
    pub in_segs: u64,
    pub in_errs: u64,
    /// Segments received marked Congestion Experienced (ECN connections).
    pub ecn_ce_received: u64,
    /// cwnd reductions for an ECN-Echo.
    pub ecn_reductions: u64,
}

/// Time connection ends on one side spent in one state, summed over connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateTime {
    /// `client` or `server`.
    pub side: &'static str,
    pub state: State,
    pub total: Duration,
    /// Connection ends that were in this state at some point.
    pub conns: usize,
}

impl StateTime {
    /// Mean time per connection end that visited the state.
    pub fn mean(&self) -> Duration {
        self.total / self.conns.max(1) as u32
    }
}

/// Everything `synack sim` reports about a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub seed: u64,
    pub conns: usize,
    pub bytes: u64,
    pub both_ways: bool,
    pub cc: &'static str,
    pub link: String,
    pub outcome: RunOutcome,
    /// Virtual time when the run stopped.
    pub end: Instant,
    /// Link bandwidth per direction, bytes per second.
    pub bandwidth: Option<u64>,
    /// Payload bytes per byte on the wire in a full-sized data packet (1448/1500 with
    /// timestamps): what the bandwidth can carry as goodput at best.
    pub payload_efficiency: Option<f64>,
    /// `bandwidth * payload_efficiency`: the best goodput one direction can reach.
    pub capacity: Option<f64>,
    pub connections: Vec<ConnSummary>,
    pub totals: Vec<DirTotal>,
    /// Segments retransmitted, both hosts (the stacks' RetransSegs).
    pub retransmissions: u64,
    /// Fast retransmits (loss recoveries entered on duplicate ACKs or SACKs), all senders.
    pub fast_retransmits: u64,
    /// Retransmission-timer expiries, both hosts (TCPTimeouts).
    pub rto_events: u64,
    pub hosts: Vec<HostStats>,
    pub link_stats: LinkStats,
    pub states: Vec<StateTime>,
}

impl Summary {
    /// Every direction of every connection delivered intact.
    pub fn all_intact(&self) -> bool {
        self.totals.iter().all(|t| t.intact == t.flows)
    }
}

/// A link configuration in words.
pub fn describe_link(l: &LinkConfig) -> String {
    let mut parts = vec![format!("delay {}", crate::time_util::short(l.delay))];
    if !l.jitter.is_zero() {
        parts.push(format!("jitter {}", crate::time_util::short(l.jitter)));
    }
    match l.bandwidth {
        Some(bw) => parts.push(format!("{} bandwidth", rate(bw as f64))),
        None => parts.push("unlimited bandwidth".to_string()),
    }
    if let (Some(_), Some(q)) = (l.bandwidth, l.queue_limit) {
        parts.push(format!("queue {q} packets"));
    }
    if let (Some(_), Some(k)) = (l.bandwidth, l.ecn_threshold) {
        parts.push(format!("ECN CE marks from {k} waiting"));
    }
    let pct = |p: f64| format!("{}%", trim_float(p * 100.0));
    if l.loss > 0.0 {
        parts.push(format!("loss {}", pct(l.loss)));
    }
    if l.duplicate > 0.0 {
        parts.push(format!("duplication {}", pct(l.duplicate)));
    }
    if l.reorder > 0.0 {
        parts.push(format!(
            "reorder {} (up to {} late)",
            pct(l.reorder),
            crate::time_util::short(l.reorder_delay)
        ));
    }
    if l.corrupt > 0.0 {
        parts.push(format!("corruption {}", pct(l.corrupt)));
    }
    if let Some(m) = l.mtu {
        parts.push(format!("MTU {m}"));
    }
    parts.join(", ")
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Bytes per second as bits per second, the way links are sold: `10 Mbit/s`.
pub fn rate(bytes_per_sec: f64) -> String {
    let bits = bytes_per_sec * 8.0;
    let (v, unit) = if bits >= 1e9 {
        (bits / 1e9, "Gbit/s")
    } else if bits >= 1e6 {
        (bits / 1e6, "Mbit/s")
    } else if bits >= 1e3 {
        (bits / 1e3, "kbit/s")
    } else {
        (bits, "bit/s")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s} {unit}")
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn summarize(
    cfg: &ExperimentConfig,
    w: &World,
    outcome: RunOutcome,
    sh: &Shared,
    series: &[Series],
) -> Summary {
    let end = w.now();
    let rec = w.record();
    let client = rec.host_id("client");
    let server = rec.host_id("server");
    let dirs: &[Dir] = if cfg.both_ways {
        &[Dir::Up, Dir::Down]
    } else {
        &[Dir::Up]
    };

    // Per flow: data segments that repeated sequence space, read off the wire.
    let mut highest: BTreeMap<(usize, Dir), u64> = BTreeMap::new();
    let mut retransmitted: BTreeMap<(usize, Dir), u64> = BTreeMap::new();
    let mut link = LinkStats::default();
    let mut best_data: Option<(usize, usize)> = None;
    for p in &rec.packets {
        link.packets += 1;
        for f in &p.fates {
            match f {
                Fate::Dropped(DropReason::Loss) => link.lost += 1,
                Fate::Dropped(DropReason::QueueFull) => link.queue_full += 1,
                Fate::Dropped(DropReason::Mtu) => link.too_big += 1,
                Fate::Dropped(_) => {}
                Fate::InFlight { corrupted, .. } => {
                    link.in_flight += 1;
                    link.corrupted += *corrupted as u64;
                }
                Fate::Delivered {
                    corrupted,
                    rejected,
                    ..
                } => {
                    link.corrupted += *corrupted as u64;
                    link.rejected += rejected.is_some() as u64;
                }
            }
        }
        if p.fates.len() > 1 {
            link.duplicated += 1;
        }
        let Some(s) = &p.summary else { continue };
        if s.payload_len == 0 {
            continue;
        }
        link.data_packets += 1;
        if best_data.is_none_or(|(pl, _)| s.payload_len > pl) {
            best_data = Some((s.payload_len, p.bytes.len()));
        }
        let (dir, port) = match p.from {
            Some(h) if h == client => (Dir::Up, s.src.port()),
            Some(h) if h == server => (Dir::Down, s.dst.port()),
            _ => continue,
        };
        let Some(&i) = sh.by_port.get(&port) else {
            continue;
        };
        let base = match dir {
            Dir::Up => sh.slots[i].client.base,
            Dir::Down => sh.slots[i].server.base,
        };
        let start = u64::from(s.seq.wrapping_sub(base));
        let hi = highest.entry((i, dir)).or_insert(0);
        if start < *hi {
            *retransmitted.entry((i, dir)).or_insert(0) += 1;
        }
        *hi = (*hi).max(start + s.payload_len as u64);
    }

    let fast: BTreeMap<(usize, Dir), u64> = series
        .iter()
        .map(|s| ((s.conn, s.dir), s.fast_retransmits))
        .collect();
    let mut connections = Vec::new();
    for (i, slot) in sh.slots.iter().enumerate() {
        let flows = dirs
            .iter()
            .map(|&dir| {
                let f = &slot.flows[dir.index()];
                let stop = f.done.unwrap_or(end);
                let duration = stop.saturating_since(slot.started);
                FlowSummary {
                    dir,
                    expected: f.expected,
                    delivered: f.delivered,
                    sent_hash: f.hash_sent.0,
                    read_hash: f.hash_read.0,
                    mismatched: f.mismatched,
                    intact: f.delivered == f.expected
                        && f.mismatched == 0
                        && f.sent == f.expected
                        && f.hash_read == f.hash_sent,
                    duration,
                    goodput: per_second(f.delivered, duration),
                    retransmitted: retransmitted.get(&(i, dir)).copied().unwrap_or(0),
                    fast_retransmits: fast.get(&(i, dir)).copied().unwrap_or(0),
                }
            })
            .collect();
        connections.push(ConnSummary {
            number: i + 1,
            client_port: slot.client_port,
            established: slot.established,
            flows,
            client_close: slot.client.reason,
            server_close: slot.server.reason,
            errors: slot.errors.clone(),
        });
    }

    let payload_efficiency = best_data.map(|(pl, len)| pl as f64 / len as f64);
    let capacity = cfg
        .link
        .bandwidth
        .zip(payload_efficiency)
        .map(|(bw, e)| bw as f64 * e);
    let first_start = sh.slots.iter().map(|s| s.started).min().unwrap_or(end);
    let totals = dirs
        .iter()
        .map(|&dir| {
            let flows: Vec<&Flow> = sh.slots.iter().map(|s| &s.flows[dir.index()]).collect();
            let delivered = flows.iter().map(|f| f.delivered).sum();
            let last = flows
                .iter()
                .map(|f| f.done.unwrap_or(end))
                .max()
                .unwrap_or(end);
            let duration = last.saturating_since(first_start);
            let goodput = per_second(delivered, duration);
            DirTotal {
                dir,
                expected: flows.iter().map(|f| f.expected).sum(),
                delivered,
                intact: connections
                    .iter()
                    .filter(|c| c.flows.iter().any(|f| f.dir == dir && f.intact))
                    .count(),
                flows: flows.len(),
                duration,
                goodput,
                utilisation: capacity.map(|c| goodput / c),
            }
        })
        .collect();

    let hosts: Vec<HostStats> = ["client", "server"]
        .iter()
        .map(|n| {
            let c = w.counters(n);
            HostStats {
                name: n.to_string(),
                out_segs: c.out_segs,
                retrans_segs: c.retrans_segs,
                timeouts: c.timeouts,
                in_segs: c.in_segs,
                in_errs: c.in_errs,
                ecn_ce_received: c.ecn_ce_received,
                ecn_reductions: c.ecn_reductions,
            }
        })
        .collect();

    Summary {
        seed: cfg.seed,
        conns: cfg.conns,
        bytes: cfg.bytes,
        both_ways: cfg.both_ways,
        cc: match cfg.cc {
            Algorithm::Cubic => "cubic",
            Algorithm::NewReno => "newreno",
        },
        link: describe_link(&cfg.link),
        outcome,
        end,
        bandwidth: cfg.link.bandwidth,
        payload_efficiency,
        capacity,
        connections,
        totals,
        retransmissions: hosts.iter().map(|h| h.retrans_segs).sum(),
        fast_retransmits: series.iter().map(|s| s.fast_retransmits).sum(),
        rto_events: hosts.iter().map(|h| h.timeouts).sum(),
        hosts,
        link_stats: link,
        states: state_times(w, &[(client, "client"), (server, "server")]),
    }
}

fn per_second(bytes: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        bytes as f64 / s
    } else {
        0.0
    }
}

/// How long each connection end spent in each state, from the record's state changes
/// (an end still open at the end of the run counts until then). CLOSED and LISTEN are left
/// out: a connection end is born out of them and ends in CLOSED.
fn state_times(w: &World, sides: &[(HostId, &'static str)]) -> Vec<StateTime> {
    let end = w.now();
    // (host, conn) -> (state, since)
    let mut current: BTreeMap<(HostId, ConnId), (State, Instant)> = BTreeMap::new();
    // (host, state) -> (total, ends that visited)
    let mut acc: BTreeMap<(HostId, u8), (Duration, std::collections::BTreeSet<ConnId>, State)> =
        BTreeMap::new();
    let mut add = |h: HostId, c: ConnId, s: State, d: Duration| {
        if matches!(s, State::Closed | State::Listen) {
            return;
        }
        let e = acc
            .entry((h, s as u8))
            .or_insert_with(|| (Duration::ZERO, Default::default(), s));
        e.0 += d;
        e.1.insert(c);
    };
    for e in &w.record().entries {
        if let EntryKind::State {
            host,
            conn,
            from,
            to,
            ..
        } = e.kind
        {
            let since = current.get(&(host, conn)).map_or(e.time, |x| x.1);
            add(host, conn, from, e.time.saturating_since(since));
            current.insert((host, conn), (to, e.time));
        }
    }
    for ((h, c), (s, since)) in current {
        add(h, c, s, end.saturating_since(since));
    }
    let mut out = Vec::new();
    for &(h, side) in sides {
        for ((host, _), (total, ends, state)) in &acc {
            if *host == h {
                out.push(StateTime {
                    side,
                    state: *state,
                    total: *total,
                    conns: ends.len(),
                });
            }
        }
    }
    out
}

// ----- the summary as text and as JSON ------------------------------------------------

/// Widest histogram bar, in character cells.
const BAR: usize = 40;

/// A bar of `frac` (0..=1) of `BAR` cells, in eighths of a cell.
fn bar(frac: f64) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (frac.clamp(0.0, 1.0) * (BAR * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    s.push_str(PARTS[eighths % 8]);
    if s.is_empty() && frac > 0.0 {
        // Something, however short, is not nothing.
        s.push('▏');
    }
    s
}

/// `2.901s`, `20.1ms`, `42us`: enough digits to tell short states apart from nothing.
fn secs(d: Duration) -> String {
    let us = crate::time_util::micros(d);
    if us >= 1_000_000 || us == 0 {
        format!("{:.3}s", d.as_secs_f64())
    } else if us >= 1_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{us}us")
    }
}

fn aligned(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::from("  ");
        for (i, c) in r.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl Summary {
    /// The summary as `synack sim` prints it.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let way = if self.both_ways {
            "each way (client <-> server)"
        } else {
            "one way (client -> server)"
        };
        let _ = writeln!(
            o,
            "{} connection{} x {} bytes {way}, {}, seed {}",
            self.conns,
            if self.conns == 1 { "" } else { "s" },
            thousands(self.bytes),
            self.cc,
            self.seed
        );
        let _ = writeln!(o, "link, each direction: {}", self.link);
        let _ = match self.outcome {
            RunOutcome::Idle => writeln!(o, "finished at {} of virtual time", self.end),
            RunOutcome::Limit => writeln!(
                o,
                "STOPPED at the time limit, {}, with work still pending",
                self.end
            ),
        };

        o.push_str("\nGoodput, from connect() to the last byte read");
        match (self.capacity, self.bandwidth, self.payload_efficiency) {
            (Some(c), Some(bw), Some(e)) => {
                let _ = writeln!(
                    o,
                    "; capacity {} of payload per direction ({} x {:.1}% payload per packet):",
                    rate(c),
                    rate(bw as f64),
                    e * 100.0
                );
            }
            _ => o.push_str("; the link has no bandwidth limit:\n"),
        }
        let mut rows = vec![[
            "conn",
            "port",
            "dir",
            "delivered",
            "expected",
            "bytes",
            "time",
            "goodput",
            "of cap",
            "retrans",
            "fast",
        ]
        .map(String::from)
        .to_vec()];
        let pct = |g: f64| {
            self.capacity
                .map_or("-".to_string(), |c| format!("{:.1}%", 100.0 * g / c))
        };
        for c in &self.connections {
            for f in &c.flows {
                rows.push(vec![
                    c.number.to_string(),
                    c.client_port.to_string(),
                    f.dir.as_str().to_string(),
                    thousands(f.delivered),
                    thousands(f.expected),
                    if f.intact {
                        "intact".to_string()
                    } else if f.mismatched > 0 {
                        format!("{} WRONG", thousands(f.mismatched))
                    } else {
                        "MISSING".to_string()
                    },
                    secs(f.duration),
                    rate(f.goodput),
                    pct(f.goodput),
                    f.retransmitted.to_string(),
                    f.fast_retransmits.to_string(),
                ]);
            }
        }
        for t in &self.totals {
            rows.push(vec![
                "total".to_string(),
                String::new(),
                t.dir.as_str().to_string(),
                thousands(t.delivered),
                thousands(t.expected),
                format!("{}/{} intact", t.intact, t.flows),
                secs(t.duration),
                rate(t.goodput),
                pct(t.goodput),
                String::new(),
                String::new(),
            ]);
        }
        o.push_str(&aligned(
            &rows,
            &[
                true, true, false, true, true, false, true, true, true, true, true,
            ],
        ));
        o.push_str(
            "  (bytes: every byte read is checked against the stream and both ends' FNV-1a \
             hashes compared;\n   retrans: data segments resent; fast: fast retransmits, \
             loss recoveries entered on duplicate ACKs or SACKs)\n",
        );

        o.push_str("\nLoss and recovery:\n");
        let per_host = |f: fn(&HostStats) -> u64| {
            self.hosts
                .iter()
                .map(|h| format!("{} {}", h.name, thousands(f(h))))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let l = &self.link_stats;
        let lines = [
            (
                self.retransmissions,
                "segments retransmitted",
                format!("({})", per_host(|h| h.retrans_segs)),
            ),
            (
                self.fast_retransmits,
                "fast retransmits (loss recoveries entered)",
                String::new(),
            ),
            (
                self.rto_events,
                "retransmission timeouts",
                format!("({})", per_host(|h| h.timeouts)),
            ),
            (
                l.packets,
                "packets put on the link",
                format!("({} with data)", thousands(l.data_packets)),
            ),
            (
                self.hosts.iter().map(|h| h.ecn_ce_received).sum(),
                "received marked CE (ECN)",
                format!("({})", per_host(|h| h.ecn_ce_received)),
            ),
            (
                self.hosts.iter().map(|h| h.ecn_reductions).sum(),
                "cwnd reductions for ECN-Echo",
                format!("({})", per_host(|h| h.ecn_reductions)),
            ),
            (l.lost, "lost on the link", String::new()),
            (l.queue_full, "dropped at a full queue", String::new()),
            (l.too_big, "dropped as too big for the MTU", String::new()),
            (l.duplicated, "duplicated by the link", String::new()),
            (l.corrupted, "delivered corrupted", String::new()),
            (
                l.rejected,
                "delivered and dropped by the receiver",
                "(bad checksum, out of window, duplicate...)".to_string(),
            ),
            (l.in_flight, "still on the wire at the end", String::new()),
        ];
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|(n, what, more)| vec![thousands(*n), what.to_string(), more.clone()])
            .collect();
        o.push_str(&aligned(&rows, &[true, false, false]));

        o.push_str("\nTime in each state, mean per connection end (total over all of them):\n");
        let longest = self
            .states
            .iter()
            .map(|s| s.mean())
            .max()
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        let rows: Vec<Vec<String>> = self
            .states
            .iter()
            .map(|s| {
                let frac = if longest > 0.0 {
                    s.mean().as_secs_f64() / longest
                } else {
                    0.0
                };
                vec![
                    s.side.to_string(),
                    s.state.to_string(),
                    secs(s.mean()),
                    format!("({} x{})", secs(s.total), s.conns),
                    bar(frac),
                ]
            })
            .collect();
        o.push_str(&aligned(&rows, &[false, false, true, false, false]));

        let errors: Vec<String> = self
            .connections
            .iter()
            .flat_map(|c| {
                c.errors
                    .iter()
                    .map(move |e| format!("conn {}: {e}", c.number))
            })
            .collect();
        if !errors.is_empty() {
            o.push_str("\nErrors:\n");
            for e in errors {
                let _ = writeln!(o, "  {e}");
            }
        }
        o
    }

    /// The summary as JSON (rates in bytes per second, times in microseconds).
    pub fn json(&self) -> Json {
        fn obj(pairs: Vec<(&str, Json)>) -> Json {
            Json::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }
        let us = |d: Duration| Json::from(crate::time_util::micros(d));
        // Whole bytes per second, rounded down: a reader comparing with the capacity sees
        // no rounding up past it.
        let bps = |v: f64| Json::from(v.floor() as u64);
        let ratio = Json::Float;
        let flows = |c: &ConnSummary| {
            Json::Arr(
                c.flows
                    .iter()
                    .map(|f| {
                        obj(vec![
                            ("dir", f.dir.as_str().into()),
                            ("expected", f.expected.into()),
                            ("delivered", f.delivered.into()),
                            ("intact", f.intact.into()),
                            ("mismatched", f.mismatched.into()),
                            ("sent_fnv1a", format!("{:016x}", f.sent_hash).into()),
                            ("read_fnv1a", format!("{:016x}", f.read_hash).into()),
                            ("duration_us", us(f.duration)),
                            ("goodput_bytes_per_sec", bps(f.goodput)),
                            ("retransmitted_segments", f.retransmitted.into()),
                            ("fast_retransmits", f.fast_retransmits.into()),
                        ])
                    })
                    .collect(),
            )
        };
        let conns = self
            .connections
            .iter()
            .map(|c| {
                obj(vec![
                    ("conn", c.number.into()),
                    ("client_port", c.client_port.into()),
                    (
                        "established_us",
                        c.established.map(|t| t.as_micros()).into(),
                    ),
                    ("flows", flows(c)),
                    (
                        "client_close",
                        c.client_close.map(|r| r.as_str().to_string()).into(),
                    ),
                    (
                        "server_close",
                        c.server_close.map(|r| r.as_str().to_string()).into(),
                    ),
                    ("errors", c.errors.clone().into()),
                ])
            })
            .collect();
        let totals = self
            .totals
            .iter()
            .map(|t| {
                obj(vec![
                    ("dir", t.dir.as_str().into()),
                    ("expected", t.expected.into()),
                    ("delivered", t.delivered.into()),
                    ("intact_flows", t.intact.into()),
                    ("flows", t.flows.into()),
                    ("duration_us", us(t.duration)),
                    ("goodput_bytes_per_sec", bps(t.goodput)),
                    ("utilisation", t.utilisation.map_or(Json::Null, ratio)),
                ])
            })
            .collect();
        let hosts = self
            .hosts
            .iter()
            .map(|h| {
                obj(vec![
                    ("host", h.name.as_str().into()),
                    ("segments_sent", h.out_segs.into()),
                    ("segments_retransmitted", h.retrans_segs.into()),
                    ("retransmission_timeouts", h.timeouts.into()),
                    ("segments_received", h.in_segs.into()),
                    ("bad_segments_received", h.in_errs.into()),
                    ("ecn_ce_received", h.ecn_ce_received.into()),
                    ("ecn_reductions", h.ecn_reductions.into()),
                ])
            })
            .collect();
        let l = &self.link_stats;
        let states = self
            .states
            .iter()
            .map(|s| {
                obj(vec![
                    ("side", s.side.into()),
                    ("state", s.state.to_string().into()),
                    ("total_us", us(s.total)),
                    ("mean_us", us(s.mean())),
                    ("conns", s.conns.into()),
                ])
            })
            .collect();
        obj(vec![
            ("seed", self.seed.into()),
            ("conns", self.conns.into()),
            ("bytes_per_conn_per_direction", self.bytes.into()),
            ("both_ways", self.both_ways.into()),
            ("congestion_control", self.cc.into()),
            ("link", self.link.as_str().into()),
            (
                "outcome",
                match self.outcome {
                    RunOutcome::Idle => "finished",
                    RunOutcome::Limit => "time limit",
                }
                .into(),
            ),
            ("end_us", self.end.as_micros().into()),
            ("bandwidth_bytes_per_sec", self.bandwidth.into()),
            (
                "payload_efficiency",
                self.payload_efficiency.map_or(Json::Null, ratio),
            ),
            (
                "capacity_bytes_per_sec",
                self.capacity.map_or(Json::Null, bps),
            ),
            ("all_intact", self.all_intact().into()),
            ("totals", Json::Arr(totals)),
            ("connections", Json::Arr(conns)),
            ("segments_retransmitted", self.retransmissions.into()),
            ("fast_retransmits", self.fast_retransmits.into()),
            ("retransmission_timeouts", self.rto_events.into()),
            ("hosts", Json::Arr(hosts)),
            (
                "link_stats",
                obj(vec![
                    ("packets", l.packets.into()),
                    ("data_packets", l.data_packets.into()),
                    ("lost", l.lost.into()),
                    ("queue_full", l.queue_full.into()),
                    ("too_big", l.too_big.into()),
                    ("duplicated", l.duplicated.into()),
                    ("corrupted", l.corrupted.into()),
                    ("rejected_by_receiver", l.rejected.into()),
                    ("in_flight", l.in_flight.into()),
                ]),
            ),
            ("state_times", Json::Arr(states)),
        ])
    }
}
