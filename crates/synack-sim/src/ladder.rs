//! Text ladder diagrams of a record, drawn the way the classic handshake explanations draw
//! them: time on the left, one column per host, an arrow per segment, the state changes
//! written on each side, and (optionally) a one-line explanation per row.

use crate::explain::{self, SegmentFacts};
use crate::i18n::{self, Lang};
use crate::record::{EntryKind, Fate, HostId, PacketRecord, Record};
use crate::time_util::short;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use synack::Instant;

/// How to draw a ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LadderOptions {
    /// ANSI colours (the CLI turns them on only for a terminal).
    pub colour: bool,
    /// Sequence and acknowledgment numbers relative to each side's ISN.
    pub relative: bool,
    /// Show the window field.
    pub window: bool,
    /// Show TCP options (`<mss=1460,sackOK,TS,ws=7>`).
    pub options: bool,
    /// Show short printable payloads (`"hello"`).
    pub payload: bool,
    /// Show application calls in the host columns.
    pub app: bool,
    /// A one-line explanation at the end of every row.
    pub explain: bool,
    /// Characters between two host columns.
    pub gap: usize,
    /// Language of the explanations (labels and state names are the same in all).
    pub lang: Lang,
}

impl Default for LadderOptions {
    fn default() -> Self {
        LadderOptions {
            colour: false,
            relative: true,
            window: false,
            options: false,
            payload: false,
            app: true,
            explain: false,
            gap: 46,
            lang: Lang::En,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Time,
    Header,
    Arrow(usize),
    Lost,
    State,
    App,
    Note,
    Explain,
}

impl Style {
    fn code(self) -> &'static str {
        const HOSTS: [&str; 5] = ["36", "33", "35", "32", "34"];
        match self {
            Style::Plain => "",
            Style::Time => "2",
            Style::Header => "1",
            Style::Arrow(i) => HOSTS[i % HOSTS.len()],
            Style::Lost => "31",
            Style::State => "1;32",
            Style::App => "35",
            Style::Note => "1;34",
            Style::Explain => "2",
        }
    }
}

/// One line of the diagram: text fragments at column positions.
#[derive(Default)]
struct Row {
    time: Option<Instant>,
    cells: Vec<(usize, String, Style)>,
    explain: Vec<String>,
    /// A state row that later state changes at the same time may join.
    state_row: bool,
}

const TIME_WIDTH: usize = 9;
/// Where the first host column starts.
const FIRST_COL: usize = TIME_WIDTH + 2;
/// Room kept for the text of the last column before explanations start.
const LAST_COL_WIDTH: usize = 26;

struct Ctx<'a> {
    rec: &'a Record,
    o: &'a LadderOptions,
    cols: Vec<usize>,
    tr: Tracker,
    numbers: ConnNumbers,
}

/// What the ladder remembers about each direction to name segments: ISNs (for relative
/// numbers), FINs, which SYNs and FINs were acknowledged, and what was sent before
/// (retransmissions). Feed it every packet in sending order.
#[derive(Default)]
pub(crate) struct Tracker {
    /// ISN of each direction (src -> dst), for relative numbers and explanations, and
    /// whether it came on a SYN,ACK (the passive side's).
    isn: BTreeMap<(SocketAddr, SocketAddr), u32>,
    passive: BTreeSet<(SocketAddr, SocketAddr)>,
    /// Sequence number of each direction's FIN.
    fin: BTreeMap<(SocketAddr, SocketAddr), u32>,
    /// Directions whose SYN has been acknowledged by a non-SYN segment already.
    syn_acked: BTreeSet<(SocketAddr, SocketAddr)>,
    /// Directions whose FIN has been acknowledged already.
    fin_acked: BTreeSet<(SocketAddr, SocketAddr)>,
    /// (src, dst, seq, flags without PSH, len) of every segment seen: retransmissions.
    seen: BTreeSet<(SocketAddr, SocketAddr, u32, u8, usize)>,
    /// The latest acknowledgment number the peer sent for each direction's data.
    acked: BTreeMap<(SocketAddr, SocketAddr), u32>,
}

/// Each host's connections numbered 1, 2, ... in order of appearance, and which hosts
/// have more than one (their state changes get a `[n]` prefix).
pub(crate) type ConnNumbers = (BTreeMap<(HostId, synack::ConnId), usize>, Vec<bool>);

