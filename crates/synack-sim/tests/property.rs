//! Property test: two of our stacks exchange random amounts of data both ways over links with
//! random loss, duplication, reordering, jitter and corruption. Every byte must arrive once
//! and in order, both ends must end up CLOSED within a bounded virtual time, and nothing may
//! panic (DESIGN.md invariants).

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};
use synack::{CloseReason, Config, Duration, Instant};
use synack_sim::scenarios::{connect, B_PORT};
use synack_sim::{LinkConfig, RunOutcome, Script, Step, World};

/// One direction's link faults.
#[derive(Clone, Debug)]
struct Faults {
    delay_ms: u64,
    jitter_ms: u64,
    loss: f64,
    duplicate: f64,
    reorder: f64,
    reorder_ms: u64,
    corrupt: f64,
}

fn faults() -> impl Strategy<Value = Faults> {
    (
        1u64..50,
        0u64..20,
        0.0..0.3f64,
        0.0..0.1f64,
        0.0..0.3f64,
        0u64..100,
        0.0..0.05f64,
    )
        .prop_map(
            |(delay_ms, jitter_ms, loss, duplicate, reorder, reorder_ms, corrupt)| Faults {
                delay_ms,
                jitter_ms,
                loss,
                duplicate,
                reorder,
                reorder_ms,
                corrupt,
            },
        )
}

impl Faults {
    fn link(&self) -> LinkConfig {
        LinkConfig::with_delay(Duration::from_millis(self.delay_ms))
            .jitter(Duration::from_millis(self.jitter_ms))
            .loss(self.loss)
            .duplicate(self.duplicate)
            .reorder(self.reorder, Duration::from_millis(self.reorder_ms))
            .corrupt(self.corrupt)
    }
}

fn payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ salt)
        .collect()
}

/// Every connection must be over once the world is idle, with one exception TCP itself
/// cannot avoid: a half-open connection (RFC 9293 §3.5.1, ST-7). When one end is gone
/// without its last word arriving (a lost RST, a half-open entry dropped after its SYN,ACK
/// retries with no RST, a peer that gave up after its retries), an end that has nothing to
/// send and whose application just waits cannot notice without keep-alive. So a leftover
/// is allowed only if it is held by a waiting application (not an orphan: orphans always
/// have a timer, and the world is idle) and the peer has no live connection at all. Two live
/// ends both idle would be a deadlock, which this catches.
fn leftovers_are_half_open(w: &World, ctx: &str) {
    for (h, peer) in [("A", "B"), ("B", "A")] {
        let left = w.stack(h).connections();
        let peer_live = w
            .stack(peer)
            .connections()
            .iter()
            .any(|c| c.state != synack::State::Closed);
        let ok = left
            .iter()
            .all(|c| !c.orphan && (c.state == synack::State::Closed || !peer_live));
        assert!(
            ok,
            "{h} still holds {left:?} (peer live: {peer_live}): {ctx}"
        );
    }
}

/// Virtual time within which everything must be over, however unlucky the links.
const LIMIT: Instant = Instant::from_secs(3 * 3600);

