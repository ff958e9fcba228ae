//! `synack sim`'s engine (issue 6): bulk-transfer experiments are deterministic for a seed,
//! their figures agree with each other and with the link (every byte delivered and checked,
//! retransmissions only when something was lost, goodput never above the capacity), the
//! state-time histogram matches the defaults (TIME-WAIT 60 s), and the plot is well-formed
//! SVG with the sequence and cwnd series of every connection.

use synack::{Algorithm, Duration, State};
use synack_sim::experiment::{run, Dir, Experiment, ExperimentConfig, Summary};
use synack_sim::{plot, LinkConfig, RunOutcome};

fn cfg(conns: usize, bytes: u64, link: LinkConfig) -> ExperimentConfig {
    ExperimentConfig {
        conns,
        bytes,
        link,
        ..ExperimentConfig::default()
    }
}

/// 10 Mbit/s each way, 10 ms, a queue that never overflows at these sizes.
fn roomy() -> LinkConfig {
    LinkConfig::with_delay(Duration::from_millis(10)).bandwidth(1_250_000, Some(10_000))
}

fn go(c: &ExperimentConfig) -> Experiment {
    run(c, |_| {})
}

fn assert_all_delivered(s: &Summary) {
    assert_eq!(s.outcome, RunOutcome::Idle);
    assert!(s.all_intact(), "{}", s.text());
    for c in &s.connections {
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        for f in &c.flows {
            assert_eq!(f.delivered, f.expected, "conn {} {:?}", c.number, f.dir);
            assert_eq!(f.sent_hash, f.read_hash);
            assert_eq!(f.mismatched, 0);
        }
        assert_eq!(c.client_close, Some(synack::CloseReason::Normal));
        assert_eq!(c.server_close, Some(synack::CloseReason::Normal));
    }
    for t in &s.totals {
        assert_eq!(t.delivered, t.expected);
        assert_eq!(t.intact, t.flows);
    }
}

#[test]
fn sim_same_seed_same_summary_and_plot() {
    let c = ExperimentConfig {
        seed: 5,
        ..cfg(
            3,
            200_000,
            LinkConfig::with_delay(Duration::from_millis(10))
                .bandwidth(1_250_000, Some(30))
                .loss(0.01)
                .jitter(Duration::from_millis(2)),
        )
    };
    let a = go(&c);
    let b = go(&c);
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.series, b.series);
    assert_eq!(a.summary.text(), b.summary.text());
    assert_eq!(a.summary.json().pretty(), b.summary.json().pretty());
    assert_eq!(plot::render(&a.series, "t"), plot::render(&b.series, "t"));
    // Another seed is another run: other ports, other losses, other bytes in the streams.
    let other = go(&ExperimentConfig { seed: 6, ..c });
    assert_ne!(a.summary.connections, other.summary.connections);
    assert_ne!(
        a.summary.connections[0].flows[0].sent_hash,
        other.summary.connections[0].flows[0].sent_hash
    );
}

#[test]
fn sim_without_loss_everything_arrives_and_nothing_is_resent() {
    let e = go(&cfg(4, 300_000, roomy()));
    let s = &e.summary;
    assert_all_delivered(s);
    assert_eq!(s.totals.len(), 1);
    assert_eq!(s.totals[0].delivered, 1_200_000);
    assert_eq!(s.retransmissions, 0, "{}", s.text());
    assert_eq!(s.fast_retransmits, 0);
    assert_eq!(s.rto_events, 0);
    let l = &s.link_stats;
    assert_eq!(
        (l.lost, l.queue_full, l.duplicated, l.corrupted, l.in_flight),
        (0, 0, 0, 0, 0)
    );
    assert!(s
        .connections
        .iter()
        .all(|c| c.flows[0].retransmitted == 0 && c.flows[0].fast_retransmits == 0));
    // Every data byte crossed the link at least once: at least 300,000 / 1448 segments each.
    assert!(l.data_packets >= 4 * 300_000u64.div_ceil(1448));
}

