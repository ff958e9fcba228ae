//! The run as JSON, for scripts and notebooks: every segment with its times, endpoints,
//! flags, numbers, window and fate; the trace of everything in order (sends, arrivals, state
//! changes with their causes, application calls, notes, stack events); the connections left at
//! the end and the counters. Written by hand (no serde): the output is small, the keys keep
//! their order, and the same run always gives the same bytes.
//!
//! ```text
//! { "scenario": "lost-syn", "seed": 1, "hosts": [...],
//!   "segments": [ { "id": 0, "time_us": 0, "from": "A", "to": "B", "flags": "SYN",
//!                   "seq": ..., "rel_seq": 0, ..., "fates": [ { "fate": "dropped", ... } ] } ],
//!   "trace": [ { "type": "state", "time_us": 0, "host": "A", "from": "CLOSED", ... } ],
//!   "connections": {...}, "listeners": {...}, "counters": {...} }
//! ```

use crate::explain;
use crate::i18n::{self, Lang};
use crate::ladder::{self, LadderOptions, Tracker};
use crate::record::{EntryKind, Fate, Record};
use crate::report::{self, ListenRow, SsRow};
use crate::scenarios::Scenario;
use crate::world::{RunOutcome, World};
use synack::Instant;

/// A JSON value with its object keys in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    /// A ratio or a rate; written with at most six decimals, `null` if not finite.
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn obj() -> Json {
        Json::Obj(Vec::new())
    }
    /// Add a key (objects only).
    fn with(mut self, k: &str, v: impl Into<Json>) -> Json {
        if let Json::Obj(m) = &mut self {
            m.push((k.to_string(), v.into()));
        }
        self
    }

    /// Compact text.
    pub fn compact(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, None, 0);
        s
    }

    /// Pretty text: nested objects and arrays indented, except that the elements of an
    /// array of objects go one per line, each compact.
    pub fn pretty(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, Some(2), 0);
        s.push('\n');
        s
    }

    fn write(&self, s: &mut String, indent: Option<usize>, depth: usize) {
        match self {
            Json::Null => s.push_str("null"),
            Json::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => s.push_str(&n.to_string()),
            Json::Float(v) if v.is_finite() => {
                let t = format!("{v:.6}");
                let t = t.trim_end_matches('0').trim_end_matches('.');
                s.push_str(if t == "-0" { "0" } else { t });
            }
            Json::Float(_) => s.push_str("null"),
            Json::Str(t) => quote(s, t),
            Json::Arr(v) => {
                if v.is_empty() {
                    s.push_str("[]");
                    return;
                }
                let Some(step) = indent else {
                    s.push('[');
                    for (i, x) in v.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        x.write(s, None, 0);
                    }
                    s.push(']');
                    return;
                };
                let flat = v.iter().any(|x| matches!(x, Json::Obj(_)));
                let scalars = v.iter().all(|x| !matches!(x, Json::Obj(_) | Json::Arr(_)));
                if scalars {
                    // Short lists of names and numbers stay on one line.
                    x_line(s, v);
                    return;
                }
                s.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    newline(s, step * (depth + 1));
                    if flat {
                        x.write(s, None, 0);
                    } else {
                        x.write(s, indent, depth + 1);
                    }
                }
                newline(s, step * depth);
                s.push(']');
            }
            Json::Obj(m) => {
                if m.is_empty() {
                    s.push_str("{}");
                    return;
                }
                s.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    if let Some(step) = indent {
                        newline(s, step * (depth + 1));
                    }
                    quote(s, k);
                    s.push(':');
                    if indent.is_some() {
                        s.push(' ');
                    }
                    x.write(s, indent, depth + 1);
                }
                if let Some(step) = indent {
                    newline(s, step * depth);
                }
                s.push('}');
            }
        }
    }
}

fn x_line(s: &mut String, v: &[Json]) {
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        x.write(s, None, 0);
    }
    s.push(']');
}

fn newline(s: &mut String, n: usize) {
    s.push('\n');
    for _ in 0..n {
        s.push(' ');
    }
}

fn quote(s: &mut String, t: &str) {
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
}

impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_string())
    }
}
impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}
impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}
macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(v: $t) -> Json {
                Json::Int(v as i128)
            }
        }
    )*};
}
from_int!(u8, u16, u32, u64, usize, i64);
impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Arr(v.into_iter().map(Into::into).collect())
    }
}

fn us(t: Instant) -> u64 {
    t.as_micros()
}

/// What the JSON says about the run besides the record.
pub struct Meta<'a> {
    pub scenario: Option<&'a Scenario>,
    pub seed: u64,
    pub outcome: RunOutcome,
}

/// The whole run as pretty JSON.
pub fn render(world: &World, meta: &Meta<'_>, o: &LadderOptions) -> String {
    trace(world, meta, o).pretty()
}

