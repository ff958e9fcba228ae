//! The record of a run: every packet with its fate, every state change, every event and
//! application action, in virtual-time order; with accessors for tests and a plain trace.

use crate::fault::Match;
use crate::packet::Summary;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use synack::{Cause, CloseReason, ConnId, Duration, Event, Instant, State};

/// Index of a host in the world (and in the record).
pub type HostId = usize;

/// A host as the record knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

/// Why a packet never reached a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Random loss on the link.
    Loss,
    /// A scripted fault dropped it.
    Fault,
    /// Larger than the link MTU.
    Mtu,
    /// The link's queue was full.
    QueueFull,
    /// No host owns the destination address.
    NoRoute,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "lost",
            DropReason::Fault => "dropped by fault",
            DropReason::Mtu => "too big for MTU",
            DropReason::QueueFull => "queue full",
            DropReason::NoRoute => "no route",
        }
    }
}

/// What became of one packet (a duplicated packet has two fates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// On its way, due at `at`, when the run stopped.
    InFlight {
        at: Instant,
        copy: u8,
        corrupted: bool,
        held: Duration,
    },
    /// Handed to the receiving stack at `at`. `held` is extra delay from a fault;
    /// `rejected` names the counters that rose when the receiver processed it (a drop).
    Delivered {
        at: Instant,
        copy: u8,
        corrupted: bool,
        held: Duration,
        rejected: Option<String>,
    },
    /// Never arrived.
    Dropped(DropReason),
}