#[test]
fn sim_loss_is_repaired_by_retransmissions() {
    let c = cfg(
        3,
        300_000,
        LinkConfig::with_delay(Duration::from_millis(10))
            .bandwidth(1_250_000, Some(10_000))
            .loss(0.02),
    );
    let s = go(&c).summary;
    assert_all_delivered(&s);
    assert!(s.link_stats.lost > 0);
    assert!(s.retransmissions > 0, "{}", s.text());
    // Data segments seen resent on the wire are retransmissions the stacks counted (the
    // stacks also count resent SYNs and FINs).
    let resent: u64 = s
        .connections
        .iter()
        .flat_map(|c| &c.flows)
        .map(|f| f.retransmitted)
        .sum();
    assert!(
        resent > 0 && resent <= s.retransmissions,
        "{resent} {}",
        s.retransmissions
    );
    // At 2% loss with SACK most losses are repaired by fast retransmit, not by timeouts;
    // each fast retransmit resends at least one data segment.
    assert!(s.fast_retransmits > 0, "{}", s.text());
    assert!(s.fast_retransmits <= resent);
    let host_sum: u64 = s.hosts.iter().map(|h| h.retrans_segs).sum();
    assert_eq!(host_sum, s.retransmissions);
}

#[test]
fn sim_goodput_never_exceeds_capacity() {
    for (seed, both_ways, cc, queue) in [
        (1, false, Algorithm::Cubic, 100),
        (2, true, Algorithm::NewReno, 50),
        (3, false, Algorithm::NewReno, 20),
    ] {
        let c = ExperimentConfig {
            seed,
            both_ways,
            cc,
            ..cfg(
                4,
                400_000,
                LinkConfig::with_delay(Duration::from_millis(10)).bandwidth(1_250_000, Some(queue)),
            )
        };
        let s = go(&c).summary;
        assert_all_delivered(&s);
        // A full data packet is 1448 bytes of payload in 1500 on the wire (timestamps on).
        let eff = s.payload_efficiency.unwrap();
        assert!((eff - 1448.0 / 1500.0).abs() < 1e-9, "{eff}");
        let cap = s.capacity.unwrap();
        assert_eq!(s.totals.len(), 1 + both_ways as usize);
        for t in &s.totals {
            assert!(t.goodput <= cap, "seed {seed}: {} > {cap}", t.goodput);
            let u = t.utilisation.unwrap();
            // Four connections fill the pipe (only the handshake's RTT is idle).
            assert!((0.7..=1.0).contains(&u), "seed {seed} {:?}: {u}", t.dir);
        }
        for f in s.connections.iter().flat_map(|c| &c.flows) {
            assert!(f.goodput > 0.0 && f.goodput <= cap);
        }
    }
}

#[test]
fn sim_both_ways_checks_both_directions() {
    let c = ExperimentConfig {
        both_ways: true,
        ..cfg(2, 150_000, roomy())
    };
    let e = go(&c);
    let s = &e.summary;
    assert_all_delivered(s);
    let dirs: Vec<Vec<Dir>> = s
        .connections
        .iter()
        .map(|c| c.flows.iter().map(|f| f.dir).collect())
        .collect();
    assert_eq!(dirs, [[Dir::Up, Dir::Down], [Dir::Up, Dir::Down]]);
    // The two directions of a connection carry different streams.
    let f = &s.connections[0].flows;
    assert_ne!(f[0].sent_hash, f[1].sent_hash);
    // Both sides send, so both are sampled for the plot.
    assert_eq!(e.series.len(), 4);
    assert!(e
        .series
        .iter()
        .all(|s| s.samples.last().unwrap().acked == 150_000));
}

