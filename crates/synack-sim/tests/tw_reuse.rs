//! LX-12 on the simulator: two of our stacks on loopback addresses. A talks to B's server
//! from a fixed port, closes first (TIME-WAIT at A), and two seconds later connects again
//! from the same port: tcp_tw_reuse (loopback only, the default) lets A take its own
//! TIME-WAIT over, and the second conversation (handshake, data both ways, four-way close)
//! runs as the first did. B, the server, held no TIME-WAIT and sees an ordinary SYN.

mod common;

use common::*;
use synack::{Cause, State};
use synack_sim::{Match, Script, Step, World};

const A: &str = "127.0.0.1";
const B: &str = "127.0.0.2";
const SERVICE: &str = "127.0.0.2:80";
const PORT: u16 = 40_000;

fn world(reconnect_after_ms: u64) -> World {
    let mut w = World::new(7);
    w.add_host("A", &[A]);
    w.add_host("B", &[B]);
    w.set_app(
        "A",
        Script::new(vec![
            Step::connect_from(PORT, SERVICE),
            Step::WaitConnected,
            Step::send(b"first"),
            Step::Shutdown,
            Step::RecvUntilEof,
            Step::WaitState(State::TimeWait),
            Step::Close,
            Step::sleep_ms(reconnect_after_ms),
            Step::connect_from(PORT, SERVICE),
            Step::WaitConnected,
            Step::send(b"second"),
            Step::RecvExactly(5),
            Step::Close,
        ]),
    );
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(80),
            Step::Accept,
            Step::RecvUntilEof,
            Step::Close,
            Step::Accept,
            Step::RecvExactly(6),
            Step::send(b"reply"),
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

#[test]
fn lx_12_tw_reuse_full_conversation_after_taking_over_time_wait() {
    let mut w = world(2_000);
    w.run_until(secs(15));
    let (a, b) = (w.app_log("A"), w.app_log("B"));
    assert!(
        a.errors.is_empty() && b.errors.is_empty(),
        "{:?} {:?}{}",
        a.errors,
        b.errors,
        show(&w)
    );
    assert!(a.finished && b.finished, "{}", show(&w));
    assert_eq!(
        (b.received(0), b.received(1)),
        (&b"first"[..], &b"second"[..])
    );
    assert_eq!(a.received(1), b"reply");
    assert_eq!(w.counters("A").time_wait_reused, 1);
    assert_eq!(w.counters("B").time_wait_reused, 0);
    // Both of A's SYNs came from port 40000; the second starts 65537 above the first
    // connection's SND.NXT (its FIN's sequence number + 1).
    let r = w.record();
    let syns = r.matching("A", "B", Match::Syn);
    assert_eq!(syns.len(), 2, "{}", show(&w));
    assert!(syns.iter().all(|p| p.s().src.port() == PORT));
    let first_fin = r.matching("A", "B", Match::Fin)[0];
    let fin = first_fin.s();
    let old_snd_nxt = fin.seq.wrapping_add(fin.payload_len as u32 + 1);
    assert_eq!(syns[1].s().seq, old_snd_nxt.wrapping_add(65_537));
    // The first connection left TIME-WAIT by reuse, not by its 2·MSL timer.
    let reused = r
        .transitions("A")
        .into_iter()
        .any(|x| (x.2, x.3, x.4) == (State::TimeWait, State::Closed, Cause::Reused));
    assert!(reused, "{}", show(&w));
    // The second connection, closed first by A, is in TIME-WAIT at A now.
    assert_eq!(w.counters("A").curr_time_wait, 1);
}

#[test]
fn lx_12_tw_reuse_too_early_fails_the_connect_as_before() {
    // Half a second after the first close: the TIME-WAIT may not be taken yet, and the
    // connect fails with "address in use" as it did before tcp_tw_reuse.
    let mut w = world(500);
    w.run_until(secs(5));
    let a = w.app_log("A");
    assert_eq!(a.errors.len(), 1, "{:?}{}", a.errors, show(&w));
    assert!(a.errors[0].1.contains("connect"), "{:?}", a.errors);
    assert_eq!(w.counters("A").time_wait_reused, 0);
    assert_eq!(w.counters("A").curr_time_wait, 1);
}