fn exchange(seed: u64, a_len: usize, b_len: usize, ab: &Faults, ba: &Faults) {
    // More retries than the defaults, so that at 30 % loss each way a legitimate give-up is
    // vanishingly rare; the property is about the data path.
    let cfg = Config {
        syn_retries: 10,
        synack_retries: 10,
        orphan_retries: 15,
        ..Config::default()
    };
    let mut w = World::new(seed);
    w.add_host_with("A", &["198.18.0.1"], cfg.clone());
    w.add_host_with("B", &["198.18.0.2"], cfg);
    w.set_link("A", "B", ab.link());
    w.set_link("B", "A", ba.link());
    let a_data = payload(a_len, 0xa5);
    let b_data = payload(b_len, 0x5b);
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::Send(a_data.clone()),
            Step::Shutdown,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::Send(b_data.clone()),
            Step::Shutdown,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    let outcome = w.run_until_idle(LIMIT);
    let ctx = || {
        format!(
            "seed {seed}, A->B {a_len} bytes {ab:?}, B->A {b_len} bytes {ba:?}; A errors {:?}, \
             B errors {:?}",
            w.app_log("A").errors,
            w.app_log("B").errors
        )
    };
    assert_eq!(
        outcome,
        RunOutcome::Idle,
        "still busy at {LIMIT}: {}",
        ctx()
    );
    leftovers_are_half_open(&w, &ctx());
    // Every packet a stack sent carries correct checksums (checked by the simulator's own
    // codec, independently of synack::wire).
    for p in w.record().packets.iter().filter(|p| p.from.is_some()) {
        assert!(
            p.summary.as_ref().is_some_and(|s| s.checksum_ok),
            "bad packet from {:?} at {}: {}",
            p.from,
            p.sent,
            ctx()
        );
    }
    let a_got = w.app_log("A").received(0).to_vec();
    let b_got = w.app_log("B").received(0).to_vec();
    // Whatever happened, what arrived is a prefix of what was sent: never a byte twice, out
    // of order or altered.
    assert!(
        b_data.starts_with(&a_got),
        "A got bytes B never sent in that order: {}",
        ctx()
    );
    assert!(
        a_data.starts_with(&b_got),
        "B got bytes A never sent in that order: {}",
        ctx()
    );
    // Every byte is delivered. The one excuse is a peer that gave up after its retries (at
    // 30 % loss each way, R2 can run out), and then its user is told: TimedOut. A reset does
    // not excuse missing bytes: the only reset seen in long hunts is the classic TIME-WAIT
    // race after all data arrived (the last ACK is lost, the peer's RTO has backed off to
    // 120 s, longer than the 60 s TIME-WAIT, so its FIN retransmission meets a RST).
    let timed_out = |h: &str| {
        w.app_log(h)
            .closed
            .values()
            .any(|r| *r == CloseReason::TimedOut)
    };
    if !timed_out("A") && !timed_out("B") {
        assert_eq!(a_got.len(), b_len, "A is short: {}", ctx());
        assert_eq!(b_got.len(), a_len, "B is short: {}", ctx());
        assert!(w.app_log("A").conns[0].eof && w.app_log("B").conns[0].eof);
    }
}

/// 1,000 cases from a fixed seed (each property has its own default seed);
/// `SYNACK_PROPTEST_CASES=100000` and `SYNACK_PROPTEST_SEED` for a longer hunt. A case takes
/// well under 1 ms.
fn pt_config(default_seed: u64) -> PtConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    PtConfig {
        cases: env("SYNACK_PROPTEST_CASES").map_or(1_000, |v: u64| v as u32),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(env("SYNACK_PROPTEST_SEED").unwrap_or(default_seed)),
        max_shrink_iters: 200,
        ..PtConfig::default()
    }
}

proptest! {
    #![proptest_config(pt_config(0x5ee_d5a1))]

    #[test]
    fn every_byte_once_in_order_and_both_ends_close(
        seed in any::<u64>(),
        a_len in 0usize..=65_536,
        b_len in 0usize..=65_536,
        ab in faults(),
        ba in faults(),
    ) {
        exchange(seed, a_len, b_len, &ab, &ba);
    }
}

/// The same exchange on perfect links, big transfers both ways: a quick sanity check that
/// fails with a readable ladder rather than a shrunk proptest case.
#[test]
fn clean_links_full_exchange() {
    let clean = Faults {
        delay_ms: 10,
        jitter_ms: 0,
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_ms: 0,
        corrupt: 0.0,
    };
    exchange(1, 65_536, 40_000, &clean, &clean);
    let _ = (ms(0), secs(0), dms(0));
}

/// How an application ends its side in `random_close_patterns`.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Send, half-close, read to EOF, close (the pattern above).
    ShutdownThenRead,
    /// Read to EOF, then send the answer and close (request/response server).
    ReadThenAnswer,
    /// Send and close at once without reading anything (an orphan; unread data may turn
    /// the close into a RST, SHLD-3).
    SendAndClose,
    /// Send, wait a little, abort.
    Abort,
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        Just(Ending::ShutdownThenRead),
        Just(Ending::ReadThenAnswer),
        Just(Ending::SendAndClose),
        Just(Ending::Abort),
    ]
}