/// The whole run as a JSON value.
pub fn trace(world: &World, meta: &Meta<'_>, o: &LadderOptions) -> Json {
    let rec = world.record();
    let lang = o.lang;
    let mut top = Json::obj();
    if let Some(s) = meta.scenario {
        top = top
            .with("scenario", s.name)
            .with("title", i18n::title(s, lang))
            .with("story", i18n::story(s, lang))
            .with("checklist", s.refs);
    }
    top = top
        .with("seed", meta.seed)
        .with("lang", lang.code())
        .with(
            "outcome",
            match meta.outcome {
                RunOutcome::Idle => "idle",
                RunOutcome::Limit => "limit",
            },
        )
        .with("end_us", us(world.now()))
        .with("relative_numbers", o.relative);
    let hosts: Vec<Json> = world
        .hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            Json::obj()
                .with("name", h.name.as_str())
                .with(
                    "addrs",
                    h.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                )
                .with("endpoint", ladder::host_endpoint(rec, i))
                .with("kind", if h.is_peer() { "peer" } else { "stack" })
        })
        .collect();
    top = top.with("hosts", Json::Arr(hosts));
    let (segments, trace) = segments_and_trace(rec, o, lang);
    top = top.with("segments", Json::Arr(segments));
    top = top.with("trace", Json::Arr(trace));
    let conns: Vec<(String, Json)> = report::connections(world)
        .into_iter()
        .map(|(h, rows)| (h, Json::Arr(rows.iter().map(ss_json).collect())))
        .collect();
    top = top.with("connections", Json::Obj(conns));
    let listeners: Vec<(String, Json)> = report::listeners(world)
        .into_iter()
        .map(|(h, rows)| (h, Json::Arr(rows.iter().map(listen_json).collect())))
        .collect();
    top = top.with("listeners", Json::Obj(listeners));
    let counters: Vec<(String, Json)> = world
        .hosts()
        .iter()
        .filter(|h| !h.is_peer())
        .map(|h| {
            let pairs = report::counter_pairs(h.stack().counters())
                .into_iter()
                .map(|(k, v)| (k, Json::from(v)))
                .collect();
            (h.name.clone(), Json::Obj(pairs))
        })
        .collect();
    top.with("counters", Json::Obj(counters))
}

fn listen_json(r: &ListenRow) -> Json {
    Json::obj()
        .with("state", "LISTEN")
        .with("recv_q", r.recv_q)
        .with("send_q", r.send_q)
        .with("local", r.local.as_str())
        .with("peer", r.peer.as_str())
        .with("syn_queue", r.syn_queue)
}

fn ss_json(r: &SsRow) -> Json {
    Json::obj()
        .with("state", r.state.as_str())
        .with("recv_q", r.recv_q)
        .with("send_q", r.send_q)
        .with("local", r.local.as_str())
        .with("peer", r.peer.as_str())
        .with("cwnd", r.cwnd)
        .with("ssthresh", r.ssthresh)
        .with("rto", r.rto.as_str())
        .with("srtt", r.srtt.clone())
        .with(
            "flags",
            r.flags.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        )
}

fn fate_json(f: &Fate) -> Json {
    match f {
        Fate::Dropped(r) => Json::obj()
            .with("fate", "dropped")
            .with("reason", r.as_str()),
        Fate::InFlight {
            at,
            copy,
            corrupted,
            held,
        } => Json::obj()
            .with("fate", "in_flight")
            .with("due_us", us(*at))
            .with("copy", *copy)
            .with("corrupted", *corrupted)
            .with("held_us", held.as_micros() as u64),
        Fate::Delivered {
            at,
            copy,
            corrupted,
            held,
            rejected,
        } => Json::obj()
            .with(
                "fate",
                if rejected.is_some() {
                    "rejected"
                } else {
                    "delivered"
                },
            )
            .with("at_us", us(*at))
            .with("copy", *copy)
            .with("corrupted", *corrupted)
            .with("held_us", held.as_micros() as u64)
            .with("rejected", rejected.clone()),
    }
}

