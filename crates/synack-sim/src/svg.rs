//! The ladder as a picture: an SVG file that any browser opens, with nothing to fetch (no
//! fonts, scripts or stylesheets from elsewhere: everything is presentation attributes).
//!
//! One vertical line per host, time going down. Every recorded segment is one
//! `<g class="seg">` element: a line from its sender at the moment it left to its receiver at
//! the moment it arrived (a duplicated segment has one line per copy inside the same group).
//! A lost segment stops half-way at a red X; a segment its receiver rejected ends in a red X
//! at the receiver; a segment the network held back bends down the middle until it arrives.
//! State changes sit in boxes beside the host lines, application calls beside them in
//! italics, and each row's explanation runs down the right-hand side.
//!
//! The vertical scale follows the order of events and, loosely, their times: every event
//! gets its own row, and the space between rows grows with the logarithm of the time between
//! them, so a 10 ms link delay and a 1 s retransmission timeout both read as what they are.
//! A quiet stretch of 10 s or more (TIME-WAIT's 60 s) is cut short and marked with a zigzag
//! across the host lines and its length.
//!
//! Output is deterministic: the same record and options give the same bytes.

use crate::explain;
use crate::i18n::{self, Lang, Word};
use crate::ladder::{self, LadderOptions, Tracker};
use crate::record::{describe, EntryKind, Fate, PacketRecord, Record};
use crate::time_util::short;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use synack::{Duration, Instant};

/// Quiet stretches at least this long are cut short and marked.
pub const BREAK_AFTER: Duration = Duration::from_secs(10);

const MONO: &str =
    "ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace";
const SANS: &str = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'DejaVu Sans', \
                    'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif";
/// Font size of labels, states and calls (monospace), and its advance per character.
const MONO_PX: f64 = 11.0;
const MONO_CH: f64 = 6.7;
/// Font size of explanations (sans-serif) and the width of one narrow column of it.
const SANS_PX: f64 = 12.0;
const SANS_CH: f64 = 6.6;
/// Explanations wrap at this many display columns.
const EXPLAIN_COLS: usize = 66;
const LINE: f64 = 15.0;
const TIME_W: f64 = 66.0;
/// Where the host boxes start, with and without a title above them.
const HEAD_H: f64 = 48.0;
const HEAD_H_UNTITLED: f64 = 14.0;
const BREAK_H: f64 = 46.0;
/// How far a lost segment gets (fraction of the way) and how far it falls on the way.
const LOST_AT: f64 = 0.45;
const NOMINAL_DROP: f64 = 48.0;

const LOST: &str = "#d62728";
const LANE: &str = "#555";
const STATE_FILL: &str = "#e9f5ea";
const STATE_STROKE: &str = "#3d8b40";
const STATE_TEXT: &str = "#1b5e20";
const APP_TEXT: &str = "#7b1fa2";
const NOTE_FILL: &str = "#fff4d6";
const NOTE_STROKE: &str = "#c99a06";
const EXPLAIN_TEXT: &str = "#3a3a3a";
const TIME_TEXT: &str = "#777";

/// The colour of a host's segments.
fn host_colour(h: usize) -> &'static str {
    const C: [&str; 5] = ["#1f6fb2", "#c4561b", "#7b3fa0", "#2a8a4a", "#8a6d1f"];
    C[h % C.len()]
}