pub(crate) fn conn_numbers(rec: &Record) -> ConnNumbers {
    let mut conn_no: BTreeMap<(HostId, synack::ConnId), usize> = BTreeMap::new();
    let mut per_host = vec![0usize; rec.hosts.len()];
    for e in &rec.entries {
        if let EntryKind::State { host, conn, .. } = e.kind {
            conn_no.entry((host, conn)).or_insert_with(|| {
                per_host[host] += 1;
                per_host[host]
            });
        }
    }
    let multi_conn = per_host.iter().map(|n| *n > 1).collect();
    (conn_no, multi_conn)
}

/// `[2] LISTEN -> SYN_RCVD` (the number only for hosts with several connections).
pub(crate) fn state_text(
    (conn_no, multi): &ConnNumbers,
    host: HostId,
    conn: synack::ConnId,
    from: synack::State,
    to: synack::State,
) -> String {
    if multi[host] {
        format!("[{}] {from} -> {to}", conn_no[&(host, conn)])
    } else {
        format!("{from} -> {to}")
    }
}

/// Render the record as a ladder diagram.
pub fn render(rec: &Record, o: &LadderOptions) -> String {
    let n = rec.hosts.len().max(2);
    let cols: Vec<usize> = (0..n).map(|i| FIRST_COL + i * o.gap).collect();
    let mut cx = Ctx {
        rec,
        o,
        cols,
        tr: Tracker::default(),
        numbers: conn_numbers(rec),
    };
    let mut rows = vec![cx.header()];
    for e in &rec.entries {
        match &e.kind {
            EntryKind::Sent(id) => {
                let p = &rec.packets[*id];
                let facts_text = cx.tr.facts(rec, o, p);
                for f in &p.fates {
                    rows.push(cx.packet_row(e.time, p, f, &facts_text));
                }
            }
            EntryKind::Arrived { packet, copy } => {
                let p = &rec.packets[*packet];
                let late = p.fates.iter().find(|f| match f {
                    Fate::Delivered { copy: c, held, .. } => c == copy && !held.is_zero(),
                    _ => false,
                });
                if let Some(f) = late {
                    rows.push(cx.late_arrival_row(e.time, p, f));
                }
            }
            EntryKind::State {
                host,
                conn,
                from,
                to,
                cause,
            } => {
                let text = state_text(&cx.numbers, *host, *conn, *from, *to);
                let why = explain::state(&rec.hosts[*host].name, *from, *to, *cause, o.lang);
                let col = cx.cols[*host];
                let joinable = rows.last().is_some_and(|r: &Row| {
                    r.state_row
                        && r.time == Some(e.time)
                        && r.cells.iter().all(|c| c.0 != col)
                        && r.cells.iter().all(|c| c.0 < col)
                });
                if joinable {
                    let r = rows.last_mut().expect("last row");
                    r.cells.push((col, text, Style::State));
                    r.explain.push(why);
                } else {
                    rows.push(Row {
                        time: Some(e.time),
                        cells: vec![(col, text, Style::State)],
                        explain: vec![why],
                        state_row: true,
                    });
                }
            }
            EntryKind::App { host, text } if o.app => {
                let why = explain::app(&rec.hosts[*host].name, text, o.lang);
                rows.push(Row {
                    time: Some(e.time),
                    cells: vec![(cx.cols[*host], text.clone(), Style::App)],
                    explain: vec![why],
                    state_row: false,
                });
            }
            EntryKind::Note { host, text } => {
                let col = host.map_or(FIRST_COL, |h| cx.cols[h]);
                rows.push(Row {
                    time: Some(e.time),
                    cells: vec![(
                        col,
                        format!("== {} ==", i18n::note(text, o.lang)),
                        Style::Note,
                    )],
                    explain: Vec::new(),
                    state_row: false,
                });
            }
            _ => {}
        }
    }
    let explain_col = cx.cols[n - 1] + LAST_COL_WIDTH;
    let mut out = String::new();
    for r in rows {
        cx.write_row(&mut out, &r, explain_col);
    }
    out
}

impl Ctx<'_> {
    fn header(&self) -> Row {
        let mut cells = Vec::new();
        for (h, info) in self.rec.hosts.iter().enumerate() {
            cells.push((
                self.cols[h],
                format!("{} {}", info.name, host_endpoint(self.rec, h)),
                Style::Header,
            ));
        }
        Row {
            time: None,
            cells,
            explain: Vec::new(),
            state_row: false,
        }
    }

    fn col_of_sender(&self, p: &PacketRecord) -> usize {
        sender_lane(self.rec, p)
    }

    fn col_of_receiver(&self, p: &PacketRecord, from: usize) -> usize {
        receiver_lane(p, from)
    }
}