impl Fate {
    pub fn is_delivered(&self) -> bool {
        matches!(self, Fate::Delivered { .. })
    }
    /// Extra delay a fault added to this copy.
    pub fn held(&self) -> Duration {
        match self {
            Fate::InFlight { held, .. } | Fate::Delivered { held, .. } => *held,
            Fate::Dropped(_) => Duration::ZERO,
        }
    }
    /// `lost`, `dup corrupted`, `held 90s`, `in flight`, `rejected: ...`; `None` for a plain
    /// delivery.
    pub fn note(&self) -> Option<String> {
        let (copy, corrupted, held, rejected, in_flight) = match self {
            Fate::Dropped(r) => return Some(r.as_str().to_string()),
            Fate::InFlight {
                copy,
                corrupted,
                held,
                ..
            } => (*copy, *corrupted, *held, None, true),
            Fate::Delivered {
                copy,
                corrupted,
                held,
                rejected,
                ..
            } => (*copy, *corrupted, *held, rejected.as_deref(), false),
        };
        let mut parts = Vec::new();
        if copy > 0 {
            parts.push("dup".to_string());
        }
        if corrupted {
            parts.push("corrupted".to_string());
        }
        if !held.is_zero() {
            parts.push(format!("held {}", crate::time_util::short(held)));
        }
        if in_flight {
            parts.push("in flight".to_string());
        }
        if let Some(r) = rejected {
            parts.push(format!("rejected: {r}"));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// One packet put on the wire by a host (or injected from nowhere).
#[derive(Clone, Debug)]
pub struct PacketRecord {
    pub id: usize,
    pub sent: Instant,
    /// Sending host; `None` for injected packets.
    pub from: Option<HostId>,
    /// Receiving host; `None` if no host owns the destination.
    pub to: Option<HostId>,
    /// Words from the injection ("stale SYN").
    pub label: Option<String>,
    pub bytes: Vec<u8>,
    /// `None` if the packet is not readable IP + TCP.
    pub summary: Option<Summary>,
    pub fates: Vec<Fate>,
}

impl PacketRecord {
    /// The parsed summary; panics for unreadable packets (tests use it on stack output).
    pub fn s(&self) -> &Summary {
        self.summary
            .as_ref()
            .expect("packet is not readable IP + TCP")
    }
    pub fn payload(&self) -> &[u8] {
        match &self.summary {
            Some(s) => &self.bytes[s.payload_offset..s.payload_offset + s.payload_len],
            None => &[],
        }
    }
    /// Reached the receiver at least once.
    pub fn delivered(&self) -> bool {
        self.fates.iter().any(Fate::is_delivered)
    }
    /// Dropped on the way (every copy).
    pub fn lost(&self) -> bool {
        self.fates.iter().all(|f| matches!(f, Fate::Dropped(_)))
    }
}

/// Local and remote endpoint of a connection, as the host saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnEnds {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryKind {
    /// A packet left its sender (index into `packets`).
    Sent(usize),
    /// A copy of a packet reached its receiver.
    Arrived { packet: usize, copy: u8 },
    /// A connection changed state.
    State {
        host: HostId,
        conn: ConnId,
        from: State,
        to: State,
        cause: Cause,
    },
    /// Any other stack event (Connected, Closed, Readable, ...).
    Event { host: HostId, event: Event },
    /// Something the application did ("connect 198.18.0.2:80", "recv 5 bytes").
    App { host: HostId, text: String },
    /// A remark from the scenario or the world ("A reboots").
    Note { host: Option<HostId>, text: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub time: Instant,
    pub kind: EntryKind,
}

/// Everything that happened in a run.
#[derive(Clone, Debug, Default)]
pub struct Record {
    pub hosts: Vec<HostInfo>,
    pub packets: Vec<PacketRecord>,
    pub entries: Vec<Entry>,
    /// Endpoints of every connection seen, by host.
    pub conns: BTreeMap<(HostId, ConnId), ConnEnds>,
}

impl Record {
    /// Host index by name; panics on an unknown name (tests name hosts they built).
    pub fn host_id(&self, name: &str) -> HostId {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host named {name:?}"))
    }
    pub fn host_name(&self, h: Option<HostId>) -> &str {
        h.map_or("?", |h| self.hosts[h].name.as_str())
    }

    pub(crate) fn push(&mut self, time: Instant, kind: EntryKind) {
        self.entries.push(Entry { time, kind });
    }

    /// Packets sent from host `from` to host `to`, in sending order.
    pub fn segments(&self, from: &str, to: &str) -> Vec<&PacketRecord> {
        let (f, t) = (self.host_id(from), self.host_id(to));
        self.packets
            .iter()
            .filter(|p| p.from == Some(f) && p.to == Some(t))
            .collect()
    }
    /// Packets from `from` to `to` matching `m`.
    pub fn matching(&self, from: &str, to: &str, m: Match) -> Vec<&PacketRecord> {
        self.segments(from, to)
            .into_iter()
            .filter(|p| m.matches(p.summary.as_ref()))
            .collect()
    }
    /// Send times of packets from `from` to `to` matching `m` (e.g. the SYN retransmissions).
    pub fn times(&self, from: &str, to: &str, m: Match) -> Vec<Instant> {
        self.matching(from, to, m).iter().map(|p| p.sent).collect()
    }
    /// Packets a host sent to anyone (or into the void).
    pub fn sent_by(&self, host: &str) -> Vec<&PacketRecord> {
        let h = self.host_id(host);
        self.packets.iter().filter(|p| p.from == Some(h)).collect()
    }
    /// Packets that reached a host (at least one copy), in sending order.
    pub fn received_by(&self, host: &str) -> Vec<&PacketRecord> {
        let h = self.host_id(host);
        self.packets
            .iter()
            .filter(|p| p.to == Some(h) && p.delivered())
            .collect()
    }

    /// Every state change of a host: (time, connection, from, to, cause).
    pub fn transitions(&self, host: &str) -> Vec<(Instant, ConnId, State, State, Cause)> {
        let h = self.host_id(host);
        self.entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::State {
                    host,
                    conn,
                    from,
                    to,
                    cause,
                } if host == h => Some((e.time, conn, from, to, cause)),
                _ => None,
            })
            .collect()
    }
    /// The states a host's connections went through, in order: the first connection's
    /// starting state, then every `to` (all connections of the host, interleaved as they
    /// happened).
    pub fn state_path(&self, host: &str) -> Vec<State> {
        let t = self.transitions(host);
        let mut v: Vec<State> = t.first().map(|x| x.2).into_iter().collect();
        v.extend(t.iter().map(|x| x.3));
        v
    }
    /// Like [`Record::state_path`] for one connection.
    pub fn conn_state_path(&self, host: &str, conn: ConnId) -> Vec<State> {
        let t: Vec<_> = self
            .transitions(host)
            .into_iter()
            .filter(|x| x.1 == conn)
            .collect();
        let mut v: Vec<State> = t.first().map(|x| x.2).into_iter().collect();
        v.extend(t.iter().map(|x| x.3));
        v
    }
    /// Connections of a host in order of their first appearance.
    pub fn conns_of(&self, host: &str) -> Vec<ConnId> {
        let mut v = Vec::new();
        for (_, c, ..) in self.transitions(host) {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    }
    /// When a host (any of its connections) first entered `state`.
    pub fn entered(&self, host: &str, state: State) -> Option<Instant> {
        self.transitions(host)
            .into_iter()
            .find(|x| x.3 == state)
            .map(|x| x.0)
    }
    /// Every time a host entered `state`.
    pub fn entered_all(&self, host: &str, state: State) -> Vec<Instant> {
        self.transitions(host)
            .into_iter()
            .filter(|x| x.3 == state)
            .map(|x| x.0)
            .collect()
    }
    /// Stack events of a host other than state changes.
    pub fn events(&self, host: &str) -> Vec<(Instant, Event)> {
        let h = self.host_id(host);
        self.entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::Event { host, event } if host == h => Some((e.time, event)),
                _ => None,
            })
            .collect()
    }
    /// Close reasons the host's application was told, in order.
    pub fn close_reasons(&self, host: &str) -> Vec<(Instant, CloseReason)> {
        self.events(host)
            .into_iter()
            .filter_map(|(t, e)| match e {
                Event::Closed { reason, .. } => Some((t, reason)),
                _ => None,
            })
            .collect()
    }
    /// What a host's application did, in order.
    pub fn app_log(&self, host: &str) -> Vec<(Instant, String)> {
        let h = self.host_id(host);
        self.entries
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::App { host, text } if *host == h => Some((e.time, text.clone())),
                _ => None,
            })
            .collect()
    }

    /// One line per packet copy, state change, event and app action: for test failure
    /// messages and debugging. Absolute sequence numbers.
    pub fn trace(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            let _ = write!(out, "{:>10} ", e.time.to_string());
            match &e.kind {
                EntryKind::Sent(i) => {
                    let p = &self.packets[*i];
                    let _ = write!(
                        out,
                        "{}>{} {}",
                        self.host_name(p.from),
                        self.host_name(p.to),
                        describe(p.summary.as_ref(), true)
                    );
                    if let Some(l) = &p.label {
                        let _ = write!(out, " ({l})");
                    }
                    for f in &p.fates {
                        if let Some(n) = f.note() {
                            let _ = write!(out, " [{n}]");
                        }
                    }
                }
                EntryKind::Arrived { packet, copy } => {
                    let p = &self.packets[*packet];
                    let _ = write!(
                        out,
                        "  {} got #{} copy {}",
                        self.host_name(p.to),
                        packet,
                        copy
                    );
                }
                EntryKind::State {
                    host,
                    conn,
                    from,
                    to,
                    cause,
                } => {
                    let _ = write!(
                        out,
                        "{} {conn} {from} -> {to} ({cause})",
                        self.hosts[*host].name
                    );
                }
                EntryKind::Event { host, event } => {
                    let _ = write!(out, "{} event {event:?}", self.hosts[*host].name);
                }
                EntryKind::App { host, text } => {
                    let _ = write!(out, "{} app: {text}", self.hosts[*host].name);
                }
                EntryKind::Note { host, text } => {
                    let _ = write!(out, "{} note: {text}", self.host_name(*host));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// `SYN,ACK seq=1 ack=2 len=0 win=65535 <mss=1460>`: absolute numbers; `full` adds the
/// window and options.
pub fn describe(s: Option<&Summary>, full: bool) -> String {
    let Some(s) = s else {
        return "<unreadable packet>".to_string();
    };
    let mut out = format!("{} seq={}", s.flags, s.seq);
    if s.flags.ack() {
        let _ = write!(out, " ack={}", s.ack);
    }
    let _ = write!(out, " len={}", s.payload_len);
    if full {
        let _ = write!(out, " win={}", s.window);
        let o = s.options.describe();
        if !o.is_empty() {
            let _ = write!(out, " <{o}>");
        }
        if !s.checksum_ok {
            out.push_str(" BAD-CHECKSUM");
        }
    }
    out
}