fn steps(e: Ending, data: Vec<u8>) -> Vec<Step> {
    match e {
        Ending::ShutdownThenRead => vec![
            Step::Send(data),
            Step::Shutdown,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ],
        Ending::ReadThenAnswer => vec![
            Step::RecvUntilEof,
            Step::Send(data),
            Step::Close,
            Step::WaitClosed,
        ],
        Ending::SendAndClose => vec![Step::Send(data), Step::Close],
        Ending::Abort => vec![
            Step::Send(data),
            Step::Sleep(Duration::from_millis(30)),
            Step::Abort,
        ],
    }
}

fn close_patterns(seed: u64, a_len: usize, b_len: usize, ea: Ending, eb: Ending, f: &Faults) {
    let cfg = Config {
        syn_retries: 10,
        synack_retries: 10,
        orphan_retries: 15,
        ..Config::default()
    };
    let mut w = World::new(seed);
    w.add_host_with("A", &["198.18.0.1"], cfg.clone());
    w.add_host_with("B", &["198.18.0.2"], cfg);
    w.set_links("A", "B", f.link());
    let a_data = payload(a_len, 1);
    let b_data = payload(b_len, 2);
    let mut a = vec![connect(), Step::WaitConnected];
    a.extend(steps(ea, a_data.clone()));
    let mut b = vec![Step::listen(B_PORT), Step::Accept];
    b.extend(steps(eb, b_data.clone()));
    w.set_app("A", Script::new(a));
    w.set_app("B", Script::new(b));
    let outcome = w.run_until_idle(LIMIT);
    let ctx = || {
        format!(
            "seed {seed}, A {ea:?} {a_len} bytes, B {eb:?} {b_len} bytes, {f:?}; A errors {:?}, \
             B errors {:?}",
            w.app_log("A").errors,
            w.app_log("B").errors
        )
    };
    assert_eq!(
        outcome,
        RunOutcome::Idle,
        "still busy at {LIMIT}: {}",
        ctx()
    );
    let failed = |h: &str| {
        !w.app_log(h).errors.is_empty()
            || w.app_log(h)
                .closed
                .values()
                .any(|r| *r != CloseReason::Normal)
    };
    for (h, sent_by_peer) in [("A", &b_data), ("B", &a_data)] {
        let log = w.app_log(h);
        if let Some(c) = log.conns.first() {
            assert!(
                sent_by_peer.starts_with(&c.received),
                "{h} got bytes out of order: {}",
                ctx()
            );
            // EOF is never reported early.
            if c.eof {
                assert_eq!(
                    c.received.len(),
                    sent_by_peer.len(),
                    "{h} saw EOF early: {}",
                    ctx()
                );
            }
        }
    }
    leftovers_are_half_open(&w, &ctx());
    // Every byte is delivered, or a user is told the connection failed (DESIGN.md), or
    // the sender threw it away itself (abort). Checked where the receiver reads to EOF.
    let reads_to_eof = |e: Ending| matches!(e, Ending::ShutdownThenRead | Ending::ReadThenAnswer);
    for (s_name, s_end, r_name, r_end, data) in
        [("A", ea, "B", eb, &a_data), ("B", eb, "A", ea, &b_data)]
    {
        // Only bytes the sender's application actually handed to its stack count (a
        // server whose half-open entry died never accepted, so never sent).
        let handed = w.app_log(s_name).conns.first().map_or(0, |c| c.sent);
        if reads_to_eof(r_end)
            && handed == data.len()
            && !matches!(s_end, Ending::Abort)
            && !failed(s_name)
            && !failed(r_name)
        {
            assert_eq!(w.app_log(r_name).received(0), &data[..], "{}", ctx());
        }
    }
}

proptest! {
    #![proptest_config(pt_config(0xc105e))]

    /// Every way of ending a connection, over faulty links: bytes arrive in order, EOF is
    /// never early, every connection ends (DESIGN.md invariants).
    #[test]
    fn random_close_patterns_keep_the_invariants(
        seed in any::<u64>(),
        a_len in 0usize..=20_000,
        b_len in 0usize..=20_000,
        ea in ending(),
        eb in ending(),
        f in faults(),
    ) {
        // Both waiting for the other's EOF before sending would be a deadlock of the script,
        // not of TCP: then A talks first.
        let ea = match (ea, eb) {
            (Ending::ReadThenAnswer, Ending::ReadThenAnswer) => Ending::ShutdownThenRead,
            _ => ea,
        };
        close_patterns(seed, a_len, b_len, ea, eb, &f);
    }
}