/// The address (and port) a host is shown with: the endpoint it used most, or its first
/// address.
pub(crate) fn host_endpoint(rec: &Record, h: HostId) -> String {
    endpoint(rec, h).map_or_else(
        || {
            rec.hosts[h]
                .addrs
                .first()
                .map_or(String::new(), |a| a.to_string())
        },
        |e| e.to_string(),
    )
}

/// The address and port a host used most (as sender or receiver); the first one seen
/// wins a tie.
fn endpoint(rec: &Record, h: HostId) -> Option<SocketAddr> {
    let mut counts: Vec<(SocketAddr, usize)> = Vec::new();
    for p in &rec.packets {
        let Some(s) = p.summary.as_ref() else {
            continue;
        };
        let ep = if p.from == Some(h) {
            s.src
        } else if p.to == Some(h) {
            s.dst
        } else {
            continue;
        };
        match counts.iter_mut().find(|c| c.0 == ep) {
            Some(c) => c.1 += 1,
            None => counts.push((ep, 1)),
        }
    }
    let best = counts.iter().map(|c| c.1).max()?;
    counts.iter().find(|c| c.1 == best).map(|c| c.0)
}

/// The host lane a packet is drawn from. Injected packets come from the host that owns the
/// source address, if any, else from the lane next to the receiver.
pub(crate) fn sender_lane(rec: &Record, p: &PacketRecord) -> usize {
    if let Some(f) = p.from {
        return f;
    }
    let src = p.summary.as_ref().map(|s| s.src.ip());
    if let Some(h) = rec
        .hosts
        .iter()
        .position(|h| src.is_some_and(|ip| h.addrs.contains(&ip)))
    {
        if Some(h) != p.to {
            return h;
        }
    }
    other_lane(p.to.unwrap_or(0))
}

/// The host lane a packet is drawn to (for a packet to nowhere: the lane next to its
/// sender).
pub(crate) fn receiver_lane(p: &PacketRecord, from: usize) -> usize {
    p.to.unwrap_or_else(|| other_lane(from))
}

fn other_lane(c: usize) -> usize {
    if c == 0 {
        1
    } else {
        c - 1
    }
}

impl Tracker {
    /// The label and the explanation of a segment; updates the per-direction trackers.
    pub(crate) fn facts(
        &mut self,
        rec: &Record,
        o: &LadderOptions,
        p: &PacketRecord,
    ) -> (String, String) {
        let Some(s) = p.summary.as_ref() else {
            return (
                format!("<{} unreadable bytes>", p.bytes.len()),
                o.lang
                    .pick("an unreadable packet", "一个无法解析的报文")
                    .to_string(),
            );
        };
        let dir = (s.src, s.dst);
        let back = (s.dst, s.src);
        if s.flags.syn() && s.flags.ack() {
            self.passive.insert(dir);
        } else if s.flags.syn() {
            self.passive.remove(&dir);
        }
        if s.flags.syn() && self.isn.get(&dir) != Some(&s.seq) {
            self.isn.insert(dir, s.seq);
            self.fin.remove(&dir);
            self.syn_acked.remove(&back);
            self.fin_acked.remove(&dir);
        }
        let key = (s.src, s.dst, s.seq, s.flags.0 & !0x08, s.payload_len);
        let retransmission = !self.seen.insert(key);
        // The third segment: the first non-SYN segment of the active opener that acks the
        // passive side's SYN,ACK.
        let acks_syn = s.flags.ack()
            && !s.flags.syn()
            && !s.flags.rst()
            && self.passive.contains(&back)
            && self
                .isn
                .get(&back)
                .is_some_and(|isn| s.ack == isn.wrapping_add(1))
            && self.syn_acked.insert(back);
        let pure_ack = s.flags.ack()
            && !s.flags.syn()
            && !s.flags.fin()
            && !s.flags.rst()
            && s.payload_len == 0;
        let on_fin = s.flags.ack()
            && self
                .fin
                .get(&back)
                .is_some_and(|f| s.ack == f.wrapping_add(1));
        let acks_fin = on_fin && self.fin_acked.insert(back);
        // The peer resent its FIN (its ACK went missing): the same ACK again.
        let acks_fin_again = pure_ack && on_fin && !acks_fin;
        // A pure ACK one below what the peer already acknowledged: a window probe.
        let probe = pure_ack
            && self
                .acked
                .get(&dir)
                .is_some_and(|a| *a == s.seq.wrapping_add(1));
        if s.flags.ack() {
            self.acked.insert(back, s.ack);
        }
        if s.flags.fin() {
            let at = s.seq.wrapping_add(s.payload_len as u32);
            if self.fin.insert(dir, at) != Some(at) {
                self.fin_acked.remove(&dir);
            }
        }

        let (seq, ack) = if o.relative {
            self.relative(s)
        } else {
            (s.seq, s.ack)
        };
        let mut label = format!("{} seq={seq}", s.flags);
        if s.flags.ack() {
            label.push_str(&format!(" ack={ack}"));
        }
        if s.payload_len > 0 {
            label.push_str(&format!(" len={}", s.payload_len));
        }
        if o.window {
            label.push_str(&format!(" win={}", s.window));
        }
        if o.options {
            let opts = s.options.describe();
            if !opts.is_empty() {
                label.push_str(&format!(" <{opts}>"));
            }
        }
        if o.payload && (1..=16).contains(&s.payload_len) {
            let data = p.payload();
            if data.iter().all(|b| (0x20..0x7f).contains(b)) {
                label.push_str(&format!(" \"{}\"", String::from_utf8_lossy(data)));
            }
        }
        if let Some(l) = &p.label {
            label.push_str(&format!(" ({l})"));
        } else if p.from.is_none() {
            label.push_str(" (injected)");
        }
        let facts = SegmentFacts {
            sender: rec.host_name(p.from),
            receiver: rec.host_name(p.to),
            flags: s.flags,
            payload_len: s.payload_len,
            retransmission,
            acks_syn,
            acks_fin,
            acks_fin_again,
            probe,
            zero_window: s.window == 0 && !s.flags.rst(),
            injected: p.from.is_none().then(|| p.label.as_deref().unwrap_or("")),
        };
        (label, explain::segment(&facts, o.lang))
    }
}