#[derive(Clone, Debug, PartialEq)]
enum RowKind {
    /// A packet left its sender.
    Send(usize),
    /// A copy of a packet reached its receiver.
    Arrive(usize),
    /// State changes, application calls, notes.
    Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextKind {
    State,
    App,
    Note,
}

struct Row {
    t: Instant,
    kind: RowKind,
    /// Text beside a host line.
    texts: Vec<(usize, String, TextKind)>,
    /// A remark across the whole picture.
    banner: Option<String>,
    explain: Vec<String>,
    /// Where the row's arrows start or end and its texts sit.
    y: f64,
    /// The quiet stretch cut out just before this row, if any.
    cut: Option<(Duration, f64)>,
    show_time: bool,
}

impl Row {
    fn new(t: Instant, kind: RowKind) -> Row {
        Row {
            t,
            kind,
            texts: Vec::new(),
            banner: None,
            explain: Vec::new(),
            y: 0.0,
            cut: None,
            show_time: false,
        }
    }
    fn has_text_at(&self, lane: usize) -> bool {
        self.texts.iter().any(|t| t.0 == lane)
    }
}

/// One segment to draw.
struct Seg {
    packet: usize,
    label: String,
    /// Full description for the tooltip.
    title: String,
    from: usize,
    to: usize,
    send_row: usize,
}

/// Render the record as an SVG picture. `title` goes above the hosts.
pub fn render(rec: &Record, o: &LadderOptions, title: Option<&str>) -> String {
    let lanes = rec.hosts.len().max(2);
    let (rows, segs, arrivals) = build_rows(rec, o);
    let head = if title.is_some() {
        HEAD_H
    } else {
        HEAD_H_UNTITLED
    };
    Picture::new(rec, o, lanes, rows, segs, arrivals, head).draw(title)
}

type Arrivals = BTreeMap<(usize, u8), usize>;

fn build_rows(rec: &Record, o: &LadderOptions) -> (Vec<Row>, Vec<Seg>, Arrivals) {
    let lang = o.lang;
    let numbers = ladder::conn_numbers(rec);
    let mut tracker = Tracker::default();
    let mut rows: Vec<Row> = Vec::new();
    let mut segs = Vec::new();
    let mut arrivals = BTreeMap::new();
    for e in &rec.entries {
        match &e.kind {
            EntryKind::Sent(id) => {
                let p = &rec.packets[*id];
                let (label, why) = tracker.facts(rec, o, p);
                let mut row = Row::new(e.time, RowKind::Send(*id));
                row.explain.push(why);
                for f in &p.fates {
                    if let Some(w) = explain::on_the_way(f, lang) {
                        if !row.explain.contains(&w) {
                            row.explain.push(w);
                        }
                    }
                }
                let from = ladder::sender_lane(rec, p);
                let to = ladder::receiver_lane(p, from);
                segs.push(Seg {
                    packet: *id,
                    title: tooltip(rec, p, &label),
                    label,
                    from,
                    to,
                    send_row: rows.len(),
                });
                rows.push(row);
            }
            EntryKind::Arrived { packet, copy } => {
                let p = &rec.packets[*packet];
                let mut row = Row::new(e.time, RowKind::Arrive(*packet));
                for f in &p.fates {
                    if let Fate::Delivered {
                        copy: c,
                        held,
                        rejected,
                        ..
                    } = f
                    {
                        if c != copy {
                            continue;
                        }
                        let to = rec.host_name(p.to);
                        if !held.is_zero() {
                            row.explain.push(explain::late_arrival(
                                &ladder::flags_word(p),
                                to,
                                lang,
                            ));
                        }
                        if let Some(r) = rejected {
                            row.explain.push(explain::rejection(to, r, lang));
                        }
                    }
                }
                arrivals.insert((*packet, *copy), rows.len());
                rows.push(row);
            }
            EntryKind::State {
                host,
                conn,
                from,
                to,
                cause,
            } => {
                let text = ladder::state_text(&numbers, *host, *conn, *from, *to)
                    .replacen(" -> ", " → ", 1);
                let why = explain::state(&rec.hosts[*host].name, *from, *to, *cause, lang);
                place(
                    &mut rows,
                    e.time,
                    *host,
                    text,
                    TextKind::State,
                    why,
                    lanes(rec),
                );
            }
            EntryKind::App { host, text } if o.app => {
                let why = explain::app(&rec.hosts[*host].name, text, lang);
                place(
                    &mut rows,
                    e.time,
                    *host,
                    text.clone(),
                    TextKind::App,
                    why,
                    lanes(rec),
                );
            }
            EntryKind::Note { host, text } => {
                let text = i18n::note(text, lang);
                let mut row = Row::new(e.time, RowKind::Text);
                match host {
                    Some(h) => row.texts.push((*h, text, TextKind::Note)),
                    None => row.banner = Some(text),
                }
                rows.push(row);
            }
            _ => {}
        }
    }
    (rows, segs, arrivals)
}

fn lanes(rec: &Record) -> usize {
    rec.hosts.len().max(2)
}

/// Put a state change or an application call on the last row when it belongs there (same
/// instant, that host's place free, and the row is a row of state changes, or the arrival
/// that caused it at an outer host line), else on a row of its own.
fn place(
    rows: &mut Vec<Row>,
    t: Instant,
    host: usize,
    text: String,
    kind: TextKind,
    why: String,
    lanes: usize,
) {
    let outer = host == 0 || host + 1 == lanes;
    if let Some(last) = rows.last_mut() {
        let same = last.t == t && !last.has_text_at(host) && last.banner.is_none();
        let state_row = last.kind == RowKind::Text
            && !last.texts.is_empty()
            && last
                .texts
                .iter()
                .all(|x| x.2 == TextKind::State && x.0 < host)
            && kind == TextKind::State;
        let arrival_here = matches!(last.kind, RowKind::Arrive(_))
            && last.texts.is_empty()
            && last.explain.is_empty()
            && outer;
        if same && (state_row || arrival_here) {
            last.texts.push((host, text, kind));
            if !why.is_empty() {
                last.explain.push(why);
            }
            return;
        }
    }
    let mut row = Row::new(t, RowKind::Text);
    row.texts.push((host, text, kind));
    if !why.is_empty() {
        row.explain.push(why);
    }
    rows.push(row);
}

/// Everything about a segment, for the tooltip a browser shows on hover.
fn tooltip(rec: &Record, p: &PacketRecord, label: &str) -> String {
    let mut t = format!(
        "#{} {} → {} at {}: {label}\n{}",
        p.id,
        rec.host_name(p.from),
        rec.host_name(p.to),
        p.sent,
        describe(p.summary.as_ref(), true)
    );
    for f in &p.fates {
        match f {
            Fate::Delivered { at, .. } => {
                let _ = write!(t, "\narrives {at}");
            }
            Fate::InFlight { at, .. } => {
                let _ = write!(t, "\ndue {at}");
            }
            Fate::Dropped(_) => {}
        }
        if let Some(n) = f.note() {
            let _ = write!(t, " [{n}]");
        }
    }
    t
}

struct Picture<'a> {
    rec: &'a Record,
    o: &'a LadderOptions,
    lang: Lang,
    rows: Vec<Row>,
    segs: Vec<Seg>,
    arrivals: Arrivals,
    xs: Vec<f64>,
    explain_x: f64,
    width: f64,
    height: f64,
    /// Where the host boxes start.
    head: f64,
    bottom: f64,
}