#[test]
fn sim_state_times_follow_the_connection_lives() {
    let e = go(&cfg(3, 100_000, roomy()));
    let s = &e.summary;
    let get = |side: &str, st: State| {
        s.states
            .iter()
            .find(|x| x.side == side && x.state == st)
            .unwrap_or_else(|| panic!("{side} {st} missing:\n{}", s.text()))
    };
    // The client sends its FIN first and waits 2 MSL (60 s, Linux's TIME-WAIT) at the end.
    let tw = get("client", State::TimeWait);
    assert_eq!((tw.conns, tw.mean()), (3, Duration::from_secs(60)));
    // The handshake takes one round trip on the client's side: 20 ms of delay plus the
    // SYN and SYN,ACK's serialization at 10 Mbit/s (three SYNs queue behind each other).
    let syn_sent = get("client", State::SynSent).mean();
    assert!(
        (Duration::from_millis(20)..Duration::from_millis(21)).contains(&syn_sent),
        "{syn_sent:?}"
    );
    assert_eq!(get("server", State::LastAck).conns, 3);
    assert!(!s
        .states
        .iter()
        .any(|x| x.side == "server" && x.state == State::TimeWait));
    // CLOSED and LISTEN are where connections come from, not states they spend time in.
    assert!(s
        .states
        .iter()
        .all(|x| !matches!(x.state, State::Closed | State::Listen)));
    // A client end's states add up to its life: connect at 0, CLOSED when TIME-WAIT ends.
    let client_total: Duration = s
        .states
        .iter()
        .filter(|x| x.side == "client")
        .map(|x| x.total)
        .sum();
    let lives: Duration = e
        .world
        .record()
        .transitions("client")
        .iter()
        .filter(|t| t.3 == State::Closed)
        .map(|t| t.0 - synack::Instant::ZERO)
        .sum();
    assert_eq!(client_total, lives);
    assert!(lives > Duration::from_secs(180));
    let text = s.text();
    let row = text
        .lines()
        .find(|l| l.contains("client") && l.contains("TIME_WAIT"))
        .unwrap();
    assert!(
        row.contains("60.000s") && row.ends_with(&"█".repeat(40)),
        "{row}"
    );
}

#[test]
fn sim_time_limit_stops_early_and_says_so() {
    let c = ExperimentConfig {
        limit: Duration::from_secs(1),
        ..cfg(
            2,
            2_000_000,
            LinkConfig::with_delay(Duration::from_millis(10)).bandwidth(125_000, Some(50)),
        )
    };
    let s = go(&c).summary;
    assert_eq!(s.outcome, RunOutcome::Limit);
    assert!(!s.all_intact());
    let t = &s.totals[0];
    assert!(t.delivered > 0 && t.delivered < t.expected);
    assert!(t.goodput <= s.capacity.unwrap());
    assert!(s.text().contains("STOPPED at the time limit"));
    assert!(s.text().contains("MISSING"));
}

#[test]
fn sim_duplication_reordering_and_corruption_do_not_hurt_the_bytes() {
    let c = cfg(
        2,
        200_000,
        LinkConfig::with_delay(Duration::from_millis(10))
            .duplicate(0.05)
            .reorder(0.05, Duration::from_millis(15))
            .corrupt(0.02),
    );
    let s = go(&c).summary;
    assert_all_delivered(&s);
    let l = &s.link_stats;
    assert!(l.duplicated > 0 && l.corrupted > 0, "{l:?}");
    // Every corrupted copy fails a checksum at the receiver (a one-bit flip always does).
    let bad: u64 = s.hosts.iter().map(|h| h.in_errs).sum();
    assert_eq!(bad, l.corrupted);
    assert!(l.rejected >= l.corrupted);
    // No bandwidth limit: no capacity to compare with.
    assert_eq!(s.capacity, None);
    assert!(s.totals[0].utilisation.is_none());
}