impl Tracker {
    /// Sequence and acknowledgment numbers relative to each direction's ISN, as the labels
    /// show them (call after [`Tracker::facts`] for the same packet).
    pub(crate) fn relative(&self, s: &crate::packet::Summary) -> (u32, u32) {
        let (dir, back) = ((s.src, s.dst), (s.dst, s.src));
        (
            s.seq.wrapping_sub(self.isn.get(&dir).copied().unwrap_or(0)),
            s.ack
                .wrapping_sub(self.isn.get(&back).copied().unwrap_or(0)),
        )
    }
}

/// What a copy's fate adds to a segment's label: ` (held 90s)`, ` (dup)`, ` (corrupted)`.
pub(crate) fn copy_suffix(f: &Fate) -> String {
    let mut out = String::new();
    match f {
        Fate::Delivered { held, .. } | Fate::InFlight { held, .. } if !held.is_zero() => {
            out.push_str(&format!(" (held {})", short(*held)));
        }
        _ => {}
    }
    if let Fate::Delivered {
        copy, corrupted, ..
    }
    | Fate::InFlight {
        copy, corrupted, ..
    } = f
    {
        if *copy > 0 {
            out.push_str(" (dup)");
        }
        if *corrupted {
            out.push_str(" (corrupted)");
        }
    }
    out
}

/// `SYN` for a readable packet, else `packet`.
pub(crate) fn flags_word(p: &PacketRecord) -> String {
    p.summary
        .as_ref()
        .map_or("packet".to_string(), |s| s.flags.to_string())
}