fn mono_w(s: &str) -> f64 {
    i18n::width(s) as f64 * MONO_CH
}

/// Vertical space for a time gap between two rows.
fn gap_px(d: Duration) -> f64 {
    let ms = d.as_micros() as f64 / 1000.0;
    if ms <= 0.0 {
        0.0
    } else {
        (10.0 * (1.0 + ms / 2.0).log2()).min(120.0)
    }
}

impl<'a> Picture<'a> {
    fn new(
        rec: &'a Record,
        o: &'a LadderOptions,
        lanes: usize,
        rows: Vec<Row>,
        segs: Vec<Seg>,
        arrivals: Arrivals,
        head: f64,
    ) -> Picture<'a> {
        // Room for the texts beside the outer host lines, and between lanes for the longest
        // label and the texts of the inner lines.
        let text_w = |lane: usize| -> f64 {
            rows.iter()
                .flat_map(|r| r.texts.iter())
                .filter(|t| t.0 == lane)
                .map(|t| mono_w(&t.1) + 16.0)
                .fold(0.0, f64::max)
        };
        let head_w = |lane: usize| -> f64 {
            let ep = ladder::host_endpoint(rec, lane);
            mono_w(&ep) / 2.0 + 12.0
        };
        let left = text_w(0).max(head_w(0)).max(90.0) + 14.0;
        let longest_label = segs.iter().map(|s| mono_w(&s.label)).fold(0.0, f64::max);
        let inner = (1..lanes.saturating_sub(1)).map(text_w).fold(0.0, f64::max);
        let gap = (longest_label + 110.0).max(inner + 150.0).max(380.0);
        let xs: Vec<f64> = (0..lanes)
            .map(|i| (TIME_W + left + i as f64 * gap).round())
            .collect();
        let right = text_w(lanes - 1).max(head_w(lanes - 1)).max(90.0) + 18.0;
        let explain_x = (xs[lanes - 1] + right).round();
        let explain_w = if o.explain {
            EXPLAIN_COLS as f64 * SANS_CH + 16.0
        } else {
            0.0
        };
        let width = (explain_x + explain_w).round();
        let mut p = Picture {
            rec,
            o,
            lang: o.lang,
            rows,
            segs,
            arrivals,
            xs,
            explain_x,
            width,
            height: 0.0,
            head,
            bottom: 0.0,
        };
        p.lay_out();
        p
    }

    fn explain_lines(&self, r: &Row) -> Vec<String> {
        if !self.o.explain {
            return Vec::new();
        }
        let parts: Vec<&str> = r
            .explain
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            return Vec::new();
        }
        i18n::wrap(&parts.join(self.lang.pick("; ", "；")), EXPLAIN_COLS)
    }

    /// Give every row its y, and find the cuts.
    fn lay_out(&mut self) {
        let mut y = self.head + 50.0;
        let mut prev: Option<Instant> = None;
        // The last time written on the left, and where.
        let mut shown: Option<(Instant, f64)> = None;
        for i in 0..self.rows.len() {
            let lines = self.explain_lines(&self.rows[i]).len();
            let r = &mut self.rows[i];
            let quiet = matches!(r.kind, RowKind::Arrive(_)) && r.texts.is_empty() && lines == 0;
            if let Some(p) = prev {
                let d = r.t.saturating_since(p);
                if d >= BREAK_AFTER {
                    r.cut = Some((d, y + 4.0));
                    y += BREAK_H;
                } else {
                    y += gap_px(d);
                }
            }
            let (above, below) = if quiet { (4.0, 4.0) } else { (12.0, 11.0) };
            y += above;
            r.y = y;
            y += below + LINE * lines.saturating_sub(1) as f64;
            // Every new instant gets its time, unless it is a bare arrival too close to the
            // time above it.
            let fresh = shown.is_none_or(|(t, _)| t != r.t);
            let room = shown.is_none_or(|(_, sy)| r.y - sy >= 12.0);
            if fresh && (room || !quiet) {
                r.show_time = true;
                shown = Some((r.t, r.y));
            }
            prev = Some(r.t);
        }
        // Lost segments fall a little below their row; keep them inside the picture.
        self.bottom = y + NOMINAL_DROP * LOST_AT + 16.0;
        self.height = (self.bottom + 36.0).round();
    }

    fn draw(&self, title: Option<&str>) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{SANS}" font-size="{SANS_PX}" role="img">"#,
            w = self.width,
            h = self.height,
        );
        let _ = writeln!(
            s,
            "<title>{}</title>",
            esc(title.unwrap_or("synack ladder diagram"))
        );
        let _ = writeln!(
            s,
            r##"<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
            self.width, self.height
        );
        if let Some(t) = title {
            let _ = writeln!(
                s,
                r##"<text x="16" y="26" font-size="15" font-weight="bold" fill="#222">{}</text>"##,
                esc(t)
            );
        }
        self.draw_heads(&mut s);
        self.draw_lanes(&mut s);
        self.draw_segments(&mut s);
        self.draw_labels(&mut s);
        self.draw_texts(&mut s);
        self.draw_footer(&mut s);
        s.push_str("</svg>\n");
        s
    }

    fn draw_heads(&self, s: &mut String) {
        let y = self.head;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TIME_TEXT}">{}</text>"##,
            TIME_W - 6.0,
            y + 30.0,
            esc(i18n::word(Word::Time, self.lang))
        );
        for (h, x) in self.xs.iter().enumerate() {
            let Some(info) = self.rec.hosts.get(h) else {
                continue;
            };
            let ep = ladder::host_endpoint(self.rec, h);
            let w = mono_w(&ep).max(mono_w(&info.name) * 1.4) + 18.0;
            let _ = writeln!(
                s,
                r##"<g><rect x="{:.1}" y="{y:.1}" width="{w:.1}" height="36" rx="6" fill="#f4f6f9" stroke="{c}" stroke-width="1.5"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold" font-size="14" fill="{c}">{}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-family="{MONO}" font-size="{MONO_PX}" fill="#333">{}</text></g>"##,
                x - w / 2.0,
                y + 15.0,
                esc(&info.name),
                y + 30.0,
                esc(&ep),
                c = host_colour(h),
            );
        }
    }

    fn cuts(&self) -> Vec<(Duration, f64)> {
        self.rows.iter().filter_map(|r| r.cut).collect()
    }

    fn draw_lanes(&self, s: &mut String) {
        let cuts = self.cuts();
        let mut spans = Vec::new();
        let mut from = self.head + 36.0;
        for (_, y) in &cuts {
            spans.push((from, y + 10.0));
            from = y + BREAK_H - 10.0;
        }
        spans.push((from, self.bottom));
        s.push_str(r#"<g class="lanes">"#);
        s.push('\n');
        for (h, x) in self.xs.iter().enumerate() {
            let c = if h < self.rec.hosts.len() {
                LANE
            } else {
                "#bbb"
            };
            for (a, b) in &spans {
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.1}" y1="{a:.1}" x2="{x:.1}" y2="{b:.1}" stroke="{c}" stroke-width="2"/>"#
                );
            }
            for (_, y) in &cuts {
                // A zigzag where the line is cut.
                let (a, b) = (y + 10.0, y + BREAK_H - 10.0);
                let step = (b - a) / 4.0;
                let _ = writeln!(
                    s,
                    r#"<path d="M{x:.1},{a:.1} L{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} L{x:.1},{b:.1}" fill="none" stroke="{c}" stroke-width="1.5"/>"#,
                    x - 6.0,
                    a + step,
                    x + 6.0,
                    a + 2.0 * step,
                    x - 6.0,
                    a + 3.0 * step,
                );
            }
        }
        for (d, y) in &cuts {
            let mid = y + BREAK_H / 2.0;
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="#aaa" stroke-width="1" stroke-dasharray="2 5"/>"##,
                TIME_W - 50.0,
                self.width - 12.0
            );
            let text = format!("{} {}", short(*d), i18n::word(Word::Later, self.lang));
            let _ = writeln!(
                s,
                r##"<text class="cut" x="8" y="{:.1}" font-size="11" font-style="italic" fill="#555" stroke="#ffffff" stroke-width="4" paint-order="stroke">{}</text>"##,
                mid + 4.0,
                esc(&text)
            );
        }
        s.push_str("</g>\n");
    }

    /// Where a copy of a segment ends, and how.
    fn copy_end(&self, seg: &Seg, f: &Fate) -> (End, f64) {
        let y0 = self.rows[seg.send_row].y;
        match f {
            Fate::Delivered {
                copy,
                rejected,
                held,
                ..
            } => {
                let y1 = self
                    .arrivals
                    .get(&(seg.packet, *copy))
                    .map_or(y0 + NOMINAL_DROP, |r| self.rows[*r].y);
                let end = match (rejected.is_some(), !held.is_zero()) {
                    (true, true) => End::HeldRejected,
                    (true, false) => End::Rejected,
                    (false, true) => End::Held,
                    (false, false) => End::Arrives,
                };
                (end, y1)
            }
            Fate::InFlight { .. } => (End::InFlight, y0 + NOMINAL_DROP),
            Fate::Dropped(_) => (End::Lost, y0 + NOMINAL_DROP),
        }
    }

    fn draw_segments(&self, s: &mut String) {
        s.push_str("<g class=\"segments\">\n");
        for seg in &self.segs {
            let p = &self.rec.packets[seg.packet];
            let colour = p.from.map_or("#666", host_colour);
            let (x0, x1) = (self.xs[seg.from], self.xs[seg.to]);
            let y0 = self.rows[seg.send_row].y;
            let _ = write!(
                s,
                r#"<g class="seg" id="seg-{}"><title>{}</title>"#,
                seg.packet,
                esc(&seg.title)
            );
            for (i, f) in p.fates.iter().enumerate() {
                let (end, y1) = self.copy_end(seg, f);
                let class = if i == 0 { "line" } else { "copy" };
                draw_copy(s, class, (x0, y0), (x1, y1), end, colour);
            }
            // A packet with no fate at all (not expected): drawn as still on its way.
            if p.fates.is_empty() {
                draw_copy(
                    s,
                    "line",
                    (x0, y0),
                    (x1, y0 + NOMINAL_DROP),
                    End::InFlight,
                    colour,
                );
            }
            s.push_str("</g>\n");
        }
        s.push_str("</g>\n");
    }

    fn draw_labels(&self, s: &mut String) {
        let _ = writeln!(
            s,
            r##"<g class="labels" font-family="{MONO}" font-size="{MONO_PX}" stroke="#ffffff" stroke-width="3.5" stroke-linejoin="round" paint-order="stroke">"##
        );
        for seg in &self.segs {
            let p = &self.rec.packets[seg.packet];
            let (x0, x1) = (self.xs[seg.from], self.xs[seg.to]);
            let y0 = self.rows[seg.send_row].y;
            let first = p.fates.first();
            let (end, y1) = first.map_or((End::InFlight, y0 + NOMINAL_DROP), |f| {
                self.copy_end(seg, f)
            });
            let (px, py) = match end {
                End::Lost | End::InFlight => (x0 + (x1 - x0) * LOST_AT, y0 + (y1 - y0) * LOST_AT),
                End::Held | End::HeldRejected => (x0 + (x1 - x0) * 0.5, y0 + HELD_STUB),
                _ => (x1, y1),
            };
            let colour = match end {
                End::Lost | End::Rejected | End::HeldRejected => LOST,
                _ => p.from.map_or("#666", host_colour),
            };
            let label = format!(
                "{}{}",
                seg.label,
                first.map_or(String::new(), ladder::copy_suffix)
            );
            // Along the line, starting just off the sender, never upside down.
            let (dx, dy) = (px - x0, py - y0);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ux, uy) = (dx / len, dy / len);
            let (tx, ty) = (x0 + ux * 12.0, y0 + uy * 12.0);
            let (angle, anchor) = if dx >= 0.0 {
                (uy.atan2(ux).to_degrees(), "start")
            } else {
                ((-uy).atan2(-ux).to_degrees(), "end")
            };
            let _ = writeln!(
                s,
                r#"<text class="seg-label" x="{tx:.1}" y="{ty:.1}" dy="-4" text-anchor="{anchor}" transform="rotate({angle:.2} {tx:.1} {ty:.1})" fill="{colour}">{}</text>"#,
                esc(&label)
            );
        }
        s.push_str("</g>\n");
    }

    fn draw_texts(&self, s: &mut String) {
        let lanes = self.xs.len();
        s.push_str("<g class=\"rows\">\n");
        for r in &self.rows {
            let y = r.y;
            if r.show_time {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-family="{MONO}" font-size="{MONO_PX}" fill="{TIME_TEXT}">{}</text>"#,
                    TIME_W - 6.0,
                    y + 4.0,
                    r.t
                );
            }
            for (lane, text, kind) in &r.texts {
                let x = self.xs[*lane];
                let w = mono_w(text) + 10.0;
                // Outside the outer lines, right of the inner ones.
                let left_edge = if *lane == 0 && lanes > 1 {
                    x - 7.0 - w
                } else {
                    x + 7.0
                };
                match kind {
                    TextKind::State | TextKind::Note => {
                        let (fill, stroke, ink) = if *kind == TextKind::State {
                            (STATE_FILL, STATE_STROKE, STATE_TEXT)
                        } else {
                            (NOTE_FILL, NOTE_STROKE, "#7a5c00")
                        };
                        let _ = writeln!(
                            s,
                            r#"<g class="state"><rect x="{left_edge:.1}" y="{:.1}" width="{w:.1}" height="17" rx="8.5" fill="{fill}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}" font-family="{MONO}" font-size="{MONO_PX}" font-weight="bold" fill="{ink}">{}</text></g>"#,
                            y - 8.5,
                            left_edge + 5.0,
                            y + 4.0,
                            esc(text)
                        );
                    }
                    TextKind::App => {
                        let _ = writeln!(
                            s,
                            r#"<text class="app" x="{:.1}" y="{:.1}" font-family="{MONO}" font-size="{MONO_PX}" font-style="italic" fill="{APP_TEXT}">{}</text>"#,
                            left_edge + 5.0,
                            y + 4.0,
                            esc(text)
                        );
                    }
                }
            }
            if let Some(b) = &r.banner {
                let mid = (self.xs[0] + self.xs[lanes - 1]) / 2.0;
                let _ = writeln!(
                    s,
                    r##"<text x="{mid:.1}" y="{:.1}" text-anchor="middle" font-weight="bold" fill="#7a5c00" stroke="#ffffff" stroke-width="4" paint-order="stroke">{}</text>"##,
                    y + 4.0,
                    esc(b)
                );
            }
            let lines = self.explain_lines(r);
            if !lines.is_empty() {
                let _ = write!(
                    s,
                    r#"<text class="explain" x="{:.1}" y="{:.1}" fill="{EXPLAIN_TEXT}">"#,
                    self.explain_x,
                    y + 4.0
                );
                for (i, l) in lines.iter().enumerate() {
                    let dy = if i == 0 { 0.0 } else { LINE };
                    let _ = write!(
                        s,
                        r#"<tspan x="{:.1}" dy="{dy:.1}">{}</tspan>"#,
                        self.explain_x,
                        esc(l)
                    );
                }
                s.push_str("</text>\n");
            }
        }
        s.push_str("</g>\n");
    }

    fn draw_footer(&self, s: &mut String) {
        let _ = writeln!(
            s,
            r##"<text x="16" y="{:.1}" font-size="10.5" fill="#999">{}</text>"##,
            self.height - 12.0,
            esc(i18n::word(Word::GeneratedBy, self.lang))
        );
    }
}

