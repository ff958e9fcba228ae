//! What the hosts look like after a run: an `ss`-like table of each host's connections and
//! the `netstat -s`-like counters, for the terminal, the HTML page and the JSON trace.

use crate::i18n::{self, Lang, Word};
use crate::time_util::short;
use crate::world::World;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synack::{ConnInfo, Counters, ListenerInfo};

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

/// One listener as `ss -ltn` shows it: Recv-Q is the accept queue (connections ready and
/// not yet accepted), Send-Q the backlog; the half-open count is extra (ss does not show it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenRow {
    pub local: String,
    /// `0.0.0.0:*` (or `[::]:*`): a listener has no peer.
    pub peer: String,
    pub recv_q: usize,
    pub send_q: usize,
    pub syn_queue: usize,
}

impl ListenRow {
    pub fn new(l: &ListenerInfo) -> ListenRow {
        let any = match l.local.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED).to_string(),
            IpAddr::V6(_) => format!("[{}]", Ipv6Addr::UNSPECIFIED),
        };
        ListenRow {
            local: l.local.to_string(),
            peer: format!("{any}:*"),
            recv_q: l.accept_queue,
            send_q: l.backlog,
            syn_queue: l.syn_queue,
        }
    }
}

/// The listeners of every host that runs a stack, in host order.
pub fn listeners(world: &World) -> Vec<(String, Vec<ListenRow>)> {
    world
        .hosts()
        .iter()
        .filter(|h| !h.is_peer())
        .map(|h| {
            let rows = h.stack().listeners().iter().map(ListenRow::new).collect();
            (h.name.clone(), rows)
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
/// listener (`LISTEN`, as `ss -ltn` shows it) and per connection (or a line saying there are
/// none).
pub fn ss_table(world: &World, lang: Lang) -> String {
    let mut out = String::new();
    for ((name, rows), (_, listen)) in connections(world).into_iter().zip(listeners(world)) {
        let addrs = world
            .host(&name)
            .addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("{name} ({addrs}):\n"));
        if rows.is_empty() && listen.is_empty() {
            let none = i18n::word(Word::NoConnections, lang);
            out.push_str(&match lang {
                Lang::En => format!("    ({none})\n"),
                Lang::Zh => format!("    （{none}）\n"),
            });
            continue;
        }
        let dash = || "-".to_string();
        let listen_cells = listen.iter().map(|l| {
            [
                "LISTEN".to_string(),
                l.recv_q.to_string(),
                l.send_q.to_string(),
                l.local.clone(),
                l.peer.clone(),
                dash(),
                dash(),
                dash(),
                dash(),
                // Not an ss column, but the other queue a listener has (when not empty).
                if l.syn_queue > 0 {
                    format!("syn-queue:{}", l.syn_queue)
                } else {
                    String::new()
                },
            ]
        });
        let cells: Vec<[String; 10]> = listen_cells
            .chain(rows.iter().map(|r| {
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
            }))
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
        // B's connection is gone already; its listener stays, as `ss -ltn` shows it: the
        // accept queue (empty) as Recv-Q, the backlog (128) as Send-Q.
        let b = &t[t.find("B (198.18.0.2):").expect(&t)..];
        assert!(!b.contains("no connections left"), "{t}");
        let listen = b.lines().find(|l| l.contains("LISTEN")).expect(&t);
        let cols: Vec<&str> = listen.split_whitespace().collect();
        assert_eq!(
            cols,
            [
                "LISTEN",
                "0",
                "128",
                "0.0.0.0:80",
                "0.0.0.0:*",
                "-",
                "-",
                "-",
                "-"
            ],
            "{t}"
        );
    }

    #[test]
    fn no_connections_at_the_end_of_a_finished_run() {
        let (w, _) = scenarios::find("lost-syn").unwrap().run(1);
        let t = ss_table(&w, Lang::Zh);
        // A has nothing left; B still listens.
        assert_eq!(t.matches("没有剩下的连接").count(), 1, "{t}");
        assert_eq!(t.matches("LISTEN").count(), 1, "{t}");
        let pairs = counter_pairs(w.counters("A"));
        assert!(pairs.contains(&("active connection openings".to_string(), 1)));
        assert!(pairs.contains(&("SYN retransmits".to_string(), 1)));
    }

    #[test]
    fn listen_row_shows_unaccepted_connections_as_recv_q() {
        use crate::{Script, Step, World};
        let mut w = World::new(1);
        w.add_host("A", &["198.18.0.1"]);
        w.add_host("B", &["198.18.0.2"]);
        // B listens (backlog 5) and never accepts; A opens two connections.
        w.set_app(
            "B",
            Script::new(vec![Step::Listen {
                port: 80,
                backlog: 5,
            }]),
        );
        w.set_app(
            "A",
            Script::new(vec![
                Step::connect("198.18.0.2:80"),
                Step::connect("198.18.0.2:80"),
            ]),
        );
        w.run_until(Instant::from_secs(1));
        let ls = listeners(&w);
        assert_eq!(ls[0], ("A".to_string(), vec![]));
        assert_eq!(
            ls[1].1,
            [ListenRow {
                local: "0.0.0.0:80".to_string(),
                peer: "0.0.0.0:*".to_string(),
                recv_q: 2,
                send_q: 5,
                syn_queue: 0,
            }]
        );
        let t = ss_table(&w, Lang::En);
        let row = t.lines().find(|l| l.contains("LISTEN")).expect(&t);
        assert!(
            row.split_whitespace().take(3).eq(["LISTEN", "2", "5"]),
            "{t}"
        );
        // The two connections themselves are in B's table too, ESTABLISHED.
        assert_eq!(t.matches("ESTABLISHED").count(), 4, "{t}");
    }
}