#[test]
fn sim_svg_plot_is_well_formed_with_sequence_and_cwnd_series() {
    let e = go(&cfg(
        3,
        200_000,
        LinkConfig::with_delay(Duration::from_millis(10))
            .bandwidth(1_250_000, Some(20))
            .loss(0.01),
    ));
    let svg = plot::render(&e.series, "3 x 200 kB <test> & more");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let has_class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|a| a.split(' ').any(|x| x == c))
    };
    let series: Vec<_> = root
        .descendants()
        .filter(|n| has_class(n, "series"))
        .collect();
    assert_eq!(series.len(), 3);
    for (i, g) in series.iter().enumerate() {
        assert_eq!(g.attribute("data-conn"), Some((i + 1).to_string().as_str()));
        for class in ["acked", "sent", "cwnd"] {
            let p = g
                .descendants()
                .find(|n| has_class(n, class))
                .unwrap_or_else(|| panic!("no {class} path"));
            let d = p.attribute("d").unwrap();
            assert!(
                d.starts_with('M') && d.matches(" L").count() > 10,
                "{class}: {d}"
            );
        }
    }
    // Labelled axes, a legend naming every connection, the title escaped.
    let texts: Vec<&str> = root.descendants().filter_map(|n| n.text()).collect();
    for want in [
        "virtual time (s)",
        "bytes acknowledged / sent (kB)",
        "congestion window (kB)",
        "acknowledged (SND.UNA)",
        "sent (SND.NXT)",
        "3 x 200 kB <test> & more",
    ] {
        assert!(texts.contains(&want), "{want:?} not in {texts:?}");
    }
    let legend: Vec<_> = root
        .descendants()
        .filter(|n| has_class(n, "legend-entry"))
        .collect();
    assert_eq!(legend.len(), 3);
    // The top of each acknowledged line is the whole stream: its highest point (smallest y)
    // sits at the height of 200,000 bytes on the axis, the same for every connection.
    let min_y = |d: &str| {
        d.split(['M', 'L'])
            .filter_map(|p| p.trim().split(',').nth(1)?.parse::<f64>().ok())
            .fold(f64::INFINITY, f64::min)
    };
    let tops: Vec<f64> = series
        .iter()
        .map(|g| {
            let p = g.descendants().find(|n| has_class(n, "acked")).unwrap();
            min_y(p.attribute("d").unwrap())
        })
        .collect();
    assert!(
        tops.windows(2).all(|w| (w[0] - w[1]).abs() < 0.01),
        "{tops:?}"
    );
}

#[test]
fn sim_zero_bytes_is_just_open_and_close() {
    for both_ways in [false, true] {
        let c = ExperimentConfig {
            both_ways,
            ..cfg(5, 0, roomy())
        };
        let e = go(&c);
        let s = &e.summary;
        // The client closes first even with nothing to send, so every connection ends.
        assert_all_delivered(s);
        assert_eq!(s.totals[0].delivered, 0);
        assert_eq!(s.link_stats.data_packets, 0);
        // SYN, SYN,ACK, ACK, then FIN, ACK each way (the server's FIN may carry the ACK
        // of the client's): 6 or 7 packets per connection.
        let p = s.link_stats.packets;
        assert!((30..=35).contains(&p), "{p}");
        // No data packet: nothing to measure the payload share of a packet with.
        assert_eq!(s.capacity, None);
    }
}

/// `synack sim --ecn-mark`: both hosts ask for ECN and the bottleneck marks instead of
/// dropping; the summary counts the marks and the reductions, nothing is lost or resent,
/// and every byte arrives intact (RFC 3168, SHLD-8).
#[test]
fn sim_ecn_marks_instead_of_drops() {
    let c = ExperimentConfig {
        ecn: true,
        ..cfg(
            4,
            500_000,
            LinkConfig::with_delay(Duration::from_millis(10))
                .bandwidth(1_250_000, Some(100))
                .ecn_mark_at(20),
        )
    };
    let e = go(&c);
    let s = &e.summary;
    let ce: u64 = s.hosts.iter().map(|h| h.ecn_ce_received).sum();
    let cuts: u64 = s.hosts.iter().map(|h| h.ecn_reductions).sum();
    assert!(ce > 0 && cuts > 0, "{ce} marks, {cuts} reductions");
    assert_eq!((s.retransmissions, s.link_stats.queue_full), (0, 0));
    let text = s.text();
    assert!(text.contains("received marked CE (ECN)"), "{text}");
    assert!(text.contains("ECN CE marks from 20 waiting"), "{text}");
}
