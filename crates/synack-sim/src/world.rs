//! The world: hosts with their stacks and applications, the links between them, a virtual
//! clock and the event loop that always jumps to the earliest thing due.

use crate::app::{App, AppCtx, AppLog, Idle};
use crate::fault::{judge, Fault, Injection};
use crate::link::{Link, LinkConfig};
use crate::packet::{corruptible_range, destination, ecn_field, mark_ce, summarize};
use crate::peer::{Peer, PeerCtx};
use crate::record::{
    ConnEnds, DropReason, EntryKind, Fate, HostId, HostInfo, PacketRecord, Record,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::IpAddr;
use synack::{Config, Counters, Event, Instant, Stack};

/// What answers for a host: a synack stack (with an application) or a raw peer.
enum Node {
    Stack(Box<Stack>),
    Peer(Box<dyn Peer>),
}

/// A simulated host: a name, addresses, a stack and an application (or a raw peer).
pub struct Host {
    pub name: String,
    pub addrs: Vec<IpAddr>,
    node: Node,
    /// What the application received and how its connections ended.
    pub log: AppLog,
    config: Config,
    app: Box<dyn App>,
    wake: Option<Instant>,
    pending: Vec<Event>,
    needs_poll: bool,
    /// Packets a raw peer wrote, not yet routed.
    outbox: Vec<Vec<u8>>,
    /// A raw peer's `on_start` has run.
    started: bool,
}

impl Host {
    /// The host's stack; panics for a raw peer.
    pub fn stack(&self) -> &Stack {
        match &self.node {
            Node::Stack(s) => s,
            Node::Peer(_) => panic!("host {} is a raw peer, not a stack", self.name),
        }
    }
    /// The host's stack, mutably; panics for a raw peer.
    pub fn stack_mut(&mut self) -> &mut Stack {
        match &mut self.node {
            Node::Stack(s) => s,
            Node::Peer(_) => panic!("host {} is a raw peer, not a stack", self.name),
        }
    }
    pub fn is_peer(&self) -> bool {
        matches!(self.node, Node::Peer(_))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match &self.node {
            Node::Stack(s) => s.poll_timeout(),
            Node::Peer(_) => None,
        }
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// When the application asked to run next.
    pub fn wake(&self) -> Option<Instant> {
        self.wake
    }
}

/// A packet on its way.
struct Delivery {
    to: HostId,
    /// Index into the record's packets, or an injection not yet recorded.
    what: Pending,
    bytes: Vec<u8>,
}

enum Pending {
    Packet { id: usize, fate: usize },
    Injection(Option<String>),
}

/// Something the world does to itself at a scheduled time (a reboot, a link change).
type Action = Box<dyn FnOnce(&mut World)>;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Nothing left to do: no packet in flight, no timer, no application wake-up.
    Idle,
    /// The time limit came first.
    Limit,
}

/// Most steps at one virtual instant before the world declares a livelock.
const MAX_STEPS_AT_ONE_INSTANT: u32 = 200_000;

/// The simulated network. Same seed, same hosts, same scripts: the same run, bit for bit.
pub struct World {
    seed: u64,
    now: Instant,
    hosts: Vec<Host>,
    owners: BTreeMap<IpAddr, HostId>,
    links: BTreeMap<(HostId, HostId), Link>,
    explicit_links: BTreeMap<(HostId, HostId), LinkConfig>,
    default_link: LinkConfig,
    faults: Vec<Fault>,
    queue: BTreeMap<(Instant, u64), Delivery>,
    actions: BTreeMap<(Instant, u64), Action>,
    next_seq: u64,
    record: Record,
    secrets: ChaCha8Rng,
    started: bool,
    steps_at_now: u32,
    buf: Vec<u8>,
}

impl World {
    /// An empty world whose randomness all derives from `seed`.
    pub fn new(seed: u64) -> World {
        let mut secrets = ChaCha8Rng::seed_from_u64(seed);
        secrets.set_stream(1);
        World {
            seed,
            now: Instant::ZERO,
            hosts: Vec::new(),
            owners: BTreeMap::new(),
            links: BTreeMap::new(),
            explicit_links: BTreeMap::new(),
            default_link: LinkConfig::default(),
            faults: Vec::new(),
            queue: BTreeMap::new(),
            actions: BTreeMap::new(),
            next_seq: 0,
            record: Record::default(),
            secrets,
            started: false,
            steps_at_now: 0,
            buf: vec![0; 65_536 + 128],
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn now(&self) -> Instant {
        self.now
    }
    pub fn record(&self) -> &Record {
        &self.record
    }
    pub fn into_record(self) -> Record {
        self.record
    }
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Add a host with the default configuration (a secret drawn from the seed).
    pub fn add_host(&mut self, name: &str, addrs: &[&str]) -> HostId {
        self.add_host_with(name, addrs, Config::default())
    }

    /// Add a host with this configuration; an all-zero secret is replaced by a seeded one.
    pub fn add_host_with(&mut self, name: &str, addrs: &[&str], mut config: Config) -> HostId {
        let addrs = self.claim(name, addrs);
        if config.secret == [0; 16] {
            self.secrets.fill_bytes(&mut config.secret);
        }
        let node = Node::Stack(Box::new(Self::make_stack(&config, &addrs)));
        self.push_host(name, addrs, config, node)
    }

    /// Add a host with no stack, driven by a raw peer.
    pub fn add_peer(&mut self, name: &str, addrs: &[&str], peer: impl Peer + 'static) -> HostId {
        let addrs = self.claim(name, addrs);
        self.push_host(name, addrs, Config::default(), Node::Peer(Box::new(peer)))
    }

    fn claim(&mut self, name: &str, addrs: &[&str]) -> Vec<IpAddr> {
        assert!(
            self.hosts.iter().all(|h| h.name != name),
            "two hosts named {name:?}"
        );
        let addrs: Vec<IpAddr> = addrs
            .iter()
            .map(|a| a.parse().expect("IP address"))
            .collect();
        let id = self.hosts.len();
        for a in &addrs {
            let prev = self.owners.insert(*a, id);
            assert!(prev.is_none(), "address {a} given to two hosts");
        }
        addrs
    }

    fn push_host(&mut self, name: &str, addrs: Vec<IpAddr>, config: Config, node: Node) -> HostId {
        let id = self.hosts.len();
        self.record.hosts.push(HostInfo {
            name: name.to_string(),
            addrs: addrs.clone(),
        });
        self.hosts.push(Host {
            name: name.to_string(),
            addrs,
            node,
            log: AppLog::default(),
            config,
            app: Box::new(Idle),
            wake: None,
            pending: Vec::new(),
            needs_poll: true,
            outbox: Vec::new(),
            started: false,
        });
        id
    }

    fn make_stack(config: &Config, addrs: &[IpAddr]) -> Stack {
        let mut stack = Stack::new(config.clone());
        for a in addrs {
            stack.add_address(*a);
        }
        stack
    }

    /// Index of a host by name (panics on an unknown name).
    pub fn id(&self, name: &str) -> HostId {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host named {name:?}"))
    }
    pub fn host(&self, name: &str) -> &Host {
        &self.hosts[self.id(name)]
    }
    pub fn host_mut(&mut self, name: &str) -> &mut Host {
        let i = self.id(name);
        &mut self.hosts[i]
    }
    pub fn stack(&self, name: &str) -> &Stack {
        self.host(name).stack()
    }
    pub fn stack_mut(&mut self, name: &str) -> &mut Stack {
        self.host_mut(name).stack_mut()
    }
    pub fn counters(&self, name: &str) -> &Counters {
        self.host(name).stack().counters()
    }
    pub fn app_log(&self, name: &str) -> &AppLog {
        &self.host(name).log
    }

    /// Give a host its application (it first runs at the current time).
    pub fn set_app(&mut self, name: &str, app: impl App + 'static) {
        let h = self.host_mut(name);
        h.app = Box::new(app);
        h.needs_poll = true;
        h.wake = None;
    }

    /// The host loses all TCP state (a crash and reboot) and gets a new application.
    pub fn reboot(&mut self, name: &str, app: impl App + 'static) {
        let i = self.id(name);
        let mut config = self.hosts[i].config.clone();
        self.secrets.fill_bytes(&mut config.secret);
        let h = &mut self.hosts[i];
        h.node = Node::Stack(Box::new(Self::make_stack(&config, &h.addrs)));
        h.config = config;
        h.app = Box::new(app);
        h.log = AppLog::default();
        h.wake = None;
        h.pending.clear();
        h.needs_poll = true;
        let now = self.now;
        self.record.push(
            now,
            EntryKind::Note {
                host: Some(i),
                text: format!("{name} reboots: all its connections are forgotten"),
            },
        );
    }

    /// Configure the link from `from` to `to`.
    pub fn set_link(&mut self, from: &str, to: &str, config: LinkConfig) {
        let key = (self.id(from), self.id(to));
        self.explicit_links.insert(key, config.clone());
        if let Some(l) = self.links.get_mut(&key) {
            l.config = config;
        }
    }
    /// Configure both directions between `a` and `b` alike.
    pub fn set_links(&mut self, a: &str, b: &str, config: LinkConfig) {
        self.set_link(a, b, config.clone());
        self.set_link(b, a, config);
    }
    /// Configuration of every link not set explicitly.
    pub fn set_default_link(&mut self, config: LinkConfig) {
        for (k, l) in self.links.iter_mut() {
            if !self.explicit_links.contains_key(k) {
                l.config = config.clone();
            }
        }
        self.default_link = config;
    }

    pub fn add_fault(&mut self, f: Fault) {
        for n in [&f.from, &f.to].into_iter().flatten() {
            self.id(n);
        }
        self.faults.push(f);
    }

    /// Schedule a packet from nowhere into a host (at `max(at, now)`).
    pub fn inject(&mut self, inj: Injection) {
        let to = self.id(&inj.to);
        let at = inj.at.max(self.now);
        self.enqueue(
            at,
            Delivery {
                to,
                what: Pending::Injection(inj.label),
                bytes: inj.bytes,
            },
        );
    }

    /// At virtual time `t` (or now, if that has passed), do `f` to the world: reboot a host,
    /// change a link, add a fault. Runs before packets and timers due at the same time.
    pub fn at(&mut self, t: Instant, f: impl FnOnce(&mut World) + 'static) {
        let t = t.max(self.now);
        self.actions.insert((t, self.next_seq), Box::new(f));
        self.next_seq += 1;
    }

    /// A remark in the record at the current time.
    pub fn note(&mut self, host: Option<&str>, text: &str) {
        let host = host.map(|n| self.id(n));
        let now = self.now;
        self.record.push(
            now,
            EntryKind::Note {
                host,
                text: text.to_string(),
            },
        );
    }

    fn enqueue(&mut self, at: Instant, d: Delivery) {
        self.queue.insert((at, self.next_seq), d);
        self.next_seq += 1;
    }

    fn link_mut(&mut self, from: HostId, to: HostId) -> &mut Link {
        let seed = self.seed;
        let cfg = self
            .explicit_links
            .get(&(from, to))
            .unwrap_or(&self.default_link)
            .clone();
        self.links.entry((from, to)).or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream((1 << 40) | ((from as u64) << 20) | to as u64);
            Link::new(cfg, rng)
        })
    }

    /// The earliest time something is due: a delivery, a stack timer or an app wake-up.
    pub fn next_time(&self) -> Option<Instant> {
        let mut t = self.queue.keys().next().map(|k| k.0);
        if let Some(a) = self.actions.keys().next() {
            t = Some(t.map_or(a.0, |t| t.min(a.0)));
        }
        for h in &self.hosts {
            for x in [h.poll_timeout(), h.wake].into_iter().flatten() {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
            if h.needs_poll || !h.pending.is_empty() {
                t = Some(self.now);
            }
        }
        t
    }

    fn start(&mut self) {
        if !self.started {
            self.started = true;
            self.drain();
        }
    }

    /// Do the next thing due (advancing the clock to it). False if nothing is left to do.
    pub fn step(&mut self) -> bool {
        self.start();
        let Some(t) = self.next_time() else {
            return false;
        };
        if t > self.now {
            self.now = t;
            self.steps_at_now = 0;
        }
        self.steps_at_now += 1;
        if self.steps_at_now > MAX_STEPS_AT_ONE_INSTANT {
            panic!(
                "simulation livelock at {}: more than {MAX_STEPS_AT_ONE_INSTANT} steps without \
                 time advancing (a stack whose poll_timeout stays in the past?)\n{}",
                self.now,
                self.tail_of_trace(40)
            );
        }
        let now = self.now;
        let action_due = self.actions.keys().next().filter(|k| k.0 <= now).copied();
        let first_due = self.queue.keys().next().filter(|k| k.0 <= now).copied();
        if let Some(key) = action_due {
            let f = self.actions.remove(&key).expect("scheduled action");
            f(self);
        } else if let Some(key) = first_due {
            let d = self.queue.remove(&key).expect("queued delivery");
            self.deliver(d);
        } else {
            for h in &mut self.hosts {
                if h.poll_timeout().is_some_and(|t| t <= now) {
                    h.stack_mut().handle_timeout(now);
                }
                if h.wake.is_some_and(|t| t <= now) {
                    h.wake = None;
                    h.needs_poll = true;
                }
            }
        }
        self.drain();
        true
    }

    /// Run everything due up to and including `t`; the clock then reads `t`.
    pub fn run_until(&mut self, t: Instant) {
        self.start();
        while self.next_time().is_some_and(|n| n <= t) {
            self.step();
        }
        if t > self.now {
            self.now = t;
            self.steps_at_now = 0;
        }
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: synack::Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Run until nothing is left to do, or until the next thing due lies beyond `limit`
    /// (the clock then stops at the last thing done).
    pub fn run_until_idle(&mut self, limit: Instant) -> RunOutcome {
        self.start();
        loop {
            match self.next_time() {
                None => return RunOutcome::Idle,
                Some(t) if t > limit => return RunOutcome::Limit,
                Some(_) => {
                    self.step();
                }
            }
        }
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        let packet = match d.what {
            Pending::Packet { id, fate } => Some((id, fate)),
            Pending::Injection(label) => {
                let id = self.record.packets.len();
                self.record.packets.push(PacketRecord {
                    id,
                    sent: now,
                    from: None,
                    to: Some(d.to),
                    label,
                    summary: summarize(&d.bytes),
                    bytes: d.bytes.clone(),
                    fates: vec![Fate::InFlight {
                        at: now,
                        copy: 0,
                        corrupted: false,
                        held: synack::Duration::ZERO,
                    }],
                });
                self.record.push(now, EntryKind::Sent(id));
                Some((id, 0))
            }
        };
        let host = &mut self.hosts[d.to];
        let rejected = match &mut host.node {
            Node::Stack(stack) => {
                let before = stack.counters().clone();
                stack.handle_packet(now, &d.bytes);
                rejection(&before, stack.counters())
            }
            Node::Peer(peer) => {
                let mut ctx = PeerCtx {
                    now,
                    out: &mut host.outbox,
                    wake: &mut host.wake,
                };
                peer.on_packet(&mut ctx, &d.bytes);
                None
            }
        };
        if let Some((id, fate)) = packet {
            let f = &mut self.record.packets[id].fates[fate];
            if let Fate::InFlight {
                copy,
                corrupted,
                held,
                ..
            } = *f
            {
                *f = Fate::Delivered {
                    at: now,
                    copy,
                    corrupted,
                    held,
                    rejected,
                };
                self.record
                    .push(now, EntryKind::Arrived { packet: id, copy });
            }
        }
    }

    /// A host put a packet on the wire: record it, run it past the faults and the link.
    fn route(&mut self, from: HostId, bytes: Vec<u8>) {
        let now = self.now;
        let summary = summarize(&bytes);
        let to = destination(&bytes).and_then(|ip| self.owners.get(&ip).copied());
        let id = self.record.packets.len();
        let mut fates = Vec::new();
        let mut deliveries = Vec::new();
        match to {
            None => fates.push(Fate::Dropped(DropReason::NoRoute)),
            Some(to) => {
                let verdict = judge(
                    &mut self.faults,
                    Some(&self.hosts[from].name),
                    &self.hosts[to].name,
                    now,
                    summary.as_ref(),
                );
                if verdict.drop {
                    fates.push(Fate::Dropped(DropReason::Fault));
                } else {
                    let range = corruptible_range(&bytes);
                    let link = self.link_mut(from, to);
                    let ect = matches!(ecn_field(&bytes), 0b01 | 0b10);
                    match link.transmit(now, bytes.len(), range.clone(), ect) {
                        Err(r) => fates.push(Fate::Dropped(r)),
                        Ok(mut copies) => {
                            if verdict.duplicate && copies.len() == 1 {
                                let mut c = copies[0];
                                c.index = 1;
                                copies.push(c);
                            }
                            if verdict.corrupt && copies[0].flip_bit.is_none() && !range.is_empty()
                            {
                                copies[0].flip_bit =
                                    Some(link.rng().random_range(range.start * 8..range.end * 8));
                            }
                            for c in copies {
                                let mut b = bytes.clone();
                                if c.ce {
                                    mark_ce(&mut b);
                                }
                                if let Some(bit) = c.flip_bit {
                                    b[bit / 8] ^= 1 << (bit % 8);
                                }
                                let at = c.arrival + verdict.delay;
                                deliveries.push((at, fates.len(), b));
                                fates.push(Fate::InFlight {
                                    at,
                                    copy: c.index,
                                    corrupted: c.flip_bit.is_some(),
                                    held: verdict.delay,
                                });
                            }
                        }
                    }
                }
            }
        }
        self.record.packets.push(PacketRecord {
            id,
            sent: now,
            from: Some(from),
            to,
            label: None,
            bytes,
            summary,
            fates,
        });
        self.record.push(now, EntryKind::Sent(id));
        for (at, fate, b) in deliveries {
            self.enqueue(
                at,
                Delivery {
                    to: to.expect("routed"),
                    what: Pending::Packet { id, fate },
                    bytes: b,
                },
            );
        }
    }

    /// Take every packet and event the stacks have, and run applications, until all is quiet.
    fn drain(&mut self) {
        let now = self.now;
        let mut rounds = 0u32;
        loop {
            rounds += 1;
            if rounds > MAX_STEPS_AT_ONE_INSTANT {
                panic!(
                    "simulation livelock at {now}: stacks and applications keep producing \
                     work\n{}",
                    self.tail_of_trace(40)
                );
            }
            let mut progress = false;
            for h in 0..self.hosts.len() {
                while let Some(ev) = match &mut self.hosts[h].node {
                    Node::Stack(s) => s.poll_event(),
                    Node::Peer(_) => None,
                } {
                    self.record_event(h, ev);
                    self.hosts[h].pending.push(ev);
                    progress = true;
                }
            }
            for h in 0..self.hosts.len() {
                let mut buf = std::mem::take(&mut self.buf);
                loop {
                    let len = match &mut self.hosts[h].node {
                        Node::Stack(stack) => stack.poll_transmit(now, &mut buf),
                        Node::Peer(_) => None,
                    };
                    let Some(len) = len else { break };
                    self.route(h, buf[..len].to_vec());
                    progress = true;
                }
                self.buf = buf;
                for bytes in std::mem::take(&mut self.hosts[h].outbox) {
                    self.route(h, bytes);
                    progress = true;
                }
            }
            for h in 0..self.hosts.len() {
                let host = &mut self.hosts[h];
                if !host.needs_poll && host.pending.is_empty() {
                    continue;
                }
                progress = true;
                host.needs_poll = false;
                if let Node::Peer(peer) = &mut host.node {
                    let first = !std::mem::replace(&mut host.started, true);
                    let mut ctx = PeerCtx {
                        now,
                        out: &mut host.outbox,
                        wake: &mut host.wake,
                    };
                    if first {
                        peer.on_start(&mut ctx);
                    } else {
                        peer.on_wake(&mut ctx);
                    }
                    continue;
                }
                let Node::Stack(stack) = &mut host.node else {
                    unreachable!()
                };
                let events = std::mem::take(&mut host.pending);
                let mut notes = Vec::new();
                let mut ctx = AppCtx {
                    now,
                    host: h,
                    host_name: &host.name,
                    addrs: &host.addrs,
                    stack,
                    events: &events,
                    log: &mut host.log,
                    wake: &mut host.wake,
                    notes: &mut notes,
                };
                host.app.poll(&mut ctx);
                for text in notes {
                    self.record.push(now, EntryKind::App { host: h, text });
                }
            }
            if !progress {
                break;
            }
        }
    }

    fn record_event(&mut self, h: HostId, ev: Event) {
        let now = self.now;
        let conn = match ev {
            Event::StateChanged { conn, .. }
            | Event::Connected { conn }
            | Event::Readable { conn }
            | Event::Writable { conn }
            | Event::Closed { conn, .. }
            | Event::Urgent { conn }
            | Event::SoftError { conn, .. } => Some(conn),
            Event::AcceptReady { .. } => None,
        };
        if let Some(c) = conn {
            if !self.record.conns.contains_key(&(h, c)) {
                if let Some(info) = self.hosts[h].stack().status(c) {
                    self.record.conns.insert(
                        (h, c),
                        ConnEnds {
                            local: info.local,
                            remote: info.remote,
                        },
                    );
                }
            }
        }
        match ev {
            Event::StateChanged {
                conn,
                from,
                to,
                cause,
            } => self.record.push(
                now,
                EntryKind::State {
                    host: h,
                    conn,
                    from,
                    to,
                    cause,
                },
            ),
            other => {
                if let Event::Closed { conn, reason } = other {
                    self.hosts[h].log.closed.insert(conn, reason);
                }
                self.record.push(
                    now,
                    EntryKind::Event {
                        host: h,
                        event: other,
                    },
                );
            }
        }
    }

    fn tail_of_trace(&self, lines: usize) -> String {
        let t = self.record.trace();
        let all: Vec<&str> = t.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The drop counters that rose while a stack handled one packet, as text.
fn rejection(before: &Counters, after: &Counters) -> Option<String> {
    let mut why = Vec::new();
    for (i, e) in synack::wire::ParseError::ALL.iter().enumerate() {
        if after.parse_drops[i] > before.parse_drops[i] {
            why.push(e.as_str());
        }
    }
    for (i, d) in synack::DropReason::ALL.iter().enumerate() {
        if after.drops[i] > before.drops[i] {
            why.push(d.as_str());
        }
    }
    (!why.is_empty()).then(|| why.join(", "))
}

#[cfg(test)]
mod tests;