fn segments_and_trace(rec: &Record, o: &LadderOptions, lang: Lang) -> (Vec<Json>, Vec<Json>) {
    let mut tracker = Tracker::default();
    let numbers = ladder::conn_numbers(rec);
    let mut segs: Vec<Json> = Vec::with_capacity(rec.packets.len());
    let mut trace = Vec::new();
    for e in &rec.entries {
        let t = e.time;
        let base = |kind: &str| Json::obj().with("type", kind).with("time_us", us(t));
        match &e.kind {
            EntryKind::Sent(id) => {
                let p = &rec.packets[*id];
                let (label, why) = tracker.facts(rec, o, p);
                let mut j = Json::obj()
                    .with("id", p.id)
                    .with("time_us", us(p.sent))
                    .with("time", p.sent.to_string())
                    .with("from", p.from.map(|h| rec.hosts[h].name.clone()))
                    .with("to", p.to.map(|h| rec.hosts[h].name.clone()));
                match &p.summary {
                    Some(s) => {
                        let (rel_seq, rel_ack) = tracker.relative(s);
                        j = j
                            .with("src", s.src.to_string())
                            .with("dst", s.dst.to_string())
                            .with("flags", s.flags.to_string())
                            .with("seq", s.seq)
                            .with("ack", s.ack)
                            .with("rel_seq", rel_seq)
                            .with("rel_ack", rel_ack)
                            .with("len", s.payload_len)
                            .with("window", s.window)
                            .with("options", s.options.describe())
                            .with("checksum_ok", s.checksum_ok);
                    }
                    None => {
                        j = j.with("unreadable_bytes", p.bytes.len());
                    }
                }
                let fates: Vec<Json> = p.fates.iter().map(fate_json).collect();
                let first = fates
                    .first()
                    .and_then(|f| match f {
                        Json::Obj(m) => m.first().map(|x| x.1.clone()),
                        _ => None,
                    })
                    .unwrap_or(Json::Null);
                let mut explain = vec![why];
                for f in &p.fates {
                    if let Some(w) = explain::fate(rec.host_name(p.to), f, lang) {
                        if !explain.contains(&w) {
                            explain.push(w);
                        }
                    }
                }
                j = j
                    .with("label", label)
                    .with("injected", p.from.is_none())
                    .with("note", p.label.clone())
                    .with("fate", first)
                    .with("fates", Json::Arr(fates))
                    .with("explanation", explain.join(lang.pick("; ", "；")));
                segs.push(j);
                trace.push(base("send").with("segment", p.id));
            }
            EntryKind::Arrived { packet, copy } => {
                let p = &rec.packets[*packet];
                trace.push(
                    base("arrive")
                        .with("segment", *packet)
                        .with("copy", *copy)
                        .with("host", rec.host_name(p.to)),
                );
            }
            EntryKind::State {
                host,
                conn,
                from,
                to,
                cause,
            } => {
                let h = rec.hosts[*host].name.as_str();
                let cause_text = match lang {
                    Lang::En => cause.to_string(),
                    Lang::Zh => explain::cause_zh(*cause),
                };
                trace.push(
                    base("state")
                        .with("host", h)
                        .with("conn", numbers.0.get(&(*host, *conn)).copied())
                        .with("from", from.to_string())
                        .with("to", to.to_string())
                        .with("cause", cause.to_string())
                        .with("cause_text", cause_text)
                        .with("explanation", explain::state(h, *from, *to, *cause, lang)),
                );
            }
            EntryKind::App { host, text } => {
                let h = rec.hosts[*host].name.as_str();
                trace.push(
                    base("app")
                        .with("host", h)
                        .with("call", text.as_str())
                        .with("explanation", explain::app(h, text, lang)),
                );
            }
            EntryKind::Note { host, text } => {
                trace.push(
                    base("note")
                        .with("host", host.map(|h| rec.hosts[h].name.clone()))
                        .with("text", i18n::note(text, lang)),
                );
            }
            EntryKind::Event { host, event } => {
                let debug = format!("{event:?}");
                let name = debug
                    .split(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or("")
                    .to_string();
                trace.push(
                    base("event")
                        .with("host", rec.hosts[*host].name.as_str())
                        .with("event", name)
                        .with("detail", debug),
                );
            }
        }
    }
    (segs, trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_left_at_the_end_are_in_the_trace() {
        let s = crate::scenarios::find("normal").unwrap();
        let (w, outcome) = s.run(1);
        let meta = Meta {
            scenario: Some(s),
            seed: 1,
            outcome,
        };
        let j = trace(&w, &meta, &LadderOptions::default()).compact();
        assert!(
            j.contains(
                r#""listeners":{"A":[],"B":[{"state":"LISTEN","recv_q":0,"send_q":128,"local":"0.0.0.0:80","peer":"0.0.0.0:*","syn_queue":0}]}"#
            ),
            "{j}"
        );
    }

    #[test]
    fn writes_valid_json_text() {
        let j = Json::obj()
            .with("a", "x\"y\\z\n\u{1}")
            .with("n", 5u32)
            .with("none", Option::<u32>::None)
            .with("list", vec![1u8, 2])
            .with("objs", Json::Arr(vec![Json::obj().with("k", true)]))
            .with("zh", "中文")
            .with("f", Json::Float(0.96531234))
            .with("inf", Json::Float(f64::INFINITY));
        assert_eq!(
            j.compact(),
            r#"{"a":"x\"y\\z\n\u0001","n":5,"none":null,"list":[1,2],"objs":[{"k":true}],"zh":"中文","f":0.965312,"inf":null}"#
        );
        assert_eq!(
            j.pretty(),
            "{\n  \"a\": \"x\\\"y\\\\z\\n\\u0001\",\n  \"n\": 5,\n  \"none\": null,\n  \"list\": [1, 2],\n  \"objs\": [\n    {\"k\":true}\n  ],\n  \"zh\": \"中文\",\n  \"f\": 0.965312,\n  \"inf\": null\n}\n"
        );
    }
}
