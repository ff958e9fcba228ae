//! What the hosts look like after a run: an `ss`-like table of each host's connections and
//! the `netstat -s`-like counters, for the terminal, the HTML page and the JSON trace.

use crate::i18n::{self, Lang, Word};
use crate::time_util::short;
use crate::world::World;
use synack::{ConnInfo, Counters};

/// One row of the `ss`-like table, already formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsRow {
    pub state: String,
    pub recv_q: usize,
    pub send_q: usize,
    pub local: String,
    pub peer: String,
    /// Congestion window in segments of the send MSS, as `ss -i` shows it.
    pub cwnd: u32,
    /// Slow-start threshold in segments, `None` before the first loss.
    pub ssthresh: Option<u32>,
    pub rto: String,
    pub srtt: Option<String>,
    /// `orphan`, `recovery`: what `ss` would show among its flags.
    pub flags: Vec<&'static str>,
}

impl SsRow {
    pub fn new(c: &ConnInfo) -> SsRow {
        let mss = u32::from(c.mss.max(1));
        let mut flags = Vec::new();
        if c.orphan {
            flags.push("orphan");
        }
        if c.in_recovery {
            flags.push("recovery");
        }
        SsRow {
            state: c.state.to_string(),
            recv_q: c.recv_queued,
            send_q: c.send_queued,
            local: c.local.to_string(),
            peer: c.remote.to_string(),
            cwnd: c.cwnd.div_ceil(mss),
            ssthresh: (c.ssthresh != u32::MAX).then(|| c.ssthresh.div_ceil(mss)),
            rto: short(c.rto),
            srtt: c.srtt.map(short),
            flags,
        }
    }
}

/// The `ss` rows of every host that runs a stack (raw peers have none), in host order.
pub fn connections(world: &World) -> Vec<(String, Vec<SsRow>)> {
    world
        .hosts()
        .iter()
        .filter(|h| !h.is_peer())
        .map(|h| {
            let mut conns = h.stack().connections();
            conns.sort_by_key(|a| (a.local, a.remote));
            (h.name.clone(), conns.iter().map(SsRow::new).collect())
        })
        .collect()
}

const HEADERS: [&str; 10] = [
    "State",
    "Recv-Q",
    "Send-Q",
    "Local Address:Port",
    "Peer Address:Port",
    "cwnd",
    "ssthresh",
    "rto",
    "srtt",
    "",
];

/// The `ss`-like table of every host, as text: a heading per host, then one aligned line per
/// connection (or a line saying there are none).
pub fn ss_table(world: &World, lang: Lang) -> String {
    let mut out = String::new();
    for (name, rows) in connections(world) {
        let addrs = world
            .host(&name)
            .addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("{name} ({addrs}):\n"));
        if rows.is_empty() {
            let none = i18n::word(Word::NoConnections, lang);
            out.push_str(&match lang {
                Lang::En => format!("    ({none})\n"),
                Lang::Zh => format!("    （{none}）\n"),
            });
            continue;
        }
        let cells: Vec<[String; 10]> = rows
            .iter()
            .map(|r| {
                [
                    r.state.clone(),
                    r.recv_q.to_string(),
                    r.send_q.to_string(),
                    r.local.clone(),
                    r.peer.clone(),
                    r.cwnd.to_string(),
                    r.ssthresh.map_or("-".to_string(), |v| v.to_string()),
                    r.rto.clone(),
                    r.srtt.clone().unwrap_or_else(|| "-".to_string()),
                    r.flags.join(","),
                ]
            })
            .collect();
        let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.len()).collect();
        for c in &cells {
            for (i, v) in c.iter().enumerate() {
                widths[i] = widths[i].max(v.len());
            }
        }
        let line = |vals: &[&str]| -> String {
            let mut l = String::from("    ");
            for (i, v) in vals.iter().enumerate() {
                // Numbers right-aligned like ss's queues; the rest left-aligned.
                if (1..=2).contains(&i) || (5..=6).contains(&i) {
                    l.push_str(&format!("{v:>w$}  ", w = widths[i]));
                } else {
                    l.push_str(&format!("{v:<w$}  ", w = widths[i]));
                }
            }
            l.trim_end().to_string() + "\n"
        };
        out.push_str(&line(&HEADERS));
        for c in &cells {
            let vals: Vec<&str> = c.iter().map(String::as_str).collect();
            out.push_str(&line(&vals));
        }
    }
    out
}

/// The counters of every host that runs a stack, as `netstat -s` prints them.
pub fn counters_text(world: &World) -> Vec<(String, String)> {
    world
        .hosts()
        .iter()
        .filter(|h| !h.is_peer())
        .map(|h| {
            let addrs = h
                .addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!("{} ({addrs})", h.name),
                h.stack().counters().to_string(),
            )
        })
        .collect()
}

/// The non-zero counters as (what, value) pairs, from their `netstat -s` lines.
pub fn counter_pairs(c: &Counters) -> Vec<(String, u64)> {
    c.to_string()
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (n, what) = l.split_once(' ')?;
            Some((what.to_string(), n.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios;
    use synack::Instant;

    #[test]
    fn a_connection_in_time_wait_shows_in_the_table() {
        let s = scenarios::find("normal").unwrap();
        let mut w = s.build(1);
        w.run_until(Instant::from_secs(5));
        let t = ss_table(&w, Lang::En);
        assert!(t.contains("A (198.18.0.1):"), "{t}");
        let line = t.lines().find(|l| l.contains("TIME_WAIT")).expect(&t);
        assert!(line.contains("198.18.0.1:40000") && line.contains("198.18.0.2:80"));
        assert!(t.contains("Recv-Q") && t.contains("cwnd") && t.contains("rto"));
        // B's side is gone already.
        assert!(
            t.contains("B (198.18.0.2):\n    (no connections left"),
            "{t}"
        );
    }

    #[test]
    fn no_connections_at_the_end_of_a_finished_run() {
        let (w, _) = scenarios::find("lost-syn").unwrap().run(1);
        let t = ss_table(&w, Lang::Zh);
        assert_eq!(t.matches("没有剩下的连接").count(), 2, "{t}");
        let pairs = counter_pairs(w.counters("A"));
        assert!(pairs.contains(&("active connection openings".to_string(), 1)));
        assert!(pairs.contains(&("SYN retransmits".to_string(), 1)));
    }
}
