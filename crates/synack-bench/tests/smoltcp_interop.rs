//! synack against smoltcp 0.14 in one process: a synack `Stack` and a smoltcp `Interface`
//! (IP medium) on an in-memory link with one virtual clock. Each test opens a connection
//! (synack as client or as server), moves 16 MiB each way at the same time and checks both
//! streams by length and FNV-1a hash, then closes from the side the test names and waits
//! until both ends are CLOSED (TIME-WAIT included: 60 s on synack, 10 s on smoltcp, on the
//! virtual clock). The `under_5pct_loss` tests do the same on a link that drops 5% of the
//! packets each way (seeded, so every run is the same run).
//!
//! The client is always side A (198.18.0.1), the server side B (198.18.0.2), port 80.

use synack_bench::{
    Endpoint, Fnv, Link, Recv, Side, Sim, SmolEnd, SmolHost, Stream, SynackEnd, SynackHost,
    SMOL_INTEROP_BUFFER,
};

const MIB: u64 = 1024 * 1024;
const EACH_WAY: u64 = 16 * MIB;
const PORT: u16 = 80;
const SMOL_CLIENT_PORT: u16 = 49_152;
/// Give up after this much virtual time (TIME-WAIT is 60 s; loss adds RTO backoffs).
const VIRTUAL_DEADLINE_US: u64 = 3_600 * 1_000_000;
const ROUND_LIMIT: u64 = 20_000_000;

/// One application: writes its stream, reads the peer's, closes when its role says so.
struct App {
    total: u64,
    out: Stream,
    sent: u64,
    tx_hash: Fnv,
    received: u64,
    rx_hash: Fnv,
    eof: bool,
    /// This side closes first: shutdown once everything is written, release at EOF.
    closer: bool,
    shut: bool,
    released: bool,
    buf: Vec<u8>,
}

impl App {
    fn new(seed: u64, total: u64, closer: bool) -> App {
        App {
            total,
            out: Stream::new(seed),
            sent: 0,
            tx_hash: Fnv::default(),
            received: 0,
            rx_hash: Fnv::default(),
            eof: false,
            closer,
            shut: false,
            released: false,
            buf: vec![0; 64 * 1024],
        }
    }

    fn step<E: Endpoint>(&mut self, e: &mut E, now: u64) {
        e.poll_app(now);
        while self.sent < self.total {
            let want = (self.total - self.sent).min(64 * 1024) as usize;
            let chunk = self.out.peek(want);
            let n = e.send(now, chunk);
            if n == 0 {
                break;
            }
            self.tx_hash.update(&chunk[..n]);
            self.out.consume(n);
            self.sent += n as u64;
        }
        while !self.eof {
            match e.recv(now, &mut self.buf) {
                Recv::Data(n) => {
                    self.rx_hash.update(&self.buf[..n]);
                    self.received += n as u64;
                }
                Recv::Nothing => break,
                Recv::Eof => self.eof = true,
            }
        }
        let all_sent = self.sent == self.total;
        if self.closer {
            if all_sent && !self.shut {
                e.shutdown(now);
                self.shut = true;
            }
            if self.shut && self.eof && !self.released {
                e.release(now);
                self.released = true;
            }
        } else if all_sent && self.eof && !self.shut {
            e.shutdown(now);
            e.release(now);
            self.shut = true;
            self.released = true;
        }
    }

    fn done(&self) -> bool {
        self.sent == self.total && self.eof && self.released
    }
}

struct Outcome {
    virtual_secs: f64,
    rounds: u64,
    packets: u64,
    dropped: u64,
    /// The synack end's counters at the end.
    counters: synack::Counters,
}

/// What the synack end of a conversation is.
trait SynackSide {
    fn synack_counters(&self) -> Option<synack::Counters>;
}
impl SynackSide for SynackEnd {
    fn synack_counters(&self) -> Option<synack::Counters> {
        Some(self.host.stack.counters().clone())
    }
}
impl SynackSide for SmolEnd {
    fn synack_counters(&self) -> Option<synack::Counters> {
        None
    }
}

/// Run one conversation: `a` is the client, `b` the server; `closer` closes first.
fn converse<A: Endpoint + SynackSide, B: Endpoint + SynackSide>(
    mut a: A,
    mut b: B,
    closer: Side,
    loss: f64,
    seed: u64,
) -> Outcome {
    let link = if loss > 0.0 {
        Link::with_loss(loss, seed)
    } else {
        Link::new()
    };
    link.enable_trace();
    let mut sim = Sim::new(link);
    let mut app_a = App::new(seed ^ 0xA, EACH_WAY, closer == Side::A);
    let mut app_b = App::new(seed ^ 0xB, EACH_WAY, closer == Side::B);
    let mut established = (false, false);
    let fail = |why: &str, sim: &Sim, a: &A, b: &B, app_a: &App, app_b: &App| -> ! {
        panic!(
            "{why} at {} µs (round {}):\n  A: {}\n     sent {} received {} eof {}\n  B: {}\n     sent {} received {} eof {}\n  last packets:\n    {}",
            sim.now,
            sim.rounds,
            a.describe(),
            app_a.sent,
            app_a.received,
            app_a.eof,
            b.describe(),
            app_b.sent,
            app_b.received,
            app_b.eof,
            sim.link.trace().join("\n    ")
        )
    };
    loop {
        sim.round(
            &mut a,
            &mut b,
            |a, now| app_a.step(a, now),
            |b, now| app_b.step(b, now),
        );
        established.0 |= a.is_established();
        established.1 |= b.is_established();
        if app_a.done() && app_b.done() && a.is_closed() && b.is_closed() {
            break;
        }
        if !sim.advance(&mut a, &mut b) {
            fail(
                "stuck: nothing in flight, no timer pending",
                &sim,
                &a,
                &b,
                &app_a,
                &app_b,
            );
        }
        if sim.now > VIRTUAL_DEADLINE_US || sim.rounds > ROUND_LIMIT {
            fail("did not finish in time", &sim, &a, &b, &app_a, &app_b);
        }
    }
    assert!(established.0 && established.1, "handshake never completed");
    assert_eq!(app_b.received, EACH_WAY, "A->B length");
    assert_eq!(app_a.received, EACH_WAY, "B->A length");
    assert_eq!(app_b.rx_hash, app_a.tx_hash, "A->B stream hash");
    assert_eq!(app_a.rx_hash, app_b.tx_hash, "B->A stream hash");
    assert!(sim.link.is_empty());
    let st = sim.link.stats();
    Outcome {
        virtual_secs: sim.now as f64 / 1e6,
        rounds: sim.rounds,
        packets: st[0].packets + st[1].packets,
        dropped: st[0].dropped + st[1].dropped,
        counters: a
            .synack_counters()
            .or_else(|| b.synack_counters())
            .expect("one end is synack"),
    }
}