impl Ctx<'_> {
    fn packet_row(
        &self,
        t: Instant,
        p: &PacketRecord,
        f: &Fate,
        (label, why): &(String, String),
    ) -> Row {
        let from = self.col_of_sender(p);
        let to = self.col_of_receiver(p, from);
        let label = format!("{label}{}", copy_suffix(f));
        let end = match f {
            Fate::Dropped(_) => End::Lost,
            Fate::Delivered { held, .. } | Fate::InFlight { held, .. } if !held.is_zero() => {
                End::Held
            }
            Fate::Delivered {
                rejected: Some(_), ..
            } => End::Rejected,
            _ => End::Arrives,
        };
        let (pos, text) = self.arrow(from, to, &label, end);
        let style = match end {
            End::Lost | End::Rejected => Style::Lost,
            _ => Style::Arrow(p.from.unwrap_or(self.rec.hosts.len())),
        };
        let mut explain = vec![why.clone()];
        explain.extend(explain::fate(self.rec.host_name(p.to), f, self.o.lang));
        Row {
            time: Some(t),
            cells: vec![(pos, text, style)],
            explain,
            state_row: false,
        }
    }

    fn late_arrival_row(&self, t: Instant, p: &PacketRecord, f: &Fate) -> Row {
        let from = self.col_of_sender(p);
        let to = self.col_of_receiver(p, from);
        let what = flags_word(p);
        let label = format!("{what} sent at {}", p.sent);
        let end = if matches!(
            f,
            Fate::Delivered {
                rejected: Some(_),
                ..
            }
        ) {
            End::LateRejected
        } else {
            End::Late
        };
        let (pos, text) = self.arrow(from, to, &label, end);
        let mut explain = vec![explain::late_arrival(
            &what,
            self.rec.host_name(p.to),
            self.o.lang,
        )];
        if let Fate::Delivered {
            rejected: Some(r), ..
        } = f
        {
            explain.push(explain::rejection(self.rec.host_name(p.to), r, self.o.lang));
        }
        Row {
            time: Some(t),
            cells: vec![(pos, text, Style::Arrow(p.from.unwrap_or(0)))],
            explain,
            state_row: false,
        }
    }

    /// An arrow from column `from` to column `to` with `label` on it; returns where it starts
    /// and its text. The label sits next to the arrow's tail end on the left.
    fn arrow(&self, from: usize, to: usize, label: &str, end: End) -> (usize, String) {
        let (lo, hi) = (from.min(to), from.max(to));
        let left = self.cols[lo];
        // Characters from the left column up to two before the right column.
        let span = if lo == hi {
            self.o.gap / 2
        } else {
            self.cols[hi] - 1 - left
        };
        let rightwards = from <= to;
        let lead = match end {
            End::Late | End::LateRejected => "~",
            _ => "-",
        };
        let labelled = format!(" {label} ");
        let min = labelled.chars().count() + 7;
        let full = span.max(min);
        let half = (full * 2 / 3).max(min);
        let (len, tail) = match end {
            End::Arrives | End::Late => (full, if rightwards { '>' } else { '<' }),
            End::Rejected | End::LateRejected => (full, 'X'),
            End::Lost => (half, 'X'),
            End::Held => (half, '~'),
        };
        let mut s = String::new();
        if rightwards {
            s.push_str(&lead.repeat(5));
            s.push_str(&labelled);
            while s.chars().count() < len - 1 {
                s.push('-');
            }
            s.push(tail);
            (left, s)
        } else {
            s.push(tail);
            s.push_str(&lead.repeat(4));
            s.push_str(&labelled);
            while s.chars().count() < len {
                s.push('-');
            }
            let start = if len < full || lo == hi {
                (left + full).saturating_sub(len)
            } else {
                left
            };
            (start, s)
        }
    }

    fn write_row(&self, out: &mut String, r: &Row, explain_col: usize) {
        let mut line = String::new();
        let mut width = 0;
        let put = |line: &mut String, width: &mut usize, pos: usize, text: &str, st: Style| {
            if *width < pos {
                line.push_str(&" ".repeat(pos - *width));
                *width = pos;
            } else if *width > 0 {
                line.push(' ');
                *width += 1;
            }
            if self.o.colour && st != Style::Plain {
                line.push_str(&format!("\x1b[{}m{text}\x1b[0m", st.code()));
            } else {
                line.push_str(text);
            }
            *width += text.chars().count();
        };
        match r.time {
            Some(t) => put(
                &mut line,
                &mut width,
                0,
                &format!("{:>TIME_WIDTH$}", t.to_string()),
                Style::Time,
            ),
            None => put(
                &mut line,
                &mut width,
                0,
                &format!("{:>TIME_WIDTH$}", "time"),
                Style::Header,
            ),
        }
        let mut cells: Vec<_> = r.cells.iter().collect();
        cells.sort_by_key(|c| c.0);
        for (pos, text, st) in cells {
            put(&mut line, &mut width, *pos, text, *st);
        }
        let why: Vec<&str> = r
            .explain
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if self.o.explain && !why.is_empty() {
            let pos = explain_col.max(width + 2);
            let sep = self.o.lang.pick("; ", "；");
            put(&mut line, &mut width, pos, &why.join(sep), Style::Explain);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Reaches the receiver.
    Arrives,
    /// Reaches the receiver, which discards it.
    Rejected,
    /// Stops half-way.
    Lost,
    /// Stops half-way: the network holds it (it arrives later, drawn again then).
    Held,
    /// The late arrival of a held segment.
    Late,
    /// The late arrival of a held segment, which the receiver discards.
    LateRejected,
}

#[cfg(test)]
mod tests;