/// How far a held segment travels before it turns down.
const HELD_STUB: f64 = 18.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Arrives,
    Rejected,
    Lost,
    InFlight,
    Held,
    HeldRejected,
}

/// One copy of a segment: a line (or a bent path, or a stub), with its head.
fn draw_copy(
    s: &mut String,
    class: &str,
    (x0, y0): (f64, f64),
    (x1, y1): (f64, f64),
    end: End,
    colour: &str,
) {
    let dx = x1 - x0;
    match end {
        End::Arrives | End::Rejected => {
            let c = if end == End::Rejected { LOST } else { colour };
            let _ = write!(
                s,
                r#"<line class="{class}" x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{y1:.1}" stroke="{c}" stroke-width="1.6"/>"#
            );
            if end == End::Rejected {
                cross(s, x1 - dx.signum() * 8.0, y1, LOST);
            } else {
                head(s, (x0, y0), (x1, y1), c);
            }
        }
        End::Lost | End::InFlight => {
            let (ex, ey) = (x0 + dx * LOST_AT, y0 + (y1 - y0) * LOST_AT);
            let dash = if end == End::InFlight {
                r#" stroke-dasharray="5 4""#
            } else {
                ""
            };
            let c = if end == End::Lost { LOST } else { colour };
            let _ = write!(
                s,
                r#"<line class="{class}" x1="{x0:.1}" y1="{y0:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="{c}" stroke-width="1.6"{dash}/>"#
            );
            if end == End::Lost {
                cross(s, ex, ey, LOST);
            }
        }
        End::Held | End::HeldRejected => {
            let mx = x0 + dx * 0.5;
            let (ay, by) = (y0 + HELD_STUB, (y1 - HELD_STUB).max(y0 + HELD_STUB));
            let c = if end == End::HeldRejected {
                LOST
            } else {
                colour
            };
            let _ = write!(
                s,
                r#"<path class="{class}" d="M{x0:.1},{y0:.1} L{mx:.1},{ay:.1} L{mx:.1},{by:.1} L{x1:.1},{y1:.1}" fill="none" stroke="{c}" stroke-width="1.6" stroke-dasharray="6 4"/>"#
            );
            if end == End::HeldRejected {
                cross(s, x1 - dx.signum() * 8.0, y1, LOST);
            } else {
                head(s, (mx, by), (x1, y1), c);
            }
        }
    }
}

/// An arrowhead at `to`, pointing along `from -> to`.
fn head(s: &mut String, (x0, y0): (f64, f64), (x1, y1): (f64, f64), colour: &str) {
    let (dx, dy) = (x1 - x0, y1 - y0);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (x1 - ux * 10.0, y1 - uy * 10.0);
    let (nx, ny) = (-uy * 4.0, ux * 4.0);
    let _ = write!(
        s,
        r#"<path d="M{x1:.1},{y1:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{colour}"/>"#,
        bx + nx,
        by + ny,
        bx - nx,
        by - ny
    );
}

/// A red X centred at (x, y).
fn cross(s: &mut String, x: f64, y: f64, colour: &str) {
    let r = 5.5;
    let _ = write!(
        s,
        r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{colour}" stroke-width="2.4" stroke-linecap="round"/>"#,
        x - r,
        y - r,
        x + r,
        y + r,
        x - r,
        y + r,
        x + r,
        y - r
    );
}

/// Escape text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