fn synack(side: Side) -> SynackHost {
    SynackHost::new(side, SynackHost::config(side, 1500))
}

fn smol(side: Side) -> SmolHost {
    SmolHost::new(side, 1500, 0)
}

fn synack_client_smoltcp_server(closer: Side, loss: f64, seed: u64) -> Outcome {
    let a = SynackEnd::client(synack(Side::A), 0, PORT);
    let b = SmolEnd::server(smol(Side::B), PORT, SMOL_INTEROP_BUFFER);
    let out = converse(a, b, closer, loss, seed);
    check_synack_counters(&out);
    report("synack client, smoltcp server", closer, loss, &out);
    out
}

fn smoltcp_client_synack_server(closer: Side, loss: f64, seed: u64) -> Outcome {
    let a = SmolEnd::client(smol(Side::A), SMOL_CLIENT_PORT, PORT, SMOL_INTEROP_BUFFER);
    let b = SynackEnd::server(synack(Side::B), PORT);
    let out = converse(a, b, closer, loss, seed);
    check_synack_counters(&out);
    report("smoltcp client, synack server", closer, loss, &out);
    out
}

/// Every packet smoltcp sent parsed and was accepted by synack's input checks, and no
/// connection was reset.
fn check_synack_counters(o: &Outcome) {
    let c = &o.counters;
    assert_eq!(
        c.in_errs, 0,
        "synack rejected smoltcp packets as malformed:\n{c}"
    );
    assert_eq!(c.in_rsts, 0, "RST received by synack:\n{c}");
    assert_eq!(c.out_rsts, 0, "RST sent by synack:\n{c}");
    assert_eq!(c.estab_resets, 0, "{c}");
    assert_eq!(c.abort_on_timeout, 0, "{c}");
}

fn report(what: &str, closer: Side, loss: f64, o: &Outcome) {
    let c = &o.counters;
    println!(
        "{what}, {:?} closes, loss {:.0}%: {:.3} virtual s, {} rounds, {} packets delivered, {} dropped; \
         synack: {} segments sent, {} retransmitted, {} retransmission timeouts",
        closer,
        loss * 100.0,
        o.virtual_secs,
        o.rounds,
        o.packets,
        o.dropped,
        c.out_segs,
        c.retrans_segs,
        c.timeouts,
    );
}

// ----- lossless ----------------------------------------------------------------------------

#[test]
fn interop_synack_client_smoltcp_server_16mib_each_way() {
    let o = synack_client_smoltcp_server(Side::A, 0.0, 1);
    assert_eq!(o.dropped, 0);
}

#[test]
fn interop_smoltcp_client_synack_server_16mib_each_way() {
    let o = smoltcp_client_synack_server(Side::A, 0.0, 2);
    assert_eq!(o.dropped, 0);
}

#[test]
fn interop_close_initiated_by_smoltcp_server_synack_client() {
    synack_client_smoltcp_server(Side::B, 0.0, 3);
}

#[test]
fn interop_close_initiated_by_synack_server_smoltcp_client() {
    smoltcp_client_synack_server(Side::B, 0.0, 4);
}

// ----- 5% loss each way ----------------------------------------------------------------------

#[test]
fn interop_under_5pct_loss_synack_client_smoltcp_server_synack_closes() {
    let o = synack_client_smoltcp_server(Side::A, 0.05, 11);
    assert!(o.dropped > 0);
}

#[test]
fn interop_under_5pct_loss_smoltcp_client_synack_server_smoltcp_closes() {
    let o = smoltcp_client_synack_server(Side::A, 0.05, 12);
    assert!(o.dropped > 0);
}

#[test]
fn interop_under_5pct_loss_synack_client_smoltcp_server_smoltcp_closes() {
    let o = synack_client_smoltcp_server(Side::B, 0.05, 13);
    assert!(o.dropped > 0);
}

#[test]
fn interop_under_5pct_loss_smoltcp_client_synack_server_synack_closes() {
    let o = smoltcp_client_synack_server(Side::B, 0.05, 14);
    assert!(o.dropped > 0);
}
