//! Congestion control on a bandwidth-limited, lossy simulated link (issue 3): goodput close
//! to the link's capacity at 0.1% loss, and cwnd's response to loss.

mod common;

use common::*;
use synack::{Config, Duration, Instant};
use synack_sim::scenarios::{connect, B_PORT};
use synack_sim::{Fate, LinkConfig, Script, Step, World};

/// 10 Mbit/s, 10 ms each way, a 50-packet bottleneck queue (about 3x the path's BDP).
const RATE: u64 = 1_250_000;
const BYTES: usize = 3 << 20;

fn bulk_world(seed: u64, loss: f64, cfg: Config) -> World {
    let mut w = World::new(seed);
    w.add_host_with("A", &["198.18.0.1"], cfg.clone());
    w.add_host_with("B", &["198.18.0.2"], cfg);
    w.set_link(
        "A",
        "B",
        LinkConfig::with_delay(Duration::from_millis(10))
            .bandwidth(RATE, Some(50))
            .loss(loss),
    );
    w.set_link("B", "A", LinkConfig::with_delay(Duration::from_millis(10)));
    let data: Vec<u8> = (0..BYTES).map(|i| (i * 7 % 253) as u8).collect();
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::Send(data),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

/// Goodput (payload bytes per second) from the first to the last data byte B received,
/// and the link's payload capacity (each 1500-byte packet carries 1448 bytes with TS).
fn goodput(w: &World) -> (f64, f64) {
    let r = w.record();
    let data: Vec<_> = r
        .segments("A", "B")
        .into_iter()
        .filter(|p| p.s().payload_len > 0)
        .collect();
    let first = data.first().unwrap().sent;
    let last = data
        .iter()
        .filter_map(|p| {
            p.fates.iter().find_map(|f| match f {
                Fate::Delivered { at, .. } => Some(*at),
                _ => None,
            })
        })
        .max()
        .unwrap();
    let secs = (last - first).as_secs_f64();
    let capacity = RATE as f64 * 1448.0 / 1500.0;
    (BYTES as f64 / secs, capacity)
}

#[test]
fn cc_goodput_reaches_90_percent_of_capacity_at_0_1_percent_loss() {
    for seed in 1..=3 {
        let mut w = bulk_world(seed, 0.001, Config::default());
        w.run_until(Instant::from_secs(600));
        assert_eq!(w.app_log("B").received(0).len(), BYTES, "seed {seed}");
        let (g, cap) = goodput(&w);
        let retrans = w.counters("A").retrans_segs;
        eprintln!(
            "seed {seed}: goodput {:.0} B/s = {:.1}% of {:.0} B/s ({retrans} retransmissions)",
            g,
            100.0 * g / cap,
            cap
        );
        assert!(
            g >= 0.9 * cap,
            "seed {seed}: {:.1}% of capacity",
            100.0 * g / cap
        );
    }
    let _ = (ms(0), secs(0), dms(0));
}
